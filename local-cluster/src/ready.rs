//! The ready file `warden serve --ready-file` writes once a node listens, and its reader.

use std::path::Path;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// What a started node tells whoever launched it: `warden serve --ready-file` writes it
/// as JSON once the node listens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ready {
    pub node_id: u64,
    /// The address clients and peers use (the advertised one).
    pub grpc: String,
    pub metrics: Option<String>,
    /// The console's address, when the node serves it (`console.listen`).
    #[serde(default)]
    pub console: Option<String>,
    pub pid: u32,
}

/// Reads a ready file written by `warden serve --ready-file`.
pub fn read_ready(path: &Path) -> anyhow::Result<Ready> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let ready: Ready =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    if ready.grpc.is_empty() {
        bail!("{} names no gRPC address", path.display());
    }
    Ok(ready)
}
