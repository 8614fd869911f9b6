//! This service's signing keys: the current one signs, retired ones still verify the tokens they signed for
//! `retention` after they were retired (and are listed in the JWKS meanwhile). A process learns of a rotation
//! made elsewhere (`phoneverify signing-key rotate`, another server) when a token names a key it does not
//! know: it then reloads the keys from their source, at most once every `RELOAD_INTERVAL_SECS`.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::DecodingKey;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::keys::SigningKey;

const RELOAD_INTERVAL_SECS: i64 = 5;

pub struct RetiredKey {
    pub key: SigningKey,
    pub retired_at: DateTime<Utc>,
}

pub struct SigningKeys {
    pub current: SigningKey,
    pub retired: Vec<RetiredKey>,
}

/// Where the keys are kept (the database, sealed with the master key).
#[async_trait::async_trait]
pub trait SigningKeySource: Send + Sync {
    async fn load(&self) -> Result<SigningKeys, String>;
}

pub struct KeyRing {
    keys: RwLock<Arc<SigningKeys>>,
    source: Option<Box<dyn SigningKeySource>>,
    retention: Duration,
    last_reload: Mutex<Option<DateTime<Utc>>>,
}

impl KeyRing {
    /// One key, never reloaded.
    pub fn fixed(current: SigningKey) -> Self {
        Self {
            keys: RwLock::new(Arc::new(SigningKeys {
                current,
                retired: Vec::new(),
            })),
            source: None,
            retention: Duration::zero(),
            last_reload: Mutex::new(None),
        }
    }

    pub fn with_source(
        keys: SigningKeys,
        source: Box<dyn SigningKeySource>,
        retention: Duration,
    ) -> Self {
        Self {
            keys: RwLock::new(Arc::new(keys)),
            source: Some(source),
            retention,
            last_reload: Mutex::new(None),
        }
    }

    pub fn snapshot(&self) -> Arc<SigningKeys> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            // A writer panicked mid-swap; the Arc it held is whole either way.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The key `kid` if it may verify at `now`: the current one, or a retired one within its retention.
    pub fn verifying_key(&self, kid: &str, now: DateTime<Utc>) -> Option<DecodingKey> {
        let keys = self.snapshot();
        if keys.current.kid == kid {
            return Some(keys.current.decoding.clone());
        }
        keys.retired
            .iter()
            .find(|r| r.key.kid == kid && self.live(r, now))
            .map(|r| r.key.decoding.clone())
    }

    /// Whether the key `kid` may verify at `now`.
    pub fn verifies(&self, kid: &str, now: DateTime<Utc>) -> bool {
        let keys = self.snapshot();
        keys.current.kid == kid
            || keys
                .retired
                .iter()
                .any(|r| r.key.kid == kid && self.live(r, now))
    }

    /// The public keys that verify at `now`, current first.
    pub fn jwks(&self, now: DateTime<Utc>) -> Value {
        let keys = self.snapshot();
        let mut jwks = vec![keys.current.jwk().clone()];
        jwks.extend(
            keys.retired
                .iter()
                .filter(|r| self.live(r, now))
                .map(|r| r.key.jwk().clone()),
        );
        json!({ "keys": jwks })
    }

    fn live(&self, retired: &RetiredKey, now: DateTime<Utc>) -> bool {
        retired
            .retired_at
            .checked_add_signed(self.retention)
            .is_some_and(|until| now < until)
    }

    /// Reloads the keys unless that was done moments ago; whether it did.
    pub async fn reload(&self, now: DateTime<Utc>) -> bool {
        let Some(source) = &self.source else {
            return false;
        };
        let mut last = self.last_reload.lock().await;
        if last.is_some_and(|t| now - t < Duration::seconds(RELOAD_INTERVAL_SECS)) {
            return false;
        }
        *last = Some(now);
        match source.load().await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                match self.keys.write() {
                    Ok(mut slot) => *slot = keys,
                    Err(poisoned) => *poisoned.into_inner() = keys,
                }
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot reload the signing keys; the loaded ones stay in use");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::auth::keys::generate_pkcs8;

    fn key() -> SigningKey {
        SigningKey::from_pkcs8(&generate_pkcs8().unwrap()).unwrap()
    }

    struct Fixed;

    #[async_trait::async_trait]
    impl SigningKeySource for Fixed {
        async fn load(&self) -> Result<SigningKeys, String> {
            Err("not reachable".into())
        }
    }

    #[tokio::test]
    async fn a_retired_key_verifies_until_its_retention_ends() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let (current, old) = (key(), key());
        let old_kid = old.kid.clone();
        let keys = SigningKeys {
            current,
            retired: vec![RetiredKey {
                key: old,
                retired_at: t0,
            }],
        };
        let ring = KeyRing::with_source(keys, Box::new(Fixed), Duration::days(1));
        assert!(
            ring.verifying_key(&old_kid, t0 + Duration::hours(23))
                .is_some()
        );
        assert_eq!(ring.jwks(t0)["keys"].as_array().unwrap().len(), 2);
        assert!(
            ring.verifying_key(&old_kid, t0 + Duration::days(1))
                .is_none()
        );
        assert_eq!(
            ring.jwks(t0 + Duration::days(1))["keys"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // A source that fails keeps the loaded keys, and is not asked again at once.
        assert!(!ring.reload(t0).await);
        assert!(ring.verifying_key(&old_kid, t0).is_some());
    }
}
