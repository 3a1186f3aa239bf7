//! Test support: fixtures, SSE framing, the two dialects' event grammars, and test-only
//! decoders from upstream wire data to core events.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::field_reassign_with_default
)]

pub mod compare;
pub mod grammar;
pub mod upstream;

use std::path::PathBuf;

use serde_json::Value;

/// `tests/fixtures/<dialect>/<name>`.
pub fn fixture_path(dialect: &str, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dialect)
        .join(name)
}

/// The bytes of a fixture.
pub fn fixture(dialect: &str, name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(dialect, name))
        .unwrap_or_else(|e| panic!("fixture {dialect}/{name}: {e}"))
}

/// A fixture as JSON.
pub fn fixture_json(dialect: &str, name: &str) -> Value {
    serde_json::from_slice(&fixture(dialect, name)).unwrap()
}

/// Fixture stems with `suffix` (`tool-use` for `tool-use.request.json`), sorted.
pub fn fixtures_with(dialect: &str, suffix: &str) -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dialect);
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(suffix).map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// One SSE event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    /// The `event:` line (empty when absent).
    pub event: String,
    /// The `data:` payload, parsed.
    pub data: Value,
}

/// Parses SSE bytes strictly: every frame is `event: <name>` (optional) and one `data: <json>`
/// line, frames end with a blank line, nothing else. Errors say what is wrong.
pub fn parse_sse(bytes: &[u8]) -> Result<Vec<Sse>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    if !text.is_empty() && !text.ends_with("\n\n") {
        return Err("the stream does not end with a blank line".into());
    }
    let mut out = Vec::new();
    for frame in text.split("\n\n").filter(|f| !f.trim().is_empty()) {
        let mut event = String::new();
        let mut data: Option<String> = None;
        for line in frame.lines() {
            if let Some(e) = line.strip_prefix("event: ") {
                event = e.to_owned();
            } else if let Some(d) = line.strip_prefix("data: ") {
                if data.is_some() {
                    return Err(format!("two data lines in one frame: {frame:?}"));
                }
                data = Some(d.to_owned());
            } else if line.starts_with(':') {
                continue;
            } else {
                return Err(format!("unexpected line {line:?}"));
            }
        }
        let data = data.ok_or_else(|| format!("frame without data: {frame:?}"))?;
        let data: Value =
            serde_json::from_str(&data).map_err(|e| format!("bad JSON {data:?}: {e}"))?;
        out.push(Sse { event, data });
    }
    Ok(out)
}

/// Lenient parse of recorded upstream SSE (padding, `data:` without space).
pub fn parse_recorded_sse(bytes: &[u8]) -> Vec<Sse> {
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for frame in text.split("\n\n") {
        let mut event = String::new();
        let mut data = None;
        for line in frame.lines() {
            if let Some(e) = line.strip_prefix("event:") {
                event = e.trim().to_owned();
            } else if let Some(d) = line.strip_prefix("data:") {
                data = Some(d.trim().to_owned());
            }
        }
        if let Some(d) = data {
            out.push(Sse {
                event,
                data: serde_json::from_str(&d).unwrap(),
            });
        }
    }
    out
}

/// A `*.chunks.jsonl` fixture as events (the event name from `type`).
pub fn parse_chunks(bytes: &[u8]) -> Vec<Sse> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let data: Value = serde_json::from_str(l).unwrap();
            Sse {
                event: data["type"].as_str().unwrap_or_default().to_owned(),
                data,
            }
        })
        .collect()
}

/// An encoded stream as text for snapshots: one `event  data` line per event.
pub fn render(events: &[Sse]) -> String {
    let mut s = String::new();
    for e in events {
        s.push_str(&e.event);
        s.push_str("  ");
        s.push_str(&e.data.to_string());
        s.push('\n');
    }
    s
}

/// Pretty JSON for snapshots.
pub fn pretty<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap()
}
