//! Why a policy set is not valid. Each message names the rule and the field at fault,
//! e.g. `rule "no-prod-writes": conditions[1].path "$.a[": unclosed bracket`.

use super::condition::TestError;
use super::path::PathError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("policy has {count} rules, at most {max} are allowed")]
    TooManyRules { count: usize, max: usize },
    #[error("rule {rule:?}: id {reason}")]
    InvalidRuleId { rule: String, reason: &'static str },
    #[error("rule {rule:?}: id is used by more than one rule")]
    DuplicateRuleId { rule: String },
    #[error("rule {rule:?}: description is {len} bytes, at most {max} are allowed")]
    DescriptionTooLong {
        rule: String,
        len: usize,
        max: usize,
    },
    #[error("rule {rule:?}: conditions[{index}].path {path:?}: {source}")]
    InvalidPath {
        rule: String,
        index: usize,
        path: String,
        source: PathError,
    },
    #[error("rule {rule:?}: conditions[{index}].{source}")]
    InvalidTest {
        rule: String,
        index: usize,
        source: TestError,
    },
    #[error("rule {rule:?}: conditions[{index}].test.range needs a min or a max")]
    UnboundedRange { rule: String, index: usize },
    #[error("rule {rule:?}: conditions[{index}].test.range min {min} is greater than max {max}")]
    InvertedRange {
        rule: String,
        index: usize,
        min: String,
        max: String,
    },
    #[error("rule {rule:?}: conditions[{index}].test.one_of needs at least one value")]
    EmptyOneOf { rule: String, index: usize },
    #[error("rule {rule:?}: effect.approvers must not be empty")]
    NoApprovers { rule: String },
    #[error("rule {rule:?}: effect.approvers lists {approver} more than once")]
    DuplicateApprover { rule: String, approver: String },
    #[error("rule {rule:?}: effect.quorum must be at least 1")]
    ZeroQuorum { rule: String },
    #[error("rule {rule:?}: effect.quorum {quorum} exceeds the {approvers} approving principals")]
    QuorumTooLarge {
        rule: String,
        quorum: u32,
        approvers: usize,
    },
    #[error("rule {rule:?}: effect.expiry_ms must be more than 0")]
    ZeroExpiry { rule: String },
}
