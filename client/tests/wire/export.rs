//! Audit export resumption: a stream broken with UNAVAILABLE continues on another node
//! from the record after the last one received, so the caller sees each index once.

use crate::common::{AuditServiceDouble, ExportBehavior, fast_options};
use futures::StreamExt;
use std::time::Duration;
use tonic::Code;

use warden_client::{Client, ClientOptions, Consistency, Error};

/// Drains an export, returning the indexes received and the error that ended it.
async fn drain(client: &Client, from_index: u64) -> (Vec<u64>, Option<Error>) {
    let records = client.export_audit(from_index, Consistency::Linearizable);
    futures::pin_mut!(records);
    let mut indexes = Vec::new();
    while let Some(item) = records.next().await {
        match item {
            Ok(record) => indexes.push(record.index),
            Err(error) => return (indexes, Some(error)),
        }
    }
    (indexes, None)
}

fn breaking_after(records: usize) -> ExportBehavior {
    ExportBehavior {
        break_after: Some(records),
        ..ExportBehavior::default()
    }
}

#[tokio::test]
async fn resumes_on_the_other_endpoint_after_the_last_record() {
    let breaking = AuditServiceDouble::new(10, breaking_after(4));
    let healthy = AuditServiceDouble::new(10, ExportBehavior::default());
    let first = breaking.serve().await;
    let second = healthy.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(3))
        .expect("valid endpoints");

    let (indexes, error) = drain(&client, 0).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(indexes, (1..=10).collect::<Vec<_>>());
    assert_eq!(breaking.requested_from_indexes(), [1]);
    assert_eq!(healthy.requested_from_indexes(), [5], "resume at k + 1");
}

#[tokio::test]
async fn records_resent_after_a_resume_are_not_delivered_twice() {
    let breaking = AuditServiceDouble::new(10, breaking_after(4));
    let from_start = AuditServiceDouble::new(
        10,
        ExportBehavior {
            ignore_from_index: true,
            ..ExportBehavior::default()
        },
    );
    let first = breaking.serve().await;
    let second = from_start.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(3))
        .expect("valid endpoints");

    let (indexes, error) = drain(&client, 1).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(indexes, (1..=10).collect::<Vec<_>>());
}

#[tokio::test]
async fn keeps_resuming_while_there_is_progress() {
    // Both nodes break every stream after 3 records; with progress each time, the export
    // completes however often it breaks.
    let first_double = AuditServiceDouble::new(10, breaking_after(3));
    let second_double = AuditServiceDouble::new(10, breaking_after(3));
    let first = first_double.serve().await;
    let second = second_double.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(2))
        .expect("valid endpoints");

    let (indexes, error) = drain(&client, 0).await;

    assert!(error.is_none(), "{error:?}");
    assert_eq!(indexes, (1..=10).collect::<Vec<_>>());
    assert_eq!(first_double.requested_from_indexes(), [1, 7]);
    assert_eq!(second_double.requested_from_indexes(), [4, 10]);
}

#[tokio::test]
async fn gives_up_after_the_resume_timeout_without_progress() {
    let first_double = AuditServiceDouble::new(10, breaking_after(0));
    let second_double = AuditServiceDouble::new(10, breaking_after(0));
    let first = first_double.serve().await;
    let second = second_double.serve().await;
    let options = ClientOptions {
        resume_timeout: Duration::from_millis(300),
        ..fast_options(3)
    };
    let client =
        Client::connect([&first.address, &second.address], options).expect("valid endpoints");

    let (indexes, error) = drain(&client, 5).await;

    assert!(indexes.is_empty());
    assert!(
        matches!(error, Some(Error::Unavailable { attempts, .. }) if attempts > 3),
        "{error:?}"
    );
    // Every attempt, on both nodes, asked for the record due.
    let asked: Vec<u64> = [
        first_double.requested_from_indexes(),
        second_double.requested_from_indexes(),
    ]
    .concat();
    assert!(
        asked.len() > 3 && asked.iter().all(|index| *index == 5),
        "{asked:?}"
    );
    assert!(!first_double.requested_from_indexes().is_empty());
    assert!(!second_double.requested_from_indexes().is_empty());
}

#[tokio::test]
async fn a_gap_after_resuming_is_an_error() {
    let breaking = AuditServiceDouble::new(10, breaking_after(4));
    let lossy = AuditServiceDouble::new(
        10,
        ExportBehavior {
            skip: 2,
            ..ExportBehavior::default()
        },
    );
    let first = breaking.serve().await;
    let second = lossy.serve().await;
    let client = Client::connect([&first.address, &second.address], fast_options(3))
        .expect("valid endpoints");

    let (indexes, error) = drain(&client, 0).await;

    assert_eq!(indexes, [1, 2, 3, 4]);
    let error = error.expect("the gap ends the export");
    assert!(
        matches!(
            error,
            Error::ExportGap {
                expected: 5,
                received: 7
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.code(), Some(Code::DataLoss));
}
