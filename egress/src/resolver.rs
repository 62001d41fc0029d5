//! The DNS resolver every HTTP client that reaches a workspace-chosen URL is built with:
//! it resolves a name and hands the client only the addresses the [`Policy`] allows, so
//! the check is made on the very addresses connected to. It implements `Resolve` of both
//! reqwest lines in the build (0.12 for model providers, 0.13 inside rmcp).
//!
//! Two things it cannot see, which the client must handle: an IP-literal host (reqwest
//! connects to it without resolving; check it with [`Policy::check_url`] before each
//! request and redirect), and a proxy (the client would resolve the proxy's name, not the
//! target's; build the client with `no_proxy()`).

use std::sync::Arc;

use crate::policy::Policy;

#[derive(Debug, Clone)]
pub struct Resolver {
    policy: Arc<Policy>,
}

impl Resolver {
    /// Shared, as the clients' `dns_resolver` takes it.
    pub fn new(policy: Policy) -> Arc<Resolver> {
        Arc::new(Resolver {
            policy: Arc::new(policy),
        })
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addresses = policy.resolve(name.as_str()).await?;
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

impl reqwest_rmcp::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest_rmcp::dns::Name) -> reqwest_rmcp::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addresses = policy.resolve(name.as_str()).await?;
            let addresses: reqwest_rmcp::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}
