//! Mistral's deviations from OpenAI's chat wire, as pure functions over the OpenAI body of
//! `provider_openai::wire`, and the body of `POST /v1/fim/completions`.
//!
//! - Tool-call ids: Mistral accepts only ids of exactly nine characters `a-z A-Z 0-9`
//!   ("Tool call id was … but must be a-z, A-Z, 0-9, with a length of 9", error 3280).
//!   [`tool_call_id`] maps any id to such an id deterministically — an id that already is
//!   one maps to itself — so a conversation begun on another provider continues here, and the
//!   ids Mistral hands out come back unchanged.
//! - `prefix`: a conversation ending with an assistant message asks Mistral to continue that
//!   text; Mistral wants `"prefix": true` on it.
//! - `seed` is `random_seed`; `tool_choice: "required"` is `"any"`.

use provider_openai::wire::{self, RequestOptions};
use runtime_core::{ChatRequest, CompletionRequest, Error, Message, Result};
use serde::Serialize;
use serde_json::{Map, Value};

const ID_LEN: usize = 9;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// True for an id Mistral accepts: nine ASCII letters or digits.
pub fn is_mistral_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The id sent to Mistral for a tool call `id`: `id` itself when Mistral accepts it, else nine
/// base-62 digits of its 64-bit FNV-1a hash. Deterministic, so a call and its result (and
/// every later turn replaying them) get the same id.
pub fn tool_call_id(id: &str) -> String {
    if is_mistral_id(id) {
        return id.to_owned();
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut out = [0u8; ID_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(h % 62) as usize];
        h /= 62;
    }
    out.iter().map(|&b| char::from(b)).collect()
}

/// `req` with every tool-call id (assistant calls and tool results) mapped by [`tool_call_id`].
pub fn with_mistral_ids(req: &ChatRequest) -> ChatRequest {
    let mut req = req.clone();
    for m in &mut req.messages {
        match m {
            Message::Assistant(a) => {
                for c in &mut a.tool_calls {
                    c.id = tool_call_id(&c.id);
                }
            }
            Message::Tool {
                tool_call_id: id, ..
            } => *id = tool_call_id(id),
            _ => {}
        }
    }
    req
}

/// The `POST /v1/chat/completions` body for `req`, sent to `model` (the body's or a
/// re-targeted call's).
pub fn chat_body(
    provider: &str,
    req: &ChatRequest,
    model: &str,
    stream: bool,
    opts: RequestOptions,
) -> Result<Value> {
    if req.extra.contains_key("random_seed") && req.seed.is_some() {
        return Err(Error::invalid_request(
            provider,
            model,
            Some("random_seed"),
            "give `seed` or `random_seed`, not both",
        ));
    }
    let mapped = with_mistral_ids(req);
    let body = wire::chat_request(&mapped, model, stream, opts);
    let mut value = serde_json::to_value(&body)
        .map_err(|e| Error::invalid_request(provider, model, None, e.to_string()))?;
    let Some(obj) = value.as_object_mut() else {
        return Ok(value);
    };
    if let Some(seed) = obj.remove("seed") {
        obj.insert("random_seed".into(), seed);
    }
    if obj.get("tool_choice").and_then(Value::as_str) == Some("required") {
        obj.insert("tool_choice".into(), Value::String("any".into()));
    }
    if matches!(req.messages.last(), Some(Message::Assistant(a)) if a.tool_calls.is_empty()) {
        if let Some(last) = obj
            .get_mut("messages")
            .and_then(Value::as_array_mut)
            .and_then(|m| m.last_mut())
            .and_then(Value::as_object_mut)
        {
            last.insert("prefix".into(), Value::Bool(true));
        }
    }
    Ok(value)
}

/// The body of `POST /v1/fim/completions` (Codestral's fill-in-the-middle).
#[derive(Debug, Serialize)]
pub struct FimRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// The code before the gap.
    pub prompt: &'a str,
    /// The code after the gap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<&'a str>,
    /// Most tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Top-p.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop: &'a [String],
    /// Mistral's name for the seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<i64>,
    /// Streaming.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Mistral fields the core does not know (`min_tokens`).
    #[serde(flatten)]
    pub extra: &'a Map<String, Value>,
}

/// Maps a completion request to a FIM body for `model` (the body's or a re-targeted call's); the
/// fields FIM has no place for are refused by name.
pub fn fim_request<'a>(
    provider: &str,
    req: &'a CompletionRequest,
    model: &'a str,
    stream: bool,
) -> Result<FimRequest<'a>> {
    let refuse = |field: &str| {
        Err(Error::invalid_request(
            provider,
            model,
            Some(field),
            format!("Mistral's FIM endpoint has no `{field}`"),
        ))
    };
    if req.frequency_penalty.is_some() {
        return refuse("frequency_penalty");
    }
    if req.presence_penalty.is_some() {
        return refuse("presence_penalty");
    }
    if req.user.is_some() {
        return refuse("user");
    }
    if let Some(k) = req
        .extra
        .keys()
        .find(|k| !matches!(k.as_str(), "min_tokens" | "random_seed"))
    {
        return refuse(k);
    }
    Ok(FimRequest {
        model,
        prompt: &req.prompt,
        suffix: req.suffix.as_deref(),
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: &req.stop,
        random_seed: req.seed,
        stream,
        extra: &req.extra,
    })
}

/// True when a completion for `model` goes to `/v1/fim/completions`: a suffix is given, or the
/// model is a Codestral model (whose completions are FIM).
pub fn uses_fim(req: &CompletionRequest, model: &str) -> bool {
    req.suffix.is_some() || model.contains("codestral")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_mistral_accepts_map_to_themselves() {
        assert_eq!(tool_call_id("D681PevKs"), "D681PevKs");
        assert!(is_mistral_id("D681PevKs"));
    }

    #[test]
    fn other_ids_map_to_nine_alphanumerics_deterministically() {
        for id in [
            "call_abc123",
            "toolu_01A09q90qw90lq917835lq9",
            "b9dd800b-2e6c-4a41-8f2f-1f7a7d3e9c55",
            "",
            "D681PevK",
            "D681PevKs0",
        ] {
            let m = tool_call_id(id);
            assert!(is_mistral_id(&m), "{id} -> {m}");
            assert_eq!(m, tool_call_id(id), "deterministic");
            assert_eq!(tool_call_id(&m), m, "a mapped id maps to itself");
        }
        assert_ne!(tool_call_id("call_1"), tool_call_id("call_2"));
    }
}
