//! Users, organizations and memberships (spec section 7): enough to make the phone API usable.

mod access;
mod humans;
mod lockout;
mod unsupported;

pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
    let mut tests = humans::tests();
    tests.extend(access::tests());
    tests.extend(lockout::tests());
    tests.extend(unsupported::tests());
    tests
}
