//! OpenTelemetry traces: a node with `traces.otlp_endpoint` sends each task it ends as one
//! trace to an OTLP/gRPC collector, here a receiver the test serves on loopback. The
//! trace of a task whose tool call waited for an approval holds the task, both model
//! calls, the policy decision, the approval wait and the tool call, with the workspace,
//! agent, principal, decision and rule, and none of the call's arguments, until the
//! workspace opts in to trace content: then the next task's trace carries its input and
//! result, the model's output and the call's arguments and result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use warden_client::Client;
use warden_proto::v1::{AgentLimits, TaskStatus};

use crate::common::agents::{ProviderSpec, Workspace, ledger_entry, scripted_model};
use crate::common::eventually;

const WS: &str = "traced";
/// The value the tool call writes: it must appear in no span.
const SECRET_VALUE: &str = "salary-4711-confidential";

const POLICY: &str = r#"{"rules": [
  {"id": "payroll", "priority": 10, "subject": "any",
   "target": {"tool": {"server": "ledger", "tool": "put"}}, "conditions": [],
   "effect": {"require_approval": {"approvers": [{"role": "approver"}], "quorum": 1,
              "expiry_ms": 600000, "on_expiry": "deny"}},
   "description": "payments need a person"}
]}"#;

/// An OTLP trace receiver: keeps every span it is sent, with its service's name.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.spans.lock().expect("the receiver's spans");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| &resource.attributes)
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref())
                .map(|value| format!("{:?}", value.value))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                kept.extend(scope.spans.into_iter().map(|span| (service.clone(), span)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A span's attributes as text.
fn attributes(span: &Span) -> HashMap<String, String> {
    span.attributes
        .iter()
        .map(|attribute| {
            let value = match attribute
                .value
                .as_ref()
                .and_then(|value| value.value.as_ref())
            {
                Some(Value::StringValue(text)) => text.clone(),
                Some(Value::IntValue(number)) => number.to_string(),
                Some(Value::BoolValue(flag)) => flag.to_string(),
                other => format!("{other:?}"),
            };
            (attribute.key.clone(), value)
        })
        .collect()
}

/// Submits `input` to the clerk, approves its call as `approver` and waits for the
/// task's trace to reach `receiver`; returns the trace's spans with their service.
async fn traced_task(
    admin: &Client,
    approver: &Client,
    workspace: &Workspace,
    receiver: &Receiver,
    input: &str,
) -> Vec<(String, Span)> {
    let task = workspace.submit("clerk", input).await;
    let pending = eventually(
        "the call to wait for approval",
        Duration::from_secs(30),
        || {
            let admin: &Client = admin;
            let id = task.id.clone();
            async move {
                admin
                    .list_approvals(WS)
                    .await
                    .ok()?
                    .into_iter()
                    .find(|approval| approval.task_id == id)
            }
        },
    )
    .await;
    approver
        .decide_approval(
            WS,
            &task.id,
            &pending.call_id,
            &pending.arguments_hash,
            true,
            "approved for the test",
        )
        .await
        .expect("approve");
    let seen = workspace
        .wait_settled(&task.id, Duration::from_secs(60))
        .await
        .expect("the task settles");
    seen.check_status(TaskStatus::Completed).expect("completed");

    let trace_id = warden_node::traces::trace_id(
        &warden_core::WorkspaceId::parse(WS).expect("workspace id"),
        &warden_core::TaskId::parse(&task.id).expect("task id"),
    )
    .to_bytes()
    .to_vec();
    eventually("the task's trace", Duration::from_secs(30), || {
        let receiver = receiver.clone();
        let trace_id = trace_id.clone();
        async move {
            let spans: Vec<(String, Span)> = receiver
                .spans
                .lock()
                .expect("spans")
                .iter()
                .filter(|(_, span)| span.trace_id == trace_id)
                .cloned()
                .collect();
            spans
                .iter()
                .any(|(_, span)| span.name == "invoke_agent clerk")
                .then_some(spans)
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_one_trace_of_its_model_calls_decisions_approval_and_tool_calls() {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the receiver");
    let collector = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );

    let cluster = crate::common::start(
        1,
        &[
            ("traces.otlp_endpoint", &collector),
            ("traces.export_interval", "200ms"),
        ],
    )
    .await;
    let admin = cluster.client().expect("client");
    admin.create_workspace(WS).await.expect("workspace");
    admin.put_policy(WS, POLICY, 0).await.expect("policy");
    let model = scripted_model(serde_json::json!({
        "steps": [{"tool_calls": [{"name": "ledger__put",
                                   "arguments": {"key": "payroll/bob", "value": SECRET_VALUE}}]}],
        "final": "paid",
    }))
    .await;
    let workspace = Workspace::new(admin.clone(), WS);
    workspace
        .put_provider(ProviderSpec {
            name: "model",
            kind: "openai",
            base_url: model.base_url(),
            request_timeout_ms: 30_000,
            max_retries: 0,
        })
        .await;
    let tools = cluster.tools_dir();
    let ledger = tools.join("ledger.jsonl");
    workspace
        .register_stdio(
            "ledger",
            ledger_entry(&tools),
            &["--ledger", &ledger.display().to_string()],
        )
        .await;
    workspace
        .create_agent(
            "clerk",
            "model",
            &[("ledger", "put")],
            AgentLimits::default(),
        )
        .await;
    let approver = crate::common::approver_client(&admin, WS).await;

    let spans = traced_task(&admin, &approver, &workspace, &receiver, "pay bob").await;

    let named = |prefix: &str| -> Vec<&Span> {
        spans
            .iter()
            .map(|(_, span)| span)
            .filter(|span| span.name.starts_with(prefix))
            .collect()
    };
    let root = named("invoke_agent clerk")[0];
    assert!(
        spans.iter().all(|(service, _)| service.contains("warden")),
        "the service is warden: {spans:?}"
    );
    let root_attributes = attributes(root);
    assert_eq!(root_attributes["gen_ai.operation.name"], "invoke_agent");
    assert_eq!(root_attributes["warden.workspace"], WS);
    assert_eq!(root_attributes["warden.task.status"], "completed");
    assert_eq!(root_attributes["warden.principal"], "user/admin");
    for (_, span) in &spans {
        if span.span_id != root.span_id {
            assert_eq!(span.parent_span_id, root.span_id, "{}", span.name);
        }
        let all = attributes(span);
        assert_eq!(all["gen_ai.agent.name"], "clerk", "{}", span.name);
        assert!(
            all.values().all(|value| !value.contains(SECRET_VALUE)),
            "{} carries the call's arguments: {all:?}",
            span.name
        );
    }

    let chats = named("chat ");
    assert_eq!(chats.len(), 2, "two model calls");
    let chat = attributes(chats[0]);
    assert_eq!(chat["gen_ai.provider.name"], "openai");
    assert_eq!(chat["gen_ai.request.model"], "scripted");
    assert!(
        chat["gen_ai.usage.output_tokens"]
            .parse::<u64>()
            .expect("tokens")
            > 0
    );

    let decisions = named("warden.policy.decide");
    assert!(!decisions.is_empty(), "no decision span");
    let decision = attributes(decisions[0]);
    assert_eq!(decision["warden.decision"], "approval_required");
    assert_eq!(decision["warden.policy.rule"], "payroll");
    assert_eq!(decision["gen_ai.tool.name"], "put");

    let waits = named("warden.approval.wait");
    assert_eq!(waits.len(), 1, "one approval wait");
    let wait = attributes(waits[0]);
    assert_eq!(wait["warden.approval.outcome"], "granted");
    assert_eq!(wait["warden.approval.approvers"], "user/approver");
    assert!(waits[0].end_time_unix_nano >= waits[0].start_time_unix_nano);

    let tools = named("execute_tool put");
    assert_eq!(tools.len(), 1, "one tool call");
    let tool = attributes(tools[0]);
    assert_eq!(tool["gen_ai.operation.name"], "execute_tool");
    assert_eq!(tool["warden.mcp.server"], "ledger");
    assert!(tools[0].start_time_unix_nano >= waits[0].end_time_unix_nano);

    // Opted in, the workspace's next trace carries the content, in the GenAI
    // conventions' opt-in attributes.
    let on = admin
        .set_workspace_settings(warden_proto::v1::WorkspaceSettings {
            workspace: WS.to_owned(),
            trace_content: true,
            ..Default::default()
        })
        .await
        .expect("opt in to trace content");
    assert!(on.trace_content && on.updated_by == "user/admin", "{on:?}");
    let spans = traced_task(&admin, &approver, &workspace, &receiver, "pay bob again").await;
    let content_of = |prefix: &str, attribute: &str| -> String {
        let span = spans
            .iter()
            .map(|(_, span)| span)
            .find(|span| span.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} span"));
        attributes(span)
            .remove(attribute)
            .unwrap_or_else(|| panic!("{} has no {attribute}", span.name))
    };
    assert!(content_of("invoke_agent", "gen_ai.input.messages").contains("pay bob again"));
    assert!(content_of("invoke_agent", "gen_ai.output.messages").contains("paid"));
    let arguments = content_of("execute_tool put", "gen_ai.tool.call.arguments");
    assert!(arguments.contains(SECRET_VALUE), "{arguments}");
    assert!(!content_of("execute_tool put", "gen_ai.tool.call.result").is_empty());
    let asked = content_of("chat ", "gen_ai.output.messages");
    let messages: serde_json::Value = serde_json::from_str(&asked).expect("JSON messages");
    assert_eq!(messages[0]["role"], "assistant", "{messages}");
    assert_eq!(messages[0]["parts"][0]["type"], "tool_call", "{messages}");
    assert_eq!(
        messages[0]["parts"][0]["arguments"]["value"], SECRET_VALUE,
        "{messages}"
    );

    let _ = stop.send(());
    serving
        .await
        .expect("the receiver's task")
        .expect("the receiver served");
}
