//! Storage failpoints configured from the `FAILPOINTS` environment variable, the `fail`
//! crate's convention: `name=actions;name=actions`, e.g.
//! `raft::log::append::before_sync=20*off->return(abort)` aborts the process at the 21st
//! log append. The names are `warden_raft::failpoints::ALL`.
//!
//! Only a build with the `failpoints` feature has them (the chaos harness's). Any other
//! build refuses to start when the variable is set, so a fault that was asked for is
//! never silently missing.

/// The variable the failpoints are read from.
pub const ENV: &str = "FAILPOINTS";

/// Configures every failpoint `FAILPOINTS` names; returns the names. Unknown names and
/// malformed actions are errors, so a misspelled failpoint is not silently inert.
#[cfg(feature = "failpoints")]
pub fn configure_from_env() -> anyhow::Result<Vec<String>> {
    let Some(text) = read_env()? else {
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
        if !warden_raft::failpoints::ALL.contains(&name) {
            anyhow::bail!(
                "{ENV}: unknown failpoint {name:?}; known: {}",
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
pub fn configure_from_env() -> anyhow::Result<Vec<String>> {
    match read_env()? {
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
