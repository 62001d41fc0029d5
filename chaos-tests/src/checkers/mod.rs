//! One checker per promise, each judging a run's history and the final state of every node.

mod audit;
mod calls;
mod convergence;
mod epochs;
mod exactly_once;
mod idempotency;
mod lost_ack;
mod no_phantom;
mod settled;
mod unknown_resolved;
mod watch;

#[cfg(test)]
mod agent_tests;
#[cfg(test)]
mod tests;

use std::fmt;

pub use audit::Audit;
pub use convergence::Convergence;
pub use epochs::Epochs;
pub use exactly_once::ExactlyOnce;
pub use idempotency::Idempotency;
pub use lost_ack::LostAck;
pub use no_phantom::NoPhantom;
pub use settled::Settled;
pub use unknown_resolved::UnknownResolved;
pub use watch::Watch;

use crate::history::{FinalState, History};

/// One broken promise, with a message that names the node, key, task id or index involved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub checker: &'static str,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.checker, self.message)
    }
}

pub trait Checker {
    fn name(&self) -> &'static str;
    fn check(&self, history: &History, state: &FinalState) -> Vec<Violation>;
}

/// Every checker, in a stable order so reports of the same run compare line by line.
pub fn all() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(LostAck),
        Box::new(Idempotency),
        Box::new(UnknownResolved),
        Box::new(NoPhantom),
        Box::new(Convergence),
        Box::new(Audit),
        Box::new(ExactlyOnce),
        Box::new(Epochs),
        Box::new(Settled),
        Box::new(Watch),
    ]
}

pub fn check_all(history: &History, state: &FinalState) -> Vec<Violation> {
    all()
        .iter()
        .flat_map(|checker| checker.check(history, state))
        .collect()
}

/// Joins at most a handful of items, so one message about a thousand lost tasks stays readable.
/// One violation per message, all from `checker`.
fn violations(checker: &'static str, messages: Vec<String>) -> Vec<Violation> {
    messages
        .into_iter()
        .map(|message| Violation { checker, message })
        .collect()
}

fn list<T: fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    const SHOWN: usize = 5;
    let items: Vec<String> = items.into_iter().map(|item| item.to_string()).collect();
    if items.len() <= SHOWN {
        return items.join(", ");
    }
    format!(
        "{} and {} more",
        items[..SHOWN].join(", "),
        items.len() - SHOWN
    )
}
