//! Watch resumption: a stream that breaks (UNAVAILABLE, or a connection cut as when a
//! node dies) is reopened from the event after the last one delivered, so the caller
//! sees each event exactly once and in order; a task watch ends after the terminal
//! event, a workspace watch goes on.

use std::time::Duration;

use crate::common::{CuttableProxy, JournalDouble, WatchBehavior, fast_options};
use futures::StreamExt;
use tonic::Code;
use warden_client::{Client, ClientOptions, Error};

const TASK: &str = "01JQ4ZK8M2X3V5N7P9R1T3W5Y7";

/// Drains a watch, returning the sequence numbers received and the error that ended it.
async fn drain(client: &Client, from_seq: u64) -> (Vec<u64>, Option<Error>) {
    let events = client.watch_task("default", TASK, from_seq);
    futures::pin_mut!(events);
    let mut seqs = Vec::new();
    while let Some(item) = events.next().await {
        match item {
            Ok(event) => seqs.push(event.seq),
            Err(error) => return (seqs, Some(error)),
        }
    }
    (seqs, None)
}

fn breaking_after(events: usize) -> WatchBehavior {
    WatchBehavior {
        break_first_after: Some(events),
        ..WatchBehavior::default()
    }
}

#[tokio::test]
async fn a_break_midway_resumes_after_the_last_event_delivered() {
    let journal = JournalDouble::new(TASK, 10, breaking_after(4));
    let server = journal.serve().await;
    let client = Client::connect([&server.address], fast_options(3)).expect("valid endpoint");

    let (seqs, error) = drain(&client, 0).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(
        seqs,
        (0..10).collect::<Vec<_>>(),
        "each event once, in order"
    );
    assert_eq!(journal.requested_from_seqs(), [0, 4], "resumed at last + 1");
}

#[tokio::test]
async fn a_cut_connection_resumes_on_a_new_one() {
    // The first stream sends 3 events and then waits, like a live watch; the connection
    // under it is then cut, as when the node is killed.
    let journal = JournalDouble::new(
        TASK,
        8,
        WatchBehavior {
            stall_first_after: Some(3),
            ..WatchBehavior::default()
        },
    );
    let server = journal.serve().await;
    let proxy = CuttableProxy::start(&server.address).await;
    let client = Client::connect([&proxy.address], fast_options(3)).expect("valid endpoint");

    let events = client.watch_task("default", TASK, 0);
    futures::pin_mut!(events);
    let mut seqs = Vec::new();
    while let Some(item) = events.next().await {
        let event = item.expect("no error reaches the caller");
        seqs.push(event.seq);
        if event.seq == 2 {
            proxy.cut();
        }
    }

    assert_eq!(seqs, (0..8).collect::<Vec<_>>());
    assert_eq!(journal.requested_from_seqs(), [0, 3]);
}

#[tokio::test]
async fn resumes_on_the_next_endpoint() {
    let breaking = JournalDouble::new(TASK, 10, breaking_after(3));
    let healthy = JournalDouble::new(TASK, 10, WatchBehavior::default());
    let first = breaking.serve().await;
    let second = healthy.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(3))
        .expect("valid endpoints");

    let (seqs, error) = drain(&client, 2).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(seqs, (2..10).collect::<Vec<_>>());
    assert_eq!(breaking.requested_from_seqs(), [2]);
    assert_eq!(healthy.requested_from_seqs(), [5]);
}

#[tokio::test]
async fn events_sent_again_after_a_resume_are_skipped() {
    let journal = JournalDouble::new(
        TASK,
        10,
        WatchBehavior {
            break_first_after: Some(6),
            ignore_from_seq: true,
            ..WatchBehavior::default()
        },
    );
    let server = journal.serve().await;
    let client = Client::connect([&server.address], fast_options(3)).expect("valid endpoint");

    let (seqs, error) = drain(&client, 0).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(seqs, (0..10).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_gap_after_resuming_is_an_error() {
    let journal = JournalDouble::new(
        TASK,
        10,
        WatchBehavior {
            break_first_after: Some(4),
            skip_on_resume: 2,
            ..WatchBehavior::default()
        },
    );
    let server = journal.serve().await;
    let client = Client::connect([&server.address], fast_options(3)).expect("valid endpoint");

    let (seqs, error) = drain(&client, 0).await;

    assert_eq!(seqs, [0, 1, 2, 3]);
    let error = error.expect("the gap ends the watch");
    assert!(
        matches!(
            error,
            Error::JournalGap {
                expected: 4,
                received: 6
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.code(), Some(Code::DataLoss));
}

#[tokio::test]
async fn reconnecting_gives_up_after_the_resume_timeout() {
    let journal = JournalDouble::new(
        TASK,
        10,
        WatchBehavior {
            break_first_after: Some(2),
            refuse_resumes: true,
            ..WatchBehavior::default()
        },
    );
    let server = journal.serve().await;
    let options = ClientOptions {
        resume_timeout: Duration::from_millis(300),
        ..fast_options(3)
    };
    let client = Client::connect([&server.address], options).expect("valid endpoint");

    let started = std::time::Instant::now();
    let (seqs, error) = drain(&client, 0).await;

    assert_eq!(seqs, [0, 1]);
    let error = error.expect("gives up");
    assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
    assert!(error.to_string().contains("shutting down"), "{error}");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "kept trying for the whole budget: {:?}",
        started.elapsed()
    );
    // max_attempts does not bound a watch's reconnects; the time budget does.
    assert!(journal.requested_from_seqs().len() > 3);
    assert!(
        journal.requested_from_seqs()[1..]
            .iter()
            .all(|seq| *seq == 2)
    );
}

#[tokio::test]
async fn a_quiet_stream_outlives_the_request_timeout() {
    // The per-attempt deadline covers opening the stream, not the wait for events: a
    // task may be quiet for longer than that.
    let journal = JournalDouble::new(
        TASK,
        3,
        WatchBehavior {
            quiet_for: Duration::from_millis(600),
            ..WatchBehavior::default()
        },
    );
    let server = journal.serve().await;
    let options = ClientOptions {
        request_timeout: Duration::from_millis(200),
        ..fast_options(3)
    };
    let client = Client::connect([&server.address], options).expect("valid endpoint");

    let (seqs, error) = drain(&client, 0).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(journal.requested_from_seqs(), [0], "never reopened");
}

#[tokio::test]
async fn the_watch_ends_after_the_terminal_event_even_if_the_stream_stays_open() {
    let journal = JournalDouble::new(
        TASK,
        4,
        WatchBehavior {
            hold_open_at_end: true,
            ..WatchBehavior::default()
        },
    );
    let server = journal.serve().await;
    let client = Client::connect([&server.address], fast_options(3)).expect("valid endpoint");

    let (seqs, error) = tokio::time::timeout(Duration::from_secs(10), drain(&client, 0))
        .await
        .expect("the watch ends by itself");

    assert!(error.is_none(), "{error:?}");
    assert_eq!(seqs, [0, 1, 2, 3]);
}

#[tokio::test]
async fn watching_an_ended_task_from_past_its_end_yields_nothing() {
    let journal = JournalDouble::new(TASK, 4, WatchBehavior::default());
    let server = journal.serve().await;
    let client = Client::connect([&server.address], fast_options(3)).expect("valid endpoint");

    let (seqs, error) = drain(&client, 4).await;

    assert!(error.is_none(), "{error:?}");
    assert!(seqs.is_empty());
    assert_eq!(journal.requested_from_seqs(), [4], "not reopened");
}

#[tokio::test]
async fn an_unknown_task_is_not_found_without_retries() {
    let journal = JournalDouble::new(TASK, 4, WatchBehavior::default());
    let server = journal.serve().await;
    let client = Client::connect([&server.address], fast_options(3)).expect("valid endpoint");

    let events = client.watch_task("default", "01JQ4ZK8M2X3V5N7P9R1T3W5Y8", 0);
    futures::pin_mut!(events);
    let first = events.next().await.expect("one item");
    assert_eq!(first.expect_err("not found").code(), Some(Code::NotFound));
    assert!(
        events.next().await.is_none(),
        "the watch ends after an error"
    );
    assert_eq!(journal.requested_from_seqs(), [0], "asked once");
}

#[tokio::test]
async fn a_workspace_watch_resumes_at_the_last_log_index_without_repeats() {
    // Two tasks' events share each log index; the break falls between the two events of
    // index 101, so the resumed stream repeats the first of them.
    let journal = JournalDouble::new(TASK, 4, breaking_after(3));
    let server = journal.serve().await;
    let client = Client::connect([&server.address], fast_options(3)).expect("valid endpoint");

    let events = client.watch_workspace("default", 0);
    futures::pin_mut!(events);
    let mut received = Vec::new();
    // The stream does not end by itself: read as many events as the workspace has.
    let expected = journal.workspace_events();
    while received.len() < expected.len() {
        let event = tokio::time::timeout(Duration::from_secs(10), events.next())
            .await
            .expect("an event in time")
            .expect("the stream goes on")
            .expect("no error reaches the caller");
        received.push(event);
    }

    assert_eq!(received, expected, "each event once, in log order");
    assert_eq!(journal.requested_from_indexes(), [0, 101]);
}
