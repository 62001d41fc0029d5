//! Checking a policy set before it is stored, so that evaluation rarely meets a broken
//! rule (and denies when it does).

use std::collections::BTreeSet;

use super::condition::{PreparedTest, compare_numbers};
use super::error::PolicyError;
use super::path::JsonPath;
use super::rule::{
    ApprovalRequirement, Approver, Condition, Effect, PolicyRule, PolicySet, RuleId, Test,
};

impl PolicySet {
    /// The most rules one workspace's policy may hold.
    pub const MAX_RULES: usize = 256;

    /// Checks every rule: ids well-formed and unique, descriptions short, paths parse,
    /// JSON values parse, regexes compile within the size limit, ranges bounded and in
    /// order, approvers listed once and approval requirements satisfiable. Reports the
    /// first problem, in rule order.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.rules.len() > Self::MAX_RULES {
            return Err(PolicyError::TooManyRules {
                count: self.rules.len(),
                max: Self::MAX_RULES,
            });
        }
        let mut seen_ids = BTreeSet::new();
        for rule in &self.rules {
            if !seen_ids.insert(&rule.id) {
                return Err(PolicyError::DuplicateRuleId {
                    rule: rule.id.as_str().to_owned(),
                });
            }
            validate_rule(rule)?;
        }
        Ok(())
    }
}

fn validate_rule(rule: &PolicyRule) -> Result<(), PolicyError> {
    let id = rule.id.as_str();
    // A deserialized id has not been through `RuleId::parse`.
    if let Err(crate::error::Error::InvalidName { reason, .. }) = RuleId::parse(id) {
        return Err(PolicyError::InvalidRuleId {
            rule: id.to_owned(),
            reason,
        });
    }
    if rule.description.len() > PolicyRule::MAX_DESCRIPTION_LEN {
        return Err(PolicyError::DescriptionTooLong {
            rule: id.to_owned(),
            len: rule.description.len(),
            max: PolicyRule::MAX_DESCRIPTION_LEN,
        });
    }
    for (index, condition) in rule.conditions.iter().enumerate() {
        validate_condition(id, index, condition)?;
    }
    if let Effect::RequireApproval(requirement) = &rule.effect {
        validate_requirement(id, requirement)?;
    }
    Ok(())
}

fn validate_condition(rule: &str, index: usize, condition: &Condition) -> Result<(), PolicyError> {
    if let Err(source) = JsonPath::parse(&condition.path) {
        return Err(PolicyError::InvalidPath {
            rule: rule.to_owned(),
            index,
            path: condition.path.clone(),
            source,
        });
    }
    if let Err(source) = PreparedTest::new(&condition.test) {
        return Err(PolicyError::InvalidTest {
            rule: rule.to_owned(),
            index,
            source,
        });
    }
    match &condition.test {
        Test::Range {
            min: None,
            max: None,
        } => Err(PolicyError::UnboundedRange {
            rule: rule.to_owned(),
            index,
        }),
        Test::Range {
            min: Some(min),
            max: Some(max),
        } if compare_numbers(min, max).is_gt() => Err(PolicyError::InvertedRange {
            rule: rule.to_owned(),
            index,
            min: min.to_string(),
            max: max.to_string(),
        }),
        Test::OneOf { values_json } if values_json.is_empty() => Err(PolicyError::EmptyOneOf {
            rule: rule.to_owned(),
            index,
        }),
        _ => Ok(()),
    }
}

fn validate_requirement(rule: &str, requirement: &ApprovalRequirement) -> Result<(), PolicyError> {
    if requirement.approvers.is_empty() {
        return Err(PolicyError::NoApprovers {
            rule: rule.to_owned(),
        });
    }
    for (position, approver) in requirement.approvers.iter().enumerate() {
        if requirement.approvers[..position].contains(approver) {
            return Err(PolicyError::DuplicateApprover {
                rule: rule.to_owned(),
                approver: approver.to_string(),
            });
        }
    }
    if requirement.quorum == 0 {
        return Err(PolicyError::ZeroQuorum {
            rule: rule.to_owned(),
        });
    }
    // A role may be held by any number of principals, so only a list of principals
    // bounds how many distinct approvers there can be.
    let only_principals = requirement
        .approvers
        .iter()
        .all(|approver| matches!(approver, Approver::Principal(_)));
    let approvers = requirement.approvers.len();
    if only_principals && requirement.quorum as usize > approvers {
        return Err(PolicyError::QuorumTooLarge {
            rule: rule.to_owned(),
            quorum: requirement.quorum,
            approvers,
        });
    }
    if requirement.expiry_ms == 0 {
        return Err(PolicyError::ZeroExpiry {
            rule: rule.to_owned(),
        });
    }
    Ok(())
}
