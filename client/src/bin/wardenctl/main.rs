//! `wardenctl`: the command-line tool for operating a Warden cluster.

mod agent;
mod args;
mod audit;
mod audit_anchor;
mod backup;
mod bench;
mod bench_console;
mod bench_steps;
mod budget;
mod catalog;
mod cluster;
mod events;
mod governance;
mod identity;
mod json;
mod mcp;
mod output;
mod pause;
mod provider;
mod schedule;
mod task;
mod task_view;
mod trigger;
mod webhook;
mod workspace;
mod workspace_file;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use warden_client::{BearerToken, Client, ClientOptions, ClientTls};

use crate::output::{Format, code_name};

/// Operate a Warden cluster: membership, workspaces, model providers, MCP servers,
/// agents, tasks, tool policy, approvals, budgets, the kill switch, webhooks and the audit
/// log.
///
/// Every node serves the whole API, so any subset of the nodes works as --endpoints.
/// A node that is down or answers UNAVAILABLE is skipped: the call is retried on the
/// next endpoint with backoff. `task cancel`, `task resolve`, `agent create`, `agent
/// update`, `resume` and `budget set --reset` are retried only when they cannot have
/// reached a node; otherwise they fail with UNAVAILABLE and an unknown outcome, to be
/// checked before trying again.
#[derive(Debug, Parser)]
#[command(
    name = "wardenctl",
    version,
    after_help = "Examples (a session; a test runs them in this order):
  export WARDEN_ENDPOINTS=10.0.0.1:7400,10.0.0.2:7400 WARDEN_CA_FILE=ca.pem
  wardenctl cluster init --bootstrap-token-file bootstrap-token --token-out ~/.warden-admin-token
  export WARDEN_TOKEN_FILE=~/.warden-admin-token
  wardenctl --endpoints 10.0.0.1:7400 cluster status
  wardenctl workspace create research
  wardenctl token create user/alice --ttl 30d --out alice.token
  wardenctl role set user/alice operator --workspace research
  wardenctl provider put research gpt --kind openai --base-url https://api.openai.com/v1 \
      --model gpt-4o-mini --api-key-file ~/.openai-key
  wardenctl agent create research analyst --provider gpt --instructions 'Be concise.'
  wardenctl webhook put research alerts --url https://hooks.example.com/warden \
      --events approval.requested,task.needs_attention,task.failed
  id=$(echo 'summarize the incident' | wardenctl task submit research --agent analyst -)
  wardenctl task watch research \"$id\"
  wardenctl webhook deliveries research
  wardenctl task list research --all --output json
  wardenctl budget set research --tokens 2000000 --tool-calls 500
  wardenctl pause research --agent analyst --reason 'incident 42'
  wardenctl resume research --agent analyst
  wardenctl audit export --from 1 --out audit.jsonl

Exit status: 0 on success, 1 when `audit verify` finds a broken chain or `task wait`
times out, 2 on any error (printed to stderr as `error: <GRPC CODE>: <message>`)."
)]
pub struct Cli {
    /// Nodes to talk to, comma-separated, each `host:port`, `https://host:port` or
    /// `http://host:port` (a cluster started with tls.insecure); `host:port` is https when
    /// --ca is given
    #[arg(
        long,
        global = true,
        env = "WARDEN_ENDPOINTS",
        value_delimiter = ',',
        default_value = "127.0.0.1:7400",
        value_parser = args::parse_endpoint,
        help_heading = "Global options",
    )]
    endpoints: Vec<String>,

    /// How results are printed (`audit export` always writes JSON Lines, and `task watch`
    /// writes them with json)
    #[arg(long, global = true, value_enum, default_value_t = Format::Table, help_heading = "Global options")]
    output: Format,

    /// Deadline for each attempt of a request, e.g. 500ms, 30s, 2m
    ///
    /// A request that times out is not retried, since the node may have executed it.
    /// Raise it for `cluster add-node`, which answers once the new node has caught up,
    /// and for `mcp register` with a slow server.
    #[arg(
        long,
        global = true,
        value_parser = args::parse_duration,
        default_value = "10s",
        help_heading = "Global options"
    )]
    timeout: Duration,

    /// File holding the token to present (as written by `cluster init --token-out` or
    /// `warden dev`); the WARDEN_TOKEN environment variable holds the token itself
    #[arg(
        long,
        global = true,
        env = "WARDEN_TOKEN_FILE",
        help_heading = "Global options"
    )]
    token_file: Option<std::path::PathBuf>,

    /// The cluster's CA certificate (PEM): the nodes' certificates must chain to it.
    /// `warden dev` prints it as WARDEN_CA_FILE
    #[arg(
        long = "ca",
        global = true,
        env = "WARDEN_CA_FILE",
        help_heading = "Global options"
    )]
    ca_file: Option<std::path::PathBuf>,

    /// A client certificate (PEM) to present, for clusters that ask for one; needs
    /// --cert-key
    #[arg(
        long = "cert",
        global = true,
        env = "WARDEN_CERT_FILE",
        requires = "key_file",
        help_heading = "Global options"
    )]
    cert_file: Option<std::path::PathBuf>,

    /// The client certificate's private key (PEM). Not `--key`: `task submit --key` is
    /// the idempotency key
    #[arg(
        long = "cert-key",
        global = true,
        env = "WARDEN_CERT_KEY_FILE",
        requires = "cert_file",
        help_heading = "Global options"
    )]
    key_file: Option<std::path::PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Initialize a cluster and change or inspect its membership
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Take a backup of the cluster's state (`warden restore` seeds a new cluster from it)
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Create and list workspaces, which group providers, MCP servers, agents and tasks
    #[command(subcommand)]
    Workspace(workspace::WorkspaceCommand),
    /// Define and list the model providers agents call
    #[command(subcommand)]
    Provider(provider::ProviderCommand),
    /// Manage the cluster's catalog of stdio MCP servers (cluster admins)
    #[command(subcommand)]
    Catalog(catalog::CatalogCommand),
    /// Register MCP servers (stdio ones by catalog entry) and list their pinned tools
    #[command(subcommand)]
    Mcp(mcp::McpCommand),
    /// Create, change and inspect agents
    #[command(subcommand)]
    Agent(agent::AgentCommand),
    /// Submit, inspect, list, cancel, resolve, wait for and watch tasks
    #[command(subcommand)]
    Task(task::TaskCommand),
    /// Read, verify and export the tamper-evident audit log
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Set, show and test a workspace's tool policy (deny by default)
    #[command(subcommand)]
    Policy(governance::PolicyCommand),
    /// List, show, approve and deny tool calls waiting for approval
    #[command(subcommand)]
    Approval(governance::ApprovalCommand),
    /// Set and show the token and tool-call budgets of a workspace and its agents
    #[command(subcommand)]
    Budget(budget::BudgetCommand),
    /// Send a workspace's approval and task events to HTTP endpoints, and show the deliveries
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
    /// Submit tasks on a schedule: a cron expression in a time zone, fired once per due time
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// Submit tasks when signed HTTP requests arrive: webhook triggers, HMAC-verified, each request once
    #[command(subcommand)]
    Trigger(trigger::TriggerCommand),
    /// The kill switch: stop a workspace's tasks, one agent's, or every call to one tool
    ///
    /// A paused workspace or agent takes no new step on any node (a call already
    /// running still finishes) and none of its tasks is placed; a paused tool's calls
    /// are denied. Everything resumes where it stopped with `wardenctl resume`.
    Pause(pause::PauseArgs),
    /// Lift a pause set with `wardenctl pause`
    Resume(pause::ResumeArgs),
    /// List what is paused in a workspace
    Paused { workspace: String },
    /// Create, revoke and list tokens
    #[command(subcommand)]
    Token(identity::TokenCommand),
    /// Give principals roles in a workspace or cluster-wide, and list them
    #[command(subcommand)]
    Role(identity::RoleCommand),
    /// Show the principal and roles of the presented token
    Whoami,
    /// Measure the throughput and latency of the cluster
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = cli.output;
    let tokenless = cli.token_file.is_none() && std::env::var_os("WARDEN_TOKEN").is_none();
    let plaintext = cli.ca_file.is_none();
    match run(cli).await {
        Ok(code) => code,
        Err(error) => {
            let code = error_code(&error);
            let mut message = describe(&error);
            if code == "UNAUTHENTICATED" && tokenless {
                message.push_str(" (wardenctl sent no token)");
            }
            // HTTP/2 in plain text reaching a TLS port reads the TLS alert as a frame.
            if plaintext && message.contains("frame with invalid size") {
                message.push_str(
                    " (wardenctl spoke plain text: a node serves TLS unless started with tls.insecure; pass --ca FILE or set WARDEN_CA_FILE)",
                );
            }
            // Errors go to stderr in the chosen format, so stdout holds only results.
            match format {
                Format::Table => eprintln!("error: {code}: {message}"),
                Format::Json => eprintln!(
                    "{:#}",
                    serde_json::json!({"error": {"code": code, "message": message}})
                ),
            }
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let options = ClientOptions {
        request_timeout: cli.timeout,
        token: token(cli.token_file.as_deref())?,
        tls: tls(
            cli.ca_file.as_deref(),
            cli.cert_file.as_deref(),
            cli.key_file.as_deref(),
        )?,
        ..ClientOptions::default()
    };
    let client = Client::connect(&cli.endpoints, options)?;
    match cli.command {
        Command::Cluster(command) => cluster::run(&client, cli.output, command).await,
        Command::Backup(command) => backup::run(&client, cli.output, command).await,
        Command::Workspace(command) => workspace::run(&client, cli.output, command).await,
        Command::Provider(command) => provider::run(&client, cli.output, command).await,
        Command::Catalog(command) => catalog::run(&client, cli.output, command).await,
        Command::Mcp(command) => mcp::run(&client, cli.output, command).await,
        Command::Agent(command) => agent::run(&client, cli.output, command).await,
        Command::Task(command) => task::run(&client, cli.output, command).await,
        Command::Audit(command) => audit::run(&client, cli.output, command).await,
        Command::Policy(command) => governance::run_policy(&client, cli.output, command).await,
        Command::Approval(command) => governance::run_approval(&client, cli.output, command).await,
        Command::Budget(command) => budget::run(&client, cli.output, command).await,
        Command::Webhook(command) => webhook::run(&client, cli.output, command).await,
        Command::Schedule(command) => schedule::run(&client, cli.output, command).await,
        Command::Trigger(command) => trigger::run(&client, cli.output, command).await,
        Command::Pause(args) => pause::run_pause(&client, cli.output, args).await,
        Command::Resume(args) => pause::run_resume(&client, cli.output, args).await,
        Command::Paused { workspace } => pause::run_list(&client, cli.output, &workspace).await,
        Command::Token(command) => identity::run_token(&client, cli.output, command).await,
        Command::Role(command) => identity::run_role(&client, cli.output, command).await,
        Command::Whoami => identity::run_whoami(&client, cli.output).await,
        Command::Bench(command) => {
            let credentials = || {
                let token = token_text(cli.token_file.as_deref())?.context(
                    "bench console signs in with a token: pass --token-file or set WARDEN_TOKEN",
                )?;
                let ca_pem = match cli.ca_file.as_deref() {
                    Some(path) => Some(std::fs::read(path).with_context(|| {
                        format!("reading the CA certificate {}", path.display())
                    })?),
                    None => None,
                };
                Ok(bench_console::Credentials { token, ca_pem })
            };
            bench::run(&client, cli.output, command, credentials).await
        }
    }
}

/// The token from `--token-file`, else from WARDEN_TOKEN, else none.
fn token(file: Option<&std::path::Path>) -> anyhow::Result<Option<BearerToken>> {
    match token_text(file)? {
        Some(text) => Ok(Some(BearerToken::new(&text)?)),
        None => Ok(None),
    }
}

/// The text of the token from `--token-file`, else from WARDEN_TOKEN, trimmed.
fn token_text(file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    let text = match file {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the token file {}", path.display()))?,
        None => match std::env::var("WARDEN_TOKEN") {
            Ok(token) => token,
            Err(_) => return Ok(None),
        },
    };
    Ok(Some(text.trim().to_owned()))
}

/// TLS settings from `--ca`, `--cert` and `--key`; none without `--ca`.
fn tls(
    ca: Option<&std::path::Path>,
    cert: Option<&std::path::Path>,
    key: Option<&std::path::Path>,
) -> anyhow::Result<Option<ClientTls>> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).with_context(|| format!("reading the {what} {}", path.display()))
    };
    let Some(ca) = ca else {
        if cert.is_some() {
            anyhow::bail!("--cert needs --ca (the cluster's CA certificate)");
        }
        return Ok(None);
    };
    let identity = match (cert, key) {
        (Some(cert), Some(key)) => {
            Some((read(cert, "client certificate")?, read(key, "client key")?))
        }
        _ => None,
    };
    Ok(Some(ClientTls {
        ca_pem: read(ca, "CA certificate")?,
        identity,
    }))
}

/// The error and its causes, joined by `: `. A gRPC status is shown by its message
/// alone: the client's error already carries it, and the code leads the line.
fn describe(error: &anyhow::Error) -> String {
    error
        .chain()
        .filter(|cause| cause.downcast_ref::<tonic::Status>().is_none())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// The gRPC code name for an error: the server's or the client's code; errors of the
/// invocation itself (a bad endpoint, a file named on the command line that cannot be
/// read) are INVALID_ARGUMENT; other local problems UNKNOWN.
fn error_code(error: &anyhow::Error) -> &'static str {
    let client_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<warden_client::Error>());
    if let Some(client_error) = client_error {
        return client_error.code().map_or("INVALID_ARGUMENT", code_name);
    }
    let io_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<std::io::Error>());
    match io_error.map(std::io::Error::kind) {
        Some(
            std::io::ErrorKind::NotFound
            | std::io::ErrorKind::PermissionDenied
            | std::io::ErrorKind::IsADirectory
            | std::io::ErrorKind::InvalidData,
        ) => "INVALID_ARGUMENT",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn endpoints_are_split_and_normalized() {
        let cli = Cli::try_parse_from([
            "wardenctl",
            "--endpoints",
            "10.0.0.1:7400, http://node-2:7401",
            "cluster",
            "status",
        ])
        .expect("valid arguments");
        assert_eq!(cli.endpoints, ["10.0.0.1:7400", "http://node-2:7401"]);
    }

    #[test]
    fn bad_endpoint_is_a_usage_error() {
        let error = Cli::try_parse_from(["wardenctl", "--endpoints", "a:1,b", "cluster", "status"])
            .expect_err("b has no port");
        assert_eq!(error.kind(), clap::error::ErrorKind::ValueValidation);
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "wardenctl",
            "audit",
            "verify",
            "--output",
            "json",
            "--timeout",
            "1m30s",
        ])
        .expect("valid arguments");
        assert_eq!(cli.output, Format::Json);
        assert_eq!(cli.timeout, Duration::from_secs(90));
        assert_eq!(cli.endpoints, ["127.0.0.1:7400"]);
    }

    #[test]
    fn client_errors_map_to_their_grpc_code() {
        let unavailable = anyhow::Error::new(warden_client::Error::Unavailable {
            attempts: 3,
            last: "down".into(),
        })
        .context("cluster status");
        assert_eq!(error_code(&unavailable), "UNAVAILABLE");
        let not_found = anyhow::Error::new(warden_client::Error::Status(tonic::Status::not_found(
            "no such task",
        )));
        assert_eq!(error_code(&not_found), "NOT_FOUND");
        assert_eq!(error_code(&anyhow::anyhow!("disk full")), "UNKNOWN");
    }
}
