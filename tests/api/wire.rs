//! Wire conventions and request-shape errors (spec sections 1 and 3).

use anyhow::Result;
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};

crate::suite!(wire;
    unknown_path_and_wrong_method, malformed_json_and_wrong_types_name_the_field,
    unknown_fields_are_ignored_and_snake_case_is_accepted, oversized_body_is_rejected,
    openapi_document_is_checked_in_and_complete, json_is_read_as_strictly_as_protojson_reads_it,
    every_error_has_code_message_and_details,
);

async fn unknown_path_and_wrong_method(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let r = app.get("/v2/nothing/here").send().await;
    check_eq!((r.status, r.body["code"].clone()), (404, json!(5)));
    let r = app.put("/v2/users/1/phone/resend").send().await;
    check_eq!((r.status, r.body["code"].clone()), (405, json!(12)));
    Ok(())
}

/// Trailing data after the value, and an array or scalar where an (empty) message belongs, are refused;
/// nothing is written.
async fn json_is_read_as_strictly_as_protojson_reads_it(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, _) = app.with_pending_code("ada", PHONE_A).await?;
    let before = app.event_types(&id).await?.len();
    app.post(&format!("/v2/users/{id}/phone"))
        .raw(&format!(r#"{{"phone":"{PHONE_A}"}}garbage"#))
        .send()
        .await
        .invalid("trailing characters")?;
    for body in [
        json!({"returnCode": []}),
        json!({"returnCode": true}),
        json!({"sendCode": "yes"}),
    ] {
        app.post(&format!("/v2/users/{id}/phone/resend"))
            .json(body.clone())
            .send()
            .await
            .invalid("invalid request body")
            .map_err(|e| anyhow::anyhow!("{body}: {e}"))?;
    }
    check_eq!(app.event_types(&id).await?.len(), before);
    // An object with unknown fields is still a sendCode, as protojson's unknown-field tolerance in grpc-gateway.
    app.post(&format!("/v2/users/{id}/phone/resend"))
        .json(json!({"returnCode": {"x": 1}}))
        .send()
        .await
        .verification_code()?;
    Ok(())
}

/// The error body is always `{code, message, details}`, `details` possibly empty, whoever produced it.
async fn every_error_has_code_message_and_details(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let long_id = "9".repeat(201);
    let answers = [
        app.get("/v2/nothing/here").send().await,
        app.put("/v2/users/1/phone/resend").send().await,
        app.post("/v2/users/1/phone").raw("{").send().await,
        app.post("/v2/users/1/phone")
            .raw(&"x".repeat(70_000))
            .send()
            .await,
        app.post(&format!("/v2/users/{long_id}/phone/resend"))
            .send()
            .await,
        app.get("/v2/users/4711").anonymous().send().await,
    ];
    for r in answers {
        anyhow::ensure!(r.status >= 400, "{}", r.text);
        anyhow::ensure!(
            r.body["code"].is_i64()
                && r.body["message"].is_string()
                && r.body["details"].is_array(),
            "{}: {}",
            r.status,
            r.text
        );
    }
    Ok(())
}

async fn malformed_json_and_wrong_types_name_the_field(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let path = format!("/v2/users/{id}/phone");
    app.post(&path)
        .raw("{\"phone\": ")
        .send()
        .await
        .invalid("malformed JSON")?;
    app.post(&path)
        .json(json!({"phone": 41791234567u64}))
        .send()
        .await
        .invalid("phone")?;
    app.post(&path)
        .json(json!({"phone": PHONE_A, "isVerified": "yes"}))
        .send()
        .await
        .invalid("isVerified")?;
    app.post(&format!("/v2/users/{id}/phone/verify"))
        .json(json!({"verificationCode": ["1"]}))
        .send()
        .await
        .invalid("verificationCode")?;
    app.put(&format!("/management/v1/users/{id}/phone"))
        .json(json!({"phone": PHONE_A, "isPhoneVerified": 1}))
        .send()
        .await
        .invalid("isPhoneVerified")?;
    app.post(&path)
        .json(json!([1, 2]))
        .send()
        .await
        .invalid("invalid request body")?;
    let long_id = "9".repeat(201);
    app.post(&format!("/v2/users/{long_id}/phone/resend"))
        .send()
        .await
        .invalid("userId")?;
    // Nothing was written by any of these.
    check_eq!(app.event_types(&id).await?.len(), 1);
    Ok(())
}

async fn unknown_fields_are_ignored_and_snake_case_is_accepted(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let r = app
        .post(&format!("/v2/users/{id}/phone"))
        .json(json!({"phone": PHONE_A, "return_code": {}, "futureField": {"x": 1}}))
        .send()
        .await;
    let code = r.verification_code()?;
    app.post(&format!("/v2/users/{id}/phone/verify"))
        .json(json!({"verification_code": code, "extra": true}))
        .send()
        .await
        .ok()?;
    // Responses are camelCase, omit false/empty fields, and carry sequences as strings.
    let r = app.v1_managed(&id).get_phone().send().await;
    let body = r.ok()?;
    check_eq!(
        body["phone"],
        json!({"phone": PHONE_A, "isPhoneVerified": true})
    );
    anyhow::ensure!(body["details"]["sequence"].is_string());
    Ok(())
}

async fn oversized_body_is_rejected(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, "[http]\nmax_body_bytes = 1024").await?;
    let id = app.human("ada").await?;
    let big = json!({"phone": PHONE_A, "pad": "x".repeat(4096)});
    let r = app
        .post(&format!("/v2/users/{id}/phone"))
        .json(big)
        .send()
        .await;
    check_eq!((r.status, r.body["code"].clone()), (400, json!(3)));
    check_eq!(app.event_types(&id).await?.len(), 1);
    Ok(())
}

async fn openapi_document_is_checked_in_and_complete(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let served = app.get("/openapi.json").anonymous().send().await;
    let generated: serde_json::Value =
        serde_json::from_str(&phoneverify::api::openapi().to_pretty_json()?)?;
    check_eq!(served.body, generated);
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    let pretty = phoneverify::api::openapi().to_pretty_json()? + "\n";
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(&file, &pretty)?;
    }
    let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
    anyhow::ensure!(
        checked_in == pretty,
        "openapi/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test --test api openapi` (or `cargo run -- openapi > openapi/openapi.json`)"
    );
    let paths = generated["paths"]
        .as_object()
        .map(|p| p.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default();
    for p in [
        "/auth/v1/users/me/phone",
        "/auth/v1/users/me/phone/_verify",
        "/auth/v1/users/me/phone/_resend_verification",
        "/management/v1/users/{userId}/phone",
        "/management/v1/users/{userId}/phone/_resend_verification",
        "/v2/users/{userId}/phone",
        "/v2/users/{userId}/phone/resend",
        "/v2/users/{userId}/phone/verify",
    ] {
        anyhow::ensure!(
            paths.iter().any(|x| x == p),
            "{p} missing from the OpenAPI document"
        );
    }
    anyhow::ensure!(generated["components"]["securitySchemes"]["bearer"].is_object());
    anyhow::ensure!(generated["components"]["schemas"]["ErrorBody"].is_object());
    Ok(())
}
