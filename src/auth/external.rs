//! Tokens from the identity providers an installation already runs (`[[auth.issuers]]`): a token whose `iss`
//! names a configured issuer is checked against that issuer's JWKS (RS256, ES256, EdDSA), its `aud` against
//! the issuer's audiences, `exp` / `nbf` with our clock and leeway, and names the user by a claim (`sub` by
//! default). Keys are fetched on first use and again when a token names an unknown `kid`, at most once per
//! `REFETCH_INTERVAL`; when the issuer cannot be reached, the keys fetched before stay in use.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};

use super::token::{TokenError, VerifiedToken};

/// An unknown `kid` refetches the issuer's keys at most this often, so tokens with made-up key ids cannot turn
/// this service into a load generator against the identity provider.
const REFETCH_INTERVAL_SECS: i64 = 30;
const FETCH_TIMEOUT: StdDuration = StdDuration::from_secs(5);

/// One `[[auth.issuers]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The `iss` its tokens carry, exactly.
    pub issuer: String,
    /// Where its public keys are (a JWKS document).
    pub jwks_url: String,
    /// Accepted `aud` values: a token must name at least one.
    pub audiences: Vec<String>,
    /// The claim that holds the user's ID in this service.
    #[serde(default = "default_user_claim")]
    pub user_claim: String,
}

fn default_user_claim() -> String {
    "sub".into()
}

struct Issuer {
    config: IssuerConfig,
    keys: RwLock<HashMap<String, (DecodingKey, Algorithm)>>,
    /// When the keys were last fetched (or tried); held while fetching, so concurrent requests fetch once.
    last_fetch: Mutex<Option<DateTime<Utc>>>,
}

pub struct ExternalIssuers {
    issuers: Vec<Issuer>,
    http: reqwest::Client,
    leeway: Duration,
}

#[derive(Deserialize)]
struct Unverified {
    #[serde(default)]
    iss: String,
}

impl ExternalIssuers {
    pub fn new(configs: Vec<IssuerConfig>, leeway: Duration) -> Result<Self, TokenError> {
        let http = crate::notify::http_client(FETCH_TIMEOUT)
            .map_err(|e| TokenError::Malformed(format!("no HTTP client for JWKS: {e}")))?;
        let issuers = configs
            .into_iter()
            .map(|config| Issuer {
                config,
                keys: RwLock::new(HashMap::new()),
                last_fetch: Mutex::new(None),
            })
            .collect();
        Ok(Self {
            issuers,
            http,
            leeway,
        })
    }

    /// `Ok(None)` when the token is not from a configured issuer (it may be one of ours).
    pub async fn verify(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<VerifiedToken>, TokenError> {
        if self.issuers.is_empty() {
            return Ok(None);
        }
        let Ok(unverified) = jsonwebtoken::dangerous::insecure_decode::<Unverified>(token) else {
            return Ok(None);
        };
        let Some(issuer) = self
            .issuers
            .iter()
            .find(|i| i.config.issuer == unverified.claims.iss)
        else {
            return Ok(None);
        };
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
        let (key, algorithm) = self.key(issuer, header.kid.as_deref(), now).await?;
        if header.alg != algorithm {
            return Err(TokenError::Algorithm);
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&issuer.config.issuer]);
        validation.set_audience(&issuer.config.audiences);
        // Times are checked below with the injected clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|e| TokenError::Rejected(e.to_string()))?
            .claims;
        let expires_at = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        let now_s = now.timestamp();
        let leeway = self.leeway.num_seconds();
        if expires_at.saturating_add(leeway) <= now_s {
            return Err(TokenError::Expired);
        }
        if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
            && nbf.saturating_sub(leeway) > now_s
        {
            return Err(TokenError::NotYetValid);
        }
        let user_id = claims
            .get(&issuer.config.user_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                TokenError::Rejected(format!("no {} claim", issuer.config.user_claim))
            })?;
        Ok(Some(VerifiedToken {
            user_id: user_id.to_owned(),
            token_id: claims
                .get("jti")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            expires_at: DateTime::from_timestamp(expires_at, 0).unwrap_or(DateTime::<Utc>::MAX_UTC),
            personal: false,
        }))
    }

    /// The key a token names; without a `kid`, the issuer's only key.
    async fn key(
        &self,
        issuer: &Issuer,
        kid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(DecodingKey, Algorithm), TokenError> {
        if let Some(found) = pick(&*issuer.keys.read().await, kid) {
            return Ok(found);
        }
        {
            let mut last = issuer.last_fetch.lock().await;
            // Another request may have fetched while this one waited for the lock.
            if let Some(found) = pick(&*issuer.keys.read().await, kid) {
                return Ok(found);
            }
            if last.is_none_or(|t| now - t >= Duration::seconds(REFETCH_INTERVAL_SECS)) {
                *last = Some(now);
                self.fetch(issuer).await;
            }
        }
        pick(&*issuer.keys.read().await, kid).ok_or(TokenError::UnknownKey)
    }

    /// Replaces the issuer's keys with its JWKS; on failure keeps the keys it had, and says so.
    async fn fetch(&self, issuer: &Issuer) {
        let url = &issuer.config.jwks_url;
        let fetched = async {
            let response = self
                .http
                .get(url)
                .send()
                .await
                .and_then(reqwest::Response::error_for_status)
                .map_err(|e| e.to_string())?;
            let body = response.bytes().await.map_err(|e| e.to_string())?;
            serde_json::from_slice::<JwkSet>(&body).map_err(|e| format!("not a JWKS: {e}"))
        }
        .await;
        match fetched {
            Ok(set) => {
                let keys: HashMap<_, _> = set.keys.iter().filter_map(usable).collect();
                tracing::info!(issuer = %issuer.config.issuer, keys = keys.len(), "fetched the issuer's keys");
                *issuer.keys.write().await = keys;
            }
            Err(e) => {
                let kept = issuer.keys.read().await.len();
                tracing::warn!(
                    issuer = %issuer.config.issuer, jwks_url = %url, error = %e, kept_keys = kept,
                    "cannot fetch the issuer's keys; the keys fetched before stay in use"
                );
            }
        }
    }
}

fn pick(
    keys: &HashMap<String, (DecodingKey, Algorithm)>,
    kid: Option<&str>,
) -> Option<(DecodingKey, Algorithm)> {
    match kid {
        Some(kid) => keys.get(kid).cloned(),
        None if keys.len() == 1 => keys.values().next().cloned(),
        None => None,
    }
}

/// A signing key of an algorithm we accept, by its `kid` (a key without one is named "").
fn usable(jwk: &Jwk) -> Option<(String, (DecodingKey, Algorithm))> {
    let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
        (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
        (AlgorithmParameters::EllipticCurve(p), None | Some(KeyAlgorithm::ES256))
            if p.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        (AlgorithmParameters::OctetKeyPair(p), None | Some(KeyAlgorithm::EdDSA))
            if p.curve == EllipticCurve::Ed25519 =>
        {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    let kid = jwk.common.key_id.clone().unwrap_or_default();
    Some((kid, (key, algorithm)))
}
