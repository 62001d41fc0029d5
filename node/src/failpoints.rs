//! Storage failpoints configured from the `FAILPOINTS` environment variable, the `fail`
//! crate's convention: `name=actions;name=actions`, e.g.
//! `raft::log::append::before_sync=20*off->return(abort)` aborts the process at the 21st
//! log append. The names are `warden_raft::failpoints::ALL`, and [`PROTOCOL`], which makes
//! the node speak an older protocol.
//!
//! Only a build with the `failpoints` feature has them (the chaos harness's). Any other
//! build refuses to start when the variable is set, so a fault that was asked for is
//! never silently missing.

/// The variable the failpoints are read from.
pub const ENV: &str = "FAILPOINTS";

/// Makes a failpoint build speak an older protocol, as a build of that protocol would
/// (`node::protocol=return(1)`): it reports that protocol, and its state machine stops
/// at what that protocol cannot apply. How the upgrade tests get an older build.
pub const PROTOCOL: &str = "node::protocol";

/// The protocol this node speaks: `warden_core::PROTOCOL`, or what `node::protocol` says.
#[cfg(feature = "failpoints")]
pub fn protocol() -> anyhow::Result<u32> {
    fn told() -> Option<String> {
        fail::fail_point!(PROTOCOL, |argument| argument);
        None
    }
    let Some(text) = told() else {
        return Ok(warden_core::PROTOCOL);
    };
    let range = warden_core::OLDEST_PROTOCOL..=warden_core::PROTOCOL;
    match text.parse::<u32>() {
        Ok(protocol) if range.contains(&protocol) => Ok(protocol),
        _ => anyhow::bail!(
            "{ENV}: {PROTOCOL} must return a protocol from {} to {}, not {text:?}",
            range.start(),
            range.end()
        ),
    }
}

/// The protocol this node speaks.
#[cfg(not(feature = "failpoints"))]
pub fn protocol() -> anyhow::Result<u32> {
    Ok(warden_core::PROTOCOL)
}

/// Configures every failpoint `FAILPOINTS` names; returns the names.
pub fn configure_from_env() -> anyhow::Result<Vec<String>> {
    configure(read_env()?.as_deref())
}

/// Configures every failpoint `text` (a `FAILPOINTS` value) names; returns the names.
/// Unknown names and malformed actions are errors, so a misspelled failpoint is not
/// silently inert.
#[cfg(feature = "failpoints")]
fn configure(text: Option<&str>) -> anyhow::Result<Vec<String>> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let mut configured = Vec::new();
    for entry in text
        .split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let (name, actions) = entry
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("{ENV}: {entry:?} is not name=actions"))?;
        let name = name.trim();
        if !warden_raft::failpoints::ALL.contains(&name) && name != PROTOCOL {
            anyhow::bail!(
                "{ENV}: unknown failpoint {name:?}; known: {}, {PROTOCOL}",
                warden_raft::failpoints::ALL.join(", ")
            );
        }
        fail::cfg(name, actions.trim())
            .map_err(|error| anyhow::anyhow!("{ENV}: failpoint {name}: {error}"))?;
        configured.push(name.to_owned());
    }
    Ok(configured)
}

#[cfg(not(feature = "failpoints"))]
fn configure(text: Option<&str>) -> anyhow::Result<Vec<String>> {
    match text {
        None => Ok(Vec::new()),
        Some(_) => anyhow::bail!(
            "{ENV} is set, but this warden was built without the `failpoints` feature"
        ),
    }
}

fn read_env() -> anyhow::Result<Option<String>> {
    match std::env::var(ENV) {
        Ok(text) => Ok(Some(text)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => anyhow::bail!("{ENV} is not valid UTF-8"),
    }
}

#[cfg(test)]
mod tests {
    use super::configure;

    #[test]
    fn nothing_set_configures_nothing() -> anyhow::Result<()> {
        assert!(configure(None)?.is_empty());
        Ok(())
    }

    #[cfg(feature = "failpoints")]
    #[test]
    fn named_failpoints_are_configured_and_bad_ones_refused() -> anyhow::Result<()> {
        let configured = configure(Some(
            " raft::apply::before_write=off ; raft::log::append::after_sync=5*off->off;",
        ))?;
        assert_eq!(
            configured,
            ["raft::apply::before_write", "raft::log::append::after_sync"]
        );
        let unknown = configure(Some("raft::apply::befor_write=return"))
            .expect_err("an unknown failpoint was accepted");
        assert!(
            unknown
                .to_string()
                .contains("unknown failpoint \"raft::apply::befor_write\"")
        );
        let malformed = configure(Some("raft::apply::before_write"))
            .expect_err("an entry without actions was accepted");
        assert!(malformed.to_string().contains("is not name=actions"));
        let bad_action = configure(Some("raft::apply::before_write=explode"))
            .expect_err("a bad action was accepted");
        assert!(bad_action.to_string().contains("raft::apply::before_write"));
        Ok(())
    }

    #[cfg(not(feature = "failpoints"))]
    #[test]
    fn a_build_without_failpoints_refuses_them() {
        let error = configure(Some("raft::apply::before_write=return"))
            .expect_err("failpoints accepted by a build without them");
        assert!(
            error
                .to_string()
                .contains("without the `failpoints` feature")
        );
    }
}
