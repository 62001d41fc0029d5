//! `warden/ask_human`: a call that asks a person. Starting it parks the task as
//! `waiting_for_input` with the question; a principal who may approve in the workspace
//! answers it (`AnswerQuestion`), and the answer is the call's result; unanswered, it
//! expires (`ExpireQuestion`) by the call's `on_expiry`, as an approval request does.

use super::approval::resume;
use super::execution::load;
use super::task_update::TaskUpdate;
use super::{At, Decision, StateRead, Write};
use crate::builtin::{AskHuman, MAX_ANSWER_BYTES, Question, TaskLinks, Waiting};
use crate::command::Command;
use crate::journal::TaskEvent;
use crate::model::{OpenCall, Task, TaskStatus};
use crate::outcome::{Code, Rejection};
use crate::policy::OnExpiry;

/// Starts an allowed `ask_human` call: the question is journaled and the task parks.
pub(super) fn ask(update: &mut TaskUpdate, call: &OpenCall, links: Option<TaskLinks>, at: &At<'_>) {
    let asked = match AskHuman::parse(&call.arguments) {
        Ok(asked) => asked,
        // Decided allowed means the arguments parsed; this only guards the invariant.
        Err(why) => {
            update.end_unrun_call(&call.call_id, format!("denied: {why}"));
            return;
        }
    };
    if let Some(open) = update.task.open_calls.first_mut() {
        open.attempts = 1;
    }
    let expires_at_ms = at.time_ms.saturating_add(asked.expiry_ms);
    let seq = update.task.journal_len;
    update.record(TaskEvent::QuestionAsked {
        call_id: call.call_id.clone(),
        question: asked.question.clone(),
        expires_at_ms,
        on_expiry: asked.on_expiry,
    });
    let mut links =
        links.unwrap_or_else(|| TaskLinks::new(update.task.workspace.clone(), update.task.id));
    links.waiting = Some(Waiting::Question(Question {
        call_id: call.call_id.clone(),
        seq,
        question: asked.question.clone(),
        asked_ms: at.time_ms,
        expires_at_ms,
        on_expiry: asked.on_expiry,
    }));
    update.also(Write::TaskLinks(links));
    let reason = format!(
        "call {} asks a person: {}",
        call.call_id,
        crate::cut_text(&asked.question, 200)
    );
    update.release(TaskStatus::WaitingForInput, Some(reason));
}

pub(super) fn apply<S: StateRead>(
    state: &S,
    at: &At<'_>,
    command: &Command,
) -> Result<Decision, S::Error> {
    let (Command::AnswerQuestion {
        workspace,
        task,
        call_id,
        question_seq: _,
        answer: _,
    }
    | Command::ExpireQuestion {
        workspace,
        task,
        call_id,
    }) = command
    else {
        unreachable!("question::apply is called for question commands only")
    };
    let task = match load(state, workspace, task)? {
        Ok(task) => task,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let links = state.task_links(workspace, &task.id)?;
    let question = match waiting_question(&task, links.as_ref(), call_id) {
        Ok(question) => question,
        Err(rejection) => return Ok(Err(rejection)),
    };
    let Some(mut links) = links else {
        unreachable!("a waiting question comes from the links")
    };
    links.waiting = None;
    let mut update = TaskUpdate::new(task, at);
    match command {
        Command::AnswerQuestion {
            answer,
            question_seq,
            ..
        } => {
            if *question_seq != question.seq {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!(
                        "the answer names the question at journal entry {question_seq}, but task {} waits on the one at entry {} (call {call_id})",
                        update.task.id, question.seq
                    ),
                )));
            }
            if answer.len() > MAX_ANSWER_BYTES {
                return Ok(Err(Rejection::new(
                    Code::InvalidArgument,
                    format!("answer: at most {MAX_ANSWER_BYTES} bytes"),
                )));
            }
            if answer.trim().is_empty() {
                return Ok(Err(Rejection::new(
                    Code::InvalidArgument,
                    "answer: must not be empty".to_owned(),
                )));
            }
            if at.time_ms >= question.expires_at_ms {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!(
                        "the question of call {call_id} expired at {} ms",
                        question.expires_at_ms
                    ),
                )));
            }
            update.record(TaskEvent::QuestionAnswered {
                call_id: call_id.clone(),
                by: at.principal.clone(),
                answer: answer.clone(),
            });
            finish_call(&mut update, call_id, answer.clone(), false);
            resume(&mut update);
        }
        Command::ExpireQuestion { .. } => {
            if at.time_ms < question.expires_at_ms {
                return Ok(Err(Rejection::new(
                    Code::FailedPrecondition,
                    format!(
                        "the question of call {call_id} expires at {} ms, not yet",
                        question.expires_at_ms
                    ),
                )));
            }
            let fails_task = question.on_expiry == OnExpiry::Fail;
            update.record(TaskEvent::QuestionExpired {
                call_id: call_id.clone(),
                fails_task,
            });
            let reason = format!("the question of call {call_id} expired unanswered");
            if fails_task {
                update.fail(reason);
            } else {
                finish_call(&mut update, call_id, format!("no answer: {reason}"), true);
                resume(&mut update);
            }
        }
        _ => unreachable!("matched above"),
    }
    update.also(Write::TaskLinks(links));
    Ok(Ok(update.finish()))
}

/// The question task `task` waits on for call `call_id`.
fn waiting_question(
    task: &Task,
    links: Option<&TaskLinks>,
    call_id: &str,
) -> Result<Question, Rejection> {
    let question = links.and_then(TaskLinks::question).filter(|question| {
        question.call_id == call_id && task.status == TaskStatus::WaitingForInput
    });
    question.cloned().ok_or_else(|| {
        Rejection::new(
            Code::FailedPrecondition,
            format!(
                "task {} is {} and does not wait for an answer to call {call_id}",
                task.id,
                task.status.as_str()
            ),
        )
    })
}

/// Ends the started built-in call `call_id` with `output` as its result.
pub(super) fn finish_call(update: &mut TaskUpdate, call_id: &str, output: String, is_error: bool) {
    update
        .task
        .open_calls
        .retain(|open| open.call_id != call_id);
    update.record(TaskEvent::ToolCallFinished {
        call_id: call_id.to_owned(),
        output,
        is_error,
    });
}
