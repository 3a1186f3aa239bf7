//! Answers: each preset's deviations normalised in the JSON (usage where the API puts it,
//! counted as core counts it; empty finish reasons), then parsed by `provider_openai::wire`;
//! extras kept as annotations, OpenRouter's reasoning signatures as core reasoning blocks.

use provider_openai::wire::{self, ChatCompletion};
use runtime_core::{ChatResponse, Error, ReasoningBlock, Result};
use serde_json::{Map, Value};

use crate::preset::{Preset, ResponseQuirks};

/// The annotation key of a preset's answer field: `<preset>.<field>`.
pub fn annotation_key(preset: &Preset, field: &str) -> String {
    format!("{}.{field}", preset.name)
}

/// Brings a `usage` object to OpenAI's shape and meaning.
pub fn normalize_usage(q: &ResponseQuirks, usage: &mut Value) {
    let Some(u) = usage.as_object_mut() else {
        return;
    };
    if let Some(key) = q.cached_tokens_key {
        let has_details = u
            .get("prompt_tokens_details")
            .and_then(|d| d.get("cached_tokens"))
            .is_some_and(|c| !c.is_null());
        if let Some(cached) = u.get(key).and_then(Value::as_u64).filter(|_| !has_details) {
            u.insert(
                "prompt_tokens_details".into(),
                serde_json::json!({ "cached_tokens": cached }),
            );
        }
    }
    if q.reasoning_outside_completion {
        let n = |k: &str| u.get(k).and_then(Value::as_u64).unwrap_or(0);
        let reasoning = u
            .get("completion_tokens_details")
            .and_then(|d| d.get("reasoning_tokens"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let (prompt, completion, total) = (
            n("prompt_tokens"),
            n("completion_tokens"),
            n("total_tokens"),
        );
        // Only when the totals say so: a later API that folds them itself is left alone.
        if reasoning > 0 && total == prompt + completion + reasoning {
            u.insert(
                "completion_tokens".into(),
                Value::from(completion + reasoning),
            );
        }
    }
}

/// Normalises one answer or stream chunk in place: usage taken from where the preset puts
/// it, an empty `finish_reason` (xAI with tool calls) treated as absent.
pub fn normalize(q: &ResponseQuirks, v: &mut Value) {
    if let Some(obj) = q.usage_in {
        let nested = v.get(obj).and_then(|o| o.get("usage")).cloned();
        let top_missing = v.get("usage").is_none_or(Value::is_null);
        if let (Some(u), true) = (nested, top_missing) {
            v["usage"] = u;
        }
    }
    if let Some(u) = v.get_mut("usage") {
        normalize_usage(q, u);
    }
    if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
        for c in choices {
            if c.get("finish_reason").and_then(Value::as_str) == Some("") {
                c["finish_reason"] = Value::Null;
            }
        }
    }
}

/// The annotations an answer or chunk carries: the preset's top-level fields, and
/// OpenRouter's `usage.cost`.
pub fn annotations(preset: &Preset, v: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for field in preset.response.annotations {
        if let Some(x) = v.get(*field).filter(|x| !x.is_null()) {
            out.insert(annotation_key(preset, field), x.clone());
        }
    }
    if preset.response.openrouter
        && let Some(cost) = v
            .get("usage")
            .and_then(|u| u.get("cost"))
            .filter(|c| !c.is_null())
    {
        out.insert(annotation_key(preset, "cost"), cost.clone());
    }
    out
}

/// What OpenRouter's `reasoning_details` add to the reasoning text: the signature of a text
/// block, and encrypted (redacted) blocks.
#[derive(Debug, Default, PartialEq)]
pub struct DetailExtras {
    /// Signatures, in order.
    pub signatures: Vec<String>,
    /// Encrypted blocks' data, in order.
    pub encrypted: Vec<String>,
}

/// Reads `reasoning_details` (a message's or a delta's).
pub fn detail_extras(details: Option<&Value>) -> DetailExtras {
    let mut out = DetailExtras::default();
    for d in details.and_then(Value::as_array).into_iter().flatten() {
        let s = |k: &str| {
            d.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        match d.get("type").and_then(Value::as_str) {
            Some("reasoning.text") => out.signatures.extend(s("signature")),
            Some("reasoning.encrypted") => out.encrypted.extend(s("data")),
            _ => {}
        }
    }
    out
}

/// Parses a whole chat answer.
pub fn parse_chat(
    preset: &Preset,
    provider: &str,
    model: &str,
    body: &[u8],
) -> Result<ChatResponse> {
    let text = || String::from_utf8_lossy(body).into_owned();
    let mut v: Value = serde_json::from_slice(body)
        .map_err(|e| Error::decode(provider, model, "chat completion", e, &text()))?;
    normalize(&preset.response, &mut v);
    let notes = annotations(preset, &v);
    let extras = if preset.response.openrouter {
        detail_extras(v.pointer("/choices/0/message/reasoning_details"))
    } else {
        DetailExtras::default()
    };
    let parsed: ChatCompletion = serde_json::from_value(v)
        .map_err(|e| Error::decode(provider, model, "chat completion", e, &text()))?;
    let mut resp = wire::parse_chat(parsed, provider, model)?;
    resp.meta.annotations.extend(notes);
    let blocks = &mut resp.message.reasoning;
    if let Some(sig) = extras.signatures.into_iter().last() {
        match blocks.last_mut() {
            Some(b) => b.signature = Some(sig),
            None => blocks.push(ReasoningBlock {
                signature: Some(sig),
                ..ReasoningBlock::text("")
            }),
        }
    }
    for data in extras.encrypted {
        blocks.push(ReasoningBlock {
            kind: "redacted_thinking".into(),
            text: None,
            signature: None,
            data: Some(data),
        });
    }
    Ok(resp)
}
