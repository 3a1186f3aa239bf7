//! The client libraries of the compatibility matrix (docs/clients.md, tests/gateway/clients.rs):
//! a Python venv in `target/clients/venv` with the pinned packages of
//! tests/clients/requirements.txt, and `npm ci` of tests/clients/node (package-lock.json).
//! Each is redone only when its pin file changed since the last install.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cmd::run;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Whether `stamp` holds exactly the bytes of `pins` (the install is current).
fn current(stamp: &Path, pins: &Path) -> bool {
    match (std::fs::read(stamp), std::fs::read(pins)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn write_stamp(stamp: &Path, pins: &Path) -> Result<(), String> {
    std::fs::copy(pins, stamp)
        .map(|_| ())
        .map_err(|e| format!("cannot write {}: {e}", stamp.display()))
}

/// Installs both; an error says what failed (the matrix tests fail without them).
pub fn ensure() -> Result<(), String> {
    let root = root();
    python(&root)?;
    node(&root)
}

fn python(root: &Path) -> Result<(), String> {
    let dir = root.join("target/clients");
    let venv = dir.join("venv");
    let pins = root.join("tests/clients/requirements.txt");
    let stamp = venv.join("modelrt-requirements.txt");
    let py = venv.join("bin/python");
    if py.exists() && current(&stamp, &pins) {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    if !py.exists() {
        run(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(&py)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&pins))?;
    write_stamp(&stamp, &pins)
}

fn node(root: &Path) -> Result<(), String> {
    let dir = root.join("tests/clients/node");
    let pins = dir.join("package-lock.json");
    let stamp = dir.join("node_modules/.modelrt-package-lock.json");
    if current(&stamp, &pins) {
        return Ok(());
    }
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir))?;
    write_stamp(&stamp, &pins)
}
