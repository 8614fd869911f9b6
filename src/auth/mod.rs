//! Signing keys, the JWKS, and minting and checking bearer tokens.

pub mod external;
pub mod key_ring;
pub mod keys;
pub mod token;
mod token_cache;

pub use external::{ExternalIssuers, IssuerConfig};
pub use key_ring::{KeyRing, RetiredKey, SigningKeySource, SigningKeys};
pub use keys::SigningKey;
pub use token::{TokenError, TokenService, VerifiedToken};
