//! Tokens from an identity provider the installation already runs (`[[auth.issuers]]`), against a stand-in
//! IdP serving its JWKS on a loopback port: accepted (ES256 and EdDSA), wrong audience, unknown key, key
//! rotation, the IdP down (the keys fetched before stay in use), and the user named by another claim.

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};

crate::suite!(external_issuers;
    an_idp_token_calls_the_api_as_the_user_it_names,
    audience_expiry_and_unknown_users_are_refused,
    a_rotated_key_is_fetched_and_an_unreachable_idp_keeps_its_keys,
);

const ISSUER: &str = "https://idp.test";
const AUDIENCE: &str = "phoneverify-api";

struct IdpKey {
    kid: String,
    alg: Algorithm,
    /// ES256 and EdDSA keys sign through jsonwebtoken; RSA keys (made by aws-lc-rs) sign directly.
    encoding: Option<EncodingKey>,
    rsa: Option<aws_lc_rs::rsa::KeyPair>,
    jwk: Value,
}

fn es256(kid: &str) -> Result<IdpKey> {
    let pkcs8 = phoneverify::auth::keys::generate_pkcs8()?;
    let mut jwk = phoneverify::auth::SigningKey::from_pkcs8(&pkcs8)?.jwks()["keys"][0].clone();
    jwk["kid"] = json!(kid);
    Ok(IdpKey {
        kid: kid.into(),
        alg: Algorithm::ES256,
        encoding: Some(EncodingKey::from_ec_der(&pkcs8)),
        rsa: None,
        jwk,
    })
}

fn ed25519(kid: &str) -> Result<IdpKey> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| anyhow::anyhow!("no Ed25519 key"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("unreadable Ed25519 key"))?;
    let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
    Ok(IdpKey {
        kid: kid.into(),
        alg: Algorithm::EdDSA,
        encoding: Some(EncodingKey::from_ed_der(pkcs8.as_ref())),
        rsa: None,
        jwk: json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "use": "sig", "alg": "EdDSA"}),
    })
}

fn rs256(kid: &str) -> Result<IdpKey> {
    use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!("no RSA key"))?;
    let parts = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let jwk = json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
        "n": URL_SAFE_NO_PAD.encode(&parts.n), "e": URL_SAFE_NO_PAD.encode(&parts.e)});
    Ok(IdpKey {
        kid: kid.into(),
        alg: Algorithm::RS256,
        encoding: None,
        rsa: Some(pair),
        jwk,
    })
}

impl IdpKey {
    fn sign(&self, claims: &Value) -> Result<String> {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        if let Some(encoding) = &self.encoding {
            return Ok(jsonwebtoken::encode(&header, claims, encoding)?);
        }
        let pair = self.rsa.as_ref().context("an RSA key")?;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| anyhow::anyhow!("RSA signing failed"))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

#[derive(Default)]
struct IdpState {
    keys: Vec<Value>,
    up: bool,
    fetches: usize,
}

/// The stand-in IdP: `GET /keys` answers its JWKS, or 503 while it is down.
#[derive(Clone)]
struct Idp {
    port: u16,
    state: Arc<Mutex<IdpState>>,
}

async fn jwks(State(state): State<Arc<Mutex<IdpState>>>) -> Response {
    let Ok(mut s) = state.lock() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    s.fetches += 1;
    if !s.up {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Json(json!({"keys": s.keys})).into_response()
}

impl Idp {
    async fn start(keys: &[&IdpKey]) -> Result<Idp> {
        let state = Arc::new(Mutex::new(IdpState {
            keys: keys.iter().map(|k| k.jwk.clone()).collect(),
            up: true,
            fetches: 0,
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let app = axum::Router::new()
            .route("/keys", axum::routing::get(jwks))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Idp { port, state })
    }

    fn with(&self, change: impl FnOnce(&mut IdpState)) -> Result<usize> {
        let mut s = self
            .state
            .lock()
            .map_err(|_| anyhow::anyhow!("IdP state poisoned"))?;
        change(&mut s);
        Ok(s.fetches)
    }

    fn config(&self) -> String {
        format!(
            "[[auth.issuers]]\nissuer = \"{ISSUER}\"\njwks_url = \"http://127.0.0.1:{port}/keys\"\naudiences = [\"{AUDIENCE}\", \"other\"]\n\
             [[auth.issuers]]\nissuer = \"https://claims.test\"\njwks_url = \"http://127.0.0.1:{port}/keys\"\naudiences = [\"pv\"]\nuser_claim = \"phoneverify_user\"\n",
            port = self.port
        )
    }
}

/// `GET /auth/v1/users/me` with a token of `key` for `user`.
async fn me_by(app: &TestApp, key: &IdpKey, user: &str) -> Result<crate::helpers::Resp> {
    Ok(app
        .get("/auth/v1/users/me")
        .by(&key.sign(&claims(app, user))?)
        .send()
        .await)
}

fn claims(app: &TestApp, sub: &str) -> Value {
    let now = app.now().timestamp();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now, "exp": now + 600})
}

async fn an_idp_token_calls_the_api_as_the_user_it_names(b: Backend) -> Result<()> {
    let (k1, ed, rsa) = (es256("k1")?, ed25519("ed")?, rs256("rsa")?);
    let idp = Idp::start(&[&k1, &ed, &rsa]).await?;
    let app = TestApp::spawn_with(&b, &idp.config()).await?;
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A)
        .return_code()
        .send()
        .await
        .ok()?;

    let token = k1.sign(&claims(&app, &id))?;
    let me = app.get("/auth/v1/users/me").by(&token).send().await;
    check_eq!(me.ok()?["user"]["id"], json!(id));
    app.v1_me(&token).resend().send().await.ok()?;
    // EdDSA and RS256 work alike, and an `aud` list needs one accepted audience.
    let mut c = claims(&app, &id);
    c["aud"] = json!(["someone-else", AUDIENCE]);
    for key in [&ed, &rsa] {
        let token = key.sign(&c)?;
        app.get("/auth/v1/users/me").by(&token).send().await.ok()?;
    }
    // Another issuer names the user by its own claim.
    let mut c = claims(&app, "not-a-user");
    c["iss"] = json!("https://claims.test");
    c["aud"] = json!("pv");
    c["phoneverify_user"] = json!(id);
    let r = app.get("/auth/v1/users/me").by(&k1.sign(&c)?).send().await;
    check_eq!(r.ok()?["user"]["id"], json!(id));
    // One fetch per issuer served them all.
    check_eq!(idp.with(|_| {})?, 2);
    Ok(())
}

async fn audience_expiry_and_unknown_users_are_refused(b: Backend) -> Result<()> {
    let k1 = es256("k1")?;
    let idp = Idp::start(&[&k1]).await?;
    let app = TestApp::spawn_with(&b, &idp.config()).await?;
    let id = app.human("ada").await?;
    let refused = |token: String| {
        let app = &app;
        async move {
            app.get("/auth/v1/users/me")
                .by(&token)
                .send()
                .await
                .err(401, 16, "AUTH-7fs1e")
        }
    };
    let mut wrong_aud = claims(&app, &id);
    wrong_aud["aud"] = json!("phoneverify");
    refused(k1.sign(&wrong_aud)?).await?;
    let mut no_exp = claims(&app, &id);
    no_exp.as_object_mut().map(|c| c.remove("exp"));
    refused(k1.sign(&no_exp)?).await?;
    refused(k1.sign(&claims(&app, "no-such-user"))?).await?;
    // Signed by a key the IdP does not publish, under a published kid.
    let impostor = es256("k1")?;
    refused(impostor.sign(&claims(&app, &id))?).await?;
    // Valid now, refused once expired (the injected clock, with the leeway).
    let token = k1.sign(&claims(&app, &id))?;
    app.get("/auth/v1/users/me").by(&token).send().await.ok()?;
    app.clock.advance(Duration::seconds(606));
    refused(token).await?;
    // A deactivated user's IdP token stops working at once.
    let token = k1.sign(&claims(&app, &id))?;
    app.deactivate(&id).send().await.ok()?;
    refused(token).await?;
    Ok(())
}

async fn a_rotated_key_is_fetched_and_an_unreachable_idp_keeps_its_keys(b: Backend) -> Result<()> {
    let (k1, k2, k3) = (es256("k1")?, es256("k2")?, es256("k3")?);
    let idp = Idp::start(&[&k1]).await?;
    let app = TestApp::spawn_with(&b, &idp.config()).await?;
    let id = app.human("ada").await?;
    me_by(&app, &k1, &id).await?.ok()?;
    // The IdP rotates to k2. Right after a fetch, an unknown kid does not fetch again (a flood of made-up
    // kids must not become a flood of requests to the IdP); 30 s later it does.
    idp.with(|s| s.keys.push(k2.jwk.clone()))?;
    me_by(&app, &k2, &id).await?.err(401, 16, "AUTH-7fs1e")?;
    check_eq!(idp.with(|_| {})?, 1);
    app.clock.advance(Duration::seconds(31));
    me_by(&app, &k2, &id).await?.ok()?;
    check_eq!(idp.with(|_| {})?, 2);
    // The IdP goes down: tokens of the keys fetched before still work; a new key cannot be learned.
    idp.with(|s| {
        s.up = false;
        s.keys.push(k3.jwk.clone());
    })?;
    app.clock.advance(Duration::seconds(31));
    me_by(&app, &k3, &id).await?.err(401, 16, "AUTH-7fs1e")?;
    check_eq!(idp.with(|_| {})?, 3);
    me_by(&app, &k1, &id).await?.ok()?;
    // Back up: the next unknown kid after the interval fetches k3.
    idp.with(|s| s.up = true)?;
    app.clock.advance(Duration::seconds(31));
    me_by(&app, &k3, &id).await?.ok()?;
    Ok(())
}
