//! A machine user's credentials for the OAuth grants ZITADEL's SDKs use: a client secret (kept as a hash) for
//! the client credentials grant, and public keys whose private halves sign JWT-profile assertions. They are
//! not part of the user's row: they are read from the user's events when a token is asked for.

use chrono::{DateTime, Utc};

use super::{User, UserEvent, UserKind};
use crate::domain::DomainError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineKey {
    pub key_id: String,
    /// Base64 of the RSA public key (PKCS#1 DER).
    pub public_key: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineCredentials {
    /// The hash of the current client secret; a new secret replaces the old one.
    pub secret_hash: Option<String>,
    pub keys: Vec<MachineKey>,
}

impl MachineCredentials {
    pub fn from_events<'a>(events: impl IntoIterator<Item = &'a UserEvent>) -> Self {
        let mut credentials = Self::default();
        for event in events {
            match event {
                UserEvent::MachineSecretSet { secret_hash } => {
                    credentials.secret_hash = Some(secret_hash.clone());
                }
                UserEvent::MachineKeyAdded {
                    key_id,
                    public_key,
                    expiration,
                } => credentials.keys.push(MachineKey {
                    key_id: key_id.clone(),
                    public_key: public_key.clone(),
                    expires_at: *expiration,
                }),
                _ => {}
            }
        }
        credentials
    }

    /// The key `key_id`, unless it has expired.
    pub fn key(&self, key_id: &str, now: DateTime<Utc>) -> Option<&MachineKey> {
        self.keys
            .iter()
            .find(|k| k.key_id == key_id && now < k.expires_at)
    }
}

impl User {
    /// A new client secret (its hash) for a live machine user; the previous one stops working.
    pub fn set_machine_secret(&self, secret_hash: String) -> Result<Vec<UserEvent>, DomainError> {
        self.live_machine()?;
        Ok(vec![UserEvent::MachineSecretSet { secret_hash }])
    }

    /// A new key for a live machine user, which must not be born expired.
    pub fn add_machine_key(
        &self,
        key_id: &str,
        public_key: String,
        expiration: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<UserEvent>, DomainError> {
        self.live_machine()?;
        if expiration <= now {
            return Err(DomainError::ExpirationInPast);
        }
        Ok(vec![UserEvent::MachineKeyAdded {
            key_id: key_id.to_owned(),
            public_key,
            expiration,
        }])
    }

    fn live_machine(&self) -> Result<(), DomainError> {
        self.live()?;
        if !matches!(self.kind, UserKind::Machine(_)) {
            return Err(DomainError::NotMachineUser);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn the_last_secret_counts_and_expired_keys_are_not_found() {
        let events = [
            UserEvent::MachineSecretSet {
                secret_hash: "a".into(),
            },
            UserEvent::MachineKeyAdded {
                key_id: "k1".into(),
                public_key: "p".into(),
                expiration: t(100),
            },
            UserEvent::MachineSecretSet {
                secret_hash: "b".into(),
            },
        ];
        let c = MachineCredentials::from_events(&events);
        assert_eq!(c.secret_hash.as_deref(), Some("b"));
        assert!(c.key("k1", t(99)).is_some());
        assert!(c.key("k1", t(100)).is_none());
        assert!(c.key("k2", t(0)).is_none());
    }
}
