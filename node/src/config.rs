//! Node configuration, layered: defaults, then a TOML file, then `WARDEN_*`
//! environment variables, then command-line flags. Validated once at start-up, with
//! every problem reported together.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
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
    /// Where `/metrics` (Prometheus text) is served; off when unset.
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

/// The keys that `WARDEN_*` environment variables may set: `WARDEN_` followed by the key
/// in upper case with `.` as `_` (e.g. `WARDEN_RAFT_HEARTBEAT_INTERVAL=150ms`).
pub const ENV_KEYS: &[&str] = &[
    "node_id",
    "listen",
    "advertise",
    "data_dir",
    "metrics_listen",
    "raft.heartbeat_interval",
    "raft.election_timeout_min",
    "raft.election_timeout_max",
    "raft.install_snapshot_timeout",
    "raft.connect_timeout",
    "raft.snapshot_after_entries",
    "raft.keep_entries_after_snapshot",
    "raft.max_payload_entries",
    "raft.catch_up_lag",
    "limits.max_task_input_bytes",
    "limits.write_timeout",
    "limits.read_timeout",
    "limits.membership_timeout",
    "runtime.capacity",
    "runtime.lease",
    "runtime.heartbeat_interval",
    "runtime.controller_interval",
    "runtime.tool_call_timeout",
    "runtime.max_restarts",
    "secrets.master_key_file",
    "audit.signing_key_file",
    "tls.ca_file",
    "tls.cert_file",
    "tls.key_file",
    "tls.insecure",
    "bootstrap.token_file",
    "mcp.allow_unconfined_stdio",
    "mcp.scratch_dir",
    "providers.api_key_env_allowlist",
    "egress.allow",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    ParseFile { path: PathBuf, message: String },
    #[error("setting {key}: {message}")]
    Setting { key: String, message: String },
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// Builds the effective options: defaults, then `file`, then the environment, then
/// `overrides` (`key=value` pairs from flags), validated.
pub fn load(
    file: Option<&Path>,
    environment: impl IntoIterator<Item = (String, String)>,
    overrides: &[(String, String)],
) -> Result<Options, Error> {
    let mut table = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
                path: path.to_owned(),
                source,
            })?;
            text.parse::<toml::Table>()
                .map_err(|error| Error::ParseFile {
                    path: path.to_owned(),
                    message: error.to_string(),
                })?
        }
        None => toml::Table::new(),
    };
    let environment: Vec<(String, String)> = environment.into_iter().collect();
    for key in ENV_KEYS {
        let name = format!("WARDEN_{}", key.to_uppercase().replace('.', "_"));
        if let Some((_, value)) = environment.iter().find(|(candidate, _)| *candidate == name) {
            set(&mut table, key, value)?;
        }
    }
    for (key, value) in overrides {
        set(&mut table, key, value)?;
    }
    let options: Options = toml::Value::Table(table)
        .try_into()
        .map_err(|error: toml::de::Error| Error::Invalid(vec![error.message().to_owned()]))?;
    let problems = options.problems();
    if problems.is_empty() {
        Ok(options)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Sets `key` (dotted) in `table`. The value is read as TOML when it parses as a TOML
/// value (numbers, booleans, quoted strings) and as a plain string otherwise.
fn set(table: &mut toml::Table, key: &str, value: &str) -> Result<(), Error> {
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut parsed| parsed.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()));
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(inner) => inner,
            _ => {
                return Err(Error::Setting {
                    key: key.to_owned(),
                    message: format!("{part} is not a table"),
                });
            }
        };
    }
    if last.is_empty() {
        return Err(Error::Setting {
            key: key.to_owned(),
            message: "empty key".to_owned(),
        });
    }
    current.insert(last.to_owned(), parsed);
    Ok(())
}

impl Options {
    /// Every problem with these options.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.node_id == 0 {
            problems.push("node_id must be set to a positive integer".to_owned());
        }
        if self.data_dir.as_os_str().is_empty() {
            problems.push("data_dir must not be empty".to_owned());
        }
        if self.limits.max_task_input_bytes == 0
            || self.limits.max_task_input_bytes > MAX_MESSAGE_BYTES / 2
        {
            problems.push(format!(
                "limits.max_task_input_bytes must be between 1 and {}",
                MAX_MESSAGE_BYTES / 2
            ));
        }
        for (key, value) in [
            ("limits.write_timeout", self.limits.write_timeout),
            ("limits.read_timeout", self.limits.read_timeout),
            ("limits.membership_timeout", self.limits.membership_timeout),
        ] {
            if value.is_zero() {
                problems.push(format!("{key} must be positive"));
            }
        }
        for (key, value) in [
            ("runtime.lease", self.runtime.lease),
            (
                "runtime.heartbeat_interval",
                self.runtime.heartbeat_interval,
            ),
            (
                "runtime.controller_interval",
                self.runtime.controller_interval,
            ),
            ("runtime.tool_call_timeout", self.runtime.tool_call_timeout),
        ] {
            if value.is_zero() {
                problems.push(format!("{key} must be positive"));
            }
        }
        if self.runtime.heartbeat_interval * 2 > self.runtime.lease {
            problems.push(
                "runtime.heartbeat_interval must be at most half of runtime.lease".to_owned(),
            );
        }
        if self
            .secrets
            .master_key_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            problems.push("secrets.master_key_file must not be empty".to_owned());
        }
        if self
            .audit
            .signing_key_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            problems.push("audit.signing_key_file must not be empty".to_owned());
        }
        problems.extend(self.tls.problems());
        if self
            .bootstrap
            .token_file
            .as_ref()
            .is_some_and(|path| path.as_os_str().is_empty())
        {
            problems.push("bootstrap.token_file must not be empty".to_owned());
        }
        for variable in &self.providers.api_key_env_allowlist {
            let is_name = !variable.is_empty()
                && !variable.starts_with(|c: char| c.is_ascii_digit())
                && variable
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !is_name {
                problems.push(format!(
                    "providers.api_key_env_allowlist: {variable:?} is not an environment variable name"
                ));
            } else if variable.starts_with("WARDEN_") {
                problems.push(format!(
                    "providers.api_key_env_allowlist: {variable} is Warden's own configuration and cannot hold a provider key"
                ));
            }
        }
        problems.extend(self.raft.problems());
        problems.extend(self.mcp.problems());
        problems
    }
}

impl Tls {
    fn problems(&self) -> Vec<String> {
        let files = [
            ("tls.ca_file", &self.ca_file),
            ("tls.cert_file", &self.cert_file),
            ("tls.key_file", &self.key_file),
        ];
        let set: Vec<&str> = files
            .iter()
            .filter(|(_, file)| file.is_some())
            .map(|(key, _)| *key)
            .collect();
        let mut problems = Vec::new();
        if self.insecure && !set.is_empty() {
            problems.push(format!(
                "tls.insecure = true conflicts with {}: use TLS or not",
                set.join(", ")
            ));
        } else if !self.insecure && set.len() < files.len() {
            let missing: Vec<&str> = files
                .iter()
                .filter(|(_, file)| file.is_none())
                .map(|(key, _)| *key)
                .collect();
            problems.push(format!(
                "{} must be set (the cluster CA, this node's certificate and its key: `warden cert --help`), or tls.insecure = true for development without TLS",
                missing.join(", ")
            ));
        }
        for (key, file) in files {
            if file
                .as_ref()
                .is_some_and(|path| path.as_os_str().is_empty())
            {
                problems.push(format!("{key} must not be empty"));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_apply_in_order_file_env_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("warden.toml");
        std::fs::write(
            &path,
            "node_id = 1\ndata_dir = \"/from/file\"\n[raft]\nheartbeat_interval = \"150ms\"\n",
        )
        .expect("write config");
        let options = load(
            Some(&path),
            env(&[("WARDEN_DATA_DIR", "/from/env"), ("WARDEN_NODE_ID", "2")]),
            &[
                ("node_id".into(), "3".into()),
                ("tls.insecure".into(), "true".into()),
            ],
        )
        .expect("valid");
        assert_eq!(options.node_id, 3, "flag beats env and file");
        assert_eq!(
            options.data_dir,
            PathBuf::from("/from/env"),
            "env beats file"
        );
        assert_eq!(
            options.raft.heartbeat_interval,
            Duration::from_millis(150),
            "file beats default"
        );
        assert_eq!(
            options.limits.write_timeout,
            Duration::from_secs(5),
            "default kept"
        );
    }

    #[test]
    fn a_node_without_tls_files_refuses_to_start_unless_insecure() {
        let error =
            load(None, env(&[]), &[("node_id".into(), "1".into())]).expect_err("no tls files");
        let text = error.to_string();
        assert!(
            text.contains("tls.ca_file, tls.cert_file, tls.key_file must be set"),
            "{text}"
        );
        assert!(text.contains("tls.insecure"), "{text}");
        let partial = load(
            None,
            env(&[("WARDEN_TLS_CA_FILE", "/ca.pem")]),
            &[("node_id".into(), "1".into())],
        )
        .expect_err("partial tls");
        assert!(
            partial
                .to_string()
                .contains("tls.cert_file, tls.key_file must be set")
        );
        let both = load(
            None,
            env(&[("WARDEN_TLS_CA_FILE", "/ca.pem")]),
            &[
                ("node_id".into(), "1".into()),
                ("tls.insecure".into(), "true".into()),
            ],
        )
        .expect_err("insecure with files");
        assert!(
            both.to_string().contains("conflicts with tls.ca_file"),
            "{both}"
        );
        let insecure = load(
            None,
            env(&[("WARDEN_TLS_INSECURE", "true")]),
            &[("node_id".into(), "1".into())],
        )
        .expect("insecure is explicit");
        assert!(insecure.tls.insecure);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let error = load(
            None,
            env(&[]),
            &[
                ("node_id".into(), "1".into()),
                ("nodeid".into(), "2".into()),
            ],
        )
        .expect_err("unknown key");
        assert!(error.to_string().contains("nodeid"), "{error}");
    }

    #[test]
    fn the_boundary_options_come_from_the_file_the_environment_or_flags() {
        let options = load(
            None,
            env(&[
                ("WARDEN_NODE_ID", "1"),
                ("WARDEN_TLS_INSECURE", "true"),
                ("WARDEN_EGRESS_ALLOW", r#"["loopback", "10.0.0.0/8"]"#),
            ]),
            &[(
                "providers.api_key_env_allowlist".into(),
                r#"["OPENAI_API_KEY"]"#.into(),
            )],
        )
        .expect("valid");
        assert_eq!(
            options
                .egress
                .allow
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["loopback", "10.0.0.0/8"]
        );
        assert_eq!(options.providers.api_key_env_allowlist, ["OPENAI_API_KEY"]);
        let defaults = Options::default();
        assert!(
            defaults.egress.allow.is_empty(),
            "nothing internal by default"
        );
        assert!(defaults.providers.api_key_env_allowlist.is_empty());
    }

    #[test]
    fn the_master_key_and_bad_names_cannot_be_allowlisted_nor_unknown_classes_allowed() {
        let error = load(
            None,
            env(&[]),
            &[
                ("node_id".into(), "1".into()),
                (
                    "providers.api_key_env_allowlist".into(),
                    r#"["WARDEN_MASTER_KEY", "bad name", "OPENAI_API_KEY"]"#.into(),
                ),
            ],
        )
        .expect_err("invalid");
        let text = error.to_string();
        assert!(text.contains("WARDEN_MASTER_KEY is Warden's own"), "{text}");
        assert!(
            text.contains("\"bad name\" is not an environment variable"),
            "{text}"
        );
        assert!(!text.contains("OPENAI_API_KEY"), "{text}");
        let error = load(
            None,
            env(&[]),
            &[
                ("node_id".into(), "1".into()),
                ("egress.allow".into(), r#"["intranet"]"#.into()),
            ],
        )
        .expect_err("unknown class");
        assert!(error.to_string().contains("intranet"), "{error}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let error = load(
            None,
            env(&[]),
            &[
                ("raft.election_timeout_min".into(), "1s".into()),
                ("raft.election_timeout_max".into(), "500ms".into()),
                ("limits.max_task_input_bytes".into(), "0".into()),
            ],
        )
        .expect_err("invalid");
        let text = error.to_string();
        assert!(text.contains("node_id"), "{text}");
        assert!(text.contains("election_timeout_max"), "{text}");
        assert!(text.contains("max_task_input_bytes"), "{text}");
    }
}
