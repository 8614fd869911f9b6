//! User service v2 phone API: set, resend, verify, remove; spec sections 6.3 to 6.6.

mod resend;
mod set_verify_remove;

pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
    let mut tests = resend::tests();
    tests.extend(set_verify_remove::tests());
    tests
}
