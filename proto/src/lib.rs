//! The gRPC API of Warden, generated from `proto/warden/v1/*.proto`: the public
//! `warden.v1` services and the node-to-node `warden.internal.v1` Raft transport.

/// The public API.
pub mod v1 {
    tonic::include_proto!("warden.v1");
}

/// The node-to-node API.
pub mod internal {
    tonic::include_proto!("warden.internal.v1");
}
