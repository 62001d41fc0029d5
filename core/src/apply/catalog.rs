//! The cluster catalog of stdio MCP servers: put and delete, by cluster admins only
//! (checked in `authz`).

use super::{At, Decision, StateRead, Write};
use crate::catalog::{CatalogEntry, CatalogSpec};
use crate::names::CatalogName;
use crate::outcome::{Code, Outcome, Rejection};

pub(super) fn put<S: StateRead>(
    state: &S,
    at: &At<'_>,
    spec: &CatalogSpec,
) -> Result<Decision, S::Error> {
    if let Some(problem) = spec.problem() {
        return Ok(Err(Rejection::new(Code::InvalidArgument, problem)));
    }
    let version = state
        .catalog_entry(&spec.name)?
        .map_or(1, |earlier| earlier.version + 1);
    let entry = CatalogEntry {
        spec: spec.clone(),
        version,
        updated_ms: at.time_ms,
        updated_by: at.principal.clone(),
    };
    Ok(Ok((
        Outcome::CatalogEntryPut(entry.clone()),
        vec![Write::CatalogEntry(entry)],
    )))
}

/// Servers registered with the entry keep their records; a node asked to start one
/// finds no entry and fails the call naming it (fail closed), until the entry is put
/// again.
pub(super) fn delete<S: StateRead>(state: &S, name: &CatalogName) -> Result<Decision, S::Error> {
    Ok(match state.catalog_entry(name)? {
        Some(entry) => Ok((
            Outcome::CatalogEntryDeleted(entry),
            vec![Write::RemoveCatalogEntry(name.clone())],
        )),
        None => Err(Rejection::new(
            Code::NotFound,
            format!("catalog entry {name} not found"),
        )),
    })
}
