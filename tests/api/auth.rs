//! Authentication (spec section 4): every failure is 16 `AUTH-7fs1e`, with no hint of which check failed.

use anyhow::Result;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::check_eq;
use crate::helpers::{Backend, TestApp};

crate::suite!(auth;
    missing_and_malformed_headers, forged_expired_and_foreign_tokens, claims_are_checked,
    inactive_deleted_and_unknown_users_lose_access, public_endpoints_need_no_token,
);

fn assert_unauthenticated(r: &crate::helpers::Resp, message: &str) -> Result<()> {
    r.err(401, 16, "AUTH-7fs1e")?;
    check_eq!(r.body["details"][0]["message"], json!(message));
    check_eq!(
        r.headers
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    Ok(())
}

async fn missing_and_malformed_headers(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    assert_unauthenticated(
        &app.get("/auth/v1/users/me/phone").anonymous().send().await,
        "auth header missing",
    )?;
    let r = app
        .get("/auth/v1/users/me/phone")
        .anonymous()
        .header("authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .await;
    assert_unauthenticated(&r, "invalid auth header")?;
    assert_unauthenticated(
        &app.get("/auth/v1/users/me/phone")
            .by("garbage")
            .send()
            .await,
        "Token is invalid",
    )?;
    // Authentication comes before the body: a bad body does not leak through.
    let r = app
        .post("/v2/users/1/phone/resend")
        .anonymous()
        .raw("{nope")
        .send()
        .await;
    assert_unauthenticated(&r, "auth header missing")
}

/// The service's signing key, read the way a second process would: from the store.
async fn signing_key(app: &TestApp) -> Result<Vec<u8>> {
    const NAME: &str = "signing_key.es256.pkcs8";
    let stored = app.services.store.secret(NAME, "", app.now()).await?;
    // Sealed with the master key the first start generated in the data directory.
    let master = std::fs::read_to_string(app.dir.path().join("master.key"))?;
    let master = phoneverify::master_key::MasterKey::from_base64(&master, "test".into())?;
    Ok(master.open(NAME, &stored)?)
}

fn sign(pkcs8: &[u8], kid: &str, alg: Algorithm, claims: &Value) -> Result<String> {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    Ok(jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ec_der(pkcs8),
    )?)
}

fn kid_of(token: &str) -> Result<String> {
    Ok(jsonwebtoken::decode_header(token)?.kid.unwrap_or_default())
}

async fn forged_expired_and_foreign_tokens(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let path = "/auth/v1/users/me";
    let good = app.token_for(&app.admin_id);
    app.get(path).by(&good).send().await.ok()?;
    // Expired: one hour plus more than the 5 s leeway later.
    app.clock.advance(Duration::hours(1) + Duration::seconds(6));
    assert_unauthenticated(&app.get(path).by(&good).send().await, "Token is invalid")?;
    // Signed by a key that is not ours, under our kid.
    let other = phoneverify::auth::keys::generate_pkcs8()?;
    let now = app.now().timestamp();
    let claims = json!({"iss": "phoneverify", "aud": "phoneverify", "sub": app.admin_id, "exp": now + 600, "nbf": now, "iat": now, "jti": "x"});
    let forged = sign(&other, &kid_of(&good)?, Algorithm::ES256, &claims)?;
    assert_unauthenticated(&app.get(path).by(&forged).send().await, "Token is invalid")?;
    // Ours, but with an unknown kid.
    let key = signing_key(&app).await?;
    let unknown_kid = sign(&key, "someone-else", Algorithm::ES256, &claims)?;
    assert_unauthenticated(
        &app.get(path).by(&unknown_kid).send().await,
        "Token is invalid",
    )?;
    // The same claims correctly signed pass: the rejections above were about the signature and kid.
    let fine = sign(&key, &kid_of(&good)?, Algorithm::ES256, &claims)?;
    app.get(path).by(&fine).send().await.ok()?;
    // alg none.
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": kid_of(&good)?}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let none = format!("{header}.{body}.");
    assert_unauthenticated(&app.get(path).by(&none).send().await, "Token is invalid")
}

async fn claims_are_checked(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let kid = kid_of(&app.admin_token)?;
    let key = signing_key(&app).await?;
    let now = app.now().timestamp();
    let base = json!({"iss": "phoneverify", "aud": "phoneverify", "sub": app.admin_id, "exp": now + 600, "nbf": now, "iat": now, "jti": "x"});
    let with = |k: &str, v: Value| {
        let mut c = base.clone();
        c[k] = v;
        c
    };
    for claims in [
        with("iss", json!("https://evil.example")),
        with("aud", json!("someone-else")),
        with("nbf", json!(now + 60)),
        with("exp", json!(now - 10)),
        with("sub", json!("no-such-user")),
    ] {
        let token = sign(&key, &kid, Algorithm::ES256, &claims)?;
        assert_unauthenticated(
            &app.get("/auth/v1/users/me").by(&token).send().await,
            "Token is invalid",
        )?;
    }
    // Within the leeway, nbf and exp still pass.
    let token = sign(&key, &kid, Algorithm::ES256, &with("nbf", json!(now + 4)))?;
    app.get("/auth/v1/users/me").by(&token).send().await.ok()?;
    Ok(())
}

async fn inactive_deleted_and_unknown_users_lose_access(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let token = app.token_for(&id);
    let r = app.get("/auth/v1/users/me").by(&token).send().await;
    check_eq!(r.ok()?["user"]["userName"], json!("ada"));
    app.deactivate(&id).send().await.ok()?;
    assert_unauthenticated(
        &app.get("/auth/v1/users/me").by(&token).send().await,
        "Token is invalid",
    )?;
    app.reactivate(&id).send().await.ok()?;
    app.get("/auth/v1/users/me").by(&token).send().await.ok()?;
    app.delete_user(&id).send().await.ok()?;
    assert_unauthenticated(
        &app.get("/auth/v1/users/me").by(&token).send().await,
        "Token is invalid",
    )?;
    let ghost = app.token_for("1234");
    assert_unauthenticated(
        &app.get("/auth/v1/users/me").by(&ghost).send().await,
        "Token is invalid",
    )
}

async fn public_endpoints_need_no_token(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    for path in ["/healthz", "/readyz", "/oauth/v2/keys", "/openapi.json"] {
        let r = app.get(path).anonymous().send().await;
        check_eq!(r.status, 200);
    }
    let r = app.get("/docs/").anonymous().send().await;
    check_eq!(r.status, 200);
    anyhow::ensure!(r.text.contains("swagger"), "Swagger UI page");
    let jwks = app.get("/oauth/v2/keys").anonymous().send().await;
    check_eq!(
        jwks.body["keys"][0]["kid"],
        json!(kid_of(&app.admin_token)?)
    );
    check_eq!(jwks.body["keys"][0]["alg"], json!("ES256"));
    anyhow::ensure!(
        jwks.body["keys"][0].get("d").is_none(),
        "no private part in the JWKS"
    );
    Ok(())
}
