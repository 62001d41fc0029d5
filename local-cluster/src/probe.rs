//! Waiting on a cluster from a test or a harness: poll a condition until it holds, and
//! read every task of a workspace as one node has applied it.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use warden_client::proto::Task;
use warden_client::{Client, Consistency};

/// Polls `check` every 25 ms until it returns `Some`, and panics naming `what` if it has
/// not after `within`.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Every task in `workspace` as the node behind `client` (node `id`) has applied it:
/// local reads, all pages.
pub async fn all_tasks(client: &Client, id: u64, workspace: &str) -> Vec<Task> {
    let mut tasks = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_tasks(workspace, 1000, &token, Consistency::Local)
            .await
            .unwrap_or_else(|error| panic!("list tasks on node {id}: {error}"));
        tasks.extend(page.tasks);
        if page.next_page_token.is_empty() {
            return tasks;
        }
        token = page.next_page_token;
    }
}
