//! The RPC services (Connect, gRPC, gRPC-web): every call over every protocol, answered as its REST route.

mod errors;
mod phone_flows;
mod platform;

pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
    let mut tests = phone_flows::tests();
    tests.extend(errors::tests());
    tests.extend(platform::tests());
    tests
}
