//! A cluster under test: `warden` processes each on its own loopback address, each behind
//! a fault proxy on that address, so every link between nodes and from clients can be
//! cut, delayed or stalled without any test hook in the server. Nodes can be added and
//! removed while the workload runs; the harness keeps the member set.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;
use warden_client::proto::MemberRole;
use warden_client::{Client, ClientOptions};
use warden_local_cluster::LocalCluster;

use crate::proxy::{FaultProxy, LinkRule};

/// Settings every node of a chaos run gets: short timeouts keep faults observable within
/// a bounded run, and frequent snapshots make a node that was down a few seconds catch up
/// by snapshot. The lease is `faults::TASK_LEASE_MS`.
pub const NODE_SETTINGS: &[(&str, &str)] = &[
    ("limits.write_timeout", "3s"),
    ("limits.read_timeout", "3s"),
    ("raft.snapshot_after_entries", "200"),
    ("raft.keep_entries_after_snapshot", "50"),
    ("runtime.lease", "3s"),
];

pub struct ChaosCluster {
    pub nodes: LocalCluster,
    /// One proxy per member: a removed node loses its proxy with its process, so the
    /// keys are the current members.
    proxies: BTreeMap<u64, FaultProxy>,
    seed: u64,
    /// The id the next added node gets. Ids are never reused, so a removed node's data
    /// directory and log stay apart from any later node's.
    next_id: u64,
}

/// How long adding (catch-up included) or removing a node may take under load.
const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of a membership call that finds no leader (backoff 50 ms doubling to 2 s).
const MEMBERSHIP_ATTEMPTS: u32 = 10;

/// Node `id`'s own loopback address (127.0.0.11 for node 1, ...). Clients keep 127.0.0.1.
pub fn node_ip(id: u64) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        0,
        10 + u8::try_from(id).unwrap_or(u8::MAX - 10),
    ))
}

/// What makes the `warden` failpoint build act as a build of the previous protocol: it
/// reports protocol 1 and stops at anything protocol 1 cannot apply (see the node's
/// `failpoints` module). Protocol 2 is this build's; the next protocol moves this along.
pub const OLDER_BUILD: &str = "node::protocol=return(1)";

/// The audit checkpoint interval the chaos clusters are initialized with, in records.
pub const CHECKPOINT_INTERVAL: u64 = 100;

pub const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl ChaosCluster {
    /// Starts `count` voters behind their proxies and waits for a leader; with `older`,
    /// as builds of the previous protocol ([`OLDER_BUILD`]).
    pub async fn start(
        exe: &Path,
        base: &Path,
        count: u64,
        seed: u64,
        older: bool,
    ) -> anyhow::Result<ChaosCluster> {
        let settings = NODE_SETTINGS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut nodes = LocalCluster::new(exe, base, settings);
        // Small enough that nodes sign during the faults, not only at the end.
        nodes.checkpoint_interval(CHECKPOINT_INTERVAL);
        let mut proxies = BTreeMap::new();
        for id in 1..=count {
            proxies.insert(id, place_behind_proxy(&mut nodes, id, seed).await?);
            if older {
                nodes.set_node_env(id, vec![("FAILPOINTS".to_owned(), OLDER_BUILD.to_owned())]);
            }
        }
        nodes.bootstrap(count).await?;
        Ok(ChaosCluster {
            nodes,
            proxies,
            seed,
            next_id: count + 1,
        })
    }

    /// Waits until every member has applied the protocol its own build speaks, which the
    /// leader raises to once all of them speak it.
    pub async fn wait_protocol_raised(&self, within: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        for id in self.ids() {
            loop {
                let status = self.nodes.client_of(id)?.cluster_status().await;
                match status {
                    Ok(status) if status.cluster_protocol == status.protocol => break,
                    Ok(status) if tokio::time::Instant::now() > deadline => anyhow::bail!(
                        "node {id} speaks protocol {} but still applies protocol {} after {within:?}",
                        status.protocol,
                        status.cluster_protocol
                    ),
                    Err(error) if tokio::time::Instant::now() > deadline => {
                        anyhow::bail!("node {id} gave no status within {within:?}: {error}")
                    }
                    _ => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
        }
        Ok(())
    }

    /// The members: nodes started here and not removed.
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
            ..self.nodes.client_options()?
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

    /// Cuts every link between nodes, both ways; clients still reach every node.
    pub fn cut_all(&self) -> anyhow::Result<()> {
        self.ids().into_iter().try_for_each(|id| self.isolate(id))
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

    /// Starts a new node behind its own proxy, adds it as a learner (the call returns once
    /// it has caught up, by snapshot if need be) and promotes it to voter, then waits
    /// until every member agrees on the new voter set. Returns the new node's id.
    pub async fn add_node(&mut self) -> anyhow::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let proxy = place_behind_proxy(&mut self.nodes, id, self.seed).await?;
        let address = proxy.local_addr().to_string();
        // A member from here on: if adding it fails, so does the run.
        self.proxies.insert(id, proxy);
        self.nodes.start_node(id).await?;
        let admin = self.admin_client()?;
        admin
            .add_node(id, &address)
            .await
            .with_context(|| format!("adding node {id} as a learner"))?;
        admin
            .promote_node(id)
            .await
            .with_context(|| format!("promoting node {id}"))?;
        self.wait_for_members(MEMBERSHIP_TIMEOUT).await?;
        Ok(id)
    }

    /// Removes node `id` from the membership; returns once the change has committed. A
    /// removed leader steps down then, and the others elect a new one. Its process keeps
    /// running until [`ChaosCluster::retire`].
    pub async fn remove_member(&self, id: u64) -> anyhow::Result<()> {
        match self.admin_client()?.remove_node(id).await {
            Ok(_) => Ok(()),
            // A retried call whose first attempt went through finds the node gone;
            // `retire` still checks that it is.
            Err(error) if error.code() == Some(tonic::Code::NotFound) => Ok(()),
            Err(error) => Err(error).with_context(|| format!("removing node {id}")),
        }
    }

    /// Stops removed node `id` for good, with its proxy, and waits until the remaining
    /// members agree on the voter set and a leader.
    pub async fn retire(&mut self, id: u64) -> anyhow::Result<()> {
        self.nodes.remove(id).await?;
        if let Some(proxy) = self.proxies.remove(&id) {
            proxy.shutdown().await;
        }
        self.wait_for_members(MEMBERSHIP_TIMEOUT).await
    }

    /// A client for membership changes: adding a node waits for it to catch up, so one
    /// attempt may take far longer than a submission.
    fn admin_client(&self) -> anyhow::Result<Client> {
        let options = ClientOptions {
            request_timeout: MEMBERSHIP_TIMEOUT,
            // As an operator would, ride out an election the faults provoked (seed 8161:
            // a node cut off one way won an election just as its peer was promoted):
            // about 9 s of retries rather than the default's 0.75 s.
            max_attempts: MEMBERSHIP_ATTEMPTS,
            ..self.nodes.client_options()?
        };
        Ok(Client::connect(self.nodes.endpoints(), options)?)
    }

    /// Waits until every member reports exactly the members as voters (no learner, no
    /// removed node) and the same leader among them.
    pub async fn wait_for_members(&self, within: Duration) -> anyhow::Result<()> {
        let expected: BTreeSet<u64> = self.ids().into_iter().collect();
        let deadline = Instant::now() + within;
        loop {
            let mut views = BTreeMap::new();
            for id in self.ids() {
                if let Ok(status) = self.nodes.client_of(id)?.cluster_status().await {
                    let voters: BTreeSet<u64> = status
                        .members
                        .iter()
                        .filter(|member| member.role() == MemberRole::Voter)
                        .map(|member| member.node_id)
                        .collect();
                    let members = status.members.len();
                    views.insert(id, (voters, members, status.leader_id));
                }
            }
            let leaders: BTreeSet<Option<u64>> =
                views.values().map(|(_, _, leader)| *leader).collect();
            let agreed = views.len() == expected.len()
                && views
                    .values()
                    .all(|(voters, members, _)| *voters == expected && *members == expected.len())
                && leaders.len() == 1
                && leaders
                    .first()
                    .copied()
                    .flatten()
                    .is_some_and(|leader| expected.contains(&leader));
            if agreed {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("members {expected:?} did not agree within {within:?}: {views:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The index of the last entry in node `id`'s log.
    pub async fn log_end(&self, id: u64) -> anyhow::Result<u64> {
        let status = self
            .nodes
            .client_of(id)?
            .cluster_status()
            .await
            .with_context(|| format!("the status of node {id}"))?;
        Ok(status.last_log_index)
    }

    /// Waits until the leader has purged its log past `index`: a node whose log ends
    /// there can then catch up only by snapshot.
    pub async fn wait_purged_past(&self, index: u64, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        loop {
            let leader = self.leader(within).await?;
            let purged = match self.nodes.client_of(leader)?.cluster_status().await {
                Ok(status) => status.purged_index,
                Err(_) => None,
            };
            if purged.is_some_and(|purged| purged > index) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the leader did not purge its log past {index} within {within:?}: purged {purged:?}"
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
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

/// Starts the fault proxy of node `id` on the node's own address and tells the node to
/// listen beside it and advertise the proxy, from its next start on.
async fn place_behind_proxy(
    nodes: &mut LocalCluster,
    id: u64,
    seed: u64,
) -> anyhow::Result<FaultProxy> {
    let ip = node_ip(id);
    // The node's own port: free on its private address, chosen here so the proxy can be
    // started before the node and the node can advertise the proxy.
    let probe = std::net::TcpListener::bind(SocketAddr::new(ip, 0))
        .with_context(|| format!("binding a probe on {ip}"))?;
    let node_address = probe.local_addr().context("probe address")?;
    drop(probe);
    let proxy = FaultProxy::start(SocketAddr::new(ip, 0), node_address, seed.wrapping_add(id))
        .await
        .with_context(|| format!("starting the proxy of node {id}"))?;
    nodes.set_node_settings(
        id,
        vec![
            ("listen".to_owned(), node_address.to_string()),
            ("advertise".to_owned(), proxy.local_addr().to_string()),
        ],
    );
    Ok(proxy)
}

#[cfg(test)]
mod tests {
    use super::NODE_SETTINGS;
    use crate::faults::TASK_LEASE_MS;

    #[test]
    fn the_nodes_run_with_the_lease_pauses_are_drawn_around() {
        let lease = NODE_SETTINGS
            .iter()
            .find(|(key, _)| *key == "runtime.lease")
            .and_then(|(_, value)| value.strip_suffix('s'))
            .and_then(|seconds| seconds.parse::<u64>().ok());
        assert_eq!(lease.map(|seconds| seconds * 1000), Some(TASK_LEASE_MS));
    }
}
