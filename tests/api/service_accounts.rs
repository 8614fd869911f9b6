//! Service accounts signing in as ZITADEL's SDKs do: a client secret (client credentials grant) or a key file
//! (JWT profile grant) from the management API, exchanged at `/oauth/v2/token` for an access token that calls
//! the API as the machine user. Refusals answer in RFC 6749's shape.

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::Duration;
use serde_json::{Value, json};

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, Resp, TestApp};

crate::suite!(service_accounts;
    a_client_secret_buys_a_token_that_calls_the_api,
    a_key_file_signs_assertions_that_buy_tokens,
    the_discovery_document_names_the_token_endpoint,
);

async fn token_request(app: &TestApp, form: &str, basic: Option<(&str, &str)>) -> Resp {
    let mut req = app
        .post("/oauth/v2/token")
        .anonymous()
        .raw(form)
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let credentials = STANDARD.encode(format!("{id}:{secret}"));
        req = req.header("authorization", &format!("Basic {credentials}"));
    }
    req.send().await
}

fn access_token(r: &Resp) -> Result<String> {
    check_eq!(r.status, 200);
    check_eq!(r.body["token_type"], json!("Bearer"));
    check_eq!(
        r.headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    r.body["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("access_token")
}

fn oauth_error(r: &Resp, status: u16, error: &str) -> Result<()> {
    check_eq!((r.status, &r.body["error"]), (status, &json!(error)));
    Ok(())
}

/// A machine user that manages the users of the default org.
async fn service_account(app: &TestApp) -> Result<String> {
    let id = app.machine("svc").await?;
    app.grant_org_role(&app.org_id, &id, "ORG_USER_MANAGER")
        .await?;
    Ok(id)
}

async fn a_client_secret_buys_a_token_that_calls_the_api(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let svc = service_account(&app).await?;
    let path = format!("/management/v1/users/{svc}/secret");
    let r = app.put(&path).json(json!({})).send().await;
    check_eq!(r.ok()?["clientId"], json!(svc));
    let secret = r.field("clientSecret")?;

    let token = access_token(
        &token_request(
            &app,
            "grant_type=client_credentials&scope=openid",
            Some((&svc, &secret)),
        )
        .await,
    )?;
    let me = app.get("/auth/v1/users/me").by(&token).send().await;
    check_eq!(me.ok()?["user"]["id"], json!(svc));
    // It acts with the machine user's roles: a human's code can be resent.
    let human = app.human("ada").await?;
    app.set_phone(&human, PHONE_A)
        .return_code()
        .send()
        .await
        .ok()?;
    app.resend(&human).by(&token).send().await.ok()?;
    // client_secret_post works as well.
    let form = format!("grant_type=client_credentials&client_id={svc}&client_secret={secret}");
    access_token(&token_request(&app, &form, None).await)?;

    // A wrong secret, an unknown client, no client: invalid_client.
    let wrong = token_request(&app, "grant_type=client_credentials", Some((&svc, "nope"))).await;
    oauth_error(&wrong, 401, "invalid_client")?;
    let unknown = token_request(&app, "grant_type=client_credentials", Some(("42", &secret))).await;
    oauth_error(&unknown, 401, "invalid_client")?;
    oauth_error(
        &token_request(&app, "grant_type=client_credentials", None).await,
        401,
        "invalid_client",
    )?;
    oauth_error(
        &token_request(&app, "grant_type=password", None).await,
        400,
        "unsupported_grant_type",
    )?;
    oauth_error(
        &token_request(&app, "%%%", None).await,
        400,
        "invalid_request",
    )?;
    // A new secret replaces the old one.
    let newer = app
        .put(&path)
        .json(json!({}))
        .send()
        .await
        .field("clientSecret")?;
    let old = token_request(&app, "grant_type=client_credentials", Some((&svc, &secret))).await;
    oauth_error(&old, 401, "invalid_client")?;
    access_token(
        &token_request(&app, "grant_type=client_credentials", Some((&svc, &newer))).await,
    )?;
    // Humans have no client secret; a deactivated machine cannot sign in.
    app.put(&format!("/management/v1/users/{human}/secret"))
        .json(json!({}))
        .send()
        .await
        .err(400, 9, "COMMAND-Df2f1")?;
    app.deactivate(&svc).send().await.ok()?;
    let inactive = token_request(&app, "grant_type=client_credentials", Some((&svc, &newer))).await;
    oauth_error(&inactive, 401, "invalid_client")?;
    Ok(())
}

/// An assertion as ZITADEL's SDKs build it from a key file: RS256 with the file's PEM key.
fn assertion(key_file: &Value, aud: &str, now: i64, lifetime: i64) -> Result<String> {
    let user = key_file["userId"].as_str().context("userId")?;
    let kid = key_file["keyId"].as_str().context("keyId")?;
    let pem = key_file["key"].as_str().context("key")?;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&STANDARD.decode(body)?)
        .map_err(|e| anyhow::anyhow!("the key file's key: {e}"))?;
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": kid});
    let claims = json!({"iss": user, "sub": user, "aud": aud, "iat": now, "exp": now + lifetime});
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| anyhow::anyhow!("signing failed"))?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

async fn a_key_file_signs_assertions_that_buy_tokens(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let svc = service_account(&app).await?;
    let expires = app.now() + Duration::days(1);
    let r = app
        .post(&format!("/management/v1/users/{svc}/keys"))
        .json(json!({"type": "KEY_TYPE_JSON", "expirationDate": expires.to_rfc3339()}))
        .send()
        .await;
    let details = r.field("keyDetails")?;
    // A key of the caller's own is refused by name, not ignored; an unknown key type is bad input.
    let keys = format!("/management/v1/users/{svc}/keys");
    let own = app
        .post(&keys)
        .json(json!({"publicKey": "LS0tLS1CRUdJTg=="}))
        .send()
        .await;
    own.err(501, 12, "API-N0tIm")?;
    let bad = app
        .post(&keys)
        .json(json!({"type": "KEY_TYPE_X509"}))
        .send()
        .await;
    check_eq!((bad.status, &bad.body["code"]), (400, &json!(3)));
    let key_file: Value = serde_json::from_slice(&STANDARD.decode(details)?)?;
    check_eq!(key_file["type"], json!("serviceaccount"));
    check_eq!(key_file["userId"], json!(svc));
    check_eq!(key_file["keyId"], r.body["keyId"]);

    let now = app.now().timestamp();
    let grant = |assertion: String| {
        format!(
            "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&scope=openid&assertion={assertion}"
        )
    };
    // The audience is this service: its issuer name or its URL, as the SDKs send it.
    for aud in ["phoneverify", "http://localhost"] {
        let r = token_request(&app, &grant(assertion(&key_file, aud, now, 3600)?), None).await;
        let token = access_token(&r)?;
        let me = app.get("/auth/v1/users/me").by(&token).send().await;
        check_eq!(me.ok()?["user"]["id"], json!(svc));
    }
    // Another audience, an expired assertion, another key under this key's id: invalid_grant.
    let r = token_request(
        &app,
        &grant(assertion(&key_file, "https://elsewhere", now, 3600)?),
        None,
    )
    .await;
    oauth_error(&r, 400, "invalid_grant")?;
    let r = token_request(
        &app,
        &grant(assertion(&key_file, "phoneverify", now - 7200, 3600)?),
        None,
    )
    .await;
    oauth_error(&r, 400, "invalid_grant")?;
    let other = app
        .post(&format!("/management/v1/users/{svc}/keys"))
        .json(json!({}))
        .send()
        .await
        .field("keyDetails")?;
    let mut forged: Value = serde_json::from_slice(&STANDARD.decode(other)?)?;
    forged["keyId"] = key_file["keyId"].clone();
    let r = token_request(
        &app,
        &grant(assertion(&forged, "phoneverify", now, 3600)?),
        None,
    )
    .await;
    oauth_error(&r, 400, "invalid_grant")?;
    oauth_error(
        &token_request(
            &app,
            "grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=x.y.z",
            None,
        )
        .await,
        400,
        "invalid_grant",
    )?;
    // The key stops working when it expires.
    app.clock.advance(Duration::days(1));
    let now = app.now().timestamp();
    let r = token_request(
        &app,
        &grant(assertion(&key_file, "phoneverify", now, 3600)?),
        None,
    )
    .await;
    oauth_error(&r, 400, "invalid_grant")?;
    Ok(())
}

async fn the_discovery_document_names_the_token_endpoint(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let r = app
        .get("/.well-known/openid-configuration")
        .anonymous()
        .header("host", "ids.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    check_eq!(r.status, 200);
    check_eq!(
        r.body["token_endpoint"],
        json!("https://ids.example.com/oauth/v2/token")
    );
    check_eq!(
        r.body["jwks_uri"],
        json!("https://ids.example.com/oauth/v2/keys")
    );
    Ok(())
}
