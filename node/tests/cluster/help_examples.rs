//! Every example in `wardenctl --help` runs: the help's examples block, taken from the
//! real binary, runs as one bash script against a fresh one-node cluster (started, not
//! yet initialized), in a directory holding the cluster's `ca.pem` and `bootstrap-token`
//! as the examples name them, with HOME there too (for `~/.openai-key`). The one
//! substitution: the example addresses (10.0.0.1:7400, 10.0.0.2:7400) become the node's.
//! The provider points at the real OpenAI API, which this machine cannot reach: the task
//! fails, and `task watch` ends with it.

use std::path::PathBuf;
use std::time::Duration;

use crate::common::{WARDEN, settings};
use warden_local_cluster::LocalCluster;

const WAIT: Duration = Duration::from_secs(120);

/// The lines of `--help` under its "Examples" heading, up to the first blank line.
fn examples(help: &str) -> String {
    help.split_once("\nExamples")
        .and_then(|(_, rest)| rest.split_once(":\n"))
        .map(|(_, rest)| rest.split("\n\n").next().unwrap_or_default().to_owned())
        .expect("an Examples block in --help")
}

#[tokio::test]
async fn every_wardenctl_help_example_runs() {
    let wardenctl = PathBuf::from(WARDEN).with_file_name("wardenctl");
    let help = std::process::Command::new(&wardenctl)
        .arg("--help")
        .output()
        .expect("wardenctl --help");
    assert!(help.status.success());
    let examples = examples(&String::from_utf8_lossy(&help.stdout));
    assert!(examples.lines().count() > 10, "{examples}");

    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(
        WARDEN,
        dir.path().join("cluster"),
        settings(&[("egress.allow", "[\"loopback\"]")]),
    );
    cluster.start_node(1).await.expect("start node 1");
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::copy(cluster.ca_path().expect("TLS"), work.join("ca.pem")).expect("ca.pem");
    std::fs::copy(cluster.bootstrap_token_path(), work.join("bootstrap-token"))
        .expect("bootstrap-token");
    std::fs::write(work.join(".openai-key"), "sk-example\n").expect("the API key file");

    let endpoint = cluster.endpoint(1).expect("node 1");
    let script = examples
        .replace("10.0.0.1:7400,10.0.0.2:7400", &endpoint)
        .replace("10.0.0.1:7400", &endpoint);
    let bin = wardenctl.parent().expect("the binaries' directory");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut command = tokio::process::Command::new("bash");
    command
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(&work)
        .env("HOME", &work)
        .env("PATH", path)
        .kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("WARDEN_") {
            command.env_remove(name);
        }
    }
    let output = tokio::time::timeout(WAIT, command.output())
        .await
        .expect("the examples finish")
        .expect("run bash");
    assert!(
        output.status.success(),
        "the examples failed ({}):\n{script}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    for made in [".warden-admin-token", "alice.token", "audit.jsonl"] {
        let len = std::fs::metadata(work.join(made))
            .map(|meta| meta.len())
            .unwrap_or(0);
        assert!(len > 0, "the examples did not write {made}");
    }
    cluster.stop_all().await.expect("stop the cluster");
}
