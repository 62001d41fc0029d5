//! Streams keep checking their reader: a viewer whose token is revoked, whose role is
//! taken away or whose token expires stops receiving a workspace's events at that point
//! of the log, with UNAUTHENTICATED or PERMISSION_DENIED, and nothing applied after it.

use crate::common::setup::WAIT;
use crate::common::{AGENT, add_paused_agent, start};
use tonic::Code;
use tonic::transport::Channel;
use warden_client::Client;
use warden_proto::v1::task_service_client::TaskServiceClient;
use warden_proto::v1::{TaskEvent, WatchTaskRequest, WatchWorkspaceRequest};

const WS: &str = "streamed";

fn with_token<T>(secret: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    let value = format!("Bearer {secret}").parse().expect("ASCII token");
    request.metadata_mut().insert("authorization", value);
    request
}

/// A viewer of `WS`: (token id, secret).
async fn viewer(admin: &Client, name: &str, ttl_ms: u64) -> (String, String) {
    let principal = format!("user/{name}");
    let created = admin
        .create_token(&principal, "a viewer", ttl_ms)
        .await
        .expect("create token");
    admin
        .set_roles(Some(WS), &principal, &["viewer"])
        .await
        .expect("bind viewer");
    (created.token.expect("token info").id, created.secret)
}

async fn watch_workspace(channel: &Channel, secret: &str) -> tonic::Streaming<TaskEvent> {
    let request = WatchWorkspaceRequest {
        workspace: WS.to_owned(),
        from_index: 0,
    };
    TaskServiceClient::new(channel.clone())
        .watch_workspace(with_token(secret, request))
        .await
        .expect("watch the workspace")
        .into_inner()
}

/// Reads until the stream fails; returns the tasks whose events came first and the
/// failure. Panics if the stream ends cleanly or stalls.
async fn until_refused(stream: &mut tonic::Streaming<TaskEvent>) -> (Vec<String>, tonic::Status) {
    let mut tasks = Vec::new();
    loop {
        match tokio::time::timeout(WAIT, stream.message()).await {
            Err(_) => panic!("the stream neither failed nor sent anything for {WAIT:?}"),
            Ok(Ok(Some(event))) => tasks.push(event.task_id),
            Ok(Ok(None)) => panic!("the stream ended without an error"),
            Ok(Err(status)) => return (tasks, status),
        }
    }
}

async fn submit(admin: &Client, input: &str) -> String {
    admin
        .submit_task(WS, AGENT, input, Some(input.to_owned()))
        .await
        .expect("submit")
        .response
        .task
        .expect("task")
        .id
}

#[tokio::test]
async fn a_revoked_demoted_or_expired_reader_s_streams_end_at_that_point_of_the_log() {
    let cluster = start(3, &[]).await;
    let admin = cluster.client().expect("admin client");
    admin.create_workspace(WS).await.expect("workspace");
    add_paused_agent(&admin, WS).await;
    let (revoked_id, revoked) = viewer(&admin, "revoked", 0).await;
    let (_, demoted) = viewer(&admin, "demoted", 0).await;
    let (_, expiring) = viewer(&admin, "expiring", 8_000).await;
    let (_, kept) = viewer(&admin, "kept", 0).await;
    let before = submit(&admin, "before").await;

    // Every reader follows from a follower, which learns of revocations by applying them.
    let leader = cluster.wait_for_leader(WAIT).await.expect("leader");
    let follower = (1..=3).find(|id| *id != leader).expect("a follower");
    let channel = crate::common::raw_channel(&cluster, follower).await;
    let mut revoked_stream = watch_workspace(&channel, &revoked).await;
    let mut revoked_task_stream = TaskServiceClient::new(channel.clone())
        .watch_task(with_token(
            &revoked,
            WatchTaskRequest {
                workspace: WS.to_owned(),
                task_id: before.clone(),
                from_seq: 0,
            },
        ))
        .await
        .expect("watch a task")
        .into_inner();
    let mut demoted_stream = watch_workspace(&channel, &demoted).await;
    let mut expiring_stream = watch_workspace(&channel, &expiring).await;
    let mut kept_stream = watch_workspace(&channel, &kept).await;
    for stream in [
        &mut revoked_stream,
        &mut revoked_task_stream,
        &mut demoted_stream,
        &mut expiring_stream,
        &mut kept_stream,
    ] {
        let first = tokio::time::timeout(WAIT, stream.message())
            .await
            .expect("a first event")
            .expect("no error")
            .expect("an event");
        assert_eq!(first.task_id, before);
    }

    admin.revoke_token(&revoked_id).await.expect("revoke");
    admin
        .set_roles(Some(WS), "user/demoted", &[])
        .await
        .expect("take the role away");
    let after = submit(&admin, "after").await;

    let (seen, status) = until_refused(&mut revoked_stream).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("revoked"), "{status:?}");
    assert!(
        !seen.contains(&after),
        "a revoked reader was sent {after}: {seen:?}"
    );
    let (_, status) = until_refused(&mut revoked_task_stream).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let (seen, status) = until_refused(&mut demoted_stream).await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("no longer holds"), "{status:?}");
    assert!(
        !seen.contains(&after),
        "a demoted reader was sent {after}: {seen:?}"
    );

    // The reader who kept its role sees the task submitted after the revocations.
    let event = tokio::time::timeout(WAIT, kept_stream.message())
        .await
        .expect("an event")
        .expect("no error")
        .expect("an event");
    assert_eq!(event.task_id, after);

    // An expiring token ends its stream when it expires, with nothing applied meanwhile.
    let (_, status) = until_refused(&mut expiring_stream).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("expired"), "{status:?}");
}
