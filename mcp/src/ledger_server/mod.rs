//! The bundled ledger tool server (binary `warden-ledger-tools`): an MCP server whose tools
//! record every completed invocation in the ledger ([`crate::ledger`]), so Warden's demo and
//! tests can check which side effects happened and how often.
//!
//! Tools: `append` (destructive, not idempotent), `put` (idempotent), `get` (read-only) and
//! `noop` (read-only, writes nothing). `append` and `put` take `delay_ms` and ignore
//! cancellation, like a real tool that has started its side effect: a caller that times out
//! or dies during the delay may still find the invocation in the ledger afterwards.
//! A failed ledger or key-value write is never retried: the server then refuses every
//! further call (after a failed fsync the kernel may have dropped the data).

mod http;
mod tools;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

pub use http::http_router;
use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
        ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    },
    service::RequestContext,
};
use serde::{Deserialize, de::DeserializeOwned};
pub use tools::DEFAULT_APPEND_DESCRIPTION;

use crate::{Error, kv_file::KvFile, ledger::LedgerWriter};

/// The MCP handler. Cheap to clone: the HTTP transport makes one per session.
#[derive(Clone)]
pub struct LedgerServer {
    inner: Arc<Inner>,
}

struct Inner {
    ledger: LedgerWriter,
    kv: KvFile,
    tools: Vec<Tool>,
    /// When set, the description of `append` is read from this file on every listing,
    /// so a test can change a tool's definition under a running session (a "rug pull").
    description_file: Option<PathBuf>,
    /// Set after a failed write; from then on every call fails.
    broken: AtomicBool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendArgs {
    entry: String,
    #[serde(default)]
    delay_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutArgs {
    key: String,
    value: String,
    #[serde(default)]
    delay_ms: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GetArgs {
    key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoopArgs {}

impl LedgerServer {
    /// Opens the ledger at `ledger_path` and its key-value file beside it. `append_description`
    /// replaces the description of `append`.
    pub fn open(
        ledger_path: impl Into<PathBuf>,
        append_description: Option<String>,
    ) -> Result<LedgerServer, Error> {
        let ledger = LedgerWriter::open(ledger_path)?;
        let kv = KvFile::beside_ledger(ledger.path())?;
        let description =
            append_description.unwrap_or_else(|| DEFAULT_APPEND_DESCRIPTION.to_owned());
        Ok(LedgerServer {
            inner: Arc::new(Inner {
                ledger,
                kv,
                tools: tools::definitions(&description),
                description_file: None,
                broken: AtomicBool::new(false),
            }),
        })
    }

    /// Like [`LedgerServer::open`], but the description of `append` is read from
    /// `description_file` whenever the tools are listed (the default while it is
    /// missing or empty).
    pub fn open_with_description_file(
        ledger_path: impl Into<PathBuf>,
        description_file: PathBuf,
    ) -> Result<LedgerServer, Error> {
        let ledger = LedgerWriter::open(ledger_path)?;
        let kv = KvFile::beside_ledger(ledger.path())?;
        Ok(LedgerServer {
            inner: Arc::new(Inner {
                ledger,
                kv,
                tools: tools::definitions(DEFAULT_APPEND_DESCRIPTION),
                description_file: Some(description_file),
                broken: AtomicBool::new(false),
            }),
        })
    }

    /// The tools as offered right now.
    fn current_tools(&self) -> Vec<Tool> {
        let Some(path) = &self.inner.description_file else {
            return self.inner.tools.clone();
        };
        match std::fs::read_to_string(path) {
            Ok(text) if !text.trim().is_empty() => tools::definitions(text.trim()),
            _ => self.inner.tools.clone(),
        }
    }

    async fn run_tool(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<CallToolResult, McpError> {
        if self.inner.broken.load(Ordering::SeqCst) {
            return Err(McpError::internal_error(
                "the ledger failed a write earlier",
                None,
            ));
        }
        match tool {
            tools::APPEND => {
                let args: AppendArgs = parse(tool, &arguments)?;
                delay(args.delay_ms).await;
                self.record(tool, arguments).await?;
                Ok(text_result(format!("appended {}", args.entry)))
            }
            tools::PUT => {
                let args: PutArgs = parse(tool, &arguments)?;
                delay(args.delay_ms).await;
                self.blocking(move |inner| inner.kv.put(&args.key, &args.value))
                    .await?;
                self.record(tool, arguments).await?;
                Ok(text_result("ok".to_owned()))
            }
            tools::GET => {
                let args: GetArgs = parse(tool, &arguments)?;
                let key = args.key.clone();
                let value = self.blocking(move |inner| inner.kv.get(&key)).await?;
                self.record(tool, arguments).await?;
                Ok(match value {
                    Some(value) => text_result(value),
                    None => CallToolResult::error(vec![ContentBlock::text(format!(
                        "no value for key {}",
                        args.key
                    ))]),
                })
            }
            tools::NOOP => {
                parse::<NoopArgs>(tool, &arguments)?;
                Ok(text_result("ok".to_owned()))
            }
            other => Err(McpError::invalid_params(
                format!("unknown tool {other}"),
                None,
            )),
        }
    }

    async fn record(
        &self,
        tool: &str,
        arguments: serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), McpError> {
        let tool = tool.to_owned();
        self.blocking(move |inner| inner.ledger.append(&tool, arguments).map(|_| ()))
            .await
    }

    /// Runs a file operation on the blocking pool; a failure marks the server broken.
    async fn blocking<T: Send + 'static>(
        &self,
        operation: impl FnOnce(&Inner) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, McpError> {
        let inner = Arc::clone(&self.inner);
        let outcome = tokio::task::spawn_blocking(move || operation(&inner))
            .await
            .map_err(|error| McpError::internal_error(error.to_string(), None))?;
        outcome.map_err(|error| {
            self.inner.broken.store(true, Ordering::SeqCst);
            tracing::error!(%error, "ledger write failed; refusing further calls");
            McpError::internal_error(error.to_string(), None)
        })
    }
}

impl ServerHandler for LedgerServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "warden-ledger-tools",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions("Test tools that record every invocation in a ledger file.")
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.current_tools()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.current_tools()
            .into_iter()
            .find(|tool| tool.name == name)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let arguments = request.arguments.unwrap_or_default();
        self.run_tool(&request.name, arguments)
            .await
            .map(CallToolResponse::from)
    }
}

fn parse<T: DeserializeOwned>(
    tool: &str,
    arguments: &serde_json::Map<String, serde_json::Value>,
) -> Result<T, McpError> {
    serde_json::from_value(serde_json::Value::Object(arguments.clone()))
        .map_err(|error| McpError::invalid_params(format!("{tool}: {error}"), None))
}

async fn delay(delay_ms: u64) {
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
}

fn text_result(text: String) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}
