//! A task's journal and the active-task index as the state machine writes them, and as a
//! snapshot carries them (and the cluster catalog) to another store.

use openraft::RaftSnapshotBuilder;
use openraft::storage::RaftStateMachine;
use warden_core::{
    CatalogName, Command, McpTransport, NodeId, Outcome, ServerName, Step, TaskId, TaskStatus,
    ToolDefinition, ToolGrant, ToolName, Usage,
};
use warden_raft::StateReader;
use warden_raft::types::Entry;

use crate::fixtures::{
    TestResult, bot, create, create_agent, normal, open_temp, provider_and_agent, put_provider,
    submit, ws,
};

/// The task that runs to completion.
const TASK: u128 = 7;
/// Submitted next to `TASK` and never placed, so it stays in the index.
const WAITING: u128 = 8;

fn tools() -> ServerName {
    ServerName::parse("tools").expect("fixture server names are valid")
}

fn get() -> ToolName {
    ToolName::parse("get").expect("fixture tool names are valid")
}

/// Workspace `acme` with provider `model`, server `tools` listing one read-only tool
/// `get`, and agent `bot` granted it; then tasks 7 and 8.
fn submitted() -> Vec<Entry> {
    let entry = Command::PutCatalogEntry {
        spec: warden_core::fixtures::catalog_spec("tools"),
    };
    let server = Command::RegisterMcpServer {
        workspace: ws("acme"),
        name: tools(),
        transport: McpTransport::Stdio {
            catalog: CatalogName::parse("tools").expect("fixture entry names are valid"),
            args: vec![],
            env: vec![],
            secret_env: vec![],
        },
        workspace_key: None,
    };
    let pin = Command::PinMcpTools {
        workspace: ws("acme"),
        name: tools(),
        expected_version: 1,
        tools: vec![ToolDefinition {
            name: get(),
            description: "the get tool".to_owned(),
            input_schema: r#"{"type":"object"}"#.to_owned(),
            read_only: true,
            idempotent: true,
            destructive: false,
            listed: r#"{"name":"get"}"#.to_owned(),
        }],
        trust_annotations: false,
    };
    let grant = ToolGrant {
        server: tools(),
        tool: get(),
        retry_safe: None,
    };
    vec![
        create(1, "acme"),
        put_provider(2, "acme"),
        normal(3, entry),
        normal(4, server),
        normal(5, pin),
        create_agent(6, "acme", vec![grant]),
        submit(7, "acme", TASK, "k7", "do the thing"),
        submit(8, "acme", WAITING, "k8", "wait"),
    ]
}

/// Task 7 placed on node 1 and answered without tool calls, which completes it.
fn completed() -> Vec<Entry> {
    let assign = Command::AssignTask {
        workspace: ws("acme"),
        task: TaskId::from_u128(TASK),
        node: NodeId(1),
        epoch: 1,
    };
    let answer = Command::AppendJournal {
        workspace: ws("acme"),
        task: TaskId::from_u128(TASK),
        node: NodeId(1),
        epoch: 1,
        step: Step::ModelResponded {
            turn: 0,
            content: "done".to_owned(),
            tool_calls: vec![],
            usage: Usage {
                input_tokens: 10,
                output_tokens: 2,
            },
            start_first: false,
        },
    };
    vec![normal(9, assign), normal(10, answer)]
}

fn assert_accepted(outcomes: &[Outcome]) {
    for outcome in outcomes {
        assert!(!matches!(outcome, Outcome::Rejected(_)), "{outcome:?}");
    }
}

fn active_ids(reader: &StateReader) -> Result<Vec<(String, u128)>, warden_raft::Error> {
    Ok(reader
        .active_tasks()?
        .into_iter()
        .map(|(workspace, id, _)| (workspace.to_string(), id.as_u128()))
        .collect())
}

#[tokio::test]
async fn the_journal_and_the_active_index_follow_a_task_and_survive_a_snapshot() -> TestResult {
    let (task_id, waiting_id) = (TaskId::from_u128(TASK), TaskId::from_u128(WAITING));
    let (_dir_a, store_a) = open_temp()?;
    let mut machine_a = store_a.state_machine()?;
    let reader_a = store_a.reader();

    assert_accepted(&machine_a.apply(submitted()).await?);
    let active = reader_a.active_tasks()?;
    assert_eq!(
        active_ids(&reader_a)?,
        vec![("acme".to_owned(), TASK), ("acme".to_owned(), WAITING)]
    );
    let (_, _, entry) = &active[0];
    assert_eq!(
        (entry.status, &entry.agent, entry.owner, entry.epoch),
        (TaskStatus::Pending, &bot(), None, 0)
    );

    assert_accepted(&machine_a.apply(completed()).await?);
    let journal = reader_a.journal(&ws("acme"), &task_id, 0, 100)?;
    assert_eq!(
        journal
            .iter()
            .map(|entry| (entry.seq, entry.log_index, entry.event.kind()))
            .collect::<Vec<_>>(),
        vec![
            (0, 7, "submitted"),
            (1, 9, "assigned"),
            (2, 10, "model_responded"),
            (3, 10, "completed"),
        ]
    );
    assert_eq!(
        journal.iter().map(|entry| entry.epoch).collect::<Vec<_>>(),
        vec![0, 1, 1, 1]
    );
    // Pages start at a sequence and stop at the limit.
    assert_eq!(
        reader_a.journal(&ws("acme"), &task_id, 2, 100)?,
        journal[2..]
    );
    assert_eq!(
        reader_a.journal(&ws("acme"), &task_id, 1, 2)?,
        journal[1..3]
    );
    assert!(reader_a.journal(&ws("acme"), &task_id, 4, 100)?.is_empty());
    // The other task's journal is its own.
    let waiting = reader_a.journal(&ws("acme"), &waiting_id, 0, 100)?;
    assert_eq!(
        waiting
            .iter()
            .map(|entry| (entry.seq, entry.log_index, entry.event.kind()))
            .collect::<Vec<_>>(),
        vec![(0, 8, "submitted")]
    );
    // The workspace's events: both journals merged in log order, resumable by index.
    let events = reader_a.workspace_events(&ws("acme"), 0, 100)?;
    let indexes: Vec<u64> = events.iter().map(|(_, entry)| entry.log_index).collect();
    assert!(
        indexes.windows(2).all(|pair| pair[0] <= pair[1]),
        "{indexes:?}"
    );
    assert_eq!(events.len(), journal.len() + waiting.len());
    let from_eight = reader_a.workspace_events(&ws("acme"), 8, 100)?;
    assert!(from_eight.iter().all(|(_, entry)| entry.log_index >= 8));
    assert_eq!(
        from_eight.len(),
        events
            .iter()
            .filter(|(_, entry)| entry.log_index >= 8)
            .count()
    );
    assert!(reader_a.workspace_events(&ws("other"), 0, 100)?.is_empty());

    let task = reader_a
        .task(&ws("acme"), &task_id)?
        .ok_or("task 7 is missing")?;
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.journal_len, 4);
    assert_eq!(active_ids(&reader_a)?, vec![("acme".to_owned(), WAITING)]);

    // A second store with its own task 9, which the installed snapshot must wipe out
    // together with its journal and index entry.
    let (_dir_b, store_b) = open_temp()?;
    let mut machine_b = store_b.state_machine()?;
    let mut stale = vec![create(1, "acme")];
    stale.extend(provider_and_agent(2, "acme"));
    stale.push(submit(4, "acme", 9, "k9", "stale"));
    assert_accepted(&machine_b.apply(stale).await?);

    let snapshot = machine_a
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await?;
    let mut data = machine_b.begin_receiving_snapshot().await?;
    data.get_mut()
        .extend_from_slice(snapshot.snapshot.get_ref());
    machine_b.install_snapshot(&snapshot.meta, data).await?;

    let reader_b = store_b.reader();
    assert_eq!(reader_b.journal(&ws("acme"), &task_id, 0, 100)?, journal);
    assert_eq!(reader_b.journal(&ws("acme"), &waiting_id, 0, 100)?, waiting);
    assert_eq!(reader_b.active_tasks()?, reader_a.active_tasks()?);
    let stale_task = TaskId::from_u128(9);
    assert!(
        reader_b
            .journal(&ws("acme"), &stale_task, 0, 100)?
            .is_empty()
    );
    assert_eq!(reader_b.task(&ws("acme"), &stale_task)?, None);
    assert_eq!(
        reader_b.mcp_servers(&ws("acme"))?,
        reader_a.mcp_servers(&ws("acme"))?
    );
    // The cluster catalog travels with the snapshot (it is part of `sm`).
    let catalog = reader_b.catalog_entries()?;
    assert_eq!(catalog.len(), 1, "{catalog:?}");
    assert_eq!(catalog, reader_a.catalog_entries()?);
    Ok(())
}
