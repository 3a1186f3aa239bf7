//! The recorded fixtures and transcript helpers.

use std::path::PathBuf;

use serde_json::Value;

/// The directory holding every provider's fixtures.
pub fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The path of one fixture.
pub fn path(provider: &str, name: &str) -> PathBuf {
    dir().join(provider).join(name)
}

/// A fixture's text. Panics (in tests) when it is missing.
pub fn text(provider: &str, name: &str) -> String {
    let p = path(provider, name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// A fixture's bytes.
pub fn bytes(provider: &str, name: &str) -> Vec<u8> {
    let p = path(provider, name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

/// A fixture parsed as JSON.
pub fn json(provider: &str, name: &str) -> Value {
    serde_json::from_str(&text(provider, name))
        .unwrap_or_else(|e| panic!("fixture {provider}/{name}: {e}"))
}

/// Every fixture file name of a provider, sorted.
pub fn list(provider: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir().join(provider))
        .unwrap_or_else(|e| panic!("fixtures of {provider}: {e}"))
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Turns a `.chunks.jsonl` fixture (one SSE data payload per line) into an SSE body.
pub fn jsonl_to_sse(jsonl: &str, done_marker: bool) -> String {
    let mut out = String::new();
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        out.push_str("data: ");
        out.push_str(line);
        out.push_str("\n\n");
    }
    if done_marker {
        out.push_str("data: [DONE]\n\n");
    }
    out
}

/// Turns a `.chunks.json` fixture (a JSON array of chunks) into an SSE body.
pub fn json_array_to_sse(array: &str, done_marker: bool) -> String {
    let v: Vec<Value> = serde_json::from_str(array).expect("a JSON array of chunks");
    let lines: Vec<String> = v.iter().map(Value::to_string).collect();
    jsonl_to_sse(&lines.join("\n"), done_marker)
}

/// Every way of cutting `bytes` into two pieces, plus byte-at-a-time, plus `n` pseudo-random
/// cuttings: feed each to a decoder and compare with the whole.
pub fn rechunkings(bytes: &[u8], n: usize) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for i in 0..=bytes.len() {
        out.push(vec![bytes[..i].to_vec(), bytes[i..].to_vec()]);
    }
    out.push(bytes.chunks(1).map(<[u8]>::to_vec).collect());
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..n {
        let mut pieces = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let take = 1 + (seed % 64) as usize;
            let take = take.min(rest.len());
            pieces.push(rest[..take].to_vec());
            rest = &rest[take..];
        }
        out.push(pieces);
    }
    out
}

/// The fixture files of `provider` that the conformance case files in `cases_dir` use: for a
/// case's `fixture`, its request, response and meta files; its `reply` and `equivalent` files.
pub fn used_by_cases(provider: &str, cases_dir: &std::path::Path) -> Vec<String> {
    let all = list(provider);
    let mut used = Vec::new();
    let Ok(rd) = std::fs::read_dir(cases_dir) else {
        return used;
    };
    for entry in rd.filter_map(Result::ok) {
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let Ok(case) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if let Some(stem) = case.get("fixture").and_then(Value::as_str) {
            let prefix = format!("{stem}.");
            used.extend(all.iter().filter(|f| f.starts_with(&prefix)).cloned());
        }
        for key in ["reply", "equivalent"] {
            if let Some(name) = case.get(key).and_then(Value::as_str) {
                used.push(name.to_owned());
            }
        }
    }
    used.sort();
    used.dedup();
    used
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_are_present() {
        assert!(list("openai").len() > 10);
        assert!(
            json("openai", "chat-basic-system.response.json")
                .get("choices")
                .is_some()
        );
    }

    #[test]
    fn rechunkings_preserve_bytes() {
        let b = b"hello world";
        for pieces in rechunkings(b, 5) {
            assert_eq!(pieces.concat(), b);
        }
    }
}
