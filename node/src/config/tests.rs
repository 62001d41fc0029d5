//! The configuration's layering, validation and error reporting.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn layers_apply_in_order_file_env_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warden.toml");
    std::fs::write(
        &path,
        "node_id = 1\ndata_dir = \"/from/file\"\n[raft]\nheartbeat_interval = \"150ms\"\n",
    )
    .expect("write config");
    let options = load(
        Some(&path),
        env(&[("WARDEN_DATA_DIR", "/from/env"), ("WARDEN_NODE_ID", "2")]),
        &[
            ("node_id".into(), "3".into()),
            ("tls.insecure".into(), "true".into()),
        ],
    )
    .expect("valid");
    assert_eq!(options.node_id, 3, "flag beats env and file");
    assert_eq!(
        options.data_dir,
        PathBuf::from("/from/env"),
        "env beats file"
    );
    assert_eq!(
        options.raft.heartbeat_interval,
        Duration::from_millis(150),
        "file beats default"
    );
    assert_eq!(
        options.limits.write_timeout,
        Duration::from_secs(5),
        "default kept"
    );
}

#[test]
fn a_node_without_tls_files_refuses_to_start_unless_insecure() {
    let error = load(None, env(&[]), &[("node_id".into(), "1".into())]).expect_err("no tls files");
    let text = error.to_string();
    assert!(
        text.contains("tls.ca_file, tls.cert_file, tls.key_file must be set"),
        "{text}"
    );
    assert!(text.contains("tls.insecure"), "{text}");
    let partial = load(
        None,
        env(&[("WARDEN_TLS_CA_FILE", "/ca.pem")]),
        &[("node_id".into(), "1".into())],
    )
    .expect_err("partial tls");
    assert!(
        partial
            .to_string()
            .contains("tls.cert_file, tls.key_file must be set")
    );
    let both = load(
        None,
        env(&[("WARDEN_TLS_CA_FILE", "/ca.pem")]),
        &[
            ("node_id".into(), "1".into()),
            ("tls.insecure".into(), "true".into()),
        ],
    )
    .expect_err("insecure with files");
    assert!(
        both.to_string().contains("conflicts with tls.ca_file"),
        "{both}"
    );
    let insecure = load(
        None,
        env(&[("WARDEN_TLS_INSECURE", "true")]),
        &[("node_id".into(), "1".into())],
    )
    .expect("insecure is explicit");
    assert!(insecure.tls.insecure);
}

#[test]
fn unknown_keys_are_refused() {
    let error = load(
        None,
        env(&[]),
        &[
            ("node_id".into(), "1".into()),
            ("nodeid".into(), "2".into()),
        ],
    )
    .expect_err("unknown key");
    assert!(error.to_string().contains("nodeid"), "{error}");
}

#[test]
fn the_boundary_options_come_from_the_file_the_environment_or_flags() {
    let options = load(
        None,
        env(&[
            ("WARDEN_NODE_ID", "1"),
            ("WARDEN_TLS_INSECURE", "true"),
            ("WARDEN_EGRESS_ALLOW", r#"["loopback", "10.0.0.0/8"]"#),
        ]),
        &[(
            "providers.api_key_env_allowlist".into(),
            r#"["OPENAI_API_KEY"]"#.into(),
        )],
    )
    .expect("valid");
    assert_eq!(
        options
            .egress
            .allow
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["loopback", "10.0.0.0/8"]
    );
    assert_eq!(options.providers.api_key_env_allowlist, ["OPENAI_API_KEY"]);
    let defaults = Options::default();
    assert!(
        defaults.egress.allow.is_empty(),
        "nothing internal by default"
    );
    assert!(defaults.providers.api_key_env_allowlist.is_empty());
}

#[test]
fn the_master_key_and_bad_names_cannot_be_allowlisted_nor_unknown_classes_allowed() {
    let error = load(
        None,
        env(&[]),
        &[
            ("node_id".into(), "1".into()),
            (
                "providers.api_key_env_allowlist".into(),
                r#"["WARDEN_MASTER_KEY", "bad name", "OPENAI_API_KEY"]"#.into(),
            ),
        ],
    )
    .expect_err("invalid");
    let text = error.to_string();
    assert!(text.contains("WARDEN_MASTER_KEY is Warden's own"), "{text}");
    assert!(
        text.contains("\"bad name\" is not an environment variable"),
        "{text}"
    );
    assert!(!text.contains("OPENAI_API_KEY"), "{text}");
    let error = load(
        None,
        env(&[]),
        &[
            ("node_id".into(), "1".into()),
            ("egress.allow".into(), r#"["intranet"]"#.into()),
        ],
    )
    .expect_err("unknown class");
    assert!(error.to_string().contains("intranet"), "{error}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let error = load(
        None,
        env(&[]),
        &[
            ("raft.election_timeout_min".into(), "1s".into()),
            ("raft.election_timeout_max".into(), "500ms".into()),
            ("limits.max_task_input_bytes".into(), "0".into()),
        ],
    )
    .expect_err("invalid");
    let text = error.to_string();
    assert!(text.contains("node_id"), "{text}");
    assert!(text.contains("election_timeout_max"), "{text}");
    assert!(text.contains("max_task_input_bytes"), "{text}");
}

#[test]
fn every_unreadable_setting_is_reported_in_one_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warden.toml");
    std::fs::write(
        &path,
        "node_id = \"one\"\nlisen = \"127.0.0.1:7400\"\n[raft]\nheartbeat_interval = 5\n[runtime]\ncapcity = 3\n",
    )
    .expect("write config");
    let error = load(Some(&path), env(&[]), &[]).expect_err("four bad settings");
    let Error::Invalid(problems) = &error else {
        panic!("not a settings problem: {error}");
    };
    assert_eq!(problems.len(), 4, "{error}");
    for key in [
        "node_id",
        "lisen",
        "raft.heartbeat_interval",
        "runtime.capcity",
    ] {
        assert!(
            problems
                .iter()
                .any(|problem| problem.starts_with(&format!("{key}: "))),
            "{key} is not named: {error}"
        );
    }
}

#[test]
fn a_file_that_is_not_toml_names_the_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warden.toml");
    std::fs::write(&path, "node_id = 1\n[raft\n").expect("write config");
    let error = load(Some(&path), env(&[]), &[]).expect_err("not TOML");
    assert!(matches!(error, Error::ParseFile { .. }), "{error}");
    assert!(error.to_string().contains("line 2"), "{error}");
}

/// Every key of the options, dotted, with its default as TOML (`None` when unset).
fn default_keys() -> Vec<(String, Option<String>)> {
    fn walk(
        value: &serde_json::Value,
        path: &mut Vec<String>,
        out: &mut Vec<(String, Option<String>)>,
    ) {
        match value {
            serde_json::Value::Object(fields) => {
                for (key, inner) in fields {
                    path.push(key.clone());
                    walk(inner, path, out);
                    path.pop();
                }
            }
            serde_json::Value::Null => out.push((path.join("."), None)),
            other => out.push((path.join("."), Some(other.to_string()))),
        }
    }
    let value = serde_json::to_value(Options::default()).expect("the options serialize");
    let mut out = Vec::new();
    walk(&value, &mut Vec::new(), &mut out);
    out
}

#[test]
fn every_key_has_a_variable_and_a_documented_default() {
    let keys = default_keys();
    assert!(keys.len() > 30, "only {} keys", keys.len());
    let documented: std::collections::BTreeMap<String, String> = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md"),
    )
    .expect("docs/configuration.md")
    .lines()
    .filter_map(|line| {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let key = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
        Some((key.to_owned(), (*cells.get(2)?).to_owned()))
    })
    .collect();
    let mut problems = Vec::new();
    for (key, default) in &keys {
        if !ENV_KEYS.contains(&key.as_str()) {
            problems.push(format!("{key} has no WARDEN_* variable (ENV_KEYS)"));
        }
        match (documented.get(key), default) {
            (None, _) => problems.push(format!("{key} is not in docs/configuration.md")),
            (Some(cell), None) if cell != "unset" => {
                problems.push(format!("{key}: documented default {cell}, but it is unset"))
            }
            // A list of system paths is described rather than spelled out.
            (Some(cell), Some(value)) if !cell.starts_with('`') && value.starts_with('[') => {}
            (Some(cell), Some(value)) if *cell != format!("`{value}`") => problems.push(format!(
                "{key}: documented default {cell}, but it is `{value}`"
            )),
            _ => {}
        }
    }
    for key in documented.keys() {
        if key != "Key" && !keys.iter().any(|(known, _)| known == key) {
            problems.push(format!(
                "docs/configuration.md documents {key}, which is no key"
            ));
        }
    }
    for key in ENV_KEYS {
        if !keys.iter().any(|(known, _)| known == key) {
            problems.push(format!("ENV_KEYS lists {key}, which is no key"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_readme_sample_configuration_loads_as_written() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"),
    )
    .expect("README.md");
    let sample = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("README.md has a TOML sample");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warden.toml");
    std::fs::write(&path, sample).expect("write the sample");
    let options = load(Some(&path), env(&[]), &[]).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(options.node_id, 1);
    assert_eq!(
        options.secrets.master_key_file.as_deref(),
        Some(std::path::Path::new("/etc/warden/master-key"))
    );
    assert_eq!(options.runtime.capacity, 64);
}
