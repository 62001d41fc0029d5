//! Workspace configuration records: model providers, MCP servers with their pinned tool
//! definitions, and agents with their tool grants and limits.

use serde::{Deserialize, Serialize};
use warden_secrets::SealedSecret;

use crate::hash::Hash;
use crate::ids::WorkspaceId;
use crate::names::{AgentName, CatalogName, ProviderName, ServerName, ToolName};
use crate::resource::config_resource;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProviderKind {
    /// Any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, LiteLLM).
    OpenAi,
    /// Anthropic's Messages API.
    Anthropic,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
        }
    }
}

/// A model endpoint. Its API key is either stored sealed by the workspace key (`api_key`)
/// or named by `api_key_env`, the environment variable the node running a task reads it
/// from, provided that node's own configuration allowlists the variable
/// (`providers.api_key_env_allowlist`); never both. Plaintext never enters the replicated
/// state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provider {
    pub workspace: WorkspaceId,
    pub name: ProviderName,
    pub kind: ProviderKind,
    pub base_url: String,
    pub model: String,
    pub api_key_env: Option<String>,
    /// Sealed with the context [`provider_key_context`].
    pub api_key: Option<SealedSecret>,
    pub request_timeout_ms: u64,
    pub max_retries: u32,
    pub max_output_tokens: u32,
    pub version: u64,
    pub updated_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum McpTransport {
    /// A server started as a child process speaking MCP over stdin/stdout: the cluster
    /// catalog's entry `catalog`, resolved by the node that starts it, with the extra
    /// `args` the entry allows appended to its own.
    Stdio {
        catalog: CatalogName,
        args: Vec<String>,
        /// Listed as given: no secrets here.
        env: Vec<(String, String)>,
        /// Variables whose values are sealed (context [`mcp_env_context`]), added to the
        /// child's environment by the node that starts it.
        secret_env: Vec<(String, SealedSecret)>,
    },
    /// A server reached over MCP's streamable HTTP transport.
    Http {
        url: String,
        /// Sent as `Authorization: Bearer`; sealed with the context [`mcp_bearer_context`].
        bearer: Option<SealedSecret>,
    },
}

impl McpTransport {
    /// Whether the transport carries sealed secrets.
    pub fn has_secrets(&self) -> bool {
        match self {
            McpTransport::Stdio { secret_env, .. } => !secret_env.is_empty(),
            McpTransport::Http { bearer, .. } => bearer.is_some(),
        }
    }
}

/// The context a provider's API key is sealed with: it binds the ciphertext to the record.
pub fn provider_key_context(workspace: &WorkspaceId, provider: &ProviderName) -> String {
    config_resource(workspace, "provider", provider.as_str())
}

/// The context the value of the secret environment variable `variable` of an MCP server
/// is sealed with.
pub fn mcp_env_context(workspace: &WorkspaceId, server: &ServerName, variable: &str) -> String {
    format!(
        "{}/env/{variable}",
        config_resource(workspace, "mcp_server", server.as_str())
    )
}

/// The context an HTTP MCP server's bearer token is sealed with.
pub fn mcp_bearer_context(workspace: &WorkspaceId, server: &ServerName) -> String {
    format!(
        "{}/bearer",
        config_resource(workspace, "mcp_server", server.as_str())
    )
}

/// One tool as its server described it at registration: the definition is pinned by
/// its hash. Its annotations are the server's word only: they make an interrupted call
/// retry-safe only where the pin trusts them (`McpServer::trust_annotations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: ToolName,
    pub description: String,
    /// The tool's JSON Schema for its arguments, as JSON text.
    pub input_schema: String,
    pub read_only: bool,
    pub idempotent: bool,
    pub destructive: bool,
    /// The whole definition as the server listed it, as JSON: title, output schema, every
    /// annotation (openWorldHint too), icons, `_meta`. The fields above are read from it;
    /// this one makes the pin (and its hash) cover the rest, so a change to any part of
    /// the listing is drift.
    pub listed: String,
}

impl ToolDefinition {
    /// SHA-256 of the definition's JSON encoding: what a registration pins.
    pub fn definition_hash(&self) -> Hash {
        match serde_json::to_vec(self) {
            Ok(bytes) => Hash::of(&bytes),
            // Serializing strings and booleans cannot fail.
            Err(_) => Hash::ZERO,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpServer {
    pub workspace: WorkspaceId,
    pub name: ServerName,
    pub transport: McpTransport,
    /// The pinned tool definitions; empty until `pinned`.
    pub tools: Vec<ToolDefinition>,
    /// Registration stores the server unpinned; the node that registered it then lists
    /// its tools and pins them with a second command. None of an unpinned server's tools
    /// can be granted or called.
    pub pinned: bool,
    /// Raised by registering and by pinning, so a pin for an older registration is refused.
    pub version: u64,
    pub registered_ms: u64,
    /// Pinned tools the server later offered with another definition (the hash of what
    /// it offered): blocked until an admin re-pins them by registering the server again.
    pub drifted: Vec<(ToolName, Hash)>,
    /// Whether the tools' read-only and idempotent annotations make an interrupted call
    /// retry-safe (when its grant does not say). Recorded by the pin from the pinning
    /// node's `mcp.trust_tool_annotations` (default false: only a grant's `retry_safe`
    /// does), so `apply()` decides alike on every node.
    pub trust_annotations: bool,
}

impl McpServer {
    pub fn tool(&self, name: &ToolName) -> Option<&ToolDefinition> {
        self.tools.iter().find(|tool| &tool.name == name)
    }

    /// The definition hash the server offered for `name` when it no longer matched the pin.
    pub fn drift(&self, name: &ToolName) -> Option<Hash> {
        self.drifted
            .iter()
            .find(|(tool, _)| tool == name)
            .map(|(_, offered)| *offered)
    }
}

/// Permission for an agent to call one tool of one server. `retry_safe` says whether a
/// call interrupted by a failover may be started again; unset, it is not, unless the
/// server's pin trusts the tool's annotations (`McpServer::trust_annotations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolGrant {
    pub server: ServerName,
    pub tool: ToolName,
    pub retry_safe: Option<bool>,
}

/// Limits every task of an agent runs under, fixed when the task is submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Model turns a task may take.
    pub max_steps: u32,
    /// Input plus output tokens a task may use across its model calls.
    pub token_budget: u64,
    /// How long a task may take from submission to a terminal state.
    pub deadline_ms: u64,
    /// How long a running task may go without journal progress before it is marked stalled.
    pub stall_timeout_ms: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_steps: 32,
            token_budget: 200_000,
            deadline_ms: 30 * 60 * 1000,
            stall_timeout_ms: 5 * 60 * 1000,
        }
    }
}

/// What a caller sets on an agent; the record adds bookkeeping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentSpec {
    pub name: AgentName,
    pub instructions: String,
    pub provider: ProviderName,
    pub tools: Vec<ToolGrant>,
    pub limits: Limits,
    /// A paused agent's tasks are not placed (they wait, visibly `pending`), and its
    /// running tasks take no new step until it is resumed.
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub workspace: WorkspaceId,
    pub spec: AgentSpec,
    pub version: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
}

impl Agent {
    pub fn grant(&self, server: &ServerName, tool: &ToolName) -> Option<&ToolGrant> {
        self.spec
            .tools
            .iter()
            .find(|grant| &grant.server == server && &grant.tool == tool)
    }
}
