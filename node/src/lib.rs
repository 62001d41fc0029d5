//! The Warden node: configuration, the gRPC services, the write path (forwarding to
//! the leader) and read path (read-index), metrics and the runtime host. The `warden`
//! binary (`src/bin/warden/`) adds the commands that drive a local cluster (`dev`,
//! `demo`); this library uses neither `warden-client` nor `warden-local-cluster`. The
//! composition root: nothing depends on this crate.

pub mod anchor;
pub mod api;
pub mod audit_file;
pub mod auth;
pub mod bootstrap;
pub mod cert_cmd;
pub mod cluster;
pub mod config;
pub mod console;
pub mod convert;
pub mod error;
pub mod failpoints;
pub mod health;
pub mod hooks;
pub mod http;
pub mod metrics;
pub mod peers;
pub mod rpc_metrics;
pub mod runtime;
pub mod sandbox;
pub mod schedules;
pub mod secrets;
pub mod server;
pub mod services;
pub mod tls;
pub mod traces;
pub mod versions;
pub mod webhooks;

pub use error::Error;
