//! `ToolSupervisor`: owns one [`ToolSessionActor`] per server key and routes requests to it.
//! It starts a session on first use, restarts a failed one with exponential backoff (calls
//! arriving meanwhile wait for the restart), gives up for a while after too many failures,
//! retires idle sessions and replaces a session whose spec changed.

use std::collections::HashMap;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, MessagingErr, SupervisionEvent};
use tokio::{task::JoinSet, time::Instant};

use crate::{
    Error, ServerSpec, SessionOptions,
    restart_policy::{FailureHistory, Verdict},
    session_actor::{SessionArgs, SessionMsg, SessionRequest, ToolSessionActor},
};

pub(crate) enum SupervisorMsg {
    Dispatch {
        key: String,
        spec: ServerSpec,
        request: SessionRequest,
    },
    /// A request found the session's transport gone (sent before the caller hears it).
    SessionLost {
        key: String,
        actor: ActorId,
        error: Error,
    },
    /// The session has been idle for `idle_timeout`.
    SessionIdle {
        key: String,
        actor: ActorId,
    },
    RestartDue {
        key: String,
        generation: u64,
    },
}

pub(crate) struct ToolSupervisor;

pub(crate) struct SupervisorState {
    options: SessionOptions,
    entries: HashMap<String, Entry>,
    /// Backoff timers; dropped (so aborted) with the state.
    timers: JoinSet<()>,
}

struct Entry {
    spec: ServerSpec,
    phase: EntryPhase,
    failures: FailureHistory,
    /// Bumped on every failure, so a stale restart timer is ignored.
    generation: u64,
}

enum EntryPhase {
    Running(ActorRef<SessionMsg>),
    Backoff { pending: Vec<SessionRequest> },
    Exhausted { until: Instant, last_error: String },
}

impl Actor for ToolSupervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SessionOptions;

    async fn pre_start(
        &self,
        _myself: ActorRef<SupervisorMsg>,
        options: SessionOptions,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        Ok(SupervisorState {
            options,
            entries: HashMap::new(),
            timers: JoinSet::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        message: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        while state.timers.try_join_next().is_some() {}
        match message {
            SupervisorMsg::Dispatch { key, spec, request } => {
                dispatch(&myself, state, key, spec, request).await;
            }
            SupervisorMsg::SessionLost { key, actor, error } => {
                if is_current(state, &key, &actor) {
                    session_failed(&myself, state, &key, error.to_string());
                }
            }
            SupervisorMsg::SessionIdle { key, actor } => retire_idle(state, &key, &actor),
            SupervisorMsg::RestartDue { key, generation } => {
                restart(&myself, state, &key, generation).await;
            }
        }
        Ok(())
    }

    /// A child's end never stops the supervisor: a failure of the current session of a key
    /// is a restart, anything else is already accounted for.
    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, error) => {
                if let Some(key) = key_of(state, &cell.get_id()) {
                    tracing::warn!(%key, %error, "tool session failed");
                    session_failed(&myself, state, &key, error.to_string());
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                // Retired sessions are no longer current. A current one that stopped on its
                // own is forgotten, so the next call starts a fresh one.
                if let Some(key) = key_of(state, &cell.get_id()) {
                    tracing::warn!(%key, ?reason, "tool session stopped unexpectedly");
                    state.entries.remove(&key);
                }
            }
            SupervisionEvent::ActorStarted(_) | SupervisionEvent::ProcessGroupChanged(_) => {}
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        myself: ActorRef<SupervisorMsg>,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        for (_, entry) in state.entries.drain() {
            if let EntryPhase::Backoff { pending } = entry.phase {
                for request in pending {
                    request.fail(Error::Stopped);
                }
            }
        }
        let timeout = state.options.connect_timeout * 2;
        myself
            .stop_children_and_wait(Some("tool sessions stopped".to_owned()), Some(timeout))
            .await;
        Ok(())
    }
}

async fn dispatch(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    key: String,
    spec: ServerSpec,
    request: SessionRequest,
) {
    let mut requests = vec![request];
    if state
        .entries
        .get(&key)
        .is_some_and(|entry| entry.spec != spec)
    {
        tracing::info!(%key, "tool server spec changed; replacing its session");
        match state.entries.remove(&key).map(|entry| entry.phase) {
            Some(EntryPhase::Running(old)) => {
                let _ = old.send_message(SessionMsg::Retire);
            }
            // Callers waiting for a restart are served by the replacement instead.
            Some(EntryPhase::Backoff { mut pending }) => {
                pending.append(&mut requests);
                requests = pending;
            }
            Some(EntryPhase::Exhausted { .. }) | None => {}
        }
    }
    let lapsed = matches!(
        state.entries.get(&key),
        Some(Entry { phase: EntryPhase::Exhausted { until, .. }, .. }) if Instant::now() >= *until
    );
    let Some(entry) = state.entries.get_mut(&key).filter(|_| !lapsed) else {
        start(myself, state, key, spec, requests).await;
        return;
    };
    match &mut entry.phase {
        EntryPhase::Running(child) => {
            let mut undelivered = Vec::new();
            for request in requests {
                if let Err(MessagingErr::SendErr(SessionMsg::Request(request))) =
                    child.send_message(SessionMsg::Request(request))
                {
                    undelivered.push(request);
                }
            }
            if !undelivered.is_empty() {
                // It stopped before we heard. Counted as a failure like any other (so this
                // path cannot dodge the backoff); the requests wait for the restart.
                session_failed(myself, state, &key, "the session stopped".to_owned());
                for request in undelivered {
                    enqueue_after_failure(state, &key, request);
                }
            }
        }
        EntryPhase::Backoff { pending } => pending.append(&mut requests),
        EntryPhase::Exhausted { .. } => {
            for request in requests {
                enqueue_after_failure(state, &key, request);
            }
        }
    }
}

/// Queues `request` behind the pending restart of `key`, or refuses it while the key is
/// exhausted.
fn enqueue_after_failure(state: &mut SupervisorState, key: &str, request: SessionRequest) {
    let window = state.options.restart_window;
    match state
        .entries
        .get_mut(key)
        .map(|entry| (&mut entry.phase, entry.failures.len()))
    {
        Some((EntryPhase::Backoff { pending }, _)) => pending.push(request),
        Some((EntryPhase::Exhausted { last_error, .. }, failures)) => {
            request.fail(Error::RestartLimit {
                server: key.to_owned(),
                failures,
                window,
                last_error: last_error.clone(),
            });
        }
        Some((EntryPhase::Running(_), _)) | None => request.fail(Error::Closed {
            server: key.to_owned(),
            stderr_tail: Vec::new(),
        }),
    }
}

/// Spawns a session for `key` and hands it `requests`; records it as the key's entry.
async fn start(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    key: String,
    spec: ServerSpec,
    requests: Vec<SessionRequest>,
) {
    let args = SessionArgs {
        key: key.clone(),
        spec: spec.clone(),
        options: state.options.clone(),
        supervisor: myself.clone(),
    };
    match ToolSessionActor::spawn_linked(None, ToolSessionActor, args, myself.get_cell()).await {
        Ok((child, _handle)) => {
            for request in requests {
                if let Err(MessagingErr::SendErr(SessionMsg::Request(request))) =
                    child.send_message(SessionMsg::Request(request))
                {
                    request.fail(Error::Closed {
                        server: key.clone(),
                        stderr_tail: Vec::new(),
                    });
                }
            }
            let (failures, generation) = match state.entries.remove(&key) {
                Some(entry) => (entry.failures, entry.generation),
                None => (FailureHistory::default(), 0),
            };
            state.entries.insert(
                key,
                Entry {
                    spec,
                    phase: EntryPhase::Running(child),
                    failures,
                    generation,
                },
            );
        }
        Err(error) => {
            let error = Error::Spawn {
                server: key.clone(),
                source: std::sync::Arc::new(std::io::Error::other(error.to_string())),
            };
            for request in requests {
                request.fail(error.clone());
            }
            state.entries.remove(&key);
        }
    }
}

/// The current session of `key` is gone: schedule a restart, or give up for the window.
fn session_failed(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    key: &str,
    last_error: String,
) {
    let options = &state.options;
    let Some(entry) = state.entries.get_mut(key) else {
        return;
    };
    if let EntryPhase::Running(child) = &entry.phase {
        // Harmless if it already failed; needed when only a call noticed (HTTP).
        child.stop(Some("server closed".to_owned()));
    }
    entry.generation += 1;
    let delay = match entry.failures.record(Instant::now(), options) {
        Verdict::RestartAfter(delay) => delay,
        Verdict::GiveUpUntil(until) => {
            tracing::warn!(%key, failures = entry.failures.len(), "tool session keeps failing; not restarting");
            entry.phase = EntryPhase::Exhausted { until, last_error };
            return;
        }
    };
    entry.phase = EntryPhase::Backoff {
        pending: Vec::new(),
    };
    let me = myself.clone();
    let key = key.to_owned();
    let generation = entry.generation;
    state.timers.spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = me.send_message(SupervisorMsg::RestartDue { key, generation });
    });
}

async fn restart(
    myself: &ActorRef<SupervisorMsg>,
    state: &mut SupervisorState,
    key: &str,
    generation: u64,
) {
    let Some(entry) = state.entries.get_mut(key) else {
        return;
    };
    if entry.generation != generation {
        return;
    }
    let EntryPhase::Backoff { pending } = &mut entry.phase else {
        return;
    };
    let pending = std::mem::take(pending);
    let spec = entry.spec.clone();
    tracing::info!(%key, "restarting tool session");
    start(myself, state, key.to_owned(), spec, pending).await;
}

fn retire_idle(state: &mut SupervisorState, key: &str, actor: &ActorId) {
    if is_current(state, key, actor)
        && let Some(Entry {
            phase: EntryPhase::Running(child),
            ..
        }) = state.entries.remove(key)
    {
        tracing::debug!(%key, "retiring idle tool session");
        let _ = child.send_message(SessionMsg::Retire);
    }
}

fn is_current(state: &SupervisorState, key: &str, actor: &ActorId) -> bool {
    matches!(
        state.entries.get(key),
        Some(Entry { phase: EntryPhase::Running(child), .. }) if child.get_id() == *actor
    )
}

fn key_of(state: &SupervisorState, actor: &ActorId) -> Option<String> {
    state
        .entries
        .iter()
        .find_map(|(key, entry)| match &entry.phase {
            EntryPhase::Running(child) if child.get_id() == *actor => Some(key.clone()),
            _ => None,
        })
}
