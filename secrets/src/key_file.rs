//! Where a master key comes from: reading and decoding it from a file or an environment
//! variable, writing a new key file, and keeping the file out of the data directory.

use std::{
    fmt,
    fs::{self, File, OpenOptions},
    io::{self, Read, Write},
    path::{Path, PathBuf},
};

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};
use zeroize::Zeroizing;

use crate::{Error, SecretString, aead::KEY_LEN};

/// A key file is one line of hex or base64; anything much longer is not a key file.
const MAX_KEY_FILE_LEN: usize = 1024;

/// Standard base64, with or without padding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Where to read the master key from. The variable's value is kept as a [`SecretString`],
/// so a `Debug` of the source shows the variable's name only.
#[derive(Debug)]
pub enum MasterKeySource {
    File(PathBuf),
    Env { name: String, value: SecretString },
}

impl MasterKeySource {
    /// The value of the environment variable `name`, read now.
    pub fn from_env(name: &str) -> Result<Self, Error> {
        match std::env::var(name) {
            Ok(value) => Ok(MasterKeySource::Env {
                name: name.to_owned(),
                value: SecretString::new(value),
            }),
            Err(std::env::VarError::NotPresent) => Err(Error::EnvMissing {
                name: name.to_owned(),
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(Error::EnvNotUnicode {
                name: name.to_owned(),
            }),
        }
    }
}

/// Names the source in errors: `file <path>` or `environment variable <name>`.
impl fmt::Display for MasterKeySource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MasterKeySource::File(path) => write!(formatter, "file {}", path.display()),
            MasterKeySource::Env { name, .. } => write!(formatter, "environment variable {name}"),
        }
    }
}

pub(crate) fn load(source: &MasterKeySource) -> Result<Box<[u8; KEY_LEN]>, Error> {
    match source {
        MasterKeySource::File(path) => {
            let contents = read_key_file(path)?;
            let text = std::str::from_utf8(&contents).map_err(|_| Error::KeyEncoding {
                origin: source.to_string(),
                reason: "is not text: expected 32 bytes as hex or base64",
            })?;
            decode(text, source)
        }
        MasterKeySource::Env { value, .. } => decode(value.expose(), source),
    }
}

/// Reads a key file after checking, on the open file, that it is a regular file that group
/// and others cannot access.
fn read_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>, Error> {
    let read_error = |source: io::Error| Error::KeyFileRead {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => Error::KeyFileMissing {
            path: path.to_owned(),
        },
        _ => read_error(error),
    })?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() {
        return Err(Error::KeyFileNotRegular {
            path: path.to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(Error::KeyFilePermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    // Reading into a buffer of the final size, so that no reallocation leaves a copy of the
    // key behind unzeroed.
    let mut contents = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_LEN + 1));
    (&mut file)
        .take(MAX_KEY_FILE_LEN as u64 + 1)
        .read_to_end(&mut contents)
        .map_err(read_error)?;
    if contents.len() > MAX_KEY_FILE_LEN {
        return Err(Error::KeyEncoding {
            origin: format!("file {}", path.display()),
            reason: "is too long: expected 32 bytes as hex or base64",
        });
    }
    Ok(contents)
}

/// Decodes 32 bytes written as hex (64 characters) or base64, ignoring surrounding
/// whitespace. Text made only of hex digits, in even number, is taken as hex.
fn decode(text: &str, source: &MasterKeySource) -> Result<Box<[u8; KEY_LEN]>, Error> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::KeyEncoding {
            origin: source.to_string(),
            reason: "is empty",
        });
    }
    let mut key = Box::new([0u8; KEY_LEN]);
    if text.len().is_multiple_of(2) && text.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        if text.len() != 2 * KEY_LEN {
            return Err(Error::KeyLength {
                origin: source.to_string(),
                encoding: "hex",
                len: text.len() / 2,
            });
        }
        hex::decode_to_slice(text, key.as_mut_slice()).map_err(|_| Error::KeyEncoding {
            origin: source.to_string(),
            reason: "is not valid hex",
        })?;
        return Ok(key);
    }
    let decoded = Zeroizing::new(BASE64.decode(text).map_err(|_| Error::KeyEncoding {
        origin: source.to_string(),
        reason: "is neither hex nor base64: expected 32 bytes as 64 hex digits or base64",
    })?);
    if decoded.len() != KEY_LEN {
        return Err(Error::KeyLength {
            origin: source.to_string(),
            encoding: "base64",
            len: decoded.len(),
        });
    }
    key.copy_from_slice(&decoded);
    Ok(key)
}

/// Creates `path` (which must not exist) with mode 0600, writes the key as hex and syncs
/// the file and then its directory, so the new entry survives a crash. Used for the
/// master key and for a node's audit signing key (both 32 bytes).
pub fn write_new(path: &Path, key: &[u8; KEY_LEN]) -> Result<(), Error> {
    let write_error = |source: io::Error| Error::KeyFileWrite {
        path: path.to_owned(),
        source,
    };
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|error| match error.kind() {
        io::ErrorKind::AlreadyExists => Error::KeyFileExists {
            path: path.to_owned(),
        },
        _ => write_error(error),
    })?;
    let mut line = Zeroizing::new(vec![0u8; 2 * KEY_LEN + 1]);
    hex::encode_to_slice(key, &mut line[..2 * KEY_LEN])
        .map_err(|error| write_error(io::Error::new(io::ErrorKind::InvalidInput, error)))?;
    line[2 * KEY_LEN] = b'\n';
    file.write_all(&line).map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    sync_parent_directory(path).map_err(write_error)
}

#[cfg(unix)]
fn sync_parent_directory(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

#[cfg(not(unix))]
fn sync_parent_directory(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Refuses a key file inside `data_dir`, comparing canonical paths (so symlinks and `..`
/// do not hide it). The key file must exist. A data directory that does not exist yet
/// cannot contain it, and is accepted.
pub fn ensure_outside_data_dir(key_file: &Path, data_dir: &Path) -> Result<(), Error> {
    let canonical_key_file = fs::canonicalize(key_file).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => Error::KeyFileMissing {
            path: key_file.to_owned(),
        },
        _ => Error::Canonicalize {
            path: key_file.to_owned(),
            source,
        },
    })?;
    let canonical_data_dir = match fs::canonicalize(data_dir) {
        Ok(canonical) => canonical,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(Error::Canonicalize {
                path: data_dir.to_owned(),
                source,
            });
        }
    };
    if canonical_key_file.starts_with(&canonical_data_dir) {
        return Err(Error::KeyInsideDataDir {
            key_file: key_file.to_owned(),
            data_dir: data_dir.to_owned(),
        });
    }
    Ok(())
}
