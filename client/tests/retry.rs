//! Retries across endpoints: UNAVAILABLE and refused connections move on to the next
//! node with the same idempotency key; other errors are returned at once.

mod common;

use common::{SubmitReply, TaskServiceDouble, dead_address, fast_options};
use tonic::Code;
use warden_client::{Client, Error};

#[tokio::test]
async fn submit_retries_on_next_endpoint_with_the_same_generated_key() {
    let unavailable = TaskServiceDouble::new(SubmitReply::Unavailable);
    let accepting = TaskServiceDouble::new(SubmitReply::Accept);
    let first = unavailable.serve().await;
    let second = accepting.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(3))
        .expect("valid endpoints");

    let submitted = client
        .submit_task("default", "summarize", None)
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
        .submit_task("default", "another", None)
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
        .submit_task("default", "summarize", Some("order-42".into()))
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
        .submit_task("default", "summarize", None)
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
        .submit_task("missing", "summarize", None)
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
