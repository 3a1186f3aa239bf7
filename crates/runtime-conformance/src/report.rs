//! What a run found, as a table and as JSON for `cargo xtask conformance`.

use serde::{Deserialize, Serialize};

/// How one check ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed, with why.
    Fail(String),
    /// The provider declares the capability false (and returned `Unsupported` for it).
    Unsupported(String),
    /// The provider cannot produce this, with why.
    NotApplicable(String),
}

impl Outcome {
    /// A one-word cell for tables.
    pub fn cell(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "FAIL",
            Outcome::Unsupported(_) => "unsupported",
            Outcome::NotApplicable(_) => "n/a",
        }
    }
}

/// One row of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check.
    pub check: String,
    /// Its outcome.
    pub outcome: Outcome,
}

/// All checks of one provider.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Report {
    /// The provider.
    pub provider: String,
    /// The checks, in run order.
    pub results: Vec<CheckResult>,
}

impl Report {
    /// An empty report for `provider`.
    pub fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            results: Vec::new(),
        }
    }

    /// The outcome of `check`, if it ran.
    pub fn outcome(&self, check: &str) -> Option<&Outcome> {
        self.results
            .iter()
            .find(|r| r.check == check)
            .map(|r| &r.outcome)
    }

    /// Adds a result.
    pub fn push(&mut self, check: impl Into<String>, outcome: Outcome) {
        self.results.push(CheckResult {
            check: check.into(),
            outcome,
        });
    }

    /// The failed checks.
    pub fn failures(&self) -> Vec<&CheckResult> {
        self.results
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Fail(_)))
            .collect()
    }

    /// A plain-text table of the results.
    pub fn table(&self) -> String {
        let width = self
            .results
            .iter()
            .map(|r| r.check.len())
            .max()
            .unwrap_or(5);
        let mut s = format!("conformance: {}\n", self.provider);
        for r in &self.results {
            let detail = match &r.outcome {
                Outcome::Pass => String::new(),
                Outcome::Fail(d) | Outcome::Unsupported(d) | Outcome::NotApplicable(d) => {
                    format!("  ({d})")
                }
            };
            s.push_str(&format!(
                "  {:width$}  {}{}\n",
                r.check,
                r.outcome.cell(),
                detail
            ));
        }
        s
    }

    /// Writes the report as JSON to `$MODELRT_CONFORMANCE_OUT/<provider>.json` when that
    /// variable is set (atomically: a temporary file renamed into place), prints the table,
    /// and panics if any check failed.
    pub fn finish(self) {
        println!("{}", self.table());
        if let Some(dir) = std::env::var_os("MODELRT_CONFORMANCE_OUT") {
            let dir = std::path::PathBuf::from(dir);
            let write = || -> std::io::Result<()> {
                std::fs::create_dir_all(&dir)?;
                let tmp = dir.join(format!(".{}.json.tmp", self.provider));
                let json = serde_json::to_vec_pretty(&self).map_err(std::io::Error::other)?;
                std::fs::write(&tmp, json)?;
                std::fs::rename(&tmp, dir.join(format!("{}.json", self.provider)))
            };
            if let Err(e) = write() {
                panic!(
                    "cannot write the conformance report to {}: {e}",
                    dir.display()
                );
            }
        }
        let failures = self.failures();
        if !failures.is_empty() {
            panic!(
                "{} conformance check(s) failed for {}:\n{}",
                failures.len(),
                self.provider,
                failures
                    .iter()
                    .map(|f| format!("  {}: {:?}", f.check, f.outcome))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}
