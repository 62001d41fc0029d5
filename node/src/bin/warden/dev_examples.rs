//! `warden dev --with-examples`: what the README's by-hand section needs on a machine
//! with no model and no tool server installed. The scripted model (a test double that
//! speaks the OpenAI and Anthropic wire protocols) answers with `examples/scripted-model.json`,
//! and the cluster catalog gets the entry `ledger` for the bundled ledger MCP server.

use std::path::{Path, PathBuf};

use anyhow::Context;
use warden_local_cluster::LocalCluster;
use warden_providers::scripted::{Script, ScriptedModel, ScriptedModelHandle};

/// The script the example model follows: one call of `ledger__put`, then a final answer.
const SCRIPT: &str = include_str!("../../../../examples/scripted-model.json");

/// The catalog entry (and the server name the README registers) of the ledger server.
pub const LEDGER_ENTRY: &str = "ledger";

/// The running examples; the model stops when this is dropped or stopped.
pub struct Examples {
    model: ScriptedModelHandle,
    /// The only directory the ledger server may write: its ledger files go here.
    dir: PathBuf,
}

impl Examples {
    /// Starts the scripted model on loopback and puts the ledger's catalog entry, its
    /// files in `data_dir/examples` (beside the nodes' directories, not in them).
    pub async fn start(
        cluster: &LocalCluster,
        exe: &Path,
        data_dir: &Path,
    ) -> anyhow::Result<Examples> {
        let script: Script =
            serde_json::from_str(SCRIPT).context("parsing examples/scripted-model.json")?;
        let problems = script.problems();
        anyhow::ensure!(
            problems.is_empty(),
            "examples/scripted-model.json: {}",
            problems.join("; ")
        );
        let model = ScriptedModel::start(script, "127.0.0.1:0".parse()?)
            .await
            .context("starting the scripted model")?;
        let dir = std::fs::canonicalize(data_dir)
            .with_context(|| format!("locating {}", data_dir.display()))?
            .join("examples");
        let admin = cluster.client()?;
        warden_local_cluster::tool_catalog::put_ledger_entry(
            &admin,
            LEDGER_ENTRY,
            &exe.with_file_name("warden-ledger-tools"),
            &dir,
        )
        .await?;
        Ok(Examples { model, dir })
    }

    /// The lines `warden dev` prints for them: what they are, then two exports.
    pub fn describe(&self) -> String {
        format!(
            "examples: the scripted model (a test double, OpenAI and Anthropic wire protocols) at {url}\n\
             \x20         catalog entry {LEDGER_ENTRY}: the bundled ledger MCP server, writing only in {dir}\n\
             export WARDEN_EXAMPLE_MODEL_URL={url}\n\
             export WARDEN_EXAMPLE_DIR={dir}\n",
            url = self.model.base_url(),
            dir = self.dir.display(),
        )
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.model
            .shutdown()
            .await
            .context("stopping the scripted model")
    }
}
