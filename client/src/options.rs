//! Tuning knobs of the client: timeouts and the retry policy.

use std::time::Duration;

use crate::{BearerToken, ClientTls};

/// How the client connects and retries. Pass it by value to `Client::connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Deadline for one attempt of a call, measured until the response (or, for the audit
    /// export, its first message) arrives. An attempt that exceeds it fails with
    /// CANCELLED and is not retried, because the server may still have executed it.
    /// Default 10s; raise it for `add_node`, which waits for the new node to catch up.
    pub request_timeout: Duration,
    /// Deadline for establishing a TCP connection to one endpoint; a connection that
    /// cannot be established counts as UNAVAILABLE and moves on to the next endpoint.
    /// Default 2s.
    pub connect_timeout: Duration,
    /// Attempts per call, counting the first, across all endpoints; 0 is treated as 1.
    /// Default 5.
    pub max_attempts: u32,
    /// Pause before the first retry; it doubles with each further retry, with random
    /// jitter so that many clients do not retry in lockstep. Default 50ms.
    pub initial_backoff: Duration,
    /// Upper bound for the pause between retries. Default 2s.
    pub max_backoff: Duration,
    /// How long a resumable stream (a task or workspace watch, an audit export) may spend
    /// reconnecting, in total, since it last delivered an item, before it gives up with
    /// UNAVAILABLE. A stream that breaks reconnects on the next node with backoff; time
    /// spent connected (waiting for the task) does not count. Default 60s.
    pub resume_timeout: Duration,
    /// The token sent with every call. Every call but the first `init_cluster` needs one.
    pub token: Option<BearerToken>,
    /// TLS to the nodes: set it for a cluster that serves TLS (every cluster but one
    /// started with `tls.insecure`); endpoints then default to `https://`.
    pub tls: Option<ClientTls>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(2),
            max_attempts: 5,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            resume_timeout: Duration::from_secs(60),
            token: None,
            tls: None,
        }
    }
}
