//! How this node confines the stdio MCP servers it starts: the `[mcp]` settings, and the
//! `StdioSandbox` built from them with the node's own protected paths (its data
//! directory and master key file), which no child may be granted.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use warden_mcp::StdioSandbox;

/// `[mcp]`: stdio MCP server confinement, and whether this node's pins trust tool
/// annotations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mcp {
    /// Start stdio servers without Landlock when this kernel has none (logged loudly at
    /// start). Off by default: such a node refuses to start them (fail closed).
    pub allow_unconfined_stdio: bool,
    /// Paths every stdio server may read and execute. Catalog entries add their own.
    pub stdio_read_paths: Vec<PathBuf>,
    /// Where each stdio session's scratch directory (its `TMPDIR` and `HOME`) is made;
    /// the system's temporary directory when unset.
    pub scratch_dir: Option<PathBuf>,
    /// Whether a server this node registers is pinned trusting its tools' read-only and
    /// idempotent annotations, which then make an interrupted call retry-safe when its
    /// grant does not say. Off by default: only a grant's `retry_safe` does (a server can
    /// call a destructive tool read-only). Recorded in the pin, so every node decides alike.
    pub trust_tool_annotations: bool,
}

impl Default for Mcp {
    fn default() -> Mcp {
        Mcp {
            allow_unconfined_stdio: false,
            stdio_read_paths: StdioSandbox::default().read_paths,
            scratch_dir: None,
            trust_tool_annotations: false,
        }
    }
}

impl Mcp {
    /// The sandbox for this node's stdio servers, protecting `data_dir` and the node's
    /// secret files (`secrets`: the master key, the TLS key, the bootstrap token).
    pub fn sandbox<'a>(
        &self,
        data_dir: &'a Path,
        secrets: impl IntoIterator<Item = &'a Path>,
    ) -> StdioSandbox {
        let defaults = StdioSandbox::default();
        let sandbox = StdioSandbox {
            read_paths: self.stdio_read_paths.clone(),
            scratch_root: self.scratch_dir.clone().unwrap_or(defaults.scratch_root),
            protected: std::iter::once(data_dir)
                .chain(secrets)
                .map(Path::to_path_buf)
                .collect(),
            allow_unconfined: self.allow_unconfined_stdio,
        };
        match warden_mcp::landlock_abi() {
            Some(abi) => tracing::info!(abi, "stdio mcp servers are confined with landlock"),
            None if sandbox.allow_unconfined => tracing::error!(
                "THIS KERNEL HAS NO LANDLOCK and mcp.allow_unconfined_stdio is set: stdio mcp \
                 servers run UNCONFINED and can read this node's data directory and keys"
            ),
            None => tracing::warn!(
                "this kernel has no landlock: stdio mcp servers will be refused \
                 (set mcp.allow_unconfined_stdio to run them unconfined)"
            ),
        }
        sandbox
    }

    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Some(path) = self
            .stdio_read_paths
            .iter()
            .find(|path| !path.is_absolute())
        {
            problems.push(format!(
                "mcp.stdio_read_paths: {} must be absolute",
                path.display()
            ));
        }
        if let Some(path) = self.scratch_dir.as_ref().filter(|path| !path.is_absolute()) {
            problems.push(format!(
                "mcp.scratch_dir: {} must be absolute",
                path.display()
            ));
        }
        problems
    }
}
