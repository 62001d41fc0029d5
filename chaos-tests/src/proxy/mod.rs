//! The TCP fault proxy in front of one node: it forwards every connection to the node and
//! delays, stalls or resets the traffic of each source address as the harness rules.
//!
//! Every node binds its outgoing connections to its own loopback address, so the source address
//! of a connection names the peer it comes from, and one proxy per node can cut any link.

mod connection;
mod rules;
#[cfg(test)]
mod tests;

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinError, JoinSet};
use tracing::{debug, warn};

use self::connection::Connection;
pub use self::rules::LinkRule;
use self::rules::{Direction, RuleTable};

/// How long the accept loop pauses after a failed accept. Errors such as running out of file
/// descriptors repeat at once, and retrying without a pause would spin a core.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(50);

/// A running proxy. It owns its accept loop, which owns every connection's task, so
/// [`FaultProxy::shutdown`] (or dropping the proxy, which aborts them) leaves nothing behind.
#[derive(Debug)]
pub struct FaultProxy {
    local_addr: SocketAddr,
    rules: watch::Sender<RuleTable>,
    counters: Arc<Counters>,
    stop: oneshot::Sender<()>,
    accept_loop: JoinSet<()>,
}

/// What a proxy has done since it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProxyStats {
    /// Connections accepted, including those reset at once.
    pub accepted: u64,
    /// Connections accepted and not yet closed.
    pub open: u64,
    /// Bytes written to the node.
    pub bytes_to_node: u64,
    /// Bytes written back to the sources.
    pub bytes_from_node: u64,
    /// Connections closed with a RST because their source's rule was `Reset`.
    pub resets: u64,
}

impl FaultProxy {
    /// Listens on `listen` (e.g. 127.0.0.2:0) and forwards every accepted connection to
    /// `upstream`. `seed` drives the delay jitter.
    pub async fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        seed: u64,
    ) -> io::Result<FaultProxy> {
        let listener = TcpListener::bind(listen).await?;
        let local_addr = listener.local_addr()?;
        let (rules, rules_receiver) = watch::channel(RuleTable::default());
        let counters = Arc::new(Counters::default());
        let (stop, stop_receiver) = oneshot::channel();
        let mut accept_loop = JoinSet::new();
        accept_loop.spawn(accept_connections(AcceptLoop {
            listener,
            upstream,
            rules: rules_receiver,
            counters: Arc::clone(&counters),
            rng: StdRng::seed_from_u64(seed),
            stop: stop_receiver,
        }));
        debug!(%local_addr, %upstream, seed, "fault proxy started");
        Ok(FaultProxy {
            local_addr,
            rules,
            counters,
            stop,
            accept_loop,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sets the rule for connections whose source IP is `source` (None = the default for every
    /// source without its own rule). Applies at once to existing connections as well as new
    /// ones.
    pub fn set_rule(&self, source: Option<IpAddr>, rule: LinkRule) {
        debug!(proxy = %self.local_addr, ?source, ?rule, "link rule set");
        self.rules.send_modify(|table| table.set(source, rule));
    }

    /// Back to `Pass` for everyone.
    pub fn heal(&self) {
        debug!(proxy = %self.local_addr, "links healed");
        self.rules.send_replace(RuleTable::default());
    }

    pub fn stats(&self) -> ProxyStats {
        self.counters.snapshot()
    }

    /// Stops accepting, closes every connection and joins every task.
    pub async fn shutdown(self) {
        let FaultProxy {
            stop,
            mut accept_loop,
            ..
        } = self;
        // An error means the accept loop has already ended; joining it below reports why.
        let _ = stop.send(());
        while let Some(result) = accept_loop.join_next().await {
            propagate_panic(result);
        }
    }
}

/// Everything the accept loop owns.
struct AcceptLoop {
    listener: TcpListener,
    upstream: SocketAddr,
    rules: watch::Receiver<RuleTable>,
    counters: Arc<Counters>,
    rng: StdRng,
    stop: oneshot::Receiver<()>,
}

async fn accept_connections(accept_loop: AcceptLoop) {
    let AcceptLoop {
        listener,
        upstream,
        rules,
        counters,
        mut rng,
        mut stop,
    } = accept_loop;
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            // Stop on request and also when the proxy handle is gone.
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    counters.accepted.fetch_add(1, Ordering::Relaxed);
                    let connection = Connection {
                        client,
                        source: peer.ip(),
                        upstream,
                        rules: rules.clone(),
                        counters: Arc::clone(&counters),
                        rng: StdRng::seed_from_u64(rng.random()),
                        open: OpenConnection::new(Arc::clone(&counters)),
                    };
                    connections.spawn(connection.serve());
                }
                Err(error) => {
                    warn!(%error, "fault proxy cannot accept a connection");
                    tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
                }
            },
            // Reaping finished connections keeps the set from growing over a long run.
            Some(result) = connections.join_next() => propagate_panic(result),
        }
    }
    drop(listener);
    // Aborting drops every connection's sockets, which closes them.
    connections.shutdown().await;
}

/// A panic in a proxy task is a bug in the harness; it must fail the test, not vanish.
fn propagate_panic(result: Result<(), JoinError>) {
    if let Err(error) = result
        && error.is_panic()
    {
        std::panic::resume_unwind(error.into_panic());
    }
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    open: AtomicU64,
    bytes_to_node: AtomicU64,
    bytes_from_node: AtomicU64,
    resets: AtomicU64,
}

impl Counters {
    fn record_forwarded(&self, direction: Direction, bytes: usize) {
        let counter = match direction {
            Direction::ToNode => &self.bytes_to_node,
            Direction::FromNode => &self.bytes_from_node,
        };
        counter.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn record_reset(&self) {
        self.resets.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> ProxyStats {
        ProxyStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            open: self.open.load(Ordering::Relaxed),
            bytes_to_node: self.bytes_to_node.load(Ordering::Relaxed),
            bytes_from_node: self.bytes_from_node.load(Ordering::Relaxed),
            resets: self.resets.load(Ordering::Relaxed),
        }
    }
}

/// Counts a connection as open for as long as it lives, however its task ends (even aborted).
struct OpenConnection {
    counters: Arc<Counters>,
}

impl OpenConnection {
    fn new(counters: Arc<Counters>) -> OpenConnection {
        counters.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection { counters }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::Relaxed);
    }
}
