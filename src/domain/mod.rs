//! Pure business rules: no I/O and no clock reads. Commands are decided as
//! `decide(state, input, now) -> events | DomainError`, and state changes only through `apply`.

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
pub mod throttle;
pub mod user;

pub use error::DomainError;
