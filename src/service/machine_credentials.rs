//! Service accounts as ZITADEL's SDKs authenticate them: management v1 GenerateMachineSecret and AddMachineKey
//! hand out a client secret or a key file, and the token endpoint turns either into an access token (the
//! client credentials grant, and the JWT profile grant of RFC 7523).

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::KeyPair;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::json;

use super::write::Decision;
use super::{Caller, Result, ServiceError, Services, Written};
use crate::domain::DomainError;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::permission::USER_WRITE;
use crate::domain::user::{MachineCredentials, User, UserEvent, UserKind, pat_default_expiration};

/// Why a token request was refused, in RFC 6749's terms.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Unknown client, wrong secret, or a client that may not sign in: 401 `invalid_client`.
    #[error("invalid client")]
    InvalidClient,
    /// The assertion is not acceptable: 400 `invalid_grant` (the reason is for the log).
    #[error("invalid grant: {0}")]
    InvalidGrant(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// An access token issued by the token endpoint.
#[derive(Debug)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
}

/// A new secret for a machine user, and the key file ZITADEL hands out for a new machine key.
pub struct NewSecret {
    pub client_id: String,
    pub client_secret: String,
}

pub struct NewKey {
    pub key_id: String,
    /// `{"type": "serviceaccount", "keyId", "key" (PEM), "expirationDate", "userId"}`, as ZITADEL's key files.
    pub key_file: Vec<u8>,
}

/// What an assertion says before its signature is checked: whose key signed it.
#[derive(Deserialize)]
struct AssertionSubject {
    #[serde(default)]
    sub: String,
}

fn secret_hash(secret: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    format!("sha256:{}", STANDARD.encode(digest.as_ref()))
}

impl Services {
    /// management v1 GenerateMachineSecret: a new client secret for a machine user of the context org. The
    /// client ID is the user's ID. The secret is shown only here.
    pub async fn set_machine_secret(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
    ) -> Result<(Written, NewSecret)> {
        let (user_id, org_id) = self.machine_target(caller, org_header, user_id).await?;
        let secret = URL_SAFE_NO_PAD.encode(crate::crypto::random_bytes(32)?);
        let hash = secret_hash(&secret);
        let (user_id, org_id) = (&user_id, &org_id);
        let committed = self
            .execute(caller.user_id.as_str(), move || {
                let hash = hash.clone();
                async move {
                    let user = self.user_in(user_id, org_id).await?;
                    Ok(Decision::on_user(&user, user.set_machine_secret(hash)?, ()))
                }
            })
            .await?;
        let written = Written {
            user: committed.user(user_id)?,
            created: false,
        };
        let secret = NewSecret {
            client_id: user_id.to_string(),
            client_secret: secret,
        };
        Ok((written, secret))
    }

    /// management v1 AddMachineKey: a new RSA key for a machine user of the context org. The private key
    /// leaves in the key file and is not kept.
    pub async fn add_machine_key(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
        expiration: Option<DateTime<Utc>>,
    ) -> Result<(Written, NewKey)> {
        let (user_id, org_id) = self.machine_target(caller, org_header, user_id).await?;
        let now = self.clock.now();
        let expiration = expiration.unwrap_or_else(pat_default_expiration);
        let pair = RsaKeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| ServiceError::internal("RSA key generation failed"))?;
        let private = pair
            .as_der()
            .map_err(|_| ServiceError::internal("RSA key encoding failed"))?;
        let public_key = STANDARD.encode(pair.public_key().as_ref());
        let (user_id, org_id) = (&user_id, &org_id);
        let committed = self
            .execute(caller.user_id.as_str(), move || {
                let public_key = public_key.clone();
                async move {
                    let user = self.user_in(user_id, org_id).await?;
                    let key_id = self.ids.next(now);
                    let events = user.add_machine_key(&key_id, public_key, expiration, now)?;
                    Ok(Decision::on_user(&user, events, key_id))
                }
            })
            .await?;
        let key_id = committed.value.clone();
        let key_file = json!({
            "type": "serviceaccount",
            "keyId": key_id,
            "key": pem("PRIVATE KEY", private.as_ref()),
            "expirationDate": expiration.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "userId": user_id.to_string(),
        });
        let written = Written {
            user: committed.user(user_id)?,
            created: false,
        };
        let key_file = serde_json::to_vec(&key_file).map_err(ServiceError::internal_from)?;
        Ok((written, NewKey { key_id, key_file }))
    }

    /// The machine user a credential call is about, and the context org it must be in: the caller needs
    /// user.write there, and may not hand out credentials for roles it could not grant itself.
    async fn machine_target(
        &self,
        caller: &Caller,
        org_header: Option<&str>,
        user_id: &str,
    ) -> Result<(UserId, OrgId)> {
        let org_id = self.context_org(caller, org_header).await?;
        self.require(caller, USER_WRITE, &org_id).await?;
        let user_id = UserId::parse(user_id).ok_or(DomainError::UserNotFound)?;
        self.require_covering(caller, &user_id, USER_WRITE).await?;
        Ok((user_id, org_id))
    }

    /// The client credentials grant: the machine user `client_id` and its current secret.
    pub async fn token_by_client_secret(
        &self,
        client_id: &str,
        client_secret: &str,
    ) -> std::result::Result<IssuedToken, OAuthError> {
        let (user, credentials) = self.service_account(client_id).await?;
        let Some(stored) = credentials.secret_hash else {
            return Err(OAuthError::InvalidClient);
        };
        let given = secret_hash(client_secret);
        if aws_lc_rs::constant_time::verify_slices_are_equal(stored.as_bytes(), given.as_bytes())
            .is_err()
        {
            return Err(OAuthError::InvalidClient);
        }
        self.issue_access_token(&user)
    }

    /// The JWT profile grant: an assertion signed with one of the machine user's keys, its `iss` and `sub` the
    /// user, its `aud` one of `audiences` (this service's issuer and its own URLs), not expired.
    pub async fn token_by_assertion(
        &self,
        assertion: &str,
        audiences: &[String],
    ) -> std::result::Result<IssuedToken, OAuthError> {
        let grant = |why: &str| OAuthError::InvalidGrant(why.to_owned());
        let header =
            jsonwebtoken::decode_header(assertion).map_err(|_| grant("malformed assertion"))?;
        let subject = jsonwebtoken::dangerous::insecure_decode::<AssertionSubject>(assertion)
            .map_err(|_| grant("malformed assertion"))?
            .claims
            .sub;
        let (user, credentials) = self.service_account(&subject).await.map_err(|e| match e {
            OAuthError::InvalidClient => grant("no such service account"),
            other => other,
        })?;
        let now = self.clock.now();
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| credentials.key(kid, now))
            .ok_or_else(|| grant("unknown or expired key"))?;
        if header.alg != Algorithm::RS256 {
            return Err(grant("the assertion must be RS256"));
        }
        let der = STANDARD
            .decode(&key.public_key)
            .map_err(|_| ServiceError::internal("a stored machine key is not base64"))?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&subject]);
        validation.set_audience(audiences);
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            assertion,
            &DecodingKey::from_rsa_der(&der),
            &validation,
        )
        .map_err(|e| OAuthError::InvalidGrant(e.to_string()))?
        .claims;
        let leeway = Duration::from_std(self.config.auth.leeway).unwrap_or(Duration::MAX);
        let exp = claims["exp"].as_i64().unwrap_or(0);
        if exp.saturating_add(leeway.num_seconds()) <= now.timestamp() {
            return Err(grant("the assertion has expired"));
        }
        self.issue_access_token(&user)
    }

    /// A live machine user and its credentials; anything else is an unknown client.
    async fn service_account(
        &self,
        user_id: &str,
    ) -> std::result::Result<(User, MachineCredentials), OAuthError> {
        let Some(id) = UserId::parse(user_id) else {
            return Err(OAuthError::InvalidClient);
        };
        let user = match self.store.user(&id).await.map_err(ServiceError::from)? {
            Some(user) if user.can_authenticate() && matches!(user.kind, UserKind::Machine(_)) => {
                user
            }
            _ => return Err(OAuthError::InvalidClient),
        };
        let events = self
            .store
            .events(id.as_str())
            .await
            .map_err(ServiceError::from)?;
        let decoded = events
            .iter()
            .filter(|e| e.event_type.starts_with("user.machine."))
            .map(|e| crate::domain::events::decode::<UserEvent>(&e.event_type, e.payload.as_ref()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(ServiceError::internal_from)?;
        Ok((user, MachineCredentials::from_events(&decoded)))
    }

    fn issue_access_token(&self, user: &User) -> std::result::Result<IssuedToken, OAuthError> {
        let now = self.clock.now();
        let ttl = Duration::from_std(self.config.auth.token_ttl).unwrap_or(Duration::hours(12));
        let token_id = self.ids.next(now);
        let access_token = self
            .tokens
            .mint(user.id.as_str(), &token_id, now, ttl)
            .map_err(ServiceError::from)?;
        Ok(IssuedToken {
            access_token,
            expires_in: ttl.num_seconds(),
        })
    }
}

/// PEM: the DER in base64, 64 characters a line, between BEGIN and END lines.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
