//! Layering the configuration: defaults, then a TOML file, then `WARDEN_*` environment
//! variables, then `key=value` flags; every problem is reported together.

use std::path::{Path, PathBuf};

use super::Options;

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
    "mcp.stdio_read_paths",
    "mcp.scratch_dir",
    "mcp.trust_tool_annotations",
    "providers.api_key_env_allowlist",
    "egress.allow",
    "traces.otlp_endpoint",
    "traces.export_interval",
    "console.listen",
    "console.session_ttl",
    "console.public_url",
    "webhooks.timeout",
    "webhooks.retry_delay",
    "webhooks.max_retry_delay",
    "webhooks.retry_for",
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
    let options: Options = match toml::Value::Table(table.clone()).try_into() {
        Ok(options) => options,
        Err(error) => return Err(Error::Invalid(setting_problems(&table, &error))),
    };
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
    let path: Vec<String> = key.split('.').map(str::to_owned).collect();
    if path.iter().any(String::is_empty) {
        return Err(Error::Setting {
            key: key.to_owned(),
            message: "empty key".to_owned(),
        });
    }
    insert_at(table, &path, parsed).map_err(|message| Error::Setting {
        key: key.to_owned(),
        message,
    })
}

/// Every setting of `table` that cannot be read on its own (an unknown key, a value of
/// the wrong type), each named by its dotted key, so one run reports them all; `whole`
/// when none does by itself.
fn setting_problems(table: &toml::Table, whole: &toml::de::Error) -> Vec<String> {
    let mut leaves = Vec::new();
    collect_leaves(table, &mut Vec::new(), &mut leaves);
    let problems: Vec<String> = leaves
        .into_iter()
        .filter_map(|(path, value)| {
            let mut alone = toml::Table::new();
            // A fresh table holds no value in the way.
            insert_at(&mut alone, &path, value).ok()?;
            toml::Value::Table(alone)
                .try_into::<Options>()
                .err()
                .map(|error| format!("{}: {}", path.join("."), error.message()))
        })
        .collect();
    if problems.is_empty() {
        vec![whole.message().to_owned()]
    } else {
        problems
    }
}

/// The non-table values of `table` with their key paths; an empty table is a leaf too.
fn collect_leaves(
    table: &toml::Table,
    path: &mut Vec<String>,
    leaves: &mut Vec<(Vec<String>, toml::Value)>,
) {
    for (key, value) in table {
        path.push(key.clone());
        match value {
            toml::Value::Table(inner) if !inner.is_empty() => collect_leaves(inner, path, leaves),
            other => leaves.push((path.clone(), other.clone())),
        }
        path.pop();
    }
}

/// Puts `value` at `path` in `table`, making the tables on the way; an error naming the
/// part of the path that holds a value instead of a table.
fn insert_at(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty key".to_owned());
    };
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let toml::Value::Table(inner) = entry else {
            return Err(format!("{part} is not a table"));
        };
        current = inner;
    }
    current.insert(last.clone(), value);
    Ok(())
}
