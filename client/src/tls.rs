//! TLS for the client's connections: the cluster CA that server certificates must chain
//! to (a node's certificate names the addresses clients reach it by), and optionally a
//! client certificate for clusters that ask for one.

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

/// PEM contents, read by the caller (`wardenctl --ca/--cert/--key` reads files).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// The cluster's CA certificate.
    pub ca_pem: Vec<u8>,
    /// A client certificate and its key, both PEM.
    pub identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("identity", &self.identity.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    pub(crate) fn config(&self) -> ClientTlsConfig {
        let config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca_pem));
        match &self.identity {
            Some((cert, key)) => config.identity(Identity::from_pem(cert, key)),
            None => config,
        }
    }
}
