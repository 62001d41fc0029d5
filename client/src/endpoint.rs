//! The nodes a client talks to: endpoint parsing, one lazily connected channel per node,
//! and the shared cursor that picks the node for the next attempt.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint, Uri};

use crate::{ClientOptions, Error};

/// How often an idle HTTP/2 connection with open streams is pinged, and how long a ping
/// may go unanswered; this is what notices a dead node in the middle of an audit export.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(15);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Turns `host:port`, `http://host:port` or `https://host:port` into the canonical
/// `scheme://host:port`; a bare `host:port` gets `https` when `tls` is set.
pub fn normalize_endpoint(endpoint: &str, tls: bool) -> Result<String, Error> {
    let invalid = |reason: &str| Error::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = endpoint.trim();
    if trimmed.is_empty() {
        return Err(invalid("empty"));
    }
    let (scheme, with_scheme) = match trimmed.split_once("://") {
        Some(("http", _)) => ("http", trimmed.to_owned()),
        Some(("https", _)) => ("https", trimmed.to_owned()),
        Some((scheme, _)) => return Err(invalid(&format!("unsupported scheme {scheme:?}"))),
        None if tls => ("https", format!("https://{trimmed}")),
        None => ("http", format!("http://{trimmed}")),
    };
    let uri: Uri = with_scheme
        .parse()
        .map_err(|err: tonic::codegen::http::uri::InvalidUri| invalid(&err.to_string()))?;
    let host = uri
        .host()
        .filter(|host| !host.is_empty())
        .ok_or_else(|| invalid("missing host"))?;
    let port = uri.port_u16().ok_or_else(|| invalid("missing port"))?;
    if uri.path() != "/" || uri.query().is_some() {
        return Err(invalid("expected host:port without a path"));
    }
    Ok(format!("{scheme}://{host}:{port}"))
}

/// One node: its canonical address and the channel to it.
#[derive(Debug)]
struct Node {
    uri: String,
    channel: Channel,
}

/// The nodes of the cluster and the cursor that every call of one client shares.
///
/// The cursor points at the node the next attempt should use: it stays on a node while
/// calls succeed there, and moves on to the next node (round robin) when one fails with
/// UNAVAILABLE, so that concurrent calls do not all try a dead node first.
#[derive(Debug)]
pub(crate) struct EndpointSet {
    nodes: Vec<Node>,
    cursor: AtomicUsize,
}

impl EndpointSet {
    /// Validates every endpoint and creates its channel; nothing connects yet.
    ///
    /// Must run inside a Tokio runtime, because each channel spawns a background task.
    pub(crate) fn new<I, S>(endpoints: I, options: &ClientOptions) -> Result<Self, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut nodes = Vec::new();
        for endpoint in endpoints {
            let uri = normalize_endpoint(endpoint.as_ref(), options.tls.is_some())?;
            let invalid = |reason: String| Error::InvalidEndpoint {
                endpoint: endpoint.as_ref().to_owned(),
                reason,
            };
            let mut channel =
                Endpoint::from_shared(uri.clone()).map_err(|err| invalid(err.to_string()))?;
            match (&options.tls, uri.starts_with("https://")) {
                (Some(tls), true) => {
                    channel = channel
                        .tls_config(tls.config())
                        .map_err(|err| invalid(err.to_string()))?;
                }
                (None, false) => {}
                (None, true) => {
                    return Err(invalid(
                        "https needs the cluster's CA certificate (--ca or WARDEN_CA_FILE)"
                            .to_owned(),
                    ));
                }
                (Some(_), false) => {
                    return Err(invalid(
                        "http:// is plain text but a CA is configured: use https:// or host:port"
                            .to_owned(),
                    ));
                }
            }
            let channel = channel
                .connect_timeout(options.connect_timeout)
                .timeout(options.request_timeout)
                .tcp_nodelay(true)
                .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
                .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
                .connect_lazy();
            nodes.push(Node { uri, channel });
        }
        if nodes.is_empty() {
            return Err(Error::NoEndpoints);
        }
        Ok(EndpointSet {
            nodes,
            cursor: AtomicUsize::new(0),
        })
    }

    /// The index of the node the next attempt should use.
    pub(crate) fn current(&self) -> usize {
        self.cursor.load(Ordering::Acquire) % self.nodes.len()
    }

    /// A handle to the channel of node `index` (cheap: channels are reference counted).
    pub(crate) fn channel(&self, index: usize) -> Channel {
        self.nodes[index].channel.clone()
    }

    /// The canonical address of node `index`, for error messages.
    pub(crate) fn uri(&self, index: usize) -> &str {
        &self.nodes[index].uri
    }

    /// Node `index` answered: start the next calls there.
    pub(crate) fn mark_ok(&self, index: usize) {
        self.cursor.store(index, Ordering::Release);
    }

    /// Node `index` is unavailable: move the cursor to the next node, unless another call
    /// has already moved it elsewhere (then that call's choice is newer than ours).
    pub(crate) fn mark_failed(&self, index: usize) {
        let next = (index + 1) % self.nodes.len();
        // A failed exchange means someone else moved the cursor; keeping their choice is
        // the point, so the result is deliberately ignored.
        let _ = self
            .cursor
            .compare_exchange(index, next, Ordering::AcqRel, Ordering::Acquire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_accepted_forms() {
        for (given, expected) in [
            ("127.0.0.1:7400", "http://127.0.0.1:7400"),
            ("  node-1.internal:7401 ", "http://node-1.internal:7401"),
            ("http://localhost:80", "http://localhost:80"),
            ("http://10.0.0.1:7400/", "http://10.0.0.1:7400"),
            ("[::1]:7400", "http://[::1]:7400"),
            ("https://localhost:7400", "https://localhost:7400"),
        ] {
            assert_eq!(
                normalize_endpoint(given, false).ok().as_deref(),
                Some(expected),
                "{given}"
            );
        }
        assert_eq!(
            normalize_endpoint("127.0.0.1:7400", true).ok().as_deref(),
            Some("https://127.0.0.1:7400")
        );
        assert_eq!(
            normalize_endpoint("http://127.0.0.1:7400", true)
                .ok()
                .as_deref(),
            Some("http://127.0.0.1:7400")
        );
    }

    #[test]
    fn rejects_unusable_forms() {
        for given in [
            "",
            "   ",
            "localhost",
            "grpc://localhost:7400",
            "localhost:7400/warden",
            "localhost:port",
            "http://:7400",
        ] {
            assert!(
                matches!(
                    normalize_endpoint(given, false),
                    Err(Error::InvalidEndpoint { .. })
                ),
                "{given:?} should be rejected"
            );
        }
    }

    #[tokio::test]
    async fn cursor_moves_on_failure_and_stays_on_success() {
        let set = EndpointSet::new(["a:1", "b:2", "c:3"], &ClientOptions::default())
            .expect("valid endpoints");
        assert_eq!(set.current(), 0);
        set.mark_failed(0);
        assert_eq!(set.current(), 1);
        // A late failure report for node 0 must not move the cursor off node 1 again.
        set.mark_failed(0);
        assert_eq!(set.current(), 1);
        set.mark_failed(1);
        set.mark_failed(2);
        assert_eq!(set.current(), 0, "wraps around");
        set.mark_ok(2);
        assert_eq!(set.current(), 2);
    }

    #[test]
    fn empty_list_is_an_error() {
        let none: [&str; 0] = [];
        assert!(matches!(
            EndpointSet::new(none, &ClientOptions::default()),
            Err(Error::NoEndpoints)
        ));
    }
}
