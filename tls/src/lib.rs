//! The cluster's certificates. One certificate authority per cluster signs a
//! certificate for each node (its identity, `node-<id>.warden`, plus the host names and
//! addresses clients reach it by) and, optionally, for clients. Nodes authenticate each
//! other with these (mutual TLS) and tell which node a peer is from its certificate.
//!
//! `warden cert ...` and the local cluster harness issue them with [`Ca`]; the node reads
//! the identity a peer's certificate proves with [`node_id_of`].

mod ca;
mod error;
mod files;
mod identity;

pub use ca::{Ca, Issued};
pub use error::Error;
pub use files::{write_bootstrap_token, write_private, write_public};
pub use identity::{NODE_NAME_SUFFIX, node_id_of, node_id_of_pem, node_name};
