//! Text Generation Inference's native wire format (`/generate`, `/generate_stream`), its error
//! object, and the TGI quirks of its OpenAI-compatible Messages API stream. Pure functions only:
//! the provider sends what they build.
//!
//! The Messages API itself is OpenAI's format and is mapped by `provider_openai::wire`; this
//! module only adds what TGI does differently there (see [`MessagesChunkDecoder`]).

use std::borrow::Cow;
use std::collections::BTreeSet;

use http::HeaderMap;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Map, Value, json};

use provider_openai::wire::ChunkDecoder;
use runtime_core::http::{ErrorBody, ErrorContext, classify, parse_error_body};
use runtime_core::{
    AssistantMessage, ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, Content,
    ContentPart, Error, FinishReason, Message, ResponseFormat, ResponseMeta, StreamEvent,
    ToolChoice, Usage,
};

/// Request fields other than `inputs` that the `/generate` mapping reads. Built from a chat
/// request ([`GenerateInput::from_chat`]) or a completion request
/// ([`GenerateInput::from_completion`]).
#[derive(Debug, Clone)]
pub struct GenerateInput<'a> {
    /// The model (only for error messages: a TGI server serves one model).
    pub model: &'a str,
    /// The prompt text.
    pub inputs: Cow<'a, str>,
    /// `max_tokens` → `max_new_tokens`.
    pub max_tokens: Option<u32>,
    /// `temperature` (0 → greedy: `do_sample: false`).
    pub temperature: Option<f64>,
    /// `top_p` (1.0 → omitted: TGI requires it below 1).
    pub top_p: Option<f64>,
    /// Stop sequences.
    pub stop: &'a [String],
    /// Seed (must be non-negative).
    pub seed: Option<i64>,
    /// Frequency penalty (TGI has it).
    pub frequency_penalty: Option<f64>,
    /// Presence penalty (TGI has none: rejected).
    pub presence_penalty: Option<f64>,
    /// End-user id (TGI has nowhere to put it: rejected).
    pub user: Option<&'a str>,
    /// JSON output → `grammar`.
    pub response_format: Option<&'a ResponseFormat>,
    /// Provider-specific fields: TGI `parameters` from [`EXTRA_PARAMETERS`].
    pub extra: &'a Map<String, Value>,
}

/// The `parameters` of `/generate` a request may pass through its extra fields. (`top_n_tokens`
/// is not among them: the alternatives it adds to the answer have no place in a chat response.)
pub const EXTRA_PARAMETERS: &[&str] = &[
    "top_k",
    "repetition_penalty",
    "typical_p",
    "truncate",
    "watermark",
    "decoder_input_details",
    "adapter_id",
    "do_sample",
    "best_of",
];

fn invalid(provider: &str, model: &str, param: &str, msg: impl Into<String>) -> Error {
    Error::invalid_request(provider, model, Some(param), msg)
}

impl<'a> GenerateInput<'a> {
    /// The prompt of a chat request. `/generate` takes one prompt and applies no chat template,
    /// so only a conversation of exactly one user message (text only) can be expressed; anything
    /// else is an `InvalidRequest` naming `messages` (use `api = "messages"` for those).
    pub fn from_chat(req: &'a ChatRequest, provider: &str) -> Result<Self, Error> {
        let model = req.model.as_str();
        let text = match req.messages.as_slice() {
            [Message::User { content, name }] => {
                if name.is_some() {
                    return Err(invalid(
                        provider,
                        model,
                        "messages[0].name",
                        "api = \"generate\" sends a bare prompt; a participant name cannot be expressed",
                    ));
                }
                match content {
                    Content::Text(t) => Cow::Borrowed(t.as_str()),
                    Content::Parts(parts) => {
                        let mut t = String::new();
                        for p in parts {
                            match p {
                                ContentPart::Text { text } => t.push_str(text),
                                ContentPart::ImageUrl { .. } => {
                                    return Err(Error::unsupported(
                                        provider,
                                        "image input (api = \"generate\"; use api = \"messages\")",
                                    ));
                                }
                                _ => {
                                    return Err(invalid(
                                        provider,
                                        model,
                                        "messages[0].content",
                                        "api = \"generate\" sends a text prompt; this content part cannot be expressed",
                                    ));
                                }
                            }
                        }
                        Cow::Owned(t)
                    }
                }
            }
            _ => {
                return Err(invalid(
                    provider,
                    model,
                    "messages",
                    format!(
                        "api = \"generate\" sends one prompt without a chat template, so only a \
                         single user message can be expressed (got {} messages: {}); use \
                         api = \"messages\" for system prompts and conversations",
                        req.messages.len(),
                        req.messages
                            .iter()
                            .map(Message::role)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        };
        if !req.tools.is_empty() {
            return Err(Error::unsupported(
                provider,
                "tools (api = \"generate\"; use api = \"messages\")",
            ));
        }
        if matches!(
            req.tool_choice,
            Some(ToolChoice::Required | ToolChoice::Function(_))
        ) {
            return Err(invalid(
                provider,
                model,
                "tool_choice",
                "a tool call cannot be required without tools",
            ));
        }
        Ok(Self {
            model,
            inputs: text,
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop: &req.stop,
            seed: req.seed,
            frequency_penalty: req.frequency_penalty,
            presence_penalty: req.presence_penalty,
            user: req.user.as_deref(),
            response_format: req.response_format.as_ref(),
            extra: &req.extra,
        })
    }

    /// A completion request: its prompt is sent as is.
    pub fn from_completion(req: &'a CompletionRequest, provider: &str) -> Result<Self, Error> {
        if req.suffix.is_some() {
            return Err(invalid(
                provider,
                &req.model,
                "suffix",
                "TGI /generate has no fill-in-the-middle suffix",
            ));
        }
        Ok(Self {
            model: &req.model,
            inputs: Cow::Borrowed(req.prompt.as_str()),
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop: &req.stop,
            seed: req.seed,
            frequency_penalty: req.frequency_penalty,
            presence_penalty: req.presence_penalty,
            user: req.user.as_deref(),
            response_format: None,
            extra: &req.extra,
        })
    }
}

/// The body of `POST /generate` and `POST /generate_stream`:
/// `{inputs, parameters{max_new_tokens, temperature, top_p, stop, seed, details: true,
/// return_full_text: false, do_sample, grammar, …}}`.
///
/// OpenAI semantics are kept: temperature 0 is greedy decoding (`do_sample: false`, no
/// temperature, since TGI rejects 0), any other request samples (`do_sample: true`, as TGI's own
/// Messages API does), `top_p: 1` is "no nucleus cut" and is omitted (TGI requires < 1).
pub fn generate_request(input: &GenerateInput<'_>, provider: &str) -> Result<Value, Error> {
    let model = input.model;
    if input.presence_penalty.is_some() {
        return Err(invalid(
            provider,
            model,
            "presence_penalty",
            "TGI /generate has no presence penalty (it has frequency_penalty and repetition_penalty)",
        ));
    }
    if input.user.is_some() {
        return Err(invalid(
            provider,
            model,
            "user",
            "TGI /generate has no end-user field",
        ));
    }
    let mut p = Map::new();
    if let Some(n) = input.max_tokens {
        p.insert("max_new_tokens".into(), n.into());
    }
    match input.temperature {
        Some(t) if t < 0.0 || !t.is_finite() => {
            return Err(invalid(
                provider,
                model,
                "temperature",
                "must be a non-negative number",
            ));
        }
        Some(0.0) => {
            p.insert("do_sample".into(), false.into());
        }
        Some(t) => {
            p.insert("do_sample".into(), true.into());
            p.insert("temperature".into(), t.into());
        }
        None => {
            p.insert("do_sample".into(), true.into());
        }
    }
    match input.top_p {
        Some(t) if !(t > 0.0 && t <= 1.0) => {
            return Err(invalid(provider, model, "top_p", "must be in (0, 1]"));
        }
        Some(t) if t < 1.0 => {
            p.insert("top_p".into(), t.into());
        }
        _ => {}
    }
    if !input.stop.is_empty() {
        p.insert("stop".into(), input.stop.into());
    }
    if let Some(seed) = input.seed {
        let Ok(seed) = u64::try_from(seed) else {
            return Err(invalid(provider, model, "seed", "TGI seeds are unsigned"));
        };
        p.insert("seed".into(), seed.into());
    }
    if let Some(f) = input.frequency_penalty {
        p.insert("frequency_penalty".into(), f.into());
    }
    match input.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => {
            p.insert(
                "grammar".into(),
                json!({"type": "json", "value": {"type": "object"}}),
            );
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let Some(schema) = &json_schema.schema else {
                return Err(invalid(
                    provider,
                    model,
                    "response_format.json_schema.schema",
                    "TGI grammar needs the schema itself",
                ));
            };
            p.insert("grammar".into(), json!({"type": "json", "value": schema}));
        }
        Some(_) => {
            return Err(invalid(
                provider,
                model,
                "response_format",
                "this response format cannot be expressed as a TGI grammar",
            ));
        }
    }
    for (k, v) in input.extra {
        if !EXTRA_PARAMETERS.contains(&k.as_str()) {
            return Err(invalid(
                provider,
                model,
                k,
                format!(
                    "not a TGI /generate parameter; known extra parameters: {}",
                    EXTRA_PARAMETERS.join(", ")
                ),
            ));
        }
        p.insert(k.clone(), v.clone());
    }
    p.insert("details".into(), true.into());
    p.insert("return_full_text".into(), false.into());
    Ok(json!({"inputs": input.inputs.as_ref(), "parameters": p}))
}

/// TGI's finish reason: `eos_token` and `stop_sequence` are OpenAI's `stop`, `length` is
/// `length`.
pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "eos_token" | "stop_sequence" | "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// `details` of a `/generate` answer (the fields read).
#[derive(Debug, Clone, Deserialize)]
pub struct Details {
    /// `length`, `eos_token` or `stop_sequence`.
    pub finish_reason: String,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Prompt tokens, listed when `decoder_input_details` was asked for (only the count is kept).
    #[serde(default)]
    pub prefill: Vec<IgnoredAny>,
}

/// The body of a `/generate` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct GenerateResponse {
    /// The text (without the prompt: `return_full_text: false`).
    pub generated_text: String,
    /// Finish reason and counts (present because `details: true` is sent).
    #[serde(default)]
    pub details: Option<Details>,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Maps a `/generate` answer. Usage: completion tokens from `details.generated_tokens` (else the
/// `x-generated-tokens` header); prompt tokens from TGI's `x-prompt-tokens` header, else the
/// length of `details.prefill` (filled when `decoder_input_details` is on), else 0.
/// TGI has no response id or timestamp: `id` is empty and `created` is 0.
pub fn parse_generate(
    body: GenerateResponse,
    headers: &HeaderMap,
    provider: &str,
    model: &str,
) -> ChatResponse {
    let prompt = header_u64(headers, "x-prompt-tokens");
    let (finish, usage) = match &body.details {
        Some(d) => {
            let prefill = (!d.prefill.is_empty()).then_some(d.prefill.len() as u64);
            let prompt = prompt.or(prefill).unwrap_or(0);
            (
                finish_reason(&d.finish_reason),
                Some(Usage::new(prompt, d.generated_tokens)),
            )
        }
        None => (
            FinishReason::Other("unknown".into()),
            header_u64(headers, "x-generated-tokens").map(|g| Usage::new(prompt.unwrap_or(0), g)),
        ),
    };
    ChatResponse {
        id: String::new(),
        model: model.to_owned(),
        created: 0,
        message: AssistantMessage {
            content: Some(Content::Text(body.generated_text)),
            ..AssistantMessage::default()
        },
        finish_reason: finish,
        usage,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    }
}

/// The same answer as a completion.
pub fn parse_generate_completion(
    body: GenerateResponse,
    headers: &HeaderMap,
    provider: &str,
    model: &str,
) -> CompletionResponse {
    parse_generate(body, headers, provider, model).into()
}

/// TGI's error object: `{"error": "...", "error_type": "validation" | "generation" |
/// "overloaded" | "incomplete_generation" | …}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TgiError {
    /// The message.
    pub error: String,
    /// The class.
    #[serde(default)]
    pub error_type: Option<String>,
}

/// True when a TGI validation message says the prompt does not fit
/// (`` `inputs` tokens + `max_new_tokens` must be <= N `` or `` `inputs` must have less than N
/// tokens ``).
pub fn is_context_error(message: &str) -> bool {
    message.contains("`inputs` tokens + `max_new_tokens` must be <=")
        || message.contains("`inputs` must have less than")
}

/// The status mapping of TGI and the Hugging Face APIs: the shared
/// [`runtime_core::http::map_status`] (which reads TGI's `error`/`error_type` and the Inference
/// API's `estimated_time` on 503 "model is loading" as the retry delay) plus TGI's
/// context-length validation messages. 424 (TGI generation error) stays an `Api` error that is
/// never retried: it is the model failing on this very request (see the crate docs).
pub fn map_error(ctx: &ErrorContext<'_>, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed = parse_error_body(body);
    if matches!(status, 400 | 413 | 422) && is_context_error(&parsed.message) {
        return Error::ContextLengthExceeded {
            provider: ctx.provider.to_owned(),
            model: ctx.model.to_owned(),
            message: redacted(ctx, &parsed),
        };
    }
    classify(ctx, status, headers, parsed)
}

fn redacted(ctx: &ErrorContext<'_>, b: &ErrorBody) -> String {
    let secrets: Vec<&runtime_core::Secret> = ctx.secret.into_iter().collect();
    runtime_core::error::truncate(&runtime_core::secret::redact(&b.message, &secrets), 600)
}

/// Whether a TGI stream error may clear by itself.
fn transient(error_type: Option<&str>) -> bool {
    matches!(
        error_type,
        Some("overloaded" | "incomplete_generation" | "incomplete_generation_stream")
    )
}

/// Maps a TGI error object received as an SSE data payload (after HTTP 200). Validation errors
/// (TGI checks some parameters only once the stream has started) are the same `InvalidRequest` /
/// `ContextLengthExceeded` as their HTTP 422 form; every other class is `Error::Stream`, transient
/// for `overloaded` and `incomplete_generation`.
pub fn stream_error(e: TgiError, provider: &str, model: &str, content_sent: bool) -> Error {
    if e.error_type.as_deref() == Some("validation") {
        if is_context_error(&e.error) {
            return Error::ContextLengthExceeded {
                provider: provider.to_owned(),
                model: model.to_owned(),
                message: e.error,
            };
        }
        return Error::invalid_request(provider, model, None, e.error);
    }
    Error::Stream {
        provider: provider.to_owned(),
        model: model.to_owned(),
        transient: transient(e.error_type.as_deref()),
        error_type: e.error_type,
        message: e.error,
        content_sent,
    }
}

/// A TGI error object in a data payload, if that is what it is (`error` is a string; an
/// OpenAI-style `error` object is left to the OpenAI decoder).
pub fn tgi_error(data: &str) -> Option<TgiError> {
    if !data.contains("\"error\"") {
        return None;
    }
    serde_json::from_str::<TgiError>(data).ok()
}

/// One `/generate_stream` event.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamResponse {
    /// The token.
    #[serde(default)]
    pub token: Option<Token>,
    /// The whole text, on the last event only.
    #[serde(default)]
    pub generated_text: Option<String>,
    /// Finish reason and counts, on the last event only.
    #[serde(default)]
    pub details: Option<StreamDetails>,
}

/// A generated token.
#[derive(Debug, Clone, Deserialize)]
pub struct Token {
    /// Its text.
    #[serde(default)]
    pub text: String,
    /// Special tokens (`</s>`, `<|eot_id|>`) are not part of the answer text.
    #[serde(default)]
    pub special: bool,
}

/// `details` of the last `/generate_stream` event.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamDetails {
    /// `length`, `eos_token` or `stop_sequence`.
    pub finish_reason: String,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Prompt tokens (TGI ≥ 2.1).
    #[serde(default)]
    pub input_length: Option<u64>,
}

/// Turns `/generate_stream` events into core stream events.
///
/// Non-special token texts are the text deltas; the last event (with `generated_text` and
/// `details`) gives the finish reason and usage. Should the token texts not add up to
/// `generated_text`, the missing tail is sent as a last delta so the fold equals `/generate`'s
/// answer.
#[derive(Debug)]
pub struct GenerateStreamDecoder {
    provider: String,
    model: String,
    started: bool,
    text: String,
    finished: bool,
}

impl GenerateStreamDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            started: false,
            text: String::new(),
            finished: false,
        }
    }
}

impl runtime_core::FrameDecoder for GenerateStreamDecoder {
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if data.is_empty() || self.finished {
            return Ok(());
        }
        if let Some(e) = tgi_error(data) {
            return Err(stream_error(
                e,
                &self.provider,
                &self.model,
                !self.text.is_empty(),
            ));
        }
        let ev: StreamResponse = serde_json::from_str(data)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream event", e, data))?;
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: String::new(),
                model: self.model.clone(),
                created: 0,
            });
        }
        if let Some(tok) = ev.token {
            if !tok.special && !tok.text.is_empty() {
                self.text.push_str(&tok.text);
                out.push(StreamEvent::TextDelta { text: tok.text });
            }
        }
        if let Some(full) = ev.generated_text {
            if let Some(rest) = full.strip_prefix(self.text.as_str()) {
                if !rest.is_empty() {
                    self.text.push_str(rest);
                    out.push(StreamEvent::TextDelta {
                        text: rest.to_owned(),
                    });
                }
            }
            self.finished = true;
            match ev.details {
                Some(d) => {
                    out.push(StreamEvent::Finish {
                        reason: finish_reason(&d.finish_reason),
                    });
                    out.push(StreamEvent::Usage(Usage::new(
                        d.input_length.unwrap_or(0),
                        d.generated_tokens,
                    )));
                }
                None => out.push(StreamEvent::Finish {
                    reason: FinishReason::Other("unknown".into()),
                }),
            }
        }
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        Err(Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream ended before its last event (generated_text)".into(),
            transient: true,
            content_sent: !self.text.is_empty(),
        })
    }

    fn is_done(&self) -> bool {
        self.finished
    }
}

/// The OpenAI chunk decoder plus TGI's Messages API quirks:
///
/// - TGI's error object (`{"error": "...", "error_type": …}`) as a data payload →
///   [`stream_error`] (the OpenAI decoder only knows `error` objects);
/// - tool-call streams: TGI 3.x repeats `id: "0"` and `type` on every fragment with
///   `name: null` after the first (handled by the OpenAI decoder, which starts a call once per
///   index), and may end with `[DONE]` without any `finish_reason` (its tool-call state
///   machine swallows the last token, see the recorded `chat-stream-tool-call` transcript):
///   a stream that made tool calls and then says `[DONE]` finishes with `tool_calls`;
/// - `finish_reason: "stop"` with tool calls → `tool_calls` (done by the OpenAI decoder).
#[derive(Debug)]
pub struct MessagesChunkDecoder {
    inner: ChunkDecoder,
    provider: String,
    model: String,
    calls: BTreeSet<usize>,
    finished: bool,
    content_sent: bool,
    done: bool,
}

impl MessagesChunkDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            inner: ChunkDecoder::new(provider, model),
            provider: provider.to_owned(),
            model: model.to_owned(),
            calls: BTreeSet::new(),
            finished: false,
            content_sent: false,
            done: false,
        }
    }

    fn observe(&mut self, events: &[StreamEvent]) {
        for e in events {
            match e {
                StreamEvent::ToolCallStart { index, .. } => {
                    self.calls.insert(*index);
                }
                StreamEvent::Finish { .. } => self.finished = true,
                _ => {}
            }
            if e.is_content() {
                self.content_sent = true;
            }
        }
    }
}

impl runtime_core::FrameDecoder for MessagesChunkDecoder {
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if let Some(e) = tgi_error(data) {
            return Err(stream_error(
                e,
                &self.provider,
                &self.model,
                self.content_sent,
            ));
        }
        let start = out.len();
        let r = self.inner.decode(data, out);
        self.observe(&out[start..]);
        r?;
        if self.inner.is_done() {
            self.done = true;
            if !self.finished && !self.calls.is_empty() {
                for index in &self.calls {
                    out.push(StreamEvent::ToolCallEnd { index: *index });
                }
                out.push(StreamEvent::Finish {
                    reason: FinishReason::ToolCalls,
                });
                self.finished = true;
            }
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        let start = out.len();
        let r = self.inner.end(out);
        self.observe(&out[start..]);
        r
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons() {
        assert_eq!(finish_reason("eos_token"), FinishReason::Stop);
        assert_eq!(finish_reason("stop_sequence"), FinishReason::Stop);
        assert_eq!(finish_reason("length"), FinishReason::Length);
        assert_eq!(
            finish_reason("weird"),
            FinishReason::Other("weird".to_owned())
        );
    }

    #[test]
    fn tgi_error_only_for_string_errors() {
        assert_eq!(
            tgi_error(r#"{"error":"Model is overloaded","error_type":"overloaded"}"#),
            Some(TgiError {
                error: "Model is overloaded".into(),
                error_type: Some("overloaded".into())
            })
        );
        assert_eq!(tgi_error(r#"{"error":{"message":"x"}}"#), None);
        assert_eq!(
            tgi_error(r#"{"choices":[{"delta":{"content":"\"error\""}}]}"#),
            None
        );
    }

    #[test]
    fn stream_error_classes() {
        let e = stream_error(
            TgiError {
                error: "Model is overloaded".into(),
                error_type: Some("overloaded".into()),
            },
            "hf",
            "m",
            false,
        );
        assert!(e.is_retryable(), "{e:?}");
        let e = stream_error(
            TgiError {
                error: "Request failed during generation: Server error: CUDA OOM".into(),
                error_type: Some("generation".into()),
            },
            "hf",
            "m",
            true,
        );
        assert!(
            matches!(
                e,
                Error::Stream {
                    transient: false,
                    content_sent: true,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = stream_error(
            TgiError {
                error: "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`".into(),
                error_type: Some("validation".into()),
            },
            "hf",
            "m",
            false,
        );
        assert!(matches!(e, Error::ContextLengthExceeded { .. }), "{e:?}");
    }
}
