//! The file `wardenctl workspace export` writes and `workspace apply` reads: a workspace's
//! configuration in YAML, without secrets (a stored one is marked `sealed`), in a fixed
//! order, so that exporting the same configuration gives the same text.

use serde::{Deserialize, Serialize};
use warden_core::policy::PolicySet;

/// The most bytes a file may have.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub workspace: String,
    /// The hash of the configuration the file was exported from: applying the file is
    /// refused once the workspace's configuration is another (unless it is the file's
    /// own, or none). A file without one was not exported and is applied as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<ServerDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<AgentDoc>,
    /// Absent: the workspace's policy is left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budgets: Vec<BudgetDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleDoc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<TriggerDoc>,
}

/// Where a secret is: the only value a file holds for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stored {
    /// Stored in the cluster, sealed with the workspace's key.
    Sealed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderDoc {
    pub name: String,
    /// `openai` or `anthropic`.
    pub kind: String,
    pub base_url: String,
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<Stored>,
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    #[serde(default)]
    pub max_retries: u32,
    #[serde(default = "default_max_output_tokens")]
    pub max_output_tokens: u32,
}

fn default_request_timeout_ms() -> u64 {
    60_000
}

fn default_max_output_tokens() -> u32 {
    1024
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerDoc {
    pub name: String,
    /// A stdio server: the cluster catalog's entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub env: std::collections::BTreeMap<String, String>,
    /// The names of the variables whose values are sealed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<String>,
    /// An HTTP server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer: Option<Stored>,
    /// The pinned tools, each with the hash of its definition. When given, a server
    /// registered by `apply` must offer exactly these; absent, what it offers is pinned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentDoc {
    pub name: String,
    pub provider: String,
    #[serde(default)]
    pub instructions: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<GrantDoc>,
    #[serde(default)]
    pub limits: LimitsDoc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantDoc {
    pub server: String,
    pub tool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_safe: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsDoc {
    pub max_steps: u32,
    pub token_budget: u64,
    pub deadline_ms: u64,
    pub stall_timeout_ms: u64,
}

impl Default for LimitsDoc {
    fn default() -> LimitsDoc {
        LimitsDoc::from(warden_core::Limits::default())
    }
}

impl From<warden_core::Limits> for LimitsDoc {
    fn from(limits: warden_core::Limits) -> LimitsDoc {
        LimitsDoc {
            max_steps: limits.max_steps,
            token_budget: limits.token_budget,
            deadline_ms: limits.deadline_ms,
            stall_timeout_ms: limits.stall_timeout_ms,
        }
    }
}

impl From<LimitsDoc> for warden_core::Limits {
    fn from(limits: LimitsDoc) -> warden_core::Limits {
        warden_core::Limits {
            max_steps: limits.max_steps,
            token_budget: limits.token_budget,
            deadline_ms: limits.deadline_ms,
            stall_timeout_ms: limits.stall_timeout_ms,
        }
    }
}

/// A budget's limits: the workspace's (no `agent`) or one agent's. A limit left out is
/// unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDoc {
    pub name: String,
    pub cron: String,
    pub timezone: String,
    pub agent: String,
    #[serde(default)]
    pub input: String,
    /// `skip` or `run_once`.
    #[serde(default = "default_catch_up")]
    pub catch_up: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
}

fn default_catch_up() -> String {
    "skip".to_owned()
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// A webhook trigger; its secret is always stored (sealed), never in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerDoc {
    pub name: String,
    pub agent: String,
    #[serde(default)]
    pub input: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
}

impl Document {
    /// The file's text, with its revision.
    pub fn render(&self) -> Result<String, String> {
        let mut with = self.clone();
        with.revision = Some(self.revision_of()?);
        let body = yaml_serde::to_string(&with).map_err(|error| error.to_string())?;
        Ok(format!(
            "# The configuration of workspace {}, from `wardenctl workspace export`.\n# Secrets are not in it: a stored one is marked `sealed`.\n{body}",
            self.workspace
        ))
    }

    /// The hash of the configuration the document holds (its revision left out).
    pub fn revision_of(&self) -> Result<String, String> {
        let mut without = self.clone();
        without.revision = None;
        let text = yaml_serde::to_string(&without).map_err(|error| error.to_string())?;
        Ok(format!(
            "sha256:{}",
            warden_core::Hash::of(text.as_bytes()).to_hex()
        ))
    }

    /// Whether it holds no configuration at all.
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
            && self.mcp_servers.is_empty()
            && self.agents.is_empty()
            && self.policy.is_none()
            && self.budgets.is_empty()
            && self.schedules.is_empty()
            && self.triggers.is_empty()
    }

    pub fn parse(text: &str) -> Result<Document, String> {
        if text.len() > MAX_DOCUMENT_BYTES {
            return Err(format!(
                "a file has at most {MAX_DOCUMENT_BYTES} bytes, not {}",
                text.len()
            ));
        }
        yaml_serde::from_str(text).map_err(|error| error.to_string())
    }
}
