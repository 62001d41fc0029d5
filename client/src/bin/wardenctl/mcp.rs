//! `wardenctl mcp ...`: the MCP servers whose tools a workspace's agents may be granted.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Args, Subcommand};
use serde_json::json;
use warden_client::Client;
use warden_client::proto::McpServer;

use crate::args::{parse_key_value, read_secret};
use crate::json;
use crate::output::{Format, Table, emit, emit_json, short_hash, shorten, yes_no};

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Register an MCP server and pin its tools
    ///
    /// A stdio server is registered by cluster catalog entry (--catalog; see `wardenctl
    /// catalog list`), with only the extra --arg and --env the entry allows; an HTTP
    /// server by --url. The registration is committed first, unpinned; then the node that
    /// answers starts the server (confined) or reaches it, lists its tools and pins each
    /// tool's definition by its hash. Agents can be granted only pinned tools. If listing
    /// fails, the server stays registered unpinned and the error says why. Registering an
    /// existing name again replaces it and pins the tools the server lists now. A slow
    /// server may need a longer --timeout.
    Register(RegisterArgs),
    /// List the MCP servers of a workspace and their pinned tools
    ///
    /// Shows each tool's annotations (read-only, idempotent, destructive), which decide
    /// whether an interrupted call is retried, and the first 12 hex digits of its
    /// definition hash.
    List {
        /// Workspace to list
        workspace: String,
    },
    /// Delete an MCP server; refused, naming them, while agents' grants name it
    ///
    /// Pauses of its tools stay: a server registered again under the name finds them.
    Delete {
        /// Workspace of the server
        workspace: String,
        /// Name of the server
        name: String,
    },
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("transport").required(true).args(["catalog", "url"])))]
pub struct RegisterArgs {
    /// Workspace of the server
    workspace: String,
    /// Name of the server, as tool grants refer to it (`--tool SERVER/TOOL`)
    name: String,
    /// A stdio server: the cluster catalog entry to run (a program a cluster admin put
    /// in the catalog); each node that starts it runs the entry as it is then
    #[arg(long, value_name = "ENTRY")]
    catalog: Option<String>,
    /// An extra argument for --catalog, appended to the entry's own; the entry must allow
    /// it. Repeat for more, in order
    #[arg(
        long = "arg",
        value_name = "A",
        requires = "catalog",
        allow_hyphen_values = true
    )]
    args: Vec<String>,
    /// An environment variable for --catalog as KEY=VALUE; the entry must allow KEY.
    /// Repeat for more. Values are stored and listed as given, so do not put secrets here
    #[arg(long = "env", value_name = "K=V", requires = "catalog", value_parser = parse_key_value)]
    env: Vec<(String, String)>,
    /// A secret environment variable for --catalog, its value read from a file
    /// (surrounding whitespace ignored); the entry must allow NAME. Repeat for more.
    /// Stored encrypted, never shown again
    #[arg(
        long = "secret-env-file",
        value_name = "NAME=PATH",
        requires = "catalog",
        value_parser = parse_key_value
    )]
    secret_env_files: Vec<(String, String)>,
    /// Connect to a server that speaks streamable HTTP at this URL. Nodes reach only
    /// public addresses unless the cluster's egress.allow admits an internal one
    #[arg(long)]
    url: Option<String>,
    /// A file holding a bearer token for --url, sent as `Authorization: Bearer ...`.
    /// Stored encrypted, never shown again
    #[arg(long, value_name = "PATH", requires = "url")]
    bearer_token_file: Option<PathBuf>,
}

pub async fn run(client: &Client, format: Format, command: McpCommand) -> anyhow::Result<ExitCode> {
    match command {
        McpCommand::Register(args) => {
            let (workspace, name) = (args.workspace.clone(), args.name.clone());
            let response = client
                .register_mcp_server(args.into_proto()?)
                .await
                .with_context(|| format!("register mcp server {name} in workspace {workspace}"))?;
            let server = response.server.unwrap_or_default();
            match format {
                Format::Table => {
                    emit(&format!(
                        "registered mcp server {name} (version {}) and pinned {} tools\n",
                        server.version,
                        server.tools.len()
                    ))?;
                    if !server.tools.is_empty() {
                        emit(&render_tools(std::slice::from_ref(&server)))?;
                    }
                }
                Format::Json => emit_json(&json::mcp_server(&server))?,
            }
        }
        McpCommand::List { workspace } => {
            let response = client
                .list_mcp_servers(workspace.clone())
                .await
                .with_context(|| format!("list mcp servers of workspace {workspace}"))?;
            match format {
                Format::Table => {
                    emit(&render_servers(&response.servers))?;
                    if response
                        .servers
                        .iter()
                        .any(|server| !server.tools.is_empty())
                    {
                        emit(&format!("\n{}", render_tools(&response.servers)))?;
                    }
                }
                Format::Json => emit_json(&json!({
                    "servers": response.servers.iter().map(json::mcp_server).collect::<Vec<_>>(),
                }))?,
            }
        }
        McpCommand::Delete { workspace, name } => {
            let server = client
                .delete_mcp_server(workspace.clone(), name.clone())
                .await
                .with_context(|| format!("delete mcp server {workspace}/{name}"))?
                .server
                .unwrap_or_default();
            match format {
                Format::Table => emit(&format!("deleted mcp server {workspace}/{name}\n"))?,
                Format::Json => emit_json(&json::mcp_server(&server))?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

impl RegisterArgs {
    fn into_proto(self) -> anyhow::Result<McpServer> {
        let mut secret_env = std::collections::HashMap::new();
        for (name, path) in &self.secret_env_files {
            secret_env.insert(name.clone(), read_secret(std::path::Path::new(path))?);
        }
        let secret_bearer = match &self.bearer_token_file {
            Some(path) => read_secret(path)?,
            None => String::new(),
        };
        Ok(McpServer {
            workspace: self.workspace,
            name: self.name,
            command: String::new(),
            catalog: self.catalog.unwrap_or_default(),
            pinned: false,
            args: self.args,
            url: self.url.unwrap_or_default(),
            tools: Vec::new(),
            version: 0,
            env: self.env.into_iter().collect(),
            secret_env,
            secret_env_names: Vec::new(),
            secret_bearer,
            secret_bearer_set: false,
        })
    }
}

/// How the nodes reach a server: `stdio: catalog ENTRY ARGS` or `http: URL`.
fn transport(server: &McpServer) -> String {
    if server.url.is_empty() {
        let mut words = vec!["catalog".to_owned(), server.catalog.clone()];
        words.extend(server.args.iter().cloned());
        format!("stdio: {}", words.join(" "))
    } else {
        format!("http: {}", server.url)
    }
}

/// One row per server: SERVER, VERSION, PINNED, TOOLS, TRANSPORT, ENV (the variable
/// names, secret ones marked), and whether a bearer token is stored.
fn render_servers(servers: &[McpServer]) -> String {
    let mut table = Table::new(vec![
        "SERVER",
        "VERSION",
        "PINNED",
        "TOOLS",
        "TRANSPORT",
        "ENV",
        "BEARER",
    ]);
    for server in servers {
        let mut env: Vec<String> = server.env.keys().cloned().collect();
        env.extend(
            server
                .secret_env_names
                .iter()
                .map(|name| format!("{name}(secret)")),
        );
        table.push(vec![
            server.name.clone(),
            server.version.to_string(),
            yes_no(server.pinned),
            server.tools.len().to_string(),
            shorten(&transport(server), 60),
            if env.is_empty() {
                "-".to_owned()
            } else {
                env.join(",")
            },
            if server.secret_bearer_set {
                "stored".to_owned()
            } else {
                "-".to_owned()
            },
        ]);
    }
    table.render()
}

/// One row per pinned tool of `servers`.
fn render_tools(servers: &[McpServer]) -> String {
    let mut table = Table::new(vec![
        "SERVER",
        "TOOL",
        "READ-ONLY",
        "IDEMPOTENT",
        "DESTRUCTIVE",
        "DEFINITION",
        "DRIFT",
    ]);
    for server in servers {
        for tool in &server.tools {
            table.push(vec![
                server.name.clone(),
                tool.name.clone(),
                yes_no(tool.read_only),
                yes_no(tool.idempotent),
                yes_no(tool.destructive),
                short_hash(&tool.definition_hash),
                match tool.drifted_hash.is_empty() {
                    true => "-".to_owned(),
                    false => format!("offered {} (blocked)", short_hash(&tool.drifted_hash)),
                },
            ]);
        }
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_client::proto::McpTool;

    #[test]
    fn tools_show_annotations_and_a_short_hash() {
        let server = McpServer {
            name: "files".into(),
            catalog: "files-server".into(),
            args: vec!["--root".into(), "/data".into()],
            tools: vec![McpTool {
                name: "read".into(),
                read_only: true,
                idempotent: true,
                definition_hash: "0123456789abcdef".repeat(4),
                ..McpTool::default()
            }],
            version: 2,
            ..McpServer::default()
        };
        assert_eq!(
            transport(&server),
            "stdio: catalog files-server --root /data"
        );
        assert_eq!(
            render_tools(&[server]),
            "SERVER  TOOL  READ-ONLY  IDEMPOTENT  DESTRUCTIVE  DEFINITION    DRIFT\n\
             files   read  yes        yes         no           0123456789ab  -\n"
        );
    }
}
