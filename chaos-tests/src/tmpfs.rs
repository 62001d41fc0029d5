//! A small tmpfs mounted for a test's lifetime, to put a node's database on a disk that
//! can be filled up on purpose. Mounting needs root (CAP_SYS_ADMIN); [`is_root`] lets a
//! test skip where it is not.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Name of the file [`Tmpfs::fill`] fills the disk with.
const FILLER: &str = "filler";

/// A mounted tmpfs, unmounted when dropped. Whatever still holds files open on it (a
/// node process, say) should be stopped first; otherwise it is detached lazily.
#[derive(Debug)]
pub struct Tmpfs {
    path: PathBuf,
}

/// Whether this process runs as root (effective uid 0), read from /proc.
pub fn is_root() -> anyhow::Result<bool> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let uids = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .context("/proc/self/status has no Uid line")?;
    // Real, effective, saved and filesystem uid.
    let effective = uids.split_whitespace().nth(1).context("no effective uid")?;
    Ok(effective == "0")
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_mib` MiB at `path`, creating the directory.
    pub fn mount(path: &Path, size_mib: u64) -> anyhow::Result<Tmpfs> {
        std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        run(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mib}m"), "tmpfs"])
            .arg(path))
        .with_context(|| format!("mounting a {size_mib} MiB tmpfs at {}", path.display()))?;
        Ok(Tmpfs {
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes a filler file until the disk is full, and returns how many bytes it took.
    pub fn fill(&self) -> anyhow::Result<u64> {
        let path = self.path.join(FILLER);
        let mut file =
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let chunk = vec![0xA5u8; 1 << 20];
        let mut written = 0u64;
        loop {
            match file.write(&chunk) {
                Ok(0) => return Ok(written),
                Ok(count) => written += count as u64,
                Err(error) if error.kind() == ErrorKind::StorageFull => return Ok(written),
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    return Err(error).with_context(|| format!("writing {}", path.display()));
                }
            }
        }
    }

    /// Removes the filler file, freeing the space it took.
    pub fn free(&self) -> anyhow::Result<()> {
        let path = self.path.join(FILLER);
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if run(Command::new("umount").arg(&self.path)).is_ok() {
            return;
        }
        // Still busy (a node killed but not yet gone): detach now, freed once unused.
        if let Err(error) = run(Command::new("umount").arg("--lazy").arg(&self.path)) {
            eprintln!(
                "warning: could not unmount {}: {error:#}",
                self.path.display()
            );
        }
    }
}

/// Runs `command`, failing with its stderr unless it exits successfully.
fn run(command: &mut Command) -> anyhow::Result<()> {
    let output = command
        .output()
        .with_context(|| format!("running {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
