//! A test app over the real router and a real database, with a pinned clock and a recording SMS provider,
//! and typed actions so that tests read as behaviour. Tests reach the store, the worker and the clock through
//! TestApp, so that a change of the library's types is adapted here rather than in every module.

mod app;
mod backend;
mod phone;
mod request;
mod rpc;
mod users;

pub use app::{TestApp, deliver_all};
pub use backend::Backend;
pub use request::{Req, Resp};
pub use rpc::{PROTOCOLS, Protocol, Rpc, RpcError};

pub const PHONE_A: &str = "+41791234567";
pub const PHONE_B: &str = "+41781112233";

/// `ensure!` with the values shown.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {
        // `match` keeps temporaries in the expressions alive for the comparison.
        match (&$left, &$right) {
            (l, r) => anyhow::ensure!(
                l == r,
                "{} == {} failed: {:?} != {:?}",
                stringify!($left),
                stringify!($right),
                l,
                r
            ),
        }
    };
}
