//! The pending-delivery index: ordered by the next attempt's time across workspaces, so
//! the sender finds what is due however many deliveries wait for later; an attempt moves
//! a delivery's entry, the last one removes it, and deleting a workspace removes its own.

use warden_core::{
    AgentName, Applied, AuditHead, Delivery, DeliveryId, DeliveryState, Hash, Notice, Outcome,
    TaskId, WebhookEvent, WebhookName, WorkspaceId, Write,
};

use super::super::pending::Pending;
use super::{TestResult, put_sm};
use crate::storage::Storage;

fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::parse(name).expect("valid workspace")
}

fn delivery(workspace: &str, log_index: u64, state: DeliveryState) -> Delivery {
    Delivery {
        workspace: ws(workspace),
        id: DeliveryId { log_index, seq: 0 },
        webhook: WebhookName::parse("pager").expect("valid webhook"),
        webhook_created: 1,
        notice: Notice::new(
            WebhookEvent::TaskFailed,
            1,
            TaskId::from_u128(1),
            AgentName::parse("bot").expect("valid agent"),
            "failed",
        ),
        created_ms: 1,
        state,
        attempts: 0,
        last_attempt_ms: None,
        last_error: None,
    }
}

/// Commits `writes` as one applied entry would.
fn commit(storage: &Storage, writes: Vec<Write>) -> TestResult {
    let audit = AuditHead::default().append(warden_core::audit::RecordBody {
        log_index: 1,
        time_ms: 1,
        principal: "system".to_owned(),
        action: "webhook.deliver".to_owned(),
        resource: String::new(),
        outcome: "accepted".to_owned(),
        detail: String::new(),
        payload_hash: Hash::ZERO,
    });
    let mut pending = Pending::new(storage);
    pending.stage(&Applied {
        outcome: Outcome::Noop,
        writes,
        audit,
    })?;
    let batch = pending.finish(
        &crate::types::LogId::new(openraft::CommittedLeaderId::new(1, 1), 1),
        &Default::default(),
        &AuditHead::default(),
    )?;
    Ok(storage.write_synced(batch, || "test batch".into())?)
}

fn due(storage: &Storage, now: u64, limit: usize) -> Result<Vec<(String, u64)>, crate::Error> {
    Ok(storage
        .reader()
        .due_deliveries(now, limit)?
        .into_iter()
        .map(|due| (due.workspace.to_string(), due.id.log_index))
        .collect())
}

#[test]
fn the_due_come_first_whatever_waits_for_later() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    // Workspace "a" sorts first and has many deliveries waiting for a later attempt.
    let later: Vec<Write> = (10..110)
        .map(|index| {
            Write::Delivery(delivery(
                "a",
                index,
                DeliveryState::Pending {
                    next_attempt_ms: 9_000,
                },
            ))
        })
        .collect();
    commit(&storage, later)?;
    commit(
        &storage,
        vec![Write::Delivery(delivery(
            "z",
            5,
            DeliveryState::Pending {
                next_attempt_ms: 100,
            },
        ))],
    )?;
    assert_eq!(due(&storage, 500, 3)?, [("z".to_owned(), 5)]);
    assert_eq!(due(&storage, 9_000, 2)?.len(), 2, "bounded by the limit");

    // A retry moves the entry to its new time; delivered, it leaves the index.
    let mut retried = delivery(
        "z",
        5,
        DeliveryState::Pending {
            next_attempt_ms: 20_000,
        },
    );
    retried.attempts = 1;
    commit(&storage, vec![Write::Delivery(retried)])?;
    assert_eq!(due(&storage, 500, 10)?, Vec::<(String, u64)>::new());
    let mut delivered = delivery("z", 5, DeliveryState::Delivered { status: 204 });
    delivered.attempts = 2;
    commit(&storage, vec![Write::Delivery(delivered)])?;
    assert!(
        due(&storage, u64::MAX, 1_000)?
            .iter()
            .all(|(ws, _)| ws == "a")
    );

    // Deleting workspace "a" takes its entries out of the time-ordered index too.
    commit(&storage, vec![Write::RemoveWorkspace(ws("a"))])?;
    assert_eq!(due(&storage, u64::MAX, 1_000)?, Vec::<(String, u64)>::new());
    Ok(())
}

#[test]
fn a_malformed_index_entry_is_reported_as_corruption() -> TestResult {
    let dir = tempfile::tempdir()?;
    let storage = Storage::open(dir.path())?;
    put_sm(&storage, &[0x51, 1, 2], &[])?;
    assert!(matches!(
        storage.reader().due_deliveries(0, 10),
        Err(crate::Error::Corrupt { .. })
    ));
    Ok(())
}
