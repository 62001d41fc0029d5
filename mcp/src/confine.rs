//! Confinement of stdio MCP servers: a Landlock ruleset that lets the child read and
//! execute only system paths and the paths its catalog entry lists, write only its own
//! scratch directory and the entry's write paths, and never reach the node's protected
//! paths (its data directory, its key files), whatever its uid.
//!
//! The ruleset is built in the parent (opening paths and calling `landlock_add_rule`
//! allocates and may fail with a message); the child, between fork and exec, makes only
//! two async-signal-safe syscalls: `prctl(PR_SET_NO_NEW_PRIVS)` and
//! `landlock_restrict_self`. Nothing is allocated after the fork, which in a
//! multithreaded process could deadlock on a lock another thread held.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Error;

/// The node's rules for stdio servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdioSandbox {
    /// Paths every stdio server may read and execute (system libraries and tools).
    pub read_paths: Vec<PathBuf>,
    /// Where each session's private scratch directory (its `TMPDIR` and `HOME`) is made.
    pub scratch_root: PathBuf,
    /// Paths no child may be granted, or be granted an ancestor of: the node's data
    /// directory and key files. Set by the node, not by configuration.
    #[serde(skip)]
    pub protected: Vec<PathBuf>,
    /// Start stdio servers without Landlock when the kernel has none. Off by default:
    /// such a node refuses to start them.
    pub allow_unconfined: bool,
}

impl Default for StdioSandbox {
    fn default() -> StdioSandbox {
        let read_paths = [
            "/usr",
            "/bin",
            "/sbin",
            "/lib",
            "/lib32",
            "/lib64",
            // Not all of /etc: only what the loader, name resolution, TLS and time zones
            // read (no /etc/shadow, no configuration of the node itself).
            "/etc/ld.so.cache",
            "/etc/ld.so.conf",
            "/etc/ld.so.conf.d",
            "/etc/alternatives",
            "/etc/localtime",
            "/etc/timezone",
            "/etc/ssl",
            "/etc/ca-certificates",
            "/etc/resolv.conf",
            "/etc/hosts",
            "/etc/nsswitch.conf",
            "/etc/passwd",
            "/etc/group",
        ];
        StdioSandbox {
            read_paths: read_paths.iter().map(PathBuf::from).collect(),
            scratch_root: std::env::temp_dir(),
            protected: Vec::new(),
            allow_unconfined: false,
        }
    }
}

/// What one child is granted besides the sandbox's system paths.
pub(crate) struct Grants<'a> {
    pub executable: &'a Path,
    pub read_paths: &'a [PathBuf],
    pub write_paths: &'a [PathBuf],
    pub scratch: &'a Path,
}

/// A ruleset ready to be applied in a child; `None` inside when the kernel has no
/// Landlock and the sandbox allows unconfined children.
pub(crate) struct Ruleset {
    fd: Option<OwnedFd>,
}

impl Ruleset {
    /// Makes `command`'s child set `no_new_privs` and restrict itself with this ruleset
    /// between fork and exec. Keep the ruleset until the child is spawned.
    pub(crate) fn apply_in_child(&self, command: &mut tokio::process::Command) {
        let raw = self.fd.as_ref().map(AsRawFd::as_raw_fd);
        // SAFETY: the closure makes only async-signal-safe syscalls and allocates nothing
        // (see `restrict_child`); it captures a plain integer.
        unsafe {
            command.pre_exec(move || restrict_child(raw));
        }
    }
}

/// Devices every child may read and write.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

// Landlock's ABI (linux/landlock.h).
const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: libc::c_int = 1;
const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const REFER: u64 = 1 << 13;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
/// Rights that apply to a file (the rest apply to directories only).
const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// Every filesystem right the kernel's ABI version knows.
fn all_fs_rights(abi: i64) -> u64 {
    let mut rights = (1 << 13) - 1;
    if abi >= 2 {
        rights |= REFER;
    }
    if abi >= 3 {
        rights |= TRUNCATE;
    }
    if abi >= 5 {
        rights |= IOCTL_DEV;
    }
    rights
}

/// The kernel's Landlock ABI version, or `None` without Landlock.
pub fn landlock_abi() -> Option<i64> {
    // SAFETY: asking for the version passes no pointer the kernel dereferences.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    (abi > 0).then_some(abi)
}

/// Whether `granted` (a real path) would expose `protected`: equal, an ancestor, or inside.
fn covers(granted: &Path, protected: &Path) -> bool {
    protected.starts_with(granted) || granted.starts_with(protected)
}

/// The real path an `O_PATH` descriptor refers to (symlinks resolved by the open).
fn real_path(fd: &OwnedFd, path: &Path) -> PathBuf {
    std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .or_else(|_| path.canonicalize())
        .unwrap_or_else(|_| path.to_owned())
}

fn open_path(path: &Path) -> std::io::Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    // SAFETY: a valid C string; the descriptor returned is owned here.
    let fd = unsafe { libc::open(c_path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Checks every path the child would be granted against the protected paths and, with
/// Landlock, builds the ruleset. Errors name the offending path.
pub(crate) fn ruleset(
    server: &str,
    sandbox: &StdioSandbox,
    grants: &Grants<'_>,
) -> Result<Ruleset, Error> {
    let refuse = |reason: String| Error::Confinement {
        server: server.to_owned(),
        reason,
    };
    let abi = landlock_abi();
    let fs_all = all_fs_rights(abi.unwrap_or(1));
    let read = EXECUTE | READ_FILE | READ_DIR;
    let device = READ_FILE | WRITE_FILE | TRUNCATE;
    let mut rules: Vec<(&Path, u64, bool)> = Vec::new();
    rules.extend(
        sandbox
            .read_paths
            .iter()
            .map(|path| (path.as_path(), read, false)),
    );
    // A missing executable fails the spawn itself, naming it; a bare name (only outside
    // the catalog, which requires absolute paths) must be found under the read paths.
    if grants.executable.is_absolute() {
        rules.push((grants.executable, EXECUTE | READ_FILE, false));
    }
    rules.extend(
        grants
            .read_paths
            .iter()
            .map(|path| (path.as_path(), read, true)),
    );
    rules.extend(
        grants
            .write_paths
            .iter()
            .map(|path| (path.as_path(), fs_all, true)),
    );
    rules.push((grants.scratch, fs_all, true));
    rules.extend(DEVICES.iter().map(|path| (Path::new(*path), device, false)));
    let protected: Vec<PathBuf> = sandbox
        .protected
        .iter()
        .map(|path| path.canonicalize().unwrap_or_else(|_| path.clone()))
        .collect();

    let mut opened = Vec::with_capacity(rules.len());
    for (path, rights, required) in rules {
        let fd = match open_path(path) {
            Ok(fd) => fd,
            // A default path this system lacks grants nothing.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !required => continue,
            Err(error) => {
                return Err(refuse(format!("cannot open {}: {error}", path.display())));
            }
        };
        let real = real_path(&fd, path);
        if let Some(hit) = protected.iter().find(|protected| covers(&real, protected)) {
            return Err(refuse(format!(
                "granting {} (really {}) would expose the protected path {}",
                path.display(),
                real.display(),
                hit.display()
            )));
        }
        let is_dir = std::fs::metadata(&real).is_ok_and(|meta| meta.is_dir());
        let rights = if is_dir { rights } else { rights & FILE_RIGHTS };
        opened.push((fd, rights & fs_all));
    }

    let Some(abi) = abi else {
        if sandbox.allow_unconfined {
            return Ok(Ruleset { fd: None });
        }
        return Err(refuse(
            "this kernel has no Landlock, and mcp.allow_unconfined_stdio is off".to_owned(),
        ));
    };
    let attr = RulesetAttr {
        handled_access_fs: fs_all,
        handled_access_net: 0,
        scoped: if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    // Older kernels accept the larger struct as long as the fields they lack are zero.
    let size = if abi >= 6 {
        24
    } else if abi >= 4 {
        16
    } else {
        8
    };
    // SAFETY: `attr` outlives the call and `size` does not exceed it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size as libc::size_t,
            0u32,
        )
    };
    if fd < 0 {
        return Err(refuse(format!(
            "cannot create a landlock ruleset: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: the kernel just returned this descriptor to us.
    let ruleset = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    for (path_fd, rights) in &opened {
        let rule = PathBeneathAttr {
            allowed_access: *rights,
            parent_fd: path_fd.as_raw_fd(),
        };
        // SAFETY: both descriptors are open and `rule` outlives the call.
        let added = unsafe {
            libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset.as_raw_fd(),
                RULE_PATH_BENEATH,
                &rule as *const PathBeneathAttr,
                0u32,
            )
        };
        if added < 0 {
            return Err(refuse(format!(
                "cannot add a landlock rule for {}: {}",
                real_path(path_fd, Path::new("?")).display(),
                std::io::Error::last_os_error()
            )));
        }
    }
    Ok(Ruleset { fd: Some(ruleset) })
}

/// Runs in the child between fork and exec: only async-signal-safe syscalls, no
/// allocation (an `io::Error` from `last_os_error` holds just the errno).
fn restrict_child(ruleset: Option<RawFd>) -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if let Some(fd) = ruleset {
        // SAFETY: `fd` is the ruleset the parent created; it is open in the child until exec.
        if unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_granted_ancestor_or_descendant_covers_a_protected_path() {
        let data = Path::new("/var/lib/warden/data");
        assert!(covers(Path::new("/var/lib"), data));
        assert!(covers(Path::new("/var/lib/warden/data"), data));
        assert!(covers(Path::new("/var/lib/warden/data/db"), data));
        assert!(!covers(Path::new("/var/lib/warden/data2"), data));
        assert!(!covers(Path::new("/usr"), data));
    }

    #[test]
    fn a_grant_over_a_protected_path_is_refused_naming_it() {
        let base = tempfile::tempdir().expect("temp dir");
        let data = base.path().join("data");
        std::fs::create_dir(&data).expect("data dir");
        let sandbox = StdioSandbox {
            protected: vec![data.clone()],
            ..StdioSandbox::default()
        };
        let scratch = tempfile::tempdir().expect("scratch");
        let read_paths = vec![base.path().to_owned()];
        let grants = Grants {
            executable: Path::new("/bin/sh"),
            read_paths: &read_paths,
            write_paths: &[],
            scratch: scratch.path(),
        };
        let Err(error) = ruleset("shell", &sandbox, &grants) else {
            panic!("a grant over the data directory was accepted");
        };
        let message = error.to_string();
        assert!(message.contains(&data.display().to_string()), "{message}");
        assert!(message.contains("shell"), "{message}");
    }
}
