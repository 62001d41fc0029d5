//! Retries across endpoints: UNAVAILABLE and refused connections move on to the next
//! node with the same idempotency key; other errors are returned at once. Writes that
//! must run at most once are sent again only when no earlier attempt reached a server.

use std::time::Duration;

use crate::common::{
    AgentServiceDouble, CuttableProxy, SubmitReply, TaskServiceDouble, dead_address, eventually,
    fast_options,
};
use tonic::Code;
use warden_client::proto::Agent;
use warden_client::{Client, Error, Resolution};

#[tokio::test]
async fn submit_retries_on_next_endpoint_with_the_same_generated_key() {
    let unavailable = TaskServiceDouble::new(SubmitReply::Unavailable);
    let accepting = TaskServiceDouble::new(SubmitReply::Accept);
    let first = unavailable.serve().await;
    let second = accepting.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(3))
        .expect("valid endpoints");

    let submitted = client
        .submit_task("default", "bot", "summarize", None)
        .await
        .expect("the second endpoint accepts");

    let first_keys = unavailable.keys();
    let second_keys = accepting.keys();
    assert_eq!(first_keys.len(), 1, "the first endpoint is tried once");
    assert_eq!(
        second_keys.len(),
        1,
        "the retry goes to the second endpoint"
    );
    assert_eq!(
        first_keys, second_keys,
        "a retry must reuse the idempotency key"
    );
    assert_eq!(submitted.idempotency_key, second_keys[0]);
    assert_eq!(submitted.idempotency_key.len(), 32);
    assert!(
        submitted
            .idempotency_key
            .chars()
            .all(|c| c.is_ascii_hexdigit())
    );
    let task = submitted.response.task.expect("a task");
    assert_eq!(task.id, "task-1");
    assert_eq!(task.idempotency_key, submitted.idempotency_key);

    // The endpoint that worked is remembered, also by clones: the next call skips the
    // unavailable one.
    let clone = client.clone();
    let again = clone
        .submit_task("default", "bot", "another", None)
        .await
        .expect("accepted");
    assert_eq!(unavailable.calls(), 1);
    assert_eq!(accepting.calls(), 2);
    assert_ne!(
        again.idempotency_key, submitted.idempotency_key,
        "a new call gets a new key"
    );
}

#[tokio::test]
async fn caller_key_is_sent_on_every_attempt() {
    let unavailable = TaskServiceDouble::new(SubmitReply::Unavailable);
    let accepting = TaskServiceDouble::new(SubmitReply::Accept);
    let first = unavailable.serve().await;
    let second = accepting.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(3))
        .expect("valid endpoints");

    let submitted = client
        .submit_task("default", "bot", "summarize", Some("order-42".into()))
        .await
        .expect("the second endpoint accepts");

    assert_eq!(submitted.idempotency_key, "order-42");
    assert_eq!(unavailable.keys(), ["order-42"]);
    assert_eq!(accepting.keys(), ["order-42"]);
}

#[tokio::test]
async fn all_endpoints_unavailable_gives_up_after_max_attempts() {
    let unavailable = TaskServiceDouble::new(SubmitReply::Unavailable);
    let server = unavailable.serve().await;
    let refusing = dead_address().await;
    let client =
        Client::connect([&server.address, &refusing], fast_options(4)).expect("valid endpoints");

    let error = client
        .submit_task("default", "bot", "summarize", None)
        .await
        .expect_err("nothing can answer");

    match &error {
        Error::Unavailable { attempts, last } => {
            assert_eq!(*attempts, 4);
            // Attempts alternate, so the last one went to the refusing address: a refused
            // connection counts as unavailable rather than ending the retries.
            assert!(last.contains(&refusing), "{last}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(error.code(), Some(Code::Unavailable));
    assert_eq!(unavailable.calls(), 2, "round robin: every other attempt");
    let keys = unavailable.keys();
    assert_eq!(keys[0], keys[1], "the key stays the same across attempts");
}

#[tokio::test]
async fn not_found_is_returned_without_retry() {
    let not_found = TaskServiceDouble::new(SubmitReply::NotFound);
    let accepting = TaskServiceDouble::new(SubmitReply::Accept);
    let first = not_found.serve().await;
    let second = accepting.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(5))
        .expect("valid endpoints");

    let error = client
        .submit_task("missing", "bot", "summarize", None)
        .await
        .expect_err("the workspace does not exist");

    assert_eq!(error.code(), Some(Code::NotFound));
    assert!(matches!(error, Error::Status(_)), "{error:?}");
    assert_eq!(not_found.calls(), 1);
    assert_eq!(
        accepting.calls(),
        0,
        "NOT_FOUND must not be retried elsewhere"
    );
}

#[tokio::test]
async fn connect_rejects_bad_endpoint_lists() {
    let none: [&str; 0] = [];
    assert!(matches!(
        Client::connect(none, fast_options(1)),
        Err(Error::NoEndpoints)
    ));
    let error =
        Client::connect(["127.0.0.1:7400", "no-port"], fast_options(1)).expect_err("no port");
    assert!(matches!(&error, Error::InvalidEndpoint { endpoint, .. } if endpoint == "no-port"));
    assert_eq!(error.code(), None);
    assert_eq!(
        error.to_string(),
        "invalid endpoint \"no-port\": missing port"
    );
}

#[tokio::test]
async fn cancel_is_not_sent_again_after_a_server_answered_unavailable() {
    // UNAVAILABLE from a node may mean "not committed in time": the cancel may still
    // take effect, so it is not sent to the next node.
    let unavailable = TaskServiceDouble::new(SubmitReply::Unavailable);
    let accepting = TaskServiceDouble::new(SubmitReply::Accept);
    let first = unavailable.serve().await;
    let second = accepting.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(5))
        .expect("valid endpoints");

    let error = client
        .cancel_task("default", "task-1", "not needed")
        .await
        .expect_err("the outcome is unknown");

    assert!(
        matches!(error, Error::OutcomeUnknown { attempts: 1, .. }),
        "{error:?}"
    );
    assert_eq!(error.code(), Some(Code::Unavailable));
    assert!(error.to_string().contains(&first.address), "{error}");
    assert_eq!(unavailable.calls_to("CancelTask"), 1);
    assert_eq!(accepting.calls_to("CancelTask"), 0, "not sent again");

    // The cursor moved on, so the next call goes to the healthy node.
    let cancelled = client
        .cancel_task("default", "task-1", "not needed")
        .await
        .expect("the second node accepts");
    assert_eq!(cancelled.task.expect("task").reason, "not needed");
}

#[tokio::test]
async fn cancel_is_sent_again_when_the_connection_was_refused() {
    let refusing = dead_address().await;
    let accepting = TaskServiceDouble::new(SubmitReply::Accept);
    let server = accepting.serve().await;
    let client =
        Client::connect([&refusing, &server.address], fast_options(3)).expect("valid endpoints");

    client
        .cancel_task("default", "task-1", "")
        .await
        .expect("nothing reached the refusing address, so the next node gets it");

    assert_eq!(accepting.calls_to("CancelTask"), 1);
}

#[tokio::test]
async fn resolve_cut_off_mid_call_is_not_sent_again() {
    // The node receives the call and dies before answering: it may have executed it.
    let hanging = TaskServiceDouble::new(SubmitReply::Hang);
    let accepting = TaskServiceDouble::new(SubmitReply::Accept);
    let hanging_server = hanging.serve().await;
    let proxy = CuttableProxy::start(&hanging_server.address).await;
    let second = accepting.serve().await;
    let client = Client::connect([&proxy.address, &second.address], fast_options(5))
        .expect("valid endpoints");

    let (result, ()) = tokio::join!(
        client.resolve_task("default", "task-1", Resolution::SkipWithResult("{}".into())),
        async {
            eventually("the call to arrive", Duration::from_secs(5), || async {
                hanging.calls_to("ResolveTask") == 1
            })
            .await;
            proxy.cut();
        }
    );

    let error = result.expect_err("the outcome is unknown");
    assert!(matches!(error, Error::OutcomeUnknown { .. }), "{error:?}");
    assert_eq!(accepting.calls_to("ResolveTask"), 0, "not sent again");
}

#[tokio::test]
async fn submit_cut_off_mid_call_is_sent_again_with_its_key() {
    let hanging = TaskServiceDouble::new(SubmitReply::Hang);
    let accepting = TaskServiceDouble::new(SubmitReply::Accept);
    let hanging_server = hanging.serve().await;
    let proxy = CuttableProxy::start(&hanging_server.address).await;
    let second = accepting.serve().await;
    let client = Client::connect([&proxy.address, &second.address], fast_options(5))
        .expect("valid endpoints");

    let (result, ()) = tokio::join!(
        client.submit_task("default", "bot", "summarize", None),
        async {
            eventually("the call to arrive", Duration::from_secs(5), || async {
                hanging.calls() == 1
            })
            .await;
            proxy.cut();
        }
    );

    let submitted = result.expect("the idempotency key makes the retry safe");
    assert_eq!(hanging.keys(), accepting.keys());
    assert_eq!(accepting.keys(), [submitted.idempotency_key]);
}

#[tokio::test]
async fn create_agent_is_sent_again_only_while_nothing_was_sent() {
    let agents = AgentServiceDouble::new();
    let server = agents.serve().await;
    let refusing = dead_address().await;
    let client =
        Client::connect([&refusing, &server.address], fast_options(3)).expect("valid endpoints");
    let agent = Agent {
        workspace: "default".into(),
        name: "bot".into(),
        provider: "model".into(),
        paused: true,
        ..Agent::default()
    };

    let created = client
        .create_agent(agent.clone())
        .await
        .expect("created on the second node");
    assert_eq!(created.agent.expect("agent").version, 1);

    let error = client
        .create_agent(agent)
        .await
        .expect_err("a second creation is refused");
    assert_eq!(error.code(), Some(Code::AlreadyExists));
}

/// A node that does not answer within the request timeout (stopped, or cut off) fails the
/// call, which is not sent again; the next call starts at the next node instead of
/// waiting on the silent one again.
#[tokio::test]
async fn after_a_timeout_the_next_call_starts_at_the_next_node() {
    let silent = TaskServiceDouble::new(SubmitReply::Hang);
    let accepting = TaskServiceDouble::new(SubmitReply::Accept);
    let first = silent.serve().await;
    let second = accepting.serve().await;
    let options = warden_client::ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..fast_options(3)
    };
    let client = Client::connect([&first.address, &second.address], options).expect("valid");

    let timed_out = client
        .submit_task("default", "bot", "first", None)
        .await
        .expect_err("the silent node answered");
    assert_eq!(silent.calls(), 1, "{timed_out}");
    assert_eq!(accepting.calls(), 0, "a timed-out call was sent again");

    client
        .submit_task("default", "bot", "second", None)
        .await
        .expect("the next node accepts");
    assert_eq!(
        silent.calls(),
        1,
        "the next call waited on the silent node again"
    );
    assert_eq!(accepting.calls(), 1);
}
