//! Who may do what: bearer tokens (stored only as a hash), role bindings per workspace
//! or for the whole cluster, and the permissions each role carries.
//!
//! A token reads `wdn_<id>_<secret>`: the id (16 hex characters) is public and names the
//! stored record; the secret (32 random bytes, base64url) is never stored, only its
//! SHA-256, which a presented token is compared against in constant time.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::hash::Hash;
use crate::ids::{Principal, WorkspaceId};
use crate::role::Role;

/// The public part of a token, which names its stored record.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenId(pub [u8; 8]);

impl TokenId {
    pub fn parse(text: &str) -> Result<TokenId, Error> {
        let mut bytes = [0u8; 8];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| Error::InvalidTokenId {
            value: text.to_owned(),
        })?;
        Ok(TokenId(bytes))
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenId({self})")
    }
}

/// A token as a caller presented it. Its secret is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken {
    pub id: TokenId,
    secret: Vec<u8>,
}

/// How many random bytes a token's secret has.
pub const TOKEN_SECRET_BYTES: usize = 32;
const TOKEN_PREFIX: &str = "wdn_";

impl PresentedToken {
    /// Builds a token from freshly generated parts (the node does this; core has no
    /// randomness).
    pub fn new(id: TokenId, secret: [u8; TOKEN_SECRET_BYTES]) -> PresentedToken {
        PresentedToken {
            id,
            secret: secret.to_vec(),
        }
    }

    /// Parses `wdn_<16 hex>_<secret>`. The error never contains the secret.
    pub fn parse(text: &str) -> Result<PresentedToken, Error> {
        let malformed = |reason: &'static str| Error::MalformedToken { reason };
        let rest = text
            .strip_prefix(TOKEN_PREFIX)
            .ok_or(malformed("a token starts with wdn_"))?;
        let (id, secret) = rest
            .split_once('_')
            .ok_or(malformed("a token reads wdn_<id>_<secret>"))?;
        let id = TokenId::parse(id).map_err(|_| malformed("the token id is not 16 hex digits"))?;
        let secret =
            decode_base64url(secret).ok_or(malformed("the token secret is not base64url"))?;
        if secret.len() != TOKEN_SECRET_BYTES {
            return Err(malformed("the token secret is not 32 bytes"));
        }
        Ok(PresentedToken { id, secret })
    }

    /// The text a caller presents. Shown once, when the token is created.
    pub fn expose(&self) -> String {
        format!(
            "{TOKEN_PREFIX}{}_{}",
            self.id,
            encode_base64url(&self.secret)
        )
    }

    /// What is stored: the SHA-256 of the secret.
    pub fn secret_hash(&self) -> Hash {
        Hash::of(&self.secret)
    }

    /// Whether this token's secret hashes to `stored`, compared in constant time.
    pub fn matches(&self, stored: &Hash) -> bool {
        self.secret_hash().0.ct_eq(&stored.0).into()
    }
}

impl std::fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PresentedToken({}, <redacted>)", self.id)
    }
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub id: TokenId,
    pub principal: Principal,
    pub secret_hash: Hash,
    pub description: String,
    pub created_ms: u64,
    pub created_by: Principal,
    /// Wall-clock time from which the token is refused.
    pub expires_at_ms: Option<u64>,
    pub revoked_ms: Option<u64>,
    pub revoked_by: Option<Principal>,
}

impl Token {
    /// Why the token cannot be used at `time_ms`, if it cannot.
    pub fn unusable_at(&self, time_ms: u64) -> Option<String> {
        if let Some(revoked) = self.revoked_ms {
            return Some(format!("token {} was revoked at {revoked} ms", self.id));
        }
        match self.expires_at_ms {
            Some(expiry) if time_ms >= expiry => {
                Some(format!("token {} expired at {expiry} ms", self.id))
            }
            _ => None,
        }
    }
}

/// Where a role binding applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Every workspace, and the cluster itself (workspaces, tokens, cluster admins).
    Cluster,
    Workspace(WorkspaceId),
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Cluster => f.write_str("cluster"),
            Scope::Workspace(workspace) => write!(f, "workspace/{workspace}"),
        }
    }
}

/// The roles one principal holds in one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleBinding {
    pub scope: Scope,
    pub principal: Principal,
    /// Sorted, without duplicates, never empty (an empty binding is deleted).
    pub roles: Vec<Role>,
    pub updated_ms: u64,
    pub updated_by: Principal,
}

/// What an operation needs. Each role carries a fixed set (see [`Role::grants`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read configuration, tasks, journals and events.
    Read,
    /// Providers, MCP servers, agents.
    Configure,
    /// Submit, cancel and resolve tasks; pause and resume.
    Operate,
    /// Decide approval requests.
    Approve,
    /// Read and export the audit chain.
    ReadAudit,
    /// Role bindings, policy and secrets of a workspace.
    Administer,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Configure => "configure",
            Permission::Operate => "operate",
            Permission::Approve => "approve",
            Permission::ReadAudit => "read_audit",
            Permission::Administer => "administer",
        }
    }
}

impl Role {
    pub fn grants(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Operator => matches!(permission, Read | Configure | Operate),
            Role::Approver => matches!(permission, Read | Approve),
            Role::Auditor => matches!(permission, Read | ReadAudit),
            Role::Viewer => matches!(permission, Read),
        }
    }
}

/// Sorts and deduplicates roles as a binding stores them.
pub fn normalize_roles(mut roles: Vec<Role>) -> Vec<Role> {
    roles.sort();
    roles.dedup();
    roles
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode_base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(BASE64URL[((n >> (18 - 6 * i)) & 0x3f) as usize]));
        }
    }
    out
}

fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for byte in text.bytes() {
        let value = BASE64URL.iter().position(|&c| c == byte)? as u32;
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding, or the text was not produced by the encoder.
    (acc == 0 && bits < 6).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_matches_only_its_own_hash() {
        let token = PresentedToken::new(TokenId([1, 2, 3, 4, 5, 6, 7, 8]), [7; 32]);
        let text = token.expose();
        assert!(text.starts_with("wdn_0102030405060708_"), "{text}");
        let parsed = PresentedToken::parse(&text).expect("parses");
        assert_eq!(parsed, token);
        assert!(parsed.matches(&token.secret_hash()));
        let other = PresentedToken::new(token.id, [8; 32]);
        assert!(!parsed.matches(&other.secret_hash()));
    }

    #[test]
    fn base64url_round_trips_every_length() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(decode_base64url(&encode_base64url(&bytes)), Some(bytes));
        }
    }

    #[test]
    fn malformed_tokens_are_refused_without_echoing_the_secret() {
        let secret = encode_base64url(&[9; 32]);
        for text in [
            format!("xyz_0102030405060708_{secret}"),
            format!("wdn_01020304050607_{secret}"),
            format!("wdn_0102030405060708{secret}"),
            format!("wdn_0102030405060708_{}", &secret[..20]),
            format!("wdn_0102030405060708_{secret}!"),
        ] {
            let error = PresentedToken::parse(&text).expect_err(&text).to_string();
            assert!(!error.contains(&secret), "{error}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = PresentedToken::new(TokenId([0; 8]), [0xab; 32]);
        let shown = format!("{token:?}");
        assert!(!shown.contains(&encode_base64url(&[0xab; 32])), "{shown}");
    }

    #[test]
    fn expiry_and_revocation_make_a_token_unusable() {
        let mut token = Token {
            id: TokenId([0; 8]),
            principal: Principal::parse("user/alice").expect("valid"),
            secret_hash: Hash::ZERO,
            description: String::new(),
            created_ms: 0,
            created_by: Principal::system(),
            expires_at_ms: Some(100),
            revoked_ms: None,
            revoked_by: None,
        };
        assert_eq!(token.unusable_at(99), None);
        assert!(
            token
                .unusable_at(100)
                .is_some_and(|why| why.contains("expired"))
        );
        token.expires_at_ms = None;
        token.revoked_ms = Some(50);
        assert!(
            token
                .unusable_at(10)
                .is_some_and(|why| why.contains("revoked"))
        );
    }

    #[test]
    fn roles_grant_what_their_names_say() {
        assert!(Role::Operator.grants(Permission::Operate));
        assert!(!Role::Operator.grants(Permission::Approve));
        assert!(!Role::Operator.grants(Permission::Administer));
        assert!(Role::Approver.grants(Permission::Approve));
        assert!(!Role::Approver.grants(Permission::Operate));
        assert!(Role::Auditor.grants(Permission::ReadAudit));
        assert!(!Role::Viewer.grants(Permission::ReadAudit));
        assert!(Role::Admin.grants(Permission::Administer));
    }
}
