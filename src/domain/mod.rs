//! Pure business rules: no I/O and no clock reads. Commands are decided as
//! `decide(state, input, now) -> events | DomainError`, and state changes only through `apply`.

/// What every typed text value shares once it is checked: reading it back from storage (it was checked before
/// it was written, so it is not checked again) and reading it as text.
macro_rules! stored_text {
    ($($name:ident),*) => {$(
        impl $name {
            pub fn from_stored(stored: String) -> Self {
                Self(stored)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}

pub mod aggregate;
pub mod clock;
pub mod code;
pub mod error;
pub mod events;
pub mod ids;
pub mod names;
pub mod org;
pub mod permission;
pub mod phone;
pub mod projection;
pub mod sms_policy;
pub mod text;
pub mod throttle;
pub mod user;

pub use error::DomainError;
