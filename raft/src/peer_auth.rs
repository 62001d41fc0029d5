//! The credential nodes present to each other on the node-to-node services: a value
//! derived from the cluster's shared master key, sent as `authorization: Peer <hex>`.
//! Checked by the node's authentication layer.

use subtle::ConstantTimeEq;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;

/// The scheme of the `authorization` header a node sends to its peers.
pub const SCHEME: &str = "Peer ";

/// A node's peer credential, or none when the node has no master key (then the
/// node-to-node services are open, and the node warns at start).
#[derive(Clone, Default)]
pub struct PeerAuth {
    header: Option<MetadataValue<Ascii>>,
}

impl PeerAuth {
    /// The credential for `secret` (32 bytes derived from the master key).
    pub fn new(secret: &[u8; 32]) -> PeerAuth {
        let header = MetadataValue::try_from(format!("{SCHEME}{}", hex::encode(secret))).ok();
        PeerAuth { header }
    }

    pub fn is_set(&self) -> bool {
        self.header.is_some()
    }

    /// Whether `presented` (an `authorization` header value) is this credential,
    /// compared in constant time. Always true when none is set.
    pub fn admits(&self, presented: Option<&[u8]>) -> bool {
        match (&self.header, presented) {
            (None, _) => true,
            (Some(expected), Some(presented)) => {
                let expected = expected.as_bytes();
                expected.len() == presented.len() && bool::from(expected.ct_eq(presented))
            }
            (Some(_), None) => false,
        }
    }
}

impl std::fmt::Debug for PeerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PeerAuth({})",
            if self.is_set() { "<redacted>" } else { "none" }
        )
    }
}

/// Adds the credential to every outgoing request that carries no `authorization` of
/// its own (a user's call forwarded to the leader keeps the user's token).
impl Interceptor for PeerAuth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(header) = &self.header
            && !request.metadata().contains_key("authorization")
        {
            request
                .metadata_mut()
                .insert("authorization", header.clone());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_is_admitted_and_debug_hides_it() {
        let auth = PeerAuth::new(&[7; 32]);
        let same = PeerAuth::new(&[7; 32]);
        let other = PeerAuth::new(&[8; 32]);
        let header = |auth: &PeerAuth| auth.header.as_ref().map(|value| value.as_bytes().to_vec());
        assert!(auth.admits(header(&same).as_deref()));
        assert!(!auth.admits(header(&other).as_deref()));
        assert!(!auth.admits(None));
        assert!(!auth.admits(Some(b"Bearer wdn_x")));
        assert!(PeerAuth::default().admits(None));
        assert!(!format!("{auth:?}").contains(&hex::encode([7u8; 32])));
    }

    #[test]
    fn a_forwarded_request_keeps_its_own_authorization() {
        let mut auth = PeerAuth::new(&[7; 32]);
        let mut request = tonic::Request::new(());
        request
            .metadata_mut()
            .insert("authorization", "Bearer wdn_user".parse().expect("ascii"));
        let request = auth.call(request).expect("intercepted");
        assert_eq!(
            request
                .metadata()
                .get("authorization")
                .map(|v| v.as_bytes().to_vec()),
            Some(b"Bearer wdn_user".to_vec())
        );
        let bare = auth.call(tonic::Request::new(())).expect("intercepted");
        assert!(bare.metadata().get("authorization").is_some());
    }
}
