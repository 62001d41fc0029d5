//! Builders shared by the `apply()` tests: a workspace with a provider, a tool server
//! and an agent, and a harness that applies commands in log order.

use crate::memory::MemoryState;
use crate::*;

pub use crate::fixtures::ws;

pub fn key(text: &str) -> IdempotencyKey {
    IdempotencyKey::parse(text).expect("valid key")
}

pub fn request(time_ms: u64, command: Command) -> Request {
    Request {
        time_ms,
        principal: Principal::system(),
        token: None,
        command,
    }
}

pub fn create(name: &str) -> Command {
    Command::CreateWorkspace {
        workspace: ws(name),
        key: None,
    }
}

pub fn submit(workspace: &str, id: u128, key_text: &str, input: &str) -> Command {
    Command::SubmitTask {
        workspace: ws(workspace),
        task_id: TaskId::from_u128(id),
        idempotency_key: key(key_text),
        agent: AgentName::parse("bot").expect("valid agent"),
        input: input.to_owned(),
    }
}

fn tool(name: &str, read_only: bool, idempotent: bool) -> ToolDefinition {
    ToolDefinition {
        name: ToolName::parse(name).expect("valid tool"),
        description: format!("the {name} tool"),
        input_schema: r#"{"type":"object"}"#.to_owned(),
        read_only,
        idempotent,
        destructive: !read_only && !idempotent,
        listed: format!(r#"{{"name":"{name}"}}"#),
    }
}

pub fn grant(server: &str, tool: &str) -> ToolGrant {
    ToolGrant {
        server: ServerName::parse(server).expect("valid server"),
        tool: ToolName::parse(tool).expect("valid tool"),
        retry_safe: None,
    }
}

pub fn agent_spec(limits: Limits) -> AgentSpec {
    AgentSpec {
        name: AgentName::parse("bot").expect("valid agent"),
        instructions: "be useful".to_owned(),
        provider: ProviderName::parse("model").expect("valid provider"),
        // `delete` is registered but not granted.
        tools: vec![grant("tools", "append"), grant("tools", "get")],
        limits,
        paused: false,
    }
}

/// A workspace with provider `model`, server `tools` (append: not idempotent; get:
/// read-only; delete: not granted) and agent `bot`.
pub fn setup(workspace: &str) -> Vec<Command> {
    setup_with(workspace, Limits::default())
}

pub fn setup_with(workspace: &str, limits: Limits) -> Vec<Command> {
    vec![
        create(workspace),
        crate::fixtures::put_provider(&ws(workspace), "model"),
        Command::PutCatalogEntry {
            spec: catalog_spec("tools"),
        },
        crate::fixtures::register_stdio(&ws(workspace), "tools", "tools"),
        pin_tools(workspace, 1),
        Command::CreateAgent {
            workspace: ws(workspace),
            spec: agent_spec(limits),
        },
        Command::PutPolicy {
            workspace: ws(workspace),
            policy: allow_all("tools"),
            expected_version: 0,
        },
    ]
}

/// A catalog entry `name` for `/usr/bin/<name>` that allows `--verbose`, `--level=<digits>`
/// and the variable `TOKEN`.
pub fn catalog_spec(name: &str) -> CatalogSpec {
    CatalogSpec {
        name: CatalogName::parse(name).expect("valid entry"),
        description: String::new(),
        executable: format!("/usr/bin/{name}"),
        args: vec!["--stdio".to_owned()],
        allowed_args: vec!["--verbose".to_owned(), "--level=[0-9]+".to_owned()],
        allowed_env: vec!["TOKEN".to_owned()],
        read_paths: vec![],
        write_paths: vec![],
    }
}

/// Pins the fixture's tools of server `tools` (append: not idempotent; get: read-only;
/// delete) on the registration at `version`, not trusting their annotations.
pub fn pin_tools(workspace: &str, version: u64) -> Command {
    pin_tools_trusting(workspace, version, false)
}

/// As `pin_tools`, with `trust_annotations` as given.
pub fn pin_tools_trusting(workspace: &str, version: u64, trust_annotations: bool) -> Command {
    Command::PinMcpTools {
        workspace: ws(workspace),
        name: ServerName::parse("tools").expect("valid server"),
        expected_version: version,
        tools: vec![
            tool("append", false, false),
            tool("get", true, true),
            tool("delete", false, false),
        ],
        trust_annotations,
    }
}

/// A policy allowing every tool of `server`.
pub fn allow_all(server: &str) -> crate::policy::PolicySet {
    use crate::policy::{Effect, PolicyRule, PolicySet, RuleId, Subject, Target};
    PolicySet {
        rules: vec![PolicyRule {
            id: RuleId::parse("allow-tools").expect("valid rule id"),
            priority: 0,
            subject: Subject::Any,
            target: Target::Server(ServerName::parse(server).expect("valid server")),
            conditions: vec![],
            effect: Effect::Allow,
            description: String::new(),
        }],
    }
}

/// Applies commands at consecutive log indexes and times.
#[derive(Clone)]
pub struct Harness {
    pub state: MemoryState,
    pub time_ms: u64,
}

impl Harness {
    pub fn new(limits: Limits) -> Harness {
        let mut harness = Harness {
            state: MemoryState::default(),
            time_ms: 1_000,
        };
        // The cluster a node of this build initializes runs this build's protocol.
        harness.ok(Command::SetClusterProtocol { protocol: PROTOCOL });
        for command in setup_with("acme", limits) {
            harness.ok(command);
        }
        harness.ok(submit("acme", 7, "k", "do the thing"));
        harness
    }

    /// Registers server `tools` of workspace acme again and pins it, trusting its tools'
    /// annotations or not.
    pub fn repin(&mut self, trust_annotations: bool) {
        let register = setup("acme")
            .into_iter()
            .find(|command| matches!(command, Command::RegisterMcpServer { .. }))
            .expect("the fixture registers a server");
        let Outcome::McpServerRegistered(server) = self.run(register) else {
            panic!("registering the server again")
        };
        self.ok(pin_tools_trusting(
            "acme",
            server.version,
            trust_annotations,
        ));
    }

    pub fn run(&mut self, command: Command) -> Outcome {
        self.time_ms += 10;
        let index = self.state.applied_index + 1;
        self.state.apply(index, &request(self.time_ms, command))
    }

    /// Applies `command` as a user or service account presenting `token`.
    pub fn run_as(&mut self, who: &(Principal, TokenId), command: Command) -> Outcome {
        self.time_ms += 10;
        let index = self.state.applied_index + 1;
        let request = Request {
            time_ms: self.time_ms,
            principal: who.0.clone(),
            token: Some(who.1),
            command,
        };
        self.state.apply(index, &request)
    }

    /// Creates `principal` with a token and `roles` in workspace acme.
    pub fn user(&mut self, principal: &str, roles: &[Role]) -> (Principal, TokenId) {
        let principal = Principal::parse(principal).expect("valid principal");
        let next = u64::try_from(self.state.tokens.len()).expect("few tokens") + 1;
        let token = TokenId(next.to_be_bytes());
        self.ok(Command::CreateToken {
            token,
            secret_hash: Hash::of(&next.to_be_bytes()),
            principal: principal.clone(),
            description: String::new(),
            expires_at_ms: None,
        });
        self.ok(Command::SetRoles {
            scope: Scope::Workspace(ws("acme")),
            principal: principal.clone(),
            roles: roles.to_vec(),
        });
        (principal, token)
    }

    pub fn ok(&mut self, command: Command) -> Outcome {
        let outcome = self.run(command.clone());
        assert!(
            !matches!(outcome, Outcome::Rejected(_)),
            "{command:?} was rejected: {outcome:?}"
        );
        outcome
    }

    /// Applies a command that must be refused with `code`, and checks it changed
    /// nothing but the audit chain.
    pub fn refused(&mut self, command: Command, code: Code) -> String {
        let before = self.state.clone();
        match self.run(command.clone()) {
            Outcome::Rejected(rejection) => {
                assert_eq!(rejection.code, code, "{command:?}: {rejection}");
                assert_eq!(
                    self.state.tasks, before.tasks,
                    "a rejection changes no task"
                );
                assert_eq!(
                    self.state.journal, before.journal,
                    "a rejection writes no journal"
                );
                assert_eq!(self.state.audit.len(), before.audit.len() + 1);
                rejection.message
            }
            other => panic!("{command:?} was accepted: {other:?}"),
        }
    }

    pub fn task(&self) -> Task {
        self.state
            .tasks
            .get(&(ws("acme"), TaskId::from_u128(7)))
            .cloned()
            .expect("task 7")
    }

    pub fn events(&self) -> Vec<&'static str> {
        self.state
            .journal_of(&ws("acme"), &TaskId::from_u128(7))
            .iter()
            .map(|entry| entry.event.kind())
            .collect()
    }

    pub fn assign(&mut self, node: u64, epoch: u64) -> Outcome {
        self.run(Command::AssignTask {
            workspace: ws("acme"),
            task: TaskId::from_u128(7),
            node: NodeId(node),
            epoch,
        })
    }

    pub fn step(node: u64, epoch: u64, step: Step) -> Command {
        Command::AppendJournal {
            workspace: ws("acme"),
            task: TaskId::from_u128(7),
            node: NodeId(node),
            epoch,
            step,
        }
    }

    /// Sets the fixture agent's grant of `get` to `retry_safe`, over agent version
    /// `expected_version`.
    pub fn grant_get_retry_safe(&mut self, retry_safe: Option<bool>, expected_version: u64) {
        let mut spec = agent_spec(Limits::default());
        spec.tools[1].retry_safe = retry_safe;
        self.ok(Command::UpdateAgent {
            workspace: ws("acme"),
            spec,
            expected_version,
        });
    }

    /// Places the task on node 1 at epoch 1, where the model asks for one `get` (call c1)
    /// and the owner starts it.
    pub fn get_running_on_node_1(&mut self) {
        self.ok_assign(1, 1);
        self.ok(Harness::step(
            1,
            1,
            responded(0, vec![call("c1", "get", "{}")], 5),
        ));
        self.ok(Harness::step(1, 1, started("c1", 1)));
    }

    pub fn lifecycle(&self, which: &str) -> Command {
        let (workspace, task) = (ws("acme"), TaskId::from_u128(7));
        match which {
            "cancel" => Command::CancelTask {
                workspace,
                task,
                reason: "no longer needed".to_owned(),
            },
            "timeout" => Command::TimeOutTask { workspace, task },
            other => panic!("unknown lifecycle command {other}"),
        }
    }
}

pub fn call(id: &str, tool: &str, arguments: &str) -> RequestedCall {
    RequestedCall {
        call_id: id.to_owned(),
        function: format!("tools__{tool}"),
        server: Some(ServerName::parse("tools").expect("valid server")),
        tool: Some(ToolName::parse(tool).expect("valid tool")),
        arguments: arguments.to_owned(),
    }
}

pub fn responded(turn: u32, calls: Vec<RequestedCall>, tokens: u64) -> Step {
    Step::ModelResponded {
        turn,
        content: if calls.is_empty() {
            "final answer".to_owned()
        } else {
            String::new()
        },
        tool_calls: calls,
        usage: Usage {
            input_tokens: tokens,
            output_tokens: 0,
        },
        start_first: false,
    }
}

pub fn started(id: &str, attempt: u32) -> Step {
    Step::ToolCallStarted {
        call_id: id.to_owned(),
        attempt,
    }
}

pub fn finished(id: &str, output: &str) -> Step {
    Step::ToolCallFinished {
        call_id: id.to_owned(),
        output: output.to_owned(),
        is_error: false,
        start_next: false,
    }
}
