//! The client workload of a chaos run: the workspace's configuration, and submitters
//! that send tasks with idempotency keys and record every operation, with its invocation
//! and completion time and what the client learned (acknowledged, refused, or unknown),
//! in the run's history.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use warden_client::proto::{Agent, Provider};
use warden_client::{Client, Error};

use crate::history::{Op, Operation, Outcome};
use crate::resume::Kill;

/// The provider the run's agent names. Nothing calls it: its address is the discard port.
const PROVIDER: &str = "model";

/// Gives `workspace` a provider and a paused agent `agent`. A paused agent's tasks are
/// accepted and stored but never placed on a node, so they stay pending and the
/// checkers judge the submissions alone.
pub async fn prepare(client: &Client, workspace: &str, agent: &str) -> Result<(), Error> {
    client
        .put_provider(Provider {
            workspace: workspace.to_owned(),
            name: PROVIDER.to_owned(),
            kind: "openai".to_owned(),
            base_url: "http://127.0.0.1:9/v1".to_owned(),
            model: "none".to_owned(),
            ..Provider::default()
        })
        .await?;
    client
        .create_agent(Agent {
            workspace: workspace.to_owned(),
            name: agent.to_owned(),
            provider: PROVIDER.to_owned(),
            paused: true,
            ..Agent::default()
        })
        .await?;
    Ok(())
}

/// Where the submissions of a run go.
#[derive(Debug, Clone)]
pub struct Destination {
    pub workspace: String,
    pub agent: String,
}

/// Shared by the submitters of a run.
#[derive(Clone)]
pub struct Recorder {
    started: Instant,
    operations: Arc<Mutex<Vec<Operation>>>,
    acknowledged: Arc<AtomicU64>,
    kills: Arc<Mutex<Vec<Kill>>>,
    /// When each fault started (ms since the run started), kills included.
    fault_starts: Arc<Mutex<Vec<u64>>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            started: Instant::now(),
            operations: Arc::default(),
            acknowledged: Arc::default(),
            kills: Arc::default(),
            fault_starts: Arc::default(),
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

    /// Notes that node `node` is SIGKILLed now, for the task resume times.
    /// Records a SIGKILL of `node` (or another death of it), which starts a fault too.
    pub async fn mark_kill(&self, node: u64) {
        let at_ms = self.now_ms();
        self.kills.lock().await.push(Kill { node, at_ms });
        self.fault_starts.lock().await.push(at_ms);
    }

    pub async fn kills(&self) -> Vec<Kill> {
        self.kills.lock().await.clone()
    }

    /// Records that a fault starts now.
    pub async fn mark_fault(&self) {
        let at_ms = self.now_ms();
        self.fault_starts.lock().await.push(at_ms);
    }

    /// When each fault started, in order.
    pub async fn fault_starts(&self) -> Vec<u64> {
        self.fault_starts.lock().await.clone()
    }

    /// Submits the task for `key` to `destination` once (a first attempt, or a resolution of
    /// an unknown outcome) and records the operation; returns its outcome.
    pub async fn submit(
        &self,
        client: &Client,
        client_id: u32,
        resolve: bool,
        destination: &Destination,
        key: &str,
    ) -> Outcome {
        let input = input_for(key);
        let input_hash = digest(&input);
        let (workspace, idempotency_key) = (destination.workspace.clone(), key.to_owned());
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
            .submit_task(
                workspace,
                destination.agent.clone(),
                input,
                Some(key.to_owned()),
            )
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

/// The digest the history records for a task's input: hex SHA-256 of the input text.
/// The final state digests each stored input the same way, rather than taking the
/// server's `Task.input_hash`, which covers the agent and the input together.
pub fn digest(input: &str) -> String {
    hex::encode(Sha256::digest(input.as_bytes()))
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

/// Runs `submitters` clients, each submitting one task after another to `destination` with
/// fresh keys, until `stop` is set.
pub async fn submit_until(
    clients: Vec<Client>,
    destination: &Destination,
    recorder: &Recorder,
    stop: Arc<AtomicBool>,
) -> JoinSet<()> {
    let mut submitters = JoinSet::new();
    for (index, client) in clients.into_iter().enumerate() {
        let client_id = u32::try_from(index).unwrap_or(u32::MAX);
        let recorder = recorder.clone();
        let stop = stop.clone();
        let destination = destination.clone();
        submitters.spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("c{client_id}-{n}");
                n += 1;
                recorder
                    .submit(&client, client_id, false, &destination, &key)
                    .await;
            }
        });
    }
    submitters
}
