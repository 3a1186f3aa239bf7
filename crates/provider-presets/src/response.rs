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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const XAI: ResponseQuirks = ResponseQuirks {
        annotations: &[],
        usage_in: None,
        cached_tokens_key: None,
        reasoning_outside_completion: true,
        openrouter: false,
    };

    #[test]
    fn xai_reasoning_is_folded_into_completion_only_when_the_total_says_so() {
        // The recorded grok-3-mini usage: 291 + 26 + 189 = 506.
        let mut u = json!({"prompt_tokens": 291, "completion_tokens": 26, "total_tokens": 506,
                           "completion_tokens_details": {"reasoning_tokens": 189}});
        normalize_usage(&XAI, &mut u);
        assert_eq!(u["completion_tokens"], 215);
        // Already folded (total = prompt + completion): left alone.
        let mut folded = json!({"prompt_tokens": 291, "completion_tokens": 215, "total_tokens": 506,
                                "completion_tokens_details": {"reasoning_tokens": 189}});
        normalize_usage(&XAI, &mut folded);
        assert_eq!(folded["completion_tokens"], 215);
    }

    #[test]
    fn cached_tokens_from_the_providers_key_unless_details_say() {
        let q = ResponseQuirks {
            cached_tokens_key: Some("prompt_cache_hit_tokens"),
            ..ResponseQuirks::default()
        };
        let mut u = json!({"prompt_tokens": 374, "prompt_cache_hit_tokens": 256});
        normalize_usage(&q, &mut u);
        assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 256);
        let mut both = json!({"prompt_tokens": 374, "prompt_cache_hit_tokens": 256,
                              "prompt_tokens_details": {"cached_tokens": 200}});
        normalize_usage(&q, &mut both);
        assert_eq!(both["prompt_tokens_details"]["cached_tokens"], 200);
    }

    #[test]
    fn usage_only_under_x_groq_is_found_and_empty_finish_reasons_are_absent() {
        let q = ResponseQuirks {
            usage_in: Some("x_groq"),
            ..ResponseQuirks::default()
        };
        // The recorded Groq finishing chunk without its top-level copy of the usage, as
        // Groq streams sent it before they honoured stream_options.
        let mut v = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": ""}],
                           "x_groq": {"id": "req_1", "usage": {"prompt_tokens": 210,
                                      "completion_tokens": 15, "total_tokens": 225}}});
        normalize(&q, &mut v);
        assert_eq!(v["usage"]["total_tokens"], 225);
        assert!(v["choices"][0]["finish_reason"].is_null());
    }

    #[test]
    fn openrouter_details_give_signatures_and_encrypted_blocks() {
        let d = json!([
            {"type": "reasoning.summary", "summary": "s", "index": 0},
            {"type": "reasoning.text", "text": "", "signature": "", "index": 0},
            {"type": "reasoning.text", "signature": "sig", "index": 0},
            {"type": "reasoning.encrypted", "data": "gAAA", "index": 0}
        ]);
        let x = detail_extras(Some(&d));
        assert_eq!(x.signatures, ["sig"]);
        assert_eq!(x.encrypted, ["gAAA"]);
    }
}
