//! Signalling, stopping and reaping a local cluster's node processes.

use std::process::ExitStatus;
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::Child;

use crate::LocalCluster;

/// How long a node may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

impl LocalCluster {
    pub fn pid(&self, id: u64) -> Option<u32> {
        self.nodes.get(&id)?.child.as_ref()?.id()
    }

    pub fn signal(&self, id: u64, signal: Signal) -> anyhow::Result<()> {
        let pid = self
            .pid(id)
            .with_context(|| format!("node {id} is not running"))?;
        let pid = i32::try_from(pid).context("pid out of range")?;
        kill(Pid::from_raw(pid), signal)
            .with_context(|| format!("sending {signal} to node {id}"))?;
        Ok(())
    }

    /// SIGKILL: the node gets no chance to flush or say goodbye.
    pub async fn kill(&mut self, id: u64) -> anyhow::Result<()> {
        let node = self
            .nodes
            .get_mut(&id)
            .with_context(|| format!("node {id} was never started"))?;
        if let Some(child) = node.child.take() {
            kill_and_reap(child, id).await?;
        }
        Ok(())
    }

    /// SIGTERM, then SIGKILL if the node has not stopped in time.
    pub async fn stop(&mut self, id: u64) -> anyhow::Result<()> {
        if self.pid(id).is_none() {
            return Ok(());
        }
        self.signal(id, Signal::SIGTERM)?;
        let node = self
            .nodes
            .get_mut(&id)
            .with_context(|| format!("node {id} was never started"))?;
        if let Some(mut child) = node.child.take() {
            match tokio::time::timeout(STOP_TIMEOUT, child.wait()).await {
                Ok(status) => {
                    status.with_context(|| format!("waiting for node {id}"))?;
                }
                Err(_elapsed) => kill_and_reap(child, id).await?,
            }
        }
        Ok(())
    }

    /// Stops node `id` and forgets it, as for a node removed from the membership: it no
    /// longer counts as running and its endpoint leaves `endpoints()`, so later clients
    /// and waits do not look for it. Its data directory and log stay.
    pub async fn remove(&mut self, id: u64) -> anyhow::Result<()> {
        self.stop(id).await?;
        self.nodes.remove(&id);
        Ok(())
    }

    pub async fn stop_all(&mut self) -> anyhow::Result<()> {
        for id in self.running() {
            self.stop(id).await?;
        }
        Ok(())
    }

    /// Waits up to `within` for node `id`'s process to exit on its own; its exit status,
    /// or `None` if it still runs (or was not running).
    pub async fn wait_exit(
        &mut self,
        id: u64,
        within: Duration,
    ) -> anyhow::Result<Option<ExitStatus>> {
        let Some(child) = self.nodes.get_mut(&id).and_then(|node| node.child.as_mut()) else {
            return Ok(None);
        };
        match tokio::time::timeout(within, child.wait()).await {
            Ok(status) => {
                let status = status.with_context(|| format!("waiting for node {id}"))?;
                if let Some(node) = self.nodes.get_mut(&id) {
                    node.child = None;
                }
                Ok(Some(status))
            }
            Err(_elapsed) => Ok(None),
        }
    }

    /// Waits until any node process exits on its own, returning its id.
    pub async fn any_exit(&mut self) -> u64 {
        loop {
            for (id, node) in self.nodes.iter_mut() {
                if let Some(child) = &mut node.child
                    && let Ok(Some(_)) = child.try_wait()
                {
                    node.child = None;
                    return *id;
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// SIGKILLs a node process and waits until it is gone.
async fn kill_and_reap(mut child: Child, id: u64) -> anyhow::Result<()> {
    child
        .start_kill()
        .with_context(|| format!("killing node {id}"))?;
    child
        .wait()
        .await
        .with_context(|| format!("waiting for node {id}"))?;
    Ok(())
}
