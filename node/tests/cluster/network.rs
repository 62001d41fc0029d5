//! The governed agentic network on a real cluster: a question to a person survives the
//! death of the node that ran its task and is answered on another; a delegated task and
//! its parent go on across the death of the parent's node, with one child and its
//! answer delivered once; a delegation cycle is refused; cancelling a parent cancels
//! the child it waits on; an unanswered question expires once, by its rule, across the
//! death of the leader that would have expired it.

use std::time::Duration;

use warden_client::{Client, Consistency};
use warden_proto::v1::{AgentLimits, Task, TaskEvent, TaskStatus};

use crate::common::agents::{ProviderSpec, Workspace, scripted_model};
use crate::common::{allow_every_call, approver_client, eventually, operator_token};
use warden_providers::scripted::ScriptedModelHandle;

const WS: &str = "net";

/// Creates WS with a policy allowing every call, and for each `(agent, script, grants)`
/// a scripted model, a provider named after the agent, and the agent.
async fn network(
    admin: &Client,
    agents: &[(&str, serde_json::Value, &[(&str, &str)])],
) -> (Workspace, Vec<ScriptedModelHandle>) {
    admin.create_workspace(WS).await.expect("create workspace");
    allow_every_call(admin, WS).await;
    let workspace = Workspace::new(admin.clone(), WS);
    let mut models = Vec::new();
    for (agent, script, grants) in agents {
        let model = scripted_model(script.clone()).await;
        workspace
            .put_provider(ProviderSpec {
                name: agent,
                kind: "openai",
                base_url: model.base_url(),
                request_timeout_ms: 30_000,
                max_retries: 0,
            })
            .await;
        workspace
            .create_agent(agent, agent, grants, AgentLimits::default())
            .await;
        models.push(model);
    }
    (workspace, models)
}

fn asks(question: &str, answer_prefix: &str) -> serde_json::Value {
    serde_json::json!({
        "steps": [{"tool_calls": [{"name": "warden__ask_human",
                                   "arguments": {"question": question}}]}],
        "final": format!("{answer_prefix}{{{{last_result}}}}"),
    })
}

fn delegates(callee: &str, answer_prefix: &str) -> serde_json::Value {
    serde_json::json!({
        "steps": [{"tool_calls": [{"name": format!("agent__{callee}"),
                                   "arguments": {"input": "{{input}}"}}]}],
        "final": format!("{answer_prefix}{{{{last_result}}}}"),
    })
}

async fn get(client: &Client, id: &str) -> Task {
    client
        .get_task(WS, id, Consistency::Linearizable)
        .await
        .unwrap_or_else(|error| panic!("get task {id}: {error}"))
        .task
        .expect("a task")
}

async fn journal(client: &Client, id: &str) -> Vec<TaskEvent> {
    client
        .get_journal(WS, id, 0, 0, Consistency::Linearizable)
        .await
        .unwrap_or_else(|error| panic!("journal of {id}: {error}"))
        .events
}

/// Waits until task `id` is in `status` and returns it.
async fn until_status(client: &Client, id: &str, status: TaskStatus) -> Task {
    eventually(
        &format!("task {id} to be {}", status.as_str_name()),
        Duration::from_secs(60),
        || async move {
            let task = client
                .get_task(WS, id, Consistency::Linearizable)
                .await
                .ok()?
                .task?;
            (task.status == i32::from(status)).then_some(task)
        },
    )
    .await
}

/// The node of the last `assigned` event of a journal.
fn last_node(events: &[TaskEvent]) -> Option<u64> {
    events
        .iter()
        .filter(|event| event.kind == "assigned")
        .filter_map(|event| {
            serde_json::from_str::<serde_json::Value>(&event.detail_json)
                .ok()?
                .get("node")?
                .as_u64()
        })
        .next_back()
}

fn count(events: &[TaskEvent], kind: &str) -> usize {
    events.iter().filter(|event| event.kind == kind).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_survives_its_node_s_death_and_is_answered_on_another() {
    let mut cluster = crate::common::start(
        3,
        &[
            ("runtime.lease", "2s"),
            ("runtime.heartbeat_interval", "300ms"),
        ],
    )
    .await;
    let admin = cluster.client().expect("client");
    let (workspace, _models) = network(
        &admin,
        &[(
            "asker",
            asks("Ship {{input}}?", "answer: "),
            &[("warden", "ask_human")],
        )],
    )
    .await;
    let task = workspace.submit("asker", "release 7").await;
    let parked = until_status(&admin, &task.id, TaskStatus::WaitingForInput).await;
    assert_eq!(parked.owner, 0, "a parked task holds no node");
    let question = parked.question.clone().expect("the question");
    assert_eq!(question.question, "Ship release 7?");
    assert_eq!(question.on_expiry, "deny");
    // WaitTask counts a question as waiting for a person.
    let waited = admin
        .wait_task(WS, &task.id, Duration::from_secs(5))
        .await
        .expect("wait");
    assert!(waited.settled);

    let ran_on = last_node(&journal(&admin, &task.id).await).expect("assigned");
    cluster.kill(ran_on).await.expect("kill");
    let survivors: Vec<u64> = (1..=3).filter(|id| *id != ran_on).collect();
    crate::common::after_controller_ticks(&cluster, &survivors, 15.0).await;
    let admin = cluster.client().expect("client");
    let still = get(&admin, &task.id).await;
    assert_eq!(still.status, i32::from(TaskStatus::WaitingForInput));

    // An operator may run tasks but not answer for an approver.
    let operator = crate::common::as_token(&admin, &operator_token(&admin, WS, "op").await);
    let refused = operator
        .answer_question(WS, &task.id, &question, "yes")
        .await;
    assert_eq!(
        crate::common::error_code(refused),
        tonic::Code::PermissionDenied
    );

    let approver = approver_client(&admin, WS).await;
    let answered = approver
        .answer_question(WS, &task.id, &question, "yes, ship it")
        .await
        .expect("answer")
        .task
        .expect("a task");
    assert_ne!(answered.status, i32::from(TaskStatus::WaitingForInput));
    let done = until_status(&admin, &task.id, TaskStatus::Completed).await;
    assert_eq!(done.result, "answer: yes, ship it");
    let events = journal(&admin, &task.id).await;
    assert_ne!(last_node(&events), Some(ran_on), "resumed on a live node");
    for (kind, times) in [
        ("question_asked", 1),
        ("question_answered", 1),
        ("tool_call_finished", 1),
        ("completed", 1),
    ] {
        assert_eq!(count(&events, kind), times, "{kind}");
    }
    let again = approver
        .answer_question(WS, &task.id, &question, "again")
        .await;
    assert_eq!(
        crate::common::error_code(again),
        tonic::Code::FailedPrecondition
    );
    let audit = admin
        .tail_audit(
            warden_client::AuditTail::last(200),
            Consistency::Linearizable,
        )
        .await
        .expect("audit")
        .records;
    assert!(
        audit
            .iter()
            .any(|record| record.action == "question.answer" && record.principal == "user/approver"),
        "the answer is audited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegation_creates_one_child_whose_answer_reaches_the_parent_across_a_failover() {
    let mut cluster = crate::common::start(
        3,
        &[
            ("runtime.lease", "2s"),
            ("runtime.heartbeat_interval", "300ms"),
        ],
    )
    .await;
    let admin = cluster.client().expect("client");
    let (_workspace, _models) = network(
        &admin,
        &[
            (
                "lead",
                delegates("helper", "lead: "),
                &[("agent", "helper")],
            ),
            (
                "helper",
                asks("May I ship?", "helper: "),
                &[("warden", "ask_human")],
            ),
        ],
    )
    .await;
    let parent = admin
        .submit_task(WS, "lead", "release 7", Some("release-7".to_owned()))
        .await
        .expect("submit")
        .response
        .task
        .expect("a task");
    let waiting = until_status(&admin, &parent.id, TaskStatus::WaitingForChild).await;
    let child_id = waiting.waiting_for_task.clone();
    assert_eq!(waiting.children, vec![child_id.clone()]);
    let child = until_status(&admin, &child_id, TaskStatus::WaitingForInput).await;
    assert_eq!(child.input, "release 7");
    let link = child.parent.clone().expect("the child names its parent");
    assert_eq!(link.task_id, parent.id);
    assert_eq!(link.lineage, vec!["lead".to_owned()]);
    assert_eq!(
        child.idempotency_key,
        format!("delegate:{}:1:call_0_0", parent.id)
    );
    assert_eq!(child.submitted_by, parent.submitted_by);

    // The parent's node dies while its child waits on a person.
    let parent_node = last_node(&journal(&admin, &parent.id).await).expect("assigned");
    cluster.kill(parent_node).await.expect("kill");
    let survivors: Vec<u64> = (1..=3).filter(|id| *id != parent_node).collect();
    crate::common::after_controller_ticks(&cluster, &survivors, 15.0).await;
    let admin = cluster.client().expect("client");
    let approver = approver_client(&admin, WS).await;
    let question = child.question.clone().expect("a question");
    approver
        .answer_question(WS, &child_id, &question, "yes")
        .await
        .expect("answer");

    let done = until_status(&admin, &parent.id, TaskStatus::Completed).await;
    assert_eq!(done.result, "lead: helper: yes");
    assert_eq!(
        get(&admin, &child_id).await.status,
        i32::from(TaskStatus::Completed)
    );
    let events = journal(&admin, &parent.id).await;
    assert_ne!(
        last_node(&events),
        Some(parent_node),
        "resumed on a live node"
    );
    assert_eq!(count(&events, "delegated"), 1);
    assert_eq!(count(&events, "child_ended"), 1);
    assert_eq!(count(&events, "tool_call_finished"), 1, "delivered once");
    // One child, ever: every helper task in the workspace is this one.
    let helpers: Vec<Task> = admin
        .list_tasks(WS, 1000, "", Consistency::Linearizable)
        .await
        .expect("list")
        .tasks
        .into_iter()
        .filter(|task| task.agent == "helper")
        .collect();
    assert_eq!(helpers.len(), 1, "{helpers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegation_cycle_is_refused_and_a_cancelled_parent_cancels_its_child() {
    let cluster = crate::common::start(1, &[]).await;
    let admin = cluster.client().expect("client");
    let (_workspace, _models) = network(
        &admin,
        &[
            ("alpha", delegates("beta", "alpha: "), &[("agent", "beta")]),
            ("beta", delegates("alpha", "beta: "), &[("agent", "alpha")]),
            ("boss", delegates("asker", "boss: "), &[("agent", "asker")]),
            (
                "asker",
                asks("Anyone?", "asker: "),
                &[("warden", "ask_human")],
            ),
        ],
    )
    .await;
    let task = admin
        .submit_task(WS, "alpha", "loop", None)
        .await
        .expect("submit")
        .response
        .task
        .expect("a task");
    let done = until_status(&admin, &task.id, TaskStatus::Completed).await;
    assert!(
        done.result.starts_with("alpha: beta: ")
            && done
                .result
                .contains("denied: delegation cycle: alpha -> beta -> alpha"),
        "{}",
        done.result
    );

    let boss = admin
        .submit_task(WS, "boss", "wait", None)
        .await
        .expect("submit")
        .response
        .task
        .expect("a task");
    let waiting = until_status(&admin, &boss.id, TaskStatus::WaitingForChild).await;
    let child = waiting.waiting_for_task;
    until_status(&admin, &child, TaskStatus::WaitingForInput).await;
    admin
        .cancel_task(WS, &boss.id, "not needed")
        .await
        .expect("cancel");
    let cancelled = get(&admin, &child).await;
    assert_eq!(cancelled.status, i32::from(TaskStatus::Cancelled));
    assert!(cancelled.reason.contains(&boss.id), "{}", cancelled.reason);
}

/// An approver answers in the console: the page shows the question escaped, with a form
/// bound to that question, and the answer is the call's result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_answers_a_question_in_the_console() {
    use crate::common::console::{Browser, CONSOLE_ON};
    let cluster = crate::common::start(1, &[CONSOLE_ON]).await;
    let admin = cluster.client().expect("client");
    let (workspace, _models) = network(
        &admin,
        &[(
            "asker",
            asks("Is {{input}} safe?", "answer: "),
            &[("warden", "ask_human")],
        )],
    )
    .await;
    let task = workspace.submit("asker", "<b>drop</b>").await;
    until_status(&admin, &task.id, TaskStatus::WaitingForInput).await;
    let created = admin
        .create_token("user/quinn", "console answer", 0)
        .await
        .expect("token");
    admin
        .set_roles(Some(WS), "user/quinn", &["approver"])
        .await
        .expect("roles");

    let mut browser = Browser::new(&cluster, 1);
    assert_eq!(browser.sign_in(&created.secret).await.status, 303);
    let path = format!("/console/w/{WS}/tasks/{}", task.id);
    let page = browser.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("Is &#60;b&#62;drop&#60;/b&#62; safe?")
            || page.body.contains("Is &lt;b&gt;drop&lt;/b&gt; safe?"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains("<b>drop</b>"),
        "the question is escaped"
    );
    let (csrf, call_id, seq) = (
        page.field("csrf"),
        page.field("call_id"),
        page.field("question_seq"),
    );
    let answered = browser
        .post(
            &format!("{path}/answer"),
            &[
                ("csrf", &csrf),
                ("call_id", &call_id),
                ("question_seq", &seq),
                ("answer", "from the console"),
            ],
        )
        .await;
    assert_eq!(answered.status, 303, "{}", answered.body);
    assert!(
        answered.location().ends_with("?done=answered"),
        "{}",
        answered.location()
    );
    let done = until_status(&admin, &task.id, TaskStatus::Completed).await;
    assert_eq!(done.result, "answer: from the console");
    let events = journal(&admin, &task.id).await;
    let answer = events
        .iter()
        .find(|event| event.kind == "question_answered")
        .expect("answered");
    assert!(
        answer.detail_json.contains("user/quinn"),
        "{}",
        answer.detail_json
    );
}

fn asks_briefly(on_expiry: &str) -> serde_json::Value {
    serde_json::json!({
        "steps": [{"tool_calls": [{"name": "warden__ask_human",
                                   "arguments": {"question": "Anyone there?",
                                                 "expires_in_seconds": 2,
                                                 "on_expiry": on_expiry}}]}],
        "final": "after the question: {{last_result}}",
    })
}

/// Unanswered questions expire by their `on_expiry` even when the leader that would have
/// expired them is killed: `deny` ends the call with an error and the task goes on;
/// `fail` fails the task. Each expires once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_question_expires_once_across_a_leader_s_death() {
    let mut cluster = crate::common::start(
        3,
        &[
            ("runtime.lease", "2s"),
            ("runtime.heartbeat_interval", "300ms"),
        ],
    )
    .await;
    let admin = cluster.client().expect("client");
    let (workspace, _models) = network(
        &admin,
        &[
            ("patient", asks_briefly("deny"), &[("warden", "ask_human")]),
            ("strict", asks_briefly("fail"), &[("warden", "ask_human")]),
        ],
    )
    .await;
    let denied = workspace.submit("patient", "x").await;
    let failed = workspace.submit("strict", "y").await;
    let question = until_status(&admin, &denied.id, TaskStatus::WaitingForInput)
        .await
        .question
        .expect("the question");
    until_status(&admin, &failed.id, TaskStatus::WaitingForInput).await;
    let leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .expect("a leader");
    cluster.kill(leader).await.expect("kill the leader");
    let admin = cluster.client().expect("client");
    let done = until_status(&admin, &denied.id, TaskStatus::Completed).await;
    assert!(
        done.result.starts_with("after the question: "),
        "{}",
        done.result
    );
    let gone = until_status(&admin, &failed.id, TaskStatus::Failed).await;
    assert!(gone.reason.contains("expired"), "{}", gone.reason);
    for id in [&denied.id, &failed.id] {
        let events = journal(&admin, id).await;
        assert_eq!(count(&events, "question_asked"), 1, "{id}");
        assert_eq!(count(&events, "question_expired"), 1, "{id}");
        assert_eq!(count(&events, "question_answered"), 0, "{id}");
    }
    // An answer after the expiry is refused.
    let approver = approver_client(&admin, WS).await;
    let late = approver
        .answer_question(WS, &denied.id, &question, "too late")
        .await;
    assert_eq!(
        crate::common::error_code(late),
        tonic::Code::FailedPrecondition
    );
}
