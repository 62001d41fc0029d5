//! A node stops rather than apply what its protocol does not know: a newer command, a
//! raise of the cluster's protocol past its own, a snapshot of a newer cluster; and it
//! refuses to open the state of a newer cluster at its next start.

use openraft::storage::RaftStateMachine;
use warden_core::{Command, NodeId, Outcome, Principal, Request, WorkspaceId};

use super::{TestResult, entry};
use crate::storage::Storage;
use crate::types::Entry;

fn as_node(index: u64, command: Command) -> Entry {
    let mut entry = entry(index, command);
    if let openraft::EntryPayload::Normal(request) = &mut entry.payload {
        *request = Request {
            principal: Principal::node(NodeId(1)),
            ..request.clone()
        };
    }
    entry
}

fn settings() -> Command {
    Command::SetWorkspaceSettings {
        workspace: WorkspaceId::parse("acme").expect("valid workspace"),
        trace_content: true,
    }
}

#[tokio::test]
async fn an_older_node_stops_at_what_it_cannot_apply_and_then_refuses_to_open() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    let create = Command::CreateWorkspace {
        workspace: WorkspaceId::parse("acme")?,
        key: None,
    };
    let mut old = storage.state_machine_speaking(1)?;
    old.apply([entry(1, create)]).await?;

    let error = old
        .apply([entry(2, settings())])
        .await
        .expect_err("a protocol 1 node applied a protocol 2 command");
    let text = format!("{:?}", error);
    assert!(
        text.contains(
            "log entry 2 holds workspace.set_settings, a protocol 2 command that this warden (protocol 1) cannot apply"
        ),
        "{text}"
    );
    let error = old
        .apply([as_node(2, Command::SetClusterProtocol { protocol: 2 })])
        .await
        .expect_err("a protocol 1 node recorded that the cluster runs protocol 2");
    assert!(
        format!("{error:?}").contains("the cluster runs protocol 2, newer than protocol 1"),
        "{error:?}"
    );
    let (applied, _) = old.applied_state().await?;
    assert_eq!(
        applied.map(|id| id.index),
        Some(1),
        "nothing past entry 1 applied"
    );
    assert_eq!(storage.reader().cluster_protocol()?, 1);

    // A node of this build applies both, and the older one no longer opens the state.
    let mut current = storage.state_machine()?;
    let outcomes = current
        .apply([
            as_node(2, Command::SetClusterProtocol { protocol: 2 }),
            entry(3, settings()),
        ])
        .await?;
    assert_eq!(outcomes[0], Outcome::ClusterProtocolSet { from: 1, to: 2 });
    assert!(matches!(outcomes[1], Outcome::WorkspaceSettingsSet(_)));
    let refused = storage
        .state_machine_speaking(1)
        .expect_err("a protocol 1 node opened a protocol 2 cluster's state");
    assert_eq!(
        refused.to_string(),
        "the cluster runs protocol 2, newer than protocol 1, which this warden speaks: run a build that speaks protocol 2 or newer (`warden --version` names its protocol)"
    );
    storage.state_machine_speaking(2)?;
    Ok(())
}

#[tokio::test]
async fn a_snapshot_of_a_newer_cluster_stops_an_older_node() -> TestResult {
    let source_dir = tempfile::tempdir()?;
    let source = Storage::open(source_dir.path())?;
    let mut current = source.state_machine()?;
    current
        .apply([as_node(1, Command::SetClusterProtocol { protocol: 2 })])
        .await?;
    let mut builder = current.get_snapshot_builder().await;
    let snapshot = openraft::RaftSnapshotBuilder::build_snapshot(&mut builder).await?;

    let target_dir = tempfile::tempdir()?;
    let target = Storage::open(target_dir.path())?;
    let mut old = target.state_machine_speaking(1)?;
    let error = old
        .install_snapshot(&snapshot.meta, snapshot.snapshot)
        .await
        .expect_err("a protocol 1 node went on after installing a protocol 2 snapshot");
    assert!(
        format!("{error:?}").contains("the cluster runs protocol 2, newer than protocol 1"),
        "{error:?}"
    );
    assert!(target.state_machine_speaking(1).is_err());
    Ok(())
}
