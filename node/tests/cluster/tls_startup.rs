//! A node fails closed: without its TLS files it refuses to start unless told to run
//! insecure (and then says so loudly); with another node's certificate, or a key others
//! can read, it refuses too.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::common::quoted;
use tokio::process::Command;

use warden_local_cluster::LocalCluster;
use warden_tls::Ca;

/// A node that should refuse to start has this long to exit; one that starts after all
/// is killed when the wait ends, and the test fails instead of hanging.
const EXIT_WAIT: Duration = Duration::from_secs(60);

async fn serve(dir: &std::path::Path, settings: &[(&str, String)]) -> (bool, String) {
    let mut command = Command::new(crate::common::WARDEN);
    command
        .arg("serve")
        .args(["--node-id", "1", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("WARDEN_TLS_INSECURE")
        .kill_on_drop(true);
    for (key, value) in settings {
        command.arg("--set").arg(format!("{key}={value}"));
    }
    let output = tokio::time::timeout(EXIT_WAIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("warden serve still runs after {EXIT_WAIT:?}"))
        .expect("run warden serve");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test]
async fn a_node_without_tls_files_or_with_the_wrong_ones_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (started, output) = serve(dir.path(), &[]).await;
    assert!(!started, "{output}");
    assert!(
        output.contains("tls.ca_file, tls.cert_file, tls.key_file must be set"),
        "{output}"
    );

    let ca = Ca::generate("test").expect("ca");
    ca.write(dir.path()).expect("write ca");
    ca.issue_node(2, &["127.0.0.1".to_owned()])
        .expect("issue")
        .write(dir.path(), "node-2")
        .expect("write node 2");
    let files = |stem: &str| {
        vec![
            ("tls.ca_file", quoted(&dir.path().join("ca.pem"))),
            (
                "tls.cert_file",
                quoted(&dir.path().join(format!("{stem}.pem"))),
            ),
            (
                "tls.key_file",
                quoted(&dir.path().join(format!("{stem}.key"))),
            ),
        ]
    };
    let (started, output) = serve(dir.path(), &files("node-2")).await;
    assert!(!started, "{output}");
    assert!(
        output.contains("is node 2's certificate, but this is node 1"),
        "{output}"
    );

    ca.issue_node(1, &["127.0.0.1".to_owned()])
        .expect("issue")
        .write(dir.path(), "node-1")
        .expect("write node 1");
    let key = dir.path().join("node-1.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (started, output) = serve(dir.path(), &files("node-1")).await;
    assert!(!started, "{output}");
    assert!(output.contains("chmod 600"), "{output}");
}

#[tokio::test]
async fn an_insecure_node_starts_only_when_told_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(crate::common::WARDEN, dir.path(), Vec::new());
    cluster.insecure();
    cluster
        .bootstrap(1)
        .await
        .expect("an insecure one-node cluster");
    let log = std::fs::read_to_string(cluster.log_path(1)).expect("log");
    assert!(log.contains("INSECURE"), "{log}");
    cluster
        .client()
        .expect("client")
        .cluster_status()
        .await
        .expect("plain-text clients reach an insecure node");
    cluster.stop_all().await.expect("stop");
}
