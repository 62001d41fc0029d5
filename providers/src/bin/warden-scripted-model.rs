//! The scripted model server as a process, for the demo and for tests that run real
//! binaries: `warden-scripted-model --listen 127.0.0.1:0 --script FILE [--ready-file PATH]`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;
use tokio::io::AsyncWriteExt as _;
use tokio::signal::unix::{SignalKind, signal};
use warden_providers::scripted::{Script, ScriptedModel};

/// Serves a scripted model (a test double) in both the OpenAI and the Anthropic wire formats.
#[derive(Debug, Parser)]
#[command(name = "warden-scripted-model")]
struct Args {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long)]
    listen: SocketAddr,
    /// The script, a JSON file (its format: docs/scripted-model.md).
    #[arg(long)]
    script: PathBuf,
    /// Once listening, the base URL is written here, atomically.
    #[arg(long)]
    ready_file: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let text = tokio::fs::read_to_string(&args.script)
        .await
        .with_context(|| format!("cannot read script {}", args.script.display()))?;
    let script: Script = serde_json::from_str(&text)
        .with_context(|| format!("cannot parse script {}", args.script.display()))?;
    let problems = script.problems();
    anyhow::ensure!(
        problems.is_empty(),
        "invalid script {}: {}",
        args.script.display(),
        problems.join("; ")
    );
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for sigterm")?;
    let handle = ScriptedModel::start(script, args.listen)
        .await
        .with_context(|| format!("cannot serve on {}", args.listen))?;
    let base_url = handle.base_url();
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(format!("listening on {base_url}\n").as_bytes())
        .await
        .context("cannot write to stdout")?;
    stdout.flush().await.context("cannot write to stdout")?;
    if let Some(ready_file) = &args.ready_file {
        write_atomically(ready_file, &base_url).await?;
    }
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("cannot listen for ctrl-c")?,
        _ = terminate.recv() => {}
    }
    handle.shutdown().await.context("server failed")
}

/// A reader polling for the file sees either nothing or the whole URL.
async fn write_atomically(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".tmp.{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    tokio::fs::write(&temporary, contents)
        .await
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    tokio::fs::rename(&temporary, path).await.with_context(|| {
        format!(
            "cannot rename {} to {}",
            temporary.display(),
            path.display()
        )
    })
}
