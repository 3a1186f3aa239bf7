//! Real filesystem faults for storage tests: a small private tmpfs that can be filled to the
//! last byte (disk full), files made immutable (`chattr +i`, which stops even root from
//! opening them for writing), and clean-up that runs even when the test panics.
//!
//! Mounting needs root (CAP_SYS_ADMIN), as CI has. When a fault cannot be set up the helper
//! panics with the reason: a fault test must fail, never pass without its fault.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

fn run(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `{cmd}`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{cmd} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A tmpfs of a fixed size mounted on a fresh directory; unmounted and removed on drop.
#[derive(Debug)]
pub struct Tmpfs {
    dir: PathBuf,
    filler: PathBuf,
    immutable: parking_lot::Mutex<Vec<PathBuf>>,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size_bytes`. Panics, naming the cause, when it cannot (not root,
    /// no `mount`): the calling test needs this fault and must not pass without it.
    pub fn mount(size_bytes: u64) -> Tmpfs {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "modelrt-tmpfs-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let size = format!("size={size_bytes}");
        if let Err(e) = run(
            "mount",
            &[
                "-t",
                "tmpfs",
                "-o",
                &size,
                "modelrt-test",
                &dir.to_string_lossy(),
            ],
        ) {
            let _ = std::fs::remove_dir(&dir);
            panic!(
                "this test needs a private tmpfs (run it as root, as CI does; uid here: {}): {e}",
                uid()
            );
        }
        let filler = dir.join(".filler");
        Tmpfs {
            dir,
            filler,
            immutable: parking_lot::Mutex::new(Vec::new()),
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Fills the filesystem until a write fails with "no space left"; returns the bytes
    /// taken. Panics if the disk does not fill (the fault would not be real).
    pub fn fill(&self) -> u64 {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.filler)
            .unwrap();
        let chunk = vec![0u8; 4096];
        let mut n = 0u64;
        loop {
            match f.write(&chunk) {
                Ok(0) => break,
                Ok(k) => n += k as u64,
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        // The page cache of a tmpfs is the disk: no sync needed. Check it is really full.
        let probe = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(".probe"))
            .and_then(|mut p| p.write_all(&chunk));
        let _ = std::fs::remove_file(self.dir.join(".probe"));
        assert!(probe.is_err(), "the tmpfs did not fill up");
        n
    }

    /// Fills the filesystem, then gives back `bytes` (rounded to pages by the kernel): the
    /// next writes fit only partly.
    pub fn fill_leaving(&self, bytes: u64) {
        let n = self.fill();
        let f = OpenOptions::new().write(true).open(&self.filler).unwrap();
        f.set_len(n.saturating_sub(bytes)).unwrap();
    }

    /// Gives the space taken by [`Tmpfs::fill`] back.
    pub fn free(&self) {
        match std::fs::remove_file(&self.filler) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => panic!("freeing the tmpfs: {e}"),
        }
    }

    /// Makes `path` (a file or directory on this tmpfs) immutable, or mutable again:
    /// `chattr +i` refuses opening it for writing, creating files in it, and renaming or
    /// removing it, even to root. Open descriptors keep writing (as with `chmod`).
    pub fn set_immutable(&self, path: &Path, on: bool) {
        let flag = if on { "+i" } else { "-i" };
        if let Err(e) = run("chattr", &[flag, &path.to_string_lossy()]) {
            panic!("this test needs `chattr {flag}` on a tmpfs (Linux 6.0+, e2fsprogs): {e}");
        }
        let mut list = self.immutable.lock();
        list.retain(|p| p != path);
        if on {
            list.push(path.to_owned());
        }
    }

    /// Opens `path` for writing: whether that is refused (to check a fault took effect).
    pub fn write_refused(path: &Path) -> bool {
        OpenOptions::new().append(true).open(path).is_err()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        for p in self.immutable.lock().drain(..) {
            let _ = run("chattr", &["-i", &p.to_string_lossy()]);
        }
        let dir = self.dir.to_string_lossy().into_owned();
        if run("umount", &[&dir]).is_err() {
            // Still in use (a process of the test holds a file): detach it now; the kernel
            // frees it when the last file closes.
            if let Err(e) = run("umount", &["-l", &dir]) {
                eprintln!("warning: cannot unmount test tmpfs {dir}: {e}");
            }
        }
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The effective user id (for messages).
pub fn uid() -> String {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|_| "?".into())
}
