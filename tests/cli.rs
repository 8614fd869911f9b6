//! The binary as an operator runs it: `serve` on a real port, SIGTERM, `migrate`, `token`, `admin reset`,
//! bad settings.

#[path = "support/server.rs"]
mod server;

use std::process::Command;

use serde_json::json;
use server::{Server, bin, subject_of};

#[test]
fn serve_bootstraps_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("PHONEVERIFY_SMS__PROVIDER", "none")]);
    let token_path = dir.path().join("data/admin.token");
    let token = server.admin_token();
    assert!(
        server.log_text().contains("admin.token"),
        "the log names the token file"
    );

    let (status, created) = server.http(
        "POST",
        "/v2/users/human",
        Some(&token),
        Some(json!({"username": "ada", "profile": {"givenName": "Ada", "familyName": "L"}, "email": {"email": "ada@x.ch"},
                    "phone": {"phone": "+41791234567", "returnCode": {}}})),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["userId"].as_str().unwrap();
    let code = created["phoneCode"].as_str().unwrap().to_owned();
    // With no provider, a send is refused rather than dropped.
    let (status, body) = server.resend(&token, id, json!({}));
    assert_eq!((status, body["code"].clone()), (400, json!(9)), "{body}");
    let (status, _) = server.verify(&token, id, "000");
    assert_eq!(status, 400);
    let (status, body) = server.verify(&token, id, &code);
    assert_eq!(status, 200, "{body}");

    let (status, log) = server.terminate();
    assert!(status.success(), "exit status {status:?}: {log}");
    assert!(!log.contains(&code), "the code must not appear in the log");
    assert!(
        !log.contains(&token),
        "the admin token must not appear in the log"
    );

    // A second start reuses the data and the token file.
    let again = Server::start(dir.path(), &[]);
    assert_eq!(std::fs::read_to_string(&token_path).unwrap().trim(), token);
    let (status, body) = again.http("GET", &format!("/v2/users/{id}"), Some(&token), None);
    assert_eq!(status, 200);
    assert_eq!(
        body["user"]["human"]["phone"],
        json!({"phone": "+41791234567", "isVerified": true})
    );
    assert!(again.terminate().0.success());
}

#[test]
fn token_command_issues_tokens_for_active_users_only() {
    let dir = tempfile::tempdir().unwrap();
    let out = succeed(bin().current_dir(dir.path()).args(["migrate", "--create"]));
    assert!(out.contains("up to date"));

    let server = Server::start(dir.path(), &[]);
    let admin_token = server.admin_token();
    assert!(server.terminate().0.success());
    let admin = subject_of(&admin_token);

    let minted =
        succeed(
            bin()
                .current_dir(dir.path())
                .args(["token", "--user-id", &admin, "--ttl", "120"]),
        )
        .trim()
        .to_owned();
    assert_eq!(minted.split('.').count(), 3);
    assert_eq!(subject_of(&minted), admin);

    let server = Server::start(dir.path(), &[]);
    let (status, body) = server.http("GET", "/auth/v1/users/me", Some(&minted), None);
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().0.success());

    let out = bin()
        .current_dir(dir.path())
        .args(["token", "--user-id", "no-such-user"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(out.stdout.is_empty());
}

/// An instance whose owner was deactivated (by a second owner whose credentials are then lost): the next start
/// says the admin token no longer works, and `admin reset` reactivates the owner and writes a working token.
#[test]
fn admin_reset_brings_the_instance_owner_back() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let admin_token = server.admin_token();
    let admin = subject_of(&admin_token);
    let (status, created) = server.http(
        "POST",
        "/v2/users/human",
        Some(&admin_token),
        Some(
            json!({"username": "second", "profile": {"givenName": "S", "familyName": "O"},
                    "email": {"email": "second@example.com"}}),
        ),
    );
    assert_eq!(status, 201, "{created}");
    let second = created["userId"].as_str().unwrap().to_owned();
    let (status, body) = server.http(
        "POST",
        "/admin/v1/members",
        Some(&admin_token),
        Some(json!({"userId": second, "roles": ["IAM_OWNER"]})),
    );
    assert_eq!(status, 200, "{body}");
    let second_token = succeed(
        bin()
            .current_dir(dir.path())
            .args(["token", "--user-id", &second]),
    )
    .trim()
    .to_owned();
    let (status, body) = server.http(
        "POST",
        &format!("/v2/users/{admin}/deactivate"),
        Some(&second_token),
        Some(json!({})),
    );
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().0.success());

    let server = Server::start(dir.path(), &[]);
    assert!(
        server.log_text().contains("no longer works"),
        "a stale admin token is reported: {}",
        server.log_text()
    );
    let (status, _) = server.http("GET", "/auth/v1/users/me", Some(&admin_token), None);
    assert_eq!(status, 401);
    assert!(server.terminate().0.success());

    let out = succeed(bin().current_dir(dir.path()).args(["admin", "reset"]));
    assert!(out.contains("reactivated"), "{out}");
    let server = Server::start(dir.path(), &[]);
    let fresh = server.admin_token();
    assert_ne!(fresh, admin_token);
    let (status, body) = server.http("GET", "/auth/v1/users/me", Some(&fresh), None);
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.http("GET", &format!("/v2/users/{admin}"), Some(&fresh), None);
    assert_eq!(
        body["user"]["state"], "USER_STATE_ACTIVE",
        "{status} {body}"
    );
    assert!(server.terminate().0.success());
}

/// The data directory and every file holding secrets are private, whatever the umask (the test runs with the
/// usual 022, under which SQLite alone would create 0644 files).
#[cfg(unix)]
#[test]
fn secret_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let token = server.admin_token();
    // A write, so that the WAL and shared-memory files exist.
    let (status, body) = server.http(
        "POST",
        "/v2/organizations",
        Some(&token),
        Some(json!({"name": "Acme"})),
    );
    assert_eq!(status, 201, "{body}");
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode("data"), 0o700);
    for file in [
        "data/phoneverify.db",
        "data/phoneverify.db-wal",
        "data/phoneverify.db-shm",
        "data/admin.token",
    ] {
        assert_eq!(mode(file), 0o600, "{file}");
    }
    assert!(server.terminate().0.success());
}

/// Runs a command that must succeed; returns what it printed on stdout.
fn succeed(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_bad_setting_stops_start_up_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &str); 3] = [
        ("PHONEVERIFY_CODE__LENGTH", "six", "length"),
        ("PHONEVERIFY_LISTEN", "nowhere", "listen"),
        ("PHONEVERIFY_SMS__PROVIDER", "pigeon", "provider"),
    ];
    for (key, value, named) in cases {
        let out = bin()
            .current_dir(dir.path())
            .env(key, value)
            .arg("migrate")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{key}: {err}");
    }
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[code]\nexpiry_secs = 0\n").unwrap();
    let out = bin()
        .current_dir(dir.path())
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("code.expiry_secs"));
    // Nothing was created by the refused starts.
    assert!(!dir.path().join("data").exists());
}
