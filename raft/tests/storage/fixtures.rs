//! Entries and stores shared by the storage tests.

use std::collections::{BTreeMap, BTreeSet};

use openraft::{BasicNode, CommittedLeaderId, EntryPayload, Membership};
use tempfile::TempDir;
use warden_core::{
    AgentName, AgentSpec, Command, IdempotencyKey, Limits, Principal, ProviderName, Request,
    TaskId, ToolGrant, WorkspaceId,
};
use warden_raft::Storage;
use warden_raft::types::{Entry, LogId};

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A fresh database in a temporary directory, deleted when the `TempDir` drops.
pub fn open_temp() -> Result<(TempDir, Storage), Box<dyn std::error::Error + Send + Sync>> {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    Ok((dir, storage))
}

pub fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::parse(name).expect("fixture workspace names are valid")
}

pub fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

pub fn blank(index: u64) -> Entry {
    Entry {
        log_id: log_id(1, index),
        payload: EntryPayload::Blank,
    }
}

pub fn normal(index: u64, command: Command) -> Entry {
    let request = Request {
        time_ms: 1_000 + index,
        principal: Principal::system(),
        token: None,
        command,
    };
    Entry {
        log_id: log_id(1, index),
        payload: EntryPayload::Normal(request),
    }
}

pub fn create(index: u64, workspace: &str) -> Entry {
    normal(
        index,
        Command::CreateWorkspace {
            workspace: ws(workspace),
            key: None,
        },
    )
}

pub fn bot() -> AgentName {
    AgentName::parse("bot").expect("fixture agent names are valid")
}

fn model() -> ProviderName {
    ProviderName::parse("model").expect("fixture provider names are valid")
}

/// The entries at `index` and `index + 1` that give `workspace` provider `model` and
/// agent `bot` without tools, which every [`submit`] names.
pub fn provider_and_agent(index: u64, workspace: &str) -> [Entry; 2] {
    [
        put_provider(index, workspace),
        create_agent(index + 1, workspace, vec![]),
    ]
}

/// Provider `model`, an OpenAI-compatible endpoint nobody calls in these tests.
pub fn put_provider(index: u64, workspace: &str) -> Entry {
    normal(
        index,
        warden_core::fixtures::put_provider(&ws(workspace), "model"),
    )
}

/// Agent `bot` on provider `model` with `tools` granted and the default limits.
pub fn create_agent(index: u64, workspace: &str, tools: Vec<ToolGrant>) -> Entry {
    normal(
        index,
        Command::CreateAgent {
            workspace: ws(workspace),
            spec: AgentSpec {
                name: bot(),
                instructions: "be useful".to_owned(),
                provider: model(),
                tools,
                limits: Limits::default(),
                paused: false,
            },
        },
    )
}

/// A submission to agent `bot`.
pub fn submit(index: u64, workspace: &str, task: u128, key: &str, input: &str) -> Entry {
    normal(
        index,
        Command::SubmitTask {
            workspace: ws(workspace),
            task_id: TaskId::from_u128(task),
            idempotency_key: IdempotencyKey::parse(key).expect("fixture keys are valid"),
            agent: bot(),
            input: input.to_owned(),
        },
    )
}

/// A membership of `voters`, node `n` listening on port 5000 + n.
pub fn membership(index: u64, voters: &[u64]) -> Entry {
    let config: BTreeSet<u64> = voters.iter().copied().collect();
    let nodes: BTreeMap<u64, BasicNode> = voters
        .iter()
        .map(|id| (*id, BasicNode::new(format!("127.0.0.1:{}", 5000 + id))))
        .collect();
    Entry {
        log_id: log_id(1, index),
        payload: EntryPayload::Membership(Membership::new(vec![config], nodes)),
    }
}
