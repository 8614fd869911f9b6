//! The service's own ES256 signing key and its public JWK.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};

/// Why a signing key could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed")]
    Generation,
    #[error("stored signing key is unreadable")]
    Unreadable,
}

/// A P-256 point in uncompressed form: 0x04 || x (32 bytes) || y (32 bytes).
const UNCOMPRESSED_POINT_LEN: usize = 65;

pub fn generate_pkcs8() -> Result<Vec<u8>, KeyError> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map(|doc| doc.as_ref().to_vec())
        .map_err(|_| KeyError::Generation)
}

pub struct SigningKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    jwk: Value,
}

impl SigningKey {
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
            .map_err(|_| KeyError::Unreadable)?;
        let point = pair.public_key().as_ref();
        if point.len() != UNCOMPRESSED_POINT_LEN || point[0] != 0x04 {
            return Err(KeyError::Unreadable);
        }
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        // The key id is derived from the public key, so every process sharing the key names it alike.
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, point);
        let kid = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..12]);
        let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|_| KeyError::Unreadable)?;
        Ok(Self {
            jwk: json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid, "x": x, "y": y}),
            kid,
            encoding: EncodingKey::from_ec_der(pkcs8),
            decoding,
        })
    }

    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }
}
