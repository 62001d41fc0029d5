//! The bootstrap token: the secret `InitCluster` must present on a node that has not
//! started a cluster yet, so that whoever reaches a fresh node first cannot make
//! themselves the cluster's admin. Read once at start from `bootstrap.token_file` or
//! `WARDEN_BOOTSTRAP_TOKEN`; compared in constant time.

use std::path::Path;

use anyhow::{Context, bail};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The variable that may hold the token itself.
pub const BOOTSTRAP_TOKEN_ENV: &str = "WARDEN_BOOTSTRAP_TOKEN";
/// Shorter tokens are refused: the token is all that guards a fresh node.
pub const MIN_TOKEN_LEN: usize = 32;

/// This node's bootstrap token, if it has one. Cheap to clone.
#[derive(Clone, Default)]
pub struct BootstrapToken {
    token: Option<std::sync::Arc<Zeroizing<String>>>,
}

impl std::fmt::Debug for BootstrapToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.token {
            Some(_) => "BootstrapToken(<redacted>)",
            None => "BootstrapToken(none)",
        })
    }
}

/// Why an `InitCluster` was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This node was started without a token: it cannot start a cluster.
    NotConfigured,
    /// The request carried none, or another.
    Mismatch,
}

impl BootstrapToken {
    /// From `file` (mode 0600 or stricter) or the environment; neither is no token.
    pub fn load(
        file: Option<&Path>,
        environment: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<BootstrapToken> {
        let from_env = environment
            .into_iter()
            .find(|(name, _)| name == BOOTSTRAP_TOKEN_ENV)
            .map(|(_, value)| Zeroizing::new(value));
        let token =
            match (file, from_env) {
                (Some(_), Some(_)) => bail!(
                    "both bootstrap.token_file and {BOOTSTRAP_TOKEN_ENV} are set: set one of them"
                ),
                (Some(path), None) => {
                    crate::tls::ensure_private(path).context("checking bootstrap.token_file")?;
                    Zeroizing::new(std::fs::read_to_string(path).with_context(|| {
                        format!("reading bootstrap.token_file {}", path.display())
                    })?)
                }
                (None, Some(value)) => value,
                (None, None) => return Ok(BootstrapToken::default()),
            };
        let trimmed = Zeroizing::new(token.trim().to_owned());
        if trimmed.len() < MIN_TOKEN_LEN {
            bail!("the bootstrap token must be at least {MIN_TOKEN_LEN} characters");
        }
        Ok(BootstrapToken {
            token: Some(std::sync::Arc::new(trimmed)),
        })
    }

    pub fn is_set(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `presented` is this node's token.
    pub fn check(&self, presented: &str) -> Result<(), Refusal> {
        let Some(token) = &self.token else {
            return Err(Refusal::NotConfigured);
        };
        let presented = presented.trim().as_bytes();
        let expected = token.as_bytes();
        if presented.len() == expected.len() && bool::from(presented.ct_eq(expected)) {
            Ok(())
        } else {
            Err(Refusal::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn only_the_configured_token_passes() {
        let env = vec![(BOOTSTRAP_TOKEN_ENV.to_owned(), format!("{TOKEN}\n"))];
        let token = BootstrapToken::load(None, env).expect("load");
        assert_eq!(token.check(TOKEN), Ok(()));
        assert_eq!(token.check(""), Err(Refusal::Mismatch));
        assert_eq!(token.check(&TOKEN[1..]), Err(Refusal::Mismatch));
        assert!(!format!("{token:?}").contains(TOKEN));
        let none = BootstrapToken::load(None, Vec::new()).expect("none");
        assert_eq!(none.check(TOKEN), Err(Refusal::NotConfigured));
    }

    #[test]
    fn short_or_readable_tokens_are_refused() {
        let env = vec![(BOOTSTRAP_TOKEN_ENV.to_owned(), "short".to_owned())];
        assert!(BootstrapToken::load(None, env).is_err());
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, TOKEN).expect("write");
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .expect("chmod");
        let error = BootstrapToken::load(Some(&path), Vec::new()).expect_err("readable");
        assert!(format!("{error:#}").contains("chmod 600"), "{error:#}");
    }
}
