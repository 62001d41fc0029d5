//! Why a connection was not made. Messages name the host, the address and the rule.

use std::net::IpAddr;

use crate::class::Class;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The address is in a class `egress.allow` does not admit. `host` is the name that
    /// resolved to it, when the URL named one.
    #[error(
        "egress to {address}{} refused: {} addresses are not allowed unless egress.allow lists \"{}\"",
        host.as_ref().map(|host| format!(" ({host})")).unwrap_or_default(),
        class.description(),
        class.name()
    )]
    Refused {
        host: Option<String>,
        address: IpAddr,
        class: Class,
    },
    /// The name did not resolve.
    #[error("cannot resolve {host}: {reason}")]
    Lookup { host: String, reason: String },
    /// The name resolved to no address at all.
    #[error("{host} resolves to no address")]
    NoAddress { host: String },
    /// The URL has no host to check.
    #[error("url names no host")]
    NoHost,
}
