//! `cargo xtask <command>`:
//!
//! - `test`: everything CI checks — services up, fmt, clippy, tidy, the whole test suite
//!   (debug, plus the link-registration test in release), the conformance table, and the
//!   stand-alone examples (`examples/provider-voyage`, `examples/modelrt-custom`).
//! - `conformance [--provider NAME] [--manifest-path PATH]...`: every linked provider's
//!   conformance suite (or an outside crate's), as a table.
//! - `tidy [--no-hack]`: the dependency rules of `docs/architecture.md` §1a from `cargo
//!   metadata`, file lengths, no import circles between files, and every facade feature
//!   building alone (`cargo hack check --each-feature`; `--no-hack` leaves it out).
//! - `services`: installs (apt) and starts Redis and PostgreSQL on 127.0.0.1 for the tests, and
//!   installs the client libraries of docs/clients.md (a Python venv in `target/clients`, npm).
//! - `bench [--duration S] [--warmup S] [--smoke] [--out FILE]`: gateway overhead, throughput,
//!   CPU and memory against direct calls and nginx (docs/performance.md).
//! - `soak [--minutes N] [--replicas N] [--concurrency N] [--out DIR] [--debug] [--bin PATH]`: replicas
//!   sharing Redis and PostgreSQL under load and faults, checked (docs/reliability.md).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod clients;
mod cmd;
mod conformance;
mod services;
mod soak;
mod tidy;

use std::process::{Command, ExitCode};

use cmd::{cargo, run, target_dir};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("conformance") => conformance::run(&args[1..]),
        Some("tidy") => tidy::run(&args[1..]),
        Some("services") => services::ensure(),
        Some("bench") => bench::run(&args[1..]),
        Some("soak") => soak::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <test | conformance [--provider NAME] [--manifest-path PATH]... | tidy | services | bench [--duration S] [--warmup S] [--smoke] [--debug] [--out FILE] | soak [--minutes N] [--replicas N] [--concurrency N] [--out DIR] [--debug] [--bin PATH]>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The packages under `examples/`: each with its own workspace and lockfile, built in the
/// workspace's target directory so the registry dependencies they share with it are not built
/// again (provider-voyage from scratch: 69 s of CPU; after the workspace: 30 s).
const EXAMPLES: &[&str] = &[
    "examples/provider-voyage/Cargo.toml",
    "examples/modelrt-custom/Cargo.toml",
];

fn examples() -> Result<(), String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = target_dir();
    for m in EXAMPLES {
        let manifest = root.join(m);
        let with = |args: &[&str]| {
            let mut c = cargo();
            c.args(args)
                .arg("--manifest-path")
                .arg(&manifest)
                .env("CARGO_TARGET_DIR", &target);
            c
        };
        run(&mut with(&["fmt", "--check"]))?;
        run(with(&["clippy", "--all-targets", "--locked"]).args(["--", "-D", "warnings"]))?;
        run(&mut with(&["test", "--locked"]))?;
    }
    // The outside provider's table, as a third party would print it.
    conformance::run(&[
        "--manifest-path".to_owned(),
        root.join(EXAMPLES[0]).display().to_string(),
    ])
}

/// Prints the free space of the target directory's file system and the size of the target
/// directory, so a CI run that fills its disk says where (a best effort: `df`/`du` missing
/// prints nothing).
fn disk_report(step: &str) {
    let target = target_dir();
    let _ = std::fs::create_dir_all(&target);
    let out = |cmd: &mut Command| {
        cmd.output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let df = out(Command::new("df")
        .args(["-h", "--output=avail"])
        .arg(&target));
    let du = out(Command::new("du").args(["-sh"]).arg(&target));
    let avail = df.lines().last().unwrap_or("?").trim();
    let used = du.split_whitespace().next().unwrap_or("?");
    eprintln!("xtask: disk before {step}: {avail} free, target/ holds {used}");
}

fn test() -> Result<(), String> {
    services::ensure()?;
    disk_report("fmt and clippy");
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    disk_report("tidy");
    tidy::run(&[])?;
    disk_report("the test suite");
    run(cargo().args(["test", "--workspace", "--all-targets"]))?;
    run(cargo().args(["test", "--workspace", "--doc"]))?;
    run(cargo().args([
        "test",
        "--release",
        "-p",
        "model-runtime-e2e",
        "--test",
        "link_registration",
    ]))?;
    // Nothing after this builds in release: its artifacts (about a fifth of the target
    // directory) go, so a CI machine with a small disk keeps room for the examples.
    let release = target_dir().join("release");
    if release.exists() {
        std::fs::remove_dir_all(&release)
            .map_err(|e| format!("cannot remove {}: {e}", release.display()))?;
    }
    disk_report("the registry tests");
    // A facade built with one provider feature registers exactly that provider.
    run(cargo().args([
        "test",
        "-p",
        "model-runtime",
        "--no-default-features",
        "--features",
        "anthropic",
        "--test",
        "registry_features",
    ]))?;
    // A preset feature alone registers its preset (and openai, whose crate it links) only.
    run(cargo().args([
        "test",
        "-p",
        "model-runtime",
        "--no-default-features",
        "--features",
        "perplexity",
        "--test",
        "registry_features",
    ]))?;
    conformance::run(&[])?;
    disk_report("the examples");
    examples()?;
    disk_report("the bench smoke and the soak");
    // The bench machinery end to end (mock, load generator, gateway, nginx when installed),
    // a few seconds on the debug build `cargo test` already made; no targets asserted.
    bench::run(&["--smoke".to_owned(), "--debug".to_owned()])?;
    // The multi-replica soak, short (1.5 min of load, about 2.5 min in all), on the debug
    // build: its checks hold at any length (docs/reliability.md).
    soak::run(&[
        "--debug".to_owned(),
        "--minutes".to_owned(),
        "1.5".to_owned(),
    ])
}
