//! Verification codes: how they are made, kept (as a keyed hash only) and checked.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng;

use serde::Deserialize;

use super::DomainError;

/// The characters codes are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    Digits,
    Alphanumeric,
}

const DIGITS: &[u8] = b"0123456789";
/// ZITADEL's default alphabet for SMS codes: upper-case letters and digits.
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A code in clear. It exists only between generation and hashing/encryption, and in a `returnCode` response.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainCode(String);

impl PlainCode {
    pub fn new(code: String) -> Self {
        Self(code)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainCode(***)")
    }
}

/// What a caller typed as the code: not empty, otherwise unchecked until it is compared with the hash.
#[derive(Clone)]
pub struct CodeGuess(String);

impl CodeGuess {
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        if input.is_empty() {
            return Err(DomainError::CodeEmpty);
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CodeGuess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeGuess(***)")
    }
}

#[derive(Debug, Clone)]
pub struct CodeGenerator {
    length: usize,
    alphabet: &'static [u8],
}

impl CodeGenerator {
    pub fn new(length: usize, alphabet: Alphabet) -> Self {
        let alphabet = match alphabet {
            Alphabet::Digits => DIGITS,
            Alphabet::Alphanumeric => ALPHANUMERIC,
        };
        Self { length, alphabet }
    }

    /// Each character is drawn uniformly from the alphabet with the given CSPRNG.
    pub fn generate(&self, rng: &mut impl Rng) -> PlainCode {
        let code = (0..self.length)
            .map(|_| char::from(self.alphabet[rng.random_range(0..self.alphabet.len())]))
            .collect();
        PlainCode(code)
    }
}

/// HMAC-SHA256 with a server secret: what is stored instead of the code. Events, projections and their
/// backups or replicas never hold a code; the secret itself lives in the `secrets` table, so whoever can read
/// that table as well could enumerate the small code space (see the README's note on key material).
#[derive(Clone)]
pub struct CodeHasher {
    key: hmac::Key,
}

impl fmt::Debug for CodeHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeHasher(***)")
    }
}

impl CodeHasher {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    pub fn hash(&self, code: &PlainCode) -> String {
        URL_SAFE_NO_PAD.encode(hmac::sign(&self.key, code.0.as_bytes()).as_ref())
    }

    /// Constant-time comparison of a guess with a stored hash.
    pub fn matches(&self, guess: &str, stored_hash: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(stored_hash) {
            Ok(tag) => hmac::verify(&self.key, guess.as_bytes(), &tag).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_configured_shape() {
        let mut rng = rand::rng();
        let digits = CodeGenerator::new(6, Alphabet::Digits).generate(&mut rng);
        assert_eq!(digits.expose().len(), 6);
        assert!(digits.expose().bytes().all(|b| b.is_ascii_digit()));
        let alnum = CodeGenerator::new(10, Alphabet::Alphanumeric).generate(&mut rng);
        assert_eq!(alnum.expose().len(), 10);
        assert!(
            alnum
                .expose()
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
    }

    #[test]
    fn all_digits_appear() {
        let generator = CodeGenerator::new(20, Alphabet::Digits);
        let mut rng = rand::rng();
        let seen: std::collections::BTreeSet<u8> = (0..50)
            .flat_map(|_| {
                generator
                    .generate(&mut rng)
                    .expose()
                    .bytes()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(seen.len(), 10);
    }

    #[test]
    fn hash_matches_only_the_code_and_only_with_the_key() {
        let hasher = CodeHasher::new(b"secret-one");
        let code = PlainCode::new("123456".into());
        let hash = hasher.hash(&code);
        assert!(!hash.contains("123456"));
        assert!(hasher.matches("123456", &hash));
        assert!(!hasher.matches("123457", &hash));
        assert!(!hasher.matches("", &hash));
        assert!(!CodeHasher::new(b"secret-two").matches("123456", &hash));
        assert!(!hasher.matches("123456", "not base64 !"));
    }

    #[test]
    fn debug_does_not_show_the_code() {
        assert_eq!(
            format!("{:?}", PlainCode::new("987654".into())),
            "PlainCode(***)"
        );
    }
}
