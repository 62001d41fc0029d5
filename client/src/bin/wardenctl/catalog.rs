//! `wardenctl catalog ...`: the cluster's catalog of stdio MCP servers, the only programs
//! nodes start for workspaces.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use warden_client::proto::CatalogEntry;
use warden_client::{Client, Consistency};

use crate::json;
use crate::output::{Format, Table, emit, emit_json, format_time_ms, render_fields, shorten};

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Create or replace a catalog entry (cluster admins only)
    ///
    /// An entry names an executable (an absolute path, started without a shell) with
    /// fixed leading arguments, and what a workspace registering it may add: extra
    /// arguments, each matching one --allow-arg pattern in full, and environment
    /// variables named by --allow-env. Nodes confine the server (Landlock): it reads
    /// system paths and --read-path, and writes only its scratch directory and
    /// --write-path. A node refuses to start it if a granted path would contain the
    /// node's data directory or key files. Registered servers run the entry as it is when
    /// a node starts them, so a put changes what they run. Replaces the whole entry.
    Put(PutArgs),
    /// List the catalog
    List,
    /// Show one entry
    Show {
        /// Entry to show
        name: String,
    },
    /// Delete an entry (cluster admins only)
    ///
    /// Servers registered with it stay registered; their calls fail, naming the entry,
    /// until an entry of that name is put again.
    Delete {
        /// Entry to delete
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct PutArgs {
    /// Name of the entry, as `mcp register --catalog` refers to it
    name: String,
    /// Absolute path of the program to start
    #[arg(long, value_name = "PATH")]
    executable: String,
    /// A fixed argument, always passed first; repeat for more, in order
    #[arg(long = "arg", value_name = "A", allow_hyphen_values = true)]
    args: Vec<String>,
    /// A regular expression (anchored at both ends) that an extra argument from a
    /// workspace may match, e.g. '--timezone=[A-Za-z_/]+'; repeat for more. Without any,
    /// no extra argument is allowed
    #[arg(long = "allow-arg", value_name = "REGEX", allow_hyphen_values = true)]
    allowed_args: Vec<String>,
    /// An environment variable a workspace may set (plain or secret); repeat for more
    #[arg(long = "allow-env", value_name = "NAME")]
    allowed_env: Vec<String>,
    /// A path the server may read and execute, beyond the nodes' system paths (e.g. a
    /// Python virtualenv); repeat for more
    #[arg(long = "read-path", value_name = "PATH")]
    read_paths: Vec<String>,
    /// A path the server may read and write; repeat for more
    #[arg(long = "write-path", value_name = "PATH")]
    write_paths: Vec<String>,
    /// What the entry is for
    #[arg(long, default_value = "")]
    description: String,
}

pub async fn run(
    client: &Client,
    format: Format,
    command: CatalogCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        CatalogCommand::Put(args) => {
            let name = args.name.clone();
            let entry = client
                .put_catalog_entry(args.into_proto())
                .await
                .with_context(|| format!("put catalog entry {name}"))?
                .entry
                .unwrap_or_default();
            match format {
                Format::Table => emit(&format!(
                    "put catalog entry {name} (version {})\n",
                    entry.version
                ))?,
                Format::Json => emit_json(&json::catalog_entry(&entry))?,
            }
        }
        CatalogCommand::List => {
            let entries = client
                .list_catalog_entries()
                .await
                .context("list the catalog")?
                .entries;
            match format {
                Format::Table => emit(&render_entries(&entries))?,
                Format::Json => emit_json(&json!({
                    "entries": entries.iter().map(json::catalog_entry).collect::<Vec<_>>(),
                }))?,
            }
        }
        CatalogCommand::Show { name } => {
            let entry = client
                .get_catalog_entry(name.clone(), Consistency::Linearizable)
                .await
                .with_context(|| format!("show catalog entry {name}"))?
                .entry
                .unwrap_or_default();
            match format {
                Format::Table => emit(&render_entry(&entry))?,
                Format::Json => emit_json(&json::catalog_entry(&entry))?,
            }
        }
        CatalogCommand::Delete { name } => {
            let entry = client
                .delete_catalog_entry(name.clone())
                .await
                .with_context(|| format!("delete catalog entry {name}"))?
                .entry
                .unwrap_or_default();
            match format {
                Format::Table => emit(&format!("deleted catalog entry {name}\n"))?,
                Format::Json => emit_json(&json::catalog_entry(&entry))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl PutArgs {
    fn into_proto(self) -> CatalogEntry {
        CatalogEntry {
            name: self.name,
            description: self.description,
            executable: self.executable,
            args: self.args,
            allowed_args: self.allowed_args,
            allowed_env: self.allowed_env,
            read_paths: self.read_paths,
            write_paths: self.write_paths,
            ..CatalogEntry::default()
        }
    }
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(" ")
    }
}

/// One row per entry: NAME, VERSION, COMMAND (executable and fixed args), ALLOWED ARGS,
/// ALLOWED ENV.
fn render_entries(entries: &[CatalogEntry]) -> String {
    let mut table = Table::new(vec![
        "NAME",
        "VERSION",
        "COMMAND",
        "ALLOWED-ARGS",
        "ALLOWED-ENV",
    ]);
    for entry in entries {
        let mut command = vec![entry.executable.clone()];
        command.extend(entry.args.iter().cloned());
        table.push(vec![
            entry.name.clone(),
            entry.version.to_string(),
            shorten(&command.join(" "), 60),
            shorten(&list_or_dash(&entry.allowed_args), 40),
            list_or_dash(&entry.allowed_env),
        ]);
    }
    table.render()
}

fn render_entry(entry: &CatalogEntry) -> String {
    render_fields(&[
        ("name", entry.name.clone()),
        ("description", entry.description.clone()),
        ("executable", entry.executable.clone()),
        ("args", list_or_dash(&entry.args)),
        ("allowed args", list_or_dash(&entry.allowed_args)),
        ("allowed env", list_or_dash(&entry.allowed_env)),
        ("read paths", list_or_dash(&entry.read_paths)),
        ("write paths", list_or_dash(&entry.write_paths)),
        ("version", entry.version.to_string()),
        ("updated", format_time_ms(entry.updated_ms)),
        ("updated by", entry.updated_by.clone()),
    ])
}
