//! Bearer JWTs: minted for users of this installation and checked on every request.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::token_cache::{ProvenClaims, TokenCache, epoch_secs};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    iat: i64,
    nbf: i64,
    jti: String,
    /// Set on personal access tokens, which authenticate only while their id is on record.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pat: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    pub user_id: String,
    pub token_id: String,
    pub expires_at: DateTime<Utc>,
    /// A personal access token: valid only while not removed.
    pub personal: bool,
}

/// Why a token was refused. Logged, never returned: the client only learns "Token is invalid".
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token or header: {0}")]
    Malformed(String),
    #[error("unknown key id")]
    UnknownKey,
    #[error("algorithm not allowed for the key")]
    Algorithm,
    #[error("signature or claims rejected: {0}")]
    Rejected(String),
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token could not be signed: {0}")]
    Signing(String),
}

pub struct TokenService {
    ring: super::KeyRing,
    issuer: String,
    audience: String,
    leeway: Duration,
    proven: TokenCache,
    external: Option<super::ExternalIssuers>,
}

impl TokenService {
    pub fn new(
        ring: super::KeyRing,
        issuer: String,
        audience: String,
        leeway: std::time::Duration,
    ) -> Self {
        Self {
            ring,
            issuer,
            audience,
            leeway: Duration::from_std(leeway).unwrap_or(Duration::MAX),
            proven: TokenCache::default(),
            external: None,
        }
    }

    /// The same service (its cache of proven tokens included) with other keys: a rotation, in tests.
    #[cfg(test)]
    fn with_key_ring(self, ring: super::KeyRing) -> Self {
        Self { ring, ..self }
    }

    /// Also accepts tokens from these identity providers.
    pub fn with_external(self, issuers: super::ExternalIssuers) -> Self {
        Self {
            external: Some(issuers),
            ..self
        }
    }

    /// A token of a configured external issuer, else one of ours (`verify`).
    pub async fn verify_any(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<VerifiedToken, TokenError> {
        if let Some(external) = &self.external
            && let Some(verified) = external.verify(token, now).await?
        {
            return Ok(verified);
        }
        match self.verify(token, now) {
            // Signed by a key another process made: learn the keys anew, then try once more.
            Err(TokenError::UnknownKey) if self.ring.reload(now).await => self.verify(token, now),
            other => other,
        }
    }

    /// The public keys that verify tokens at `now`.
    pub fn jwks(&self, now: DateTime<Utc>) -> serde_json::Value {
        self.ring.jwks(now)
    }

    /// Signs a token for `user_id` with id `token_id`, valid from `now` for `ttl`.
    pub fn mint(
        &self,
        user_id: &str,
        token_id: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<String, TokenError> {
        self.sign(user_id, token_id, now, now + ttl, false)
    }

    /// A personal access token: valid until `expires_at` unless its id is removed first.
    pub fn mint_personal(
        &self,
        user_id: &str,
        token_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<String, TokenError> {
        self.sign(user_id, token_id, now, expires_at, true)
    }

    fn sign(
        &self,
        user_id: &str,
        token_id: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        pat: bool,
    ) -> Result<String, TokenError> {
        let keys = self.ring.snapshot();
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(keys.current.kid.clone());
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: user_id.to_owned(),
            aud: self.audience.clone(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: token_id.to_owned(),
            pat,
        };
        jsonwebtoken::encode(&header, &claims, &keys.current.encoding)
            .map_err(|e| TokenError::Signing(e.to_string()))
    }

    /// Checks signature, `kid`, `alg`, `iss`, `aud`, `exp` and `nbf` (with leeway, against the injected clock).
    /// A token whose signature was proven before is not checked again; its times are, on every call.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<VerifiedToken, TokenError> {
        let claims = match self.proven.get(token) {
            // A proof stands while its key may verify: not once a retired key's retention is over.
            Some(claims) if self.ring.verifies(&claims.kid, now) => claims,
            Some(_) => {
                self.proven.forget(token);
                return Err(TokenError::UnknownKey);
            }
            None => {
                let claims = self.prove(token, now)?;
                self.proven.insert(token, claims.clone());
                claims
            }
        };
        let now_s = epoch_secs(now);
        let leeway = self.leeway.num_seconds();
        if claims.expires_at.saturating_add(leeway) <= now_s {
            // Never useful again: make room for live tokens.
            self.proven.forget(token);
            return Err(TokenError::Expired);
        }
        if claims.not_before.saturating_sub(leeway) > now_s {
            return Err(TokenError::NotYetValid);
        }
        Ok(VerifiedToken {
            user_id: claims.user_id,
            token_id: claims.token_id,
            expires_at: DateTime::<Utc>::from_timestamp(claims.expires_at, 0)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            personal: claims.personal,
        })
    }

    /// What the signature proves: everything but the times, which depend on when the token is used.
    fn prove(&self, token: &str, now: DateTime<Utc>) -> Result<ProvenClaims, TokenError> {
        // `alg: none` and unknown algorithms fail here: the header parser knows only real algorithms.
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        let kid = header.kid.clone().unwrap_or_default();
        let key = self
            .ring
            .verifying_key(&kid, now)
            .ok_or(TokenError::UnknownKey)?;
        if header.alg != Algorithm::ES256 {
            return Err(TokenError::Algorithm);
        }
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        // Time claims are checked by `verify` with our clock, so tests can move time.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.required_spec_claims = ["exp", "nbf", "iss", "aud", "sub"]
            .into_iter()
            .map(String::from)
            .collect::<HashSet<_>>();
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| TokenError::Rejected(e.to_string()))?;
        let claims = data.claims;
        Ok(ProvenClaims {
            user_id: claims.sub,
            token_id: claims.jti,
            expires_at: claims.exp,
            not_before: claims.nbf,
            personal: claims.pat,
            kid,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::SigningKey;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use chrono::TimeZone;

    fn service() -> TokenService {
        let key = SigningKey::from_pkcs8(&super::super::keys::generate_pkcs8().unwrap()).unwrap();
        TokenService::new(
            crate::auth::KeyRing::fixed(key),
            "iss".into(),
            "aud".into(),
            std::time::Duration::from_secs(5),
        )
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
    }

    struct Unreachable;

    #[async_trait::async_trait]
    impl crate::auth::SigningKeySource for Unreachable {
        async fn load(&self) -> Result<crate::auth::SigningKeys, String> {
            Err("not here".into())
        }
    }

    #[test]
    fn a_remembered_token_stops_working_when_its_retired_key_does() {
        let pkcs8 = super::super::keys::generate_pkcs8().unwrap();
        let s = TokenService::new(
            crate::auth::KeyRing::fixed(SigningKey::from_pkcs8(&pkcs8).unwrap()),
            "iss".into(),
            "aud".into(),
            std::time::Duration::from_secs(5),
        );
        let token = s.mint("u1", "t1", now(), Duration::days(3)).unwrap();
        assert!(s.verify(&token, now()).is_ok());
        // Rotated: the signing key is retired now, and verifies for one more day.
        let keys = crate::auth::SigningKeys {
            current: SigningKey::from_pkcs8(&super::super::keys::generate_pkcs8().unwrap())
                .unwrap(),
            retired: vec![crate::auth::RetiredKey {
                key: SigningKey::from_pkcs8(&pkcs8).unwrap(),
                retired_at: now(),
            }],
        };
        let ring =
            crate::auth::KeyRing::with_source(keys, Box::new(Unreachable), Duration::days(1));
        let s = s.with_key_ring(ring);
        assert!(s.verify(&token, now() + Duration::hours(23)).is_ok());
        assert!(matches!(
            s.verify(&token, now() + Duration::days(2)),
            Err(TokenError::UnknownKey)
        ));
    }

    #[test]
    fn a_minted_token_verifies_within_its_lifetime_and_leeway() {
        let s = service();
        let t = s.mint("42", "t1", now(), Duration::minutes(5)).unwrap();
        let v = s.verify(&t, now()).unwrap();
        assert_eq!(v.user_id, "42");
        assert!(
            s.verify(&t, now() + Duration::minutes(5) + Duration::seconds(4))
                .is_ok()
        );
        assert!(matches!(
            s.verify(&t, now() + Duration::minutes(5) + Duration::seconds(5)),
            Err(TokenError::Expired)
        ));
        assert!(s.verify(&t, now() - Duration::seconds(4)).is_ok());
        assert!(matches!(
            s.verify(&t, now() - Duration::seconds(6)),
            Err(TokenError::NotYetValid)
        ));
    }

    #[test]
    fn a_token_proven_once_still_expires_and_waits_for_nbf() {
        let s = service();
        let token = s.mint("u1", "t1", now(), Duration::minutes(10)).unwrap();
        assert!(s.verify(&token, now()).is_ok());
        // Now remembered: the times are still checked on every use.
        assert!(matches!(
            s.verify(&token, now() + Duration::minutes(11)),
            Err(TokenError::Expired)
        ));
        assert!(matches!(
            s.verify(&token, now() - Duration::minutes(1)),
            Err(TokenError::NotYetValid)
        ));
    }

    #[test]
    fn another_key_or_tampering_is_refused() {
        let s = service();
        let other = service();
        let t = other.mint("42", "t1", now(), Duration::minutes(5)).unwrap();
        assert!(matches!(s.verify(&t, now()), Err(TokenError::UnknownKey)));
        let good = s.mint("42", "t1", now(), Duration::minutes(5)).unwrap();
        let mut parts: Vec<String> = good.split('.').map(String::from).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["sub"] = "1".into();
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(matches!(
            s.verify(&parts.join("."), now()),
            Err(TokenError::Rejected(_))
        ));
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let s = service();
        let header = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"alg":"none","kid":"{}"}}"#,
            s.ring.snapshot().current.kid
        ));
        let body = URL_SAFE_NO_PAD
            .encode(r#"{"sub":"42","iss":"iss","aud":"aud","exp":9999999999,"nbf":0}"#);
        assert!(s.verify(&format!("{header}.{body}."), now()).is_err());
        assert!(s.verify("not-a-jwt", now()).is_err());
    }
}
