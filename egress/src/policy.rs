//! The egress policy (`[egress]` in a node's config): public unicast addresses are always
//! reachable, every other class only when `allow` names it or a network that holds the
//! address. Checked on the addresses a name resolves to, right before connecting
//! ([`crate::Resolver`]), and on IP-literal hosts, which HTTP clients never resolve
//! ([`Policy::check_url`]).

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use crate::class::classify;
use crate::error::Error;
use crate::rule::Allow;

/// The default refuses everything that is not public unicast.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Address classes (`loopback`, `link_local`, `private`, `cgnat`, `unspecified`,
    /// `broadcast`, `multicast`, `reserved`) and networks (`10.20.0.0/16`,
    /// `fd00:1::/48`, or one address) this node may connect to on a workspace's behalf,
    /// besides the public internet.
    pub allow: Vec<Allow>,
}

impl Policy {
    pub fn allowing(allow: impl IntoIterator<Item = Allow>) -> Policy {
        Policy {
            allow: allow.into_iter().collect(),
        }
    }

    /// Whether a connection to `address` may be made; `host` is the name it was resolved
    /// from, for the message.
    pub fn check(&self, address: IpAddr, host: Option<&str>) -> Result<(), Error> {
        let Some(class) = classify(address) else {
            return Ok(());
        };
        if self.allow.iter().any(|allow| allow.admits(address, class)) {
            return Ok(());
        }
        Err(Error::Refused {
            host: host.map(str::to_owned),
            address,
            class,
        })
    }

    /// Checks a URL's host when it is an IP literal. HTTP clients connect to a literal
    /// without resolving it, so the resolver never sees it: call this before every request
    /// to a URL and on every redirect. A name passes here; its addresses are checked when
    /// it is resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), Error> {
        match url.host() {
            Some(Host::Ipv4(address)) => self.check(IpAddr::V4(address), None),
            Some(Host::Ipv6(address)) => self.check(IpAddr::V6(address), None),
            Some(Host::Domain(_)) => Ok(()),
            None => Err(Error::NoHost),
        }
    }

    /// Resolves `host` (with the system resolver, so `/etc/hosts` counts) and keeps the
    /// addresses the policy allows; fails when none is left, naming the first refused one.
    /// These are the addresses the client connects to: nothing resolves the name again
    /// in between, so a DNS answer that changes (rebinding) cannot slip past.
    pub async fn resolve(&self, host: &str) -> Result<Vec<SocketAddr>, Error> {
        // An IP literal resolves to itself; it is checked like any other address.
        let resolved = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|error| Error::Lookup {
                host: host.to_owned(),
                reason: error.to_string(),
            })?;
        let mut allowed = Vec::new();
        let mut first_refusal = None;
        for address in resolved {
            match self.check(address.ip(), Some(host)) {
                Ok(()) => allowed.push(address),
                Err(refusal) => {
                    tracing::warn!(%refusal, "egress refused");
                    first_refusal.get_or_insert(refusal);
                }
            }
        }
        match (allowed.is_empty(), first_refusal) {
            (false, _) => Ok(allowed),
            (true, Some(refusal)) => Err(refusal),
            (true, None) => Err(Error::NoAddress {
                host: host.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests;
