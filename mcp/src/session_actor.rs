//! `ToolSessionActor`: owns one [`McpSession`] for one server key. It connects in a task,
//! runs every request in a task of its own `JoinSet` (so a slow call never holds up a fast
//! one), fails when the server's transport is gone (its supervisor restarts it), and tells
//! its supervisor when it has been idle long enough to shut down.

use std::time::Duration;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use tokio::{task::JoinSet, time::Instant};

use crate::{
    CallOutput, Error, McpSession, ServerSpec, SessionOptions, ToolInfo, supervisor::SupervisorMsg,
};

/// A request from a [`crate::ToolSessions`] caller, routed by the supervisor.
pub(crate) enum SessionRequest {
    Call {
        tool: String,
        arguments: serde_json::Map<String, serde_json::Value>,
        timeout: Duration,
        reply: RpcReplyPort<Result<CallOutput, Error>>,
    },
    ListTools {
        reply: RpcReplyPort<Result<Vec<ToolInfo>, Error>>,
    },
}

impl SessionRequest {
    pub(crate) fn fail(self, error: Error) {
        // A caller that went away does not need the answer.
        let _ = match self {
            SessionRequest::Call { reply, .. } => reply.send(Err(error)).is_ok(),
            SessionRequest::ListTools { reply } => reply.send(Err(error)).is_ok(),
        };
    }
}

pub(crate) enum SessionMsg {
    Request(SessionRequest),
    /// The connect task finished.
    Connected(Result<McpSession, Error>),
    /// A request task finished (sent from a drop guard, so also after a panic).
    RequestFinished,
    /// rmcp's service loop ended: the server process is gone.
    ServerClosed,
    IdleCheck,
    /// The supervisor no longer routes here: finish what is in flight, then stop.
    Retire,
}

pub(crate) struct SessionArgs {
    pub key: String,
    pub spec: ServerSpec,
    pub options: SessionOptions,
    pub supervisor: ActorRef<SupervisorMsg>,
}

pub(crate) struct ToolSessionActor;

pub(crate) struct SessionState {
    args: SessionArgs,
    phase: Phase,
    /// Every task this actor started: the connect task, request tasks, the close watcher
    /// and the idle timer. Dropped (so aborted) with the state.
    tasks: JoinSet<()>,
    in_flight: usize,
    last_activity: Instant,
    retiring: bool,
}

enum Phase {
    Connecting { waiting: Vec<SessionRequest> },
    Connected(McpSession),
    Closed,
}

impl Actor for ToolSessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<SessionMsg>,
        args: SessionArgs,
    ) -> Result<SessionState, ActorProcessingErr> {
        Ok(SessionState {
            args,
            phase: Phase::Connecting {
                waiting: Vec::new(),
            },
            tasks: JoinSet::new(),
            in_flight: 0,
            last_activity: Instant::now(),
            retiring: false,
        })
    }

    async fn post_start(
        &self,
        myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        let key = state.args.key.clone();
        let spec = state.args.spec.clone();
        let connect_timeout = state.args.options.connect_timeout;
        let sandbox = state.args.options.stdio.clone();
        let egress = state.args.options.egress.clone();
        state.tasks.spawn(async move {
            let result =
                McpSession::connect_named(&key, &spec, connect_timeout, &sandbox, &egress).await;
            // If we are gone, the session comes back in the error and is dropped (killed).
            let _ = myself.send_message(SessionMsg::Connected(result));
        });
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        reap(&mut state.tasks);
        match message {
            SessionMsg::Request(request) => on_request(&myself, state, request),
            SessionMsg::Connected(result) => on_connected(&myself, state, result)?,
            SessionMsg::RequestFinished => on_request_finished(&myself, state),
            SessionMsg::ServerClosed => return Err(Box::new(closed_error(state))),
            SessionMsg::IdleCheck => on_idle_check(&myself, state),
            SessionMsg::Retire => {
                state.retiring = true;
                stop_if_retired(&myself, state);
            }
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SessionMsg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        state.tasks.shutdown().await;
        if let Phase::Connected(session) = std::mem::replace(&mut state.phase, Phase::Closed) {
            session.close().await;
        }
        Ok(())
    }
}

fn on_request(myself: &ActorRef<SessionMsg>, state: &mut SessionState, request: SessionRequest) {
    state.last_activity = Instant::now();
    match &mut state.phase {
        Phase::Connecting { waiting } => waiting.push(request),
        Phase::Connected(_) => start_request(myself, state, request),
        Phase::Closed => request.fail(closed_error(state)),
    }
}

fn on_connected(
    myself: &ActorRef<SessionMsg>,
    state: &mut SessionState,
    result: Result<McpSession, Error>,
) -> Result<(), Error> {
    let waiting = match std::mem::replace(&mut state.phase, Phase::Closed) {
        Phase::Connecting { waiting } => waiting,
        other => {
            state.phase = other;
            return Ok(());
        }
    };
    let session = match result {
        Ok(session) => session,
        Err(error) => {
            for request in waiting {
                request.fail(error.clone());
            }
            // Failing hands the decision to restart to the supervisor.
            return Err(error);
        }
    };
    let closed = session.closed();
    let me = myself.clone();
    state.tasks.spawn(async move {
        closed.await;
        let _ = me.send_message(SessionMsg::ServerClosed);
    });
    state.phase = Phase::Connected(session);
    for request in waiting {
        start_request(myself, state, request);
    }
    schedule_idle_check(myself, state, state.args.options.idle_timeout);
    stop_if_retired(myself, state);
    Ok(())
}

/// Runs one request in its own task. When the transport turns out to be gone, the
/// supervisor hears it before the caller does, so the caller's next request is routed to a
/// restarted session rather than to this one.
fn start_request(myself: &ActorRef<SessionMsg>, state: &mut SessionState, request: SessionRequest) {
    let Phase::Connected(session) = &state.phase else {
        request.fail(closed_error(state));
        return;
    };
    let caller = session.caller();
    let list_timeout = state.args.options.list_timeout;
    let supervisor = state.args.supervisor.clone();
    let key = state.args.key.clone();
    let actor = myself.get_id();
    let finished = FinishedGuard(myself.clone());
    state.in_flight += 1;
    state.tasks.spawn(async move {
        let _finished = finished;
        let report_lost = |error: &Error| {
            if matches!(error, Error::Closed { .. }) {
                let _ = supervisor.send_message(SupervisorMsg::SessionLost {
                    key: key.clone(),
                    actor,
                    error: error.clone(),
                });
            }
        };
        match request {
            SessionRequest::Call {
                tool,
                arguments,
                timeout,
                reply,
            } => {
                let result = caller.call(&tool, arguments, timeout).await;
                if let Err(error) = &result {
                    report_lost(error);
                }
                let _ = reply.send(result);
            }
            SessionRequest::ListTools { reply } => {
                let result = caller
                    .list_tools(Instant::now() + list_timeout, list_timeout)
                    .await;
                if let Err(error) = &result {
                    report_lost(error);
                }
                let _ = reply.send(result);
            }
        }
    });
}

fn on_request_finished(myself: &ActorRef<SessionMsg>, state: &mut SessionState) {
    state.in_flight = state.in_flight.saturating_sub(1);
    state.last_activity = Instant::now();
    stop_if_retired(myself, state);
}

fn on_idle_check(myself: &ActorRef<SessionMsg>, state: &mut SessionState) {
    let idle_timeout = state.args.options.idle_timeout;
    let idle_for = state.last_activity.elapsed();
    if state.in_flight == 0 && idle_for >= idle_timeout {
        let _ = state
            .args
            .supervisor
            .send_message(SupervisorMsg::SessionIdle {
                key: state.args.key.clone(),
                actor: myself.get_id(),
            });
        // Checked again in case the supervisor has already moved on from this session.
        schedule_idle_check(myself, state, idle_timeout);
    } else if state.in_flight > 0 {
        schedule_idle_check(myself, state, idle_timeout);
    } else {
        schedule_idle_check(myself, state, idle_timeout - idle_for);
    }
}

fn schedule_idle_check(myself: &ActorRef<SessionMsg>, state: &mut SessionState, after: Duration) {
    let me = myself.clone();
    state.tasks.spawn(async move {
        tokio::time::sleep(after).await;
        let _ = me.send_message(SessionMsg::IdleCheck);
    });
}

fn stop_if_retired(myself: &ActorRef<SessionMsg>, state: &SessionState) {
    let waiting = matches!(&state.phase, Phase::Connecting { waiting } if !waiting.is_empty());
    if state.retiring && state.in_flight == 0 && !waiting {
        myself.stop(Some("retired".to_owned()));
    }
}

fn closed_error(state: &SessionState) -> Error {
    Error::Closed {
        server: state.args.key.clone(),
        stderr_tail: match &state.phase {
            Phase::Connected(session) => session.stderr_tail(),
            _ => Vec::new(),
        },
    }
}

/// Collects finished tasks so the set does not grow; a panic in one is logged.
fn reap(tasks: &mut JoinSet<()>) {
    while let Some(result) = tasks.try_join_next() {
        if let Err(error) = result
            && error.is_panic()
        {
            tracing::error!(%error, "tool session task panicked");
        }
    }
}

/// Tells the actor a request task ended, however it ended.
struct FinishedGuard(ActorRef<SessionMsg>);

impl Drop for FinishedGuard {
    fn drop(&mut self) {
        let _ = self.0.send_message(SessionMsg::RequestFinished);
    }
}
