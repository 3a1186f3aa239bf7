//! Ollama's native API: `POST /api/chat` (NDJSON streaming), `POST /api/embed`,
//! `GET /api/tags`. Pure mapping functions plus the provider.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec, map_status};
use runtime_core::time::rfc3339_unix_seconds;
use runtime_core::{
    AssistantMessage, Capabilities, ChatRequest, ChatResponse, ChatStream, Content, ContentPart,
    Embedding, EmbeddingRequest, EmbeddingResponse, Error, FinishReason, FrameDecoder, ImageSource,
    Message, ModelInfo, ModelKind, Provider, ReasoningBlock, RequestContext, ResponseFormat,
    ResponseMeta, Result, Secret, StreamEvent, ToolCall, ToolChoice, Usage,
};

/// `options` keys Ollama accepts, passed through from `ChatRequest::extra`.
pub const OPTION_KEYS: &[&str] = &[
    "num_ctx",
    "num_keep",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "num_thread",
    "numa",
    "use_mmap",
    "low_vram",
    "top_k",
    "min_p",
    "typical_p",
    "tfs_z",
    "repeat_last_n",
    "repeat_penalty",
    "penalize_newline",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
];

/// Top-level request fields passed through from `extra`.
pub const TOP_LEVEL_KEYS: &[&str] = &["think", "keep_alive"];

/// A message as `/api/chat` takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaMessage {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: &'static str,
    /// Text.
    pub content: String,
    /// Base64 images (no `data:` prefix).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Reasoning of an earlier assistant turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    /// Calls of an earlier assistant turn.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<OllamaToolCallOut>,
    /// The function a tool result answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// The call a tool result answers (newer Ollama reads it; older ignores it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool call in a request's assistant message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaToolCallOut {
    /// The call id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name and arguments (an object).
    pub function: OllamaFunctionOut,
}

/// Name and arguments object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaFunctionOut {
    /// Name.
    pub name: String,
    /// Arguments, a JSON object.
    pub arguments: Value,
}

/// A tool definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaTool {
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The function.
    pub function: OllamaFunctionDef,
}

/// Name, description, schema.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaFunctionDef {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// The body of `POST /api/chat`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaChatRequest {
    /// Model.
    pub model: String,
    /// Messages.
    pub messages: Vec<OllamaMessage>,
    /// Tools.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<OllamaTool>,
    /// `"json"` or a JSON Schema.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    /// Sampling options (`num_predict`, `temperature`…).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub options: Map<String, Value>,
    /// Always sent: Ollama streams by default.
    pub stream: bool,
    /// `think`, `keep_alive`.
    #[serde(flatten)]
    pub top_level: Map<String, Value>,
}

fn invalid(provider: &str, model: &str, param: &str, msg: impl Into<String>) -> Error {
    Error::invalid_request(provider, model, Some(param), msg)
}

/// Splits content into text and base64 images; URL images cannot be fetched by Ollama.
fn content_and_images(
    content: &Content,
    field: &str,
    provider: &str,
    model: &str,
) -> Result<(String, Vec<String>)> {
    match content {
        Content::Text(t) => Ok((t.clone(), Vec::new())),
        Content::Parts(parts) => {
            let mut text = String::new();
            let mut images = Vec::new();
            for (j, p) in parts.iter().enumerate() {
                match p {
                    ContentPart::Text { text: t } => text.push_str(t),
                    ContentPart::ImageUrl { image_url } => {
                        let at = format!("{field}[{j}].image_url");
                        if image_url.detail.as_deref().is_some_and(|d| d != "auto") {
                            return Err(invalid(
                                provider,
                                model,
                                &format!("{at}.detail"),
                                "Ollama has no image detail setting",
                            ));
                        }
                        match image_url.source() {
                            ImageSource::Base64 { data, .. } => images.push(data.to_owned()),
                            ImageSource::Url(_) => {
                                return Err(invalid(
                                    provider,
                                    model,
                                    &format!("{at}.url"),
                                    "Ollama cannot fetch image URLs; send the image as a \
                                     base64 `data:` URL",
                                ));
                            }
                        }
                    }
                    _ => {
                        return Err(invalid(
                            provider,
                            model,
                            &format!("{field}[{j}]"),
                            "this kind of content part cannot be expressed for Ollama",
                        ));
                    }
                }
            }
            Ok((text, images))
        }
    }
}

fn text_only(content: &Content, field: &str, provider: &str, model: &str) -> Result<String> {
    let (text, images) = content_and_images(content, field, provider, model)?;
    if images.is_empty() {
        Ok(text)
    } else {
        Err(invalid(
            provider,
            model,
            field,
            "Ollama takes images only in user messages",
        ))
    }
}

fn no_name(name: &Option<String>, i: usize, provider: &str, model: &str) -> Result<()> {
    match name {
        Some(_) => Err(invalid(
            provider,
            model,
            &format!("messages[{i}].name"),
            "Ollama has no participant names",
        )),
        None => Ok(()),
    }
}

/// Arguments text → JSON object (`""` is `{}`).
fn arguments_object(text: &str) -> std::result::Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(format!("arguments must be a JSON object, got {other}")),
        Err(e) => Err(format!("arguments are not JSON: {e}")),
    }
}

fn assistant(a: &AssistantMessage, i: usize, provider: &str, model: &str) -> Result<OllamaMessage> {
    no_name(&a.name, i, provider, model)?;
    if a.refusal.is_some() {
        return Err(invalid(
            provider,
            model,
            &format!("messages[{i}].refusal"),
            "Ollama has no refusal field",
        ));
    }
    if a.reasoning
        .iter()
        .any(|b| b.is_redacted() || b.signature.is_some())
    {
        return Err(invalid(
            provider,
            model,
            &format!("messages[{i}].thinking_blocks"),
            "signed or redacted reasoning cannot be sent to Ollama",
        ));
    }
    let content = match &a.content {
        Some(c) => text_only(c, &format!("messages[{i}].content"), provider, model)?,
        None => String::new(),
    };
    let mut tool_calls = Vec::new();
    for (j, c) in a.tool_calls.iter().enumerate() {
        if c.thought_signature.is_some() {
            return Err(invalid(
                provider,
                model,
                &format!("messages[{i}].tool_calls[{j}].thought_signature"),
                "Ollama has no thought signatures",
            ));
        }
        let arguments = arguments_object(&c.function.arguments).map_err(|m| {
            invalid(
                provider,
                model,
                &format!("messages[{i}].tool_calls[{j}].function.arguments"),
                m,
            )
        })?;
        tool_calls.push(OllamaToolCallOut {
            id: (!c.id.is_empty()).then(|| c.id.clone()),
            function: OllamaFunctionOut {
                name: c.function.name.clone(),
                arguments,
            },
        });
    }
    Ok(OllamaMessage {
        role: "assistant",
        content,
        images: Vec::new(),
        thinking: a.reasoning_text(),
        tool_calls,
        tool_name: None,
        tool_call_id: None,
    })
}

/// The function name a tool result answers: its own `name`, else the matching call in history.
fn tool_name_for(req: &ChatRequest, upto: usize, id: &str) -> Option<String> {
    req.messages[..upto].iter().rev().find_map(|m| match m {
        Message::Assistant(a) => a
            .tool_calls
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.function.name.clone()),
        _ => None,
    })
}

/// Sets an option from a core field; the same option also given through `extra` is ambiguous.
fn set_option(
    options: &mut Map<String, Value>,
    key: &str,
    value: Option<Value>,
    provider: &str,
    model: &str,
) -> Result<()> {
    if let Some(v) = value {
        if options.contains_key(key) {
            return Err(invalid(
                provider,
                model,
                &format!("options.{key}"),
                format!("`{key}` is set both by the request field and by `options`"),
            ));
        }
        options.insert(key.to_owned(), v);
    }
    Ok(())
}

/// Sampling fields of a core request, mapped into Ollama's `options`.
struct Sampling<'a> {
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    seed: Option<i64>,
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
    stop: &'a [String],
}

/// Splits `extra` into Ollama `options` and allowed top-level fields, then adds the sampling
/// fields. Unknown keys, and an option given twice, are `InvalidRequest`s naming them.
#[allow(clippy::too_many_arguments)]
fn options_and_extras(
    extra: &Map<String, Value>,
    top_keys: &[&str],
    endpoint: &str,
    format: &mut Option<Value>,
    sampling: Sampling<'_>,
    provider: &str,
    model: &str,
) -> Result<(Map<String, Value>, Map<String, Value>)> {
    let mut options = Map::new();
    let mut top_level = Map::new();
    for (k, v) in extra {
        match k.as_str() {
            k if OPTION_KEYS.contains(&k) => {
                options.insert(k.to_owned(), v.clone());
            }
            k if top_keys.contains(&k) => {
                top_level.insert(k.to_owned(), v.clone());
            }
            "options" => match v {
                Value::Object(o) => options.extend(o.clone()),
                _ => {
                    return Err(invalid(provider, model, "options", "must be an object"));
                }
            },
            "format" if format.is_none() => *format = Some(v.clone()),
            "n" if v.as_u64() == Some(1) => {}
            other => {
                return Err(invalid(
                    provider,
                    model,
                    other,
                    format!("`{other}` is not an Ollama {endpoint} field or option"),
                ));
            }
        }
    }
    for (key, value) in [
        ("num_predict", sampling.max_tokens.map(Value::from)),
        ("temperature", sampling.temperature.map(Value::from)),
        ("top_p", sampling.top_p.map(Value::from)),
        ("seed", sampling.seed.map(Value::from)),
        (
            "frequency_penalty",
            sampling.frequency_penalty.map(Value::from),
        ),
        (
            "presence_penalty",
            sampling.presence_penalty.map(Value::from),
        ),
        (
            "stop",
            (!sampling.stop.is_empty()).then(|| Value::from(sampling.stop.to_vec())),
        ),
    ] {
        set_option(&mut options, key, value, provider, model)?;
    }
    Ok((options, top_level))
}

/// Maps a core request to `/api/chat`. Everything Ollama cannot express is an
/// [`Error::InvalidRequest`] naming the field: URL images, forced tool choice, strict tool
/// schemas, `parallel_tool_calls: false`, participant names, `user`, unknown `extra` keys.
pub fn chat_request(req: &ChatRequest, stream: bool, provider: &str) -> Result<OllamaChatRequest> {
    let model = req.model.as_str();
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        let field = format!("messages[{i}].content");
        messages.push(match m {
            Message::System { content, name } => {
                no_name(name, i, provider, model)?;
                OllamaMessage {
                    role: "system",
                    content: text_only(content, &field, provider, model)?,
                    images: Vec::new(),
                    thinking: None,
                    tool_calls: Vec::new(),
                    tool_name: None,
                    tool_call_id: None,
                }
            }
            Message::User { content, name } => {
                no_name(name, i, provider, model)?;
                let (content, images) = content_and_images(content, &field, provider, model)?;
                OllamaMessage {
                    role: "user",
                    content,
                    images,
                    thinking: None,
                    tool_calls: Vec::new(),
                    tool_name: None,
                    tool_call_id: None,
                }
            }
            Message::Assistant(a) => assistant(a, i, provider, model)?,
            Message::Tool {
                content,
                tool_call_id,
                name,
            } => OllamaMessage {
                role: "tool",
                content: text_only(content, &field, provider, model)?,
                images: Vec::new(),
                thinking: None,
                tool_calls: Vec::new(),
                tool_name: name.clone().or_else(|| tool_name_for(req, i, tool_call_id)),
                tool_call_id: (!tool_call_id.is_empty()).then(|| tool_call_id.clone()),
            },
            other => {
                return Err(invalid(
                    provider,
                    model,
                    &format!("messages[{i}]"),
                    format!(
                        "a `{}` message cannot be expressed for Ollama",
                        other.role()
                    ),
                ));
            }
        });
    }

    let mut tools = Vec::new();
    match &req.tool_choice {
        None | Some(ToolChoice::Auto) | Some(ToolChoice::None) => {}
        Some(_) => {
            return Err(invalid(
                provider,
                model,
                "tool_choice",
                "Ollama cannot force a tool call (only auto or none)",
            ));
        }
    }
    if req.parallel_tool_calls == Some(false) {
        return Err(invalid(
            provider,
            model,
            "parallel_tool_calls",
            "Ollama cannot disable parallel tool calls",
        ));
    }
    // `tool_choice: none` is expressed by offering no tools.
    if req.tool_choice != Some(ToolChoice::None) {
        for (i, t) in req.tools.iter().enumerate() {
            if t.function.strict == Some(true) {
                return Err(invalid(
                    provider,
                    model,
                    &format!("tools[{i}].function.strict"),
                    "Ollama has no strict tool schemas",
                ));
            }
            tools.push(OllamaTool {
                kind: "function",
                function: OllamaFunctionDef {
                    name: t.function.name.clone(),
                    description: t.function.description.clone(),
                    parameters: t.function.parameters.clone(),
                },
            });
        }
    }

    let mut format = match &req.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(Value::String("json".into())),
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(
            json_schema
                .schema
                .clone()
                .unwrap_or_else(|| Value::String("json".into())),
        ),
        Some(_) => {
            return Err(invalid(
                provider,
                model,
                "response_format",
                "this response format cannot be expressed for Ollama",
            ));
        }
    };
    if req.user.is_some() {
        return Err(invalid(
            provider,
            model,
            "user",
            "Ollama has no end-user field",
        ));
    }

    let (options, top_level) = options_and_extras(
        &req.extra,
        TOP_LEVEL_KEYS,
        "/api/chat",
        &mut format,
        Sampling {
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            seed: req.seed,
            frequency_penalty: req.frequency_penalty,
            presence_penalty: req.presence_penalty,
            stop: &req.stop,
        },
        provider,
        model,
    )?;
    Ok(OllamaChatRequest {
        model: req.model.clone(),
        messages,
        tools,
        format,
        options,
        stream,
        top_level,
    })
}

/// A tool call in a response: `arguments` is an object.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaToolCall {
    /// Id (newer Ollama).
    #[serde(default)]
    pub id: Option<String>,
    /// Name and arguments.
    pub function: OllamaFunction,
}

/// Name and arguments object.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaFunction {
    /// Position.
    #[serde(default)]
    pub index: Option<usize>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Arguments (an object).
    #[serde(default)]
    pub arguments: Value,
}

/// `message` of a response line.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OllamaResponseMessage {
    /// Text.
    #[serde(default)]
    pub content: Option<String>,
    /// Reasoning.
    #[serde(default)]
    pub thinking: Option<String>,
    /// Tool calls (arrive whole).
    #[serde(default)]
    pub tool_calls: Option<Vec<OllamaToolCall>>,
}

/// An `/api/chat` or `/api/generate` response, or one line of their streams.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OllamaChatResponse {
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// RFC 3339 time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// The (partial) message (`/api/chat`).
    #[serde(default)]
    pub message: Option<OllamaResponseMessage>,
    /// The (partial) text (`/api/generate`).
    #[serde(default)]
    pub response: Option<String>,
    /// The (partial) reasoning (`/api/generate`).
    #[serde(default)]
    pub thinking: Option<String>,
    /// True on the last line.
    #[serde(default)]
    pub done: bool,
    /// `stop`, `length`, `load`, `unload`.
    #[serde(default)]
    pub done_reason: Option<String>,
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_eval_count: Option<u64>,
    /// Output tokens.
    #[serde(default)]
    pub eval_count: Option<u64>,
    /// Nanoseconds.
    #[serde(default)]
    pub total_duration: Option<u64>,
    /// Nanoseconds.
    #[serde(default)]
    pub load_duration: Option<u64>,
    /// Nanoseconds.
    #[serde(default)]
    pub prompt_eval_duration: Option<u64>,
    /// Nanoseconds.
    #[serde(default)]
    pub eval_duration: Option<u64>,
    /// A mid-stream (or HTTP 200) error.
    #[serde(default)]
    pub error: Option<Value>,
}

fn created(r: &OllamaChatResponse) -> i64 {
    r.created_at
        .as_deref()
        .and_then(rfc3339_unix_seconds)
        .unwrap_or_default()
}

fn usage(r: &OllamaChatResponse) -> Option<Usage> {
    (r.prompt_eval_count.is_some() || r.eval_count.is_some()).then(|| {
        Usage::new(
            r.prompt_eval_count.unwrap_or_default(),
            r.eval_count.unwrap_or_default(),
        )
    })
}

/// Ollama's `done_reason` in OpenAI's vocabulary: tool calls reported with `stop` are
/// `tool_calls`; `length` is `length`; other values are kept as they are.
pub fn finish_reason(done_reason: Option<&str>, has_tool_calls: bool) -> FinishReason {
    match done_reason {
        None | Some("stop") if has_tool_calls => FinishReason::ToolCalls,
        None | Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.to_owned()),
    }
}

fn call_id(c: &OllamaToolCall, index: usize) -> String {
    c.id.clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("call_{index}"))
}

fn arguments_text(v: &Value) -> String {
    match v {
        Value::Null => "{}".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn error_message(e: &Value) -> String {
    match e {
        Value::String(s) => s.clone(),
        other => other
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| other.to_string(), str::to_owned),
    }
}

/// The annotation holding a final answer's durations (ns).
const DURATIONS: &str = "ollama";

/// The durations (ns) of a final (`done: true`) answer or line, when it has any.
fn durations(r: &OllamaChatResponse) -> Option<Value> {
    let d: Map<String, Value> = [
        ("total_duration", r.total_duration),
        ("load_duration", r.load_duration),
        ("prompt_eval_duration", r.prompt_eval_duration),
        ("eval_duration", r.eval_duration),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), Value::from(v))))
    .collect();
    (!d.is_empty()).then_some(Value::Object(d))
}

/// Maps a non-streaming `/api/chat` answer. Durations (ns) are kept in
/// `meta.annotations["ollama"]` (a stream's last line carries them the same way).
pub fn parse_chat(r: OllamaChatResponse, provider: &str, model: &str) -> Result<ChatResponse> {
    if let Some(e) = &r.error {
        return Err(Error::Api {
            provider: provider.to_owned(),
            model: model.to_owned(),
            status: 500,
            error_type: None,
            code: None,
            message: error_message(e),
            retry_after: None,
            should_retry: None,
        });
    }
    if !r.done {
        return Err(Error::decode(
            provider,
            model,
            "chat response",
            "the answer is not done (`done: false`)",
            "",
        ));
    }
    let msg = r.message.clone().unwrap_or_default();
    let tool_calls: Vec<ToolCall> = msg
        .tool_calls
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            ToolCall::new(
                call_id(c, i),
                &c.function.name,
                arguments_text(&c.function.arguments),
            )
        })
        .collect();
    let mut annotations = Map::new();
    if let Some(d) = durations(&r) {
        annotations.insert(DURATIONS.into(), d);
    }
    Ok(ChatResponse {
        id: String::new(),
        model: r.model.clone().unwrap_or_else(|| model.to_owned()),
        created: created(&r),
        message: AssistantMessage {
            content: msg.content.filter(|c| !c.is_empty()).map(Content::Text),
            reasoning: msg
                .thinking
                .filter(|t| !t.is_empty())
                .map(|t| vec![ReasoningBlock::text(t)])
                .unwrap_or_default(),
            tool_calls: tool_calls.clone(),
            refusal: None,
            name: None,
        },
        finish_reason: finish_reason(r.done_reason.as_deref(), !tool_calls.is_empty()),
        usage: usage(&r),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            annotations,
            ..ResponseMeta::default()
        },
    })
}

/// Decodes an `/api/chat` (or `/api/generate`) NDJSON stream: content, thinking and whole tool
/// calls per line (`response` / `thinking` for generate); the
/// `done: true` line carries the counts and `done_reason`; an `{"error": …}` line is an
/// [`Error::Stream`].
#[derive(Debug)]
pub struct OllamaStreamDecoder {
    provider: String,
    model: String,
    started: bool,
    done: bool,
    calls: usize,
    content_sent: bool,
}

impl OllamaStreamDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            started: false,
            done: false,
            calls: 0,
            content_sent: false,
        }
    }

    fn stream_error(&self, message: String) -> Error {
        Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message,
            transient: false,
            content_sent: self.content_sent,
        }
    }
}

impl FrameDecoder for OllamaStreamDecoder {
    fn decode(&mut self, line: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        if self.done || line.trim().is_empty() {
            return Ok(());
        }
        let r: OllamaChatResponse = serde_json::from_str(line)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream line", e, line))?;
        if let Some(e) = &r.error {
            return Err(self.stream_error(error_message(e)));
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: String::new(),
                model: r.model.clone().unwrap_or_else(|| self.model.clone()),
                created: created(&r),
            });
        }
        if let Some(m) = &r.message {
            if let Some(t) = m.thinking.as_ref().filter(|t| !t.is_empty()) {
                self.content_sent = true;
                out.push(StreamEvent::ReasoningDelta { text: t.clone() });
            }
            if let Some(t) = m.content.as_ref().filter(|t| !t.is_empty()) {
                self.content_sent = true;
                out.push(StreamEvent::TextDelta { text: t.clone() });
            }
            for c in m.tool_calls.iter().flatten() {
                let index = self.calls;
                self.calls += 1;
                self.content_sent = true;
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id: call_id(c, index),
                    name: c.function.name.clone(),
                    thought_signature: None,
                });
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    arguments: arguments_text(&c.function.arguments),
                });
                out.push(StreamEvent::ToolCallEnd { index });
            }
        }
        if let Some(t) = r.thinking.as_ref().filter(|t| !t.is_empty()) {
            self.content_sent = true;
            out.push(StreamEvent::ReasoningDelta { text: t.clone() });
        }
        if let Some(t) = r.response.as_ref().filter(|t| !t.is_empty()) {
            self.content_sent = true;
            out.push(StreamEvent::TextDelta { text: t.clone() });
        }
        if r.done {
            self.done = true;
            if let Some(u) = usage(&r) {
                out.push(StreamEvent::Usage(u));
            }
            out.push(StreamEvent::Finish {
                reason: finish_reason(r.done_reason.as_deref(), self.calls > 0),
            });
            if let Some(value) = durations(&r) {
                out.push(StreamEvent::Annotation {
                    key: DURATIONS.into(),
                    value,
                });
            }
        }
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        if self.done {
            return Ok(());
        }
        let mut e = self.stream_error("the stream ended before the final `done: true` line".into());
        if let Error::Stream { transient, .. } = &mut e {
            *transient = true;
        }
        Err(e)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

/// Top-level `/api/generate` fields passed through from `CompletionRequest::extra`.
pub const GENERATE_TOP_LEVEL_KEYS: &[&str] = &["think", "keep_alive", "raw", "system", "template"];

/// The body of `POST /api/generate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaGenerateRequest {
    /// Model.
    pub model: String,
    /// Prompt.
    pub prompt: String,
    /// Text after the completion (fill-in-the-middle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// `"json"` or a JSON Schema (from `extra.format`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    /// Sampling options.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub options: Map<String, Value>,
    /// Always sent.
    pub stream: bool,
    /// `think`, `keep_alive`, `raw`, `system`, `template`.
    #[serde(flatten)]
    pub top_level: Map<String, Value>,
}

/// Maps a text completion to `/api/generate`: `suffix` is native (fill-in-the-middle models);
/// the model's prompt template applies unless `extra.raw` is `true`.
pub fn generate_request(
    req: &runtime_core::CompletionRequest,
    stream: bool,
    provider: &str,
) -> Result<OllamaGenerateRequest> {
    if req.user.is_some() {
        return Err(invalid(
            provider,
            &req.model,
            "user",
            "Ollama has no end-user field",
        ));
    }
    let mut format = None;
    let (options, top_level) = options_and_extras(
        &req.extra,
        GENERATE_TOP_LEVEL_KEYS,
        "/api/generate",
        &mut format,
        Sampling {
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            seed: req.seed,
            frequency_penalty: req.frequency_penalty,
            presence_penalty: req.presence_penalty,
            stop: &req.stop,
        },
        provider,
        &req.model,
    )?;
    Ok(OllamaGenerateRequest {
        model: req.model.clone(),
        prompt: req.prompt.clone(),
        suffix: req.suffix.clone(),
        format,
        options,
        stream,
        top_level,
    })
}

/// Maps a non-streaming `/api/generate` answer. (Its `context` token array, Ollama's deprecated
/// conversation state, has no place in a completion and is not kept.)
pub fn parse_generate(
    r: OllamaChatResponse,
    provider: &str,
    model: &str,
) -> Result<runtime_core::CompletionResponse> {
    if let Some(e) = &r.error {
        return Err(Error::Api {
            provider: provider.to_owned(),
            model: model.to_owned(),
            status: 500,
            error_type: None,
            code: None,
            message: error_message(e),
            retry_after: None,
            should_retry: None,
        });
    }
    if !r.done {
        return Err(Error::decode(
            provider,
            model,
            "generate response",
            "the answer is not done (`done: false`)",
            "",
        ));
    }
    Ok(runtime_core::CompletionResponse {
        id: String::new(),
        model: r.model.clone().unwrap_or_else(|| model.to_owned()),
        created: created(&r),
        text: r.response.clone().unwrap_or_default(),
        finish_reason: finish_reason(r.done_reason.as_deref(), false),
        usage: usage(&r),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

/// The body of `POST /api/embed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaEmbedRequest {
    /// Model.
    pub model: String,
    /// Texts.
    pub input: Vec<String>,
    /// Output dimensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// `truncate`, `keep_alive`, `options`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Maps an embedding request; `user` and unknown `extra` keys are invalid.
pub fn embed_request(req: &EmbeddingRequest, provider: &str) -> Result<OllamaEmbedRequest> {
    if req.user.is_some() {
        return Err(invalid(
            provider,
            &req.model,
            "user",
            "Ollama has no end-user field",
        ));
    }
    let mut extra = Map::new();
    for (k, v) in &req.extra {
        match k.as_str() {
            "truncate" | "keep_alive" | "options" => {
                extra.insert(k.clone(), v.clone());
            }
            other => {
                return Err(invalid(
                    provider,
                    &req.model,
                    other,
                    format!("`{other}` is not an Ollama /api/embed field"),
                ));
            }
        }
    }
    Ok(OllamaEmbedRequest {
        model: req.model.clone(),
        input: req.input.clone(),
        dimensions: req.dimensions,
        extra,
    })
}

/// The body of an `/api/embed` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaEmbedResponse {
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// One vector per input.
    pub embeddings: Vec<Vec<f32>>,
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_eval_count: Option<u64>,
}

/// Maps an `/api/embed` answer; the vector count must match the inputs.
pub fn parse_embed(
    r: OllamaEmbedResponse,
    inputs: usize,
    provider: &str,
    model: &str,
) -> Result<EmbeddingResponse> {
    if r.embeddings.len() != inputs {
        return Err(Error::decode(
            provider,
            model,
            "embeddings",
            format!("expected {inputs} vectors, got {}", r.embeddings.len()),
            "",
        ));
    }
    Ok(EmbeddingResponse {
        model: r.model.unwrap_or_else(|| model.to_owned()),
        data: r
            .embeddings
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| Embedding { index, embedding })
            .collect(),
        usage: r.prompt_eval_count.map(|p| Usage::new(p, 0)),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

/// `details` of a listed model.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OllamaModelDetails {
    /// Model families (`bert`, `clip`…).
    #[serde(default)]
    pub families: Option<Vec<String>>,
    /// Main family.
    #[serde(default)]
    pub family: Option<String>,
}

/// One model of `/api/tags`.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaModel {
    /// Name (`qwen3:4b`).
    pub name: String,
    /// RFC 3339.
    #[serde(default)]
    pub modified_at: Option<String>,
    /// Details.
    #[serde(default)]
    pub details: OllamaModelDetails,
}

/// The body of `/api/tags`.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaTags {
    /// Models.
    #[serde(default)]
    pub models: Vec<OllamaModel>,
}

/// Maps `/api/tags`: embedding models by family (`bert`, `nomic-bert`) or name, vision by a
/// `clip` / `mllama` family.
pub fn parse_tags(t: OllamaTags, provider: &str) -> Vec<ModelInfo> {
    t.models
        .into_iter()
        .map(|m| {
            let families: Vec<String> = m
                .details
                .families
                .clone()
                .unwrap_or_default()
                .into_iter()
                .chain(m.details.family.clone())
                .map(|f| f.to_ascii_lowercase())
                .collect();
            let lower = m.name.to_ascii_lowercase();
            let embedding = families.iter().any(|f| f.contains("bert"))
                || lower.contains("embed")
                || lower.contains("minilm");
            let vision = families.iter().any(|f| f == "clip" || f == "mllama");
            let chat = !embedding;
            ModelInfo {
                id: m.name,
                provider: provider.to_owned(),
                kind: if embedding {
                    ModelKind::Embedding
                } else {
                    ModelKind::Chat
                },
                supports_streaming: chat,
                supports_tools: chat,
                supports_vision: vision,
                supports_json_schema: chat,
                owned_by: Some("ollama".into()),
                created: m.modified_at.as_deref().and_then(rfc3339_unix_seconds),
                ..ModelInfo::default()
            }
        })
        .collect()
}

/// What the native Ollama provider can do.
/// Completion is `/api/generate`.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .embeddings(true)
    .list_models(true);

/// The native Ollama provider.
#[derive(Debug, Clone)]
pub struct OllamaProvider {
    pub(crate) name: Arc<str>,
    pub(crate) root: String,
    pub(crate) key: Option<Secret>,
    pub(crate) timeout: Duration,
    pub(crate) stream_idle_timeout: Duration,
    pub(crate) catalog: Vec<ModelInfo>,
    pub(crate) http: HttpClient,
}

impl OllamaProvider {
    /// The server root (`http://localhost:11434`).
    pub fn root(&self) -> &str {
        &self.root
    }

    fn call(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        let secret = ctx.api_key.clone().or_else(|| self.key.clone());
        let mut c = CallInfo::new(self.name.clone(), model, secret, self.timeout);
        c.idle_timeout = self.stream_idle_timeout;
        c.map_error = map_status;
        c
    }

    fn authorize(&self, spec: HttpRequestSpec, ctx: &RequestContext) -> HttpRequestSpec {
        match ctx.api_key.as_ref().or(self.key.as_ref()) {
            Some(k) => spec.bearer(k),
            None => spec,
        }
    }

    /// The request spec of a chat call.
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = chat_request(req, stream, &self.name)?;
        let spec = HttpRequestSpec::post_json(format!("{}/api/chat", self.root), &body);
        Ok(self.authorize(spec, ctx))
    }
}

#[async_trait]
impl Provider for OllamaProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        let spec = self.chat_spec(req, false, ctx)?;
        let call = self.call(&req.model, ctx);
        let (body, _h): (OllamaChatResponse, _) =
            self.http.json(&call, spec, ctx, "chat response").await?;
        parse_chat(body, &self.name, &req.model)
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        let spec = self.chat_spec(req, true, ctx)?;
        let call = self.call(&req.model, ctx);
        let (lines, _h) = self.http.ndjson(&call, spec, ctx).await?;
        Ok(
            ChatStream::decode_frames(lines, OllamaStreamDecoder::new(&self.name, &req.model))
                .with_meta(ResponseMeta {
                    provider: Some(self.name.to_string()),
                    ..ResponseMeta::default()
                }),
        )
    }

    /// A text completion over `POST /api/generate` (`suffix` supported natively).
    async fn complete(
        &self,
        req: &runtime_core::CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<runtime_core::CompletionResponse> {
        let body = generate_request(req, false, &self.name)?;
        let spec = self.authorize(
            HttpRequestSpec::post_json(format!("{}/api/generate", self.root), &body),
            ctx,
        );
        let call = self.call(&req.model, ctx);
        let (body, _h): (OllamaChatResponse, _) = self
            .http
            .json(&call, spec, ctx, "generate response")
            .await?;
        parse_generate(body, &self.name, &req.model)
    }

    /// A streamed text completion over `POST /api/generate`.
    async fn complete_stream(
        &self,
        req: &runtime_core::CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let body = generate_request(req, true, &self.name)?;
        let spec = self.authorize(
            HttpRequestSpec::post_json(format!("{}/api/generate", self.root), &body),
            ctx,
        );
        let call = self.call(&req.model, ctx);
        let (lines, _h) = self.http.ndjson(&call, spec, ctx).await?;
        Ok(
            ChatStream::decode_frames(lines, OllamaStreamDecoder::new(&self.name, &req.model))
                .with_meta(ResponseMeta {
                    provider: Some(self.name.to_string()),
                    ..ResponseMeta::default()
                }),
        )
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        if req.input.is_empty() {
            return Err(invalid(&self.name, &req.model, "input", "no input texts"));
        }
        let body = embed_request(req, &self.name)?;
        let spec = self.authorize(
            HttpRequestSpec::post_json(format!("{}/api/embed", self.root), &body),
            ctx,
        );
        let call = self.call(&req.model, ctx);
        let (body, _h): (OllamaEmbedResponse, _) =
            self.http.json(&call, spec, ctx, "embeddings").await?;
        parse_embed(body, req.input.len(), &self.name, &req.model)
    }

    /// The configured `models` (static catalog).
    fn models(&self) -> Vec<ModelInfo> {
        self.catalog.clone()
    }

    /// `GET /api/tags`, live.
    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let spec = self.authorize(HttpRequestSpec::get(format!("{}/api/tags", self.root)), ctx);
        let call = self.call("", ctx);
        let (body, _h): (OllamaTags, _) = self.http.json(&call, spec, ctx, "model list").await?;
        Ok(parse_tags(body, &self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        let created_at = |t: &str| {
            created(&serde_json::from_value(serde_json::json!({"created_at": t})).unwrap())
        };
        assert_eq!(created_at("1970-01-01T00:00:00Z"), 0);
        assert_eq!(created_at("2026-07-28T06:38:03.222822Z"), 1_785_220_683);
        assert_eq!(
            created_at("2026-06-19T17:15:40.188240254-07:00"),
            created_at("2026-06-20T00:15:40Z")
        );
        assert_eq!(created_at("yesterday"), 0);
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(finish_reason(Some("stop"), true), FinishReason::ToolCalls);
        assert_eq!(finish_reason(Some("length"), true), FinishReason::Length);
        assert_eq!(
            finish_reason(Some("unload"), false),
            FinishReason::Other("unload".into())
        );
    }
}
