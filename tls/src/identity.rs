//! The node identity a certificate proves: the DNS name `node-<id>.warden` among its
//! subject alternative names. Peers dial each other with that name as the TLS server
//! name, so the handshake itself checks who answered; a server reads the caller's id
//! from the client certificate with [`node_id_of`].

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::Error;

/// What follows the node id in a node's identity name.
pub const NODE_NAME_SUFFIX: &str = ".warden";

/// The identity name of node `id`: `node-<id>.warden`.
pub fn node_name(id: u64) -> String {
    format!("node-{id}{NODE_NAME_SUFFIX}")
}

/// The node id a DER certificate names, `None` when it names no node (a client's
/// certificate), or an error when it cannot be parsed or names more than one node.
/// The caller has already verified the certificate against the cluster's CA.
pub fn node_id_of(der: &[u8]) -> Result<Option<u64>, Error> {
    let (_, certificate) = X509Certificate::from_der(der).map_err(|error| Error::Parse {
        what: "peer certificate".to_owned(),
        kind: "certificate",
        message: error.to_string(),
    })?;
    let mut ids = Vec::new();
    let names = certificate
        .subject_alternative_name()
        .map_err(|error| Error::Parse {
            what: "peer certificate's subject alternative names".to_owned(),
            kind: "certificate",
            message: error.to_string(),
        })?;
    for name in names
        .iter()
        .flat_map(|names| names.value.general_names.iter())
    {
        if let GeneralName::DNSName(dns) = name
            && let Some(id) = parse_node_name(dns)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
    }
    match ids.as_slice() {
        [] => Ok(None),
        [id] => Ok(Some(*id)),
        _ => Err(Error::SeveralNodes(ids)),
    }
}

/// Like [`node_id_of`], for the first certificate of a PEM file.
pub fn node_id_of_pem(pem: &[u8]) -> Result<Option<u64>, Error> {
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem).map_err(|error| Error::Parse {
        what: "certificate file".to_owned(),
        kind: "certificate",
        message: error.to_string(),
    })?;
    node_id_of(&parsed.contents)
}

/// The id in `node-<id>.warden` (exactly that form: no leading zeros, positive).
fn parse_node_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("node-")?.strip_suffix(NODE_NAME_SUFFIX)?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_parse_exactly() {
        assert_eq!(parse_node_name(&node_name(7)), Some(7));
        for bad in [
            "node-0.warden",
            "node-07.warden",
            "node-.warden",
            "node-7.warden.evil",
            "xnode-7.warden",
            "node-7x.warden",
            "node-99999999999999999999.warden",
        ] {
            assert_eq!(parse_node_name(bad), None, "{bad}");
        }
    }
}
