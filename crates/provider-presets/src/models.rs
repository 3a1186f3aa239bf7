//! `GET /models`: OpenAI's `{data: [...]}` list (or a bare array), entries enriched from the
//! static catalog, and the limits the listing states itself — `context_length` and
//! `top_provider.max_completion_tokens` (OpenRouter), `context_window` (Groq).

use provider_openai::wire::guess_kind;
use runtime_core::{Error, ModelInfo, ModelKind, Result};
use serde_json::Value;

fn u32_at(v: &Value, path: &str) -> Option<u32> {
    v.pointer(path)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// Parses a model list body.
pub fn parse_models(provider: &str, catalog: &[ModelInfo], body: &[u8]) -> Result<Vec<ModelInfo>> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            provider,
            "",
            "model list",
            e,
            &String::from_utf8_lossy(body),
        )
    })?;
    let entries = match &v {
        Value::Array(a) => a.as_slice(),
        other => other
            .get("data")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .ok_or_else(|| {
                Error::decode(
                    provider,
                    "",
                    "model list",
                    "expected `data: [...]` or an array",
                    &String::from_utf8_lossy(body),
                )
            })?,
    };
    Ok(entries
        .iter()
        .filter_map(|e| {
            let id = e.get("id").and_then(Value::as_str)?;
            let mut m = catalog
                .iter()
                .find(|c| c.id == id)
                .cloned()
                .unwrap_or_else(|| {
                    let kind = guess_kind(id);
                    ModelInfo {
                        id: id.to_owned(),
                        kind,
                        supports_streaming: kind == ModelKind::Chat,
                        ..ModelInfo::default()
                    }
                });
            m.provider = provider.to_owned();
            if let Some(c) = u32_at(e, "/context_length").or_else(|| u32_at(e, "/context_window")) {
                m.context_window = Some(c);
            }
            if let Some(o) = u32_at(e, "/top_provider/max_completion_tokens") {
                m.max_output_tokens = Some(o);
            }
            m.owned_by = e
                .get("owned_by")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(m.owned_by);
            m.created = e.get("created").and_then(Value::as_i64).or(m.created);
            Some(m)
        })
        .collect())
}
