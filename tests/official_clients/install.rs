//! The pinned clients, installed once per run from the project's own files, and the tools they need.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{clients_dir, run_setup};

/// `tool --version`, or a message saying the tool is needed.
pub(crate) fn require_tool(tool: &str, for_what: &str) -> Result<String, String> {
    let out = Command::new(tool).arg("--version").output().map_err(|e| {
        format!("`{tool}` is needed to run {for_what} and could not be started ({e}); install it (CI has it)")
    })?;
    if !out.status.success() {
        return Err(format!("`{tool} --version` failed: {}", out.status));
    }
    let text = [out.stdout, out.stderr].concat();
    Ok(String::from_utf8_lossy(&text).trim().to_owned())
}

/// Installs `contents`-pinned dependencies into `target` with `install`, unless `stamp` says the same contents
/// were installed there already.
pub(crate) fn install_once(
    target: &Path,
    stamp: &Path,
    contents: &str,
    install: impl FnOnce() -> Result<(), String>,
) -> Result<(), String> {
    if std::fs::read_to_string(stamp).is_ok_and(|s| s == contents) {
        return Ok(());
    }
    install()?;
    std::fs::create_dir_all(target).map_err(|e| e.to_string())?;
    std::fs::write(stamp, contents).map_err(|e| format!("{}: {e}", stamp.display()))
}

/// The virtualenv's python with the pinned `zitadel-client` in it.
pub(crate) fn install_python() -> Result<PathBuf, String> {
    require_tool("python3", "the Python client (zitadel-client)")?;
    let requirements = clients_dir().join("python/requirements.txt");
    let contents = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("{}: {e}", requirements.display()))?;
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clients/venv");
    let python = venv.join("bin/python");
    install_once(
        &venv,
        &venv.join(".installed-requirements"),
        &contents,
        || {
            if venv.exists() {
                std::fs::remove_dir_all(&venv).map_err(|e| format!("{}: {e}", venv.display()))?;
            }
            run_setup(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
            run_setup(
                Command::new(&python)
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
            Ok(())
        },
    )?;
    Ok(python)
}

/// `node`, with tests/clients/node/node_modules installed from package-lock.json.
pub(crate) fn install_node() -> Result<PathBuf, String> {
    let version = require_tool(
        "node",
        "the Node.js clients (@zitadel/client, @zitadel/node)",
    )?;
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or(format!("cannot read the version of node: {version:?}"))?;
    if major < 20 {
        return Err(format!(
            "node {version} is too old for the Node.js clients; 20 or newer is needed"
        ));
    }
    require_tool("npm", "`npm ci` for the Node.js clients")?;
    let dir = clients_dir().join("node");
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| format!("{}/{name}: {e}", dir.display()))
    };
    let contents = read("package.json")? + &read("package-lock.json")?;
    let modules = dir.join("node_modules");
    install_once(
        &modules,
        &modules.join(".installed-lock"),
        &contents,
        || {
            // Install scripts are not needed by these packages (protobufjs's only checks its CLI's versions).
            run_setup(
                Command::new("npm")
                    .current_dir(&dir)
                    .args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
                    .args(["--loglevel", "error"]),
            )
            .map(drop)
        },
    )?;
    Ok(PathBuf::from("node"))
}
