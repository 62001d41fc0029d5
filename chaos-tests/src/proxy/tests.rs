//! Tests of the fault proxy against in-test upstream servers: an echo server, and one that hands
//! every accepted connection to the test so that each direction can be watched on its own.

use std::cell::Cell;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout};

use super::rules::Direction;
use super::{FaultProxy, LinkRule, ProxyStats};

/// Upper bound for anything that should happen; only a broken proxy reaches it.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long a stalled link must stay silent to count as stalled.
const QUIET_WAIT: Duration = Duration::from_millis(300);

const NODE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const PROXY_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const OTHER_PEER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A stand-in for the node behind the proxy. Its tasks are owned here and aborted on drop.
struct Upstream {
    addr: SocketAddr,
    accepted: mpsc::UnboundedReceiver<TcpStream>,
    _tasks: JoinSet<()>,
}

impl Upstream {
    /// Hands every accepted connection to the test through [`Upstream::next_connection`].
    async fn handing_over() -> anyhow::Result<Upstream> {
        let listener = TcpListener::bind((NODE_IP, 0)).await?;
        let addr = listener.local_addr()?;
        let (sender, accepted) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if sender.send(stream).is_err() {
                    return;
                }
            }
        });
        Ok(Upstream {
            addr,
            accepted,
            _tasks: tasks,
        })
    }

    /// Echoes every connection's bytes back and half-closes after the sender does.
    async fn echo() -> anyhow::Result<Upstream> {
        let listener = TcpListener::bind((NODE_IP, 0)).await?;
        let addr = listener.local_addr()?;
        let (_sender, accepted) = mpsc::unbounded_channel();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                connections.spawn(async move {
                    let (mut reader, mut writer) = stream.split();
                    if tokio::io::copy(&mut reader, &mut writer).await.is_ok() {
                        let _ = writer.shutdown().await;
                    }
                });
            }
        });
        Ok(Upstream {
            addr,
            accepted,
            _tasks: tasks,
        })
    }

    async fn next_connection(&mut self) -> anyhow::Result<TcpStream> {
        timeout(DEADLINE, self.accepted.recv())
            .await
            .context("no connection reached the upstream")?
            .context("upstream accept loop ended")
    }
}

async fn start_proxy(upstream: &Upstream) -> anyhow::Result<FaultProxy> {
    FaultProxy::start(SocketAddr::from((PROXY_IP, 0)), upstream.addr, 7)
        .await
        .context("start proxy")
}

/// Connects to `addr` from the loopback address `source`, as a node bound to its own IP does.
async fn connect_from(source: Ipv4Addr, addr: SocketAddr) -> anyhow::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((source, 0)))?;
    timeout(DEADLINE, socket.connect(addr))
        .await
        .context("connect timed out")?
        .context("connect")
}

fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = vec![0; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut bytes);
    bytes
}

async fn read_exactly(
    stream: &mut (impl AsyncRead + Unpin),
    len: usize,
) -> anyhow::Result<Vec<u8>> {
    let mut bytes = vec![0; len];
    timeout(DEADLINE, stream.read_exact(&mut bytes))
        .await
        .with_context(|| format!("{len} bytes did not arrive"))?
        .context("read")?;
    Ok(bytes)
}

/// Fails unless nothing arrives on `stream` for [`QUIET_WAIT`] and it stays open.
async fn assert_quiet(stream: &mut (impl AsyncRead + Unpin), what: &str) -> anyhow::Result<()> {
    let mut byte = [0; 1];
    match timeout(QUIET_WAIT, stream.read(&mut byte)).await {
        Err(_elapsed) => Ok(()),
        Ok(Ok(0)) => bail!("{what}: connection closed instead of stalling"),
        Ok(Ok(_)) => bail!("{what}: bytes arrived through a stalled link"),
        Ok(Err(error)) => bail!("{what}: connection failed instead of stalling: {error}"),
    }
}

/// Reads until `stream` ends; returns the error that ended it, or None for a clean EOF.
async fn read_until_closed(stream: &mut TcpStream) -> anyhow::Result<Option<io::Error>> {
    let mut buffer = vec![0; 64 * 1024];
    let outcome = timeout(DEADLINE, async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) => return None,
                Ok(_) => {}
                Err(error) => return Some(error),
            }
        }
    });
    outcome.await.context("connection was not closed")
}

async fn assert_reset(stream: &mut TcpStream, what: &str) -> anyhow::Result<()> {
    match read_until_closed(stream).await? {
        Some(error) if error.kind() == io::ErrorKind::ConnectionReset => Ok(()),
        Some(error) => bail!("{what}: expected a reset, got {error}"),
        None => bail!("{what}: expected a reset, got a clean EOF"),
    }
}

/// Polls the proxy's stats until `condition` holds; fails after [`DEADLINE`].
async fn wait_for_stats(
    proxy: &FaultProxy,
    condition: impl Fn(&ProxyStats) -> bool,
) -> anyhow::Result<ProxyStats> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let stats = proxy.stats();
        if condition(&stats) {
            return Ok(stats);
        }
        ensure!(Instant::now() < deadline, "stats never matched: {stats:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn rules_stall_exactly_the_directions_they_name() {
    let table = [
        (LinkRule::Pass, false, false),
        (
            LinkRule::Delay {
                base: Duration::from_millis(5),
                jitter: Duration::ZERO,
            },
            false,
            false,
        ),
        (LinkRule::Blackhole, true, true),
        (LinkRule::CutToNode, true, false),
        (LinkRule::CutFromNode, false, true),
        (LinkRule::Reset, true, true),
    ];
    for (rule, to_node_stalls, from_node_stalls) in table {
        assert_eq!(rule.stalls(Direction::ToNode), to_node_stalls, "{rule:?}");
        assert_eq!(
            rule.stalls(Direction::FromNode),
            from_node_stalls,
            "{rule:?}"
        );
    }
}

#[tokio::test]
async fn pass_forwards_both_ways_byte_exact_and_half_closes() -> anyhow::Result<()> {
    let upstream = Upstream::echo().await?;
    let proxy = start_proxy(&upstream).await?;
    let payload = pseudo_random_bytes(1024 * 1024, 1);
    let mut client = connect_from(NODE_IP, proxy.local_addr()).await?;
    let (mut client_read, mut client_write) = client.split();

    // Uneven pieces, so chunk boundaries inside the proxy fall everywhere.
    let send = async {
        let mut rest = payload.as_slice();
        let mut piece_len = 1;
        while !rest.is_empty() {
            let (piece, tail) = rest.split_at(piece_len.min(rest.len()));
            client_write.write_all(piece).await.context("send")?;
            rest = tail;
            piece_len = piece_len * 7 % 65_521 + 1;
        }
        // The echo server answers our half-close with its own, which ends the read below.
        client_write.shutdown().await.context("half-close")
    };
    let receive = async {
        let mut echoed = Vec::new();
        timeout(DEADLINE, client_read.read_to_end(&mut echoed))
            .await
            .context("echo did not end")?
            .context("read echo")?;
        anyhow::Ok(echoed)
    };
    // try_join, so that a failed receive does not wait forever on a blocked send.
    let ((), echoed) = tokio::try_join!(send, receive)?;
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "echoed bytes differ from the sent ones");

    drop(client);
    let stats = wait_for_stats(&proxy, |stats| stats.open == 0).await?;
    assert_eq!(
        stats,
        ProxyStats {
            accepted: 1,
            open: 0,
            bytes_to_node: payload.len() as u64,
            bytes_from_node: payload.len() as u64,
            resets: 0,
        }
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn delay_holds_each_direction_and_keeps_order() -> anyhow::Result<()> {
    let upstream = Upstream::echo().await?;
    let proxy = start_proxy(&upstream).await?;
    let base = Duration::from_millis(100);
    proxy.set_rule(
        None,
        LinkRule::Delay {
            base,
            jitter: Duration::from_millis(50),
        },
    );
    let mut client = connect_from(NODE_IP, proxy.local_addr()).await?;

    let started = Instant::now();
    client.write_all(b"ping").await?;
    assert_eq!(read_exactly(&mut client, 4).await?, b"ping");
    let round_trip = started.elapsed();
    assert!(
        round_trip >= 2 * base,
        "round trip took only {round_trip:?}"
    );

    // Many small writes, each likely its own chunk with its own jitter: order must survive.
    let mut sent = Vec::new();
    for message in 0..200_u32 {
        let bytes = format!("message {message:05};").into_bytes();
        client.write_all(&bytes).await?;
        sent.extend_from_slice(&bytes);
    }
    let echoed = read_exactly(&mut client, sent.len()).await?;
    assert!(echoed == sent, "delayed bytes came back out of order");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn blackhole_stalls_without_reading_ahead_and_heal_delivers_everything() -> anyhow::Result<()>
{
    let mut upstream = Upstream::handing_over().await?;
    let proxy = start_proxy(&upstream).await?;
    // A small send buffer keeps the kernel from absorbing the payload on the client side, so a
    // writer that finishes during the blackhole means the proxy read ahead.
    let socket = TcpSocket::new_v4()?;
    socket.set_send_buffer_size(64 * 1024)?;
    socket.bind(SocketAddr::from((NODE_IP, 0)))?;
    let mut client = timeout(DEADLINE, socket.connect(proxy.local_addr())).await??;
    let mut node = upstream.next_connection().await?;
    proxy.set_rule(None, LinkRule::Blackhole);

    let payload = pseudo_random_bytes(4 * 1024 * 1024, 2);
    node.write_all(b"from node").await?;
    let (mut client_read, mut client_write) = client.split();
    let written = Cell::new(0);
    let send = async {
        for piece in payload.chunks(16 * 1024) {
            client_write.write_all(piece).await.context("send")?;
            written.set(written.get() + piece.len());
        }
        client_write.shutdown().await.context("half-close")
    };
    let observe = async {
        assert_quiet(&mut node, "source -> node").await?;
        assert_quiet(&mut client_read, "node -> source").await?;
        // About 240 KiB fit in the kernel buffers and the one chunk the proxy may hold; a
        // proxy that kept reading into its queue would take in a MiB more.
        ensure!(
            written.get() < 1024 * 1024,
            "the proxy read ahead during the blackhole: {} bytes taken in",
            written.get()
        );
        let stats = proxy.stats();
        assert_eq!((stats.bytes_to_node, stats.bytes_from_node), (0, 0));

        proxy.heal();
        let delivered = read_exactly(&mut node, payload.len()).await?;
        ensure!(
            delivered == payload,
            "bytes sent during the blackhole arrived changed"
        );
        assert_eq!(read_exactly(&mut client_read, 9).await?, b"from node");
        anyhow::Ok(())
    };
    // try_join, so that a failed check does not wait forever on a send the blackhole blocks.
    tokio::try_join!(send, observe)?;
    // The client's half-close went through as well.
    assert!(read_until_closed(&mut node).await?.is_none());
    proxy.shutdown().await;
    Ok(())
}

/// Under `rule`, bytes toward the node stall iff `to_node_stalls`, the other way otherwise.
async fn check_one_way_cut(rule: LinkRule, to_node_stalls: bool) -> anyhow::Result<()> {
    let mut upstream = Upstream::handing_over().await?;
    let proxy = start_proxy(&upstream).await?;
    proxy.set_rule(None, rule);
    // Connecting after the rule is set: new connections are cut as well.
    let mut client = connect_from(NODE_IP, proxy.local_addr()).await?;
    let mut node = upstream.next_connection().await?;

    client.write_all(b"to node").await?;
    node.write_all(b"from node").await?;
    let (stalled, stalled_message, flowing, flowing_message): (_, &[u8], _, &[u8]) =
        if to_node_stalls {
            (&mut node, b"to node", &mut client, b"from node")
        } else {
            (&mut client, b"from node", &mut node, b"to node")
        };
    assert_eq!(
        read_exactly(flowing, flowing_message.len()).await?,
        flowing_message
    );
    assert_quiet(stalled, "the cut direction").await?;

    proxy.heal();
    assert_eq!(
        read_exactly(stalled, stalled_message.len()).await?,
        stalled_message
    );
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn cut_to_node_stalls_only_bytes_toward_the_node() -> anyhow::Result<()> {
    check_one_way_cut(LinkRule::CutToNode, true).await
}

#[tokio::test]
async fn cut_from_node_stalls_only_bytes_toward_the_source() -> anyhow::Result<()> {
    check_one_way_cut(LinkRule::CutFromNode, false).await
}

#[tokio::test]
async fn rules_apply_per_source_and_the_default_covers_the_rest() -> anyhow::Result<()> {
    let mut upstream = Upstream::handing_over().await?;
    let proxy = start_proxy(&upstream).await?;
    let mut first = connect_from(NODE_IP, proxy.local_addr()).await?;
    let mut first_node = upstream.next_connection().await?;
    let mut other = connect_from(OTHER_PEER_IP, proxy.local_addr()).await?;
    let mut other_node = upstream.next_connection().await?;

    proxy.set_rule(Some(IpAddr::V4(OTHER_PEER_IP)), LinkRule::Blackhole);
    first.write_all(b"one").await?;
    other.write_all(b"two").await?;
    assert_eq!(read_exactly(&mut first_node, 3).await?, b"one");
    assert_quiet(&mut other_node, "blackholed source").await?;

    // The default now stalls every source without its own rule, and the other's own rule wins
    // over the default.
    proxy.set_rule(None, LinkRule::Blackhole);
    proxy.set_rule(Some(IpAddr::V4(OTHER_PEER_IP)), LinkRule::Pass);
    assert_eq!(read_exactly(&mut other_node, 3).await?, b"two");
    first.write_all(b"three").await?;
    other.write_all(b"four").await?;
    assert_eq!(read_exactly(&mut other_node, 4).await?, b"four");
    assert_quiet(&mut first_node, "source under the default blackhole").await?;

    proxy.heal();
    assert_eq!(read_exactly(&mut first_node, 5).await?, b"three");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn reset_kills_existing_and_new_connections_until_healed() -> anyhow::Result<()> {
    let mut upstream = Upstream::handing_over().await?;
    let proxy = start_proxy(&upstream).await?;
    let mut client = connect_from(NODE_IP, proxy.local_addr()).await?;
    let mut node = upstream.next_connection().await?;

    proxy.set_rule(None, LinkRule::Reset);
    assert_reset(&mut client, "existing connection, source side").await?;
    assert_reset(&mut node, "existing connection, node side").await?;
    // The kernel completes the handshake before the proxy accepts, so the reset shows on read.
    let mut refused = connect_from(NODE_IP, proxy.local_addr()).await?;
    assert_reset(&mut refused, "new connection").await?;
    let stats = wait_for_stats(&proxy, |stats| stats.open == 0).await?;
    assert_eq!((stats.accepted, stats.resets), (2, 2));

    proxy.heal();
    let mut client = connect_from(NODE_IP, proxy.local_addr()).await?;
    let mut node = upstream.next_connection().await?;
    client.write_all(b"back").await?;
    assert_eq!(read_exactly(&mut node, 4).await?, b"back");
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn unreachable_upstream_resets_the_client() -> anyhow::Result<()> {
    // A port that was just free and is closed again: nothing listens there.
    let dead_addr = TcpListener::bind((NODE_IP, 0)).await?.local_addr()?;
    let proxy = FaultProxy::start(SocketAddr::from((PROXY_IP, 0)), dead_addr, 7).await?;
    let mut client = connect_from(NODE_IP, proxy.local_addr()).await?;
    assert_reset(&mut client, "connection to a dead node").await?;
    wait_for_stats(&proxy, |stats| stats.open == 0).await?;
    proxy.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn shutdown_closes_every_connection_and_stops_accepting() -> anyhow::Result<()> {
    let upstream = Upstream::echo().await?;
    let proxy = start_proxy(&upstream).await?;
    let mut clients = Vec::new();
    for source in [NODE_IP, OTHER_PEER_IP] {
        let mut client = connect_from(source, proxy.local_addr()).await?;
        client.write_all(b"hi").await?;
        assert_eq!(read_exactly(&mut client, 2).await?, b"hi");
        clients.push(client);
    }
    // A stalled connection must not hold shutdown up.
    proxy.set_rule(Some(IpAddr::V4(OTHER_PEER_IP)), LinkRule::Blackhole);
    clients[1].write_all(b"stuck").await?;
    assert_eq!(proxy.stats().open, 2);

    let listen_addr = proxy.local_addr();
    timeout(DEADLINE, proxy.shutdown())
        .await
        .context("shutdown hung")?;
    for client in &mut clients {
        read_until_closed(client).await?;
    }
    ensure!(
        TcpStream::connect(listen_addr).await.is_err(),
        "the proxy still accepts after shutdown"
    );
    Ok(())
}
