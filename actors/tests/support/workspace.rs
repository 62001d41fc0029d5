//! The workspace the runtime tests run in: provider `model`, the stdio server `tools`
//! from a catalog entry, pinned as the double lists it, agent `bot` granted both tools,
//! a policy allowing them, and task 7 submitted.

use std::sync::LazyLock;

use warden_actors::pinning;
use warden_core::fixtures;
use warden_core::policy::{Effect, PolicyRule, PolicySet, RuleId, Subject, Target};
use warden_core::{
    AgentName, AgentSpec, Command, IdempotencyKey, Limits, NodeId, Outcome, ProviderName,
    ServerName, TaskId, ToolGrant, ToolName, WorkspaceId,
};

use super::FakeHost;

pub static WS: LazyLock<WorkspaceId> = LazyLock::new(|| fixtures::ws("acme"));
pub const TASK: TaskId = TaskId::from_u128(7);

fn server() -> ServerName {
    ServerName::parse("tools").expect("valid server")
}

fn grant(tool: &str) -> ToolGrant {
    ToolGrant {
        server: server(),
        tool: ToolName::parse(tool).expect("valid tool"),
        retry_safe: None,
    }
}

/// Sets the workspace up and submits task 7; the task is not placed yet.
pub fn setup(host: &FakeHost) {
    host.admin(Command::CreateWorkspace {
        workspace: WS.clone(),
        key: None,
    });
    host.admin(fixtures::put_provider(&WS, "model"));
    host.admin(Command::PutCatalogEntry {
        spec: fixtures::catalog_spec("tools"),
    });
    let Outcome::McpServerRegistered(registered) =
        host.admin(fixtures::register_stdio(&WS, "tools", "tools"))
    else {
        panic!("registering the server")
    };
    let tools = host
        .tools
        .offered()
        .iter()
        .map(|tool| pinning::definition_of(tool).expect("a pinnable tool"))
        .collect();
    host.admin(Command::PinMcpTools {
        workspace: WS.clone(),
        name: server(),
        expected_version: registered.version,
        tools,
        trust_annotations: false,
    });
    host.admin(Command::CreateAgent {
        workspace: WS.clone(),
        spec: AgentSpec {
            name: AgentName::parse("bot").expect("valid agent"),
            instructions: "follow the script".to_owned(),
            provider: ProviderName::parse("model").expect("valid provider"),
            tools: vec![grant("get"), grant("append")],
            limits: Limits::default(),
            paused: false,
        },
    });
    host.admin(Command::PutPolicy {
        workspace: WS.clone(),
        policy: PolicySet {
            rules: vec![PolicyRule {
                id: RuleId::parse("allow-tools").expect("valid rule"),
                priority: 0,
                subject: Subject::Any,
                target: Target::Server(server()),
                conditions: vec![],
                effect: Effect::Allow,
                description: String::new(),
            }],
        },
        expected_version: 0,
    });
    host.admin(Command::SubmitTask {
        workspace: WS.clone(),
        task_id: TASK,
        idempotency_key: IdempotencyKey::parse("k").expect("valid key"),
        agent: AgentName::parse("bot").expect("valid agent"),
        input: "do the thing".to_owned(),
    });
}

/// Places task 7 on `node` at `epoch`, as the leader's controller would.
pub fn place(host: &FakeHost, node: u64, epoch: u64) {
    host.admin(Command::AssignTask {
        workspace: WS.clone(),
        task: TASK,
        node: NodeId(node),
        epoch,
    });
}
