//! Webhook triggers: a workspace's standing order to submit a task for an agent when a
//! signed HTTP request arrives at `/hooks/<workspace>/<trigger>` on a node's web
//! listener. The node that takes the request checks its signature (HMAC-SHA256 under the
//! trigger's sealed secret) and its age; `apply()` accepts each request once, keyed by
//! its idempotency key, and submits the task as the trigger's own principal.

use serde::{Deserialize, Serialize};
use warden_secrets::SealedSecret;

use crate::ids::{Principal, TaskId, WorkspaceId};
use crate::names::{AgentName, TriggerName};
use crate::resource::config_resource;

/// Most triggers one workspace may hold.
pub const MAX_TRIGGERS_PER_WORKSPACE: usize = 64;
/// How far a request's signed time may be from the clock of the node that takes it (and
/// from the time its firing is applied): older or newer requests are replays or forgeries.
pub const REPLAY_WINDOW_MS: u64 = 5 * 60 * 1000;
/// Longest request body a trigger takes, in bytes.
pub const MAX_TRIGGER_BODY_BYTES: usize = 64 * 1024;
/// Longest instruction a trigger gives its tasks, in bytes.
pub const MAX_TRIGGER_INPUT_BYTES: usize = 16 * 1024;
/// Where a trigger's instruction takes the request's body (at most once).
pub const BODY_PLACEHOLDER: &str = "{{body}}";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerSpec {
    pub name: TriggerName,
    pub agent: AgentName,
    /// The task's input: `{{body}}` in it is replaced by the request's body; without it,
    /// the body follows it after a blank line. Empty: the body alone.
    pub input: String,
    /// A paused trigger refuses every request.
    pub paused: bool,
}

impl TriggerSpec {
    /// The input of the task a request with `body` submits.
    pub fn task_input(&self, body: &str) -> String {
        if self.input.contains(BODY_PLACEHOLDER) {
            self.input.replacen(BODY_PLACEHOLDER, body, 1)
        } else if self.input.is_empty() {
            body.to_owned()
        } else {
            format!("{}\n\n{body}", self.input)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub workspace: WorkspaceId,
    pub spec: TriggerSpec,
    /// The signing secret, sealed with the workspace's key ([`trigger_secret_context`]).
    pub secret: SealedSecret,
    /// Raised by every change; a firing names the version whose secret verified it.
    pub version: u64,
    pub created_ms: u64,
    pub updated_ms: u64,
    pub updated_by: Principal,
    /// Requests that submitted a task.
    pub fired: u64,
    pub last_fired_ms: Option<u64>,
    pub last_task: Option<TaskId>,
}

impl Trigger {
    /// The hash of its sealed secret: a request verified with one secret is not applied
    /// to a trigger holding another (replaced, or deleted and created again).
    pub fn secret_hash(&self) -> crate::hash::Hash {
        let mut bytes = self.secret.nonce.clone();
        bytes.extend_from_slice(&self.secret.ciphertext);
        crate::hash::Hash::of(&bytes)
    }

    /// The principal its tasks are submitted as: `trigger/<workspace>/<trigger>`, so
    /// policy rules and the audit chain name it.
    pub fn principal(&self) -> Principal {
        Principal::trigger(&self.workspace, self.spec.name.as_str())
    }
}

/// The context a trigger's signing secret is sealed with: it binds the ciphertext to
/// the record.
pub fn trigger_secret_context(workspace: &WorkspaceId, name: &TriggerName) -> String {
    config_resource(workspace, "trigger", name.as_str())
}

/// The idempotency key a request to trigger `name` is recorded under, by its `kind` of
/// name (`signature`, or the sender's `key`): `trigger:<name>:` and a hash of the name,
/// which a sender can neither overflow nor shape.
pub fn request_key(name: &TriggerName, kind: &str, value: &str) -> crate::ids::IdempotencyKey {
    let hashed = crate::hash::Hash::of(format!("{kind}:{value}").as_bytes()).to_hex();
    let text = format!("trigger:{name}:{}", &hashed[..32]);
    match crate::ids::IdempotencyKey::parse(&text) {
        Ok(key) => key,
        Err(_) => unreachable!("{text} is a valid key: a name of 64 characters and 32 hex digits"),
    }
}

/// The path a trigger is called on, on every node's web listener.
pub fn trigger_path(workspace: &WorkspaceId, name: &TriggerName) -> String {
    format!("/hooks/{workspace}/{name}")
}
