//! Catalog entries for the tool servers the harnesses register (the demo, the node's
//! integration tests, the chaos tests): stdio servers come from the cluster catalog
//! only, so a cluster admin puts an entry before a workspace registers a server by it.

use std::path::Path;

use anyhow::Context;
use warden_client::Client;
use warden_client::proto::CatalogEntry;

/// Characters of a file name the ledger entries accept after their directory.
const FILE_NAME: &str = "[A-Za-z0-9._-]+";

/// The catalog entry `name` for the bundled ledger MCP server (`binary`,
/// `warden-ledger-tools`) whose files live in `dir`, a directory of its own (never one
/// holding a node's data directory or key files, which the node refuses to grant): the
/// server may write there and nowhere else. A workspace may add `--ledger FILE`,
/// `--describe-append-file FILE` and `--require-env NAME=FILE` for files in `dir` (as
/// separate arguments or joined with `=`), and set `LEDGER_TOKEN` or `API_TOKEN`.
pub fn ledger_entry(name: &str, binary: &Path, dir: &Path) -> CatalogEntry {
    let dir_text = dir.display().to_string();
    let file = format!("{}/{FILE_NAME}", regex_escape(&dir_text));
    CatalogEntry {
        name: name.to_owned(),
        description: "the bundled ledger mcp server".to_owned(),
        executable: binary.display().to_string(),
        allowed_args: vec![
            "--ledger|--describe-append-file|--require-env".to_owned(),
            file.clone(),
            format!("--ledger={file}"),
            format!("--describe-append-file={file}"),
            format!("(--require-env=)?[A-Z][A-Z0-9_]*={file}"),
        ],
        allowed_env: vec!["LEDGER_TOKEN".to_owned(), "API_TOKEN".to_owned()],
        write_paths: vec![dir_text],
        ..CatalogEntry::default()
    }
}

/// Creates `dir` and puts [`ledger_entry`] with `admin`, a cluster admin's client.
pub async fn put_ledger_entry(
    admin: &Client,
    name: &str,
    binary: &Path,
    dir: &Path,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    admin
        .put_catalog_entry(ledger_entry(name, binary, dir))
        .await
        .with_context(|| format!("putting catalog entry {name}"))?;
    Ok(())
}

/// `text` with the regular-expression metacharacters escaped.
fn regex_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(character) {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_escaped() {
        assert_eq!(regex_escape("/tmp/.tmp-a1"), "/tmp/\\.tmp\\-a1");
    }
}
