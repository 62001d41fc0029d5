//! A cluster under test: `warden` processes each on its own loopback address, each behind
//! a fault proxy on that address, so every link between nodes and from clients can be
//! cut, delayed or stalled without any test hook in the server.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::Signal;
use warden_client::{Client, ClientOptions};
use warden_local_cluster::LocalCluster;

use crate::proxy::{FaultProxy, LinkRule};

/// Settings every node of a chaos run gets: short timeouts keep faults observable within
/// a bounded run.
pub const NODE_SETTINGS: &[(&str, &str)] = &[
    ("limits.write_timeout", "3s"),
    ("limits.read_timeout", "3s"),
    ("raft.snapshot_after_entries", "500"),
    ("raft.keep_entries_after_snapshot", "100"),
];

pub struct ChaosCluster {
    pub nodes: LocalCluster,
    proxies: BTreeMap<u64, FaultProxy>,
}

/// Node `id`'s own loopback address (127.0.0.11 for node 1, ...). Clients keep 127.0.0.1.
pub fn node_ip(id: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        0,
        10 + u8::try_from(id).unwrap_or(u8::MAX - 10),
    ))
}

/// Where clients connect from, as the proxies see it.
pub const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl ChaosCluster {
    /// Starts `count` voters behind their proxies and waits for a leader.
    pub async fn start(
        exe: &Path,
        base: &Path,
        count: u64,
        seed: u64,
    ) -> anyhow::Result<ChaosCluster> {
        let settings = NODE_SETTINGS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut nodes = LocalCluster::new(exe, base, settings);
        let mut proxies = BTreeMap::new();
        for id in 1..=count {
            let ip = node_ip(id);
            // The node's own port: free on its private address, chosen here so the proxy
            // can be started before the node and the node can advertise the proxy.
            let probe = std::net::TcpListener::bind(SocketAddr::new(ip, 0))
                .with_context(|| format!("binding a probe on {ip}"))?;
            let node_address = probe.local_addr().context("probe address")?;
            drop(probe);
            let proxy =
                FaultProxy::start(SocketAddr::new(ip, 0), node_address, seed.wrapping_add(id))
                    .await
                    .with_context(|| format!("starting the proxy of node {id}"))?;
            nodes.set_node_settings(
                id,
                vec![
                    ("listen".to_owned(), node_address.to_string()),
                    ("advertise".to_owned(), proxy.local_addr().to_string()),
                ],
            );
            proxies.insert(id, proxy);
        }
        nodes.bootstrap(count).await?;
        Ok(ChaosCluster { nodes, proxies })
    }

    pub fn ids(&self) -> Vec<u64> {
        self.proxies.keys().copied().collect()
    }

    /// A client of every node, with a short per-attempt timeout so a stalled link shows
    /// up as an unknown outcome instead of a hang. A retrying client moves on to another
    /// node by itself; a single-attempt one reports every failure, so the history holds
    /// unknown outcomes for the run to resolve.
    pub fn client(&self, retrying: bool) -> anyhow::Result<Client> {
        let options = ClientOptions {
            request_timeout: Duration::from_secs(5),
            max_attempts: if retrying { 6 } else { 1 },
            token: self.nodes.admin_token()?,
            ..ClientOptions::default()
        };
        Ok(Client::connect(self.nodes.endpoints(), options)?)
    }

    fn proxy(&self, id: u64) -> anyhow::Result<&FaultProxy> {
        self.proxies
            .get(&id)
            .with_context(|| format!("no node {id}"))
    }

    /// Cuts `isolated` off from every other node, both ways; clients still reach it.
    pub fn isolate(&self, isolated: u64) -> anyhow::Result<()> {
        for other in self.ids().into_iter().filter(|id| *id != isolated) {
            self.proxy(isolated)?
                .set_rule(Some(node_ip(other)), LinkRule::Blackhole);
            self.proxy(other)?
                .set_rule(Some(node_ip(isolated)), LinkRule::Blackhole);
        }
        Ok(())
    }

    /// Stalls what `from` sends to `to`, while `to` still reaches `from`.
    pub fn cut_one_way(&self, from: u64, to: u64) -> anyhow::Result<()> {
        self.proxy(to)?
            .set_rule(Some(node_ip(from)), LinkRule::CutToNode);
        Ok(())
    }

    /// Delays every link between nodes (not the clients').
    pub fn slow_links(&self, base: Duration, jitter: Duration) -> anyhow::Result<()> {
        for id in self.ids() {
            for other in self.ids().into_iter().filter(|other| *other != id) {
                self.proxy(id)?
                    .set_rule(Some(node_ip(other)), LinkRule::Delay { base, jitter });
            }
        }
        Ok(())
    }

    /// Every link back to normal.
    pub fn heal(&self) {
        for proxy in self.proxies.values() {
            proxy.heal();
        }
    }

    pub fn pause(&self, id: u64) -> anyhow::Result<()> {
        self.nodes.signal(id, Signal::SIGSTOP)
    }

    pub fn resume(&self, id: u64) -> anyhow::Result<()> {
        self.nodes.signal(id, Signal::SIGCONT)
    }

    /// The node every running node agrees leads.
    pub async fn leader(&self, within: Duration) -> anyhow::Result<u64> {
        self.nodes.wait_for_leader(within).await
    }

    /// Stops every node and proxy.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        let stopped = self.nodes.stop_all().await;
        for (_, proxy) in std::mem::take(&mut self.proxies) {
            proxy.shutdown().await;
        }
        stopped
    }
}
