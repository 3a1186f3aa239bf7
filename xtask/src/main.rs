//! `cargo xtask <command>`:
//!
//! - `test`: everything CI checks — services up, fmt, clippy, the whole test suite (debug, plus
//!   the link-registration test in release), the conformance table.
//! - `conformance [--provider NAME]`: every linked provider's conformance suite, as a table.
//! - `services`: installs (apt) and starts Redis and PostgreSQL on 127.0.0.1 for the tests.
//! - `bench [--duration S] [--warmup S] [--smoke] [--out FILE]`: gateway overhead, throughput,
//!   CPU and memory against direct calls and nginx (docs/performance.md).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod conformance;
mod services;

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("conformance") => conformance::run(&args[1..]),
        Some("services") => services::ensure(),
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <test | conformance [--provider NAME] | services | bench [--duration S] [--warmup S] [--smoke] [--debug] [--out FILE]>"
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

/// Runs a command, streaming its output; an error names it.
pub fn run(cmd: &mut Command) -> Result<(), String> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed with {status}"))
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn test() -> Result<(), String> {
    services::ensure()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
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
    // The bench machinery end to end (mock, load generator, gateway, nginx when installed),
    // a few seconds on the debug build `cargo test` already made; no targets asserted.
    bench::run(&["--smoke".to_owned(), "--debug".to_owned()])
}
