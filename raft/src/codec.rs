//! Value encoding: bincode 2 (standard config) over serde, for everything stored in
//! RocksDB. The only module that knows how values turn into bytes.
//!
//! Changing the configuration or the shape of a stored type changes the persisted
//! format.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::Error;

/// Encodes `value`; `what` names it in the error.
pub fn encode<T: Serialize>(what: impl FnOnce() -> String, value: &T) -> Result<Vec<u8>, Error> {
    bincode::serde::encode_to_vec(value, bincode::config::standard()).map_err(|error| {
        Error::Encode {
            what: what(),
            reason: error.to_string(),
        }
    })
}

/// Decodes a whole value: bytes left over after it are corruption too, so a damaged
/// length prefix cannot pass unnoticed.
pub fn decode<T: DeserializeOwned>(
    what: impl FnOnce() -> String,
    bytes: &[u8],
) -> Result<T, Error> {
    match bincode::serde::decode_from_slice(bytes, bincode::config::standard()) {
        Ok((value, read)) if read == bytes.len() => Ok(value),
        Ok((_, read)) => Err(Error::Corrupt {
            what: what(),
            reason: format!("{} trailing bytes after the value", bytes.len() - read),
        }),
        Err(error) => Err(Error::Corrupt {
            what: what(),
            reason: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use warden_core::{AuditHead, Hash};

    use super::*;

    #[test]
    fn round_trips_and_names_what_failed() -> Result<(), Error> {
        let head = AuditHead {
            count: 3,
            hash: Hash::of(b"x"),
            time_ms: 9,
        };
        let bytes = encode(|| "audit head".into(), &head)?;
        assert_eq!(decode::<AuditHead>(|| "audit head".into(), &bytes)?, head);

        let mut longer = bytes.clone();
        longer.push(0);
        let error = decode::<AuditHead>(|| "audit head".into(), &longer).err();
        assert!(matches!(&error, Some(Error::Corrupt { what, .. }) if what == "audit head"));

        let error = decode::<AuditHead>(|| "audit record 17".into(), &bytes[..4]).err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.starts_with("audit record 17 is corrupt"),
            "{message}"
        );
        Ok(())
    }

    /// Members of two builds exchange commands and outcomes (forwarded writes, log
    /// entries) encoded by variant position: a variant added anywhere but last shifts
    /// every one after it, and an older node decodes another variant than was sent.
    #[test]
    fn variants_keep_their_positions_on_the_wire() -> Result<(), Error> {
        use warden_core::{Action, Code, Command, Outcome, Rejection};
        let position = |bytes: Vec<u8>| bytes[0];
        let rejected = Outcome::Rejected(Rejection::new(Code::NotFound, "x"));
        assert_eq!(position(encode(String::new, &Outcome::Noop)?), 16);
        assert_eq!(position(encode(String::new, &rejected)?), 17);
        assert_eq!(position(encode(String::new, &Outcome::Group(vec![]))?), 37);
        let group = Command::Group { requests: vec![] };
        assert_eq!(position(encode(String::new, &group)?), 46);
        assert_eq!(position(encode(String::new, &Action::TaskSubmit)?), 16);
        assert_eq!(position(encode(String::new, &Action::Group)?), 47);
        Ok(())
    }
}
