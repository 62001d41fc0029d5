//! Test doubles of Warden's gRPC services, served in-process on 127.0.0.1:0, a TCP proxy
//! whose connections can be cut (a node dying mid-call), and client options that retry
//! without noticeable pauses.
// Each test module uses a different subset.
#![allow(dead_code, unused_imports)]

mod agents;
mod audit;
mod journal;
mod tasks;

use std::future::Future;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::server::Router;
use warden_client::ClientOptions;

pub use agents::AgentServiceDouble;
pub use audit::{AuditServiceDouble, ExportBehavior, record};
pub use journal::{JournalDouble, WatchBehavior, journal_event};
pub use tasks::{SubmitReply, TaskServiceDouble};

/// Options for tests: several attempts, millisecond backoff.
pub fn fast_options(max_attempts: u32) -> ClientOptions {
    ClientOptions {
        request_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(1),
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        resume_timeout: Duration::from_secs(5),
        token: None,
        tls: None,
    }
}

/// A server running on its own port; stopped when dropped.
pub struct TestServer {
    pub address: String,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `router` on a fresh port. The listener is bound before this returns, so
/// clients can connect at once (the kernel queues connections until accepted).
pub async fn serve(router: Router) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let address = listener.local_addr().expect("local address").to_string();
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("test server failed");
    });
    TestServer { address, task }
}

/// An address where nothing listens: connecting is refused.
pub async fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").to_string()
    // The listener is dropped here, closing the port.
}

/// A TCP proxy in front of a test server. `cut` closes every connection open at that
/// moment, as a killed node would; connections made afterwards pass again.
pub struct CuttableProxy {
    pub address: String,
    cut: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl CuttableProxy {
    pub async fn start(upstream: &str) -> CuttableProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address").to_string();
        let (cut, _) = watch::channel(0u64);
        let cuts = cut.clone();
        let upstream = upstream.to_owned();
        let task = tokio::spawn(async move {
            // Owned here, so aborting the proxy also ends every connection.
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let mut cut_seen = cuts.subscribe();
                cut_seen.mark_unchanged();
                let upstream = upstream.clone();
                connections.spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut_seen.changed() => {}
                    }
                    // Both sockets close here.
                });
                while connections.try_join_next().is_some() {}
            }
        });
        CuttableProxy { address, cut, task }
    }

    /// Closes every open connection.
    pub fn cut(&self) {
        self.cut.send_modify(|generation| *generation += 1);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `check` until it returns true, failing the test after `within`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
