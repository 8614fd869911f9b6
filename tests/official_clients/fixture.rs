//! The server the scripts call, its SMS gateway, and the callers (tokens) the scripts use.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::gateway::Gateway;
use super::server::{Server, bin};
use super::{Running, Shared, run_setup};

/// Where the server and its SMS gateway listen, and the callers the scripts use.
pub(crate) struct Fixture {
    pub(crate) port: u16,
    /// The server's working directory (removed with `Running`).
    pub(crate) dir: PathBuf,
    pub(crate) gateway: u16,
    pub(crate) org_id: String,
    pub(crate) pat: String,
    /// The same machine user's client secret (its client ID is its user ID) and key file.
    pub(crate) machine_id: String,
    pub(crate) client_secret: String,
    pub(crate) key_file: PathBuf,
    pub(crate) cli_token: String,
    pub(crate) self_user_id: String,
    pub(crate) self_token: String,
}

impl Fixture {
    /// Starts the gateway and the server (kept in `shared.running`) and makes the callers.
    pub(crate) fn start(shared: &Shared) -> Result<Fixture, String> {
        // The server helpers panic on what they cannot handle; here that is a setup error like any other.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Self::try_start(shared)))
            .unwrap_or_else(|panic| {
                let text = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                Err(format!("panicked: {text}"))
            })
    }

    pub(crate) fn try_start(shared: &Shared) -> Result<Fixture, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let gateway = Gateway::start()?;
        let url = format!("http://127.0.0.1:{gateway}/sms");
        let server = Server::start(
            dir.path(),
            &[
                ("PHONEVERIFY_SMS__PROVIDER", "webhook"),
                ("PHONEVERIFY_SMS__WEBHOOK__URL", &url),
                ("PHONEVERIFY_LIMITS__RESEND_COOLDOWN_SECS", "0"),
                ("PHONEVERIFY_LIMITS__MAX_SENDS_PER_PHONE_PER_DAY", "0"),
            ],
        );
        let admin = server.admin_token();
        // Any 2xx: the spec says 201 for the creates, the REST routes answer 200 so far.
        let call = |method: &str, path: &str, body: Option<Value>| {
            let (status, answer) = server.http(method, path, Some(&admin), body.clone());
            if (200..300).contains(&status) {
                Ok(answer)
            } else {
                Err(format!(
                    "{method} {path} {}: HTTP {status} {answer}",
                    body.unwrap_or_default()
                ))
            }
        };
        let field = |answer: &Value, pointer: &str| {
            answer
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(format!("no {pointer} in {answer}"))
        };
        let me = call("GET", "/auth/v1/users/me", None)?;
        let org_id = field(&me, "/user/details/resourceOwner")?;
        let human = |username: &str| {
            let body = json!({
                "username": username,
                "profile": {"givenName": "Grace", "familyName": "Hopper"},
                "email": {"email": format!("{username}@example.com")},
            });
            field(&call("POST", "/v2/users/human", Some(body))?, "/userId")
        };
        let user_manager = |user_id: &str| {
            let body = json!({"userId": user_id, "roles": ["ORG_USER_MANAGER"]});
            call("POST", "/management/v1/orgs/me/members", Some(body)).map(drop)
        };
        let mint = |user_id: &str| {
            run_setup(
                bin()
                    .current_dir(dir.path())
                    .args(["token", "--user-id", user_id]),
            )
            .map(|t| t.trim().to_owned())
        };

        let body = json!({"userName": "official-clients", "name": "Official clients"});
        let machine = field(
            &call("POST", "/management/v1/users/machine", Some(body))?,
            "/userId",
        )?;
        user_manager(&machine)?;
        let path = format!("/management/v1/users/{machine}/pats");
        let pat = field(&call("POST", &path, Some(json!({})))?, "/token")?;
        let path = format!("/management/v1/users/{machine}/secret");
        let client_secret = field(&call("PUT", &path, Some(json!({})))?, "/clientSecret")?;
        let path = format!("/management/v1/users/{machine}/keys");
        let key_details = field(
            &call("POST", &path, Some(json!({"type": "KEY_TYPE_JSON"})))?,
            "/keyDetails",
        )?;
        let key_file = dir.path().join("machine-key.json");
        use base64::Engine;
        let key_json = base64::engine::general_purpose::STANDARD
            .decode(key_details)
            .map_err(|e| e.to_string())?;
        std::fs::write(&key_file, key_json).map_err(|e| e.to_string())?;

        let manager = human("cli-manager")?;
        user_manager(&manager)?;
        let cli_token = mint(&manager)?;

        let self_user_id = human("self-service")?;
        let self_token = mint(&self_user_id)?;

        let fixture = Fixture {
            port: server.port,
            dir: dir.path().to_owned(),
            gateway,
            org_id,
            pat,
            machine_id: machine.clone(),
            client_secret,
            key_file,
            cli_token,
            self_user_id,
            self_token,
        };
        let mut running = shared.running.lock().map_err(|e| e.to_string())?;
        *running = Some(Running { server, _dir: dir });
        Ok(fixture)
    }
}
