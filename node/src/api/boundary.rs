//! The node boundary at the API edge: workspace configuration that would make this node
//! read one of its environment variables, or connect where its egress rules forbid, is
//! refused (PERMISSION_DENIED, audited like every refusal) before it is stored. These are
//! early answers: the node that reads a variable or opens a connection checks again with
//! its own configuration (`warden_actors::provider`, `warden_egress::Resolver`), so a
//! record stored through another node, or before a rule was tightened, gets no further.

use warden_core::{Code, Command, Rejection};
use warden_egress::Policy;

use crate::config::Providers;

/// Why this node refuses to store `command`, a parsed `PutProvider`, if it does.
pub fn provider_refusal(
    providers: &Providers,
    egress: &Policy,
    command: &Command,
) -> Option<Rejection> {
    let Command::PutProvider {
        base_url,
        api_key_env,
        ..
    } = command
    else {
        return None;
    };
    if let Some(variable) = api_key_env
        && let Err(reason) =
            warden_actors::provider::check_api_key_env(variable, &providers.api_key_env_allowlist)
    {
        return Some(Rejection::new(Code::PermissionDenied, reason));
    }
    url_refusal(egress, "base_url", base_url)
}

/// Why `url` (the request's `field`) names a place this node may not connect to, when that
/// shows without resolving anything: an IP-literal host in a refused class. A malformed
/// URL is left to `apply()`, which refuses it with the field's own rule.
pub fn url_refusal(egress: &Policy, field: &str, url: &str) -> Option<Rejection> {
    let parsed = warden_egress::Url::parse(url).ok()?;
    egress
        .check_url(&parsed)
        .err()
        .map(|refusal| Rejection::new(Code::PermissionDenied, format!("{field}: {refusal}")))
}
