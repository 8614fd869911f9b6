//! A bounded soak against the real binary: several clients send a mix of requests (create users, set phone,
//! resend by SMS and with returnCode, verify with right and wrong codes, remove phone, reads), each checking
//! every answer against its model of its users; then the server is stopped and
//! - every mutation answered with success is in the event log at the sequence it was answered with, and no
//!   event of those kinds is there that was not answered (`check::events_match`);
//! - the projections equal a rebuild from the log (`phoneverify rebuild`).
//!
//! `cargo test` runs a small one (PHONEVERIFY_SOAK_REQUESTS, default 3000, from PHONEVERIFY_SOAK_CLIENTS,
//! default 4, clients, for at most PHONEVERIFY_SOAK_MAX_SECS, default 120); `bench/soak` runs hundreds of
//! thousands against the release build. On SQLite, and on
//! Postgres when PHONEVERIFY_TEST_POSTGRES_URL is set (reported as ignored otherwise).

#[path = "../support/scratch_db.rs"]
mod scratch_db;
#[path = "../support/server.rs"]
mod server;

mod check;
mod client;
mod load;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use libtest_mimic::{Arguments, Trial};
use server::Server;

fn main() {
    let args = Arguments::from_args();
    let pg = scratch_db::postgres_server();
    let trials = vec![
        Trial::test(
            "sqlite::answered_mutations_are_events_and_projections_rebuild_equal",
            || {
                let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
                let url = format!("sqlite://{}/data/phoneverify.db", dir.path().display());
                soak(dir.path(), &url, &[]).map_err(Into::into)
            },
        ),
        Trial::test(
            "postgres::answered_mutations_are_events_and_projections_rebuild_equal",
            move || {
                let Some(server) = pg.clone() else {
                    return Ok(());
                };
                let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
                scratch_db::with_scratch_database(&server, "pv_soak", |url| {
                    soak(dir.path(), url, &[("PHONEVERIFY_DATABASE_URL", url)])
                })
                .map_err(Into::into)
            },
        )
        .with_ignored_flag(std::env::var("PHONEVERIFY_TEST_POSTGRES_URL").is_err()),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn soak(dir: &Path, url: &str, env: &[(&str, &str)]) -> Result<(), String> {
    let requests = setting("PHONEVERIFY_SOAK_REQUESTS", 3000);
    let clients = setting("PHONEVERIFY_SOAK_CLIENTS", 4).max(1);
    // The time bound: clients stop sending at the deadline even if requests are left (the checks still run).
    let max_secs = setting("PHONEVERIFY_SOAK_MAX_SECS", 120);
    let mut env = env.to_vec();
    env.extend([
        // Clients resend to the same users many times a second; the anti-pumping throttles would answer 429.
        ("PHONEVERIFY_LIMITS__RESEND_COOLDOWN_SECS", "0"),
        ("PHONEVERIFY_LIMITS__MAX_SENDS_PER_PHONE_PER_DAY", "0"),
        // One log line per request would be most of the work; problems are still logged.
        ("RUST_LOG", "warn"),
    ]);
    let server = Server::start(dir, &env);
    let token = server.admin_token();
    let port = server.port;
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs(max_secs);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let token = token.clone();
            let share = requests / clients + u64::from(c < requests % clients);
            let seed = rand::random::<u64>();
            std::thread::spawn(move || {
                load::run_client(port, &token, c as usize, share, deadline, seed)
            })
        })
        .collect();
    let mut reports = Vec::new();
    for h in handles {
        reports.push(h.join().map_err(|_| "a client panicked".to_owned())?);
    }
    let elapsed = started.elapsed();
    let (status, log) = server.terminate();
    if !status.success() {
        return Err(format!("server exited with {status}: {}", tail(&log)));
    }
    let mut statuses: BTreeMap<(&str, u16), u64> = BTreeMap::new();
    let (mut sent, mut expected, mut users, mut problems, mut guesses) =
        (0, Vec::new(), Vec::new(), Vec::new(), 0);
    for r in reports {
        sent += r.requests;
        for (k, v) in r.statuses {
            *statuses.entry(k).or_default() += v;
        }
        expected.extend(r.expected);
        users.extend(r.users);
        problems.extend(r.problems);
        guesses += r.failed_guesses;
    }
    eprintln!(
        "soak: {sent} requests from {clients} clients in {:.1} s ({:.0} req/s); {} users; answers by operation:",
        elapsed.as_secs_f64(),
        sent as f64 / elapsed.as_secs_f64(),
        users.len()
    );
    if sent < requests {
        eprintln!(
            "soak: the {max_secs} s deadline stopped the clients after {sent} of {requests} requests"
        );
    }
    for ((op, code), n) in &statuses {
        eprintln!("  {op:<14} {code:>3} {n:>8}");
    }
    if !problems.is_empty() {
        return Err(format!(
            "answers the model did not expect:\n{}",
            problems.join("\n")
        ));
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let checked = runtime.block_on(async {
        let store = phoneverify::store::connect(url, 2, std::time::Duration::from_secs(10))
            .await
            .map_err(|e| e.to_string())?;
        let result = check::events_match(store.as_ref(), &users, &expected, guesses).await;
        store.close().await;
        result
    })?;
    let mut rebuild = server::bin();
    rebuild.current_dir(dir).arg("rebuild");
    for (k, v) in &env {
        rebuild.env(k, v);
    }
    let rebuilt = runtime.block_on(check::rebuild_changes_nothing(url, &mut rebuild))?;
    eprintln!(
        "soak: {} answered mutations and {guesses} failed guesses found among {} events of {} users; \
         projections of {rebuilt} users equal a rebuild",
        expected.len(),
        checked.events,
        checked.users
    );
    if expected.len() < (sent / 4) as usize {
        return Err(format!(
            "only {} mutations succeeded of {sent} requests",
            expected.len()
        ));
    }
    Ok(())
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
