//! Verified tokens remembered by a hash of the token, so the signature of a token that calls many times is
//! checked once. Only what the signature proved is remembered; expiry and not-before are checked on every
//! use, and whether the user is active or a personal token still on record is the caller's check, made on
//! every request, so deactivation and revocation take effect at once.

use aws_lc_rs::digest;
use chrono::{DateTime, Utc};
use quick_cache::sync::Cache;

/// Tokens remembered at most: about 200 bytes each, so a full cache stays within a few MB.
const CAPACITY: usize = 16_384;

/// What a valid signature proved about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenClaims {
    pub user_id: String,
    pub token_id: String,
    pub expires_at: i64,
    pub not_before: i64,
    pub personal: bool,
    /// The key that signed it: a proof stands only while that key may still verify.
    pub kid: String,
}

pub struct TokenCache {
    proven: Cache<[u8; 32], ProvenClaims>,
}

impl Default for TokenCache {
    fn default() -> Self {
        Self {
            proven: Cache::new(CAPACITY),
        }
    }
}

impl TokenCache {
    pub fn get(&self, token: &str) -> Option<ProvenClaims> {
        self.proven.get(&key(token))
    }

    /// Remembers a token until it expires (`now` past `exp` plus leeway removes it on the next lookup).
    pub fn insert(&self, token: &str, claims: ProvenClaims) {
        self.proven.insert(key(token), claims);
    }

    pub fn forget(&self, token: &str) {
        self.proven.remove(&key(token));
    }
}

/// The token itself is never kept: SHA-256 of it is the key, so a tampered token never finds an entry.
fn key(token: &str) -> [u8; 32] {
    let hash = digest::digest(&digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(hash.as_ref());
    out
}

/// Seconds since the epoch, as the claims count them.
pub fn epoch_secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> ProvenClaims {
        ProvenClaims {
            user_id: "u".into(),
            token_id: "t".into(),
            expires_at: 100,
            not_before: 0,
            personal: false,
            kid: "k".into(),
        }
    }

    #[test]
    fn a_token_is_found_only_by_itself() {
        let cache = TokenCache::default();
        cache.insert("a.b.c", claims());
        assert_eq!(cache.get("a.b.c"), Some(claims()));
        assert_eq!(cache.get("a.b.d"), None);
        cache.forget("a.b.c");
        assert_eq!(cache.get("a.b.c"), None);
    }
}
