//! OpenTelemetry traces of tasks, sent over OTLP/gRPC when `traces.otlp_endpoint` is set.
//! A node whose proposal ends a task queues it ([`TaskTraces::task_ended`]); the exporter
//! loop ([`TraceExporter::run`], one of the node's tasks) waits until the node has applied
//! the end, reads the task's journal, builds its trace (`spans.rs`) and sends what gathered
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
use warden_core::Task;

use crate::cluster::{Cluster, Consistency};
use crate::config::Traces;

/// Ended tasks waiting for their trace to be built, at most.
const QUEUE: usize = 4096;
/// The most journal entries one trace is built from.
const MAX_ENTRIES: usize = 100_000;

/// Where a proposer hands tasks it ended.
#[derive(Debug, Clone)]
pub struct TaskTraces {
    ended: mpsc::Sender<Task>,
}

impl TaskTraces {
    /// Queues `task`, which this node's proposal just ended, for its trace.
    pub fn task_ended(&self, task: &Task) {
        if self.ended.try_send(task.clone()).is_err() {
            metrics::counter!("warden_traces_dropped_total").increment(1);
        }
    }
}

/// Builds and sends the traces of the tasks [`TaskTraces`] queued.
pub struct TraceExporter {
    ended: mpsc::Receiver<Task>,
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
        loop {
            tokio::select! {
                ended = self.ended.recv() => match ended {
                    Some(task) => batch.extend(trace_of(&cluster, &task).await),
                    None => {
                        self.send(&mut batch).await;
                        return Ok(());
                    }
                },
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

/// The trace of `task`, once this node has applied its end; empty when it cannot be read.
async fn trace_of(cluster: &Cluster, task: &Task) -> Vec<SpanData> {
    if let Err(error) = cluster.read_barrier(Consistency::Linearizable).await {
        tracing::warn!(task = %task.id, %error, "no trace for the task: its end is not applied here");
        return Vec::new();
    }
    let reader = cluster.reader();
    let read = || -> Result<_, warden_raft::Error> {
        let journal = reader.journal(&task.workspace, &task.id, 0, MAX_ENTRIES)?;
        let provider = match reader.agent(&task.workspace, &task.agent)? {
            Some(agent) => reader.provider(&task.workspace, &agent.spec.provider)?,
            None => None,
        };
        Ok((journal, provider))
    };
    match read() {
        Ok((journal, provider)) => {
            spans::TraceBuilder::new(task, provider.as_ref()).build(&journal)
        }
        Err(error) => {
            tracing::warn!(task = %task.id, %error, "no trace for the task: reading its journal failed");
            Vec::new()
        }
    }
}
