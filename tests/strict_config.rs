//! Settings as operators get them wrong: a misspelled key, an unknown section, a variable with one underscore
//! too few, a missing file, a wrong type, a command run from the wrong directory, a taken port. Each stops the
//! binary with a message that names the problem, and none of them creates a database.

#[path = "support/server.rs"]
mod server;

use std::path::Path;
use std::process::{Command, Output};

use server::bin;

/// Runs `args` in `dir` with `env`; the exit code and stderr.
fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String) {
    let mut cmd: Command = bin();
    cmd.current_dir(dir).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output { status, stderr, .. } = cmd.output().unwrap();
    (status.code(), String::from_utf8_lossy(&stderr).into_owned())
}

fn config_file(dir: &Path, text: &str) -> String {
    let file = dir.join("phoneverify.toml");
    std::fs::write(&file, text).unwrap();
    file.to_str().unwrap().to_owned()
}

#[test]
fn a_misspelled_key_in_the_file_is_named_with_the_setting_it_meant() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "[code]\nlenght = 8\n");
    let (code, err) = run(dir.path(), &[], &["--config", &file, "migrate", "--create"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`code.lenght`"), "{err}");
    assert!(err.contains("did you mean `code.length`"), "{err}");
    assert!(err.contains("phoneverify.toml"), "the file is named: {err}");
    assert!(!dir.path().join("data").exists());
}

#[test]
fn an_unknown_section_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(dir.path(), "[throttle]\nper_day = 3\n");
    let (code, err) = run(dir.path(), &[], &["--config", &file, "migrate", "--create"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`throttle.per_day`"), "{err}");
    assert!(err.contains("is not a setting"), "{err}");
}

#[test]
fn a_variable_with_one_underscore_names_the_right_variable() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = run(
        dir.path(),
        &[("PHONEVERIFY_CODE_LENGTH", "8")],
        &["migrate", "--create"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`PHONEVERIFY_CODE_LENGTH`"), "{err}");
    assert!(
        err.contains("did you mean PHONEVERIFY_CODE__LENGTH (`code.length`)"),
        "{err}"
    );
    assert!(!dir.path().join("data").exists());
}

#[test]
fn roles_and_template_languages_take_names_the_operator_chooses() {
    let dir = tempfile::tempdir().unwrap();
    let file = config_file(
        dir.path(),
        "[roles]\nSUPPORT_DESK = [\"user.read\"]\n[sms.template.languages]\nrm = \"Voss code: {{code}}\"\n",
    );
    let (code, err) = run(
        dir.path(),
        &[("PHONEVERIFY_TEST_POSTGRES_URL", "postgres://ignored")],
        &["--config", &file, "migrate", "--create"],
    );
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_missing_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = run(dir.path(), &[], &["--config", "missing.toml", "migrate"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot read the configuration file missing.toml"),
        "{err}"
    );
}

#[test]
fn a_wrong_type_is_told_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = run(
        dir.path(),
        &[("PHONEVERIFY_CODE__LENGTH", "six")],
        &["migrate", "--create"],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`code.length`"), "{err}");
    assert!(err.contains("expected a whole number"), "{err}");
    assert!(err.contains("(from PHONEVERIFY_CODE__LENGTH)"), "{err}");
    assert!(!err.contains("usize"), "{err}");
}

#[test]
fn commands_never_create_a_database_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["token", "--user-id", "1"][..],
        &["migrate"],
        &["rebuild"],
        &["admin", "reset"],
    ] {
        let (code, err) = run(dir.path(), &[], args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(
            err.contains("no database at data/phoneverify.db"),
            "{args:?}: {err}"
        );
        assert!(!dir.path().join("data").exists(), "{args:?} created data/");
    }
    let (code, err) = run(dir.path(), &[], &["migrate", "--create"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(dir.path().join("data/phoneverify.db").exists());
}

#[test]
fn a_taken_port_stops_start_up_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, err) = run(dir.path(), &[("PHONEVERIFY_LISTEN", &addr)], &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(!dir.path().join("data").exists(), "{err}");
}
