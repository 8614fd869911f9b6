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

/// The gender of every profile: ZITADEL's enum value for none.
const GENDER_UNSPECIFIED: &str = "GENDER_UNSPECIFIED";

/// A profile's language as ZITADEL writes it: `und` (BCP 47's "undetermined") when there is none.
fn language_or_und(language: &str) -> String {
    if language.is_empty() {
        "und".to_owned()
    } else {
        language.to_owned()
    }
}

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
