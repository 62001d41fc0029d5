//! The `warden-scripted-model` binary: prints its address, writes the ready file, serves both
//! wire formats, stops on SIGTERM, and refuses a bad script.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use warden_providers::{ModelClient, ProviderKind};

use crate::common::{config, first_turn, one_step_script};

const BINARY: &str = env!("CARGO_BIN_EXE_warden-scripted-model");
const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn prints_its_address_and_serves_both_formats() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("script.json");
    std::fs::write(&script, one_step_script().to_string())?;
    let ready = dir.path().join("ready");
    let mut child = Command::new(BINARY)
        .args(["--listen", "127.0.0.1:0", "--script"])
        .arg(&script)
        .arg("--ready-file")
        .arg(&ready)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(DEADLINE, lines.next_line())
        .await??
        .ok_or_else(|| anyhow::anyhow!("stdout closed before the address"))?;
    let base_url = line
        .strip_prefix("listening on ")
        .ok_or_else(|| anyhow::anyhow!("unexpected first line {line:?}"))?
        .to_owned();
    assert!(base_url.starts_with("http://127.0.0.1:"), "{base_url}");
    assert!(base_url.ends_with("/v1"), "{base_url}");
    assert!(
        !base_url.ends_with(":0/v1"),
        "the real port, not 0: {base_url}"
    );

    // The file is written after the line is printed; poll for it.
    let started = tokio::time::Instant::now();
    let written = loop {
        if let Ok(text) = std::fs::read_to_string(&ready) {
            break text;
        }
        anyhow::ensure!(started.elapsed() < DEADLINE, "no ready file");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(written, base_url);

    for kind in [ProviderKind::OpenAi, ProviderKind::Anthropic] {
        let completion = ModelClient::new(config(kind, &base_url), &crate::common::egress())?
            .complete(&first_turn())
            .await?;
        assert_eq!(completion.tool_calls[0].id, "call_0_0", "{kind}");
    }

    let pid = child
        .id()
        .ok_or_else(|| anyhow::anyhow!("child already exited"))?;
    kill(Pid::from_raw(i32::try_from(pid)?), Signal::SIGTERM)?;
    let status = tokio::time::timeout(DEADLINE, child.wait()).await??;
    assert!(status.success(), "exit after sigterm: {status}");
    Ok(())
}

#[tokio::test]
async fn a_bad_script_is_refused_with_every_problem() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("script.json");
    std::fs::write(
        &script,
        r#"{"final": "x", "faults": [{"turn": 0, "kind": {"status": 200}},
                                     {"turn": 0, "kind": "bad_tool_arguments"}]}"#,
    )?;
    let output = tokio::time::timeout(
        DEADLINE,
        Command::new(BINARY)
            .args(["--listen", "127.0.0.1:0", "--script"])
            .arg(&script)
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("faults[0]"), "{stderr}");
    assert!(stderr.contains("faults[1]"), "{stderr}");
    Ok(())
}
