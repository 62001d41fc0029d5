//! README.md's by-hand section runs as written: its first `sh` block's `warden dev
//! --with-examples` runs in the background, then every other command of the block runs
//! in bash, in order, with the exports `warden dev` printed. Each must exit 0, the task
//! must complete and the ledger server must hold what the model asked it to write.
//!
//! `scripts/warden` and `scripts/wardenctl` are replaced by shims that do what those
//! scripts do (change to the repository, run the binary) except building, because
//! scripts/test built every binary already, with its own features. `warden dev` gets a
//! `--data-dir` of the test's own instead of the repository's `.warden-dev`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::WARDEN;
use tokio::io::{AsyncBufReadExt, BufReader};

/// How long `warden dev` may take to print its exports, and one command to finish.
const WAIT: Duration = Duration::from_secs(120);

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .expect("the repository")
}

/// The commands of the first `sh` block under "## Running a cluster by hand", with
/// continued lines joined.
fn by_hand_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repository().join("README.md")).expect("README.md");
    let section = readme
        .split("\n## Running a cluster by hand\n")
        .nth(1)
        .expect("README.md has the by-hand section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("the by-hand section has an sh block");
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
}

/// `text` without a trailing `# comment` (two spaces or more before the `#`).
fn without_comment(text: &str) -> &str {
    text.find("  #").map_or(text, |at| &text[..at]).trim_end()
}

/// Writes `dir/scripts/NAME` running `binary` from the repository, as the real script does.
fn shim(dir: &Path, name: &str, binary: &Path) {
    let path = dir.join("scripts").join(name);
    std::fs::create_dir_all(path.parent().expect("scripts/")).expect("mkdir scripts");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\ncd '{}' && exec '{}' \"$@\"\n",
            repository().display(),
            binary.display()
        ),
    )
    .expect("write the shim");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
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
    let warden = PathBuf::from(WARDEN);
    shim(dir.path(), "warden", &warden);
    shim(dir.path(), "wardenctl", &warden.with_file_name("wardenctl"));
    let commands = by_hand_commands();
    let (dev_line, rest) = commands.split_first().expect("commands");
    assert!(
        dev_line.starts_with("scripts/warden dev ") && dev_line.contains("--with-examples"),
        "the block starts with warden dev --with-examples: {dev_line}"
    );

    // `warden dev` keeps running; its exports are read as it prints them.
    let data_dir = dir.path().join("dev");
    let mut dev = tokio::process::Command::new("bash")
        .args([
            "-c",
            &format!(
                "exec {} --data-dir '{}'",
                without_comment(dev_line),
                data_dir.display()
            ),
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start warden dev");
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
            None => command.clone(),
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
    let pid = dev.id().expect("warden dev's pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal warden dev");
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
