//! Tidy checks over the whole repository, in the manner of rust-analyzer's: every source
//! file says what it holds in its first line, every crate depends only on what
//! ARCHITECTURE.md's dependency table allows, docs/storage.md's key table lists exactly
//! the key tags of `raft/src/keys.rs`, every repository path the documentation names
//! exists, and every metric the code records has help text of its kind.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tidy crate sits in the repository root")
        .to_owned()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The workspace's member directories, from the root Cargo.toml.
fn members() -> Vec<String> {
    let manifest: toml::Table = read(&root().join("Cargo.toml"))
        .parse()
        .expect("the root Cargo.toml parses");
    manifest["workspace"]["members"]
        .as_array()
        .expect("workspace.members")
        .iter()
        .map(|member| member.as_str().expect("a member path").to_owned())
        .collect()
}

/// `path` relative to the repository root, for messages.
fn relative(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name == "target") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_source_file_opens_with_what_it_holds() {
    let mut files = Vec::new();
    for member in members() {
        rust_files(&root().join(member), &mut files);
    }
    assert!(files.len() > 100, "found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|file| {
            !read(file)
                .lines()
                .find(|line| !line.trim().is_empty())
                .is_some_and(|line| line.starts_with("//!"))
        })
        .map(|file| relative(file))
        .collect();
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they hold:\n{}",
        missing.join("\n")
    );
}

/// The rows of the first Markdown table after the heading `heading`: its cells, trimmed.
fn table_after(text: &str, heading: &str) -> Vec<Vec<String>> {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no heading {heading:?}"));
    text[start..]
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect()
        })
        .collect()
}

/// Backticked names in a cell: `` `core`, `secrets` `` -> {core, secrets}.
fn backticked(cell: &str) -> BTreeSet<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn crates_depend_only_on_what_the_architecture_allows() {
    let architecture = read(&root().join("ARCHITECTURE.md"));
    let allowed: BTreeMap<String, BTreeSet<String>> =
        table_after(&architecture, "## Crate dependencies")
            .into_iter()
            .map(|row| {
                let name = backticked(&row[0])
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| panic!("a row without a crate: {row:?}"));
                (name, backticked(&row[1]))
            })
            .collect();
    let mut problems = Vec::new();
    let listed: BTreeSet<String> = allowed.keys().cloned().collect();
    let members: BTreeSet<String> = members().into_iter().collect();
    if listed != members {
        problems.push(format!(
            "the table lists {listed:?} but the workspace has {members:?}"
        ));
    }
    for member in &members {
        let manifest: toml::Table = read(&root().join(member).join("Cargo.toml"))
            .parse()
            .expect("a crate's Cargo.toml parses");
        let used: BTreeSet<String> = manifest
            .get("dependencies")
            .and_then(toml::Value::as_table)
            .map(|deps| {
                deps.keys()
                    .filter_map(|name| name.strip_prefix("warden-"))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let may = allowed.get(member).cloned().unwrap_or_default();
        for dependency in used.difference(&may) {
            problems.push(format!(
                "{member} depends on {dependency}, which ARCHITECTURE.md does not allow it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_key_table_lists_exactly_the_key_tags() {
    let keys = read(&root().join("raft/src/keys.rs"));
    let in_code: BTreeSet<String> = keys
        .lines()
        .filter_map(|line| line.strip_prefix("const TAG_"))
        .filter_map(|rest| rest.split("= ").nth(1))
        .map(|value| value.trim_end_matches(';').to_lowercase())
        .collect();
    assert!(in_code.len() > 10, "found only {in_code:?} in keys.rs");
    let storage = read(&root().join("docs/storage.md"));
    let in_table: BTreeSet<String> = table_after(&storage, "| column family | key | value |")
        .into_iter()
        .filter(|row| row[0] == "`sm`")
        // A cell may list alternatives (`0x11` / `0x12` ...); each starts with its tag.
        .flat_map(|row| {
            row[1]
                .split(" / ")
                .filter_map(|key| key.split('`').nth(1).map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .filter_map(|key| key.get(..4).map(str::to_lowercase))
        .filter(|tag| tag.starts_with("0x"))
        .collect();
    assert_eq!(
        in_table, in_code,
        "docs/storage.md's key table (left) and raft/src/keys.rs's tags (right) differ"
    );
}

/// The documents a newcomer reads, whose paths must stay true.
fn documents() -> Vec<PathBuf> {
    let mut documents: Vec<PathBuf> = ["ARCHITECTURE.md", "README.md"]
        .iter()
        .map(|name| root().join(name))
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    documents.extend(docs);
    for member in members() {
        let readme = root().join(member).join("README.md");
        if readme.exists() {
            documents.push(readme);
        }
    }
    documents
}

/// Backticked spans that name a path in this repository: a workspace member or one of
/// the repository's top directories, then at least one more component. Spans with
/// placeholders (`<id>`, `*`, `{...}`) or spaces are not paths; `file.rs::test_name`
/// names the file.
fn repository_paths(text: &str, tops: &BTreeSet<String>) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .map(|span| span.split_once("::").map_or(span, |(file, _)| file))
        .filter(|span| {
            !span.contains([' ', '<', '*', '{', '(', '\\', ':', '='])
                && span
                    .split_once('/')
                    .is_some_and(|(top, rest)| tops.contains(top) && !rest.is_empty())
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_path_the_docs_name_exists() {
    let mut tops: BTreeSet<String> = members().into_iter().collect();
    tops.extend(
        [
            "docs", "scripts", "deploy", "examples", ".ci", ".cargo", ".config",
        ]
        .map(str::to_owned),
    );
    let mut missing = Vec::new();
    let mut checked = 0;
    for document in documents() {
        for path in repository_paths(&read(&document), &tops) {
            checked += 1;
            if !root().join(&path).exists() {
                missing.push(format!("{}: `{path}`", relative(&document)));
            }
        }
    }
    assert!(checked > 50, "found only {checked} paths in the docs");
    assert!(
        missing.is_empty(),
        "the docs name paths that do not exist:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_node_library_drives_no_cluster_from_outside() {
    // The `warden` binary's `dev` and `demo` commands drive a local cluster through the
    // client; the server library must not, or the server would depend on its own clients.
    let mut files = Vec::new();
    rust_files(&root().join("node/src"), &mut files);
    let binary = root().join("node/src/bin");
    let offending: Vec<String> = files
        .iter()
        .filter(|file| !file.starts_with(&binary))
        .filter(|file| {
            let text = read(file);
            text.contains("warden_client") || text.contains("warden_local_cluster")
        })
        .map(|file| relative(file))
        .collect();
    assert!(files.len() > 50, "found only {} node files", files.len());
    assert!(
        offending.is_empty(),
        "these node library files use warden_client or warden_local_cluster:\n{}",
        offending.join("\n")
    );
}

/// `(name, kind)` pairs of metrics.
type Metrics = BTreeSet<(String, String)>;

/// `(name, kind)` of every metric the sources record, and of every one they describe.
fn recorded_and_described() -> (Metrics, Metrics) {
    let recorded = regex::Regex::new(r#"\b(counter|gauge|histogram)!\(\s*"(warden_[a-z0-9_]+)""#)
        .expect("pattern");
    let held = regex::Regex::new(r#"Held::new\(\s*"(warden_[a-z0-9_]+)""#).expect("pattern");
    let described =
        regex::Regex::new(r#"describe_(counter|gauge|histogram)!\(\s*"(warden_[a-z0-9_]+)""#)
            .expect("pattern");
    let (mut seen, mut explained) = (BTreeSet::new(), BTreeSet::new());
    for file in &source_files() {
        let text = read(file);
        for found in recorded.captures_iter(&text) {
            seen.insert((found[2].to_owned(), found[1].to_owned()));
        }
        for found in held.captures_iter(&text) {
            seen.insert((found[1].to_owned(), "gauge".to_owned()));
        }
        for found in described.captures_iter(&text) {
            explained.insert((found[2].to_owned(), found[1].to_owned()));
        }
    }
    (seen, explained)
}

/// Every Rust file under the members' `src/`.
fn source_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for member in members() {
        rust_files(&root().join(member).join("src"), &mut files);
    }
    files
}

/// The label keys each recorded metric carries: the `"key" =>` pairs of the statement
/// that records it.
fn recorded_labels() -> BTreeMap<String, BTreeSet<String>> {
    let recorded = regex::Regex::new(r#"\b(?:counter|gauge|histogram)!\(\s*"(warden_[a-z0-9_]+)""#)
        .expect("pattern");
    let key = regex::Regex::new(r#""([a-z_]+)"\s*=>"#).expect("pattern");
    let mut labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &source_files() {
        let text = read(file);
        for found in recorded.captures_iter(&text) {
            let whole = found.get(0).expect("the match");
            let rest = &text[whole.end()..];
            let statement = &rest[..rest.find(';').unwrap_or(rest.len())];
            let keys = labels.entry(found[1].to_owned()).or_default();
            keys.extend(key.captures_iter(statement).map(|key| key[1].to_owned()));
        }
    }
    labels
}

#[test]
fn every_metric_has_help_text_of_its_kind() {
    let (recorded, described) = recorded_and_described();
    assert!(recorded.len() > 25, "found only {} metrics", recorded.len());
    let undescribed: Vec<String> = recorded
        .difference(&described)
        .map(|(name, kind)| format!("{kind} {name}"))
        .collect();
    assert!(
        undescribed.is_empty(),
        "recorded without a describe_*! of the same kind (see node/src/metrics.rs):\n{}",
        undescribed.join("\n")
    );
    let unrecorded: Vec<String> = described
        .difference(&recorded)
        .map(|(name, kind)| format!("{kind} {name}"))
        .collect();
    assert!(
        unrecorded.is_empty(),
        "described but never recorded:\n{}",
        unrecorded.join("\n")
    );
}

/// Every `expr` in a Grafana dashboard, however deep its panels nest.
fn dashboard_queries(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(fields) => {
            for (key, inner) in fields {
                match (key.as_str(), inner) {
                    ("expr" | "definition", serde_json::Value::String(query)) => {
                        out.push(query.clone())
                    }
                    _ => dashboard_queries(inner, out),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                dashboard_queries(item, out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_dashboard_queries_only_metrics_and_labels_the_nodes_export() {
    // The process_* metrics come from the metrics-process crate: node/tests/cluster/metrics.rs
    // checks the dashboard's against a real scrape.
    let (_, described) = recorded_and_described();
    let labels = recorded_labels();
    let dashboard: serde_json::Value =
        serde_json::from_str(&read(&root().join("deploy/grafana/warden.json")))
            .expect("deploy/grafana/warden.json is JSON");
    let mut queries = Vec::new();
    dashboard_queries(&dashboard, &mut queries);
    assert!(queries.len() > 25, "found only {} queries", queries.len());
    let metric = regex::Regex::new(r"\bwarden_[a-z0-9_]+").expect("pattern");
    let grouping = regex::Regex::new(r"\bby \(([^)]*)\)").expect("pattern");
    let selector = regex::Regex::new(r"\{([^}]*)\}").expect("pattern");
    let matcher = regex::Regex::new(r"([a-z_]+)\s*(?:=~|!~|!=|=)").expect("pattern");
    // Prometheus adds these to every series it scrapes; `le` is every histogram's.
    let added = ["instance", "job", "le"];
    let mut problems = Vec::new();
    for query in &queries {
        let mut allowed: BTreeSet<String> = added.iter().map(|label| label.to_string()).collect();
        for found in metric.find_iter(query) {
            let name = found.as_str();
            let base = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|base| described.contains(&(base.to_string(), "histogram".to_owned())));
            let exported = base.unwrap_or(name);
            let known = ["counter", "gauge", "histogram"]
                .iter()
                .any(|kind| described.contains(&(exported.to_owned(), kind.to_string())));
            // A histogram is queried through its series, never by its bare name.
            let bare_histogram =
                base.is_none() && described.contains(&(name.to_owned(), "histogram".to_owned()));
            if !known || bare_histogram {
                problems.push(format!("{query}: {name} is not a series the nodes export"));
            }
            allowed.extend(labels.get(exported).into_iter().flatten().cloned());
        }
        let used = grouping
            .captures_iter(query)
            .flat_map(|found| {
                found[1]
                    .split(',')
                    .map(|label| label.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .chain(selector.captures_iter(query).flat_map(|found| {
                matcher
                    .captures_iter(&found[1])
                    .map(|label| label[1].to_owned())
                    .collect::<Vec<_>>()
            }));
        for label in used {
            if !allowed.contains(&label) {
                problems.push(format!("{query}: no metric it names has the label {label}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
