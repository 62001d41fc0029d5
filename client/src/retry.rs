//! The retry loop shared by every call: which failures are retried, how long to back off,
//! moving on to the next node after an unavailable one, and which calls may be sent again
//! when an earlier attempt may have reached a server.

use std::error::Error as _;
use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tonic::transport::Channel;
use tonic::{Code, Status};

use crate::endpoint::EndpointSet;
use crate::{ClientOptions, Error};

/// The retry settings taken from `ClientOptions`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RetryPolicy {
    pub(crate) max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    /// Reconnecting budget of a task watch between two events.
    pub(crate) resume_timeout: Duration,
    request_timeout: Duration,
}

impl RetryPolicy {
    pub(crate) fn new(options: &ClientOptions) -> Self {
        RetryPolicy {
            max_attempts: options.max_attempts.max(1),
            initial_backoff: options.initial_backoff,
            max_backoff: options.max_backoff.max(options.initial_backoff),
            resume_timeout: options.resume_timeout,
            request_timeout: options.request_timeout,
        }
    }

    /// The longest a server-side wait (`WaitTask`) may last so that its answer still comes
    /// within the per-attempt deadline: three quarters of it, leaving room for the network
    /// and the read barrier.
    pub(crate) fn max_server_wait(&self) -> Duration {
        self.request_timeout.saturating_mul(3) / 4
    }

    /// The pause after `failures` consecutive failures: the initial backoff doubled per
    /// earlier failure, capped, then "equal jitter" (half fixed, half random) so that
    /// clients that failed together do not retry together.
    pub(crate) fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        let base = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let half = base / 2;
        let jitter_nanos = rand::rng().random_range(0..=half.as_nanos() as u64);
        half + Duration::from_nanos(jitter_nanos)
    }
}

/// Whether the node could not serve the call at all, so that another node may: the
/// server said UNAVAILABLE, or the connection failed. Tonic reports most connection
/// failures as UNAVAILABLE, but a connection that breaks mid-call surfaces as UNKNOWN
/// carrying the transport error as its source (a status sent by a server never has a
/// source), and a channel whose worker failed as UNKNOWN "Service was not ready".
pub(crate) fn is_unavailable(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable => true,
        Code::Unknown => {
            status.source().is_some() || status.message().starts_with("Service was not ready")
        }
        // A connection that broke under a call (the node died mid-request) surfaces as
        // CANCELLED with the transport error as its source; the client's own request
        // timeout is CANCELLED too, but its source is `TimeoutExpired`, and is not retried.
        Code::Cancelled => broke_in_transport(status),
        _ => false,
    }
}

/// Whether a call may be sent again after an attempt that may have reached a server.
///
/// A node that fails mid-call, or answers UNAVAILABLE because its write did not commit in
/// time, may still have executed the call (the write can commit later). Sending it again
/// is harmless for reads and for writes that converge: a submission carries its
/// idempotency key, and putting a provider or registering an MCP server replaces it with
/// the same definition. For other writes a second execution answers differently or acts
/// again: a cancel that took effect answers FAILED_PRECONDITION, a created agent
/// ALREADY_EXISTS, an applied update ABORTED, and a resolution could even decide a later
/// interruption of the same task. Those are sent again only when no earlier attempt can
/// have reached a server (the connection could not be established).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resend {
    /// Reads and convergent writes: retried on every unavailable failure.
    Always,
    /// Writes that must run at most once: retried only while nothing was sent.
    WhenUnsent,
}

/// Whether the failed attempt certainly never reached a server: the connection could not
/// be established (tonic marks that with `ConnectError` in the source chain), or the
/// channel refused the call before sending it ("Service was not ready"). A status sent by
/// a server has no source.
pub(crate) fn never_sent(status: &Status) -> bool {
    if status.code() == Code::Unknown && status.message().starts_with("Service was not ready") {
        return true;
    }
    let mut source = status.source();
    while let Some(cause) = source {
        if cause.is::<tonic::ConnectError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether the status is the client's own request timeout.
fn timed_out(status: &Status) -> bool {
    let mut source = status.source();
    while let Some(cause) = source {
        if cause.is::<tonic::TimeoutExpired>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Whether the status came from the connection failing rather than from a timeout.
fn broke_in_transport(status: &Status) -> bool {
    let mut source = status.source();
    let mut transport = false;
    while let Some(cause) = source {
        if cause.is::<tonic::TimeoutExpired>() {
            return false;
        }
        transport |= cause.is::<tonic::transport::Error>();
        source = cause.source();
    }
    transport
}

/// A one-line description of a failed attempt, including the transport error chain,
/// which tonic keeps out of the status message.
pub(crate) fn describe(uri: &str, status: &Status) -> String {
    let mut text = format!("{uri}: {}", status.message());
    let mut source = status.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Runs `attempt` against the current node, retrying on the next node with backoff while
/// it fails with UNAVAILABLE, as far as `resend` allows. Returns the result and the index
/// of the node that gave it.
pub(crate) async fn call<T, F, Fut>(
    endpoints: &EndpointSet,
    policy: &RetryPolicy,
    resend: Resend,
    mut attempt: F,
) -> Result<(T, usize), Error>
where
    F: FnMut(Channel) -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut last = String::new();
    for attempt_number in 1..=policy.max_attempts {
        if attempt_number > 1 {
            tokio::time::sleep(policy.backoff(attempt_number - 1)).await;
        }
        let index = endpoints.current();
        match attempt(endpoints.channel(index)).await {
            Ok(value) => {
                endpoints.mark_ok(index);
                return Ok((value, index));
            }
            Err(status) if is_unavailable(&status) => {
                endpoints.mark_failed(index);
                last = describe(endpoints.uri(index), &status);
                if resend == Resend::WhenUnsent && !never_sent(&status) {
                    return Err(Error::OutcomeUnknown {
                        attempts: attempt_number,
                        last,
                    });
                }
            }
            Err(status) => {
                // No answer within the request timeout: the node may be stopped or cut
                // off. The call is not sent again (it may have run), but the next call
                // starts at the next node instead of waiting on this one again.
                if timed_out(&status) {
                    endpoints.mark_failed(index);
                }
                return Err(Error::Status(status));
            }
        }
    }
    Err(Error::Unavailable {
        attempts: policy.max_attempts,
        last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(initial_ms: u64, max_ms: u64) -> RetryPolicy {
        RetryPolicy::new(&ClientOptions {
            initial_backoff: Duration::from_millis(initial_ms),
            max_backoff: Duration::from_millis(max_ms),
            ..ClientOptions::default()
        })
    }

    #[test]
    fn backoff_doubles_within_jitter_bounds_and_is_capped() {
        let policy = policy(100, 1000);
        for (failures, base_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let base = Duration::from_millis(base_ms);
            for _ in 0..50 {
                let pause = policy.backoff(failures);
                assert!(pause >= base / 2 && pause <= base, "{failures}: {pause:?}");
            }
        }
    }

    #[test]
    fn zero_attempts_means_one() {
        let policy = RetryPolicy::new(&ClientOptions {
            max_attempts: 0,
            ..ClientOptions::default()
        });
        assert_eq!(policy.max_attempts, 1);
    }

    #[test]
    fn only_unavailable_and_transport_failures_are_retried() {
        assert!(is_unavailable(&Status::unavailable("no leader")));
        assert!(is_unavailable(&Status::unknown(
            "Service was not ready: transport error"
        )));
        let broken = Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )));
        assert_eq!(broken.code(), Code::Unknown);
        assert!(is_unavailable(&broken));

        assert!(!is_unavailable(&Status::unknown("server says unknown")));
        assert!(!is_unavailable(&Status::not_found("no such task")));
        assert!(!is_unavailable(&Status::cancelled("Timeout expired")));
        assert!(!is_unavailable(&Status::already_exists("key reused")));
    }

    #[test]
    fn only_connection_failures_and_unready_channels_were_never_sent() {
        let refused = Status::from_error(Box::new(tonic::ConnectError(Box::new(
            std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused"),
        ))));
        assert_eq!(refused.code(), Code::Unavailable);
        assert!(never_sent(&refused));
        assert!(never_sent(&Status::unknown(
            "Service was not ready: transport error"
        )));

        let broken = Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )));
        assert!(
            !never_sent(&broken),
            "a call cut short may have been executed"
        );
        assert!(!never_sent(&Status::unavailable("not committed in time")));
    }
}
