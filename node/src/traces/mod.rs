//! OpenTelemetry traces of tasks, sent over OTLP/gRPC when `traces.otlp_endpoint` is set.
//! A node whose proposal ends a task queues it ([`TaskTraces::task_ended`]); the exporter
//! loop ([`TraceExporter::run`], one of the node's tasks) waits until the node has applied
//! the ends (one read barrier for all the tasks queued by then), reads each task and its
//! journal, builds its trace (`spans.rs`) and sends what gathered
//! every `traces.export_interval`. A task ended by a proposal whose answer was lost is not
//! traced; a full queue drops the task, counted in `warden_traces_dropped_total`.

mod spans;

pub use spans::trace_id;

use anyhow::Context;
use opentelemetry::KeyValue;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use tokio::sync::mpsc;
use warden_core::{Task, TaskId, WorkspaceId};

use crate::cluster::{Cluster, Consistency};
use crate::config::Traces;

/// Ended tasks waiting for their trace to be built, at most; also the most built at once.
const QUEUE: usize = 4096;
/// The most journal entries one trace is built from.
const MAX_ENTRIES: usize = 100_000;

/// Where a proposer hands tasks it ended.
#[derive(Debug, Clone)]
pub struct TaskTraces {
    ended: mpsc::Sender<(WorkspaceId, TaskId)>,
}

impl TaskTraces {
    /// Queues `task`, which this node's proposal just ended, for its trace.
    pub fn task_ended(&self, task: &Task) {
        let ended = (task.workspace.clone(), task.id);
        if self.ended.try_send(ended).is_err() {
            metrics::counter!("warden_traces_dropped_total").increment(1);
        }
    }
}

/// Builds and sends the traces of the tasks [`TaskTraces`] queued.
pub struct TraceExporter {
    ended: mpsc::Receiver<(WorkspaceId, TaskId)>,
    exporter: opentelemetry_otlp::SpanExporter,
    interval: std::time::Duration,
}

/// The two ends, when traces are configured. Call inside the Tokio runtime: the exporter
/// opens its gRPC channel lazily there.
pub fn start(
    options: &Traces,
    node_id: u64,
) -> anyhow::Result<Option<(TaskTraces, TraceExporter)>> {
    let Some(endpoint) = &options.otlp_endpoint else {
        return Ok(None);
    };
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint.clone())
        .build()
        .with_context(|| format!("traces.otlp_endpoint {endpoint}"))?;
    exporter.set_resource(
        &Resource::builder()
            .with_service_name("warden")
            .with_attribute(KeyValue::new(
                "service.instance.id",
                format!("node-{node_id}"),
            ))
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let (sender, receiver) = mpsc::channel(QUEUE);
    Ok(Some((
        TaskTraces { ended: sender },
        TraceExporter {
            ended: receiver,
            exporter,
            interval: options.export_interval,
        },
    )))
}

impl TraceExporter {
    /// Runs until the queue closes (the node stops), sending what gathered every interval.
    pub async fn run(mut self, cluster: Cluster) -> anyhow::Result<()> {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut batch: Vec<SpanData> = Vec::new();
        let mut ended = Vec::new();
        loop {
            tokio::select! {
                received = self.ended.recv_many(&mut ended, QUEUE) => {
                    if received == 0 {
                        self.send(&mut batch).await;
                        return Ok(());
                    }
                    batch.extend(traces_of(&cluster, &ended).await);
                    ended.clear();
                }
                _ = ticker.tick() => self.send(&mut batch).await,
            }
        }
    }

    async fn send(&self, batch: &mut Vec<SpanData>) {
        if batch.is_empty() {
            return;
        }
        let spans = std::mem::take(batch);
        let count = spans.len() as u64;
        match self.exporter.export(spans).await {
            Ok(()) => metrics::counter!("warden_trace_spans_sent_total").increment(count),
            Err(error) => {
                metrics::counter!("warden_trace_export_errors_total").increment(1);
                tracing::warn!(%error, spans = count, "sending task traces failed");
            }
        }
    }
}

/// The traces of the `ended` tasks, once this node has applied their ends (one read
/// barrier for all); none for a task that cannot be read.
async fn traces_of(cluster: &Cluster, ended: &[(WorkspaceId, TaskId)]) -> Vec<SpanData> {
    if let Err(error) = cluster.read_barrier(Consistency::Linearizable).await {
        tracing::warn!(tasks = ended.len(), %error, "no traces: the tasks' ends are not applied here");
        return Vec::new();
    }
    let reader = cluster.reader();
    let read = |workspace: &WorkspaceId, id: &TaskId| -> Result<_, warden_raft::Error> {
        let Some(task) = reader.task(workspace, id)? else {
            return Ok(None);
        };
        let journal = reader.journal(workspace, id, 0, MAX_ENTRIES)?;
        let provider = match reader.agent(workspace, &task.agent)? {
            Some(agent) => reader.provider(workspace, &agent.spec.provider)?,
            None => None,
        };
        let content = reader
            .settings(workspace)?
            .is_some_and(|settings| settings.trace_content);
        Ok(Some((task, journal, provider, content)))
    };
    let mut spans = Vec::new();
    for (workspace, id) in ended {
        match read(workspace, id) {
            Ok(Some((task, journal, provider, content))) => spans.extend(
                spans::TraceBuilder::new(&task, provider.as_ref(), content).build(&journal),
            ),
            Ok(None) => tracing::warn!(task = %id, "no trace for the task: it is gone"),
            Err(error) => {
                tracing::warn!(task = %id, %error, "no trace for the task: reading it failed")
            }
        }
    }
    spans
}
