//! Tests of both layers, of redaction, of master key loading and of the stored encodings.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::{
    Error, MasterKey, MasterKeySource, SealedSecret, SecretString, WorkspaceKey, WrappedKey,
    aead::{self, Label},
    ensure_outside_data_dir,
};

const CANARY: &str = "sk-canary-7f3e9c1d2b-do-not-log";
const CONTEXT: &str = "workspace/acme/provider/openai";
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn env_source(value: &str) -> MasterKeySource {
    MasterKeySource::Env {
        name: "WARDEN_TEST_MASTER_KEY".to_owned(),
        value: SecretString::new(value.to_owned()),
    }
}

fn master_key() -> MasterKey {
    MasterKey::generate().expect("generate master key")
}

fn workspace_key() -> WorkspaceKey {
    WorkspaceKey::generate().expect("generate workspace key")
}

fn canary() -> SecretString {
    SecretString::new(CANARY.to_owned())
}

fn sealed_canary(key: &WorkspaceKey) -> SealedSecret {
    key.seal(&canary(), CONTEXT).expect("seal")
}

fn flip_first_bit(bytes: &mut [u8]) {
    bytes[0] ^= 0x01;
}

/// The key id as the design defines it, computed independently of `MasterKey`.
fn expected_key_id(key: &[u8]) -> String {
    let digest = Sha256::digest([b"warden master key id".as_slice(), key].concat());
    hex::encode(&digest[..8])
}

fn write_key_file(path: &Path, contents: &str, mode: u32) {
    std::fs::write(path, contents).expect("write key file");
    set_mode(path, mode);
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

// Round trips and nonces.

#[test]
fn seal_then_open_returns_the_plaintext() {
    let key = workspace_key();
    let sealed = sealed_canary(&key);
    assert_eq!(sealed.nonce.len(), 24);
    let opened = key.open(&sealed, CONTEXT).expect("open");
    assert_eq!(opened.expose(), CANARY);
}

#[test]
fn seal_then_open_an_empty_secret() {
    let key = workspace_key();
    let sealed = key
        .seal(&SecretString::new(String::new()), CONTEXT)
        .expect("seal");
    assert_eq!(key.open(&sealed, CONTEXT).expect("open").expose(), "");
}

#[test]
fn wrap_then_unwrap_returns_the_same_workspace_key() {
    let master = master_key();
    let key = workspace_key();
    let wrapped = master.wrap(&key, "acme").expect("wrap");
    assert_eq!(wrapped.master_key_id, master.key_id());
    let unwrapped = master.unwrap(&wrapped, "acme").expect("unwrap");
    assert_eq!(unwrapped.bytes(), key.bytes());
    // The unwrapped key opens what the original sealed.
    let sealed = sealed_canary(&key);
    assert_eq!(
        unwrapped.open(&sealed, CONTEXT).expect("open").expose(),
        CANARY
    );
}

#[test]
fn two_seals_of_the_same_plaintext_use_different_nonces() {
    let key = workspace_key();
    let first = sealed_canary(&key);
    let second = sealed_canary(&key);
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.ciphertext, second.ciphertext);

    let master = master_key();
    let first = master.wrap(&key, "acme").expect("wrap");
    let second = master.wrap(&key, "acme").expect("wrap");
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.ciphertext, second.ciphertext);
}

#[test]
fn generated_keys_differ() {
    assert_ne!(workspace_key().bytes(), workspace_key().bytes());
    assert_ne!(master_key().key_id(), master_key().key_id());
}

// Failures of the sealing layer.

#[test]
fn open_with_another_context_fails_authentication() {
    let key = workspace_key();
    let sealed = sealed_canary(&key);
    let error = key
        .open(&sealed, "workspace/acme/provider/anthropic")
        .expect_err("other context");
    assert!(
        matches!(&error, Error::SealedSecretAuthentication { context } if context == "workspace/acme/provider/anthropic"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "sealed secret for workspace/acme/provider/anthropic failed authentication (wrong key or tampered)"
    );
}

#[test]
fn open_with_another_workspace_key_fails_authentication() {
    let sealed = sealed_canary(&workspace_key());
    let error = workspace_key()
        .open(&sealed, CONTEXT)
        .expect_err("other key");
    assert!(
        matches!(error, Error::SealedSecretAuthentication { .. }),
        "{error:?}"
    );
}

#[test]
fn open_of_a_tampered_ciphertext_fails_authentication() {
    let key = workspace_key();
    let mut sealed = sealed_canary(&key);
    flip_first_bit(&mut sealed.ciphertext);
    let error = key.open(&sealed, CONTEXT).expect_err("tampered ciphertext");
    assert!(
        matches!(error, Error::SealedSecretAuthentication { .. }),
        "{error:?}"
    );

    let mut truncated = sealed_canary(&key);
    truncated.ciphertext.truncate(10);
    let error = key
        .open(&truncated, CONTEXT)
        .expect_err("truncated ciphertext");
    assert!(
        matches!(error, Error::SealedSecretAuthentication { .. }),
        "{error:?}"
    );
}

#[test]
fn open_of_a_tampered_nonce_fails_authentication() {
    let key = workspace_key();
    let mut sealed = sealed_canary(&key);
    flip_first_bit(&mut sealed.nonce);
    let error = key.open(&sealed, CONTEXT).expect_err("tampered nonce");
    assert!(
        matches!(error, Error::SealedSecretAuthentication { .. }),
        "{error:?}"
    );
}

#[test]
fn open_with_a_nonce_of_the_wrong_length_is_malformed() {
    let key = workspace_key();
    let mut sealed = sealed_canary(&key);
    sealed.nonce.pop();
    let error = key.open(&sealed, CONTEXT).expect_err("short nonce");
    assert!(
        matches!(error, Error::MalformedSealedSecret { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "sealed secret for workspace/acme/provider/openai is malformed: nonce is 23 bytes, expected 24"
    );
}

#[test]
fn open_of_a_plaintext_that_is_not_utf8_fails() {
    let key = workspace_key();
    let (nonce, ciphertext) = aead::encrypt(
        key.bytes(),
        Label::SealedSecret,
        CONTEXT,
        &[0xff, 0xfe, 0x00],
        || "test".to_owned(),
    )
    .expect("encrypt");
    let error = key
        .open(&SealedSecret { nonce, ciphertext }, CONTEXT)
        .expect_err("not utf-8");
    assert!(matches!(error, Error::SecretNotUtf8 { .. }), "{error:?}");
}

// Failures of the wrapping layer.

#[test]
fn unwrap_for_another_workspace_fails_authentication() {
    let master = master_key();
    let wrapped = master.wrap(&workspace_key(), "acme").expect("wrap");
    let error = master
        .unwrap(&wrapped, "globex")
        .expect_err("other workspace");
    assert!(
        matches!(&error, Error::WrappedKeyAuthentication { workspace_id } if workspace_id == "globex"),
        "{error:?}"
    );
}

#[test]
fn unwrap_of_a_tampered_ciphertext_or_nonce_fails_authentication() {
    let master = master_key();
    let wrapped = master.wrap(&workspace_key(), "acme").expect("wrap");

    let mut tampered = wrapped.clone();
    flip_first_bit(&mut tampered.ciphertext);
    let error = master
        .unwrap(&tampered, "acme")
        .expect_err("tampered ciphertext");
    assert!(
        matches!(error, Error::WrappedKeyAuthentication { .. }),
        "{error:?}"
    );

    let mut tampered = wrapped.clone();
    flip_first_bit(&mut tampered.nonce);
    let error = master
        .unwrap(&tampered, "acme")
        .expect_err("tampered nonce");
    assert!(
        matches!(error, Error::WrappedKeyAuthentication { .. }),
        "{error:?}"
    );

    let mut tampered = wrapped;
    tampered.nonce.push(0);
    let error = master.unwrap(&tampered, "acme").expect_err("long nonce");
    assert!(
        matches!(error, Error::MalformedWrappedKey { .. }),
        "{error:?}"
    );
}

#[test]
fn unwrap_with_another_master_key_names_both_key_ids() {
    let wrapping = master_key();
    let loaded = master_key();
    let wrapped = wrapping.wrap(&workspace_key(), "acme").expect("wrap");
    let error = loaded
        .unwrap(&wrapped, "acme")
        .expect_err("other master key");
    assert!(
        matches!(error, Error::MasterKeyMismatch { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "workspace key for workspace acme was wrapped by master key {} but the loaded master key is {}",
            wrapping.key_id(),
            loaded.key_id()
        )
    );
}

#[test]
fn unwrap_with_another_master_key_under_a_forged_key_id_fails_authentication() {
    let loaded = master_key();
    let mut wrapped = master_key().wrap(&workspace_key(), "acme").expect("wrap");
    wrapped.master_key_id = loaded.key_id().to_owned();
    let error = loaded.unwrap(&wrapped, "acme").expect_err("forged id");
    assert!(
        matches!(error, Error::WrappedKeyAuthentication { .. }),
        "{error:?}"
    );
}

#[test]
fn a_sealed_secret_does_not_unwrap_as_a_workspace_key() {
    // A workspace key with the master key's bytes seals 32 bytes under a context equal to
    // the workspace id: only the label in the associated data tells the two apart.
    let master = MasterKey::load(&env_source(KEY_HEX)).expect("load");
    let key_bytes: [u8; 32] = hex::decode(KEY_HEX)
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let same_bytes = WorkspaceKey::from_slice(&key_bytes);
    let sealed = same_bytes
        .seal(&SecretString::new("a".repeat(32)), "acme")
        .expect("seal");
    let forged = WrappedKey {
        master_key_id: master.key_id().to_owned(),
        nonce: sealed.nonce,
        ciphertext: sealed.ciphertext,
    };
    let error = master
        .unwrap(&forged, "acme")
        .expect_err("sealed secret as key");
    assert!(
        matches!(error, Error::WrappedKeyAuthentication { .. }),
        "{error:?}"
    );
}

#[test]
fn key_id_is_the_truncated_hash_of_the_key() {
    let master = MasterKey::load(&env_source(KEY_HEX)).expect("load");
    let key_bytes = hex::decode(KEY_HEX).expect("hex");
    assert_eq!(master.key_id(), expected_key_id(&key_bytes));
    assert_eq!(master.key_id().len(), 16);
}

// Redaction.

#[test]
fn formatting_never_shows_plaintext_or_key_bytes() {
    let master = MasterKey::load(&env_source(KEY_HEX)).expect("load");
    let key = workspace_key();
    let workspace_key_hex = hex::encode(key.bytes());
    let secret = canary();
    let sealed = sealed_canary(&key);
    let wrapped = master.wrap(&key, "acme").expect("wrap");
    let source = env_source(KEY_HEX);
    let errors = [
        key.open(&sealed, "elsewhere").expect_err("context"),
        master_key()
            .unwrap(&wrapped, "acme")
            .expect_err("master key"),
        master.unwrap(&wrapped, "globex").expect_err("workspace"),
        MasterKey::load(&env_source(&KEY_HEX[2..])).expect_err("length"),
    ];

    let mut formatted = vec![
        format!("{master:?}"),
        format!("{master:#?}"),
        format!("{key:?}"),
        format!("{secret:?}"),
        format!("{secret:#?}"),
        format!("{secret}"),
        format!("{sealed:?}"),
        format!("{sealed:#?}"),
        format!("{wrapped:?}"),
        format!("{source:?}"),
        format!("{source}"),
    ];
    for error in &errors {
        formatted.push(format!("{error}"));
        formatted.push(format!("{error:?}"));
    }
    for text in &formatted {
        assert!(!text.contains(CANARY), "plaintext in {text}");
        assert!(!text.contains(KEY_HEX), "master key in {text}");
        assert!(!text.contains(&KEY_HEX[2..]), "master key in {text}");
        assert!(
            !text.contains(&workspace_key_hex),
            "workspace key in {text}"
        );
    }
    assert_eq!(format!("{master:?}"), "MasterKey(<redacted>)");
    assert_eq!(format!("{key:?}"), "WorkspaceKey(<redacted>)");
    assert_eq!(format!("{secret}"), "<redacted>");
    assert_eq!(format!("{secret:?}"), "SecretString(<redacted>)");
    let sealed_debug = format!("{sealed:?}");
    assert!(
        sealed_debug.contains(&format!("<{} bytes>", sealed.ciphertext.len())),
        "{sealed_debug}"
    );
    assert!(
        !sealed_debug.contains(&hex::encode(&sealed.ciphertext)),
        "{sealed_debug}"
    );
}

// Loading the master key.

#[test]
fn load_accepts_hex_in_either_case_with_surrounding_whitespace() {
    let expected = expected_key_id(&hex::decode(KEY_HEX).expect("hex"));
    for value in [
        KEY_HEX.to_owned(),
        KEY_HEX.to_uppercase(),
        format!("  {KEY_HEX}\n"),
    ] {
        let master = MasterKey::load(&env_source(&value)).expect("load hex");
        assert_eq!(master.key_id(), expected);
    }
}

#[test]
fn load_accepts_base64_with_or_without_padding() {
    use base64::Engine;
    let bytes = hex::decode(KEY_HEX).expect("hex");
    let expected = expected_key_id(&bytes);
    let padded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&bytes);
    assert_ne!(padded, unpadded);
    for value in [padded, unpadded] {
        let master = MasterKey::load(&env_source(&value)).expect("load base64");
        assert_eq!(master.key_id(), expected);
    }
}

#[test]
fn load_refuses_wrong_lengths_naming_the_source() {
    use base64::Engine;
    let error = MasterKey::load(&env_source(&KEY_HEX[..32])).expect_err("16 bytes of hex");
    assert!(
        matches!(
            error,
            Error::KeyLength {
                encoding: "hex",
                len: 16,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "master key from environment variable WARDEN_TEST_MASTER_KEY decodes (hex) to 16 bytes, expected 32"
    );

    let error = MasterKey::load(&env_source(&format!("{KEY_HEX}00"))).expect_err("33 bytes");
    assert!(
        matches!(
            error,
            Error::KeyLength {
                encoding: "hex",
                len: 33,
                ..
            }
        ),
        "{error:?}"
    );

    let short = base64::engine::general_purpose::STANDARD.encode([7u8; 31]);
    let error = MasterKey::load(&env_source(&short)).expect_err("31 bytes of base64");
    assert!(
        matches!(
            error,
            Error::KeyLength {
                encoding: "base64",
                len: 31,
                ..
            }
        ),
        "{error:?}"
    );
}

#[test]
fn load_refuses_what_is_neither_hex_nor_base64() {
    for value in ["", "   \n", "not a key!", "zz"] {
        let error = MasterKey::load(&env_source(value)).expect_err(value);
        assert!(
            matches!(error, Error::KeyEncoding { .. }),
            "{value:?}: {error:?}"
        );
        assert!(
            error
                .to_string()
                .contains("environment variable WARDEN_TEST_MASTER_KEY"),
            "{error}"
        );
    }
}

#[test]
fn from_env_reports_a_missing_variable() {
    let error = MasterKeySource::from_env("WARDEN_TEST_SURELY_UNSET_7F3E9C1D").expect_err("unset");
    assert!(matches!(error, Error::EnvMissing { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "environment variable WARDEN_TEST_SURELY_UNSET_7F3E9C1D is not set"
    );
}

#[test]
fn load_reads_a_0600_key_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("master.key");
    write_key_file(&path, &format!("{KEY_HEX}\n"), 0o600);
    let master = MasterKey::load(&MasterKeySource::File(path)).expect("load file");
    assert_eq!(
        master.key_id(),
        expected_key_id(&hex::decode(KEY_HEX).expect("hex"))
    );

    let read_only = dir.path().join("read-only.key");
    write_key_file(&read_only, KEY_HEX, 0o400);
    MasterKey::load(&MasterKeySource::File(read_only)).expect("load 0400 file");
}

#[cfg(unix)]
#[test]
fn load_refuses_a_key_file_accessible_to_group_or_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    for mode in [0o644, 0o640, 0o604, 0o660] {
        let path = dir.path().join(format!("master-{mode:o}.key"));
        write_key_file(&path, KEY_HEX, mode);
        let error = MasterKey::load(&MasterKeySource::File(path.clone())).expect_err("open mode");
        assert!(
            matches!(&error, Error::KeyFilePermissions { path: reported, mode: reported_mode }
                if *reported == path && *reported_mode == mode),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains(&format!("{mode:04o}")), "{message}");
    }
}

#[test]
fn load_reports_a_missing_key_file_by_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("absent.key");
    let error = MasterKey::load(&MasterKeySource::File(path.clone())).expect_err("missing");
    assert!(
        matches!(&error, Error::KeyFileMissing { path: reported } if *reported == path),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("master key file {} does not exist", path.display())
    );
}

#[test]
fn load_refuses_a_directory_as_key_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    set_mode(dir.path(), 0o700);
    let error =
        MasterKey::load(&MasterKeySource::File(dir.path().to_owned())).expect_err("directory");
    assert!(
        matches!(error, Error::KeyFileNotRegular { .. }),
        "{error:?}"
    );
}

#[test]
fn load_refuses_a_key_file_of_the_wrong_length_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("short.key");
    write_key_file(&path, &KEY_HEX[..62], 0o600);
    let error = MasterKey::load(&MasterKeySource::File(path.clone())).expect_err("31 bytes");
    assert!(
        matches!(
            error,
            Error::KeyLength {
                encoding: "hex",
                len: 31,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!(
            "master key from file {} decodes (hex) to 31 bytes, expected 32",
            path.display()
        )
    );

    let long = dir.path().join("long.key");
    write_key_file(&long, &"a".repeat(4096), 0o600);
    let error = MasterKey::load(&MasterKeySource::File(long)).expect_err("long file");
    assert!(matches!(error, Error::KeyEncoding { .. }), "{error:?}");
}

// Generating a key file.

#[test]
fn generate_file_writes_a_0600_file_that_loads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("master.key");
    let generated = MasterKey::generate_file(&path).expect("generate file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }
    let loaded = MasterKey::load(&MasterKeySource::File(path)).expect("load");
    assert_eq!(loaded.key_id(), generated.key_id());
    let wrapped = generated.wrap(&workspace_key(), "acme").expect("wrap");
    loaded
        .unwrap(&wrapped, "acme")
        .expect("unwrap with the loaded key");
}

#[test]
fn generate_file_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("master.key");
    let first = MasterKey::generate_file(&path).expect("generate file");
    let before = std::fs::read(&path).expect("read");
    let error = MasterKey::generate_file(&path).expect_err("overwrite");
    assert!(
        matches!(&error, Error::KeyFileExists { path: reported } if *reported == path),
        "{error:?}"
    );
    assert_eq!(std::fs::read(&path).expect("read"), before);
    let loaded = MasterKey::load(&MasterKeySource::File(path)).expect("load");
    assert_eq!(loaded.key_id(), first.key_id());
}

// Where the key file lives.

#[test]
fn ensure_outside_data_dir_refuses_a_key_file_inside() {
    let root = tempfile::tempdir().expect("tempdir");
    let data_dir = root.path().join("data");
    std::fs::create_dir_all(data_dir.join("nested")).expect("mkdir");
    let inside = data_dir.join("nested").join("master.key");
    MasterKey::generate_file(&inside).expect("generate file");

    let error = ensure_outside_data_dir(&inside, &data_dir).expect_err("inside");
    assert!(matches!(error, Error::KeyInsideDataDir { .. }), "{error:?}");
    assert!(
        error.to_string().contains(&inside.display().to_string()),
        "{error}"
    );

    // A detour through `..` does not hide it.
    let detour = root.path().join("data/nested/../nested/master.key");
    let error =
        ensure_outside_data_dir(&detour, &root.path().join("data/nested/..")).expect_err("detour");
    assert!(matches!(error, Error::KeyInsideDataDir { .. }), "{error:?}");
}

#[cfg(unix)]
#[test]
fn ensure_outside_data_dir_sees_through_symlinks() {
    let root = tempfile::tempdir().expect("tempdir");
    let data_dir = root.path().join("data");
    std::fs::create_dir(&data_dir).expect("mkdir");
    let inside = data_dir.join("master.key");
    MasterKey::generate_file(&inside).expect("generate file");
    let link = root.path().join("link.key");
    std::os::unix::fs::symlink(&inside, &link).expect("symlink");
    let error = ensure_outside_data_dir(&link, &data_dir).expect_err("symlink into data dir");
    assert!(matches!(error, Error::KeyInsideDataDir { .. }), "{error:?}");
}

#[test]
fn ensure_outside_data_dir_accepts_a_key_file_outside() {
    let root = tempfile::tempdir().expect("tempdir");
    let data_dir = root.path().join("data");
    std::fs::create_dir(&data_dir).expect("mkdir");
    // A sibling whose name starts like the data directory is still outside it.
    let outside = root.path().join("data-master.key");
    MasterKey::generate_file(&outside).expect("generate file");
    ensure_outside_data_dir(&outside, &data_dir).expect("outside");
    ensure_outside_data_dir(&outside, &root.path().join("not-created-yet")).expect("no data dir");

    let missing = root.path().join("absent.key");
    let error = ensure_outside_data_dir(&missing, &data_dir).expect_err("missing key file");
    assert!(matches!(error, Error::KeyFileMissing { .. }), "{error:?}");
}

// Stored encodings.

#[test]
fn wrapped_keys_and_sealed_secrets_round_trip_through_bincode() {
    let config = bincode::config::standard();
    let master = master_key();
    let key = workspace_key();
    let wrapped = master.wrap(&key, "acme").expect("wrap");
    let sealed = sealed_canary(&key);

    let wrapped_bytes = bincode::serde::encode_to_vec(&wrapped, config).expect("encode");
    let sealed_bytes = bincode::serde::encode_to_vec(&sealed, config).expect("encode");
    let (wrapped_decoded, read): (WrappedKey, usize) =
        bincode::serde::decode_from_slice(&wrapped_bytes, config).expect("decode");
    assert_eq!(read, wrapped_bytes.len());
    assert_eq!(wrapped_decoded, wrapped);
    let (sealed_decoded, read): (SealedSecret, usize) =
        bincode::serde::decode_from_slice(&sealed_bytes, config).expect("decode");
    assert_eq!(read, sealed_bytes.len());
    assert_eq!(sealed_decoded, sealed);

    let encoded = [wrapped_bytes, sealed_bytes].concat();
    assert!(
        !contains(&encoded, CANARY.as_bytes()),
        "plaintext in the encoding"
    );
    assert!(
        !contains(&encoded, key.bytes()),
        "workspace key in the encoding"
    );

    let unwrapped = master.unwrap(&wrapped_decoded, "acme").expect("unwrap");
    let opened = unwrapped.open(&sealed_decoded, CONTEXT).expect("open");
    assert_eq!(opened.expose(), CANARY);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
