//! The cluster's certificate authority and the certificates it issues.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

use crate::{Error, node_name, write_private, write_public};

/// How long a CA certificate is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How long a node or client certificate is valid.
pub const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Clocks of the issuer and the verifier may differ a little.
const BACKDATE: Duration = Duration::from_secs(300);

/// A certificate authority: its certificate (PEM) and signing key.
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A certificate and its private key, both PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Issued {
    /// Writes `<stem>.pem` and `<stem>.key` (0600) into `dir`; refuses to overwrite.
    pub fn write(&self, dir: &Path, stem: &str) -> Result<(), Error> {
        write_private(&dir.join(format!("{stem}.key")), &self.key_pem)?;
        write_public(&dir.join(format!("{stem}.pem")), &self.cert_pem)
    }
}

impl Ca {
    /// A new self-signed CA named `name` (its subject's common name).
    pub fn generate(name: &str) -> Result<Ca, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = named(name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        valid_for(&mut params, CA_VALIDITY);
        let key = KeyPair::generate().map_err(Error::Generate)?;
        let cert = params.self_signed(&key).map_err(Error::Generate)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA in `dir` (`ca.pem`, `ca.key`), as [`Ca::write`] left it.
    pub fn load(dir: &Path) -> Result<Ca, Error> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| Error::Read { path, source })
        };
        let cert_pem = read("ca.pem")?;
        let key = KeyPair::from_pem(&read("ca.key")?).map_err(|error| Error::Parse {
            what: dir.join("ca.key").display().to_string(),
            kind: "private key",
            message: error.to_string(),
        })?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(|error| Error::Parse {
            what: dir.join("ca.pem").display().to_string(),
            kind: "certificate",
            message: error.to_string(),
        })?;
        Ok(Ca { cert_pem, issuer })
    }

    /// Writes `ca.pem` and `ca.key` (0600) into `dir`; refuses to overwrite.
    pub fn write(&self, dir: &Path) -> Result<(), Error> {
        write_private(&dir.join("ca.key"), &self.issuer.key().serialize_pem())?;
        write_public(&dir.join("ca.pem"), &self.cert_pem)
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A certificate for node `id`: its identity name `node-<id>.warden` plus `hosts`
    /// (IP addresses or DNS names clients use to reach it), good for both ends of a TLS
    /// connection, since a node serves and also calls its peers.
    pub fn issue_node(&self, id: u64, hosts: &[String]) -> Result<Issued, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = named(&format!("warden node {id}"));
        params.subject_alt_names = vec![dns(&node_name(id))?];
        for host in hosts {
            let san = san(host)?;
            if !params.subject_alt_names.contains(&san) {
                params.subject_alt_names.push(san);
            }
        }
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        self.issue(params)
    }

    /// A client certificate for `name` (an operator's tool, say): it names no node, so
    /// it never passes as one.
    pub fn issue_client(&self, name: &str) -> Result<Issued, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = named(name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> Result<Issued, Error> {
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        valid_for(&mut params, LEAF_VALIDITY);
        let key = KeyPair::generate().map_err(Error::Generate)?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(Error::Generate)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn named(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn valid_for(params: &mut CertificateParams, validity: Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
}

fn san(host: &str) -> Result<SanType, Error> {
    match host.parse::<IpAddr>() {
        Ok(ip) => Ok(SanType::IpAddress(ip)),
        Err(_) => dns(host),
    }
}

fn dns(name: &str) -> Result<SanType, Error> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if !valid {
        return Err(Error::BadHost(name.to_owned()));
    }
    name.to_owned()
        .try_into()
        .map(SanType::DnsName)
        .map_err(|_| Error::BadHost(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node_id_of;

    fn der(pem: &str) -> Vec<u8> {
        let body: String = pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect();
        base64_decode(&body)
    }

    /// A minimal base64 decoder for the test (the crate needs none otherwise).
    fn base64_decode(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for byte in text.bytes().filter(|b| *b != b'=') {
            let value = ALPHABET.iter().position(|c| *c == byte).expect("base64") as u32;
            bits = (bits << 6) | value;
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        out
    }

    #[test]
    fn node_certificates_name_their_node_and_clients_name_none() {
        let ca = Ca::generate("test cluster").expect("ca");
        let node = ca
            .issue_node(3, &["127.0.0.1".to_owned(), "warden-3.example".to_owned()])
            .expect("node cert");
        assert_eq!(node_id_of(&der(&node.cert_pem)).expect("parse"), Some(3));
        let client = ca.issue_client("alice").expect("client cert");
        assert_eq!(node_id_of(&der(&client.cert_pem)).expect("parse"), None);
        assert!(!format!("{node:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_ca_written_and_loaded_issues_again_and_keys_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        Ca::generate("c")
            .expect("ca")
            .write(dir.path())
            .expect("write");
        let mode = std::fs::metadata(dir.path().join("ca.key"))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = Ca::load(dir.path()).expect("load");
        loaded.issue_node(1, &[]).expect("issue");
        let again = Ca::generate("c").expect("ca").write(dir.path());
        assert!(matches!(again, Err(Error::Exists(_))), "{again:?}");
    }

    #[test]
    fn bad_hosts_are_refused() {
        let ca = Ca::generate("c").expect("ca");
        for bad in ["", "has space", "-lead.example", "a..b"] {
            assert!(
                matches!(ca.issue_node(1, &[bad.to_owned()]), Err(Error::BadHost(_))),
                "{bad}"
            );
        }
    }
}
