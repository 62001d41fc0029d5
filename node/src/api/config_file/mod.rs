//! Configuration as code: `ExportWorkspace` writes a workspace's configuration as a YAML
//! file ([`document`]), `ApplyWorkspace` compares a file with the workspace ([`plan`]) and
//! makes every change in one `ApplyWorkspace` command, which `apply()` takes all or none,
//! and only if the configuration is still the one compared (`observed`).
//!
//! Secrets never appear in a file: a stored one is marked `sealed` and kept as stored; a
//! new one comes with the request (`secrets`, by `provider/<name>`,
//! `mcp_server/<name>/env/<VAR>`, `mcp_server/<name>/bearer`, `trigger/<name>`) and is
//! sealed here. Servers the file registers anew are listed and pinned before the command
//! is proposed (after checking the caller may configure the workspace), so the command
//! carries their pins; a file that names pins gets exactly those or nothing.

pub mod document;
pub mod export;
pub mod plan;
mod secrets;

use std::collections::{BTreeMap, BTreeSet};

use tonic::Status;
use warden_core::{
    Action, Code, Command, McpTransport, Outcome, Permission, Rejection, WorkspaceId,
    workspace_config::observed,
};
use warden_mcp::ToolSessions;
use warden_proto::v1;
use warden_secrets::SecretString;

use self::document::Document;
use self::plan::Diff;
use self::secrets::Secrets;
use super::{Payload, Refused, propose, unexpected};
use crate::auth::Caller;
use crate::cluster::{Cluster, Consistency};
use crate::config::Providers;
use crate::error::Error;
use crate::secrets::Vault;

/// What applying a file needs from the node.
pub struct ConfigFiles {
    pub cluster: Cluster,
    pub vault: Vault,
    pub tools: ToolSessions,
    pub providers: Providers,
    pub egress: warden_egress::Policy,
    pub trust_annotations: bool,
}

fn invalid(message: impl Into<String>) -> Rejection {
    Rejection::new(Code::InvalidArgument, message.into())
}

impl ConfigFiles {
    pub async fn export(
        &self,
        request: tonic::Request<v1::ExportWorkspaceRequest>,
    ) -> Result<v1::ExportWorkspaceResponse, Status> {
        let (reader, workspace) = super::read_workspace(&self.cluster, &request).await?;
        let document = export::document(reader, &workspace).map_err(Error::from)?;
        let text = document.render().map_err(Error::Internal)?;
        Ok(v1::ExportWorkspaceResponse {
            revision: document.revision_of().map_err(Error::Internal)?,
            document: text,
        })
    }

    pub async fn apply(
        &self,
        caller: &Caller,
        mut request: v1::ApplyWorkspaceRequest,
    ) -> Result<v1::ApplyWorkspaceResponse, Status> {
        // The secrets are taken out first: sealed here, and nothing else sees them (a
        // refusal records the hash of the request without them).
        let secrets: BTreeMap<String, SecretString> = std::mem::take(&mut request.secrets)
            .into_iter()
            .map(|(name, value)| (name, SecretString::new(value)))
            .collect();
        let payload = Payload::of(&request);
        let dry_run = request.dry_run;
        let parsed = Document::parse(&request.document)
            .map_err(|error| invalid(format!("document: {error}")))
            .and_then(|document| {
                WorkspaceId::parse(&document.workspace)
                    .map(|workspace| (document, workspace))
                    .map_err(|error| invalid(format!("document: workspace: {error}")))
            });
        let (file, workspace) = match parsed {
            Ok(parsed) => parsed,
            Err(rejection) => {
                return Err(self
                    .refused(caller, dry_run, "workspace", payload, rejection)
                    .await);
            }
        };
        let resource = format!("workspace/{workspace}");
        let planned = self
            .plan(caller, &file, &workspace, &secrets, dry_run)
            .await?;
        let (changes, command) = match planned {
            Ok(planned) => planned,
            Err(rejection) => {
                return Err(self
                    .refused(caller, dry_run, &resource, payload, rejection)
                    .await);
            }
        };
        let listed = changes
            .iter()
            .map(|change| v1::ConfigChange {
                kind: change.kind.to_owned(),
                name: change.name.clone(),
                action: change.action.as_str().to_owned(),
                details: change.details.clone(),
            })
            .collect();
        let Some(command) = command else {
            return Ok(v1::ApplyWorkspaceResponse {
                changes: listed,
                applied: false,
                revision: String::new(),
            });
        };
        match propose(&self.cluster, caller, Ok(command)).await? {
            Outcome::WorkspaceApplied { .. } => {}
            other => return Err(unexpected(&other).into()),
        }
        self.cluster
            .read_barrier(Consistency::Linearizable)
            .await
            .map_err(Status::from)?;
        let now = export::document(self.cluster.reader(), &workspace).map_err(Error::from)?;
        Ok(v1::ApplyWorkspaceResponse {
            changes: listed,
            applied: true,
            revision: now.revision_of().map_err(Error::Internal)?,
        })
    }

    /// A refusal: recorded in the audit chain when it would have been a write, answered
    /// as it is for a dry run.
    async fn refused(
        &self,
        caller: &Caller,
        dry_run: bool,
        resource: &str,
        payload: Payload,
        rejection: Rejection,
    ) -> Status {
        if dry_run {
            return Error::Rejected(rejection).into();
        }
        let refused = Refused {
            action: Action::WorkspaceApply,
            resource: resource.to_owned(),
            payload,
            rejection,
        };
        match propose(&self.cluster, caller, Err(refused)).await {
            Ok(other) => unexpected(&other).into(),
            Err(error) => error.into(),
        }
    }

    /// The changes `file` makes to `workspace`, and the command making them (none for a
    /// dry run or when nothing changes).
    async fn plan(
        &self,
        caller: &Caller,
        file: &Document,
        workspace: &WorkspaceId,
        secrets: &BTreeMap<String, SecretString>,
        dry_run: bool,
    ) -> Result<Result<(Vec<plan::Change>, Option<Command>), Rejection>, Error> {
        self.cluster.read_barrier(Consistency::Linearizable).await?;
        let reader = self.cluster.reader();
        let needed = if dry_run {
            Permission::Read
        } else {
            Permission::Configure
        };
        if let Err(rejection) =
            warden_core::apply::require(reader, &caller.principal, Some(workspace), needed)?
        {
            return Ok(Err(rejection));
        }
        if let Err(message) = plan::unique_names(file) {
            return Ok(Err(invalid(message)));
        }
        // What the command will expect is read first: a change committed while the file is
        // compared makes the command's expectation stale, never the comparison.
        let expected = observed(reader, workspace)?;
        let mut current = export::document(reader, workspace)?;
        if let Some(revision) = &file.revision {
            let now = current.revision_of().map_err(Error::Internal)?;
            let same = {
                let mut bare = file.clone();
                bare.revision = None;
                bare == current
            };
            if *revision != now && !current.is_empty() && !same {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!(
                        "the file is stale: it was exported at {revision}, and workspace {workspace}'s configuration changed since (now {now}); export it again and redo the edits, or remove its revision line to apply it over whatever is there"
                    ),
                )));
            }
        }
        // A budget left by an agent deleted before is the file's to keep or remove when
        // the file creates the agent again.
        for budget in reader.budgets(workspace)? {
            if let warden_core::BudgetScope::Agent(agent) = &budget.scope
                && !current
                    .agents
                    .iter()
                    .any(|known| known.name == agent.as_str())
                && file
                    .agents
                    .iter()
                    .any(|wanted| wanted.name == agent.as_str())
            {
                current.budgets.push(document::BudgetDoc {
                    agent: Some(agent.to_string()),
                    tokens: budget.tokens,
                    tool_calls: budget.tool_calls,
                });
            }
        }
        let secrets = match Secrets::check(secrets, file) {
            Ok(secrets) => secrets,
            Err(message) => return Ok(Err(invalid(message))),
        };
        let forced: BTreeSet<String> = secrets.forced();
        let diff = plan::diff(file, &current, &forced);
        let changes = diff.changes.clone();
        if dry_run || changes.is_empty() {
            // A dry run still says what a real one would refuse for missing secrets.
            if let Err(rejection) = secrets.missing(&diff, reader, workspace)? {
                return Ok(Err(rejection));
            }
            return Ok(Ok((changes, None)));
        }
        let commands = match self.commands(&diff, file, workspace, &secrets).await? {
            Ok(commands) => commands,
            Err(rejection) => return Ok(Err(rejection)),
        };
        Ok(Ok((
            changes,
            Some(Command::ApplyWorkspace {
                workspace: workspace.clone(),
                expected,
                changes: commands,
            }),
        )))
    }

    /// The commands of `diff`, in an order each finds what it names.
    async fn commands(
        &self,
        diff: &Diff<'_>,
        file: &Document,
        workspace: &WorkspaceId,
        secrets: &Secrets<'_>,
    ) -> Result<Result<Vec<Command>, Rejection>, Error> {
        let reader = self.cluster.reader();
        let (early, late) = match plan::deletions(diff, workspace) {
            Ok(found) => found,
            Err(message) => return Ok(Err(invalid(message))),
        };
        let mut commands = early;
        let sealer = match secrets
            .sealer(&self.vault, &self.cluster, workspace)
            .await?
        {
            Ok(sealer) => sealer,
            Err(rejection) => return Ok(Err(rejection)),
        };
        for put in &diff.providers {
            match secrets.provider(put, workspace, reader, sealer.as_ref())? {
                Ok(command) => {
                    if let Some(rejection) =
                        super::boundary::provider_refusal(&self.providers, &self.egress, &command)
                    {
                        return Ok(Err(rejection));
                    }
                    commands.push(command);
                }
                Err(rejection) => return Ok(Err(rejection)),
            }
        }
        for put in &diff.servers {
            let (transport, credentials) =
                match secrets.transport(put, workspace, reader, &self.vault, sealer.as_ref())? {
                    Ok(found) => found,
                    Err(rejection) => return Ok(Err(rejection)),
                };
            if let McpTransport::Http { url, .. } = &transport
                && let Some(rejection) = super::boundary::url_refusal(&self.egress, "url", url)
            {
                return Ok(Err(rejection));
            }
            let name = match plan::server_name(&put.name) {
                Ok(name) => name,
                Err(message) => return Ok(Err(invalid(message))),
            };
            let version = reader
                .mcp_server(workspace, &name)?
                .map_or(1, |earlier| earlier.version + 1);
            let entry = match &transport {
                McpTransport::Stdio { catalog, .. } => reader.catalog_entry(catalog)?,
                McpTransport::Http { .. } => None,
            };
            let spec = match warden_actors::credentials::server_spec(
                &transport,
                entry.as_ref(),
                &credentials,
            ) {
                Ok(spec) => spec,
                Err(cause) => {
                    return Ok(Err(Rejection::new(
                        Code::FailedPrecondition,
                        format!("mcp_server {name}: {cause}"),
                    )));
                }
            };
            // A session of its own: the one tasks use is not replaced by a server the
            // command may yet refuse (it shuts down when idle).
            let key = format!("{workspace}/{name}#apply");
            let tools = match super::mcp_register::list_tools(&self.tools, &key, &spec).await {
                Ok(tools) => tools,
                Err((code, cause)) => {
                    return Ok(Err(Rejection::new(
                        code,
                        format!(
                            "mcp_server {name}: on node {}, {cause}",
                            self.cluster.node_id()
                        ),
                    )));
                }
            };
            if let Some(pinned) = &put.wanted.pinned {
                let offered: BTreeMap<String, String> = tools
                    .iter()
                    .map(|tool| (tool.name.to_string(), tool.definition_hash().to_hex()))
                    .collect();
                if offered != *pinned {
                    return Ok(Err(Rejection::new(
                        Code::FailedPrecondition,
                        format!(
                            "mcp_server {name} offers other tools than the file pins: {}",
                            pin_difference(pinned, &offered)
                        ),
                    )));
                }
            }
            commands.push(Command::RegisterMcpServer {
                workspace: workspace.clone(),
                name: name.clone(),
                transport,
                workspace_key: sealer.as_ref().and_then(|sealer| sealer.offered()),
            });
            commands.push(Command::PinMcpTools {
                workspace: workspace.clone(),
                name,
                expected_version: version,
                tools,
                trust_annotations: self.trust_annotations,
            });
        }
        for put in &diff.agents {
            let name = match warden_core::AgentName::parse(&put.name) {
                Ok(name) => name,
                Err(error) => return Ok(Err(invalid(plan::invalid("agent", &put.name, error)))),
            };
            let current = reader.agent(workspace, &name)?;
            let paused = current.as_ref().is_some_and(|agent| agent.spec.paused);
            let spec = match plan::agent_spec(put.wanted, paused) {
                Ok(spec) => spec,
                Err(message) => return Ok(Err(invalid(message))),
            };
            commands.push(match current {
                None => Command::CreateAgent {
                    workspace: workspace.clone(),
                    spec,
                },
                Some(agent) => Command::UpdateAgent {
                    workspace: workspace.clone(),
                    spec,
                    expected_version: agent.version,
                },
            });
        }
        if diff.policy
            && let Some(policy) = &file.policy
        {
            commands.push(Command::PutPolicy {
                workspace: workspace.clone(),
                policy: policy.clone(),
                expected_version: reader.policy(workspace)?.map_or(0, |stored| stored.version),
            });
        }
        for put in &diff.budgets {
            let scope = match plan::budget_agent(put.wanted.agent.as_ref()) {
                Ok(scope) => scope,
                Err(message) => return Ok(Err(invalid(message))),
            };
            commands.push(Command::SetBudget {
                workspace: workspace.clone(),
                agent: match scope {
                    warden_core::BudgetScope::Workspace => None,
                    warden_core::BudgetScope::Agent(agent) => Some(agent),
                },
                tokens: put.wanted.tokens,
                tool_calls: put.wanted.tool_calls,
                reset: false,
            });
        }
        for put in &diff.schedules {
            let spec = match plan::schedule_spec(put.wanted) {
                Ok(spec) => spec,
                Err(message) => return Ok(Err(invalid(message))),
            };
            let expected_version = reader
                .schedule(workspace, &spec.name)?
                .map_or(0, |s| s.version);
            commands.push(Command::PutSchedule {
                workspace: workspace.clone(),
                spec,
                expected_version,
            });
        }
        for put in &diff.triggers {
            let spec = match plan::trigger_spec(put.wanted) {
                Ok(spec) => spec,
                Err(message) => return Ok(Err(invalid(message))),
            };
            let expected_version = reader
                .trigger(workspace, &spec.name)?
                .map_or(0, |t| t.version);
            let secret = match secrets.trigger(&spec, workspace, expected_version, sealer.as_ref())
            {
                Ok(secret) => secret,
                Err(rejection) => return Ok(Err(rejection)),
            };
            commands.push(Command::PutTrigger {
                workspace: workspace.clone(),
                spec,
                secret,
                expected_version,
                workspace_key: sealer.as_ref().and_then(|sealer| sealer.offered()),
            });
        }
        commands.extend(late);
        Ok(Ok(commands))
    }
}

/// What the offered tools and the pinned ones differ in, for a refusal.
fn pin_difference(pinned: &BTreeMap<String, String>, offered: &BTreeMap<String, String>) -> String {
    let mut lines = Vec::new();
    for (tool, hash) in offered {
        match pinned.get(tool) {
            None => lines.push(format!("{tool} is not pinned")),
            Some(wanted) if wanted != hash => lines.push(format!(
                "{tool} is offered with definition {hash}, pinned {wanted}"
            )),
            Some(_) => {}
        }
    }
    for tool in pinned.keys() {
        if !offered.contains_key(tool) {
            lines.push(format!("{tool} is pinned but not offered"));
        }
    }
    lines.join("; ")
}
