//! Tests of the policy engine: a decision matrix over a realistic policy, and focused
//! tests of paths, conditions, validation and the stored encoding.

mod conditions;
mod encoding;
mod matrix;
mod paths;
mod validation;

use serde_json::{Value, json};

use super::*;
use crate::ids::Principal;
use crate::names::{AgentName, ServerName, ToolName};
use crate::role::Role;

pub fn principal(text: &str) -> Principal {
    serde_json::from_value(json!(text)).expect("principal from a string")
}

pub fn rule_id(text: &str) -> RuleId {
    RuleId::parse(text).expect("valid rule id")
}

pub fn server(name: &str) -> ServerName {
    ServerName::parse(name).expect("valid server")
}

pub fn tool(server_name: &str, tool_name: &str) -> Target {
    Target::Tool {
        server: server(server_name),
        tool: ToolName::parse(tool_name).expect("valid tool"),
    }
}

pub fn number(value: Value) -> serde_json::Number {
    match value {
        Value::Number(number) => number,
        other => panic!("{other} is not a number"),
    }
}

pub fn when(path: &str, test: Test) -> Condition {
    Condition {
        path: path.to_owned(),
        test,
    }
}

pub fn equals(value: Value) -> Test {
    Test::Equals {
        value_json: value.to_string(),
    }
}

pub fn one_of(values: &[Value]) -> Test {
    Test::OneOf {
        values_json: values.iter().map(Value::to_string).collect(),
    }
}

pub fn range(min: Option<Value>, max: Option<Value>) -> Test {
    Test::Range {
        min: min.map(number),
        max: max.map(number),
    }
}

pub fn rule(
    id: &str,
    priority: i32,
    subject: Subject,
    target: Target,
    conditions: Vec<Condition>,
    effect: Effect,
) -> PolicyRule {
    PolicyRule {
        id: rule_id(id),
        priority,
        subject,
        target,
        conditions,
        effect,
        description: String::new(),
    }
}

pub fn approval(approvers: Vec<Approver>, quorum: u32, expiry_ms: u64) -> Effect {
    Effect::RequireApproval(ApprovalRequirement {
        approvers,
        quorum,
        expiry_ms,
        on_expiry: OnExpiry::Deny,
    })
}

/// Who is behind a call: the agent and the submitter of its task.
pub struct Caller {
    pub agent: AgentName,
    pub agent_principal: Principal,
    pub submitter: Principal,
    pub roles: Vec<Role>,
}

impl Caller {
    pub fn new(agent: &str, submitter: &str, roles: &[Role]) -> Caller {
        Caller {
            agent: AgentName::parse(agent).expect("valid agent"),
            agent_principal: principal(&format!("agent/acme/{agent}")),
            submitter: principal(submitter),
            roles: roles.to_vec(),
        }
    }

    /// Evaluates a call to `server/tool` with `arguments` against `policy`.
    pub fn call(&self, policy: &PolicySet, target: &str, arguments: &Value) -> PolicyDecision {
        let (server_name, tool_name) = target.split_once('/').expect("server/tool");
        let server = server(server_name);
        let tool = ToolName::parse(tool_name).expect("valid tool");
        policy.evaluate(&CallContext {
            agent: &self.agent,
            agent_principal: &self.agent_principal,
            submitter: &self.submitter,
            submitter_roles: &self.roles,
            server: &server,
            tool: &tool,
            arguments,
        })
    }
}

/// A one-rule policy, for tests of a single rule's behaviour.
pub fn only(rule: PolicyRule) -> PolicySet {
    PolicySet { rules: vec![rule] }
}

pub fn effect_kind(effect: &Effect) -> &'static str {
    match effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
        Effect::RequireApproval(_) => "approval",
    }
}

/// The example in docs/policy.md, parsed.
fn documented_example() -> PolicySet {
    let doc = include_str!("../../../../docs/policy.md");
    let start = doc.find("```json").expect("an example") + "```json".len();
    let end = start + doc[start..].find("```").expect("the example ends");
    serde_json::from_str(&doc[start..end]).expect("parses")
}

/// The example in docs/policy.md parses and validates, so the documentation stays true.
#[test]
fn the_documented_example_is_a_valid_policy() {
    let policy = documented_example();
    policy.validate().expect("validates");
    assert_eq!(policy.rules.len(), 4);
}

/// The example's rule for file paths keeps writes inside `tmp/`, however the path is
/// spelled: `tmp/../etc/passwd` is not under `tmp/`.
#[test]
fn the_documented_path_rule_keeps_writes_inside_its_directory() {
    let policy = documented_example();
    let caller = Caller::new("bot", "user/alice", &[]);
    let decide = |path: &str| {
        let decision = caller.call(&policy, "files/write", &serde_json::json!({"path": path}));
        effect_kind(&decision.effect)
    };
    for inside in ["tmp/a", "./tmp//b", "tmp/x/../y", "tmp"] {
        assert_eq!(decide(inside), "allow", "{inside}");
    }
    for outside in [
        "tmp/../etc/passwd",
        "tmp/../../etc/passwd",
        "tmpfile",
        "/tmp/a",
        "etc/tmp/a",
    ] {
        assert_eq!(decide(outside), "deny", "{outside}");
    }
}
