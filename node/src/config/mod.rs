//! Node configuration: the options and their defaults. `load.rs` layers defaults, a TOML
//! file, `WARDEN_*` environment variables and flags; `checks.rs` validates the result,
//! every problem reported together.

mod checks;
mod load;
#[cfg(test)]
mod tests;

pub use load::{ENV_KEYS, Error, load};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Options {
    /// This node's Raft id: positive and unique in the cluster.
    pub node_id: u64,
    /// Where the gRPC API (public and node-to-node) listens. Port 0 picks a free port at
    /// first start and keeps it across restarts (it is remembered in the data directory),
    /// because peers know a node by the address it had when it joined.
    pub listen: SocketAddr,
    /// The address peers and clients use to reach this node; defaults to the bound
    /// listen address.
    pub advertise: Option<String>,
    /// Where the RocksDB database lives.
    pub data_dir: PathBuf,
    /// The HTTP listener: `/metrics` (Prometheus text), `/healthz` and `/readyz`; off
    /// when unset.
    pub metrics_listen: Option<SocketAddr>,
    pub raft: warden_raft::Options,
    pub limits: Limits,
    pub runtime: Runtime,
    pub secrets: Secrets,
    pub audit: Audit,
    pub tls: Tls,
    pub bootstrap: Bootstrap,
    pub mcp: crate::sandbox::Mcp,
    pub providers: Providers,
    /// Which addresses this node may connect to for model providers and HTTP MCP servers
    /// (a workspace chooses the URLs): public unicast always, loopback, link-local,
    /// private, CGNAT and other internal classes only when `allow` names them or a network
    /// holding them. Checked on resolved addresses when connecting.
    pub egress: warden_egress::Policy,
    pub traces: Traces,
    pub console: Console,
    pub webhooks: Webhooks,
}

/// How the leader sends webhook deliveries: each attempt within `timeout`, retried after
/// `retry_delay`, doubling up to `max_retry_delay`, until `retry_for` has passed since the
/// event, when the delivery is given up (recorded as failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Webhooks {
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub max_retry_delay: Duration,
    #[serde(with = "humantime_serde")]
    pub retry_for: Duration,
}

impl Default for Webhooks {
    fn default() -> Webhooks {
        Webhooks {
            timeout: Duration::from_secs(10),
            retry_delay: Duration::from_secs(1),
            max_retry_delay: Duration::from_secs(3600),
            retry_for: Duration::from_secs(24 * 3600),
        }
    }
}

/// The console (web pages for approvers, operators and auditors); off unless `listen`
/// is set. Served with this node's TLS certificate when the node has one. Sessions are
/// sealed with a key derived from the master key, so every node of a cluster accepts
/// the others' sessions; a node without a master key uses a random key of its own (its
/// sessions end when it restarts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Console {
    pub listen: Option<SocketAddr>,
    /// How long a sign-in lasts.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// The console's address as people reach it (`https://warden.example.com`), for the
    /// links in webhook deliveries; unset, they link to `listen` on the sending node.
    pub public_url: Option<String>,
}

impl Default for Console {
    fn default() -> Console {
        Console {
            listen: None,
            session_ttl: Duration::from_secs(8 * 3600),
            public_url: None,
        }
    }
}

/// OpenTelemetry traces of tasks, sent over OTLP/gRPC to a collector; off unless
/// `otlp_endpoint` is set. One trace per task, built from its journal when it ends (see
/// `traces.rs`); tool arguments, outputs and model messages are never included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Traces {
    /// The collector, e.g. `http://127.0.0.1:4317`.
    pub otlp_endpoint: Option<String>,
    /// How often the spans of ended tasks are sent.
    #[serde(with = "humantime_serde")]
    pub export_interval: Duration,
}

impl Default for Traces {
    fn default() -> Traces {
        Traces {
            otlp_endpoint: None,
            export_interval: Duration::from_secs(5),
        }
    }
}

/// Transport security for clients and peers. Set the three files (the cluster CA, and
/// this node's certificate and key from that CA, naming `node-<node_id>.warden`): the
/// node then serves TLS only, presents its certificate to its peers and accepts as a
/// peer only a current member proving its identity with the CA's certificate. Without
/// them the node refuses to start, unless `insecure` is set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    /// Mode 0600 or stricter.
    pub key_file: Option<PathBuf>,
    /// Plain text and no peer authentication: anyone who reaches the port can act as a
    /// node. For development on one machine only; logged loudly at start.
    pub insecure: bool,
}

/// What `InitCluster` needs on this node: the bootstrap token, a secret the operator
/// creates and gives only to the node that starts the cluster, so that whoever reaches a
/// fresh node first cannot make themselves its admin. Instead of a file, the variable
/// `WARDEN_BOOTSTRAP_TOKEN` may hold it. A node without one can join a cluster, not start
/// one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Bootstrap {
    /// A file holding the token (at least 32 characters), mode 0600 or stricter.
    pub token_file: Option<PathBuf>,
}

/// How this node may obtain provider API keys besides the sealed ones in the state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Providers {
    /// The environment variables of this node a provider record may name as its API key
    /// (`api_key_env`), e.g. `["OPENAI_API_KEY"]`. Empty by default: a workspace can then
    /// only use keys stored sealed (`api_key`). Set it only in this node's own
    /// configuration; it is never taken from a request. `WARDEN_*` variables (the master
    /// key among them) cannot be listed.
    pub api_key_env_allowlist: Vec<String>,
}

/// Where this node's master key comes from. It wraps every workspace's key, which seals
/// the workspace's secrets (provider API keys, MCP credentials); every node of a cluster
/// needs the same one. Instead of a file, the environment variable `WARDEN_MASTER_KEY`
/// may hold the key itself (never set both). Without either the node runs, but refuses
/// every request that carries a secret, and cannot run tasks that need a stored one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Secrets {
    /// A file holding the 32-byte master key as hex or base64, mode 0600 or stricter, and
    /// outside `data_dir` (the node refuses to start otherwise).
    pub master_key_file: Option<PathBuf>,
}

/// How this node anchors the audit chain. With a signing key (`warden audit keygen`), the
/// node signs checkpoints of its applied audit head every `checkpoint_interval` records
/// (fixed at `cluster init`) and on demand (`wardenctl audit checkpoint`); its public key
/// is recorded in the log when the cluster starts on it or when it is added. Without one
/// it runs and signs nothing (`wardenctl audit heads` shows it unsigned).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// A file holding the node's ed25519 secret key as 64 hex digits, mode 0600 or
    /// stricter, and outside `data_dir` (the node refuses to start otherwise).
    pub signing_key_file: Option<PathBuf>,
}

/// How this node runs agent tasks, and how the leader decides nodes are alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Runtime {
    /// How many tasks this node runs at once; 0 makes it run none (a pure voter).
    pub capacity: u32,
    /// How long the leader waits without a heartbeat before it gives a node's tasks to
    /// other nodes; a node stops starting tool calls once its last heartbeat answer is
    /// older than this.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// How often the leader places tasks and checks deadlines and stalls.
    #[serde(with = "humantime_serde")]
    pub controller_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub tool_call_timeout: Duration,
    /// Restarts of a failed task actor before its task fails.
    pub max_restarts: u32,
}

impl Default for Runtime {
    fn default() -> Runtime {
        Runtime {
            capacity: 64,
            lease: Duration::from_secs(3),
            heartbeat_interval: Duration::from_millis(500),
            controller_interval: Duration::from_millis(200),
            tool_call_timeout: Duration::from_secs(60),
            max_restarts: 3,
        }
    }
}

/// API limits and waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// A task input longer than this is refused with RESOURCE_EXHAUSTED.
    pub max_task_input_bytes: usize,
    /// How long a write waits to be committed before it answers UNAVAILABLE.
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    /// How long a linearizable read waits for the read index.
    #[serde(with = "humantime_serde")]
    pub read_timeout: Duration,
    /// How long adding a node may take to catch it up.
    #[serde(with = "humantime_serde")]
    pub membership_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            node_id: 0,
            listen: SocketAddr::from(([127, 0, 0, 1], 7400)),
            advertise: None,
            data_dir: PathBuf::from("warden-data"),
            metrics_listen: None,
            raft: warden_raft::Options::default(),
            limits: Limits::default(),
            runtime: Runtime::default(),
            secrets: Secrets::default(),
            audit: Audit::default(),
            tls: Tls::default(),
            bootstrap: Bootstrap::default(),
            mcp: crate::sandbox::Mcp::default(),
            providers: Providers::default(),
            egress: warden_egress::Policy::default(),
            traces: Traces::default(),
            console: Console::default(),
            webhooks: Webhooks::default(),
        }
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_task_input_bytes: 64 * 1024,
            write_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(5),
            membership_timeout: Duration::from_secs(60),
        }
    }
}

/// The largest gRPC message the server accepts; inputs must fit well inside it.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
