//! The tool-call policy: which calls an agent may make, which it may not, and which need
//! a human's approval first. Pure and deterministic, like the rest of `core`: the same
//! policy set and call always give the same decision on every node.
//!
//! # Semantics
//!
//! - **Deny by default.** A call no rule matches is denied, with no deciding rule and the
//!   reason `no policy rule allows <server>/<tool> for agent <agent>`.
//! - **Matching.** A rule matches a call when its subject, its target and all of its
//!   conditions match (no conditions: always). Subjects: `Any`; `Agent(name)`, the
//!   calling agent; `Principal(p)`, either the agent's own principal or the task's
//!   submitter; `Role(r)`, the submitter holds `r` in the workspace. Targets: `Any`;
//!   `Server(s)`, any tool of `s`; `Tool { server, tool }`.
//! - **Order.** Rules are considered in descending priority and the first matching rule
//!   decides. Among matching rules of equal priority the most restrictive decides (deny,
//!   then require approval, then allow), then the lowest id, so a decision never depends
//!   on the order in which rules are stored.
//! - **Conditions.** Each tests the value at a JSON path into the call's arguments (see
//!   [`path`] for the syntax): `Equals` is JSON equality with numbers compared by value;
//!   `Prefix` needs a string starting with the prefix (plain text); `PathPrefix` needs a
//!   string that, as a `/`-separated path normalized lexically (`file_path.rs`), lies
//!   at or below the prefix by whole segments; `Regex` needs a string in which
//!   the regex matches *somewhere* (anchor it with `^...$` to match the whole string);
//!   `Range` needs a number within inclusive bounds; `Exists(true)` needs the path to be
//!   present (even if `null`), `Exists(false)` absent; `OneOf` is `Equals` against any of
//!   a list. A missing path makes a condition false, except `Exists(false)`, true.
//! - **Broken rules deny.** If a rule matches the call's subject and target but one of
//!   its conditions cannot be evaluated (its path or regex does not parse, a JSON value
//!   in it is invalid, `Range` meets a non-number, `Prefix`, `PathPrefix` or `Regex` a non-string,
//!   `PathPrefix` a path whose `..` climbs above its start), the
//!   rule decides as a deny, whatever its other conditions say, with a reason naming the
//!   rule, the condition and the problem. It competes with the other rules like any deny.
//! - **Bounded cost.** Regexes compile with a [`REGEX_SIZE_LIMIT`], and evaluation is one
//!   pass over the rules, skipping the conditions of rules that can no longer win.
//!
//! [`PolicySet::validate`] rejects sets that would contain broken rules, so the deny for
//! a broken rule is a safety net, not the usual way a policy works.

mod condition;
mod error;
mod evaluate;
mod file_path;
pub mod path;
mod rule;
mod validate;

pub use condition::{ConditionError, REGEX_SIZE_LIMIT, TestError};
pub use error::PolicyError;
pub use evaluate::{CallContext, PolicyDecision};
pub use path::{JsonPath, PathError};
pub use rule::{
    ApprovalRequirement, Approver, Condition, Effect, OnExpiry, PolicyRule, PolicySet, RuleId,
    Subject, Target, Test,
};

#[cfg(test)]
mod tests;
