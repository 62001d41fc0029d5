//! What the agent runtime needs from the node it runs on: the replicated log (propose,
//! read, a read barrier), the node's lease, its tool sessions, model clients, and the
//! opening of sealed secrets with its master key. The node implements it; the actors
//! never see gRPC, Raft or the master key, and tests run them against a double.

use std::time::Duration;

use futures::future::BoxFuture;
use warden_core::{Command, NodeId, Outcome, Provider, WorkspaceId};
use warden_egress::Policy;
use warden_secrets::{SealedSecret, SecretString};

use crate::model::Model;
use crate::store::{Store, StoreError};
use crate::tools::Tools;

/// Why the host could not do what the runtime asked. Every variant leaves the outcome
/// of a proposal unknown, so the runtime re-reads the state before going on.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("no quorum: {0}")]
    Unavailable(String),
    #[error("storage: {0}")]
    Storage(String),
}

impl From<StoreError> for HostError {
    fn from(error: StoreError) -> HostError {
        HostError::Storage(error.0)
    }
}

/// Why a sealed secret could not be opened. No variant carries plaintext.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "this node has no master key configured (secrets.master_key_file; make one with `warden keygen --out FILE`)"
    )]
    NoMasterKey,
    #[error("workspace {0} not found")]
    WorkspaceNotFound(WorkspaceId),
    #[error("workspace {0} has no key")]
    NoWorkspaceKey(WorkspaceId),
    #[error(transparent)]
    Crypto(#[from] warden_secrets::Error),
    /// Reading the workspace failed: like `HostError::Storage`, not the secret's fault.
    #[error("storage: {0}")]
    Storage(String),
}

/// How the runtime runs tasks on this node.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Restarts of a failed task actor before the task fails.
    pub max_restarts: u32,
    /// First and longest wait before restarting a failed task actor.
    pub restart_backoff_min: Duration,
    pub restart_backoff_max: Duration,
    /// How long one tool call may take.
    pub tool_call_timeout: Duration,
    /// Longest tool output journaled; longer output is cut and marked.
    pub max_tool_output_bytes: usize,
    /// How long a task waits for its node's lease before it starts a tool call.
    pub lease_wait: Duration,
    /// The environment variables a provider record may name as its API key
    /// (`api_key_env`); from the node's configuration, empty by default.
    pub api_key_env_allowlist: Vec<String>,
    /// Where model providers may be reached (the node's `egress` configuration).
    pub egress: Policy,
}

impl Default for RuntimeOptions {
    fn default() -> RuntimeOptions {
        RuntimeOptions {
            max_restarts: 3,
            restart_backoff_min: Duration::from_millis(200),
            restart_backoff_max: Duration::from_secs(5),
            tool_call_timeout: Duration::from_secs(60),
            max_tool_output_bytes: 64 * 1024,
            lease_wait: Duration::from_secs(5),
            api_key_env_allowlist: Vec::new(),
            egress: Policy::default(),
        }
    }
}

pub trait Host: Send + Sync + 'static {
    fn node(&self) -> NodeId;

    /// Commits `command` under this node's principal and returns what applying it
    /// produced (a rejection is an `Outcome`, not an error).
    fn propose(&self, command: Command) -> BoxFuture<'_, Result<Outcome, HostError>>;

    /// Waits until this node has applied every write committed before the call.
    fn sync(&self) -> BoxFuture<'_, Result<(), HostError>>;

    /// The state this node has applied.
    fn reader(&self) -> &dyn Store;

    /// Whether this node still holds its lease: the leader heard from it recently
    /// enough that its tasks cannot have been given to another node. Checked right
    /// before every tool call, the one step a stale owner could do harm with.
    fn holds_lease(&self) -> bool;

    fn tools(&self) -> &dyn Tools;

    /// A client for `provider`, with `opened` (its stored key, opened just now) or the key
    /// its allowlisted variable names; `Err` says why the provider cannot be used here.
    fn model(
        &self,
        provider: &Provider,
        opened: Option<SecretString>,
    ) -> Result<Box<dyn Model>, String> {
        crate::provider::client(provider, opened, self.options())
            .map(|client| Box::new(client) as Box<dyn Model>)
    }

    /// Opens `sealed`, a secret of `workspace` sealed with `context`: unwraps the
    /// workspace's key with this node's master key and decrypts. Call it right before
    /// the plaintext is used, and keep the result no longer than that use.
    fn open_secret(
        &self,
        workspace: &WorkspaceId,
        context: &str,
        sealed: &SealedSecret,
    ) -> Result<SecretString, SecretError>;

    fn options(&self) -> &RuntimeOptions;
}
