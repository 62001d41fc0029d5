//! Keeps `docs/security.md` true: every test it names as proof (`path/to/file.rs::name`)
//! must still exist, as a function of that name in that file.

use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the node crate lives in the repository")
        .to_path_buf()
}

/// The `file.rs::function` references between backticks in `text`.
fn references(text: &str) -> Vec<(String, String)> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|span| {
            let (file, function) = span.split_once(".rs::")?;
            let plain = |s: &str, extra: char| {
                !s.is_empty()
                    && s.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == extra
                    })
            };
            (plain(file, '/') && plain(function, '_'))
                .then(|| (format!("{file}.rs"), function.to_owned()))
        })
        .collect()
}

#[test]
fn every_test_the_security_model_names_exists() {
    let root = repository();
    let doc = std::fs::read_to_string(root.join("docs/security.md")).expect("docs/security.md");
    let named = references(&doc);
    assert!(
        named.len() >= 40,
        "docs/security.md names only {} tests; did the reference format change?",
        named.len()
    );
    let missing: Vec<String> = named
        .iter()
        .filter(|(file, function)| {
            std::fs::read_to_string(root.join(file))
                .map(|source| !source.contains(&format!("fn {function}(")))
                .unwrap_or(true)
        })
        .map(|(file, function)| format!("{file}::{function}"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/security.md names tests that do not exist: {missing:?}"
    );
}

#[test]
fn references_are_read_from_code_spans_only() {
    let text = "see `a/b.rs::c_d` and `x.rs::y`, not a/b.rs::e or `A.rs::b` or `a.rs::b c`";
    assert_eq!(
        references(text),
        [
            ("a/b.rs".to_owned(), "c_d".to_owned()),
            ("x.rs".to_owned(), "y".to_owned())
        ]
    );
}
