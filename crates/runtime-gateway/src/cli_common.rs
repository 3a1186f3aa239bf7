//! What the `modelrt` commands share: the error a failed command prints, the configuration
//! file loader, and the text table (`cli`, `cli_admin`, `cli_models` and `usage` use them).

use std::path::Path;

use model_runtime::{Config, ConfigError};

/// What a failed command prints and its exit code.
#[derive(Debug)]
pub struct CliError {
    pub(crate) message: String,
    pub(crate) code: u8,
}

impl CliError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 1,
        }
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        Self {
            message: format!("configuration error: {e}"),
            code: 2,
        }
    }
}

impl From<model_runtime::Error> for CliError {
    fn from(e: model_runtime::Error) -> Self {
        Self::new(e.to_string())
    }
}

/// Loads `path`, or the embedded default when there is none.
pub fn load_config(path: Option<&Path>) -> Result<Config, ConfigError> {
    match path {
        Some(p) => Config::from_file(p),
        None => Ok(Config::embedded_default()),
    }
}

/// Left-aligned columns separated by two spaces.
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, (c, w)) in r.iter().zip(widths).enumerate() {
            if i + 1 == N {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}  "));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
