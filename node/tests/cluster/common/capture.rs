//! A capture server for attack tests: a TCP listener on loopback that records every
//! connection and the bytes of every request it receives (then answers 500), so a test
//! can show that nothing reached it, or that nothing it received carried a secret.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::{JoinHandle, JoinSet};

/// How long one connection is read for at most.
const READ_BUDGET: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Seen {
    connections: usize,
    bytes: Vec<u8>,
}

/// Aborts its listener (and every connection it holds) when dropped.
pub struct Capture {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

impl Capture {
    pub async fn start() -> Capture {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the capture server");
        let addr = listener.local_addr().expect("capture address");
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                shared.lock().expect("lock").connections += 1;
                connections.spawn(record(stream, shared.clone()));
            }
        });
        Capture { addr, seen, task }
    }

    /// The port it listens on (on 127.0.0.1), to build URLs with.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn connections(&self) -> usize {
        self.seen.lock().expect("lock").connections
    }

    /// Whether any byte sequence received so far contains `needle`.
    pub fn received(&self, needle: &str) -> bool {
        let seen = self.seen.lock().expect("lock");
        !needle.is_empty()
            && seen
                .bytes
                .windows(needle.len())
                .any(|window| window == needle.as_bytes())
    }

    /// What was received, for assertion messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().expect("lock").bytes).into_owned()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads the request head (or until the peer stops sending), records it, answers 500.
async fn record(mut stream: TcpStream, seen: Arc<Mutex<Seen>>) {
    let mut buffer = vec![0u8; 16 * 1024];
    let mut received = Vec::new();
    let deadline = tokio::time::Instant::now() + READ_BUDGET;
    while !received.windows(4).any(|window| window == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(read)) if read > 0 => received.extend_from_slice(&buffer[..read]),
            _ => break,
        }
    }
    seen.lock()
        .expect("lock")
        .bytes
        .extend_from_slice(&received);
    let _ = stream
        .write_all(
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
}
