//! Two server processes on one database: what one writes, the other's very next request sees. On SQLite
//! each process answers lookups from rows it keeps in memory; these tests hold that memory to the database
//! when the other process (whose writes it never saw) changes a user.

use anyhow::{Context, Result};
use serde_json::{Value, json};

use crate::check_eq;
use crate::helpers::Backend;
use crate::server::{Server, bin};

crate::suite!(cross_process_reads;
    a_user_deactivated_by_one_process_is_seen_by_the_other_at_once,
);

const SHARED_MASTER_KEY: &str = "b25lIG1hc3RlciBrZXkgZm9yIHR3byBwcm9jZXNzZXM=";

async fn a_user_deactivated_by_one_process_is_seen_by_the_other_at_once(b: Backend) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let url = b
        .url()
        .unwrap_or_else(|| format!("sqlite://{}/shared.db", dir.path().display()));
    let env = [
        ("PHONEVERIFY_DATABASE_URL", url.as_str()),
        ("PHONEVERIFY_MASTER_KEY", SHARED_MASTER_KEY),
        ("PHONEVERIFY_LIMITS__RESEND_COOLDOWN_SECS", "0"),
    ];
    let p1 = Server::start(&dir.path().join("p1"), &env);
    let p2 = Server::start(&dir.path().join("p2"), &env);
    let admin = p1.admin_token();

    // A user manager with a phone, and a token of their own.
    let (status, body) = p1.http("POST", "/v2/users/human", Some(&admin), Some(json!({
        "username": "grace", "profile": {"givenName": "Grace", "familyName": "Hopper"},
        "email": {"email": "grace@example.com"}, "phone": {"phone": "+41791234501", "returnCode": {}}
    })));
    check_eq!(status, 201);
    let grace = body["userId"].as_str().context("userId")?.to_owned();
    let members = json!({"userId": grace, "roles": ["ORG_USER_MANAGER"]});
    let (status, _) = p1.http(
        "POST",
        "/management/v1/orgs/me/members",
        Some(&admin),
        Some(members),
    );
    check_eq!(status, 200);
    let out = bin()
        .current_dir(dir.path().join("p1"))
        .env("PHONEVERIFY_DATABASE_URL", &url)
        .env("PHONEVERIFY_MASTER_KEY", SHARED_MASTER_KEY)
        .args(["token", "--user-id", &grace])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?.trim().to_owned();

    // p1 reads grace as caller and as target, and writes (its own commits keep its memory current).
    let user_path = format!("/v2/users/{grace}");
    for _ in 0..3 {
        check_eq!(p1.http("GET", &user_path, Some(&token), None).0, 200);
        check_eq!(p1.resend(&token, &grace, json!({"returnCode": {}})).0, 200);
    }
    check_eq!(
        state(&p1.http("GET", &user_path, Some(&admin), None).1),
        "USER_STATE_ACTIVE"
    );

    // p2 deactivates her: p1's next answer knows, as target and as caller.
    let deactivate = format!("/v2/users/{grace}/deactivate");
    check_eq!(
        p2.http("POST", &deactivate, Some(&admin), Some(json!({})))
            .0,
        200
    );
    check_eq!(
        state(&p1.http("GET", &user_path, Some(&admin), None).1),
        "USER_STATE_INACTIVE"
    );
    let (status, body) = p1.resend(&token, &grace, json!({"returnCode": {}}));
    anyhow::ensure!(
        status == 401 || status == 403,
        "a deactivated caller was answered {status}: {body}"
    );

    // p1 writes again (the first commit after p2's resets its memory), p2 reactivates, p1 sees it.
    check_eq!(p1.resend(&admin, &grace, json!({"returnCode": {}})).0, 200);
    let reactivate = format!("/v2/users/{grace}/reactivate");
    check_eq!(
        p2.http("POST", &reactivate, Some(&admin), Some(json!({})))
            .0,
        200
    );
    check_eq!(p1.resend(&token, &grace, json!({"returnCode": {}})).0, 200);
    check_eq!(
        state(&p1.http("GET", &user_path, Some(&token), None).1),
        "USER_STATE_ACTIVE"
    );

    // The phone code p2 sees is the one p1 issued last.
    let (_, on_p1) = p1.http("GET", &user_path, Some(&admin), None);
    let (_, on_p2) = p2.http("GET", &user_path, Some(&admin), None);
    check_eq!(on_p1["details"]["sequence"], on_p2["details"]["sequence"]);
    Ok(())
}

fn state(user: &Value) -> String {
    user["user"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
