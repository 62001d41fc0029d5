//! One proxied connection: it connects to the node when the source connects, then relays both
//! directions under whatever rule currently holds for the source.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::debug;

use super::rules::{Direction, RuleTable, RuleWatch};
use super::{Counters, OpenConnection};

/// The most a pump reads at once.
const CHUNK_BYTES: usize = 64 * 1024;

/// Chunks read but not yet written, per direction. Delayed chunks must be in flight together,
/// or a busy link would add up their delays instead of overlapping them, as a real slow link
/// does; the bound makes a slow or stalled writer push back on the reader, and from there on the
/// sender's TCP window, instead of the proxy buffering without limit.
const IN_FLIGHT_CHUNKS: usize = 16;

/// An accepted connection, before it is connected to the node.
pub(super) struct Connection {
    pub(super) client: TcpStream,
    pub(super) source: IpAddr,
    pub(super) upstream: SocketAddr,
    pub(super) rules: watch::Receiver<RuleTable>,
    pub(super) counters: Arc<Counters>,
    pub(super) rng: StdRng,
    pub(super) open: OpenConnection,
}

/// How a connection ended.
enum Outcome {
    /// Both sides closed their write halves and everything was forwarded.
    Closed,
    /// A read or write on either side failed.
    Failed(io::Error),
    /// The node refused the connection or could not be reached.
    UpstreamUnreachable(io::Error),
    /// The source's rule became `Reset`.
    ResetByRule,
}

/// A piece of one direction's byte stream, with the earliest time it may be written.
struct Chunk {
    bytes: Vec<u8>,
    due: Instant,
}

impl Connection {
    pub(super) async fn serve(self) {
        let Connection {
            mut client,
            source,
            upstream,
            rules,
            counters,
            rng,
            open: _open,
        } = self;
        let rules = RuleWatch::new(rules, source);
        let mut reset_watch = rules.clone();
        let mut node = None;
        let outcome = tokio::select! {
            // Biased so that a connection accepted while its source is being reset is reset
            // before anything else happens, without ever reaching the node.
            biased;
            () = reset_watch.until_reset() => Outcome::ResetByRule,
            outcome = relay(&mut client, &mut node, upstream, rules, &counters, rng) => outcome,
        };
        match outcome {
            Outcome::Closed => {}
            Outcome::Failed(error) => debug!(%source, %error, "proxied connection failed"),
            Outcome::UpstreamUnreachable(error) => {
                // The source sees what it would see from a dead host: a reset connection.
                debug!(%source, %upstream, %error, "node unreachable, resetting the connection");
                reset(&client);
            }
            Outcome::ResetByRule => {
                debug!(%source, "resetting the connection by rule");
                counters.record_reset();
                reset(&client);
                // The node sees the link die too, instead of keeping a connection to nowhere.
                if let Some(node) = &node {
                    reset(node);
                }
            }
        }
    }
}

/// Makes the coming drop of `stream` send a TCP RST instead of a FIN.
fn reset(stream: &TcpStream) {
    if let Err(error) = stream.set_zero_linger() {
        debug!(%error, "cannot set SO_LINGER 0, the connection closes with a FIN");
    }
}

/// Connects to the node and forwards both directions until both are closed or one fails.
/// The node's stream goes into `node_slot` so that the caller can reset it.
async fn relay(
    client: &mut TcpStream,
    node_slot: &mut Option<TcpStream>,
    upstream: SocketAddr,
    rules: RuleWatch,
    counters: &Counters,
    mut rng: StdRng,
) -> Outcome {
    let node = match TcpStream::connect(upstream).await {
        Ok(node) => node_slot.insert(node),
        Err(error) => return Outcome::UpstreamUnreachable(error),
    };
    // The proxy writes each chunk as it comes; Nagle's algorithm would hold small writes (gRPC
    // frames) back for an ACK and add latency that no rule asked for.
    if let Err(error) = client.set_nodelay(true).and(node.set_nodelay(true)) {
        return Outcome::Failed(error);
    }
    let (client_read, client_write) = client.split();
    let (node_read, node_write) = node.split();
    let to_node = pump(
        client_read,
        node_write,
        Direction::ToNode,
        rules.clone(),
        counters,
        StdRng::seed_from_u64(rng.random()),
    );
    let from_node = pump(
        node_read,
        client_write,
        Direction::FromNode,
        rules,
        counters,
        StdRng::seed_from_u64(rng.random()),
    );
    match tokio::try_join!(to_node, from_node) {
        Ok(((), ())) => Outcome::Closed,
        Err(error) => Outcome::Failed(error),
    }
}

/// Forwards one direction: a reader that stops reading while the direction is stalled, and a
/// writer that holds each chunk until it is due and the direction flows.
async fn pump(
    from: impl AsyncRead + Unpin,
    to: impl AsyncWrite + Unpin,
    direction: Direction,
    rules: RuleWatch,
    counters: &Counters,
    rng: StdRng,
) -> io::Result<()> {
    let (chunks_sender, chunks_receiver) = mpsc::channel(IN_FLIGHT_CHUNKS);
    tokio::try_join!(
        read_chunks(from, chunks_sender, direction, rules.clone(), rng),
        write_chunks(to, chunks_receiver, direction, rules, counters),
    )?;
    Ok(())
}

async fn read_chunks(
    mut from: impl AsyncRead + Unpin,
    chunks: mpsc::Sender<Chunk>,
    direction: Direction,
    mut rules: RuleWatch,
    mut rng: StdRng,
) -> io::Result<()> {
    let mut buffer = vec![0; CHUNK_BYTES];
    loop {
        // Waiting before reading, not only before writing, leaves a stalled direction's bytes
        // in the kernel buffers, so the sender's TCP window closes as it would on a dead link.
        rules.until_flowing(direction).await;
        let read = from.read(&mut buffer).await?;
        if read == 0 {
            // Dropping the sender tells the writer to pass the half-close on once every queued
            // chunk is written.
            return Ok(());
        }
        let due = Instant::now() + rules.current().hold_time(&mut rng);
        let chunk = Chunk {
            bytes: buffer[..read].to_vec(),
            due,
        };
        if chunks.send(chunk).await.is_err() {
            // The writer stops early only on a write error, which the join reports.
            return Ok(());
        }
    }
}

async fn write_chunks(
    mut to: impl AsyncWrite + Unpin,
    mut chunks: mpsc::Receiver<Chunk>,
    direction: Direction,
    mut rules: RuleWatch,
    counters: &Counters,
) -> io::Result<()> {
    while let Some(chunk) = chunks.recv().await {
        // Chunks go out in the order they were read: one whose jitter made it due before its
        // predecessor simply follows it, so the byte stream stays intact.
        if chunk.due > Instant::now() {
            tokio::time::sleep_until(chunk.due).await;
        }
        rules.until_flowing(direction).await;
        to.write_all(&chunk.bytes).await?;
        counters.record_forwarded(direction, chunk.bytes.len());
    }
    // This direction's sender closed its write half; the receiver must see the same.
    to.shutdown().await
}
