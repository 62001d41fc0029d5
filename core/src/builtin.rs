//! Warden's built-in tools, which no MCP server serves: `warden/ask_human` (a question to
//! a person, answered through the API) and `agent/<name>` (a task handed to another
//! agent of the workspace). An agent sees one only if its grants name it, and a call to
//! one is decided like any other call: grant, pause, arguments, then the policy, whose
//! subject is the calling agent and whose target is `warden/ask_human` or
//! `agent/<callee>`. From cluster protocol 4 on the two server names are reserved.

use serde::{Deserialize, Serialize};

use crate::journal::tool_arguments;
use crate::names::{AgentName, ServerName, ToolName};
use crate::policy::OnExpiry;

/// The cluster protocol from which the built-in tools exist. Before it, `warden` and
/// `agent` are server names like any other, as older builds decide them.
pub const BUILTIN_PROTOCOL: u32 = 4;

/// The server name of Warden's own tools.
pub const WARDEN_SERVER: &str = "warden";
/// The server name under which agents are offered to other agents as tools.
pub const AGENT_SERVER: &str = "agent";
/// The one tool of the `warden` server.
pub const ASK_HUMAN: &str = "ask_human";

/// Longest question an agent may ask, in bytes.
pub const MAX_QUESTION_BYTES: usize = 4096;
/// Longest answer a person may give, in bytes.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How long a question waits for an answer unless the call says otherwise.
pub const DEFAULT_QUESTION_EXPIRY_MS: u64 = 24 * 60 * 60 * 1000;
/// The longest a question may wait.
pub const MAX_QUESTION_EXPIRY_MS: u64 = 7 * 24 * 60 * 60 * 1000;
/// Most tasks in one chain of delegation, the first one included: a task at this depth
/// may not delegate further.
pub const MAX_DELEGATION_DEPTH: usize = 4;
/// Longest input a delegated task may be given, in bytes (as for a submitted task).
pub const MAX_DELEGATED_INPUT_BYTES: usize = 64 * 1024;

/// A built-in tool a call names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Builtin {
    AskHuman,
    Agent(AgentName),
}

impl Builtin {
    /// The built-in `server/tool` names, if it names one. `Err` is why a name on a
    /// reserved server is no built-in tool.
    pub fn of(server: &ServerName, tool: &ToolName) -> Option<Result<Builtin, String>> {
        match server.as_str() {
            WARDEN_SERVER if tool.as_str() == ASK_HUMAN => Some(Ok(Builtin::AskHuman)),
            WARDEN_SERVER => Some(Err(format!(
                "warden/{tool} is not a built-in tool (the warden server has only {ASK_HUMAN})"
            ))),
            AGENT_SERVER => Some(
                AgentName::parse(tool.as_str())
                    .map(Builtin::Agent)
                    .map_err(|error| format!("agent/{tool} names no agent: {error}")),
            ),
            _ => None,
        }
    }

    /// The built-in `server/tool` names in a workspace of a cluster at `protocol`, where
    /// `registered` says whether the workspace has an MCP server of that name: one
    /// registered before protocol 4 reserved the names keeps serving its tools, so what
    /// its grants and policy rules meant does not change under them.
    pub fn in_workspace(
        protocol: u32,
        registered: bool,
        server: &ServerName,
        tool: &ToolName,
    ) -> Option<Result<Builtin, String>> {
        if protocol < BUILTIN_PROTOCOL || registered {
            return None;
        }
        Builtin::of(server, tool)
    }

    /// Whether `server` is one of the reserved server names.
    pub fn is_reserved(server: &ServerName) -> bool {
        matches!(server.as_str(), WARDEN_SERVER | AGENT_SERVER)
    }

    /// What the model is told about the tool: its description and JSON Schema.
    pub fn definition(&self) -> (String, serde_json::Value) {
        match self {
            Builtin::AskHuman => (
                "Ask a person a question and wait for the answer, which is this tool's result. \
                 Use it when you need a decision, a fact or a confirmation only a person can give. \
                 The task waits (possibly for hours) until someone answers or the question expires."
                    .to_owned(),
                serde_json::json!({
                    "type": "object",
                    "properties": {
                        "question": {"type": "string", "description": "The question, complete enough to answer without other context."},
                        "expires_in_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_QUESTION_EXPIRY_MS / 1000, "description": "How long to wait for an answer (default one day)."},
                        "on_expiry": {"type": "string", "enum": ["deny", "fail"], "description": "deny: the call returns an error and the task goes on; fail: the task fails."}
                    },
                    "required": ["question"],
                    "additionalProperties": false
                }),
            ),
            Builtin::Agent(agent) => (
                format!(
                    "Hand a task to agent {agent} of this workspace and wait for it to finish. \
                     Its final answer is this tool's result; if it fails, the result is an error \
                     naming why."
                ),
                serde_json::json!({
                    "type": "object",
                    "properties": {
                        "input": {"type": "string", "description": format!("The task for agent {agent}, complete enough to do without other context.")}
                    },
                    "required": ["input"],
                    "additionalProperties": false
                }),
            ),
        }
    }
}

/// An `ask_human` call's arguments, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskHuman {
    pub question: String,
    pub expiry_ms: u64,
    pub on_expiry: OnExpiry,
}

impl AskHuman {
    /// Parses canonical JSON arguments. `Err` says what is wrong, for the call's denial.
    pub fn parse(arguments: &str) -> Result<AskHuman, String> {
        let map = tool_arguments(arguments).map_err(str::to_owned)?;
        if let Some(unknown) = map.keys().find(|key| {
            !matches!(
                key.as_str(),
                "question" | "expires_in_seconds" | "on_expiry"
            )
        }) {
            return Err(format!("ask_human takes no argument {unknown:?}"));
        }
        let question = match map.get("question") {
            Some(serde_json::Value::String(text)) if !text.trim().is_empty() => text.clone(),
            Some(serde_json::Value::String(_)) => return Err("question must not be empty".into()),
            Some(_) => return Err("question must be a string".into()),
            None => return Err("ask_human needs a question".into()),
        };
        if question.len() > MAX_QUESTION_BYTES {
            return Err(format!(
                "question must be at most {MAX_QUESTION_BYTES} bytes"
            ));
        }
        let expiry_ms = match map.get("expires_in_seconds") {
            None => DEFAULT_QUESTION_EXPIRY_MS,
            Some(value) => match value.as_u64() {
                Some(seconds @ 1..) if seconds <= MAX_QUESTION_EXPIRY_MS / 1000 => seconds * 1000,
                _ => {
                    return Err(format!(
                        "expires_in_seconds must be an integer from 1 to {}",
                        MAX_QUESTION_EXPIRY_MS / 1000
                    ));
                }
            },
        };
        let on_expiry = match map.get("on_expiry").map(|value| value.as_str()) {
            None | Some(Some("deny")) => OnExpiry::Deny,
            Some(Some("fail")) => OnExpiry::Fail,
            Some(_) => return Err("on_expiry must be \"deny\" or \"fail\"".into()),
        };
        Ok(AskHuman {
            question,
            expiry_ms,
            on_expiry,
        })
    }
}

/// A delegation call's input, checked.
pub fn delegated_input(arguments: &str) -> Result<String, String> {
    let map = tool_arguments(arguments).map_err(str::to_owned)?;
    if let Some(unknown) = map.keys().find(|key| key.as_str() != "input") {
        return Err(format!("a delegation takes no argument {unknown:?}"));
    }
    match map.get("input") {
        Some(serde_json::Value::String(text)) if text.trim().is_empty() => {
            Err("input must not be empty".into())
        }
        Some(serde_json::Value::String(text)) if text.len() > MAX_DELEGATED_INPUT_BYTES => Err(
            format!("input must be at most {MAX_DELEGATED_INPUT_BYTES} bytes"),
        ),
        Some(serde_json::Value::String(text)) => Ok(text.clone()),
        Some(_) => Err("input must be a string".into()),
        None => Err("a delegation needs an input".into()),
    }
}

/// Where a delegated task sits in its chain: the task and call that created it, and the
/// agents of every task above it, the first one's first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    pub task: crate::ids::TaskId,
    pub call_id: String,
    pub lineage: Vec<AgentName>,
}

/// What a parked task waits for besides an approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Waiting {
    /// An answer to a question its `ask_human` call asked.
    Question(Question),
    /// The end of the task its delegation call created.
    Child {
        call_id: String,
        task: crate::ids::TaskId,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    pub call_id: String,
    /// The journal sequence number of its `question_asked` entry: what an answer names,
    /// so an answer meant for one question never answers a later one.
    pub seq: u64,
    pub question: String,
    pub asked_ms: u64,
    pub expires_at_ms: u64,
    pub on_expiry: OnExpiry,
}

/// A task's links to other tasks and what it waits for, stored beside the task (a task
/// without one has no parent, no children and waits for nothing of these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskLinks {
    pub workspace: crate::ids::WorkspaceId,
    pub task: crate::ids::TaskId,
    pub parent: Option<ParentLink>,
    /// The tasks its delegation calls created, oldest first.
    pub children: Vec<crate::ids::TaskId>,
    pub waiting: Option<Waiting>,
}

impl TaskLinks {
    pub fn new(workspace: crate::ids::WorkspaceId, task: crate::ids::TaskId) -> TaskLinks {
        TaskLinks {
            workspace,
            task,
            parent: None,
            children: Vec::new(),
            waiting: None,
        }
    }

    /// The agents above this task, the first one's first (empty for a task a person or
    /// a trigger submitted).
    pub fn lineage(&self) -> &[AgentName] {
        self.parent
            .as_ref()
            .map_or(&[], |parent| parent.lineage.as_slice())
    }

    /// The question the task waits on, if it waits on one.
    pub fn question(&self) -> Option<&Question> {
        match &self.waiting {
            Some(Waiting::Question(question)) => Some(question),
            _ => None,
        }
    }

    /// The child task the task waits on, with the call that created it.
    pub fn waiting_child(&self) -> Option<(&str, crate::ids::TaskId)> {
        match &self.waiting {
            Some(Waiting::Child { call_id, task }) => Some((call_id, *task)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(server: &str, tool: &str) -> (ServerName, ToolName) {
        (
            ServerName::parse(server).expect("server"),
            ToolName::parse(tool).expect("tool"),
        )
    }

    #[test]
    fn reserved_servers_name_built_ins_or_say_why_not() {
        let (server, tool) = names("warden", "ask_human");
        assert_eq!(Builtin::of(&server, &tool), Some(Ok(Builtin::AskHuman)));
        let (server, tool) = names("warden", "shell");
        assert!(
            matches!(Builtin::of(&server, &tool), Some(Err(why)) if why.contains("not a built-in"))
        );
        let (server, tool) = names("agent", "reviewer");
        assert_eq!(
            Builtin::of(&server, &tool),
            Some(Ok(Builtin::Agent(
                AgentName::parse("reviewer").expect("agent")
            )))
        );
        let (server, tool) = names("agent", "Reviewer");
        assert!(matches!(Builtin::of(&server, &tool), Some(Err(_))));
        let (server, tool) = names("ledger", "append");
        assert_eq!(Builtin::of(&server, &tool), None);
    }

    #[test]
    fn ask_human_arguments_are_checked() {
        let asked = AskHuman::parse(r#"{"question":"Ship it?"}"#).expect("valid");
        assert_eq!(asked.expiry_ms, DEFAULT_QUESTION_EXPIRY_MS);
        assert_eq!(asked.on_expiry, OnExpiry::Deny);
        let asked =
            AskHuman::parse(r#"{"expires_in_seconds":60,"on_expiry":"fail","question":"Ship?"}"#)
                .expect("valid");
        assert_eq!((asked.expiry_ms, asked.on_expiry), (60_000, OnExpiry::Fail));
        for (arguments, problem) in [
            ("{}", "needs a question"),
            (r#"{"question":" "}"#, "must not be empty"),
            (r#"{"question":3}"#, "must be a string"),
            (
                r#"{"question":"q","expires_in_seconds":0}"#,
                "expires_in_seconds",
            ),
            (
                r#"{"question":"q","expires_in_seconds":1e3}"#,
                "expires_in_seconds",
            ),
            (r#"{"question":"q","on_expiry":"retry"}"#, "on_expiry"),
            (r#"{"question":"q","to":"alice"}"#, "no argument \"to\""),
        ] {
            let error = AskHuman::parse(arguments).expect_err(arguments);
            assert!(error.contains(problem), "{arguments}: {error}");
        }
        let long = format!(r#"{{"question":"{}"}}"#, "x".repeat(MAX_QUESTION_BYTES + 1));
        assert!(AskHuman::parse(&long).is_err());
    }

    #[test]
    fn a_delegation_takes_one_non_empty_input() {
        assert_eq!(
            delegated_input(r#"{"input":"review"}"#),
            Ok("review".to_owned())
        );
        assert!(delegated_input(r#"{"input":""}"#).is_err());
        assert!(delegated_input(r#"{"task":"review"}"#).is_err());
        assert!(delegated_input(r#"{"input":["a"]}"#).is_err());
    }
}
