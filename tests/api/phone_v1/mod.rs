//! Auth API v1 (the caller's own phone) and management API v1 (a user by id in the context org).

mod auth;
mod management;

pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
    let mut tests = auth::tests();
    tests.extend(management::tests());
    tests
}
