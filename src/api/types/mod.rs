//! JSON shapes, as grpc-gateway writes ZITADEL's messages: lowerCamelCase, empty/zero/false fields left out,
//! 64-bit integers as strings, RFC 3339 UTC timestamps. Request fields also accept their proto (snake_case)
//! names, as protojson does.

mod details;
mod unsupported;
mod v1;
mod v2;

pub use details::*;
pub use unsupported::{Unsupported, first_set};
pub use v1::*;
pub use v2::*;

use crate::domain::user::UserState;

fn is_false(b: &bool) -> bool {
    !*b
}

/// A user's state as both API versions name it.
fn state_name(s: UserState) -> &'static str {
    match s {
        UserState::Active => "USER_STATE_ACTIVE",
        UserState::Inactive => "USER_STATE_INACTIVE",
        UserState::Removed => "USER_STATE_DELETED",
    }
}
