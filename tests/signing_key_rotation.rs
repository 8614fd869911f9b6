//! `phoneverify signing-key rotate` against a running server: tokens signed before and after both work, the
//! running server learns the new key from the first token it signed, the JWKS lists both keys, and a restart
//! keeps it so.

#[path = "support/server.rs"]
mod server;

use server::Server;

fn kids(jwks: &serde_json::Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn run(dir: &std::path::Path, args: &[&str]) -> String {
    let out = server::bin().current_dir(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_rotated_key_signs_new_tokens_and_the_old_one_keeps_verifying() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let before = server.admin_token();
    let (_, jwks) = server.http("GET", "/oauth/v2/keys", None, None);
    let old_kids = kids(&jwks);
    assert_eq!(old_kids.len(), 1);
    let (_, me) = server.http("GET", "/auth/v1/users/me", Some(&before), None);
    let admin = me["user"]["id"].as_str().unwrap().to_owned();

    let printed = run(dir.path(), &["signing-key", "rotate"]);
    assert!(printed.contains(&old_kids[0]), "{printed}");
    let after = run(dir.path(), &["token", "--user-id", &admin])
        .trim()
        .to_owned();
    assert_ne!(server::kid_of(&after), server::kid_of(&before));

    // The running server has not seen the new key yet; the first token it signed makes it look.
    for token in [&after, &before] {
        let (status, body) = server.http("GET", "/auth/v1/users/me", Some(token), None);
        assert_eq!(status, 200, "{body}");
    }
    let (_, jwks) = server.http("GET", "/oauth/v2/keys", None, None);
    let both = kids(&jwks);
    assert_eq!(both.len(), 2, "{jwks}");
    assert!(both.contains(&old_kids[0]) && both.contains(&server::kid_of(&after)));
    drop(server);

    let server = Server::start(dir.path(), &[]);
    for token in [&after, &before] {
        assert_eq!(
            server.http("GET", "/auth/v1/users/me", Some(token), None).0,
            200
        );
    }
    // Tokens the restarted server mints carry the new key.
    let minted = run(dir.path(), &["token", "--user-id", &admin])
        .trim()
        .to_owned();
    assert_eq!(server::kid_of(&minted), server::kid_of(&after));
}
