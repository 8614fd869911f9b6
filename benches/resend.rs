//! `cargo bench --bench resend`: the resend path through the real router and a real database.
//!
//! Each backend is measured in one run against two cheaper requests, so the ratios hold on a noisy machine:
//!   healthz      no auth, no database
//!   get user     JWT check + permission + one indexed read
//!   resend       JWT check + permission + read + one write transaction (returnCode, no SMS)
//!   resend+sms   as resend, plus the encrypted outbox job (sendCode; the worker is not running)
//! Sequential latency (p50/p99) and concurrent throughput (8 tasks). Postgres runs when
//! PHONEVERIFY_TEST_POSTGRES_URL is set. Memory: the process's resident set before and after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use phoneverify::config::Config;
use phoneverify::domain::clock::SystemClock;
use serde_json::{Value, json};
use sqlx::Connection;
use tower::ServiceExt;

const USERS: usize = 50;
const SEQUENTIAL: usize = 1000;
const TASKS: usize = 8;
const PER_TASK: usize = 250;

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        println!("rss at start: {} MiB", rss_mib());
        let dir = tempfile::tempdir()?;
        bench(
            "sqlite",
            &format!("sqlite://{}/bench.db", dir.path().display()),
            dir.path(),
        )
        .await?;
        if let Ok(server) = std::env::var("PHONEVERIFY_TEST_POSTGRES_URL") {
            let db = format!("pv_bench_{:08x}", rand::random::<u32>());
            let mut conn = sqlx::PgConnection::connect(&server).await?;
            sqlx::query(&format!("CREATE DATABASE {db}"))
                .execute(&mut conn)
                .await?;
            let url = format!(
                "{}/{db}",
                server
                    .rsplit_once('/')
                    .map_or(server.as_str(), |(base, _)| base)
            );
            let result = bench("postgres", &url, dir.path()).await;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .execute(&mut conn)
                .await?;
            result?;
        } else {
            println!("postgres: skipped (PHONEVERIFY_TEST_POSTGRES_URL not set)");
        }
        println!(
            "rss at end: {} MiB (peak {} MiB)",
            rss_mib(),
            peak_rss_mib()
        );
        Ok(())
    })
}

async fn bench(name: &str, url: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let mut config = Config::from_toml_overrides(&format!(
        "data_dir = {:?}\n[database]\nmax_connections = 8\n[limits]\nresend_cooldown_secs = 0\nmax_sends_per_phone_per_day = 0",
        dir.join(name)
    ))?;
    config.set_database_url(url);
    let services = phoneverify::build_services(config, Arc::new(SystemClock)).await?;
    let admin = services
        .store
        .instance()
        .await?
        .map(|i| i.admin_user_id)
        .ok_or_else(|| anyhow::anyhow!("the database has no admin"))?;
    let token = services.mint_token(&admin, chrono::Duration::hours(1))?;
    let app = phoneverify::build_app(services.clone());

    let mut users = Vec::new();
    for i in 0..USERS {
        let body = json!({"username": format!("bench{i}"), "profile": {"givenName": "B", "familyName": "N"},
            "email": {"email": format!("bench{i}@x.ch")}, "phone": {"phone": format!("+417912{i:05}"), "returnCode": {}}});
        let v = call(&app, "POST", "/v2/users/human", &token, Some(body)).await?;
        users.push(v["userId"].as_str().unwrap_or_default().to_owned());
    }

    println!("\n== {name} ==");
    println!(
        "{:<12} {:>10} {:>10} {:>12} {:>14}",
        "request", "p50 µs", "p99 µs", "seq req/s", "8 tasks req/s"
    );
    let mut rows = Vec::new();
    for kind in ["healthz", "get user", "resend", "resend+sms"] {
        let (p50, p99, seq) = sequential(&app, kind, &users, &token).await?;
        let conc = concurrent(&app, kind, &users, &token).await?;
        println!("{kind:<12} {p50:>10.0} {p99:>10.0} {seq:>12.0} {conc:>14.0}");
        rows.push((kind, p50, conc));
    }
    let base = rows.iter().find(|r| r.0 == "get user").map_or(1.0, |r| r.1);
    for (kind, p50, _) in &rows {
        println!("p50 {kind} / get user = {:.2}", p50 / base);
    }
    let counts = services.store.job_counts().await?;
    println!(
        "queued SMS jobs: {}; rss now {} MiB",
        counts.pending,
        rss_mib()
    );
    services.store.close().await;
    Ok(())
}

fn request_for(kind: &str, user: &str) -> (&'static str, String, Option<Value>) {
    match kind {
        "healthz" => ("GET", "/healthz".into(), None),
        "get user" => ("GET", format!("/v2/users/{user}"), None),
        "resend" => (
            "POST",
            format!("/v2/users/{user}/phone/resend"),
            Some(json!({"returnCode": {}})),
        ),
        _ => (
            "POST",
            format!("/v2/users/{user}/phone/resend"),
            Some(json!({"sendCode": {}})),
        ),
    }
}

async fn sequential(
    app: &Router,
    kind: &str,
    users: &[String],
    token: &str,
) -> anyhow::Result<(f64, f64, f64)> {
    let mut lat = Vec::with_capacity(SEQUENTIAL);
    let start = Instant::now();
    for i in 0..SEQUENTIAL {
        let (method, path, body) = request_for(kind, &users[i % users.len()]);
        let t = Instant::now();
        call(app, method, &path, token, body).await?;
        lat.push(t.elapsed());
    }
    let total = start.elapsed();
    lat.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    Ok((
        us(lat[lat.len() / 2]),
        us(lat[lat.len() * 99 / 100]),
        SEQUENTIAL as f64 / total.as_secs_f64(),
    ))
}

async fn concurrent(
    app: &Router,
    kind: &str,
    users: &[String],
    token: &str,
) -> anyhow::Result<f64> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (app, users, token, kind) = (
            app.clone(),
            users.to_vec(),
            token.to_owned(),
            kind.to_owned(),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                // Each task works on its own users, as separate clients would.
                let user = &users[(t + i * TASKS) % users.len()];
                let (method, path, body) = request_for(&kind, user);
                call(&app, method, &path, &token, body).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((TASKS * PER_TASK) as f64 / start.elapsed().as_secs_f64())
}

async fn call(
    app: &Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.map(|b| b.to_string()).unwrap_or_default()))?;
    let res = app.clone().oneshot(req).await?;
    let status = res.status();
    let bytes = http_body_util::BodyExt::collect(res.into_body())
        .await?
        .to_bytes();
    anyhow::ensure!(
        status.is_success(),
        "{method} {path}: {status} {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn rss_mib() -> u64 {
    status_kib("VmRSS:") / 1024
}

fn peak_rss_mib() -> u64 {
    status_kib("VmHWM:") / 1024
}
