//! ZITADEL's official clients against the real binary: the Python SDK `zitadel-client` (Connect JSON), the npm
//! `@zitadel/client` (connect-es) over gRPC, gRPC-web, Connect JSON and Connect binary, and the npm
//! `@zitadel/node` (nice-grpc) on the v2beta user service, auth v1 and management v1. Each trial runs one script
//! under tests/clients/ that drives the phone flow and prints what it checked; the trial passes when the script
//! exits 0 having printed "all checks passed". Two more trials take the REST API as users of our OpenAPI
//! document do: a client generated from the served /openapi.json with openapi-python-client, and one with
//! openapi-typescript + openapi-fetch (type-checked by tsc), each driving the README's walk-through.
//!
//! The clients are installed at pinned versions from the project's own files, once per run and only again when
//! those files change: a virtualenv under target/tmp/clients/venv from tests/clients/python/requirements.txt
//! (`pip install --require-hashes`), and `npm ci` in tests/clients/node (package-lock.json). python3, node (20 or
//! newer) and npm must be on PATH; without them the trials fail and say so.
//!
//! One server serves all trials: SMS go to a webhook gateway this test runs, which also lists the codes it got,
//! so the scripts can verify codes that were sent rather than returned. The resend cooldown and the daily cap are
//! off, so that the flows can resend at once; each trial has its own users and numbers.

#[path = "../support/server.rs"]
mod server;

mod fixture;
mod gateway;
mod install;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};
use server::Server;

use fixture::Fixture;
use install::{install_node, install_python};

/// How long one script may take, installs not included.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(90);

#[derive(Clone, Copy)]
enum Runtime {
    Python,
    Node,
}

/// Which token a script calls with.
#[derive(Clone, Copy)]
enum Token {
    /// A personal access token of a machine user with ORG_USER_MANAGER.
    Pat,
    /// `phoneverify token --user-id` for a human user with ORG_USER_MANAGER.
    Cli,
    /// The machine user's client secret, through the SDK's client credentials sign-in.
    ClientSecret,
    /// The machine user's key file, through the SDK's private key (JWT profile) sign-in.
    KeyFile,
}

struct Client {
    name: &'static str,
    runtime: Runtime,
    /// The script under tests/clients/<runtime>/ and its arguments.
    script: &'static str,
    args: &'static [&'static str],
    token: Token,
}

const CLIENTS: &[Client] = &[
    Client {
        name: "generated_python_client::rest_walkthrough",
        runtime: Runtime::Python,
        script: "generated_rest.py",
        args: &[],
        token: Token::Pat,
    },
    Client {
        name: "generated_typescript_client::rest_walkthrough",
        runtime: Runtime::Node,
        script: "generated_rest.mjs",
        args: &[],
        token: Token::Pat,
    },
    Client {
        name: "python_zitadel_client::user_v2_connect_json_with_pat",
        runtime: Runtime::Python,
        script: "flow.py",
        args: &[],
        token: Token::Pat,
    },
    Client {
        name: "python_zitadel_client::user_v2_connect_json_with_cli_token",
        runtime: Runtime::Python,
        script: "flow.py",
        args: &[],
        token: Token::Cli,
    },
    Client {
        name: "python_zitadel_client::user_v2_with_client_credentials",
        runtime: Runtime::Python,
        script: "flow.py",
        args: &[],
        token: Token::ClientSecret,
    },
    Client {
        name: "python_zitadel_client::user_v2_with_private_key",
        runtime: Runtime::Python,
        script: "flow.py",
        args: &[],
        token: Token::KeyFile,
    },
    Client {
        name: "npm_zitadel_client::user_v2_grpc",
        runtime: Runtime::Node,
        script: "zitadel_client.mjs",
        args: &["grpc"],
        token: Token::Pat,
    },
    Client {
        name: "npm_zitadel_client::user_v2_grpc_web",
        runtime: Runtime::Node,
        script: "zitadel_client.mjs",
        args: &["grpc-web"],
        token: Token::Pat,
    },
    Client {
        name: "npm_zitadel_client::user_v2_connect_json_http1",
        runtime: Runtime::Node,
        script: "zitadel_client.mjs",
        args: &["connect-json-http1"],
        token: Token::Pat,
    },
    Client {
        name: "npm_zitadel_client::user_v2_connect_binary_http2",
        runtime: Runtime::Node,
        script: "zitadel_client.mjs",
        args: &["connect-binary-http2"],
        token: Token::Pat,
    },
    Client {
        name: "npm_zitadel_node::user_v2beta_grpc",
        runtime: Runtime::Node,
        script: "zitadel_node.mjs",
        args: &["user-v2beta"],
        token: Token::Pat,
    },
    Client {
        name: "npm_zitadel_node::auth_v1_grpc_own_token",
        runtime: Runtime::Node,
        script: "zitadel_node.mjs",
        args: &["auth-v1"],
        token: Token::Pat,
    },
    Client {
        name: "npm_zitadel_node::management_v1_grpc_with_orgid",
        runtime: Runtime::Node,
        script: "zitadel_node.mjs",
        args: &["management-v1"],
        token: Token::Pat,
    },
];

/// What the trials share, each part made by the first trial that needs it.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) python: OnceLock<Result<PathBuf, String>>,
    pub(crate) node: OnceLock<Result<PathBuf, String>>,
    pub(crate) fixture: OnceLock<Result<Fixture, String>>,
    /// The server process and its directory, taken and stopped by `main` once the trials are done.
    pub(crate) running: Mutex<Option<Running>>,
}

pub(crate) struct Running {
    // Declared before `dir`: the server stops before its directory is removed.
    pub(crate) server: Server,
    pub(crate) _dir: tempfile::TempDir,
}

impl Shared {
    fn server_log(&self) -> String {
        match self.running.lock() {
            Ok(running) => running
                .as_ref()
                .map(|r| r.server.log_text())
                .unwrap_or_default(),
            Err(_) => String::new(),
        }
    }
}

fn main() {
    let args = Arguments::from_args();
    let shared = Arc::new(Shared::default());
    // With --nocapture a passing trial shows what its script checked.
    let show = args.nocapture;
    let trials = CLIENTS
        .iter()
        .enumerate()
        .map(|(index, client)| {
            let shared = shared.clone();
            Trial::test(client.name, move || {
                run_client(&shared, index, client, show)
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(&args, trials);
    // `exit` runs no destructors: stop the server here.
    if let Ok(mut running) = shared.running.lock() {
        drop(running.take());
    }
    conclusion.exit();
}

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients")
}

fn run_client(shared: &Shared, index: usize, client: &Client, show: bool) -> Result<(), Failed> {
    let interpreter = match client.runtime {
        Runtime::Python => shared.python.get_or_init(install_python).clone()?,
        Runtime::Node => shared.node.get_or_init(install_node).clone()?,
    };
    let fixture = shared
        .fixture
        .get_or_init(|| Fixture::start(shared))
        .as_ref()
        .map_err(|e| format!("setting up the server: {e}"))?;

    let dir = clients_dir().join(match client.runtime {
        Runtime::Python => "python",
        Runtime::Node => "node",
    });
    let (auth, token) = match client.token {
        Token::Pat => ("token", fixture.pat.as_str()),
        Token::Cli => ("token", fixture.cli_token.as_str()),
        Token::ClientSecret => ("client_credentials", ""),
        Token::KeyFile => ("private_key", ""),
    };
    // Two numbers per trial, valid Swiss mobile numbers (+41 79 …) no other trial uses.
    let phone = |k: usize| format!("+417955{index:02}{k:03}");
    let mut cmd = Command::new(&interpreter);
    cmd.current_dir(&dir)
        .arg(dir.join(client.script))
        .args(client.args)
        .env("PV_URL", format!("http://127.0.0.1:{}", fixture.port))
        .env("PV_AUTH", auth)
        .env("PV_TOKEN", token)
        .env("PV_CLIENT_ID", &fixture.machine_id)
        .env("PV_CLIENT_SECRET", &fixture.client_secret)
        .env("PV_KEY_FILE", &fixture.key_file)
        .env("PV_ORG_ID", &fixture.org_id)
        .env("PV_NAME", format!("client-{index}"))
        .env("PV_PHONE_A", phone(1))
        .env("PV_PHONE_B", phone(2))
        .env(
            "PV_SMS_URL",
            format!("http://127.0.0.1:{}", fixture.gateway),
        )
        .env("PV_SELF_USER_ID", &fixture.self_user_id)
        .env("PV_SELF_TOKEN", &fixture.self_token)
        // authlib warns about its own deprecated module when zitadel-client imports it: noise in a failure.
        .env("PYTHONWARNINGS", "ignore::DeprecationWarning");
    let label = [client.script]
        .iter()
        .chain(client.args)
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let (ok, output) = run_with_timeout(&mut cmd, &fixture.dir.join(format!("trial-{index}")))
        .map_err(|e| format!("{label}: {e}"))?;
    if ok && output.stdout.trim_end().ends_with("all checks passed") {
        if show {
            // One print: the block stays together among the other trials' output.
            print!("---- {} ({label}) ----\n{}", client.name, output.stdout);
        }
        return Ok(());
    }
    let log = shared.server_log();
    let tail: Vec<&str> = log.lines().rev().take(40).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!(
        "{label}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- server log (last 40 lines) ---\n{}",
        output.status,
        output.stdout,
        output.stderr,
        tail.join("\n")
    )
    .into())
}

struct Output {
    status: String,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` with its output in files under `dir`; kills it after SCRIPT_TIMEOUT.
fn run_with_timeout(cmd: &mut Command, dir: &Path) -> Result<(bool, Output), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let (out_path, err_path) = (dir.join("stdout"), dir.join("stderr"));
    let file = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file(&out_path)?)
        .stderr(file(&err_path)?)
        .spawn()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let (ok, status) = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break (status.success(), status.to_string());
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break (false, format!("killed after {SCRIPT_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    Ok((
        ok,
        Output {
            status,
            stdout: read(&out_path),
            stderr: read(&err_path),
        },
    ))
}

/// Runs a setup command; its stdout when it succeeds, everything it said otherwise.
fn run_setup(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
