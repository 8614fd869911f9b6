//! `/metrics` after real traffic: requests by route and status, codes by outcome, SMS attempts, throttle
//! refusals, the pool and group-commit batches, each counted once.

use anyhow::{Result, ensure};
use chrono::Duration;

use crate::helpers::{Backend, PHONE_A, TestApp};

crate::suite!(metrics;
    traffic_shows_up_in_every_family,
);

/// The value of the series `name{labels}` in a scrape (0 when absent).
pub(crate) fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn traffic_shows_up_in_every_family(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, "[limits]\nresend_cooldown_secs = 30\n").await?;
    let id = app.human("ada").await?;
    // Sent by SMS, then a resend inside the cooldown (refused), then a returned code.
    app.set_phone(&id, PHONE_A).send().await.ok()?;
    app.resend(&id)
        .send_code()
        .send()
        .await
        .err(429, 8, "PHONE-c0oLd")?;
    let code = app
        .resend(&id)
        .return_code()
        .send()
        .await
        .verification_code()?;
    // One wrong guess, then the right one after the code expired: both refused alike, counted apart.
    ensure!(app.verify(&id, "000000").send().await.status == 400);
    app.clock.advance(Duration::hours(1));
    ensure!(app.verify(&id, &code).send().await.status == 400);
    let code = app
        .resend(&id)
        .return_code()
        .send()
        .await
        .verification_code()?;
    app.verify(&id, &code).send().await.ok()?;
    app.deliver().await?;

    let r = app.get("/metrics").anonymous().send().await;
    ensure!(r.status == 200, "{}", r.text);
    let text = &r.text;
    let resend = "route=\"/v2/users/{userId}/phone/resend\"";
    for (series, expected) in [
        (
            format!("phoneverify_http_requests_total{{method=\"POST\",{resend},status=\"429\"}}"),
            1.0,
        ),
        (
            format!("phoneverify_http_requests_total{{method=\"POST\",{resend},status=\"200\"}}"),
            2.0,
        ),
        (
            format!("phoneverify_http_request_duration_seconds_count{{method=\"POST\",{resend}}}"),
            3.0,
        ),
        (
            "phoneverify_codes_total{outcome=\"issued_sms\"}".to_owned(),
            1.0,
        ),
        (
            "phoneverify_codes_total{outcome=\"issued_returned\"}".to_owned(),
            2.0,
        ),
        (
            "phoneverify_codes_total{outcome=\"verify_failed\"}".to_owned(),
            1.0,
        ),
        (
            "phoneverify_codes_total{outcome=\"verify_expired\"}".to_owned(),
            1.0,
        ),
        (
            "phoneverify_codes_total{outcome=\"verified\"}".to_owned(),
            1.0,
        ),
        (
            "phoneverify_throttled_total{reason=\"cooldown\"}".to_owned(),
            1.0,
        ),
        // The SMS code was replaced by the returned ones before the worker ran: dropped, not sent.
        (
            "phoneverify_sms_attempts_total{provider=\"recording\",outcome=\"dropped\"}".to_owned(),
            1.0,
        ),
        ("phoneverify_sms_jobs{state=\"dropped\"}".to_owned(), 1.0),
    ] {
        let got = value(text, &series);
        ensure!(
            got == expected,
            "{series}: {got}, expected {expected}\n{text}"
        );
    }
    ensure!(
        value(text, "phoneverify_commit_batch_size_count") >= 5.0,
        "group-commit batches counted: {text}"
    );
    ensure!(
        text.contains("phoneverify_db_pool_connections{state=\"idle\"}"),
        "{text}"
    );
    ensure!(text.trim_end().ends_with("# EOF"), "OpenMetrics: {text}");
    // The scrape itself is counted by the next one.
    let again = app.get("/metrics").anonymous().send().await;
    ensure!(
        value(
            &again.text,
            "phoneverify_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}"
        ) == 1.0,
        "{}",
        again.text
    );
    // Nothing secret in the labels.
    ensure!(!text.contains(PHONE_A.trim_start_matches('+')), "{text}");
    Ok(())
}
