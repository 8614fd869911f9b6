//! The master key: it encrypts each of the installation's secrets (the token signing key, the code HMAC key,
//! the SMS job key) before it is written to the database, so a copy of the database alone reveals no key.
//! It comes from `master_key` (`PHONEVERIFY_MASTER_KEY`), else from `master_key_file`, else from
//! `<data_dir>/master.key`, which the first start generates (mode 0600) so that a plain start needs no setup.

use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::config::Config;

/// Marks a value sealed with the master key; older installations stored secrets in clear base64.
const SEALED_PREFIX: &str = "mk1:";
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    #[error("the master key from {0} is not the base64 of {KEY_LEN} bytes")]
    Malformed(String),
    #[error("cannot read or create the master key file {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the database's secrets cannot be opened with the master key from {0}; start with the master key this \
         database was first started with (PHONEVERIFY_MASTER_KEY, master_key or master_key_file)"
    )]
    WrongKey(String),
    #[error("random bytes are unavailable")]
    Random,
}

pub struct MasterKey {
    key: RandomizedNonceKey,
    /// Where the key came from, for messages (never the key itself).
    source: String,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// The configured key, or the key file's, generating the file on a first start.
    pub fn load(config: &Config) -> Result<Self, MasterKeyError> {
        if let Some(text) = config.master_key_text() {
            return Self::from_base64(text, "PHONEVERIFY_MASTER_KEY / master_key".into());
        }
        let path = config
            .master_key_file
            .clone()
            .unwrap_or_else(|| config.data_dir.join("master.key"));
        let source = format!("the file {}", path.display());
        let text = read_or_create(&path).map_err(|source| MasterKeyError::File {
            path: path.clone(),
            source,
        })?;
        Self::from_base64(text.trim(), source)
    }

    pub fn from_base64(text: &str, source: String) -> Result<Self, MasterKeyError> {
        let bytes = STANDARD
            .decode(text.trim())
            .ok()
            .filter(|b| b.len() == KEY_LEN)
            .ok_or_else(|| MasterKeyError::Malformed(source.clone()))?;
        let key = RandomizedNonceKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| MasterKeyError::Malformed(source.clone()))?;
        Ok(Self { key, source })
    }

    /// `mk1:` + base64(nonce || ciphertext || tag); the secret's name is bound in as associated data, so a
    /// sealed value cannot be passed off as another secret.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<String, MasterKeyError> {
        let mut buf = plain.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(Aad::from(name.as_bytes()), &mut buf)
            .map_err(|_| MasterKeyError::Random)?;
        let mut out = nonce.as_ref().to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(out)))
    }

    /// Whether `stored` was sealed by a master key (rather than kept in clear by an older version).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED_PREFIX)
    }

    pub fn open(&self, name: &str, stored: &str) -> Result<Vec<u8>, MasterKeyError> {
        let wrong = || MasterKeyError::WrongKey(self.source.clone());
        let bytes = stored
            .strip_prefix(SEALED_PREFIX)
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|b| b.len() >= NONCE_LEN)
            .ok_or_else(wrong)?;
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| wrong())?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(name.as_bytes()), &mut sealed)
            .map_err(|_| wrong())?;
        Ok(plain.to_vec())
    }
}

/// The file's text; a missing file is created with a new key, atomically, so that two processes starting
/// on one data directory agree on the key: each writes a private temporary file and links it into place,
/// and the one whose link fails reads the winner's.
fn read_or_create(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            crate::private_files::warn_if_open(path);
            return Ok(text);
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_files::create_private_dir(dir)?;
    }
    let mut key = [0u8; KEY_LEN];
    aws_lc_rs::rand::fill(&mut key).map_err(|_| std::io::Error::other("no random bytes"))?;
    let text = format!("{}\n", STANDARD.encode(key));
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = PathBuf::from(temp_name);
    crate::private_files::create_private_file(&temp)?;
    std::fs::write(&temp, &text)?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated the master key; keep it with the database's backups, apart from them");
            Ok(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read_to_string(path),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_base64(&STANDARD.encode([byte; KEY_LEN]), "test".into()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_name() {
        let sealed = key(1).seal("code_hmac_key", b"secret bytes").unwrap();
        assert!(MasterKey::is_sealed(&sealed));
        assert!(!sealed.contains(&STANDARD.encode(b"secret bytes")));
        assert_eq!(
            key(1).open("code_hmac_key", &sealed).unwrap(),
            b"secret bytes"
        );
        assert!(matches!(
            key(2).open("code_hmac_key", &sealed),
            Err(MasterKeyError::WrongKey(_))
        ));
        assert!(key(1).open("sms_job_key", &sealed).is_err());
        assert!(key(1).open("code_hmac_key", "mk1:AAAA").is_err());
    }

    #[test]
    fn a_key_must_be_32_bytes_of_base64() {
        assert!(MasterKey::from_base64("not base64!", "x".into()).is_err());
        assert!(MasterKey::from_base64(&STANDARD.encode([0u8; 16]), "x".into()).is_err());
    }

    #[test]
    fn the_key_file_is_generated_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let first = read_or_create(&path).unwrap();
        assert_eq!(read_or_create(&path).unwrap(), first);
        assert!(MasterKey::from_base64(first.trim(), "file".into()).is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let leftovers = std::fs::read_dir(path.parent().unwrap()).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left");
    }
}
