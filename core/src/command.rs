//! The replicated command set: what a Raft log entry asks the state machine to do.

use serde::{Deserialize, Serialize};
use warden_secrets::{SealedSecret, WrappedKey};

use crate::anchor::{AuditKey, Checkpoint};
use crate::catalog::CatalogSpec;
use crate::config::{AgentSpec, McpTransport, ProviderKind, ToolDefinition};
use crate::hash::Hash;
use crate::identity::{Scope, TokenId};
use crate::ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};
use crate::journal::{RequestedCall, Resolution, Usage};
use crate::membership::MembershipChange;
use crate::names::{
    AgentName, CatalogName, NodeId, ProviderName, ScheduleName, ServerName, TriggerName,
    WebhookName,
};
use crate::outcome::Rejection;
use crate::policy::PolicySet;
use crate::role::Role;
use crate::schedule::ScheduleSpec;
use crate::switches::PauseTarget;
use crate::trigger::TriggerSpec;
use crate::webhook::{AttemptResult, DeliveryId, WebhookEvent};

pub use crate::action::Action;

/// One log entry's payload. The proposer stamps the time and the principal, so
/// `apply()` never reads a clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub time_ms: u64,
    pub principal: Principal,
    /// The token a user or service account authenticated with. `apply()` checks it
    /// again at `time_ms`, so a request authenticated just before its token's
    /// revocation committed is refused once it applies after it.
    pub token: Option<TokenId>,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Makes `principal` the first cluster admin, with one token. Accepted once. Also
    /// registers the first node, `node`, with its audit public key (none when it has no
    /// signing key) and fixes the cluster's checkpoint interval.
    Bootstrap {
        principal: Principal,
        token: TokenId,
        secret_hash: Hash,
        node: NodeId,
        audit_key: Option<AuditKey>,
        checkpoint_interval: u64,
    },
    /// A cluster admin's membership change, recorded (and authorized) right before the
    /// Raft membership change itself, which carries no principal.
    AuthorizeMembershipChange {
        change: MembershipChange,
    },
    /// Stores a token for a user or service account; only its secret's hash is here.
    CreateToken {
        token: TokenId,
        secret_hash: Hash,
        principal: Principal,
        description: String,
        expires_at_ms: Option<u64>,
    },
    RevokeToken {
        token: TokenId,
    },
    /// Replaces the roles `principal` holds in `scope`; no roles removes the binding.
    SetRoles {
        scope: Scope,
        principal: Principal,
        roles: Vec<Role>,
    },
    CreateWorkspace {
        workspace: WorkspaceId,
        /// A new key for the workspace, wrapped by the proposer's master key (none when
        /// the proposer has no master key).
        key: Option<WrappedKey>,
    },
    /// Replaces a workspace's policy if it is still at `expected_version` (0: none yet).
    PutPolicy {
        workspace: WorkspaceId,
        policy: PolicySet,
        expected_version: u64,
    },
    /// An approver's decision on a call waiting for approval, naming the call's
    /// arguments hash so it cannot release a call with other arguments.
    DecideApproval {
        workspace: WorkspaceId,
        task: TaskId,
        call_id: String,
        arguments_hash: Hash,
        approve: bool,
        reason: String,
    },
    /// Proposed once the proposer's clock is past an approval request's expiry.
    ExpireApproval {
        workspace: WorkspaceId,
        task: TaskId,
        call_id: String,
    },
    /// Creates or replaces a model provider. The whole record is replaced: without
    /// `api_key` the provider has no stored key any more.
    PutProvider {
        workspace: WorkspaceId,
        name: ProviderName,
        kind: ProviderKind,
        base_url: String,
        model: String,
        api_key_env: Option<String>,
        /// Sealed by the proposer with the workspace's key.
        api_key: Option<SealedSecret>,
        request_timeout_ms: u64,
        max_retries: u32,
        max_output_tokens: u32,
        /// The key `api_key` was sealed with, wrapped, when the proposer found the
        /// workspace without one. The first key a workspace stores is kept; a command
        /// whose secrets were sealed with another one is refused.
        workspace_key: Option<WrappedKey>,
    },
    /// Registers (or re-registers) an MCP server, unpinned: nothing has been started
    /// for it yet. A stdio server names a catalog entry, which must exist and allow the
    /// extra arguments and environment variables.
    RegisterMcpServer {
        workspace: WorkspaceId,
        name: ServerName,
        transport: McpTransport,
        /// As for `PutProvider`: the key the transport's secrets were sealed with, when
        /// the workspace had none.
        workspace_key: Option<WrappedKey>,
    },
    /// Pins the tool definitions the proposer listed from a registered server, if the
    /// server is still at `expected_version` (the registration the listing was made for).
    PinMcpTools {
        workspace: WorkspaceId,
        name: ServerName,
        expected_version: u64,
        tools: Vec<ToolDefinition>,
        /// Whether the tools' annotations may make an interrupted call retry-safe: the
        /// proposing node's `mcp.trust_tool_annotations`, stored with the pin.
        trust_annotations: bool,
    },
    /// Creates or replaces a cluster catalog entry (cluster admins only).
    PutCatalogEntry {
        spec: CatalogSpec,
    },
    /// Removes a cluster catalog entry (cluster admins only). Servers registered with it
    /// stay registered; starting them fails, naming the entry, until it exists again.
    DeleteCatalogEntry {
        name: CatalogName,
    },
    CreateAgent {
        workspace: WorkspaceId,
        spec: AgentSpec,
    },
    /// Replaces an agent's spec if it is still at `expected_version`.
    UpdateAgent {
        workspace: WorkspaceId,
        spec: AgentSpec,
        expected_version: u64,
    },
    SubmitTask {
        workspace: WorkspaceId,
        /// Chosen by the proposer; ignored when the idempotency key finds an earlier task.
        task_id: TaskId,
        idempotency_key: IdempotencyKey,
        agent: AgentName,
        input: String,
    },
    /// Gives a runnable task to `node` under a new fencing epoch, which must be the
    /// task's current epoch plus one (so a placement decided on stale state is refused).
    AssignTask {
        workspace: WorkspaceId,
        task: TaskId,
        node: NodeId,
        epoch: u64,
    },
    /// A step of the agent loop, from the task's owner at its epoch.
    AppendJournal {
        workspace: WorkspaceId,
        task: TaskId,
        node: NodeId,
        epoch: u64,
        step: Step,
    },
    CancelTask {
        workspace: WorkspaceId,
        task: TaskId,
        reason: String,
    },
    /// A human's decision for a task that needs attention.
    ResolveTask {
        workspace: WorkspaceId,
        task: TaskId,
        resolution: Resolution,
    },
    /// Proposed once the proposer's clock is past the task's deadline.
    TimeOutTask {
        workspace: WorkspaceId,
        task: TaskId,
    },
    /// Proposed when a running task made no journal progress for its stall timeout;
    /// `progress_ms` is the progress time the proposer saw, so later progress wins.
    MarkStalled {
        workspace: WorkspaceId,
        task: TaskId,
        progress_ms: u64,
    },
    /// A request the proposer refused before it could become a command (malformed ids,
    /// oversized input). Carries only the hash of what was sent, so the audit chain shows
    /// the attempt without storing its payload.
    RecordRejection {
        action: Action,
        resource: String,
        payload_hash: Hash,
        rejection: Rejection,
    },
    /// A node's signed checkpoint of the audit chain, proposed as the node itself.
    AuditCheckpoint {
        checkpoint: Checkpoint,
    },
    /// Sets the token and tool-call limits of a workspace's budget, or of one agent's
    /// (`agent`). A limit of `None` is unlimited; with both `None` the budget is removed.
    /// Usage counts from when the budget is first set; `reset` zeroes it.
    SetBudget {
        workspace: WorkspaceId,
        agent: Option<AgentName>,
        tokens: Option<u64>,
        tool_calls: Option<u64>,
        reset: bool,
    },
    /// The kill switch: pauses (or resumes) a workspace, an agent or a tool.
    SetPause {
        workspace: WorkspaceId,
        target: PauseTarget,
        paused: bool,
        reason: String,
    },
    /// Removes a provider that no agent uses.
    DeleteProvider {
        workspace: WorkspaceId,
        name: ProviderName,
    },
    /// Removes an MCP server that no agent's grants name. Pauses of its tools stay (a
    /// server registered again under the name finds them).
    DeleteMcpServer {
        workspace: WorkspaceId,
        name: ServerName,
    },
    /// Removes an agent with no unfinished task. Its finished tasks and their journals
    /// stay; so do its budget and its pause, controls only an administrator lifts.
    DeleteAgent {
        workspace: WorkspaceId,
        name: AgentName,
    },
    /// Removes a workspace with no unfinished task and everything stored under it:
    /// configuration, policy, budgets, pauses, role bindings, tasks and journals (cluster
    /// admins only). The audit chain keeps every record about it.
    DeleteWorkspace {
        workspace: WorkspaceId,
    },
    /// Replaces a workspace's settings (its administrators only).
    SetWorkspaceSettings {
        workspace: WorkspaceId,
        trace_content: bool,
    },
    /// Records that a cluster admin takes a backup from `node`: committed before the
    /// backup is read, so the backup holds its own record.
    CreateBackup {
        node: NodeId,
    },
    /// Raises the protocol the cluster runs to `protocol` (see `version.rs`), proposed by
    /// the leader once every member reported a build that speaks it. Never lowered.
    SetClusterProtocol {
        protocol: u32,
    },
    /// Creates or replaces a webhook: where the workspace's `events` are sent, signed
    /// with `secret`. Events already recorded keep their deliveries.
    PutWebhook {
        workspace: WorkspaceId,
        name: WebhookName,
        url: String,
        events: Vec<WebhookEvent>,
        /// Sealed by the proposer with the workspace's key.
        secret: SealedSecret,
        /// As for `PutProvider`: the key `secret` was sealed with, when the workspace had
        /// none.
        workspace_key: Option<WrappedKey>,
    },
    /// Removes a webhook; its pending deliveries fail when next due.
    DeleteWebhook {
        workspace: WorkspaceId,
        name: WebhookName,
    },
    /// The leader's report of one attempt to send a delivery: `attempt` must be the
    /// delivery's recorded attempts plus one, so a report is applied once.
    RecordDeliveryAttempt {
        workspace: WorkspaceId,
        delivery: DeliveryId,
        attempt: u32,
        result: AttemptResult,
    },
    /// A person's answer to the question task `task` waits on: the one its call
    /// `call_id` asked at journal entry `question_seq`.
    AnswerQuestion {
        workspace: WorkspaceId,
        task: TaskId,
        call_id: String,
        question_seq: u64,
        answer: String,
    },
    /// Proposed once the proposer's clock is past a question's expiry.
    ExpireQuestion {
        workspace: WorkspaceId,
        task: TaskId,
        call_id: String,
    },
    /// Creates or replaces a schedule if it is still at `expected_version` (0: new).
    PutSchedule {
        workspace: WorkspaceId,
        spec: ScheduleSpec,
        expected_version: u64,
    },
    DeleteSchedule {
        workspace: WorkspaceId,
        name: ScheduleName,
    },
    /// The leader's firing of a schedule for its due time `due_ms`, computed for the
    /// schedule at `version`: accepted once per due time, in order. With `run` it submits
    /// the schedule's task as `task_id` (chosen by the proposer); `missed` counts the due
    /// times before it that are recorded as skipped with it.
    FireSchedule {
        workspace: WorkspaceId,
        name: ScheduleName,
        version: u64,
        due_ms: u64,
        run: bool,
        missed: u64,
        task_id: TaskId,
    },
    /// Creates or replaces a webhook trigger if it is still at `expected_version` (0:
    /// new). A replaced trigger keeps its secret unless the command brings one; a new
    /// one needs one.
    PutTrigger {
        workspace: WorkspaceId,
        spec: TriggerSpec,
        /// Sealed by the proposer with the workspace's key.
        secret: Option<SealedSecret>,
        expected_version: u64,
        /// As for `PutProvider`: the key `secret` was sealed with, when the workspace had
        /// none.
        workspace_key: Option<WrappedKey>,
    },
    DeleteTrigger {
        workspace: WorkspaceId,
        name: TriggerName,
    },
    /// A node's report of a request to a trigger whose signature it verified with the
    /// trigger's sealed secret whose hash is `secret`. Accepted once per `signature` and
    /// once per `key` (the request's `Idempotency-Key`, when it has one). Submits the
    /// trigger's task as `task_id` (chosen by the proposer), with the request's `body`.
    FireTrigger {
        workspace: WorkspaceId,
        name: TriggerName,
        /// The hash of the sealed secret the request verified with ([`Trigger::secret_hash`]).
        secret: Hash,
        /// The request's MAC, in hex.
        signature: String,
        key: Option<String>,
        /// The time the request's signature names.
        signed_ms: u64,
        body: String,
        task_id: TaskId,
    },
    /// A workspace's configuration file applied: `changes` (configuration commands of
    /// this workspace only) decided in order, each on the state the ones before leave and
    /// authorized as if sent alone; all or none, and only if the workspace's configuration
    /// records are still `expected`.
    ApplyWorkspace {
        workspace: WorkspaceId,
        expected: Vec<crate::workspace_config::Observed>,
        changes: Vec<Command>,
    },
    /// Many requests in one log entry, which the leader groups so that one append, one
    /// replication round and one fsync per member carry them all (`crate::group`). The
    /// state machine applies them one by one, each as if it had its own entry.
    Group {
        requests: Vec<Request>,
    },
}

/// Whether `change` may be one of a configuration file's changes to `workspace`: a
/// configuration command of that workspace.
pub fn config_change_allowed(change: &Command, workspace: &WorkspaceId) -> bool {
    match change {
        Command::PutProvider { workspace: of, .. }
        | Command::DeleteProvider { workspace: of, .. }
        | Command::RegisterMcpServer { workspace: of, .. }
        | Command::PinMcpTools { workspace: of, .. }
        | Command::DeleteMcpServer { workspace: of, .. }
        | Command::CreateAgent { workspace: of, .. }
        | Command::UpdateAgent { workspace: of, .. }
        | Command::DeleteAgent { workspace: of, .. }
        | Command::PutPolicy { workspace: of, .. }
        | Command::SetBudget {
            workspace: of,
            reset: false,
            ..
        }
        | Command::PutSchedule { workspace: of, .. }
        | Command::DeleteSchedule { workspace: of, .. }
        | Command::PutTrigger { workspace: of, .. }
        | Command::DeleteTrigger { workspace: of, .. } => of == workspace,
        _ => false,
    }
}

/// A journaled step of the agent loop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// The model's answer for turn `turn`: tool calls to make, or (with none) the final
    /// answer, which completes the task.
    ModelResponded {
        turn: u32,
        content: String,
        tool_calls: Vec<RequestedCall>,
        usage: Usage,
        /// Journal the first allowed call as started (attempt 1) in the same commit, so
        /// the owner can run it without a commit of its own.
        start_first: bool,
    },
    /// Committed before the call's side effect.
    ToolCallStarted {
        call_id: String,
        attempt: u32,
    },
    ToolCallFinished {
        call_id: String,
        output: String,
        is_error: bool,
        /// Journal the next open call of the turn as started in the same commit.
        start_next: bool,
    },
    /// The server offered the started call's tool with a definition other than the
    /// pinned one, so the call was not made: it ends blocked and the tool stays blocked
    /// until an admin re-pins it.
    ToolDefinitionChanged {
        call_id: String,
        offered_hash: Hash,
        start_next: bool,
    },
    /// The owner found a started call that never finished and may not be retried.
    NeedsAttention {
        call_id: String,
        reason: String,
    },
    Fail {
        reason: String,
    },
}

impl Command {
    /// SHA-256 of the command's JSON encoding (struct fields in declaration order), the
    /// `payload_hash` of its audit record. A recorded rejection carries the hash of the
    /// refused request instead.
    pub fn payload_hash(&self) -> Hash {
        match self {
            Command::RecordRejection { payload_hash, .. } => *payload_hash,
            other => match serde_json::to_vec(other) {
                Ok(bytes) => Hash::of(&bytes),
                // Serializing plain structs of strings and integers cannot fail.
                Err(_) => Hash::ZERO,
            },
        }
    }
}
