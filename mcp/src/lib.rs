//! MCP tool sessions: rmcp clients for stdio and streamable-HTTP servers ([`McpSession`]),
//! their supervision with ractor ([`ToolSessions`]), and the bundled ledger tool server.

// Landlock and prctl have no safe wrapper here: the unsafe syscalls stay in this module.
#[allow(unsafe_code)]
mod confine;
mod error;
mod http_client;
mod kv_file;
pub mod ledger;
pub mod ledger_server;
mod options;
mod restart_policy;
pub mod session;
mod session_actor;
mod sessions;
mod spec;
mod stderr_tail;
mod supervisor;
mod tool;

pub use confine::{StdioSandbox, landlock_abi};
pub use error::Error;
pub use ledger::{LedgerEntry, read_ledger};
pub use options::SessionOptions;
pub use session::McpSession;
pub use sessions::ToolSessions;
pub use spec::{Secret, ServerSpec};
pub use tool::{CallOutput, ToolInfo};
