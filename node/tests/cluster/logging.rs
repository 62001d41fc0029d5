//! A node logs plain text without colour escapes when its output is not a terminal (a
//! file, a collector), and one JSON object per line with `--log-format json`.

use crate::common::{WARDEN, settings};
use warden_local_cluster::{LocalCluster, Started};

#[tokio::test]
async fn logs_are_plain_text_off_a_terminal_or_json_lines_on_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cluster = LocalCluster::new(WARDEN, dir.path(), settings(&[]));
    cluster.start_node(1).await.expect("start node 1");
    let json = [("WARDEN_LOG_FORMAT".to_owned(), "json".to_owned())];
    match cluster.launch(2, &json).await.expect("launch node 2") {
        Started::Ready(_) => {}
        Started::Exited(status) => panic!(
            "node 2 exited: {status}\n{}",
            warden_local_cluster::tail(&cluster.log_path(2), 20)
        ),
    }
    // Stopped, each has written its last line ("stopping").
    cluster.stop(1).await.expect("stop node 1");
    cluster.stop(2).await.expect("stop node 2");

    let text = std::fs::read_to_string(cluster.log_path(1)).expect("node 1 log");
    assert!(text.contains("node started"), "{text}");
    assert!(text.contains("stopping"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "escape sequences in a log file:\n{text}"
    );

    let lines = std::fs::read_to_string(cluster.log_path(2)).expect("node 2 log");
    let mut messages = Vec::new();
    for line in lines.lines().filter(|line| !line.trim().is_empty()) {
        let object: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|error| panic!("not a JSON line ({error}): {line}"));
        assert!(object["timestamp"].is_string(), "{line}");
        assert!(object["level"].is_string(), "{line}");
        messages.push(object["message"].as_str().unwrap_or_default().to_owned());
    }
    assert!(
        messages.iter().any(|message| message == "node started"),
        "{lines}"
    );
    let started = lines
        .lines()
        .find(|line| line.contains("node started"))
        .expect("the start line");
    let started: serde_json::Value = serde_json::from_str(started).expect("JSON");
    assert_eq!(
        started["node_id"], 2,
        "fields sit beside the message: {started}"
    );
}
