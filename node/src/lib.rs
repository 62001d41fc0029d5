//! The Warden node: configuration, the gRPC services, the write path (forwarding to
//! the leader) and read path (read-index), metrics, and the local multi-process
//! cluster used by `warden dev`, `warden demo` and the tests. The composition root:
//! nothing depends on this crate.

pub mod anchor;
pub mod api;
pub mod audit_file;
pub mod auth;
pub mod bootstrap;
pub mod cert_cmd;
pub mod cluster;
pub mod config;
pub mod convert;
pub mod demo;
pub mod error;
pub mod failpoints;
pub mod metrics;
pub mod peers;
pub mod rpc_metrics;
pub mod runtime;
pub mod sandbox;
pub mod secrets;
pub mod server;
pub mod tls;

pub use error::Error;
