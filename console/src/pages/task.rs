//! One task: what it was asked, where it stands, its tool calls with their decisions,
//! its journal (live, through server-sent events fed by the same stream as
//! `WatchTask`), its parent and children when it delegated or was delegated, and what
//! its state allows: cancelling it, resolving it when it needs attention, answering the
//! question it waits on.

use std::convert::Infallible;
use std::sync::Arc;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, Response};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use warden_proto::v1::resolve_task_request::Decision;
use warden_proto::v1::{
    AnswerQuestionRequest, CancelTaskRequest, GetJournalRequest, GetTaskRequest,
    ResolveTaskRequest, Task, TaskEvent, TaskStatus, WatchTaskRequest,
};

use super::see_other;
use crate::Shared;
use crate::error::PageError;
use crate::format;
use crate::journal::{self, CallLine, EventLine};
use crate::signed_in::{Layout, SignedIn};

/// Journal entries one page load reads; the live stream goes on from the last.
const JOURNAL_PAGE: u32 = 1000;

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    layout: Layout,
    task: Task,
    status: String,
    submitted: String,
    deadline: String,
    finished: bool,
    needs_attention: bool,
    /// The question the task waits on, with its expiry as the page shows it.
    question: Option<(warden_proto::v1::TaskQuestion, String)>,
    calls: Vec<CallLine>,
    lines: Vec<EventLine>,
    /// Where the live stream starts: one past the last entry shown.
    from_seq: u64,
    notice: Option<&'static str>,
}

pub async fn page(
    signed: SignedIn,
    Path((workspace, task_id)): Path<(String, String)>,
    Query(query): Query<super::Done>,
) -> Result<Html<String>, PageError> {
    let api = &signed.api;
    let task = api
        .tasks()
        .get_task(api.request(GetTaskRequest {
            workspace: workspace.clone(),
            task_id: task_id.clone(),
            ..GetTaskRequest::default()
        }))
        .await?
        .into_inner()
        .task
        .ok_or_else(|| PageError::Invalid(format!("task {task_id}: the node sent no task")))?;
    let events: Vec<TaskEvent> = api
        .tasks()
        .get_journal(api.request(GetJournalRequest {
            workspace,
            task_id,
            from_seq: 0,
            limit: JOURNAL_PAGE,
            ..GetJournalRequest::default()
        }))
        .await?
        .into_inner()
        .events;
    let from_seq = events.last().map_or(0, |event| event.seq + 1);
    let notice = match query.done.as_str() {
        "cancelled" => Some("The task was cancelled."),
        "resolved" => Some("Your resolution was recorded."),
        "answered" => Some("Your answer was recorded; the task goes on."),
        _ => None,
    };
    let page = TaskPage {
        layout: signed.layout("tasks"),
        status: format::status(task.status),
        submitted: format::time(task.submitted_at_ms),
        deadline: format::time(task.deadline_at_ms),
        finished: format::finished(task.status),
        needs_attention: task.status == TaskStatus::NeedsAttention as i32,
        question: task.question.clone().map(|question| {
            let expires = format::time(question.expires_at_ms);
            (question, expires)
        }),
        calls: journal::calls(&events),
        lines: events.iter().map(journal::line).collect(),
        from_seq,
        notice,
        task,
    };
    Ok(Html(page.render()?))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(default)]
    from: u64,
}

/// The journal from `from` on as server-sent events (`journal`, each a JSON line as the
/// page shows it), until the task ends or the browser goes away.
pub async fn events(
    State(shared): State<Arc<Shared>>,
    signed: SignedIn,
    Path((workspace, task_id)): Path<(String, String)>,
    Query(query): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, PageError> {
    let api = &signed.api;
    let stream = api
        .tasks()
        .watch_task(api.request(WatchTaskRequest {
            workspace,
            task_id,
            from_seq: query.from,
        }))
        .await?
        .into_inner();
    // The node ends the stream when the token is revoked; the console ends it when the
    // session expires or is signed out.
    let session = signed.session;
    let expiry = tokio::time::sleep(std::time::Duration::from_millis(
        session.expires_ms.saturating_sub(crate::session::now_ms()),
    ));
    let signed_out = async move {
        loop {
            // Made before the check, so a sign-out between the two still wakes it.
            let next_sign_out = shared.sessions.signed_out_somewhere();
            if shared.sessions.is_over(&session) {
                return;
            }
            next_sign_out.await;
        }
    };
    let stream = stream.take_until(expiry).take_until(Box::pin(signed_out));
    let events = stream.map(|item| {
        Ok(match item {
            Ok(event) => {
                let line = journal::line(&event);
                Event::default()
                    .event("journal")
                    .id(line.seq.to_string())
                    .json_data(&line)
                    .unwrap_or_else(|_| Event::default().event("journal"))
            }
            Err(status) => Event::default().event("failed").data(status.message()),
        })
    });
    // More often than the listener's idle timeout, so a quiet journal stays connected.
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(10))))
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub async fn cancel(
    State(shared): State<Arc<Shared>>,
    signed: SignedIn,
    Path((workspace, task_id)): Path<(String, String)>,
    Form(form): Form<CancelForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&shared, &form.csrf)?;
    let api = &signed.api;
    let task = api
        .tasks()
        .cancel_task(api.request(CancelTaskRequest {
            workspace,
            task_id,
            reason: form.reason,
        }))
        .await?
        .into_inner()
        .task
        .ok_or_else(|| PageError::Invalid("the node sent no task".to_owned()))?;
    Ok(see_other(task_path(&task, "cancelled")))
}

#[derive(Deserialize)]
pub struct ResolveForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    text: String,
}

pub async fn resolve(
    State(shared): State<Arc<Shared>>,
    signed: SignedIn,
    Path((workspace, task_id)): Path<(String, String)>,
    Form(form): Form<ResolveForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&shared, &form.csrf)?;
    let decision = match form.decision.as_str() {
        "retry" => Decision::Retry(true),
        "skip" => Decision::SkipWithResult(form.text),
        "fail" => Decision::Fail(form.text),
        other => {
            return Err(PageError::Invalid(format!(
                "decision: must be retry, skip or fail, not {other:?}"
            )));
        }
    };
    let api = &signed.api;
    let task = api
        .tasks()
        .resolve_task(api.request(ResolveTaskRequest {
            workspace,
            task_id,
            decision: Some(decision),
        }))
        .await?
        .into_inner()
        .task
        .ok_or_else(|| PageError::Invalid("the node sent no task".to_owned()))?;
    Ok(see_other(task_path(&task, "resolved")))
}

#[derive(Deserialize)]
pub struct AnswerForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    call_id: String,
    #[serde(default)]
    question_seq: u64,
    #[serde(default)]
    answer: String,
}

/// Answers the question the task waits on: the one the page showed (call id and
/// sequence number), never a later one.
pub async fn answer(
    State(shared): State<Arc<Shared>>,
    signed: SignedIn,
    Path((workspace, task_id)): Path<(String, String)>,
    Form(form): Form<AnswerForm>,
) -> Result<Response, PageError> {
    signed.check_csrf(&shared, &form.csrf)?;
    let api = &signed.api;
    let task = api
        .tasks()
        .answer_question(api.request(AnswerQuestionRequest {
            workspace,
            task_id,
            call_id: form.call_id,
            question_seq: form.question_seq,
            answer: form.answer,
        }))
        .await?
        .into_inner()
        .task
        .ok_or_else(|| PageError::Invalid("the node sent no task".to_owned()))?;
    Ok(see_other(task_path(&task, "answered")))
}

/// The task's page, telling it what was done. Workspace names and task ids are
/// `[a-z0-9-]` and hex, so they need no escaping in a path.
fn task_path(task: &Task, done: &str) -> String {
    format!(
        "/console/w/{}/tasks/{}?done={done}",
        task.workspace, task.id
    )
}
