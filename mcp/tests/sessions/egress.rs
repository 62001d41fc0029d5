//! The node's egress policy on HTTP MCP sessions: an IP literal in a refused class, or a
//! name that resolves to one (`localhost`), is refused before anything is sent, through a
//! bare session and through the supervised sessions; a capture listener on loopback sees
//! no connection. With loopback allowed, the same name reaches the server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::common::{CALL, CONNECT, HttpLedgerServer};
use tokio::task::JoinHandle;
use warden_egress::Policy;
use warden_mcp::{Error, McpSession, Secret, ServerSpec, SessionOptions, ToolSessions};

/// Counts the connections made to it; aborted when dropped.
struct Capture {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Capture {
    async fn start() -> Capture {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the capture listener");
        let addr = listener.local_addr().expect("capture address");
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((_connection, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        Capture {
            addr,
            accepted,
            task,
        }
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn http(url: String) -> ServerSpec {
    ServerSpec::Http {
        url,
        bearer_token: Some(Secret::new("bearer-that-must-not-leave".to_owned())),
    }
}

fn assert_refused(result: Result<impl std::fmt::Debug, Error>, expected: &str) {
    match result {
        Err(error @ Error::Egress { .. }) => {
            let shown = error.to_string();
            assert!(shown.contains(expected), "{shown}");
            assert!(shown.contains("egress.allow"), "{shown}");
        }
        other => panic!("expected an egress refusal naming {expected:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn internal_addresses_and_names_resolving_to_them_are_refused() {
    let capture = Capture::start().await;
    let port = capture.addr.port();
    let cases = [
        (
            format!("http://127.0.0.1:{port}/mcp"),
            "egress to 127.0.0.1 refused: loopback",
        ),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/mcp"),
            "egress to ::ffff:127.0.0.1 refused: loopback",
        ),
        (
            format!("http://localhost:{port}/mcp"),
            "(localhost) refused: loopback",
        ),
        (
            "http://169.254.169.254/mcp".to_owned(),
            "egress to 169.254.169.254 refused: link-local",
        ),
        (
            "http://192.168.0.1/mcp".to_owned(),
            "egress to 192.168.0.1 refused: private",
        ),
    ];
    for (url, expected) in &cases {
        let result = McpSession::connect(&http(url.clone()), CONNECT, &Policy::default()).await;
        assert_refused(result.map(|_| ()), expected);
    }

    // The supervised sessions a node's tasks use carry the policy in their options.
    let (sessions, handle) = ToolSessions::spawn(SessionOptions::default())
        .await
        .expect("spawn");
    let by_name = http(format!("http://localhost:{port}/mcp"));
    let result = sessions.list_tools("by-name", &by_name).await;
    assert_refused(result, "(localhost) refused: loopback");
    sessions.stop().await;
    handle.await.expect("supervisor stopped");

    assert_eq!(
        capture.accepted.load(Ordering::SeqCst),
        0,
        "the capture listener was connected to"
    );
}

#[tokio::test]
async fn with_loopback_allowed_a_name_reaches_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server =
        HttpLedgerServer::start(&dir.path().join("ledger.jsonl"), &dir.path().join("ready")).await;
    let by_name = server.url.replace("127.0.0.1", "localhost");
    let spec = ServerSpec::Http {
        url: by_name,
        bearer_token: None,
    };
    let session = McpSession::connect(&spec, CONNECT, &crate::common::egress())
        .await
        .expect("connect by name with loopback allowed");
    let tools = session.list_tools(CALL).await.expect("list tools");
    assert!(!tools.is_empty());
    session.close().await;
}
