//! Deleting through RocksDB: the batch overlay sees an earlier entry's range delete and
//! staged writes, the stored outcome matches the reference state's, and a deleted
//! workspace leaves no key behind.

use openraft::storage::RaftStateMachine;
use warden_core::fixtures::{put_provider, ws};
use warden_core::memory::MemoryState;
use warden_core::{
    AgentName, AgentSpec, Command, Hash, IdempotencyKey, Limits, PauseTarget, Principal,
    ProviderName, Request, Role, Scope, TaskId, TokenId, WorkspaceId,
};

use super::{TestResult, entry};
use crate::keys;
use crate::storage::Storage;

fn agent(workspace: &WorkspaceId) -> Command {
    Command::CreateAgent {
        workspace: workspace.clone(),
        spec: AgentSpec {
            name: AgentName::parse("bot").expect("valid agent"),
            instructions: "be useful".to_owned(),
            provider: ProviderName::parse("model").expect("valid provider"),
            tools: vec![],
            limits: Limits::default(),
            paused: false,
        },
    }
}

fn submit(workspace: &WorkspaceId, id: u128) -> Command {
    Command::SubmitTask {
        workspace: workspace.clone(),
        task_id: TaskId::from_u128(id),
        idempotency_key: IdempotencyKey::parse(&format!("key-{id}")).expect("valid key"),
        agent: AgentName::parse("bot").expect("valid agent"),
        input: format!("input {id}"),
    }
}

fn cancel(workspace: &WorkspaceId, id: u128) -> Command {
    Command::CancelTask {
        workspace: workspace.clone(),
        task: TaskId::from_u128(id),
        reason: "done with it".to_owned(),
    }
}

fn delete_agent(workspace: &WorkspaceId) -> Command {
    Command::DeleteAgent {
        workspace: workspace.clone(),
        name: AgentName::parse("bot").expect("valid agent"),
    }
}

/// Three batches: two workspaces with everything a workspace holds; then acme deleted
/// and created again in one batch, beyond an agent delete refused for a task staged
/// in the same batch; then that task cancelled and the agent deleted in one batch.
fn batches() -> Vec<Vec<Command>> {
    let (acme, beta) = (ws("acme"), ws("beta"));
    let user = Principal::parse("user/op").expect("valid principal");
    let first = vec![
        Command::SetClusterProtocol {
            protocol: warden_core::PROTOCOL,
        },
        Command::CreateWorkspace {
            workspace: acme.clone(),
            key: None,
        },
        Command::CreateWorkspace {
            workspace: beta.clone(),
            key: None,
        },
        put_provider(&acme, "model"),
        put_provider(&beta, "model"),
        agent(&acme),
        agent(&beta),
        Command::CreateToken {
            token: TokenId([1; 8]),
            secret_hash: Hash::of(b"op"),
            principal: user.clone(),
            description: String::new(),
            expires_at_ms: None,
        },
        Command::SetRoles {
            scope: Scope::Workspace(acme.clone()),
            principal: user,
            roles: vec![Role::Operator],
        },
        Command::SetBudget {
            workspace: acme.clone(),
            agent: None,
            tokens: Some(100),
            tool_calls: None,
            reset: false,
        },
        submit(&acme, 1),
        submit(&acme, 2),
        cancel(&acme, 1),
        cancel(&acme, 2),
        Command::SetWorkspaceSettings {
            workspace: acme.clone(),
            trace_content: true,
        },
        Command::SetPause {
            workspace: acme.clone(),
            target: PauseTarget::Workspace,
            paused: true,
            reason: "incident".to_owned(),
        },
    ];
    let second = vec![
        submit(&beta, 3),
        delete_agent(&beta),
        Command::DeleteWorkspace {
            workspace: acme.clone(),
        },
        Command::CreateWorkspace {
            workspace: acme.clone(),
            key: None,
        },
        put_provider(&acme, "model"),
    ];
    let third = vec![delete_agent(&beta), cancel(&beta, 3), delete_agent(&beta)];
    vec![first, second, third]
}

#[tokio::test]
async fn deletes_through_rocksdb_match_the_reference_state_and_leave_nothing_behind() -> TestResult
{
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    let mut reference = MemoryState::default();
    let mut index = 0;
    for batch in batches() {
        let mut entries = Vec::new();
        let mut expected = Vec::new();
        for command in batch {
            index += 1;
            let log_entry = entry(index, command);
            if let openraft::EntryPayload::Normal(request) = &log_entry.payload {
                let request: &Request = request;
                expected.push(reference.apply(index, request));
            }
            entries.push(log_entry);
        }
        let outcomes = storage.state_machine()?.apply(entries).await?;
        assert_eq!(outcomes, expected);
    }
    let rejected: Vec<String> = reference
        .audit
        .iter()
        .filter(|record| record.outcome == "rejected")
        .map(|record| format!("{} {}: {}", record.action, record.resource, record.detail))
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:#?}");
    for refusal in &rejected {
        assert!(
            refusal.starts_with("agent.delete workspace/beta/agent/bot: FAILED_PRECONDITION")
                && refusal.contains("1 unfinished task"),
            "{refusal}"
        );
    }

    // Of acme, only what the batch after the delete wrote is stored.
    let cf = storage.cf(keys::SM_CF)?;
    let acme_keys: Vec<Vec<u8>> = storage
        .db()
        .iterator_cf(cf, rocksdb::IteratorMode::Start)
        .map(|item| item.map(|(key, _)| key.into_vec()))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|key| {
            key.windows(4).any(|window| window == b"acme")
                && keys::audit_record_index(key).is_none()
        })
        .collect();
    let acme = ws("acme");
    let provider = ProviderName::parse("model")?;
    assert_eq!(
        acme_keys,
        vec![keys::workspace(&acme), keys::provider(&acme, &provider)],
    );
    let reader = storage.reader();
    assert!(reader.tasks_page(&acme, None, 10)?.0.is_empty());
    assert_eq!(reader.agents(&ws("beta"))?.len(), 0);
    assert_eq!(reader.providers(&ws("beta"))?.len(), 1);
    Ok(())
}
