//! The gRPC API of Warden, generated from `proto/warden/v1/*.proto`: the public
//! `warden.v1` services and the node-to-node `warden.internal.v1` Raft transport.

/// The public API.
pub mod v1 {
    tonic::include_proto!("warden.v1");
}

mod redact;

/// The node-to-node API.
pub mod internal {
    tonic::include_proto!("warden.internal.v1");
}

/// The encoded `FileDescriptorSet` of both APIs, as protoc compiled them.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/warden_descriptor.bin"));

/// [`FILE_DESCRIPTOR_SET`], decoded: every service, method and message of both APIs.
pub fn file_descriptor_set() -> Result<prost_types::FileDescriptorSet, prost::DecodeError> {
    prost::Message::decode(FILE_DESCRIPTOR_SET)
}
