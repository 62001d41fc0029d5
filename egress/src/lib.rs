//! The cluster's egress rules: which addresses a node may connect to when a workspace's
//! configuration (a model provider's base URL, an HTTP MCP server's URL) tells it where to
//! go. Public unicast addresses are reachable; loopback, link-local (the cloud metadata
//! endpoint), private, CGNAT, unspecified, broadcast, multicast and reserved addresses only
//! when the node's own configuration (`egress.allow`) admits them, never through an RPC.
//!
//! The check that matters is made at connect time on resolved addresses ([`Resolver`]),
//! so a name that resolves to an internal address (or starts to, DNS rebinding) is refused
//! like the address itself; IP-literal hosts, which HTTP clients do not resolve, are
//! checked with [`Policy::check_url`].

mod class;
mod error;
mod policy;
mod resolver;
mod rule;

pub use class::{Class, classify, effective};
pub use error::Error;
pub use policy::Policy;
pub use resolver::Resolver;
pub use rule::{Allow, InvalidAllow};
pub use url::Url;
