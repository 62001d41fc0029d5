//! The node's audit signing key: an ed25519 secret in a file of its own, outside the data
//! directory (a copy of the data must not carry the key that vouches for it), mode 0600,
//! holding the 32-byte seed as 64 hex digits.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;
use rand::TryRngCore;
use warden_core::{AuditKey, Checkpoint, Hash, NodeId, anchor};
use zeroize::Zeroizing;

/// The config field that names the key file, for errors.
pub const FIELD: &str = "audit.signing_key_file";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{FIELD} {}: cannot read it: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{FIELD} {} is not a regular file", path.display())]
    NotRegular { path: PathBuf },
    #[error(
        "{FIELD} {} has mode {mode:04o}: it must not be accessible by group or others (chmod 600)",
        path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{FIELD} {}: expected 64 hex digits (an ed25519 secret key from `warden audit keygen`)", path.display())]
    Encoding { path: PathBuf },
    #[error(
        "{FIELD} {} is inside the data directory {}: keep it outside, or a copy of the data carries the key that vouches for it",
        key_file.display(),
        data_dir.display()
    )]
    InsideDataDir {
        key_file: PathBuf,
        data_dir: PathBuf,
    },
    #[error("{} already exists: refusing to overwrite a signing key", path.display())]
    Exists { path: PathBuf },
    #[error("cannot write {} (delete it before retrying): {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot resolve {}: {source}", path.display())]
    Canonicalize {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the operating system's random number generator failed")]
    Randomness,
}

/// This node's audit signing key. `Debug` shows the public key only; the secret is zeroed
/// on drop (ed25519-dalek's `zeroize` feature).
pub struct Signer {
    node: NodeId,
    secret: SigningKey,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Signer(node {}, public key {})",
            self.node,
            self.public_key()
        )
    }
}

impl Signer {
    /// Loads the key of node `node` from `path`, after checking the file is outside
    /// `data_dir` and readable by its owner only.
    pub fn load(node: NodeId, path: &Path, data_dir: &Path) -> Result<Signer, Error> {
        ensure_outside(path, data_dir)?;
        let secret = read_key(path)?;
        Ok(Signer { node, secret })
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    pub fn public_key(&self) -> AuditKey {
        anchor::public_key(&self.secret)
    }

    /// Signs record `index` of hash `hash` as this node.
    pub fn sign(&self, index: u64, hash: Hash) -> Checkpoint {
        anchor::sign(&self.secret, self.node, index, hash)
    }
}

/// Writes a new random key to `path` (mode 0600; never overwrites) and returns its
/// public key. The file and its directory are synced.
pub fn generate(path: &Path) -> Result<AuditKey, Error> {
    let mut seed = Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng
        .try_fill_bytes(seed.as_mut_slice())
        .map_err(|_| Error::Randomness)?;
    let secret = SigningKey::from_bytes(&seed);
    warden_secrets::write_new_key_file(path, &seed).map_err(|error| match error {
        warden_secrets::Error::KeyFileExists { path } => Error::Exists { path },
        warden_secrets::Error::KeyFileWrite { path, source } => Error::Write { path, source },
        other => Error::Write {
            path: path.to_owned(),
            source: io::Error::other(other.to_string()),
        },
    })?;
    Ok(anchor::public_key(&secret))
}

/// The public key of the key in `path` (a secret key file), or the key itself when
/// `path` holds a public key as 64 hex digits: what `verify --signing-key` trusts. The
/// two cannot be told apart by their text, so a file is read as a secret key when it is
/// not accessible by group or others, and as a public key otherwise.
pub fn trusted_key(path: &Path) -> Result<AuditKey, Error> {
    let metadata = std::fs::metadata(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o077 == 0 {
            return read_key(path).map(|secret| anchor::public_key(&secret));
        }
    }
    let _ = metadata;
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    AuditKey::from_hex(&text).ok_or_else(|| Error::Encoding {
        path: path.to_owned(),
    })
}

fn read_key(path: &Path) -> Result<SigningKey, Error> {
    let read_error = |source| Error::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(Error::NotRegular {
            path: path.to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(Error::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    let mut text = Zeroizing::new(String::with_capacity(130));
    (&mut file)
        .take(129)
        .read_to_string(&mut text)
        .map_err(read_error)?;
    let mut seed = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text.trim(), seed.as_mut_slice()).map_err(|_| Error::Encoding {
        path: path.to_owned(),
    })?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Refuses a key file inside `data_dir` (see `warden_secrets::ensure_outside_data_dir`),
/// naming this key's configuration field.
fn ensure_outside(key_file: &Path, data_dir: &Path) -> Result<(), Error> {
    warden_secrets::ensure_outside_data_dir(key_file, data_dir).map_err(|error| match error {
        warden_secrets::Error::KeyInsideDataDir { key_file, data_dir } => {
            Error::InsideDataDir { key_file, data_dir }
        }
        warden_secrets::Error::Canonicalize { path, source } => {
            Error::Canonicalize { path, source }
        }
        other => Error::Read {
            path: key_file.to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, other.to_string()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_loads_signs_and_is_not_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.key");
        let public = generate(&path).expect("generate");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let data = dir.path().join("data");
        let signer = Signer::load(NodeId(3), &path, &data).expect("load");
        assert_eq!(signer.public_key(), public);
        assert_eq!(signer.sign(5, Hash([1; 32])).verify_signature(), Ok(()));
        assert!(matches!(generate(&path), Err(Error::Exists { .. })));
        assert_eq!(trusted_key(&path).expect("trusted"), public);
    }

    #[test]
    fn a_key_inside_the_data_dir_is_refused_naming_the_field() {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("keys")).expect("mkdir");
        let path = data.join("keys/audit.key");
        generate(&path).expect("generate");
        let error = Signer::load(NodeId(1), &path, &data).expect_err("refused");
        assert!(matches!(error, Error::InsideDataDir { .. }));
        assert!(
            error.to_string().starts_with("audit.signing_key_file "),
            "{error}"
        );
    }

    #[test]
    fn a_key_others_can_read_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("audit.key");
        generate(&path).expect("generate");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let error =
                Signer::load(NodeId(1), &path, &dir.path().join("data")).expect_err("refused");
            assert!(
                matches!(error, Error::Permissions { mode: 0o644, .. }),
                "{error}"
            );
        }
    }
}
