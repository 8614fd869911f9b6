//! Key material generated on first start and kept in the database, and the cipher for queued codes.

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use crate::domain::code::{CodeHasher, PlainCode};
use crate::master_key::MasterKey;
use crate::store::{Store, StoreError};

const SIGNING_KEY: &str = "signing_key.es256.pkcs8";
/// Followed by the key's `kid`: a key a rotation retired, kept to verify the tokens it signed.
const RETIRED_SIGNING_KEY: &str = "signing_key.retired.";
const CODE_HMAC_KEY: &str = "code_hmac_key";
const JOB_KEY: &str = "sms_job_key";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("key generation failed")]
    KeyGeneration,
    #[error("stored key material is unreadable: {0}")]
    BadKey(&'static str),
    #[error(transparent)]
    MasterKey(#[from] crate::master_key::MasterKeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::auth::keys::KeyError> for CryptoError {
    fn from(e: crate::auth::keys::KeyError) -> Self {
        match e {
            crate::auth::keys::KeyError::Generation => CryptoError::KeyGeneration,
            crate::auth::keys::KeyError::Unreadable => CryptoError::BadKey("signing key"),
        }
    }
}

pub fn random_bytes(n: usize) -> Result<Vec<u8>, CryptoError> {
    let mut buf = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| CryptoError::KeyGeneration)?;
    Ok(buf)
}

/// The installation's secrets. Each is created by whichever process asks first; later starts and other
/// processes read the same values. They are stored sealed with the master key.
pub struct Secrets {
    pub code_hasher: CodeHasher,
    pub job_cipher: JobCipher,
}

impl Secrets {
    pub async fn load_or_create(
        store: &dyn Store,
        master: &MasterKey,
        now: DateTime<Utc>,
    ) -> Result<Self, CryptoError> {
        let hmac = stored(store, master, CODE_HMAC_KEY, &random_bytes(32)?, now).await?;
        let job = stored(store, master, JOB_KEY, &random_bytes(32)?, now).await?;
        Ok(Self {
            code_hasher: CodeHasher::new(&hmac),
            job_cipher: JobCipher::new(&job)?,
        })
    }
}

/// The secret `name`, storing `candidate` (sealed) if there is none. A secret an older version kept in clear is
/// sealed in place on the way, so an upgraded installation keeps its keys and loses the clear copy.
async fn stored(
    store: &dyn Store,
    master: &MasterKey,
    name: &'static str,
    candidate: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<u8>, CryptoError> {
    let value = store
        .secret(name, &master.seal(name, candidate)?, now)
        .await?;
    if MasterKey::is_sealed(&value) {
        return Ok(master.open(name, &value)?);
    }
    let plain = STANDARD
        .decode(&value)
        .map_err(|_| CryptoError::BadKey(name))?;
    // Compare-and-set: of two processes upgrading at once, one seals it and both read the same key.
    store
        .replace_secret(name, &value, &master.seal(name, &plain)?)
        .await?;
    tracing::info!(
        secret = name,
        "sealed a secret stored in clear by an earlier version"
    );
    Ok(plain)
}

/// The signing keys as the database holds them: the current one and those rotations retired.
pub struct StoredSigningKeys {
    pub store: std::sync::Arc<dyn Store>,
    pub master: std::sync::Arc<MasterKey>,
}

#[async_trait::async_trait]
impl crate::auth::SigningKeySource for StoredSigningKeys {
    async fn load(&self) -> Result<crate::auth::SigningKeys, String> {
        self.keys().await.map_err(|e| e.to_string())
    }
}

impl StoredSigningKeys {
    /// The keys as a start needs them: the current one made first if there is none (first writer wins).
    pub async fn load_or_create(
        &self,
        now: DateTime<Utc>,
    ) -> Result<crate::auth::SigningKeys, CryptoError> {
        let candidate = crate::auth::keys::generate_pkcs8()?;
        let current = stored(
            self.store.as_ref(),
            &self.master,
            SIGNING_KEY,
            &candidate,
            now,
        )
        .await?;
        let current = crate::auth::SigningKey::from_pkcs8(&current)?;
        Ok(crate::auth::SigningKeys {
            current,
            retired: self.retired().await?,
        })
    }

    /// The keys as stored now.
    pub async fn keys(&self) -> Result<crate::auth::SigningKeys, CryptoError> {
        let current = self
            .store
            .secret(SIGNING_KEY, "", DateTime::UNIX_EPOCH)
            .await?;
        let current =
            crate::auth::SigningKey::from_pkcs8(&self.master.open(SIGNING_KEY, &current)?)?;
        Ok(crate::auth::SigningKeys {
            current,
            retired: self.retired().await?,
        })
    }

    async fn retired(&self) -> Result<Vec<crate::auth::RetiredKey>, CryptoError> {
        let mut retired = Vec::new();
        for (name, value, retired_at) in self.store.secrets_named_like(RETIRED_SIGNING_KEY).await? {
            let key = crate::auth::SigningKey::from_pkcs8(&self.master.open(&name, &value)?)?;
            retired.push(crate::auth::RetiredKey { key, retired_at });
        }
        Ok(retired)
    }

    /// A new current key; the old one is kept as retired (from `now`). Returns the old and the new `kid`.
    pub async fn rotate(&self, now: DateTime<Utc>) -> Result<(String, String), CryptoError> {
        use crate::auth::SigningKey;
        let stored = self
            .store
            .secret(SIGNING_KEY, "", DateTime::UNIX_EPOCH)
            .await?;
        let old_pkcs8 = self.master.open(SIGNING_KEY, &stored)?;
        let old = SigningKey::from_pkcs8(&old_pkcs8)?;
        let retired_name = format!("{RETIRED_SIGNING_KEY}{}", old.kid);
        self.store
            .secret(
                &retired_name,
                &self.master.seal(&retired_name, &old_pkcs8)?,
                now,
            )
            .await?;
        let new_pkcs8 = crate::auth::keys::generate_pkcs8()?;
        let new = SigningKey::from_pkcs8(&new_pkcs8)?;
        // Compare-and-set: of two rotations at once, one wins and the other's key is never used.
        self.store
            .replace_secret(
                SIGNING_KEY,
                &stored,
                &self.master.seal(SIGNING_KEY, &new_pkcs8)?,
            )
            .await?;
        let current = self.keys().await?.current.kid;
        if current != new.kid {
            tracing::warn!("another rotation ran at the same time; its key is the current one");
        }
        Ok((old.kid, current))
    }
}

/// AES-256-GCM for the code a delivery job carries until it is sent.
pub struct JobCipher {
    key: RandomizedNonceKey,
}

impl JobCipher {
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        Ok(Self {
            key: RandomizedNonceKey::new(&AES_256_GCM, key)
                .map_err(|_| CryptoError::BadKey(JOB_KEY))?,
        })
    }

    /// base64(nonce || ciphertext || tag)
    pub fn seal(&self, code: &PlainCode) -> Result<String, CryptoError> {
        let mut buf = code.expose().as_bytes().to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::empty(), &mut buf)
            .map_err(|_| CryptoError::KeyGeneration)?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&buf);
        Ok(STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<PlainCode, CryptoError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| CryptoError::BadKey("sealed code"))?;
        if bytes.len() < NONCE_LEN {
            return Err(CryptoError::BadKey("sealed code"));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| CryptoError::BadKey("sealed code"))?;
        let mut rest = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut rest)
            .map_err(|_| CryptoError::BadKey("sealed code"))?;
        String::from_utf8(plain.to_vec())
            .map(PlainCode::new)
            .map_err(|_| CryptoError::BadKey("sealed code"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_codes_open_only_with_their_key() {
        let cipher = JobCipher::new(&[7u8; 32]).unwrap();
        let sealed = cipher.seal(&PlainCode::new("482913".into())).unwrap();
        assert!(!sealed.contains("482913"));
        assert_eq!(cipher.open(&sealed).unwrap().expose(), "482913");
        assert_ne!(
            sealed,
            cipher.seal(&PlainCode::new("482913".into())).unwrap(),
            "nonces differ"
        );
        assert!(JobCipher::new(&[8u8; 32]).unwrap().open(&sealed).is_err());
        assert!(cipher.open("AAAA").is_err());
    }
}
