//! A Postgres that goes away: requests answer 14 UNAVAILABLE (503) quickly, and the service recovers by itself
//! when the database returns. Runs its own throwaway cluster (initdb on a free port) so that it can stop and
//! start it; needs the PostgreSQL server binaries and PHONEVERIFY_TEST_POSTGRES_URL set (the switch for all
//! Postgres tests). Reported as ignored otherwise.

#[path = "support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Trial};
use serde_json::json;
use server::{Server, free_port};

fn main() {
    let args = Arguments::from_args();
    let enabled = std::env::var("PHONEVERIFY_TEST_POSTGRES_URL").is_ok_and(|v| !v.is_empty());
    let trial = Trial::test("postgres::outage_answers_503_and_recovers", || {
        outage_answers_503_and_recovers().map_err(Into::into)
    })
    .with_ignored_flag(!enabled);
    libtest_mimic::run(&args, vec![trial]).exit();
}

/// A throwaway cluster owned by the `postgres` user when we run as root (initdb refuses root).
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn create(root: &Path) -> Result<Self, String> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .map_err(|e| format!("PostgreSQL server binaries not found: {e}"))?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|p| p.join("initdb").exists())
            .ok_or("initdb not found under /usr/lib/postgresql")?;
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout.starts_with(b"0"))
            .unwrap_or(false);
        let data = root.join("pgdata");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        if as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(root))?;
        }
        let cluster = Cluster {
            bin,
            data,
            port: free_port(),
            as_postgres,
        };
        cluster.pg(
            "initdb",
            &["-A", "trust", "-U", "postgres", "-D", &cluster.data_str()],
        )?;
        cluster.start()?;
        Ok(cluster)
    }

    fn data_str(&self) -> String {
        self.data.display().to_string()
    }

    fn pg(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        run(cmd.args(args))
    }

    fn start(&self) -> Result<(), String> {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.data_str()
        );
        let log = self.data.join("server.log").display().to_string();
        self.pg(
            "pg_ctl",
            &[
                "-D",
                &self.data_str(),
                "-o",
                &opts,
                "-l",
                &log,
                "-w",
                "start",
            ],
        )
    }

    fn stop(&self) -> Result<(), String> {
        self.pg(
            "pg_ctl",
            &["-D", &self.data_str(), "-m", "immediate", "-w", "stop"],
        )
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn ensure(cond: bool, msg: impl Into<String>) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg.into()) }
}

fn outage_answers_503_and_recovers() -> Result<(), String> {
    let root = tempfile::tempdir().map_err(|e| e.to_string())?;
    let cluster = Cluster::create(root.path())?;
    let work = root.path().join("work");
    let server = Server::start(
        &work,
        &[
            ("PHONEVERIFY_DATABASE_URL", &cluster.url()),
            ("PHONEVERIFY_DATABASE__ACQUIRE_TIMEOUT_SECS", "2"),
        ],
    );
    let token = &server.admin_token();
    let (status, body) = server.http("POST", "/v2/users/human", Some(token), Some(json!({
        "username": "ada", "profile": {"givenName": "A", "familyName": "L"}, "email": {"email": "ada@x.ch"},
        "phone": {"phone": "+41791234567", "returnCode": {}}
    })));
    ensure(status == 201, format!("create user: {status} {body}"))?;
    let id = body["userId"].as_str().unwrap_or_default().to_owned();
    ensure(
        server.http("GET", "/readyz", None, None).0 == 200,
        "ready before the outage",
    )?;

    cluster.stop()?;
    let started = Instant::now();
    let (status, body) = server.resend(token, &id, json!({"returnCode": {}}));
    let took = started.elapsed();
    ensure(
        status == 503 && body["code"] == 14,
        format!("during the outage: {status} {body}"),
    )?;
    ensure(
        took < Duration::from_secs(8),
        format!("answered in {took:?}, not quickly"),
    )?;
    ensure(
        !body
            .to_string()
            .to_lowercase()
            .contains("connection refused"),
        format!("driver detail leaked: {body}"),
    )?;
    let (status, _) = server.http("GET", "/readyz", None, None);
    ensure(status == 503, format!("readyz during the outage: {status}"))?;
    ensure(
        server.http("GET", "/healthz", None, None).0 == 200,
        "the process itself stays alive",
    )?;

    cluster.start()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.resend(token, &id, json!({"returnCode": {}}));
        if status == 200 {
            ensure(
                body["verificationCode"].is_string(),
                "a code after recovery",
            )?;
            break;
        }
        ensure(
            Instant::now() < deadline,
            format!("not recovered after 30 s: {status} {body}"),
        )?;
        std::thread::sleep(Duration::from_millis(250));
    }
    ensure(
        server.http("GET", "/readyz", None, None).0 == 200,
        "ready again",
    )?;
    let (status, log) = server.terminate();
    ensure(status.success(), format!("exit {status:?}: {log}"))
}
