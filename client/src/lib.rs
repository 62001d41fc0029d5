//! Rust client for Warden's public gRPC API (`warden.v1`): connects to any set of nodes,
//! retries on unavailable ones and resumes broken audit exports and task watches.
//!
//! ```no_run
//! # async fn example() -> Result<(), warden_client::Error> {
//! use futures::StreamExt;
//! use warden_client::{Client, ClientOptions, Consistency};
//!
//! let client = Client::connect(["127.0.0.1:7400", "127.0.0.1:7401"], ClientOptions::default())?;
//! let submitted = client
//!     .submit_task("default", "triage", "summarize the incident", None)
//!     .await?;
//! println!("idempotency key {}", submitted.idempotency_key);
//! let task_id = submitted.response.task.unwrap_or_default().id;
//! let events = client.watch_task("default", task_id, 0);
//! futures::pin_mut!(events);
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     println!("{} {}", event.seq, event.kind);
//! }
//! let status = client.cluster_status().await?;
//! println!("leader {:?}", status.leader_id);
//! let _tasks = client.list_tasks("default", 100, "", Consistency::Linearizable).await?;
//! # Ok(())
//! # }
//! ```

mod agents;
mod backup;
mod catalog;
mod client;
mod config_files;
mod consistency;
mod delete;
mod endpoint;
mod error;
mod export;
mod governance;
mod identity;
mod options;
mod resume;
mod retry;
mod schedules;
mod settings;
mod tasks;
mod tls;
mod token;
mod triggers;
mod watch;
mod webhooks;

pub use backup::{Backup, BackupInfo};
pub use client::{AuditTail, Client};
pub use consistency::Consistency;
pub use endpoint::normalize_endpoint;
pub use error::Error;
pub use governance::{BudgetLimits, PauseTarget, PolicyProbe};
pub use options::ClientOptions;
pub use tasks::{Resolution, SubmittedTask, TaskFilter};
pub use tls::ClientTls;
pub use token::BearerToken;

/// The generated `warden.v1` message types returned by [`Client`], re-exported so callers
/// need not depend on `warden-proto` themselves.
pub use warden_proto::v1 as proto;
