//! The master key through the real binary: the first start generates `data/master.key` (0600) and the
//! database holds its keys only sealed with it; a start with another key is refused, naming the master key;
//! a database whose keys an earlier version kept in clear is sealed on the next start and keeps its keys.

#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;
use phoneverify::master_key::MasterKey;
use server::Server;

const SECRETS: [&str; 3] = ["signing_key.es256.pkcs8", "code_hmac_key", "sms_job_key"];

fn database(dir: &Path) -> String {
    format!("sqlite://{}/data/phoneverify.db", dir.display())
}

/// The stored values of the secrets, as the database holds them.
fn stored(dir: &Path) -> Vec<String> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = phoneverify::store::connect(&database(dir), 1, Duration::from_secs(5))
            .await
            .unwrap();
        let mut values = Vec::new();
        for name in SECRETS {
            // An existing secret is returned as stored; the candidate is not written.
            values.push(
                store
                    .secret(name, "unused", DateTime::UNIX_EPOCH)
                    .await
                    .unwrap(),
            );
        }
        store.close().await;
        values
    })
}

/// Runs `serve` expecting it to exit at once; its exit success and log.
fn failed_start(dir: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let log = dir.join("refused.log");
    let mut cmd = server::bin();
    cmd.current_dir(dir)
        .env(
            "PHONEVERIFY_LISTEN",
            format!("127.0.0.1:{}", server::free_port()),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started although it should not have");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status.success(), std::fs::read_to_string(log).unwrap())
}

/// A first start in a new directory, stopped again: the directory and the admin token it wrote.
fn first_start() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let token = server.admin_token();
    drop(server);
    (dir, token)
}

/// A start that opens the stored keys: `token`, signed before, still authenticates.
fn start_accepting(dir: &Path, token: &str) -> Server {
    let server = Server::start(dir, &[]);
    let (status, _) = server.http("GET", "/auth/v1/users/me", Some(token), None);
    assert_eq!(status, 200);
    server
}

/// The master key the first start generated.
fn generated_key(dir: &Path) -> MasterKey {
    let text = std::fs::read_to_string(dir.join("data/master.key")).unwrap();
    MasterKey::from_base64(&text, "file".into()).unwrap()
}

#[test]
fn the_database_holds_its_keys_sealed_with_the_master_key() {
    let (dir, token) = first_start();
    let key_file = dir.path().join("data/master.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let master = generated_key(dir.path());
    let values = stored(dir.path());
    for (name, value) in SECRETS.iter().zip(&values) {
        assert!(MasterKey::is_sealed(value), "{name} is stored sealed");
        let plain = master.open(name, value).unwrap();
        // The database file alone does not hold the key in any form.
        let raw = std::fs::read(dir.path().join("data/phoneverify.db")).unwrap();
        let wal = std::fs::read(dir.path().join("data/phoneverify.db-wal")).unwrap_or_default();
        let clear = STANDARD.encode(&plain);
        for bytes in [&raw, &wal] {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain.as_slice())
                    && !bytes.windows(clear.len()).any(|w| w == clear.as_bytes()),
                "{name} appears in clear in the database files"
            );
        }
    }

    // Another key cannot open them: the start is refused and says why.
    let other = STANDARD.encode([9u8; 32]);
    let (ok, log) = failed_start(dir.path(), &[("PHONEVERIFY_MASTER_KEY", &other)]);
    assert!(!ok);
    assert!(
        log.contains("cannot be opened with the master key from PHONEVERIFY_MASTER_KEY"),
        "{log}"
    );
    assert!(!log.contains(&other), "the key is not logged");
    // Without the key file there is no way in either (a new key would be generated, and refused).
    std::fs::rename(&key_file, dir.path().join("master.key.bak")).unwrap();
    let (ok, log) = failed_start(dir.path(), &[]);
    assert!(!ok && log.contains("master key"), "{log}");
    std::fs::remove_file(&key_file).unwrap();
    std::fs::rename(dir.path().join("master.key.bak"), &key_file).unwrap();

    // With its own key it starts, and the earlier token still works: the keys are the same.
    start_accepting(dir.path(), &token);
}

#[test]
fn keys_an_earlier_version_kept_in_clear_are_sealed_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let token = server.admin_token();
    drop(server);
    // Make the database look like an earlier version's: the same keys, in clear base64.
    let master = generated_key(dir.path());
    let sealed = stored(dir.path());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = phoneverify::store::connect(&database(dir.path()), 1, Duration::from_secs(5))
            .await
            .unwrap();
        for (name, value) in SECRETS.iter().zip(&sealed) {
            let clear = STANDARD.encode(master.open(name, value).unwrap());
            store.replace_secret(name, value, &clear).await.unwrap();
        }
        store.close().await;
    });
    assert!(stored(dir.path()).iter().all(|v| !MasterKey::is_sealed(v)));

    let server = start_accepting(dir.path(), &token);
    drop(server);
    for (name, value) in SECRETS.iter().zip(stored(dir.path())) {
        assert!(
            MasterKey::is_sealed(&value),
            "{name} is sealed after the upgrade"
        );
    }
}
