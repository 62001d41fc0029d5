//! Helpers shared by the integration tests: the ledger server binary, the Python servers,
//! process checks and polling with a deadline.
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use tokio::{
    io::{AsyncBufReadExt, BufReader},
    time::Instant,
};
use warden_mcp::ServerSpec;

pub const LEDGER_TOOLS: &str = env!("CARGO_BIN_EXE_warden-ledger-tools");
pub const CONNECT: Duration = Duration::from_secs(20);
pub const CALL: Duration = Duration::from_secs(20);

/// The ledger server over stdio, writing to `ledger`, with `extra` arguments.
pub fn ledger_spec_with(ledger: &Path, extra: &[&str]) -> ServerSpec {
    let mut args = vec!["--ledger".to_owned(), ledger.display().to_string()];
    args.extend(extra.iter().map(|arg| (*arg).to_owned()));
    ServerSpec::Stdio {
        command: LEDGER_TOOLS.to_owned(),
        args,
        env: BTreeMap::new(),
        secret_env: Default::default(),
        read_paths: vec![],
        // The ledger, its key-value file and the directory it fsyncs.
        write_paths: ledger.parent().map(Path::to_path_buf).into_iter().collect(),
    }
}

pub fn ledger_spec(ledger: &Path) -> ServerSpec {
    ledger_spec_with(ledger, &[])
}

/// Tool arguments from a JSON object literal.
pub fn args(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match value {
        serde_json::Value::Object(map) => map,
        other => panic!("tool arguments must be an object, got {other}"),
    }
}

/// True while `pid` is a live process (a zombie counts as dead).
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z') | Some('X') | None)
}

pub fn kill(pid: u32) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("pid fits i32"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).expect("kill the server");
}

/// Polls `condition` every 20 ms until it holds, failing the test after `within`.
pub async fn wait_for(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Python MCP server installed by scripts/python-tools.sh. Missing is a failure, not a skip.
/// What a confined Python server installed in a virtualenv must read: the virtualenv and
/// the installation its interpreter links to.
pub fn python_read_paths(tool: &Path) -> Vec<PathBuf> {
    let venv = tool
        .parent()
        .and_then(Path::parent)
        .expect("a virtualenv's bin/ entry");
    let interpreter = venv
        .join("bin")
        .join("python")
        .canonicalize()
        .expect("the virtualenv's interpreter");
    let installation = interpreter
        .parent()
        .and_then(Path::parent)
        .expect("an interpreter in a bin/ directory");
    vec![venv.to_owned(), installation.to_owned()]
}

pub fn python_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("WARDEN_PYTHON_TOOLS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/warden-python-tools"));
    let path = venv.join("bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/python-tools.sh to install the Python MCP test servers",
        path.display()
    );
    path
}

/// The ledger server serving streamable HTTP on a free port; killed when dropped.
pub struct HttpLedgerServer {
    pub url: String,
    pub child: tokio::process::Child,
}

impl HttpLedgerServer {
    pub async fn start(ledger: &Path, ready_file: &Path) -> HttpLedgerServer {
        HttpLedgerServer::start_with(ledger, ready_file, &[]).await
    }

    /// Like `start`, with `extra` arguments.
    pub async fn start_with(
        ledger: &Path,
        ready_file: &Path,
        extra: &[String],
    ) -> HttpLedgerServer {
        let mut child = tokio::process::Command::new(LEDGER_TOOLS)
            .arg("--ledger")
            .arg(ledger)
            .args(["--http", "127.0.0.1:0", "--ready-file"])
            .arg(ready_file)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start warden-ledger-tools --http");
        let stdout = child.stdout.take().expect("piped stdout");
        let line = tokio::time::timeout(CONNECT, BufReader::new(stdout).lines().next_line())
            .await
            .expect("the server announces its address in time")
            .expect("read stdout")
            .expect("a line on stdout");
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        HttpLedgerServer { url, child }
    }
}

/// The egress policy of these tests: their HTTP servers listen on loopback.
pub fn egress() -> warden_egress::Policy {
    warden_egress::Policy::allowing([warden_egress::Allow::Class(warden_egress::Class::Loopback)])
}
