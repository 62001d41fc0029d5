//! A node fails closed: without its TLS files it refuses to start unless told to run
//! insecure (and then says so loudly); with another node's certificate, or a key others
//! can read, it refuses too.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use warden_local_cluster::LocalCluster;
use warden_tls::Ca;

fn serve(dir: &std::path::Path, settings: &[(&str, String)]) -> (bool, String) {
    let mut command = Command::new(common::WARDEN);
    command
        .arg("serve")
        .args(["--node-id", "1", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("WARDEN_TLS_INSECURE");
    for (key, value) in settings {
        command.arg("--set").arg(format!("{key}={value}"));
    }
    let output = command.output().expect("run warden serve");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

fn quoted(path: &std::path::Path) -> String {
    serde_json::to_string(&path.display().to_string()).expect("quote")
}

#[test]
fn a_node_without_tls_files_or_with_the_wrong_ones_does_not_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (started, output) = serve(dir.path(), &[]);
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
    let (started, output) = serve(dir.path(), &files("node-2"));
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
    let (started, output) = serve(dir.path(), &files("node-1"));
    assert!(!started, "{output}");
    assert!(output.contains("chmod 600"), "{output}");
}

#[tokio::test]
async fn an_insecure_node_starts_only_when_told_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(common::WARDEN, dir.path(), Vec::new());
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
