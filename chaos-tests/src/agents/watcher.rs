//! Watchers: each follows every event of the workspace from the start with
//! `watch_workspace` (which resumes by itself across node deaths) and records each event
//! with the time it arrived. When the client library gives up, the watcher opens a new
//! stream where the last event it received was, and skips what it had already seen there,
//! as the API asks; the checker then holds what it recorded against the journals.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use warden_client::Client;

use crate::history::Watched;
use crate::workload::Recorder;

/// What the watchers received, shared with the driver.
pub type WatchLog = Arc<Mutex<Vec<Watched>>>;

/// How often a watcher with nothing to read looks at `stop`.
const CHECK_STOP: Duration = Duration::from_millis(200);

/// Starts watcher `watcher` on `workspace`; it records into `log` until `stop` is set.
pub fn watch_until(
    tasks: &mut JoinSet<()>,
    watcher: u32,
    client: Client,
    recorder: &Recorder,
    workspace: &str,
    log: WatchLog,
    stop: Arc<AtomicBool>,
) {
    let recorder = recorder.clone();
    let workspace = workspace.to_owned();
    tasks.spawn(async move {
        // The last event received: (log index, task, seq), the order of the stream.
        let mut last: Option<(u64, String, u64)> = None;
        while !stop.load(Ordering::Relaxed) {
            let from = last.as_ref().map_or(0, |(index, _, _)| *index);
            // A reopened stream starts again at `from`: what it sends up to `last` was
            // received already. Within a stream nothing is skipped, so a duplicate the
            // server sends is recorded and the checker sees it.
            let seen = last.clone();
            let mut stream = pin!(client.watch_workspace(workspace.clone(), from));
            while !stop.load(Ordering::Relaxed) {
                let next = match tokio::time::timeout(CHECK_STOP, stream.next()).await {
                    Err(_) => continue,
                    Ok(next) => next,
                };
                let event = match next {
                    Some(Ok(event)) => event,
                    // Given up or ended: reopen from the last event.
                    Some(Err(_)) | None => break,
                };
                let position = (event.log_index, event.task_id.clone(), event.seq);
                if seen.as_ref().is_some_and(|seen| position <= *seen) {
                    continue;
                }
                last = Some(position);
                log.lock().await.push(Watched {
                    watcher,
                    received_ms: recorder.now_ms(),
                    task_id: event.task_id,
                    seq: event.seq,
                    log_index: event.log_index,
                    epoch: event.epoch,
                    kind: event.kind,
                });
            }
        }
    });
}
