//! Durability under group commit: clients hammer resends, the server is killed with SIGKILL mid-storm, and
//! after a restart every resend that was answered 200 is in the store (its sequence is there, and the newest
//! answered code still verifies when nothing later was written). On SQLite, and on Postgres when
//! PHONEVERIFY_TEST_POSTGRES_URL is set (reported as ignored otherwise).

#[path = "support/scratch_db.rs"]
mod scratch_db;
#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libtest_mimic::{Arguments, Trial};
use serde_json::json;
use server::Server;

const USERS: usize = 8;
const STORM: Duration = Duration::from_millis(1500);

fn main() {
    let args = Arguments::from_args();
    let pg = scratch_db::postgres_server();
    let trials = vec![
        Trial::test("sqlite::answered_resends_survive_kill_9", || {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            storm_then_kill(dir.path(), &[]).map_err(Into::into)
        }),
        Trial::test("postgres::answered_resends_survive_kill_9", move || {
            let Some(server) = pg.clone() else {
                return Ok(());
            };
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            scratch_db::with_scratch_database(&server, "pv_kill", |url| {
                storm_then_kill(dir.path(), &[("PHONEVERIFY_DATABASE_URL", url)])
            })
            .map_err(Into::into)
        })
        .with_ignored_flag(std::env::var("PHONEVERIFY_TEST_POSTGRES_URL").is_err()),
    ];
    libtest_mimic::run(&args, trials).exit();
}

/// What a client was told: (sequence, code) of each resend answered 200, per user.
type Answered = Arc<Mutex<Vec<Vec<(i64, String)>>>>;

fn storm_then_kill(dir: &Path, env: &[(&str, &str)]) -> Result<(), String> {
    let mut env = env.to_vec();
    env.extend([
        ("PHONEVERIFY_LIMITS__RESEND_COOLDOWN_SECS", "0"),
        ("PHONEVERIFY_LIMITS__MAX_SENDS_PER_PHONE_PER_DAY", "0"),
    ]);
    let server = Server::start(dir, &env);
    let admin = std::fs::read_to_string(dir.join("data/admin.token")).map_err(|e| e.to_string())?;
    let admin = admin.trim().to_owned();
    let mut users = Vec::new();
    for i in 0..USERS {
        let body = json!({"username": format!("storm{i}"), "profile": {"givenName": "S", "familyName": "T"},
            "email": {"email": format!("storm{i}@example.com")},
            "phone": {"phone": format!("+417912345{i:02}"), "returnCode": {}}});
        let (status, v) = server.http("POST", "/v2/users/human", Some(&admin), Some(body));
        if status != 201 && status != 200 {
            return Err(format!("create user: {status} {v}"));
        }
        users.push(v["userId"].as_str().unwrap_or_default().to_owned());
    }
    let answered: Answered = Arc::new(Mutex::new(vec![Vec::new(); USERS]));
    let stop = Arc::new(AtomicBool::new(false));
    let port = server.port;
    let clients: Vec<_> = users
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let (answered, stop, admin, id) =
                (answered.clone(), stop.clone(), admin.clone(), id.clone());
            std::thread::spawn(move || resend_until_stopped(port, i, &id, &admin, &answered, &stop))
        })
        .collect();
    std::thread::sleep(STORM);
    server.kill_9();
    stop.store(true, Ordering::SeqCst);
    for c in clients {
        let _ = c.join();
    }
    let answered = answered.lock().map_err(|e| e.to_string())?.clone();
    let total: usize = answered.iter().map(Vec::len).sum();
    if total < USERS {
        return Err(format!(
            "the storm got only {total} answers before the kill"
        ));
    }
    let server = Server::start(dir, &env);
    for (i, id) in users.iter().enumerate() {
        let Some((last_seq, last_code)) = answered[i].iter().max_by_key(|(s, _)| *s).cloned()
        else {
            continue;
        };
        let (status, user) = server.http("GET", &format!("/v2/users/{id}"), Some(&admin), None);
        let stored: i64 = user["details"]["sequence"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or(format!("no sequence for {id}: {status} {user}"))?;
        if stored < last_seq {
            return Err(format!(
                "user {id}: resend {last_seq} was answered 200, but the store ends at {stored}"
            ));
        }
        if stored == last_seq {
            // Nothing after the newest answered resend: its code is the one that must verify.
            let (status, v) = server.http(
                "POST",
                &format!("/v2/users/{id}/phone/verify"),
                Some(&admin),
                Some(json!({"verificationCode": last_code})),
            );
            if status != 200 {
                return Err(format!(
                    "user {id}: newest answered code does not verify: {status} {v}"
                ));
            }
        }
    }
    eprintln!("{total} resends answered before the kill; all found after restart");
    drop(server);
    Ok(())
}

fn resend_until_stopped(
    port: u16,
    user: usize,
    id: &str,
    admin: &str,
    answered: &Answered,
    stop: &AtomicBool,
) {
    let client = Server::attach(port);
    while !stop.load(Ordering::SeqCst) {
        let body = json!({"returnCode": {}});
        let path = format!("/v2/users/{id}/phone/resend");
        let Ok((200, v)) = client.try_http("POST", &path, Some(admin), Some(&body)) else {
            continue;
        };
        let seq = v["details"]["sequence"]
            .as_str()
            .and_then(|s| s.parse().ok());
        let code = v["verificationCode"].as_str().map(str::to_owned);
        if let (Some(seq), Some(code), Ok(mut all)) = (seq, code, answered.lock()) {
            all[user].push((seq, code));
        }
    }
}
