//! Writing certificates and keys: a key file is created new with mode 0600 and synced,
//! never overwritten, so issuing twice cannot silently replace a node's key.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::Error;

/// Creates `path` holding `text`, readable only by its owner.
pub fn write_private(path: &Path, text: &str) -> Result<(), Error> {
    write_new(path, text, 0o600)
}

/// Creates `path` holding `text` (a certificate: public).
pub fn write_public(path: &Path, text: &str) -> Result<(), Error> {
    write_new(path, text, 0o644)
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Exists(path.to_owned()),
            _ => Error::Write {
                path: path.to_owned(),
                source,
            },
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| Error::Write {
            path: path.to_owned(),
            source,
        })
}

/// Creates `path` (mode 0600) holding a new bootstrap token: 32 bytes from the operating
/// system's random source as 64 hex digits.
pub fn write_bootstrap_token(path: &Path) -> Result<(), Error> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| random.read_exact(&mut bytes))
        .map_err(|source| Error::Read {
            path: "/dev/urandom".into(),
            source,
        })?;
    let token: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    write_private(path, &format!("{token}\n"))
}
