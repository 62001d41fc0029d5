//! README.md's "Running a cluster by hand" runs as written, every `sh` block of it:
//! `warden dev --with-examples` in the background, then every other command of the first
//! block and the PyPI time server's block, in bash, in order, with the exports `warden
//! dev` printed (each must exit 0, the task must complete and the ledger server must hold
//! what the model asked it to write); and the single node started by hand with TLS,
//! which must become ready (on free ports instead of the block's 7400 and 9400).
//!
//! The commands run in a temporary directory, where `scripts/warden` and
//! `scripts/wardenctl` are shims that run the built binaries: the real scripts build
//! first and change to the repository, so relative paths resolve the same way, but
//! scripts/test built every binary already, with its own features.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::common::WARDEN;
use tokio::io::{AsyncBufReadExt, BufReader};

/// How long `warden dev` may take to print its exports, and one command to finish.
const WAIT: Duration = Duration::from_secs(120);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository")
}

/// The `sh` blocks of README.md's "Running a cluster by hand", each as its commands
/// with continued lines joined.
fn by_hand_blocks() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## Running a cluster by hand\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("README.md has the by-hand section");
    section
        .split("```sh\n")
        .skip(1)
        .map(|rest| {
            let block = rest.split("\n```").next().expect("a closed block");
            let mut commands = Vec::new();
            let mut pending = String::new();
            for line in block.lines() {
                match line.strip_suffix('\\') {
                    Some(continued) => pending.push_str(continued),
                    None => {
                        pending.push_str(line);
                        commands.push(std::mem::take(&mut pending));
                    }
                }
            }
            commands
        })
        .collect()
}

/// `text` without a trailing `# comment` (two spaces or more before the `#`).
fn without_comment(text: &str) -> &str {
    text.find("  #").map_or(text, |at| &text[..at]).trim_end()
}

/// Writes `dir/scripts/NAME`, which runs `binary`.
fn shim(dir: &Path, name: &str, binary: &Path) {
    let path = dir.join("scripts").join(name);
    std::fs::create_dir_all(path.parent().expect("scripts/")).expect("mkdir scripts");
    std::fs::write(
        &path,
        format!("#!/bin/sh\nexec '{}' \"$@\"\n", binary.display()),
    )
    .expect("write the shim");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// A loopback address with a port no one listens on now.
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener
        .local_addr()
        .expect("the bound address")
        .to_string()
}

fn terminate(pid: u32) {
    // The process may have ended already; then there is nothing to stop.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
}

/// SIGTERMs a process when dropped, so a failing test still lets `warden dev` or a node
/// stop the processes it started (a SIGKILL, as `kill_on_drop` sends, would orphan them).
struct Terminate(u32);

impl Drop for Terminate {
    fn drop(&mut self) {
        terminate(self.0);
    }
}

/// The scripts README's commands run, as shims in `dir/scripts/`.
fn shims(dir: &Path) {
    let warden = PathBuf::from(WARDEN);
    shim(dir, "warden", &warden);
    shim(dir, "wardenctl", &warden.with_file_name("wardenctl"));
    shim(
        dir,
        "python-tools.sh",
        &repository().join("scripts/python-tools.sh"),
    );
}

/// Runs one README command in bash from `dir` with `exports`; its standard output.
async fn run(dir: &Path, exports: &BTreeMap<String, String>, command: &str) -> String {
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new("bash")
            .args(["-euo", "pipefail", "-c", command])
            .current_dir(dir)
            .envs(exports)
            .env_remove("WARDEN_TOKEN")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .unwrap_or_else(|_| panic!("{command}: still running after {WAIT:?}"))
    .expect("run bash");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{command}: {}\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_by_hand_section_runs_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    shims(dir.path());
    let blocks = by_hand_blocks();
    assert_eq!(blocks.len(), 3, "dev, the time server, one node by itself");
    let (dev_line, first) = blocks[0].split_first().expect("commands");
    let rest: Vec<&String> = first.iter().chain(&blocks[1]).collect();
    assert!(
        dev_line.starts_with("scripts/warden dev ") && dev_line.contains("--with-examples"),
        "the block starts with warden dev --with-examples: {dev_line}"
    );

    // `warden dev` keeps running; its exports are read as it prints them.
    let mut dev = tokio::process::Command::new("bash")
        .args(["-c", &format!("exec {}", without_comment(dev_line))])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start warden dev");
    let _stop_on_panic = Terminate(dev.id().expect("warden dev's pid"));
    let mut printed = BufReader::new(dev.stdout.take().expect("stdout")).lines();
    let mut exports = BTreeMap::new();
    while !exports.contains_key("WARDEN_EXAMPLE_DIR") {
        let line = tokio::time::timeout(WAIT, printed.next_line())
            .await
            .expect("warden dev prints its exports")
            .expect("read warden dev's output")
            .expect("warden dev ended before printing its exports");
        if let Some((name, value)) = line
            .strip_prefix("export ")
            .and_then(|export| export.split_once('='))
        {
            exports.insert(name.to_owned(), value.to_owned());
        }
    }

    let mut task_id: Option<String> = None;
    let mut shown = String::new();
    for command in rest {
        if let Some((name, _)) = command
            .strip_prefix("export ")
            .and_then(|export| export.split_once('='))
        {
            assert!(
                command.contains("# as printed") && exports.contains_key(name),
                "README exports {name}, which warden dev does not print: {exports:?}"
            );
            continue;
        }
        let command = match &task_id {
            Some(id) => command.replace("TASK_ID", id),
            None => command.to_string(),
        };
        let stdout = run(dir.path(), &exports, &command).await;
        if command.contains(" task submit ") {
            task_id = Some(stdout.trim().to_owned());
        }
        if command.contains(" task show ") {
            shown = stdout;
        }
    }

    assert!(task_id.is_some(), "the section submits a task");
    assert!(
        shown.to_lowercase().contains("completed"),
        "the task did not complete: {shown}"
    );
    let ledger =
        std::fs::read_to_string(Path::new(&exports["WARDEN_EXAMPLE_DIR"]).join("acme.jsonl"))
            .expect("the ledger server wrote its file");
    assert!(ledger.contains("hello from warden"), "{ledger}");
    assert!(
        dir.path().join("checkpoints.json").exists(),
        "the checkpoint was saved where the commands ran"
    );

    // Ctrl-C (here SIGTERM) stops the examples and every node.
    terminate(dev.id().expect("warden dev's pid"));
    let mut rest_of_output = Vec::new();
    while let Some(line) = tokio::time::timeout(WAIT, printed.next_line())
        .await
        .expect("warden dev stops")
        .expect("read warden dev's output")
    {
        rest_of_output.push(line);
    }
    let status = dev.wait().await.expect("wait for warden dev");
    assert!(status.success(), "warden dev: {status}");
    assert!(
        rest_of_output
            .iter()
            .any(|line| line == "all nodes stopped"),
        "{rest_of_output:?}"
    );
}

#[tokio::test]
async fn a_single_node_started_by_hand_becomes_ready() {
    let dir = tempfile::tempdir().expect("tempdir");
    shims(dir.path());
    let blocks = by_hand_blocks();
    // The block's fixed ports become free ones, so the test never meets a port in use.
    let mut block = blocks[2].join("\n");
    assert!(
        block.contains("warden serve") && block.contains("/readyz"),
        "the third block starts one node: {block}"
    );
    for port in ["127.0.0.1:7400", "127.0.0.1:9400"] {
        assert!(block.contains(port), "the block uses {port}: {block}");
        block = block.replace(port, &free_address());
    }
    let metrics = block
        .split("--metrics-listen ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the node's metrics address")
        .to_owned();
    // The block as one script; the node it starts in the background stays up until the
    // test signals it, and goes down with the script if a command fails.
    let script = format!(
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\ntrap 'exit 143' TERM\n{block}\necho $! > node.pid\nwait\n"
    );
    let mut shell = tokio::process::Command::new("bash")
        .args(["-c", &script])
        .current_dir(dir.path())
        .env_remove("WARDEN_TOKEN")
        .env_remove("WARDEN_TOKEN_FILE")
        .env_remove("WARDEN_ENDPOINTS")
        .env_remove("WARDEN_CA_FILE")
        .spawn()
        .expect("run the block");
    // The script's EXIT trap stops the node it started.
    let _stop_on_panic = Terminate(shell.id().expect("the script's pid"));
    let pid_file = dir.path().join("node.pid");
    let ready = async {
        warden_local_cluster::probe::eventually("the node to be ready", WAIT, || async {
            if !pid_file.exists() {
                return None;
            }
            let stream = tokio::net::TcpStream::connect(&metrics).await.ok()?;
            let (status, body) = crate::common::http_get_on(stream, "/readyz").await;
            (status == 200 && body.contains("\"ready\":true")).then_some(())
        })
        .await
    };
    tokio::select! {
        () = ready => {}
        status = shell.wait() => panic!("the block ended before its node was ready: {status:?}"),
    }
    assert!(
        dir.path().join("admin.token").exists(),
        "cluster init wrote the admin token"
    );
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("node.pid")
        .trim()
        .parse()
        .expect("a pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("stop the node");
    let status = tokio::time::timeout(WAIT, shell.wait())
        .await
        .expect("the node stops")
        .expect("wait for the block");
    assert!(status.success(), "the node stopped with {status}");
}
