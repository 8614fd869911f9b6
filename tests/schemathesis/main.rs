//! schemathesis against the real binary: the OpenAPI document served at `/openapi.json` drives generated
//! requests (NUL and the hostile strings of `hooks.py` included), authenticated as the instance admin, and
//! every answer must pass `not_a_server_error`, `response_schema_conformance`, `status_code_conformance` and
//! `content_type_conformance`. On SQLite, and on Postgres when PHONEVERIFY_TEST_POSTGRES_URL is set (reported
//! as ignored otherwise).
//!
//! schemathesis is installed at the versions pinned (with hashes) in `requirements.txt`, into a virtual
//! environment under `target/tmp/schemathesis` (needs python3 and PyPI). Each backend gets
//! `PHONEVERIFY_SCHEMATHESIS_SECS` seconds of generation (default 60); the seed is random unless
//! `PHONEVERIFY_SCHEMATHESIS_SEED` is set, and a failure prints it so the run can be replayed.

#[path = "../support/scratch_db.rs"]
mod scratch_db;
#[path = "../support/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Trial};
use server::Server;

const CHECKS: &str = "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance";
/// Fewer generated cases than this means schemathesis did not really run (a broken document, say).
const MIN_CASES: u64 = 300;

fn main() {
    let args = Arguments::from_args();
    let pg = scratch_db::postgres_server();
    let trials = vec![
        Trial::test("sqlite::schemathesis_finds_nothing", || {
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            run_against_server(dir.path(), &[]).map_err(Into::into)
        }),
        Trial::test("postgres::schemathesis_finds_nothing", move || {
            let Some(server) = pg.clone() else {
                return Ok(());
            };
            let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
            scratch_db::with_scratch_database(&server, "pv_st", |url| {
                run_against_server(dir.path(), &[("PHONEVERIFY_DATABASE_URL", url)])
            })
            .map_err(Into::into)
        })
        .with_ignored_flag(std::env::var("PHONEVERIFY_TEST_POSTGRES_URL").is_err()),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis")
}

fn run_against_server(dir: &Path, env: &[(&str, &str)]) -> Result<(), String> {
    let schemathesis = install()?;
    let server = Server::start(dir, env);
    let token = server.admin_token();
    let secs = std::env::var("PHONEVERIFY_SCHEMATHESIS_SECS").unwrap_or_else(|_| "60".into());
    let seed = std::env::var("PHONEVERIFY_SCHEMATHESIS_SEED")
        .unwrap_or_else(|_| (rand::random::<u32>() >> 1).to_string());
    let report = dir.join("schemathesis.log");
    let out = Command::new(&schemathesis)
        .current_dir(dir)
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", here())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .args([
            "run",
            &format!("http://127.0.0.1:{}/openapi.json", server.port),
        ])
        .args(["--checks", CHECKS])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        // One worker: with two threads, CPython 3.11's `ast.parse` (which hypothesis calls to describe its
        // strategies) can fail with "AST constructor recursion depth mismatch", a crash of the tool itself.
        .args(["--max-time", &secs, "--seed", &seed, "--workers", "1"])
        .args(["--generation-allow-x00", "true"])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--request-timeout", "20"])
        .output()
        .map_err(|e| format!("cannot start schemathesis: {e}"))?;
    let text = String::from_utf8_lossy(&[out.stdout, out.stderr].concat()).into_owned();
    let _ = std::fs::write(&report, &text);
    let log = server.log_text();
    drop(server);
    if !out.status.success() {
        return Err(format!(
            "schemathesis failed (seed {seed}, {}):\n{}\n--- server log (last lines) ---\n{}",
            out.status,
            tail(&text, 200),
            tail(&log, 40)
        ));
    }
    let cases = generated_cases(&text).ok_or(format!(
        "no \"N generated\" line in schemathesis's output:\n{}",
        tail(&text, 60)
    ))?;
    if cases < MIN_CASES {
        return Err(format!(
            "schemathesis generated only {cases} cases:\n{}",
            tail(&text, 60)
        ));
    }
    if log.contains("panicked") {
        return Err(format!("the server panicked:\n{}", tail(&log, 40)));
    }
    eprintln!("schemathesis: {cases} cases, no failure (seed {seed})");
    Ok(())
}

/// The count in schemathesis's closing "Test cases: N generated, N passed" line.
fn generated_cases(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (n, rest) = l.trim().split_once(' ')?;
        rest.starts_with("generated").then(|| n.parse().ok())?
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    // Long generated strings make single lines huge; cut each so the failure stays readable.
    all[all.len().saturating_sub(lines)..]
        .iter()
        .map(|l| l.chars().take(400).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The virtual environment's `schemathesis`, installed from `requirements.txt` unless the same file was
/// installed there before.
fn install() -> Result<PathBuf, String> {
    let requirements = here().join("requirements.txt");
    let pinned = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("{}: {e}", requirements.display()))?;
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schemathesis/venv");
    let stamp = venv.join(".installed-requirements");
    let exe = venv.join("bin/schemathesis");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == pinned) && exe.exists() {
        return Ok(exe);
    }
    // Two trials may get here at once; a lock file keeps the second from installing over the first.
    let _lock = InstallLock::take(&venv.with_extension("lock"))?;
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == pinned) && exe.exists() {
        return Ok(exe);
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv).map_err(|e| format!("{}: {e}", venv.display()))?;
    }
    run_setup(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    run_setup(
        Command::new(venv.join("bin/python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-input", "--require-hashes", "-r"])
            .arg(&requirements),
    )?;
    std::fs::write(&stamp, pinned).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(exe)
}

fn run_setup(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e} (python3 is needed)"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{cmd:?} failed: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// An exclusive lock on a file created for it; released (removed) on drop. A lock older than ten minutes is
/// taken to be left over from a killed run.
struct InstallLock(PathBuf);

impl InstallLock {
    fn take(path: &Path) -> Result<Self, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => return Ok(InstallLock(path.to_owned())),
                Err(_) if std::time::Instant::now() < deadline => {
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age.as_secs() > 600);
                    if stale {
                        let _ = std::fs::remove_file(path);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
        }
    }
}

impl Drop for InstallLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
