//! The client workload of a chaos run: submitters that send tasks with idempotency keys
//! and record every operation, with its invocation and completion time and what the
//! client learned (acknowledged, refused, or unknown), in the run's history.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use warden_client::{Client, Error};

use crate::history::{Op, Operation, Outcome};

/// Shared by the submitters of a run.
#[derive(Clone)]
pub struct Recorder {
    started: Instant,
    operations: Arc<Mutex<Vec<Operation>>>,
    acknowledged: Arc<AtomicU64>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            started: Instant::now(),
            operations: Arc::default(),
            acknowledged: Arc::default(),
        }
    }

    /// Milliseconds since the run started.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How many submissions were acknowledged so far: progress, for the fault schedule.
    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Relaxed)
    }

    pub async fn record(&self, operation: Operation) {
        if matches!(operation.outcome, Outcome::Ok { .. }) {
            self.acknowledged.fetch_add(1, Ordering::Relaxed);
        }
        self.operations.lock().await.push(operation);
    }

    pub async fn operations(&self) -> Vec<Operation> {
        self.operations.lock().await.clone()
    }

    /// Submits the task for `key` once (a first attempt, or a resolution of an unknown
    /// outcome) and records the operation; returns its outcome.
    pub async fn submit(
        &self,
        client: &Client,
        client_id: u32,
        resolve: bool,
        workspace: &str,
        key: &str,
    ) -> Outcome {
        let input = input_for(key);
        let input_hash = hex::encode(Sha256::digest(input.as_bytes()));
        let (workspace, idempotency_key) = (workspace.to_owned(), key.to_owned());
        let op = if resolve {
            Op::Resolve {
                workspace: workspace.clone(),
                idempotency_key,
                input_hash,
            }
        } else {
            Op::Submit {
                workspace: workspace.clone(),
                idempotency_key,
                input_hash,
            }
        };
        let start_ms = self.now_ms();
        let result = client
            .submit_task(workspace, input, Some(key.to_owned()))
            .await;
        let end_ms = self.now_ms();
        let outcome = match result {
            Ok(submitted) => match submitted.response.task {
                Some(task) => Outcome::Ok {
                    task_id: task.id,
                    deduplicated: submitted.response.deduplicated,
                },
                None => Outcome::Unknown {
                    reason: "acknowledged without a task".to_owned(),
                },
            },
            Err(error) => classify(&error),
        };
        self.record(Operation {
            client: client_id,
            start_ms,
            end_ms,
            op,
            outcome: outcome.clone(),
        })
        .await;
        outcome
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder::new()
    }
}

/// The input sent with `key`: derived from the key, so a resolution resends exactly
/// what the first attempt sent.
pub fn input_for(key: &str) -> String {
    format!("chaos input {key}")
}

/// A refusal by the server means the submission was not applied; anything that may
/// have been cut short leaves the outcome unknown.
pub fn classify(error: &Error) -> Outcome {
    use tonic::Code;
    match error.code() {
        Some(
            code @ (Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::FailedPrecondition
            | Code::ResourceExhausted
            | Code::PermissionDenied
            | Code::Unauthenticated
            | Code::OutOfRange),
        ) => Outcome::Failed {
            code: format!("{code:?}"),
            message: error.to_string(),
        },
        _ => Outcome::Unknown {
            reason: error.to_string(),
        },
    }
}

/// Runs `submitters` clients, each submitting one task after another with fresh keys,
/// until `stop` is set.
pub async fn submit_until(
    clients: Vec<Client>,
    workspace: &str,
    recorder: &Recorder,
    stop: Arc<AtomicBool>,
) -> JoinSet<()> {
    let mut submitters = JoinSet::new();
    for (index, client) in clients.into_iter().enumerate() {
        let client_id = u32::try_from(index).unwrap_or(u32::MAX);
        let recorder = recorder.clone();
        let stop = stop.clone();
        let workspace = workspace.to_owned();
        submitters.spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("c{client_id}-{n}");
                n += 1;
                recorder
                    .submit(&client, client_id, false, &workspace, &key)
                    .await;
            }
        });
    }
    submitters
}
