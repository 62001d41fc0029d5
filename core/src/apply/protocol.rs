//! The cluster's protocol (see `version.rs`): raising it, and refusing a command newer
//! than it.

use super::{Decision, StateRead, Write};
use crate::command::Command;
use crate::outcome::{Code, Outcome, Rejection};

/// Why `command` may not apply in a cluster at its current protocol, if it may not.
pub(super) fn refusal<S: StateRead>(
    state: &S,
    command: &Command,
) -> Result<Option<Rejection>, S::Error> {
    let since = command.since();
    if since <= crate::OLDEST_PROTOCOL {
        return Ok(None);
    }
    let running = state.cluster_protocol()?;
    Ok((since > running).then(|| too_new(command, running)))
}

/// The refusal of `command`, which needs a newer protocol than the cluster's `running`.
pub fn too_new(command: &Command, running: u32) -> Rejection {
    Rejection::new(
        Code::FailedPrecondition,
        format!(
            "{} needs cluster protocol {}, but the cluster runs protocol {running} until every member runs a build that speaks {} (see `wardenctl cluster status`)",
            command.action().as_str(),
            command.since(),
            command.since()
        ),
    )
}

/// Raises the cluster's protocol to `protocol`; refuses to keep or lower it.
pub(super) fn set<S: StateRead>(state: &S, protocol: u32) -> Result<Decision, S::Error> {
    let running = state.cluster_protocol()?;
    if protocol <= running {
        return Ok(Err(Rejection::new(
            Code::FailedPrecondition,
            format!(
                "the cluster runs protocol {running} already; protocol {protocol} would not raise it"
            ),
        )));
    }
    Ok(Ok((
        Outcome::ClusterProtocolSet {
            from: running,
            to: protocol,
        },
        vec![Write::ClusterProtocol(protocol)],
    )))
}
