//! Warden's domain: ids, the replicated command set, the state it changes, the
//! deterministic `apply()` and the audit hash chain.
//!
//! Pure by construction: no I/O, no clock, no randomness, no async. Whoever proposes a
//! command stamps its time and ids into it, so every node applying the same log reaches
//! the same state and the same audit chain.

pub mod apply;
pub mod audit;
pub mod command;
pub mod error;
pub mod hash;
pub mod ids;
pub mod memory;
pub mod model;
pub mod outcome;

pub use apply::{Applied, StateRead, Write, apply, apply_membership};
pub use audit::{AuditHead, AuditRecord, ChainError, ChainVerifier};
pub use command::{Action, Command, Request};
pub use error::Error;
pub use hash::Hash;
pub use ids::{IdempotencyKey, Principal, TaskId, WorkspaceId};
pub use model::{IdempotencyRecord, Task, TaskStatus, Workspace};
pub use outcome::{Code, Outcome, Rejection};

#[cfg(test)]
mod tests;
