//! Azure's deltas over OpenAI's wire format, as pure functions: deployment URLs, the request
//! checks, the response parser that keeps content-filter annotations, the stream decoder that
//! copes with Azure's filter-only chunks, and the error mapping.
//!
//! Everything OpenAI-shaped is delegated to [`provider_openai::wire`].

use http::HeaderMap;
use serde_json::{Map, Value};

use provider_openai::wire::{
    self as openai, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, RequestOptions,
};
use runtime_core::http::{ErrorContext, classify, parse_error_body};
use runtime_core::{
    ChatRequest, ChatResponse, Error, FinishReason, FrameDecoder, Message, StreamEvent,
};

/// The operations Azure serves under a deployment.
pub use provider_openai::Operation;

/// Annotation keys kept in `ResponseMeta::annotations`.
pub const PROMPT_FILTER_RESULTS: &str = "prompt_filter_results";
/// Per-choice output filter results (merged over a stream: the most severe per category).
pub const CONTENT_FILTER_RESULTS: &str = "content_filter_results";
/// The last `content_filter_offsets` of an asynchronously filtered stream.
pub const CONTENT_FILTER_OFFSETS: &str = "content_filter_offsets";

/// True for characters Azure allows in a deployment name (and safe in a URL path).
fn valid_deployment(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name != "."
        && name != ".."
}

/// The URL of `op` for `deployment`: `{endpoint}/openai/deployments/{deployment}/{op}?api-version=…`,
/// and `{endpoint}/openai/models?api-version=…` for the model list.
pub fn operation_url(
    endpoint: &str,
    api_version: &str,
    op: Operation,
    deployment: &str,
) -> Result<String, String> {
    let endpoint = endpoint.trim_end_matches('/');
    if op == Operation::Models {
        return Ok(format!(
            "{endpoint}/openai/models?api-version={api_version}"
        ));
    }
    if !valid_deployment(deployment) {
        return Err(format!(
            "deployment name `{deployment}` is not a valid Azure deployment name \
             (letters, digits, `-`, `_`, `.`); map the model to a deployment in `deployments`"
        ));
    }
    Ok(format!(
        "{endpoint}/openai/deployments/{deployment}/{}?api-version={api_version}",
        op.path()
    ))
}

/// Normalizes a configured endpoint: no trailing `/`, and no trailing `/openai` (some
/// copy the `…/openai/` form from the portal).
pub fn normalize_endpoint(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    e.strip_suffix("/openai").unwrap_or(e).to_owned()
}

/// Checks what Azure's Chat Completions API cannot express: reasoning blocks in the history
/// (Azure has no input field for them; its chat answers never contain them). Errors name
/// `model` (the body's, or a re-targeted call's).
pub fn check_chat_request(req: &ChatRequest, model: &str, provider: &str) -> Result<(), Error> {
    for (i, m) in req.messages.iter().enumerate() {
        if let Message::Assistant(a) = m {
            if !a.reasoning.is_empty() {
                return Err(Error::invalid_request(
                    provider,
                    model,
                    Some(&format!("messages[{i}].thinking_blocks")),
                    "Azure OpenAI chat completions have no input field for reasoning blocks; \
                     remove them from the history",
                ));
            }
            if let Some(j) = a
                .tool_calls
                .iter()
                .position(|c| c.thought_signature.is_some())
            {
                return Err(Error::invalid_request(
                    provider,
                    model,
                    Some(&format!("messages[{i}].tool_calls[{j}].thought_signature")),
                    "Azure OpenAI has no field for a tool call's thought signature",
                ));
            }
        }
    }
    Ok(())
}

/// The chat body for `model`: OpenAI's mapping (the deployment in the URL selects the model;
/// `model` is sent too and ignored by Azure).
pub fn chat_body<'a>(
    req: &'a ChatRequest,
    model: &'a str,
    stream: bool,
    opts: RequestOptions,
) -> ChatCompletionRequest<'a> {
    openai::chat_request(req, model, stream, opts)
}

/// True when a JSON payload is an Azure / OpenAI Responses API object or event, which this
/// provider does not implement.
pub fn is_responses_api(v: &Value) -> bool {
    let object = v.get("object").and_then(Value::as_str);
    let kind = v.get("type").and_then(Value::as_str);
    object == Some("response") || kind.is_some_and(|t| t.starts_with("response."))
}

fn responses_error(provider: &str, model: &str, text: &str) -> Error {
    Error::decode(
        provider,
        model,
        "chat completion",
        "this is a Responses API payload (`object: response` / `response.*` event); \
         the Responses API is not implemented, only chat completions",
        text,
    )
}

/// Parses a chat completion body, keeping `prompt_filter_results` and the choice's
/// `content_filter_results` in `meta.annotations`.
pub fn parse_chat_body(body: &[u8], provider: &str, model: &str) -> Result<ChatResponse, Error> {
    let text = String::from_utf8_lossy(body);
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Error::decode(provider, model, "chat completion", e, &text))?;
    if is_responses_api(&v) {
        return Err(responses_error(provider, model, &text));
    }
    let parsed: ChatCompletion = serde_json::from_value(v)
        .map_err(|e| Error::decode(provider, model, "chat completion", e, &text))?;
    openai::parse_chat(parsed, provider, model)
}

fn severity_rank(v: &Value) -> u8 {
    if v.get("filtered").and_then(Value::as_bool) == Some(true) {
        return 10;
    }
    if v.get("detected").and_then(Value::as_bool) == Some(true) {
        return 5;
    }
    match v.get("severity").and_then(Value::as_str) {
        Some("high") => 4,
        Some("medium") => 3,
        Some("low") => 2,
        Some("safe") => 1,
        _ => 0,
    }
}

/// Merges filter results per category, keeping the most severe one.
pub fn merge_filter_results(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (cat, v) in from {
        let replace = into
            .get(cat)
            .is_none_or(|old| severity_rank(v) > severity_rank(old));
        if replace {
            into.insert(cat.clone(), v.clone());
        }
    }
}

/// True when any category of a filter-results object says `filtered: true`.
pub fn any_filtered(results: &Value) -> bool {
    results.as_object().is_some_and(|m| {
        m.values()
            .any(|v| v.get("filtered").and_then(Value::as_bool) == Some(true))
    })
}

/// The filtered categories of a filter-results object, as `sexual (high), jailbreak`.
pub fn filtered_categories(results: &Value) -> Vec<String> {
    let Some(m) = results.as_object() else {
        return Vec::new();
    };
    m.iter()
        .filter(|(_, v)| v.get("filtered").and_then(Value::as_bool) == Some(true))
        .map(|(k, v)| match v.get("severity").and_then(Value::as_str) {
            Some(s) => format!("{k} ({s})"),
            None => k.clone(),
        })
        .collect()
}

/// Decodes an Azure chat stream: OpenAI chunks plus the filter-only chunks Azure adds (a first
/// chunk with empty `id` and `prompt_filter_results`, per-chunk `content_filter_results`, and
/// with asynchronous filtering annotation-only chunks after the finish chunk).
///
/// Annotations are collected (see [`AzureChunkDecoder::annotations`]) and sent as
/// [`StreamEvent::Annotation`]s when the stream ends (`[DONE]` or the end of the body), merged
/// over every chunk, so a folded stream carries the same `meta.annotations` as the
/// non-streamed answer. Output that the filter blocks after the finish reason turns the finish
/// into `content_filter`.
#[derive(Debug)]
pub struct AzureChunkDecoder {
    inner: openai::ChunkDecoder,
    provider: String,
    model: String,
    annotations: Map<String, Value>,
    finish_seen: bool,
    output_filtered: bool,
    filter_finish_sent: bool,
    annotations_sent: bool,
}

impl AzureChunkDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            inner: openai::ChunkDecoder::new(provider, model),
            provider: provider.to_owned(),
            model: model.to_owned(),
            annotations: Map::new(),
            finish_seen: false,
            output_filtered: false,
            filter_finish_sent: false,
            annotations_sent: false,
        }
    }

    /// Sends the collected annotations, once.
    fn flush_annotations(&mut self, out: &mut Vec<StreamEvent>) {
        if self.annotations_sent {
            return;
        }
        self.annotations_sent = true;
        for (key, value) in &self.annotations {
            out.push(StreamEvent::Annotation {
                key: key.clone(),
                value: value.clone(),
            });
        }
    }

    /// The content-filter annotations seen so far.
    pub fn annotations(&self) -> &Map<String, Value> {
        &self.annotations
    }

    fn collect(&mut self, v: &Value) {
        if let Some(Value::Array(p)) = v.get(PROMPT_FILTER_RESULTS) {
            let entry = self
                .annotations
                .entry(PROMPT_FILTER_RESULTS)
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.extend(p.iter().cloned());
            }
        }
        let Some(choices) = v.get("choices").and_then(Value::as_array) else {
            return;
        };
        for c in choices {
            if c.get("index").and_then(Value::as_u64).unwrap_or(0) != 0 {
                continue;
            }
            if let Some(Value::Object(r)) = c.get(CONTENT_FILTER_RESULTS) {
                if !r.is_empty() {
                    if any_filtered(&Value::Object(r.clone())) {
                        self.output_filtered = true;
                    }
                    let entry = self
                        .annotations
                        .entry(CONTENT_FILTER_RESULTS)
                        .or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(m) = entry {
                        merge_filter_results(m, r);
                    }
                }
            }
            if let Some(o) = c.get(CONTENT_FILTER_OFFSETS) {
                self.annotations
                    .insert(CONTENT_FILTER_OFFSETS.to_owned(), o.clone());
            }
            if c.get("finish_reason").and_then(Value::as_str) == Some("content_filter")
                && self.finish_seen
            {
                self.output_filtered = true;
            }
        }
    }
}

/// Azure's filter-only chunks (empty `id`): drop their empty identity fields and the choices
/// that carry only annotations, so they can never pose as the start of the answer.
fn strip_filter_only(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else {
        return;
    };
    if obj.get("id").and_then(Value::as_str) != Some("") {
        return;
    }
    for k in ["id", "model", "object"] {
        if obj.get(k).and_then(Value::as_str) == Some("") {
            obj.remove(k);
        }
    }
    if obj.get("created").and_then(Value::as_i64) == Some(0) {
        obj.remove("created");
    }
    if let Some(Value::Array(choices)) = obj.get_mut("choices") {
        choices.retain(|c| {
            c.get("delta").is_some() || c.get("finish_reason").is_some_and(|f| !f.is_null())
        });
    }
}

impl FrameDecoder for AzureChunkDecoder {
    /// Decodes one SSE `data` payload, appending events to `out`.
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let trimmed = data.trim();
        if trimmed == "[DONE]" {
            FrameDecoder::decode(&mut self.inner, trimmed, out)?;
            self.flush_annotations(out);
            return Ok(());
        }
        if trimmed.is_empty() {
            return FrameDecoder::decode(&mut self.inner, trimmed, out);
        }
        let v: Value = serde_json::from_str(trimmed)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream chunk", e, trimmed))?;
        if is_responses_api(&v) {
            return Err(responses_error(&self.provider, &self.model, trimmed));
        }
        self.collect(&v);
        let mut v = v;
        strip_filter_only(&mut v);
        let chunk: ChatCompletionChunk = serde_json::from_value(v)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream chunk", e, trimmed))?;
        let start = out.len();
        self.inner.decode_chunk(chunk, out)?;
        if out[start..]
            .iter()
            .any(|e| matches!(e, StreamEvent::Finish { .. }))
        {
            self.finish_seen = true;
            if out[start..].iter().any(|e| {
                matches!(
                    e,
                    StreamEvent::Finish {
                        reason: FinishReason::ContentFilter
                    }
                )
            }) {
                self.filter_finish_sent = true;
            }
        }
        if self.output_filtered && self.finish_seen && !self.filter_finish_sent {
            // Asynchronous filtering judged the output after it was sent: the answer ends as
            // filtered (a later Finish replaces the earlier one when folded).
            self.filter_finish_sent = true;
            out.push(StreamEvent::Finish {
                reason: FinishReason::ContentFilter,
            });
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        FrameDecoder::end(&mut self.inner, out)?;
        self.flush_annotations(out);
        Ok(())
    }

    fn is_done(&self) -> bool {
        FrameDecoder::is_done(&self.inner)
    }
}

/// Azure's error mapping: the prompt-filter 400 (`code: content_filter`, with
/// `innererror.content_filter_result`) becomes [`Error::ContentFiltered`] naming the filtered
/// categories; everything else goes through the shared mapping (`Retry-After` and "Please retry
/// after N seconds" on 429, `DeploymentNotFound` → model not found).
pub fn map_error(ctx: &ErrorContext<'_>, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed = parse_error_body(body);
    if parsed.code.as_deref() == Some("content_filter") {
        let inner = parsed
            .json
            .as_ref()
            .and_then(|j| j.get("error"))
            .and_then(|e| e.get("innererror"));
        let results = inner.and_then(|i| {
            i.get("content_filter_result")
                .or_else(|| i.get("content_filter_results"))
        });
        let cats = results.map(filtered_categories).unwrap_or_default();
        let inner_code = inner
            .and_then(|i| i.get("code"))
            .and_then(Value::as_str)
            .map(|c| format!(" [{c}]"))
            .unwrap_or_default();
        let secrets: Vec<&runtime_core::Secret> = ctx.secret.into_iter().collect();
        let base = runtime_core::secret::redact(&parsed.message, &secrets);
        let message = if cats.is_empty() {
            format!("{base}{inner_code}")
        } else {
            format!("{base}{inner_code} (filtered: {})", cats.join(", "))
        };
        return Error::ContentFiltered {
            provider: ctx.provider.to_owned(),
            model: ctx.model.to_owned(),
            message: runtime_core::error::truncate(&message, 800),
        };
    }
    classify(ctx, status, headers, parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            operation_url(
                "https://r.openai.azure.com/",
                "2024-10-21",
                Operation::Chat,
                "gpt4o"
            )
            .unwrap(),
            "https://r.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(
            operation_url("https://r", "v", Operation::Models, "").unwrap(),
            "https://r/openai/models?api-version=v"
        );
        assert!(operation_url("https://r", "v", Operation::Chat, "a/b").is_err());
        assert!(operation_url("https://r", "v", Operation::Chat, "..").is_err());
        assert_eq!(
            normalize_endpoint("https://r.openai.azure.com/openai/"),
            "https://r.openai.azure.com"
        );
    }

    #[test]
    fn merge_keeps_most_severe() {
        let mut m = Map::new();
        let a = serde_json::json!({"hate": {"filtered": false, "severity": "low"}});
        let b = serde_json::json!({"hate": {"filtered": false, "severity": "safe"}, "sexual": {"filtered": true, "severity": "high"}});
        merge_filter_results(&mut m, a.as_object().unwrap());
        merge_filter_results(&mut m, b.as_object().unwrap());
        assert_eq!(m["hate"]["severity"], "low");
        assert_eq!(
            filtered_categories(&Value::Object(m)),
            vec!["sexual (high)".to_owned()]
        );
    }
}
