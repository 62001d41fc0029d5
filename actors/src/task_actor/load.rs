//! Preparing an incarnation: the task, its journal replayed into the conversation, the
//! model client and the tools the agent may see, read after a read barrier.

use std::collections::BTreeMap;

use ractor::ActorProcessingErr;
use warden_core::builtin::BUILTIN_PROTOCOL;
use warden_core::{JournalEntry, McpServer, ServerName, Step, TaskStatus};

use super::{Loaded, TaskArgs, commit_once};
use crate::credentials;
use crate::functions;
use crate::host::{HostError, SecretError};
use crate::replay;

/// Reads the task and what running it needs, after a read barrier so the journal is
/// complete. `None` when this node does not own the task at this epoch any more.
pub(super) async fn load(args: &TaskArgs) -> Result<Option<Loaded>, ActorProcessingErr> {
    let host = args.host.as_ref();
    host.sync().await?;
    let reader = host.reader();
    let Some(task) = reader.task(&args.workspace, &args.task)? else {
        return Ok(None);
    };
    if task.owner != Some(host.node())
        || task.epoch != args.epoch
        || task.status != TaskStatus::Running
    {
        return Ok(None);
    }
    let journal: Vec<JournalEntry> = reader.journal(&args.workspace, &args.task)?;
    let fail = |reason: String| Step::Fail { reason };
    let Some(agent) = reader.agent(&args.workspace, &task.agent)? else {
        let reason = format!("agent {} no longer exists", task.agent);
        commit_once(args, task, fail(reason)).await?;
        return Ok(None);
    };
    let Some(provider) = reader.provider(&args.workspace, &agent.spec.provider)? else {
        let reason = format!("provider {} no longer exists", agent.spec.provider);
        commit_once(args, task, fail(reason)).await?;
        return Ok(None);
    };
    // Opened right before the client is built; only the client keeps the key.
    let opened = match credentials::provider_key(host, &provider) {
        Ok(opened) => opened,
        Err(SecretError::Storage(error)) => return Err(HostError::Storage(error).into()),
        Err(error) => {
            let reason = format!(
                "provider {}: cannot open its API key: {error}",
                provider.name
            );
            commit_once(args, task, fail(reason)).await?;
            return Ok(None);
        }
    };
    let model = match host.model(&provider, opened) {
        Ok(model) => model,
        Err(reason) => {
            commit_once(args, task, fail(reason)).await?;
            return Ok(None);
        }
    };
    let servers: BTreeMap<ServerName, McpServer> = reader
        .mcp_servers(&args.workspace)?
        .into_iter()
        .map(|server| (server.name.clone(), server))
        .collect();
    let listed: Vec<McpServer> = servers.values().cloned().collect();
    let protocol = reader.cluster_protocol()?;
    let agents = if protocol >= BUILTIN_PROTOCOL {
        reader.agent_names(&args.workspace)?
    } else {
        Vec::new()
    };
    let tools = functions::visible_tools(&agent, &listed, &agents, protocol);
    let messages = replay::conversation(&task, &journal);
    // Only the first incarnation at a new epoch measures; a restarted actor at the same
    // epoch finds its own steps there already.
    let stepped_at_this_epoch = journal.iter().any(|entry| {
        entry.epoch == task.epoch && !matches!(entry.event, warden_core::TaskEvent::Assigned { .. })
    });
    let resumed_after_ms = journal
        .iter()
        .filter(|entry| entry.epoch < task.epoch && entry.epoch > 0 && !stepped_at_this_epoch)
        .map(|entry| entry.time_ms)
        .max();
    let system = (!agent.spec.instructions.is_empty()).then(|| agent.spec.instructions.clone());
    Ok(Some(Loaded {
        task,
        messages,
        system,
        model,
        provider_name: provider.name.to_string(),
        tools,
        servers,
        resumed_after_ms,
        started_here: None,
    }))
}
