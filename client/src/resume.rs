//! The one resume loop behind every stream that survives node failures (task and
//! workspace watches, the audit export): it reopens the server stream on the next node,
//! with backoff, from just after the last item delivered, skips what the new stream
//! sends again, and gives up after `ClientOptions::resume_timeout` spent reconnecting
//! since the last item. What a stream follows, and how it judges an item, is its
//! [`Position`].

use std::future::Future;
use std::time::Duration;

use futures::Stream;
use tokio::time::Instant;
use tonic::Streaming;
use tonic::transport::Channel;

use crate::retry::{describe, is_unavailable};
use crate::{Client, Error};

/// What to do with an item a server sent.
pub(crate) enum Verdict {
    Deliver,
    /// Delivered before a break and sent again after it.
    Skip,
    /// An item arrived ahead of the one due: the ones between are missing.
    Gap(Error),
}

/// What a resumable stream follows and how far it has delivered.
pub(crate) trait Position: Send + 'static {
    type Item: Send + 'static;

    fn judge(&self, item: &Self::Item) -> Verdict;

    /// Moves the position past `item`, which is being delivered.
    fn delivered(&mut self, item: &Self::Item);

    /// Whether nothing follows `item`, so the stream ends without waiting for the server
    /// to close it.
    fn ends_with(&self, item: &Self::Item) -> bool;

    /// Opens a server stream from the position on `channel`.
    fn open(
        &self,
        client: &Client,
        channel: Channel,
    ) -> impl Future<Output = Result<Streaming<Self::Item>, tonic::Status>> + Send;

    /// Whether the server closing the stream at this position is its end (true) or a
    /// break to resume from (false).
    fn closed_at_end(&self, client: &Client) -> impl Future<Output = Result<bool, Error>> + Send;
}

/// A stream of `position`'s items that resumes across breaks; it ends at the end, or
/// after the first error.
pub(crate) fn resumable<P: Position>(
    client: Client,
    position: P,
) -> impl Stream<Item = Result<P::Item, Error>> + Send + 'static {
    let resume = Resume {
        client,
        position,
        open: None,
        reconnecting: Duration::ZERO,
        failures: 0,
        last_failure: String::new(),
    };
    futures::stream::unfold(Some(resume), |resume| async move {
        let mut resume = resume?;
        match resume.next().await {
            Some(Ok(item)) => {
                let more = (!resume.position.ends_with(&item)).then_some(resume);
                Some((Ok(item), more))
            }
            // After an error the stream ends: the caller decides whether to start over.
            Some(Err(error)) => Some((Err(error), None)),
            None => None,
        }
    })
}

/// Where a resumable stream stands between two items.
struct Resume<P: Position> {
    client: Client,
    position: P,
    /// The open server stream and the node serving it.
    open: Option<(Streaming<P::Item>, usize)>,
    /// Time spent reconnecting since the last delivered item, bounded by
    /// `ClientOptions::resume_timeout`. Time connected, waiting for items, is not counted:
    /// a task may rightly be quiet for a long time.
    reconnecting: Duration,
    /// Breaks and failed attempts to reopen since the last delivered item; sets the
    /// backoff before the next attempt.
    failures: u32,
    /// The most recent of those failures, for the error when reconnecting gives up.
    last_failure: String,
}

impl<P: Position> Resume<P> {
    /// The next item in order; `None` at the end.
    async fn next(&mut self) -> Option<Result<P::Item, Error>> {
        loop {
            let (mut stream, node) = match self.open.take() {
                Some(open) => open,
                None => match self.reopen().await {
                    Ok(open) => open,
                    Err(error) => return Some(Err(error)),
                },
            };
            match stream.message().await {
                Ok(Some(item)) => match self.position.judge(&item) {
                    Verdict::Skip => self.open = Some((stream, node)),
                    Verdict::Gap(error) => return Some(Err(error)),
                    Verdict::Deliver => {
                        self.position.delivered(&item);
                        self.reconnecting = Duration::ZERO;
                        self.failures = 0;
                        self.open = Some((stream, node));
                        return Some(Ok(item));
                    }
                },
                Ok(None) => match self.position.closed_at_end(&self.client).await {
                    Ok(true) => return None,
                    Ok(false) => {
                        let uri = self.client.endpoints().uri(node).to_owned();
                        self.broke(node, format!("{uri}: the stream ended early"));
                    }
                    Err(error) => return Some(Err(error)),
                },
                Err(status) if is_unavailable(&status) => {
                    let failure = describe(self.client.endpoints().uri(node), &status);
                    self.broke(node, failure);
                }
                Err(status) => return Some(Err(Error::Status(status))),
            }
        }
    }

    /// Records a broken stream, so the next attempt goes to another node after a pause.
    fn broke(&mut self, node: usize, failure: String) {
        self.client.endpoints().mark_failed(node);
        self.failures += 1;
        self.last_failure = failure;
    }

    /// Opens a server stream from the position, trying the nodes in turn with backoff
    /// until one accepts or the reconnecting budget is spent.
    async fn reopen(&mut self) -> Result<(Streaming<P::Item>, usize), Error> {
        let policy = *self.client.policy();
        loop {
            let started = Instant::now();
            if self.failures > 0 {
                let remaining = policy.resume_timeout.saturating_sub(self.reconnecting);
                if remaining.is_zero() {
                    return Err(Error::Unavailable {
                        attempts: self.failures,
                        last: self.last_failure.clone(),
                    });
                }
                tokio::time::sleep(policy.backoff(self.failures).min(remaining)).await;
            }
            let endpoints = self.client.endpoints();
            let node = endpoints.current();
            let opened = self
                .position
                .open(&self.client, endpoints.channel(node))
                .await;
            self.reconnecting += started.elapsed();
            match opened {
                Ok(stream) => {
                    endpoints.mark_ok(node);
                    return Ok((stream, node));
                }
                Err(status) if is_unavailable(&status) => {
                    let failure = describe(endpoints.uri(node), &status);
                    self.broke(node, failure);
                }
                Err(status) => return Err(Error::Status(status)),
            }
        }
    }
}
