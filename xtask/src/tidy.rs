//! `cargo xtask tidy`: the structure CI keeps true.
//!
//! - The dependency rules of `docs/architecture.md` §1a, written below as data and checked
//!   against `cargo metadata`: a violation names the edge and the rule it breaks.
//! - No `.rs` file under `crates/`, `xtask/`, `tests/` or `examples/` is longer than
//!   [`lines::MAX_LINES`] lines (`target/` and generated files aside): the error lists each
//!   offender with its length.
//! - No two files of a crate import each other in a circle ([`circles`]): every circle is
//!   listed with the `use` lines that close it.
//! - Every feature of the facade builds alone (`cargo hack check --each-feature --no-dev-deps
//!   -p model-runtime`, cargo-hack installed from crates.io when missing); `--no-hack`
//!   leaves this slow step out (the source checks alone, while iterating).

use serde_json::Value;

mod circles;
mod lines;

/// Who may depend on whom (normal and build dependencies), by package. `provider-*` stands for
/// every provider crate. Test code may in addition use the test-support crates
/// ([`TEST_SUPPORT`]) as dev-dependencies; nothing else may.
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "runtime-core",
        &[],
        "runtime-core depends on no workspace crate",
    ),
    (
        "provider-openai",
        &["runtime-core"],
        "a provider crate depends on runtime-core only",
    ),
    (
        "provider-azure-openai",
        &["runtime-core", "provider-openai"],
        "an OpenAI-compatible provider may reuse provider-openai",
    ),
    (
        "provider-local",
        &["runtime-core", "provider-openai"],
        "an OpenAI-compatible provider may reuse provider-openai",
    ),
    (
        "provider-huggingface",
        &["runtime-core", "provider-openai"],
        "an OpenAI-compatible provider may reuse provider-openai",
    ),
    (
        "provider-presets",
        &["runtime-core", "provider-openai"],
        "an OpenAI-compatible provider may reuse provider-openai",
    ),
    (
        "provider-vertex",
        &["runtime-core", "provider-google", "provider-anthropic"],
        "Vertex AI reuses the Gemini and Anthropic wires of provider-google and provider-anthropic",
    ),
    (
        "provider-mistral",
        &["runtime-core", "provider-openai"],
        "an OpenAI-compatible provider may reuse provider-openai",
    ),
    (
        "provider-bedrock",
        &["runtime-core"],
        "a native provider depends on runtime-core only (the AWS signing and event-stream \
         crates are external, not the SDK)",
    ),
    (
        "provider-jina",
        &["runtime-core"],
        "a native provider depends on runtime-core only (Jina's rerank and embeddings are \
         mapped in the crate, not over provider-openai)",
    ),
    (
        "provider-*",
        &["runtime-core"],
        "a provider crate depends on runtime-core only",
    ),
    (
        "runtime-redis",
        &["runtime-core"],
        "the one Redis layer depends on runtime-core only",
    ),
    (
        "runtime-governance",
        &["runtime-core", "runtime-redis"],
        "governance (keys, teams, budgets) depends on runtime-core and the shared Redis layer",
    ),
    (
        "runtime-dialects",
        &["runtime-core"],
        "client dialects are pure functions over core types",
    ),
    (
        "runtime-router",
        &["runtime-core", "runtime-redis"],
        "router and cache depend on runtime-core and the shared Redis layer; the facade composes them",
    ),
    (
        "runtime-cache",
        &["runtime-core", "runtime-redis"],
        "router and cache depend on runtime-core and the shared Redis layer; the facade composes them",
    ),
    (
        "runtime-metrics",
        &["runtime-core"],
        "router, cache and metrics depend on runtime-core only; the facade composes them",
    ),
    (
        "model-runtime",
        &[
            "runtime-core",
            "runtime-router",
            "runtime-cache",
            "runtime-metrics",
            "runtime-redis",
            "provider-*",
        ],
        "the facade composes core, layers and providers",
    ),
    (
        "runtime-gateway",
        &["model-runtime", "runtime-dialects", "runtime-governance"],
        "the gateway reaches everything through model-runtime, speaks the client dialects and enforces governance",
    ),
    (
        "runtime-testkit",
        &["runtime-core"],
        "test support depends on runtime-core",
    ),
    (
        "runtime-conformance",
        &["runtime-core", "runtime-testkit"],
        "test support depends on runtime-core",
    ),
    ("runtime-bench", &[], "the bench harness is stand-alone"),
    (
        "model-runtime-e2e",
        &["runtime-core", "model-runtime", "provider-*"],
        "the end-to-end tests link the facade and providers",
    ),
    (
        "xtask",
        &["model-runtime", "runtime-testkit"],
        "xtask drives the facade; the soak controls services through the testkit",
    ),
];

/// Test-support crates: allowed as dev-dependencies of anyone, never as a normal dependency
/// (runtime-conformance's own use of the testkit aside).
const TEST_SUPPORT: &[&str] = &["runtime-testkit", "runtime-conformance"];

/// Dev-dependencies beyond a package's rule, each with why.
const DEV_EXCEPTIONS: &[(&str, &str, &str)] = &[
    (
        "runtime-conformance",
        "provider-openai",
        "the provider guide's examples build an OpenAI-compatible provider",
    ),
    (
        "runtime-dialects",
        "provider-anthropic",
        "recorded upstream wire data runs through the real provider mappings",
    ),
    (
        "runtime-dialects",
        "provider-openai",
        "recorded upstream wire data runs through the real provider mappings",
    ),
];

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// The rule of `package`: the first entry whose pattern matches.
fn rule(package: &str) -> Option<(&'static [&'static str], &'static str)> {
    RULES
        .iter()
        .find(|(p, _, _)| matches(p, package))
        .map(|(_, allowed, why)| (*allowed, *why))
}

/// The violations among `edges` (package, dependency, kind) of the workspace `members`.
pub fn violations(members: &[String], edges: &[(String, String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for m in members {
        if rule(m).is_none() {
            out.push(format!(
                "{m}: no dependency rule; add one to xtask/src/tidy.rs (and docs/architecture.md §1a)"
            ));
        }
    }
    for (from, to, kind) in edges {
        let Some((allowed, why)) = rule(from) else {
            continue;
        };
        let ok = if kind == "dev" {
            TEST_SUPPORT.contains(&to.as_str())
                || allowed.iter().any(|a| matches(a, to))
                || DEV_EXCEPTIONS.iter().any(|(f, t, _)| f == from && t == to)
        } else {
            allowed.iter().any(|a| matches(a, to))
        };
        if !ok {
            out.push(format!("{from} -> {to} ({kind} dependency): {why}"));
        }
    }
    out
}

fn metadata() -> Result<Value, String> {
    let out = crate::cmd::cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))
}

/// The root files of every target of every workspace package (libraries, binaries, tests,
/// benches, examples, build scripts).
fn target_roots(meta: &Value) -> Vec<std::path::PathBuf> {
    let mut roots: Vec<std::path::PathBuf> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["targets"].as_array().into_iter().flatten())
        .filter_map(|t| t["src_path"].as_str().map(std::path::PathBuf::from))
        .collect();
    roots.sort();
    roots.dedup();
    roots
}

/// The workspace members and their edges to other members.
fn graph(meta: &Value) -> (Vec<String>, Vec<(String, String, String)>) {
    let packages = meta["packages"].as_array().cloned().unwrap_or_default();
    let members: Vec<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    let mut edges = Vec::new();
    for p in &packages {
        let from = p["name"].as_str().unwrap_or_default();
        for d in p["dependencies"].as_array().into_iter().flatten() {
            let to = d["name"].as_str().unwrap_or_default();
            if members.iter().any(|m| m == to) {
                let kind = d["kind"].as_str().unwrap_or("normal");
                edges.push((from.to_owned(), to.to_owned(), kind.to_owned()));
            }
        }
    }
    (members, edges)
}

fn ensure_cargo_hack() -> Result<(), String> {
    let found = crate::cmd::cargo()
        .args(["hack", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Ok(());
    }
    crate::cmd::run(crate::cmd::cargo().args(["install", "--locked", "cargo-hack"]))
}

pub fn run(args: &[String]) -> Result<(), String> {
    let no_hack = match args {
        [] => false,
        [a] if a == "--no-hack" => true,
        _ => {
            return Err(format!(
                "tidy: unknown arguments {args:?} (only `--no-hack`)"
            ));
        }
    };
    let meta = metadata()?;
    let (members, edges) = graph(&meta);
    let bad = violations(&members, &edges);
    if !bad.is_empty() {
        return Err(format!(
            "dependency rules (docs/architecture.md §1a) broken:\n  {}",
            bad.join("\n  ")
        ));
    }
    println!(
        "tidy: {} workspace packages, {} edges between them, every one allowed",
        members.len(),
        edges.len()
    );
    let root = crate::cmd::workspace_root();
    lines::check(&root)?;
    circles::check(&root, &target_roots(&meta))?;
    if no_hack {
        return Ok(());
    }
    ensure_cargo_hack()?;
    crate::cmd::run(crate::cmd::cargo().args([
        "hack",
        "check",
        "--each-feature",
        "--no-dev-deps",
        "-p",
        "model-runtime",
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(a: &str, b: &str, k: &str) -> (String, String, String) {
        (a.into(), b.into(), k.into())
    }

    #[test]
    fn a_forbidden_edge_is_named_with_its_rule() {
        let members: Vec<String> = ["runtime-core", "runtime-router", "provider-acme"]
            .map(String::from)
            .to_vec();
        let bad = violations(
            &members,
            &[
                edge("runtime-router", "runtime-core", "normal"),
                edge("runtime-router", "provider-acme", "normal"),
                edge("provider-acme", "runtime-testkit", "dev"),
                edge("provider-acme", "runtime-testkit", "normal"),
            ],
        );
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].starts_with("runtime-router -> provider-acme (normal dependency)"));
        assert!(bad[1].starts_with("provider-acme -> runtime-testkit (normal dependency)"));
    }

    #[test]
    fn a_package_without_a_rule_is_reported() {
        let bad = violations(&["newcomer".to_owned()], &[]);
        assert!(bad[0].contains("no dependency rule"), "{bad:?}");
    }
}
