//! Deciding one tool call: find the rule that decides it and say why in words fit for
//! an audit record.

use serde::{Deserialize, Serialize};

use super::condition::ConditionError;
use super::rule::{ApprovalRequirement, Effect, PolicyRule, PolicySet, RuleId, Subject, Target};
use crate::ids::Principal;
use crate::names::{AgentName, ServerName, ToolName};
use crate::role::Role;

/// The tool call to decide and who is behind it.
#[derive(Debug, Clone, Copy)]
pub struct CallContext<'a> {
    pub agent: &'a AgentName,
    /// The agent's own principal.
    pub agent_principal: &'a Principal,
    /// The user or service who submitted the task.
    pub submitter: &'a Principal,
    /// The submitter's roles in the workspace.
    pub submitter_roles: &'a [Role],
    pub server: &'a ServerName,
    pub tool: &'a ToolName,
    pub arguments: &'a serde_json::Value,
}

/// What the policy decided about a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDecision {
    pub effect: Effect,
    /// The deciding rule; `None` when no rule matched and the call is denied by default.
    pub rule: Option<RuleId>,
    /// One sentence for the audit record.
    pub reason: String,
}

/// How a rule that matches the call's subject and target came out on its conditions.
enum Verdict {
    /// Every condition holds: the rule's effect applies.
    Holds,
    /// A condition could not be evaluated: the rule denies.
    Broken { index: usize, error: ConditionError },
}

impl PolicySet {
    /// Decides `call`: among the rules that match it, the one of highest priority; among
    /// those of equal priority the most restrictive (deny, then approval, then allow),
    /// then the lowest id. No matching rule denies.
    pub fn evaluate(&self, call: &CallContext<'_>) -> PolicyDecision {
        let mut decider: Option<(&PolicyRule, Verdict)> = None;
        for rule in &self.rules {
            if !subject_matches(&rule.subject, call) || !target_matches(&rule.target, call) {
                continue;
            }
            // A rule of lower priority cannot win, so its conditions need not run.
            if let Some((best, _)) = &decider
                && rule.priority < best.priority
            {
                continue;
            }
            let Some(verdict) = conditions_verdict(rule, call.arguments) else {
                continue;
            };
            let wins = match &decider {
                None => true,
                Some((best, best_verdict)) => rank(rule, &verdict) > rank(best, best_verdict),
            };
            if wins {
                decider = Some((rule, verdict));
            }
        }
        match decider {
            None => PolicyDecision {
                effect: Effect::Deny,
                rule: None,
                reason: format!(
                    "no policy rule allows {}/{} for agent {}",
                    call.server, call.tool, call.agent
                ),
            },
            Some((rule, verdict)) => decision(rule, verdict, call),
        }
    }
}

fn subject_matches(subject: &Subject, call: &CallContext<'_>) -> bool {
    match subject {
        Subject::Any => true,
        Subject::Agent(agent) => agent == call.agent,
        Subject::Principal(principal) => {
            principal == call.agent_principal || principal == call.submitter
        }
        Subject::Role(role) => call.submitter_roles.contains(role),
    }
}

fn target_matches(target: &Target, call: &CallContext<'_>) -> bool {
    match target {
        Target::Any => true,
        Target::Server(server) => server == call.server,
        Target::Tool { server, tool } => server == call.server && tool == call.tool,
    }
}

/// `None` if some condition is false and none is broken. A broken condition decides
/// even when another condition is false, so the outcome does not depend on the order
/// the conditions are listed in.
fn conditions_verdict(rule: &PolicyRule, arguments: &serde_json::Value) -> Option<Verdict> {
    let mut all_hold = true;
    for (index, condition) in rule.conditions.iter().enumerate() {
        match condition.holds(arguments) {
            Ok(holds) => all_hold &= holds,
            Err(error) => return Some(Verdict::Broken { index, error }),
        }
    }
    all_hold.then_some(Verdict::Holds)
}

/// Orders matching rules: the greater rank decides. The id comes last, reversed, so
/// the lowest id wins a tie whatever order the rules are stored in.
fn rank<'r>(rule: &'r PolicyRule, verdict: &Verdict) -> (i32, u8, std::cmp::Reverse<&'r RuleId>) {
    let restrictiveness = match verdict {
        Verdict::Holds => rule.effect.restrictiveness(),
        Verdict::Broken { .. } => Effect::Deny.restrictiveness(),
    };
    (rule.priority, restrictiveness, std::cmp::Reverse(&rule.id))
}

fn decision(rule: &PolicyRule, verdict: Verdict, call: &CallContext<'_>) -> PolicyDecision {
    let (effect, reason) = match verdict {
        Verdict::Broken { index, error } => (
            Effect::Deny,
            format!(
                "rule {:?} denies {}/{}: cannot evaluate conditions[{index}] at {:?}: {error}",
                rule.id, call.server, call.tool, rule.conditions[index].path,
            ),
        ),
        Verdict::Holds => {
            let reason = match &rule.effect {
                Effect::Allow => format!("rule {:?} allows {}/{}", rule.id, call.server, call.tool),
                Effect::Deny => format!("rule {:?} denies {}/{}", rule.id, call.server, call.tool),
                Effect::RequireApproval(requirement) => format!(
                    "rule {:?} requires approval by {}",
                    rule.id,
                    describe_requirement(requirement)
                ),
            };
            (rule.effect.clone(), reason)
        }
    };
    PolicyDecision {
        effect,
        rule: Some(rule.id.clone()),
        reason,
    }
}

/// `role approver or principal user/alice (quorum 2, expires in 10m)`.
fn describe_requirement(requirement: &ApprovalRequirement) -> String {
    let approvers: Vec<String> = requirement
        .approvers
        .iter()
        .map(ToString::to_string)
        .collect();
    format!(
        "{} (quorum {}, expires in {})",
        approvers.join(" or "),
        requirement.quorum,
        human_duration(requirement.expiry_ms)
    )
}

/// `1500ms`, `45s`, `10m`, `1h30m`, `2d`.
pub(crate) fn human_duration(duration_ms: u64) -> String {
    if !duration_ms.is_multiple_of(1000) {
        return format!("{duration_ms}ms");
    }
    let mut seconds = duration_ms / 1000;
    if seconds == 0 {
        return "0s".to_owned();
    }
    let mut text = String::new();
    for (unit, unit_seconds) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        let count = seconds / unit_seconds;
        if count > 0 {
            text.push_str(&format!("{count}{unit}"));
            seconds %= unit_seconds;
        }
    }
    text
}
