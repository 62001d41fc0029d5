//! `wait_task`: a long wait is split into server waits that fit the per-attempt
//! deadline, and the answer says whether the task settled.

use std::time::Duration;

use crate::common::{SubmitReply, TaskServiceDouble, fast_options};
use warden_client::proto::TaskStatus;
use warden_client::{Client, ClientOptions};

#[tokio::test]
async fn a_settled_task_is_returned_at_once() {
    let tasks = TaskServiceDouble::new(SubmitReply::Accept).settling();
    let server = tasks.serve().await;
    let client = Client::connect([&server.address], fast_options(3)).expect("valid endpoint");

    let response = client
        .wait_task("default", "task-1", Duration::from_secs(60))
        .await
        .expect("wait");

    assert!(response.settled);
    assert_eq!(response.task.expect("task").status(), TaskStatus::Completed);
    assert_eq!(tasks.wait_timeouts_ms().len(), 1);
}

#[tokio::test]
async fn a_long_wait_is_split_to_fit_the_request_timeout() {
    let tasks = TaskServiceDouble::new(SubmitReply::Accept);
    let server = tasks.serve().await;
    // A 400 ms deadline per attempt leaves 300 ms for each server wait.
    let options = ClientOptions {
        request_timeout: Duration::from_millis(400),
        ..fast_options(3)
    };
    let client = Client::connect([&server.address], options).expect("valid endpoint");

    let started = std::time::Instant::now();
    let response = client
        .wait_task("default", "task-1", Duration::from_millis(700))
        .await
        .expect("no attempt exceeds its deadline");

    assert!(!response.settled);
    assert_eq!(response.task.expect("task").status(), TaskStatus::Running);
    assert!(started.elapsed() >= Duration::from_millis(700));
    let waits = tasks.wait_timeouts_ms();
    assert!(waits.len() >= 3, "{waits:?}");
    assert_eq!(waits[0], 300, "{waits:?}");
    assert!(waits.iter().all(|ms| (1..=300).contains(ms)), "{waits:?}");
}

#[tokio::test]
async fn a_zero_timeout_polls_once() {
    let tasks = TaskServiceDouble::new(SubmitReply::Accept);
    let server = tasks.serve().await;
    let client = Client::connect([&server.address], fast_options(3)).expect("valid endpoint");

    let response = client
        .wait_task("default", "task-1", Duration::ZERO)
        .await
        .expect("wait");

    assert!(!response.settled);
    // 0 would mean the server's default of 30 s.
    assert_eq!(tasks.wait_timeouts_ms(), [1]);
}
