//! Calling the node-to-node services as a peer would: a TLS channel that trusts the
//! cluster's CA, expects a given node and presents a chosen certificate, and forged
//! proposals to send through it.

use std::path::Path;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use warden_core::{Command, Principal, TokenId};
use warden_proto::internal::RaftPayload;
use warden_tls::Issued;

/// A channel to `endpoint` trusting the cluster's CA in `tls_dir`, presenting `identity`.
pub async fn tls_channel(
    tls_dir: &Path,
    endpoint: &str,
    expect_node: u64,
    identity: Option<&Issued>,
) -> Result<Channel, tonic::transport::Error> {
    let ca = std::fs::read(tls_dir.join("ca.pem")).expect("read ca.pem");
    let mut config = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca))
        .domain_name(warden_tls::node_name(expect_node));
    if let Some(issued) = identity {
        config = config.identity(Identity::from_pem(&issued.cert_pem, &issued.key_pem));
    }
    Endpoint::from_shared(format!("https://{endpoint}"))
        .expect("endpoint")
        .tls_config(config)
        .expect("tls config")
        .connect()
        .await
}

/// A proposal as a peer forwards it: `principal` (with `token`) asks for `command` at
/// `time_ms` by the forwarding node's clock.
pub fn proposal(
    time_ms: u64,
    principal: Principal,
    token: Option<TokenId>,
    command: Command,
) -> RaftPayload {
    let request = warden_core::Request {
        time_ms,
        principal,
        token,
        command,
    };
    RaftPayload {
        data: warden_raft::wire::encode("request", &request).expect("encode"),
    }
}
