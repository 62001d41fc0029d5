//! The cluster's catalog of stdio MCP servers: the only programs a node starts for a
//! workspace. Cluster admins manage entries; a workspace registers a stdio server by
//! naming an entry and may add only the arguments and environment variables the entry
//! allows.
//!
//! An entry fixes the executable and its leading arguments. Extra arguments are matched
//! one by one against `allowed_args`, anchored regular expressions (`^(?:pattern)$`):
//! every extra argument must match one pattern in full, so `--ledger=/srv/ledgers/[a-z]+`
//! admits `--ledger=/srv/ledgers/x` and nothing else. Extra environment variables
//! (plain or secret) must be named in `allowed_env`. `read_paths` and `write_paths`
//! widen the filesystem a confined child sees beyond the node's own read-only defaults.

use serde::{Deserialize, Serialize};

use crate::ids::Principal;
use crate::names::CatalogName;

/// Most extra-argument patterns an entry may list.
pub const MAX_PATTERNS: usize = 64;
/// Longest pattern, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;
/// Most extra arguments a registration may add.
pub const MAX_EXTRA_ARGS: usize = 64;
/// Compiled size limit of one pattern, so a pattern cannot make `apply()` slow.
const PATTERN_SIZE_LIMIT: usize = 64 * 1024;

/// What a cluster admin sets on an entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogSpec {
    pub name: CatalogName,
    pub description: String,
    /// An absolute path: the program started, without a shell.
    pub executable: String,
    /// Arguments that always come first, in this order.
    pub args: Vec<String>,
    /// Anchored regular expressions; each extra argument must match one in full.
    pub allowed_args: Vec<String>,
    /// Names of the environment variables a workspace may set (in `env` or `secret_env`).
    pub allowed_env: Vec<String>,
    /// Absolute paths the child may read and execute, beyond the node's defaults.
    pub read_paths: Vec<String>,
    /// Absolute paths the child may read and write.
    pub write_paths: Vec<String>,
}

/// A stored catalog entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub spec: CatalogSpec,
    pub version: u64,
    pub updated_ms: u64,
    pub updated_by: Principal,
}

/// The audit resource name of a catalog entry.
pub fn catalog_resource(name: &CatalogName) -> String {
    format!("catalog/{name}")
}

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn anchored(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(PATTERN_SIZE_LIMIT)
        .build()
}

fn check_path(field: &str, path: &str) -> Option<String> {
    if !path.starts_with('/') {
        Some(format!("{field} {path:?} must be an absolute path"))
    } else if path.contains('\0') {
        Some(format!("{field} {path:?} must not contain NUL"))
    } else if path.split('/').any(|part| part == "..") {
        Some(format!("{field} {path:?} must not contain '..'"))
    } else if path.trim_end_matches('/').is_empty() {
        Some(format!("{field} {path:?} would grant the whole filesystem"))
    } else {
        None
    }
}

impl CatalogSpec {
    /// The first problem with the spec, naming the field.
    pub fn problem(&self) -> Option<String> {
        if let Some(problem) = check_path("executable", &self.executable) {
            return Some(problem);
        }
        if let Some(arg) = self.args.iter().find(|arg| arg.contains('\0')) {
            return Some(format!("args: {arg:?} must not contain NUL"));
        }
        if self.allowed_args.len() > MAX_PATTERNS {
            return Some(format!(
                "allowed_args may list at most {MAX_PATTERNS} patterns"
            ));
        }
        for pattern in &self.allowed_args {
            if pattern.len() > MAX_PATTERN_BYTES {
                return Some(format!(
                    "allowed_args pattern {pattern:?} is longer than {MAX_PATTERN_BYTES} bytes"
                ));
            }
            if let Err(error) = anchored(pattern) {
                let reason = error.to_string().lines().last().unwrap_or("").to_owned();
                return Some(format!(
                    "allowed_args pattern {pattern:?} is not a regular expression: {}",
                    reason.trim().to_lowercase()
                ));
            }
        }
        for name in &self.allowed_env {
            if !is_env_name(name) {
                return Some(format!(
                    "allowed_env {name:?} is not an environment variable name"
                ));
            }
            // The dynamic loader's variables would let a workspace load any readable
            // library into the server.
            if name.starts_with("LD_") {
                return Some(format!(
                    "allowed_env {name:?}: dynamic loader variables cannot be allowed"
                ));
            }
        }
        for (field, paths) in [
            ("read_paths", &self.read_paths),
            ("write_paths", &self.write_paths),
        ] {
            if let Some(problem) = paths.iter().find_map(|path| check_path(field, path)) {
                return Some(problem);
            }
        }
        None
    }

    /// Why the entry does not allow a registration's extra `args` and environment
    /// variable names `env`, naming the first argument or variable it does not allow.
    pub fn refuses<'a>(
        &self,
        args: &[String],
        env: impl IntoIterator<Item = &'a str>,
    ) -> Option<String> {
        if args.len() > MAX_EXTRA_ARGS {
            return Some(format!(
                "at most {MAX_EXTRA_ARGS} extra arguments may be added to catalog entry {}",
                self.name
            ));
        }
        // Patterns were checked when the entry was put; one that no longer compiles
        // matches nothing.
        let patterns: Vec<regex::Regex> = self
            .allowed_args
            .iter()
            .filter_map(|pattern| anchored(pattern).ok())
            .collect();
        if let Some(arg) = args
            .iter()
            .find(|arg| !patterns.iter().any(|pattern| pattern.is_match(arg)))
        {
            return Some(format!(
                "catalog entry {} does not allow argument {arg:?}",
                self.name
            ));
        }
        for name in env {
            if !self.allowed_env.iter().any(|allowed| allowed == name) {
                return Some(format!(
                    "catalog entry {} does not allow environment variable {name}",
                    self.name
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CatalogSpec {
        CatalogSpec {
            name: CatalogName::parse("ledger").expect("name"),
            description: String::new(),
            executable: "/usr/bin/ledger".into(),
            args: vec!["--fixed".into()],
            allowed_args: vec!["--ledger=/srv/[a-z]+".into(), "--verbose".into()],
            allowed_env: vec!["TOKEN".into()],
            read_paths: vec!["/opt/venv".into()],
            write_paths: vec!["/srv".into()],
        }
    }

    #[test]
    fn extra_arguments_must_match_a_pattern_in_full() {
        let spec = spec();
        let args = |list: &[&str]| list.iter().map(|arg| (*arg).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            spec.refuses(&args(&["--ledger=/srv/a", "--verbose"]), []),
            None
        );
        let refused = spec
            .refuses(&args(&["--ledger=/srv/a/../../etc"]), [])
            .expect("refused");
        assert!(refused.contains("--ledger=/srv/a/../../etc"), "{refused}");
        // Anchored: a prefix or a suffix of an allowed argument is not enough.
        assert!(spec.refuses(&args(&["x--verbose"]), []).is_some());
        assert!(spec.refuses(&args(&["--verbose; id"]), []).is_some());
        assert!(spec.refuses(&args(&["--verbose|--x"]), []).is_some());
    }

    #[test]
    fn environment_variables_must_be_listed() {
        let spec = spec();
        assert_eq!(spec.refuses(&[], ["TOKEN"]), None);
        let refused = spec.refuses(&[], ["TOKEN", "PATH"]).expect("refused");
        assert!(refused.contains("environment variable PATH"), "{refused}");
    }

    #[test]
    fn problems_name_the_field() {
        fn problem_with(change: impl Fn(&mut CatalogSpec)) -> String {
            let mut spec = spec();
            change(&mut spec);
            spec.problem().expect("a problem")
        }
        assert_eq!(spec().problem(), None);
        let problems = [
            (problem_with(|s| s.executable = "sh".into()), "executable"),
            (
                problem_with(|s| s.allowed_args = vec!["(".into()]),
                "allowed_args",
            ),
            (
                problem_with(|s| s.allowed_env = vec!["LD_PRELOAD".into()]),
                "allowed_env",
            ),
            (
                problem_with(|s| s.allowed_env = vec!["A-B".into()]),
                "allowed_env",
            ),
            (
                problem_with(|s| s.read_paths = vec!["/".into()]),
                "read_paths",
            ),
            (
                problem_with(|s| s.write_paths = vec!["/srv/../".into()]),
                "write_paths",
            ),
            (
                problem_with(|s| s.write_paths = vec!["srv".into()]),
                "write_paths",
            ),
        ];
        for (problem, field) in problems {
            assert!(problem.starts_with(field), "{problem}");
        }
    }
}
