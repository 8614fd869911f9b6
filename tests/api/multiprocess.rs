//! Two server processes on one database, hammering resend for the same users: no duplicate or missing
//! sequence, no lost event, no conflict left to the client, and no SMS job sent twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::json;

use crate::check_eq;
use crate::helpers::Backend;
use crate::server::Server;

crate::suite!(multiprocess;
    two_processes_hammering_resend_stay_consistent, the_daily_cap_holds_across_processes,
    the_org_budget_holds_across_processes,
);

/// Processes on one database share its master key (each would otherwise generate its own in its data dir).
const SHARED_MASTER_KEY: &str = "c2hhcmVkIG1hc3RlciBrZXkgb2YgdGhlIDIgcHJvY3M=";

const USERS: usize = 4;
const THREADS: usize = 6;
const REQUESTS_PER_THREAD: usize = 20;

async fn two_processes_hammering_resend_stay_consistent(b: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = b
        .url()
        .unwrap_or_else(|| format!("sqlite://{}/shared.db", dir.path().display()));
    // Both start at once: they race for the bootstrap and the key material, and must agree.
    let (p1, p2) = {
        // Send limits off: this test is about concurrency, and hammers the same users on purpose.
        let env = [
            ("PHONEVERIFY_DATABASE_URL", url.as_str()),
            ("PHONEVERIFY_MASTER_KEY", SHARED_MASTER_KEY),
            ("PHONEVERIFY_LIMITS__RESEND_COOLDOWN_SECS", "0"),
            ("PHONEVERIFY_LIMITS__MAX_SENDS_PER_PHONE_PER_DAY", "0"),
        ];
        std::thread::scope(|s| {
            let a = s.spawn(|| Server::start(&dir.path().join("p1"), &env));
            let b = s.spawn(|| Server::start(&dir.path().join("p2"), &env));
            (a.join(), b.join())
        })
    };
    let (p1, p2) = (
        p1.map_err(|_| anyhow::anyhow!("p1 failed"))?,
        p2.map_err(|_| anyhow::anyhow!("p2 failed"))?,
    );
    let token = p1.admin_token();
    check_eq!(server_subject(&token), server_subject(&p2.admin_token()));
    check_eq!(
        p2.http("GET", "/auth/v1/users/me", Some(&token), None).0,
        200
    );

    let mut users = Vec::new();
    for i in 0..USERS {
        let (status, body) = p1.http("POST", "/v2/users/human", Some(&token), Some(json!({
            "username": format!("u{i}"), "profile": {"givenName": "G", "familyName": "F"},
            "email": {"email": format!("u{i}@x.ch")}, "phone": {"phone": format!("+4179123450{i}"), "returnCode": {}}
        })));
        check_eq!(status, 201);
        users.push(body["userId"].as_str().context("userId")?.to_owned());
    }

    let servers = Arc::new([p1, p2]);
    let users = Arc::new(users);
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (servers, users, token) = (servers.clone(), users.clone(), token.clone());
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                for r in 0..REQUESTS_PER_THREAD {
                    let server = &servers[(t + r) % 2];
                    let user = &users[(t * 7 + r) % USERS];
                    let (status, _) = server.resend(&token, user, json!({"sendCode": {}}));
                    statuses.push((user.clone(), status));
                }
                statuses
            })
        })
        .collect();
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    for h in handles {
        for (user, status) in h
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))?
        {
            if status != 200 {
                let logs: String = servers.iter().map(|s| s.log_text()).collect();
                let interesting: Vec<&str> = logs
                    .lines()
                    .filter(|l| l.contains("WARN") || l.contains("ERROR") || l.contains("unique"))
                    .collect();
                anyhow::bail!(
                    "a resend answered {status}; server warnings:\n{}",
                    interesting.join("\n")
                );
            }
            *accepted.entry(user).or_default() += 1;
        }
    }

    // Let both workers drain the outbox.
    let store = phoneverify::store::connect(&url, 2, Duration::from_secs(5)).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.job_counts().await?.pending > 0 {
        anyhow::ensure!(Instant::now() < deadline, "jobs still pending after 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let mut sent_events = 0;
    for user in users.iter() {
        let events = store.events(user).await?;
        let sequences: Vec<i64> = events.iter().map(|e| e.sequence).collect();
        check_eq!(sequences, (1..=events.len() as i64).collect::<Vec<_>>());
        let added = events
            .iter()
            .filter(|e| e.event_type == "user.human.phone.code.added")
            .count();
        check_eq!(added, 1 + accepted.get(user).copied().unwrap_or(0));
        let mut sent: Vec<i64> = events
            .iter()
            .filter(|e| e.event_type == "user.human.phone.code.sent")
            .filter_map(|e| e.payload.as_ref().and_then(|p| p["codeSequence"].as_i64()))
            .collect();
        let n = sent.len();
        sent.sort_unstable();
        sent.dedup();
        check_eq!(sent.len(), n); // no code was sent twice
        anyhow::ensure!(n >= 1, "the user's latest code was delivered");
        sent_events += n;
    }
    let counts = store.job_counts().await?;
    check_eq!(counts.sent as usize, sent_events);
    // Every job was settled. A code that found the user's previous one still queued rewrote that job, so
    // there are at most as many jobs as accepted codes.
    check_eq!((counts.pending, counts.failed), (0, 0));
    anyhow::ensure!(
        (counts.sent + counts.dropped) as usize <= THREADS * REQUESTS_PER_THREAD,
        "more jobs than codes: {counts:?}"
    );
    store.close().await;

    let servers = Arc::try_unwrap(servers).map_err(|_| anyhow::anyhow!("servers still shared"))?;
    let mut sms_lines = 0;
    for server in servers {
        let (status, log) = server.terminate();
        anyhow::ensure!(status.success(), "exit {status:?}");
        sms_lines += log
            .lines()
            .filter(|l| l.contains("SMS (log provider)"))
            .count();
    }
    check_eq!(sms_lines, sent_events);
    Ok(())
}

fn server_subject(token: &str) -> String {
    crate::server::subject_of(token)
}

/// Two processes, many clients, one number with a cap of 5: exactly 5 sends get through, whichever process
/// takes them; every other request answers 429.
async fn the_daily_cap_holds_across_processes(b: Backend) -> Result<()> {
    const CAP: usize = 5;
    let dir = tempfile::tempdir()?;
    let url = b
        .url()
        .unwrap_or_else(|| format!("sqlite://{}/shared.db", dir.path().display()));
    let cap = CAP.to_string();
    let env = [
        ("PHONEVERIFY_DATABASE_URL", url.as_str()),
        ("PHONEVERIFY_MASTER_KEY", SHARED_MASTER_KEY),
        ("PHONEVERIFY_LIMITS__RESEND_COOLDOWN_SECS", "0"),
        (
            "PHONEVERIFY_LIMITS__MAX_SENDS_PER_PHONE_PER_DAY",
            cap.as_str(),
        ),
    ];
    let p1 = Server::start(&dir.path().join("p1"), &env);
    let p2 = Server::start(&dir.path().join("p2"), &env);
    let token = p1.admin_token();
    let (status, body) = p1.http(
        "POST",
        "/v2/users/human",
        Some(&token),
        Some(json!({
            "username": "capped", "profile": {"givenName": "G", "familyName": "F"},
            "email": {"email": "capped@x.ch"}, "phone": {"phone": "+41791234599", "returnCode": {}}
        })),
    );
    check_eq!(status, 201);
    let user = body["userId"].as_str().context("userId")?.to_owned();
    let servers = Arc::new([p1, p2]);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (servers, user, token) = (servers.clone(), user.clone(), token.clone());
            std::thread::spawn(move || {
                (0..4)
                    .map(|r| servers[(t + r) % 2].resend(&token, &user, json!({})).0)
                    .collect::<Vec<u16>>()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for h in handles {
        statuses.extend(
            h.join()
                .map_err(|_| anyhow::anyhow!("client thread panicked"))?,
        );
    }
    check_eq!(statuses.iter().filter(|s| **s == 200).count(), CAP);
    check_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        statuses.len() - CAP
    );
    let store = phoneverify::store::connect(&url, 1, Duration::from_secs(5)).await?;
    let added = store
        .events(&user)
        .await?
        .iter()
        .filter(|e| e.event_type == "user.human.phone.code.added")
        .count();
    check_eq!(added, 1 + CAP);
    store.close().await;
    Ok(())
}

/// Two processes, eight users of one organization resending at once, a budget of 5 SMS a day for the
/// organization: exactly 5 get through, whichever process and user; the rest answer 429 with the budget's ID.
async fn the_org_budget_holds_across_processes(b: Backend) -> Result<()> {
    const BUDGET: usize = 5;
    let dir = tempfile::tempdir()?;
    let url = b
        .url()
        .unwrap_or_else(|| format!("sqlite://{}/shared.db", dir.path().display()));
    let budget = BUDGET.to_string();
    let env = [
        ("PHONEVERIFY_DATABASE_URL", url.as_str()),
        ("PHONEVERIFY_MASTER_KEY", SHARED_MASTER_KEY),
        ("PHONEVERIFY_LIMITS__RESEND_COOLDOWN_SECS", "0"),
        ("PHONEVERIFY_LIMITS__MAX_SENDS_PER_PHONE_PER_DAY", "0"),
        (
            "PHONEVERIFY_LIMITS__MAX_SMS_PER_ORG_PER_DAY",
            budget.as_str(),
        ),
    ];
    let p1 = Server::start(&dir.path().join("p1"), &env);
    let p2 = Server::start(&dir.path().join("p2"), &env);
    let token = p1.admin_token();
    let mut users = Vec::new();
    for i in 0..8 {
        let (status, body) = p1.http("POST", "/v2/users/human", Some(&token), Some(json!({
            "username": format!("b{i}"), "profile": {"givenName": "G", "familyName": "F"},
            "email": {"email": format!("b{i}@x.ch")}, "phone": {"phone": format!("+4179123460{i}"), "returnCode": {}}
        })));
        check_eq!(status, 201);
        users.push(body["userId"].as_str().context("userId")?.to_owned());
    }
    let servers = Arc::new([p1, p2]);
    let handles: Vec<_> = users
        .into_iter()
        .enumerate()
        .map(|(t, user)| {
            let (servers, token) = (servers.clone(), token.clone());
            std::thread::spawn(move || {
                (0..2)
                    .map(|r| {
                        let (status, body) = servers[(t + r) % 2].resend(&token, &user, json!({}));
                        (status, body["details"][0]["id"].as_str().map(String::from))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut answers = Vec::new();
    let mut users_sent_to = 0;
    for h in handles {
        let user_answers = h
            .join()
            .map_err(|_| anyhow::anyhow!("client thread panicked"))?;
        users_sent_to += usize::from(user_answers.iter().any(|(s, _)| *s == 200));
        answers.extend(user_answers);
    }
    check_eq!(answers.iter().filter(|(s, _)| *s == 200).count(), BUDGET);
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
    check_eq!(refused.len(), answers.len() - BUDGET);
    for (status, id) in refused {
        check_eq!((*status, id.as_deref()), (429, Some("PHONE-0rgBd")));
    }
    let store = phoneverify::store::connect(&url, 1, Duration::from_secs(5)).await?;
    // The servers' workers may have delivered some already: every job counts, whatever its state. A user's
    // second code may have rewritten their first job while it was queued: at least one job per user, at most
    // one per accepted code.
    let jobs = store.job_counts().await?;
    let all = (jobs.pending + jobs.sent + jobs.failed + jobs.dropped) as usize;
    anyhow::ensure!(
        (users_sent_to..=BUDGET).contains(&all),
        "{all} jobs for {users_sent_to} users and {BUDGET} codes"
    );
    store.close().await;
    Ok(())
}
