//! `cargo xtask conformance`: runs each linked provider's conformance test (or an outside
//! crate's, with `--manifest-path`) and the client dialects' (runtime-dialects: the
//! `messages:*` and `responses:*` rows, in a `dialects` column), and prints the provider ×
//! check table.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The report (table column) of the client dialects' rows.
const DIALECTS: &str = "dialects";

const USAGE: &str =
    "usage: cargo xtask conformance [--provider NAME] [--manifest-path PATH/Cargo.toml]...";

/// The workspace's target directory (outside crates build there too: their registry
/// dependencies are shared with the workspace's instead of built again).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

fn conformance_test(out: &std::path::Path) -> Command {
    let mut cmd = crate::cmd::cargo();
    cmd.args(["test", "-q"]).env("MODELRT_CONFORMANCE_OUT", out);
    cmd
}

/// Runs the conformance suites — of every linked provider crate, one of them (`--provider`),
/// or of crates outside the workspace (`--manifest-path`, e.g. an example provider) — and
/// prints the provider × check table of all reports.
pub fn run(args: &[String]) -> Result<(), String> {
    let mut only = None;
    let mut manifests: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match (a.as_str(), it.next()) {
            ("--provider", Some(name)) => only = Some(name.clone()),
            ("--manifest-path", Some(path)) => manifests.push(path.clone()),
            _ => return Err(USAGE.into()),
        }
    }
    let out = target_dir().join("conformance");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut failed_runs = Vec::new();
    let mut expected: Vec<String> = Vec::new();
    if manifests.is_empty() {
        let registry = model_runtime::registry().map_err(|e| e.to_string())?;
        let mut crates: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for f in registry.factories() {
            if only.as_deref().is_none_or(|o| o == f.name) {
                crates.entry(f.crate_name).or_default().push(f.name);
            }
        }
        if crates.is_empty() {
            return Err(format!(
                "no linked provider named {:?}; linked: {}",
                only.unwrap_or_default(),
                registry.names().join(", ")
            ));
        }
        for (krate, names) in &crates {
            expected.extend(names.iter().map(|n| (*n).to_owned()));
            let status = conformance_test(&out)
                .args([
                    "-p",
                    krate,
                    "--test",
                    "conformance",
                    "--",
                    "--test-threads=1",
                ])
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                failed_runs.push((*krate).to_owned());
            }
        }
    }
    // The client dialects' rows (runtime-dialects: Messages and Responses translation over
    // their real fixtures), in the same table as the providers, unless a run is narrowed.
    if manifests.is_empty() && only.is_none() {
        expected.push(DIALECTS.to_owned());
        let status = conformance_test(&out)
            .args([
                "-p",
                "runtime-dialects",
                "--test",
                "conformance",
                "--",
                "--test-threads=1",
            ])
            .status()
            .map_err(|e| e.to_string())?;
        if !status.success() {
            failed_runs.push("runtime-dialects".to_owned());
        }
    }
    for m in &manifests {
        let before = std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
        let status = conformance_test(&out)
            .args([
                "--manifest-path",
                m,
                "--test",
                "conformance",
                "--",
                "--test-threads=1",
            ])
            .env("CARGO_TARGET_DIR", target_dir())
            .status()
            .map_err(|e| format!("{m}: {e}"))?;
        let after = std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0);
        if !status.success() {
            failed_runs.push(m.clone());
        } else if after == before {
            failed_runs.push(format!("{m} (no report)"));
        }
    }
    let mut reports: BTreeMap<String, BTreeMap<String, (String, String)>> = BTreeMap::new();
    let mut checks: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&out)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    entries.sort();
    for p in entries {
        let text = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))?;
        let provider = v["provider"].as_str().unwrap_or("?").to_owned();
        let mut row = BTreeMap::new();
        for r in v["results"].as_array().into_iter().flatten() {
            let check = r["check"].as_str().unwrap_or("?").to_owned();
            let status = r["outcome"]["status"].as_str().unwrap_or("?").to_owned();
            let detail = r["outcome"]["detail"].as_str().unwrap_or("").to_owned();
            if seen.insert(check.clone()) {
                checks.push(check.clone());
            }
            row.insert(check, (status, detail));
        }
        reports.insert(provider, row);
    }
    // Every linked provider type must have produced a report.
    for n in &expected {
        if !reports.contains_key(n) {
            failed_runs.push(format!("{n} (no report)"));
        }
    }
    print_table(&reports, &checks);
    let failures: usize = reports
        .values()
        .flat_map(|r| r.values())
        .filter(|(s, _)| s == "fail")
        .count();
    if failures > 0 || !failed_runs.is_empty() {
        return Err(format!(
            "conformance: {failures} failed check(s); failed runs: {}",
            failed_runs.join(", ")
        ));
    }
    println!("conformance: every provider run passed every applicable check");
    Ok(())
}

fn print_table(reports: &BTreeMap<String, BTreeMap<String, (String, String)>>, checks: &[String]) {
    let providers: Vec<&String> = reports.keys().collect();
    let w = checks.iter().map(String::len).max().unwrap_or(5).max(5);
    let mut header = format!("| {:w$} |", "check");
    let mut rule = format!("|{}|", "-".repeat(w + 2));
    for p in &providers {
        let cw = p.len().max(11);
        header.push_str(&format!(" {p:cw$} |"));
        rule.push_str(&format!("{}|", "-".repeat(cw + 2)));
    }
    println!("{header}\n{rule}");
    for c in checks {
        let mut line = format!("| {c:w$} |");
        for p in &providers {
            let cw = p.len().max(11);
            let cell = match reports[*p].get(c).map(|(s, _)| s.as_str()) {
                Some("pass") => "pass",
                Some("fail") => "FAIL",
                Some("unsupported") => "unsupported",
                Some("not_applicable") => "n/a",
                Some(_) => "?",
                None => "-",
            };
            line.push_str(&format!(" {cell:cw$} |"));
        }
        println!("{line}");
    }
    for (p, rows) in reports {
        for (c, (s, d)) in rows {
            if s == "fail" {
                println!("FAIL {p}: {c}: {d}");
            }
        }
    }
}
