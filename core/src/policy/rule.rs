//! The policy's stored shape: a workspace's set of rules, who and what each rule is
//! about, the conditions on the call's arguments and the effect it has.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::Principal;
use crate::names::{AgentName, ServerName, ToolName};
use crate::role::Role;

/// A workspace's tool-call policy. Evaluation does not depend on the order of `rules`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySet {
    pub rules: Vec<PolicyRule>,
}

/// One rule: if `subject` and `target` match the call and every condition holds, the
/// rule decides the call with `effect` (unless a rule of higher priority decides first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyRule {
    pub id: RuleId,
    /// Rules of higher priority are considered first.
    pub priority: i32,
    pub subject: Subject,
    pub target: Target,
    /// All must hold; no conditions means the rule always matches its subject and target.
    pub conditions: Vec<Condition>,
    pub effect: Effect,
    /// Optional human text, at most [`PolicyRule::MAX_DESCRIPTION_LEN`] bytes.
    pub description: String,
}

impl PolicyRule {
    pub const MAX_DESCRIPTION_LEN: usize = 512;
}

/// A rule's id, unique within its set: 1-64 of `[a-z0-9-]`, starting with a letter.
/// Audit records name the deciding rule by it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleId(String);

impl RuleId {
    pub const MAX_LEN: usize = crate::names::RULE.max_len;

    pub fn parse(id: &str) -> Result<RuleId, Error> {
        let reason = crate::names::check(id, &crate::names::RULE);
        match reason {
            Some(reason) => Err(Error::InvalidName {
                kind: "rule",
                name: id.to_owned(),
                reason,
            }),
            None => Ok(RuleId(id.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Debug for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// Whom a rule is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Any,
    /// The agent making the call, by name.
    Agent(AgentName),
    /// Either the agent's own principal or the principal who submitted the task.
    Principal(Principal),
    /// The submitter holds this role in the workspace.
    Role(Role),
}

/// Which calls a rule is about. A tool is always qualified by its server, because two
/// servers may offer tools of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Any,
    Server(ServerName),
    Tool { server: ServerName, tool: ToolName },
}

/// A test on the value at `path` in the call's arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    /// A JSON path: `$`, `$.a.b`, `$.items[0].name`, `$['odd key']`.
    pub path: String,
    pub test: Test,
}

/// What a condition requires of the value at its path. JSON values are stored as
/// JSON text: the replicated state is encoded with bincode, which cannot decode a
/// self-describing `serde_json::Value`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// The value equals this JSON value; numbers compare by value, so `1` equals `1.0`.
    Equals { value_json: String },
    /// The value is a string that starts with this prefix (plain text: no path
    /// normalization, so use `PathPrefix` for file paths).
    Prefix(String),
    /// The value is a `/`-separated file path that, normalized lexically (`.`, `..` and
    /// repeated slashes resolved), lies at or below this path, compared by whole segments.
    /// A value whose `..` climbs above its start cannot be evaluated (the rule denies).
    /// The prefix itself must be non-empty and hold no `..` segment.
    PathPrefix(String),
    /// The value is a string in which this regex matches somewhere; anchor it with `^`
    /// and `$` to match the whole string.
    Regex(String),
    /// The value is a number within these inclusive bounds; at least one is set.
    Range {
        #[serde(with = "number_text")]
        min: Option<serde_json::Number>,
        #[serde(with = "number_text")]
        max: Option<serde_json::Number>,
    },
    /// The path is present (`true`, even if its value is `null`) or absent (`false`).
    Exists(bool),
    /// The value equals one of these JSON values.
    OneOf { values_json: Vec<String> },
}

/// What a deciding rule does with the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Allow,
    Deny,
    RequireApproval(ApprovalRequirement),
}

impl Effect {
    /// Orders effects from least to most restrictive, for breaking ties between rules of
    /// equal priority.
    pub(crate) fn restrictiveness(&self) -> u8 {
        match self {
            Effect::Allow => 0,
            Effect::RequireApproval(_) => 1,
            Effect::Deny => 2,
        }
    }
}

/// Who must approve a call before it runs, and what happens if nobody does in time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequirement {
    /// Non-empty.
    pub approvers: Vec<Approver>,
    /// How many distinct approvers must approve; at least 1.
    pub quorum: u32,
    /// How long the request stays open; more than 0.
    pub expiry_ms: u64,
    pub on_expiry: OnExpiry,
}

/// Who may approve: anyone holding a role in the workspace, or one principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approver {
    Role(Role),
    Principal(Principal),
}

impl std::fmt::Display for Approver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Approver::Role(role) => write!(f, "role {role}"),
            Approver::Principal(principal) => write!(f, "principal {principal}"),
        }
    }
}

/// What an approval request that expires undecided does to its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExpiry {
    /// The call gets a denial as its tool result and the task continues.
    Deny,
    /// The task fails.
    Fail,
}

/// Serializes an optional JSON number as its decimal text. `serde_json::Number`'s own
/// `Deserialize` asks the format what comes next, which bincode cannot answer.
mod number_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub fn serialize<S: Serializer>(
        number: &Option<serde_json::Number>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        number
            .as_ref()
            .map(|number| number.to_string())
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<serde_json::Number>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("invalid JSON number {text:?}"))),
        }
    }
}
