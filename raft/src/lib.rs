//! Warden's replicated log: openraft's storage traits implemented over one RocksDB
//! database per node, the state machine that applies `warden_core::apply()` to it, and
//! the Raft transport carried over gRPC.
//!
//! Only [`keys`] knows the RocksDB key layout; only [`codec`] knows how values are
//! encoded.

pub mod active;
pub mod backup;
pub mod codec;
pub mod derived;
pub mod error;
pub mod failpoints;
pub mod format;
pub mod keys;
pub mod log_store;
pub mod metrics;
pub mod network;
pub mod options;
pub mod peer_transport;
pub mod service;
pub mod state_machine;
pub mod state_reader;
pub mod storage;
pub mod types;
pub mod wire;

pub use active::ActiveTask;
pub use error::Error;
pub use log_store::LogStore;
pub use network::Network;
pub use options::Options;
pub use peer_transport::{PeerTls, PeerTransport};
pub use service::RaftGrpc;
pub use state_machine::StateMachineStore;
pub use state_reader::{
    AnchorReport, AuditFilter, AuditPage, AuditVerification, PendingDelivery, StateReader,
};
pub use storage::Storage;
pub use types::{NodeId, Raft, TypeConfig};
