//! Anthropic's Messages API wire format: the pure functions that map core requests to request
//! bodies, response bodies to core responses, and SSE events to core stream events.
//!
//! Nothing here does I/O; [`crate::AnthropicProvider`] sends what these functions build.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use runtime_core::http::{ErrorContext, classify, parse_error_body};
use runtime_core::time::{parse_rfc3339, rfc3339_unix_seconds, until};
use runtime_core::{
    AssistantMessage, ChatRequest, ChatResponse, Content, ContentPart, Error, FinishReason,
    ImageSource, ImageUrl, Message, ModelInfo, ModelKind, ReasoningBlock, ResponseFormat,
    ResponseMeta, StreamEvent, ToolCall, ToolChoice, Usage,
};

/// Options of the request mapping that come from the provider's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOptions {
    /// `max_tokens` sent when the request has none (Anthropic requires the field).
    pub default_max_tokens: u32,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            default_max_tokens: crate::DEFAULT_MAX_TOKENS,
        }
    }
}

fn invalid(provider: &str, model: &str, param: &str, message: impl Into<String>) -> Error {
    Error::invalid_request(provider, model, Some(param), message)
}

/// Accumulates messages into Anthropic turns, merging consecutive turns of one role.
#[derive(Default)]
struct Turns {
    turns: Vec<(&'static str, Vec<Value>)>,
}

impl Turns {
    fn push(&mut self, role: &'static str, blocks: Vec<Value>) {
        if blocks.is_empty() {
            return;
        }
        match self.turns.last_mut() {
            Some((r, existing)) if *r == role => existing.extend(blocks),
            _ => self.turns.push((role, blocks)),
        }
    }

    fn into_value(self) -> Value {
        Value::Array(
            self.turns
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        )
    }
}

fn text_block(text: &str) -> Value {
    json!({"type": "text", "text": text})
}

fn image_block(img: &ImageUrl, provider: &str, model: &str, param: &str) -> Result<Value, Error> {
    match img.detail.as_deref() {
        None | Some("auto") => {}
        Some(other) => {
            return Err(invalid(
                provider,
                model,
                &format!("{param}.image_url.detail"),
                format!("Anthropic has no image detail setting; `{other}` cannot be expressed"),
            ));
        }
    }
    match img.source() {
        ImageSource::Base64 { mime_type, data } => Ok(json!({
            "type": "image",
            "source": {"type": "base64", "media_type": mime_type, "data": data}
        })),
        ImageSource::Url(url) if url.starts_with("data:") => Err(invalid(
            provider,
            model,
            &format!("{param}.image_url.url"),
            "a data: URL must be base64 encoded (data:<mime>;base64,<data>)",
        )),
        ImageSource::Url(url) => Ok(json!({
            "type": "image",
            "source": {"type": "url", "url": url}
        })),
    }
}

/// User-side content (user messages, tool results): text and images.
fn user_blocks(
    content: &Content,
    provider: &str,
    model: &str,
    param: &str,
) -> Result<Vec<Value>, Error> {
    match content {
        Content::Text(s) => Ok(vec![text_block(s)]),
        Content::Parts(parts) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| match p {
                ContentPart::Text { text } => Ok(text_block(text)),
                ContentPart::ImageUrl { image_url } => {
                    image_block(image_url, provider, model, &format!("{param}.content[{j}]"))
                }
                _ => Err(invalid(
                    provider,
                    model,
                    &format!("{param}.content[{j}]"),
                    "this kind of content part cannot be expressed for Anthropic",
                )),
            })
            .collect(),
    }
}

fn reasoning_block(
    b: &ReasoningBlock,
    provider: &str,
    model: &str,
    param: &str,
) -> Result<Value, Error> {
    match b.kind.as_str() {
        "redacted_thinking" => {
            let data = b.data.as_deref().ok_or_else(|| {
                invalid(
                    provider,
                    model,
                    &format!("{param}.data"),
                    "a redacted_thinking block needs its encrypted `data`",
                )
            })?;
            Ok(json!({"type": "redacted_thinking", "data": data}))
        }
        "thinking" => {
            let signature = b.signature.as_deref().ok_or_else(|| {
                invalid(
                    provider,
                    model,
                    &format!("{param}.signature"),
                    "Anthropic only accepts thinking blocks it signed; this one has no signature",
                )
            })?;
            Ok(json!({
                "type": "thinking",
                "thinking": b.text.as_deref().unwrap_or(""),
                "signature": signature
            }))
        }
        other => Err(invalid(
            provider,
            model,
            &format!("{param}.type"),
            format!("unknown reasoning block type `{other}`"),
        )),
    }
}

fn assistant_blocks(
    a: &AssistantMessage,
    provider: &str,
    model: &str,
    param: &str,
) -> Result<Vec<Value>, Error> {
    if a.name.is_some() {
        return Err(invalid(
            provider,
            model,
            &format!("{param}.name"),
            "Anthropic messages have no participant name",
        ));
    }
    if a.refusal.is_some() {
        return Err(invalid(
            provider,
            model,
            &format!("{param}.refusal"),
            "Anthropic has no refusal field on assistant messages",
        ));
    }
    let mut blocks = Vec::new();
    for (j, b) in a.reasoning.iter().enumerate() {
        blocks.push(reasoning_block(
            b,
            provider,
            model,
            &format!("{param}.thinking_blocks[{j}]"),
        )?);
    }
    match &a.content {
        None => {}
        // Anthropic rejects empty text blocks; an empty text carries nothing to lose.
        Some(Content::Text(s)) if s.is_empty() => {}
        Some(Content::Text(s)) => blocks.push(text_block(s)),
        Some(Content::Parts(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                match p {
                    ContentPart::Text { text } if text.is_empty() => {}
                    ContentPart::Text { text } => blocks.push(text_block(text)),
                    ContentPart::ImageUrl { .. } => {
                        return Err(invalid(
                            provider,
                            model,
                            &format!("{param}.content[{j}]"),
                            "Anthropic assistant messages cannot hold images",
                        ));
                    }
                    _ => {
                        return Err(invalid(
                            provider,
                            model,
                            &format!("{param}.content[{j}]"),
                            "this kind of content part cannot be expressed for Anthropic",
                        ));
                    }
                }
            }
        }
    }
    for (j, c) in a.tool_calls.iter().enumerate() {
        let p = format!("{param}.tool_calls[{j}]");
        if c.kind != "function" {
            return Err(invalid(
                provider,
                model,
                &format!("{p}.type"),
                format!(
                    "only function tool calls exist on Anthropic, not `{}`",
                    c.kind
                ),
            ));
        }
        if c.thought_signature.is_some() {
            return Err(invalid(
                provider,
                model,
                &format!("{p}.thought_signature"),
                "a Gemini thought signature cannot be sent to Anthropic",
            ));
        }
        let args = c.function.arguments.trim();
        let input: Value = if args.is_empty() {
            json!({})
        } else {
            serde_json::from_str(args).map_err(|e| {
                invalid(
                    provider,
                    model,
                    &format!("{p}.function.arguments"),
                    format!("arguments are not valid JSON: {e}"),
                )
            })?
        };
        if !input.is_object() {
            return Err(invalid(
                provider,
                model,
                &format!("{p}.function.arguments"),
                "Anthropic tool inputs must be JSON objects",
            ));
        }
        blocks.push(json!({
            "type": "tool_use",
            "id": c.id,
            "name": c.function.name,
            "input": input
        }));
    }
    Ok(blocks)
}

fn system_value(
    systems: &[(&Content, usize)],
    provider: &str,
    model: &str,
) -> Result<Option<Value>, Error> {
    match systems {
        [] => Ok(None),
        [(Content::Text(s), _)] => Ok(Some(Value::String(s.clone()))),
        many => {
            let mut blocks = Vec::new();
            for (content, i) in many {
                match content {
                    Content::Text(s) => blocks.push(text_block(s)),
                    Content::Parts(parts) => {
                        for (j, p) in parts.iter().enumerate() {
                            match p {
                                ContentPart::Text { text } => blocks.push(text_block(text)),
                                ContentPart::ImageUrl { .. } => {
                                    return Err(invalid(
                                        provider,
                                        model,
                                        &format!("messages[{i}].content[{j}]"),
                                        "the Anthropic system prompt cannot hold images",
                                    ));
                                }
                                _ => {
                                    return Err(invalid(
                                        provider,
                                        model,
                                        &format!("messages[{i}].content[{j}]"),
                                        "this kind of content part cannot be expressed in the \
                                         Anthropic system prompt",
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            Ok(Some(Value::Array(blocks)))
        }
    }
}

fn tool_choice_value(choice: &ToolChoice) -> Option<Value> {
    Some(match choice {
        ToolChoice::Auto => json!({"type": "auto"}),
        ToolChoice::None => json!({"type": "none"}),
        ToolChoice::Required => json!({"type": "any"}),
        ToolChoice::Function(name) => json!({"type": "tool", "name": name}),
        _ => return None,
    })
}

/// The name of the tool that carries a structured (`response_format`) answer, if the request
/// asks for one: the `json_schema` name, or `json_object` for JSON mode.
pub fn structured_output_tool(req: &ChatRequest) -> Option<&str> {
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(&json_schema.name),
        Some(ResponseFormat::JsonObject) => Some(JSON_OBJECT_TOOL),
        None | Some(ResponseFormat::Text) | Some(_) => None,
    }
}

/// The tool name used for `response_format: json_object`.
pub const JSON_OBJECT_TOOL: &str = "json_object";

struct StructuredOutput<'a> {
    name: &'a str,
    tool: Value,
}

/// `response_format` over the Messages API, by the documented technique: one tool whose input
/// schema is the requested schema, forced with `tool_choice`; its input is the answer.
fn structured_output<'a>(
    req: &'a ChatRequest,
    provider: &str,
) -> Result<Option<StructuredOutput<'a>>, Error> {
    let model = req.model.as_str();
    let Some(name) = structured_output_tool(req) else {
        if let Some(f) = &req.response_format
            && !matches!(f, ResponseFormat::Text)
        {
            return Err(invalid(
                provider,
                model,
                "response_format",
                "this response format cannot be expressed for Anthropic",
            ));
        }
        return Ok(None);
    };
    let fail = |why: &str| {
        invalid(
            provider,
            model,
            "response_format",
            format!("structured output is a forced tool call on Anthropic; {why}"),
        )
    };
    if !req.tools.is_empty() {
        return Err(fail("it cannot be combined with tools"));
    }
    if matches!(
        req.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Function(_))
    ) {
        return Err(fail("it cannot be combined with a forced tool_choice"));
    }
    if req
        .extra
        .get("thinking")
        .and_then(|t| t.get("type"))
        .and_then(Value::as_str)
        == Some("enabled")
    {
        return Err(fail(
            "Anthropic does not allow a forced tool with extended thinking",
        ));
    }
    let mut tool = Map::new();
    tool.insert("name".into(), Value::String(name.to_owned()));
    let (description, schema, strict) = match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => (
            json_schema.description.clone(),
            json_schema
                .schema
                .clone()
                .unwrap_or_else(|| json!({"type": "object"})),
            json_schema.strict,
        ),
        _ => (None, json!({"type": "object"}), None),
    };
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(fail("the schema's root must be an object"));
    }
    tool.insert(
        "description".into(),
        Value::String(
            description.unwrap_or_else(|| "Respond with the answer as this tool's input.".into()),
        ),
    );
    tool.insert("input_schema".into(), schema);
    if let Some(strict) = strict {
        tool.insert("strict".into(), Value::Bool(strict));
    }
    Ok(Some(StructuredOutput {
        name,
        tool: Value::Object(tool),
    }))
}

/// Maps a core chat request to the body of `POST /v1/messages`.
///
/// System messages (wherever they are) are lifted to the top-level `system`; consecutive
/// messages of one role, and tool results (which travel as `tool_result` blocks in a user turn),
/// are merged into one turn. `max_tokens` is always sent. Fields Anthropic cannot express are
/// errors naming the field, never dropped.
pub fn messages_request(
    req: &ChatRequest,
    provider: &str,
    opts: RequestOptions,
    stream: bool,
) -> Result<Value, Error> {
    let model = req.model.as_str();
    let mut systems: Vec<(&Content, usize)> = Vec::new();
    let mut turns = Turns::default();
    for (i, m) in req.messages.iter().enumerate() {
        let param = format!("messages[{i}]");
        match m {
            Message::System { content, name } => {
                if name.is_some() {
                    return Err(invalid(
                        provider,
                        model,
                        &format!("{param}.name"),
                        "the Anthropic system prompt has no participant name",
                    ));
                }
                systems.push((content, i));
            }
            Message::User { content, name } => {
                if name.is_some() {
                    return Err(invalid(
                        provider,
                        model,
                        &format!("{param}.name"),
                        "Anthropic messages have no participant name",
                    ));
                }
                turns.push("user", user_blocks(content, provider, model, &param)?);
            }
            Message::Assistant(a) => {
                turns.push("assistant", assistant_blocks(a, provider, model, &param)?);
            }
            Message::Tool {
                content,
                tool_call_id,
                ..
            } => {
                let content = match content {
                    Content::Text(s) => Value::String(s.clone()),
                    parts @ Content::Parts(_) => {
                        Value::Array(user_blocks(parts, provider, model, &param)?)
                    }
                };
                turns.push(
                    "user",
                    vec![json!({
                        "type": "tool_result",
                        "tool_use_id": tool_call_id,
                        "content": content
                    })],
                );
            }
            other => {
                return Err(invalid(
                    provider,
                    model,
                    &param,
                    format!(
                        "a `{}` message cannot be expressed for Anthropic",
                        other.role()
                    ),
                ));
            }
        }
    }

    let mut body = Map::new();
    body.insert("model".into(), Value::String(model.to_owned()));
    body.insert("messages".into(), turns.into_value());
    if let Some(system) = system_value(&systems, provider, model)? {
        body.insert("system".into(), system);
    }

    let thinking_budget = req
        .extra
        .get("thinking")
        .and_then(|t| t.get("budget_tokens"))
        .and_then(Value::as_u64);
    let max_tokens = match (req.max_tokens, thinking_budget) {
        (Some(n), _) => u64::from(n),
        // The budget must stay below max_tokens: leave the default room for the answer.
        (None, Some(budget)) if budget >= u64::from(opts.default_max_tokens) => {
            budget + u64::from(opts.default_max_tokens)
        }
        (None, _) => u64::from(opts.default_max_tokens),
    };
    body.insert("max_tokens".into(), json!(max_tokens));
    body.insert("stream".into(), Value::Bool(stream));

    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(req.stop));
    }
    if req.seed.is_some() {
        return Err(invalid(
            provider,
            model,
            "seed",
            "Anthropic has no seeded sampling",
        ));
    }
    for (name, v) in [
        ("frequency_penalty", req.frequency_penalty),
        ("presence_penalty", req.presence_penalty),
    ] {
        if v.is_some_and(|v| v != 0.0) {
            return Err(invalid(
                provider,
                model,
                name,
                format!("Anthropic has no {name}"),
            ));
        }
    }

    let structured = structured_output(req, provider)?;

    if !req.tools.is_empty() {
        let mut tools = Vec::with_capacity(req.tools.len());
        for (j, t) in req.tools.iter().enumerate() {
            if t.kind != "function" {
                return Err(invalid(
                    provider,
                    model,
                    &format!("tools[{j}].type"),
                    format!("only function tools map to Anthropic, not `{}`", t.kind),
                ));
            }
            let f = &t.function;
            let mut tool = Map::new();
            tool.insert("name".into(), Value::String(f.name.clone()));
            if let Some(d) = &f.description {
                tool.insert("description".into(), Value::String(d.clone()));
            }
            tool.insert(
                "input_schema".into(),
                f.parameters
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
            );
            if let Some(strict) = f.strict {
                tool.insert("strict".into(), Value::Bool(strict));
            }
            tools.push(Value::Object(tool));
        }
        body.insert("tools".into(), Value::Array(tools));
    }
    // Without tools, `auto` / `none` and a parallelism limit say nothing (and Anthropic rejects
    // a tool_choice without tools); `required` / a named tool still go out, to fail upstream.
    let choice_without_tools = matches!(req.tool_choice, Some(ToolChoice::Auto | ToolChoice::None));
    let mut choice = req
        .tool_choice
        .as_ref()
        .filter(|_| !(req.tools.is_empty() && choice_without_tools))
        .map(|c| {
            tool_choice_value(c).ok_or_else(|| {
                invalid(
                    provider,
                    &req.model,
                    "tool_choice",
                    "this tool_choice cannot be expressed for Anthropic",
                )
            })
        })
        .transpose()?;
    if req.parallel_tool_calls == Some(false)
        && !req.tools.is_empty()
        && req.tool_choice != Some(ToolChoice::None)
    {
        let c = choice.get_or_insert_with(|| json!({"type": "auto"}));
        if let Some(obj) = c.as_object_mut() {
            obj.insert("disable_parallel_tool_use".into(), Value::Bool(true));
        }
    }
    if let Some(c) = choice {
        body.insert("tool_choice".into(), c);
    }
    if let Some(so) = structured {
        body.insert("tools".into(), Value::Array(vec![so.tool]));
        body.insert(
            "tool_choice".into(),
            json!({"type": "tool", "name": so.name, "disable_parallel_tool_use": true}),
        );
    }

    let mut metadata = match req.extra.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            return Err(invalid(
                provider,
                model,
                "metadata",
                "metadata must be an object",
            ));
        }
    };
    if let Some(user) = &req.user {
        let m = metadata.get_or_insert_with(Map::new);
        match m.get("user_id") {
            Some(Value::String(u)) if u != user => {
                return Err(invalid(
                    provider,
                    model,
                    "user",
                    "`user` and `metadata.user_id` disagree",
                ));
            }
            _ => {
                m.insert("user_id".into(), Value::String(user.clone()));
            }
        }
    }
    if let Some(m) = metadata {
        body.insert("metadata".into(), Value::Object(m));
    }

    for (k, v) in &req.extra {
        match k.as_str() {
            "metadata" => {}
            "n" => {
                if v.as_u64() != Some(1) && !v.is_null() {
                    return Err(Error::unsupported(
                        provider,
                        "n > 1 (Anthropic returns one choice per request)",
                    ));
                }
            }
            _ if body.contains_key(k) => {
                return Err(invalid(
                    provider,
                    model,
                    k,
                    format!("`{k}` is set both by the request and as a provider-specific field"),
                ));
            }
            _ => {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(Value::Object(body))
}

/// Anthropic's `usage` object. Every count is optional: stream deltas carry some of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct WireUsage {
    /// Uncached input tokens.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Output tokens (thinking included).
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Overwrites every count `newer` carries (stream usage is cumulative, not additive).
    pub fn overwrite(&mut self, newer: &WireUsage) {
        if newer.input_tokens.is_some() {
            self.input_tokens = newer.input_tokens;
        }
        if newer.output_tokens.is_some() {
            self.output_tokens = newer.output_tokens;
        }
        if newer.cache_creation_input_tokens.is_some() {
            self.cache_creation_input_tokens = newer.cache_creation_input_tokens;
        }
        if newer.cache_read_input_tokens.is_some() {
            self.cache_read_input_tokens = newer.cache_read_input_tokens;
        }
    }

    /// The core usage: prompt = input + cache writes + cache reads (Anthropic's `input_tokens`
    /// excludes both), completion = output.
    pub fn to_core(&self) -> Usage {
        let input = self.input_tokens.unwrap_or(0);
        let created = self.cache_creation_input_tokens.unwrap_or(0);
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let prompt = input + created + read;
        let completion = self.output_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            cached_prompt_tokens: read,
            cache_creation_tokens: created,
            reasoning_tokens: 0,
        }
    }
}

/// A content block of a response (or of a `content_block_start` event).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KnownBlock {
    /// Text.
    Text {
        /// The text.
        #[serde(default)]
        text: String,
    },
    /// A call of one of the request's tools.
    ToolUse {
        /// `toolu_…`.
        id: String,
        /// The tool.
        name: String,
        /// Arguments (an object).
        #[serde(default)]
        input: Value,
    },
    /// Extended thinking.
    Thinking {
        /// The thinking text.
        #[serde(default)]
        thinking: String,
        /// Anthropic's signature over it.
        #[serde(default)]
        signature: Option<String>,
    },
    /// Thinking the safety system encrypted.
    RedactedThinking {
        /// Encrypted content.
        data: String,
    },
}

/// A content block: one this crate maps, or any other (kept as JSON).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Block {
    /// A block type with a core equivalent.
    Known(KnownBlock),
    /// Anything else (server tool results, future types).
    Other(Value),
}

/// `stop_details` (sent with refusals).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StopDetails {
    /// Why the model refused, in words.
    #[serde(default)]
    pub explanation: Option<String>,
}

/// The body of a Messages response.
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesResponse {
    /// `msg_…`.
    #[serde(default)]
    pub id: String,
    /// The model that answered (a dated snapshot).
    #[serde(default)]
    pub model: Option<String>,
    /// The content blocks.
    #[serde(default)]
    pub content: Vec<Block>,
    /// Why it stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Which stop sequence matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Refusal details.
    #[serde(default)]
    pub stop_details: Option<StopDetails>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// Anthropic's stop reason in core terms.
pub fn finish_reason(stop_reason: Option<&str>) -> FinishReason {
    match stop_reason {
        Some("end_turn" | "stop_sequence" | "pause_turn") => FinishReason::Stop,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
        None => FinishReason::Other("unknown".into()),
    }
}

/// Maps a Messages response to the core response. `structured` is the request's
/// [`structured_output_tool`]: that tool's input becomes the answer's text (JSON) and its
/// `tool_use` stop a plain stop.
///
/// Text blocks are joined; `tool_use` blocks become tool calls with their `toolu_…` ids;
/// `thinking` / `redacted_thinking` blocks become reasoning blocks. Blocks without a core
/// equivalent are kept in `meta.annotations["content_blocks"]`, the matched stop sequence in
/// `meta.annotations["stop_sequence"]`.
pub fn parse_response(
    body: MessagesResponse,
    provider: &str,
    model: &str,
    structured: Option<&str>,
) -> ChatResponse {
    let mut text = String::new();
    let mut reasoning = Vec::new();
    let mut tool_calls = Vec::new();
    let mut other = Vec::new();
    for b in body.content {
        match b {
            Block::Known(KnownBlock::Text { text: t }) => text.push_str(&t),
            Block::Known(KnownBlock::ToolUse { name, input, .. })
                if structured == Some(name.as_str()) =>
            {
                text.push_str(&tool_input_text(&input));
            }
            Block::Known(KnownBlock::ToolUse { id, name, input }) => {
                tool_calls.push(ToolCall::new(id, name, tool_input_text(&input)));
            }
            Block::Known(KnownBlock::Thinking {
                thinking,
                signature,
            }) => reasoning.push(ReasoningBlock {
                signature: signature.filter(|s| !s.is_empty()),
                ..ReasoningBlock::text(thinking)
            }),
            Block::Known(KnownBlock::RedactedThinking { data }) => {
                reasoning.push(ReasoningBlock {
                    kind: "redacted_thinking".into(),
                    text: None,
                    signature: None,
                    data: Some(data),
                });
            }
            Block::Other(v) => other.push(v),
        }
    }
    let finish = structured_finish(
        finish_reason(body.stop_reason.as_deref()),
        structured.is_some() && tool_calls.is_empty(),
    );
    let mut annotations = Map::new();
    if !other.is_empty() {
        annotations.insert("content_blocks".into(), Value::Array(other));
    }
    if let Some(s) = body.stop_sequence {
        annotations.insert("stop_sequence".into(), Value::String(s));
    }
    ChatResponse {
        id: body.id,
        model: body.model.unwrap_or_else(|| model.to_owned()),
        created: 0,
        message: AssistantMessage {
            content: (!text.is_empty()).then_some(Content::Text(text)),
            reasoning,
            tool_calls,
            refusal: body
                .stop_details
                .and_then(|d| d.explanation)
                .filter(|s| !s.is_empty()),
            name: None,
        },
        finish_reason: finish,
        usage: body.usage.map(|u| u.to_core()),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            annotations,
            ..ResponseMeta::default()
        },
    }
}

/// A structured answer ends with a `tool_use` stop; for the caller it is a plain stop.
fn structured_finish(reason: FinishReason, structured_only: bool) -> FinishReason {
    match reason {
        FinishReason::ToolCalls if structured_only => FinishReason::Stop,
        other => other,
    }
}

/// A tool input object as the JSON text of core tool-call arguments (`null` → `{}`).
pub fn tool_input_text(input: &Value) -> String {
    match input {
        Value::Null => "{}".to_owned(),
        v => v.to_string(),
    }
}

/// The message of a `message_start` event.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StartMessage {
    /// `msg_…`.
    #[serde(default)]
    pub id: String,
    /// The model.
    #[serde(default)]
    pub model: Option<String>,
    /// Input-side usage.
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// The `delta` of a `message_delta` event.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageDelta {
    /// Why it stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Which stop sequence matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Refusal details.
    #[serde(default)]
    pub stop_details: Option<StopDetails>,
}

/// The `delta` of a `content_block_delta` event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// Text.
    TextDelta {
        /// The piece.
        #[serde(default)]
        text: String,
    },
    /// A fragment of a tool input's JSON.
    InputJsonDelta {
        /// The fragment.
        #[serde(default)]
        partial_json: String,
    },
    /// Thinking text.
    ThinkingDelta {
        /// The piece.
        #[serde(default)]
        thinking: String,
    },
    /// The signature of the thinking block.
    SignatureDelta {
        /// The signature.
        #[serde(default)]
        signature: String,
    },
    /// Citations and future delta types (no core equivalent).
    #[serde(other)]
    Other,
}

/// Anthropic's error object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireError {
    /// `overloaded_error`, `api_error`…
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The words.
    #[serde(default)]
    pub message: String,
}

/// One SSE event of a Messages stream (the JSON `type` decides, not the SSE `event:` line).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamWireEvent {
    /// The message's identity and input usage.
    MessageStart {
        /// The message.
        message: StartMessage,
    },
    /// A content block begins.
    ContentBlockStart {
        /// Block position.
        index: usize,
        /// The block (empty text / input).
        content_block: Block,
    },
    /// A piece of a block.
    ContentBlockDelta {
        /// Block position.
        index: usize,
        /// The piece.
        delta: BlockDelta,
    },
    /// A block ends.
    ContentBlockStop {
        /// Block position.
        index: usize,
    },
    /// Stop reason and cumulative usage.
    MessageDelta {
        /// Stop reason.
        #[serde(default)]
        delta: MessageDelta,
        /// Cumulative usage.
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    /// The end.
    MessageStop,
    /// Keep-alive.
    Ping,
    /// A failure after HTTP 200.
    Error {
        /// What failed.
        #[serde(default)]
        error: WireError,
        /// The request id.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// A future event type.
    #[serde(other)]
    Unknown,
}

#[derive(Debug)]
enum BlockState {
    Text,
    Thinking,
    Tool {
        index: usize,
        args_sent: bool,
        initial: Value,
        closed: bool,
    },
    Structured {
        args_sent: bool,
        initial: Value,
        closed: bool,
    },
    Other,
}

/// Turns Messages SSE payloads into core stream events, keeping the state a stream needs.
#[derive(Debug)]
pub struct EventDecoder {
    provider: String,
    model: String,
    usage: WireUsage,
    blocks: BTreeMap<usize, BlockState>,
    tools: usize,
    finished: bool,
    done: bool,
    content_sent: bool,
    structured: Option<String>,
}

impl EventDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            usage: WireUsage::default(),
            blocks: BTreeMap::new(),
            tools: 0,
            finished: false,
            done: false,
            content_sent: false,
            structured: None,
        }
    }

    /// Streams the input of the `response_format` tool (see [`structured_output_tool`]) as
    /// answer text.
    pub fn with_structured_output(mut self, tool: Option<&str>) -> Self {
        self.structured = tool.map(str::to_owned);
        self
    }

    /// True after `message_stop`.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes one SSE `data` payload, appending events to `out`.
    pub fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let ev: StreamWireEvent = serde_json::from_str(data)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream event", e, data))?;
        self.decode_event(ev, out)
    }

    fn content(&mut self, out: &mut Vec<StreamEvent>, ev: StreamEvent) {
        self.content_sent = true;
        out.push(ev);
    }

    /// Decodes one parsed event.
    pub fn decode_event(
        &mut self,
        ev: StreamWireEvent,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        match ev {
            StreamWireEvent::MessageStart { message } => {
                out.push(StreamEvent::Start {
                    id: message.id,
                    model: message.model.unwrap_or_else(|| self.model.clone()),
                    created: 0,
                });
                if let Some(u) = message.usage {
                    self.usage.overwrite(&u);
                    out.push(StreamEvent::Usage(self.usage.to_core()));
                }
            }
            StreamWireEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let state = match content_block {
                    Block::Known(KnownBlock::Text { text }) => {
                        if !text.is_empty() {
                            self.content(out, StreamEvent::TextDelta { text });
                        }
                        BlockState::Text
                    }
                    Block::Known(KnownBlock::Thinking {
                        thinking,
                        signature,
                    }) => {
                        if !thinking.is_empty() {
                            self.content(out, StreamEvent::ReasoningDelta { text: thinking });
                        }
                        if let Some(signature) = signature.filter(|s| !s.is_empty()) {
                            self.content(out, StreamEvent::ReasoningSignature { signature });
                        }
                        BlockState::Thinking
                    }
                    Block::Known(KnownBlock::RedactedThinking { data }) => {
                        self.content(out, StreamEvent::RedactedReasoning { data });
                        BlockState::Other
                    }
                    Block::Known(KnownBlock::ToolUse { name, input, .. })
                        if self.structured.as_deref() == Some(name.as_str()) =>
                    {
                        BlockState::Structured {
                            args_sent: false,
                            initial: input,
                            closed: false,
                        }
                    }
                    Block::Known(KnownBlock::ToolUse { id, name, input }) => {
                        let tool_index = self.tools;
                        self.tools += 1;
                        self.content(
                            out,
                            StreamEvent::ToolCallStart {
                                index: tool_index,
                                id,
                                name,
                                thought_signature: None,
                            },
                        );
                        BlockState::Tool {
                            index: tool_index,
                            args_sent: false,
                            initial: input,
                            closed: false,
                        }
                    }
                    Block::Other(_) => BlockState::Other,
                };
                self.blocks.insert(index, state);
            }
            StreamWireEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => {
                    if !text.is_empty() {
                        self.content(out, StreamEvent::TextDelta { text });
                    }
                }
                BlockDelta::ThinkingDelta { thinking } => {
                    if !thinking.is_empty() {
                        self.content(out, StreamEvent::ReasoningDelta { text: thinking });
                    }
                }
                BlockDelta::SignatureDelta { signature } => {
                    if !signature.is_empty() {
                        self.content(out, StreamEvent::ReasoningSignature { signature });
                    }
                }
                BlockDelta::InputJsonDelta { partial_json } => {
                    if let Some(BlockState::Structured { args_sent, .. }) =
                        self.blocks.get_mut(&index)
                    {
                        if !partial_json.is_empty() {
                            *args_sent = true;
                            self.content(out, StreamEvent::TextDelta { text: partial_json });
                        }
                        return Ok(());
                    }
                    let (tool_index, args_sent) = match self.blocks.get_mut(&index) {
                        Some(BlockState::Tool {
                            index: tool_index,
                            args_sent,
                            ..
                        }) => (tool_index, args_sent),
                        // Server-tool blocks (`server_tool_use`) have no core equivalent.
                        Some(_) => return Ok(()),
                        None => {
                            return Err(Error::decode(
                                &self.provider,
                                &self.model,
                                "stream event",
                                format!("input_json_delta for block {index}, which never started"),
                                &partial_json,
                            ));
                        }
                    };
                    if !partial_json.is_empty() {
                        *args_sent = true;
                        let tool_index = *tool_index;
                        self.content(
                            out,
                            StreamEvent::ToolCallDelta {
                                index: tool_index,
                                arguments: partial_json,
                            },
                        );
                    }
                }
                BlockDelta::Other => {}
            },
            StreamWireEvent::ContentBlockStop { index } => {
                if let Some(state) = self.blocks.get_mut(&index) {
                    close_tool(state, out);
                }
            }
            StreamWireEvent::MessageDelta { delta, usage } => {
                if let Some(text) = delta
                    .stop_details
                    .and_then(|d| d.explanation)
                    .filter(|s| !s.is_empty())
                {
                    self.content(out, StreamEvent::RefusalDelta { text });
                }
                if let Some(u) = usage {
                    self.usage.overwrite(&u);
                    out.push(StreamEvent::Usage(self.usage.to_core()));
                }
                if let Some(s) = delta.stop_sequence {
                    // As a non-streamed answer keeps it in `meta.annotations`.
                    out.push(StreamEvent::Annotation {
                        key: "stop_sequence".into(),
                        value: Value::String(s),
                    });
                }
                if let Some(reason) = delta.stop_reason {
                    let reason = structured_finish(
                        finish_reason(Some(&reason)),
                        self.structured.is_some() && self.tools == 0,
                    );
                    self.flush_finish(reason, out);
                }
            }
            StreamWireEvent::MessageStop => {
                self.flush_finish(FinishReason::Other("unknown".into()), out);
                self.done = true;
            }
            StreamWireEvent::Ping | StreamWireEvent::Unknown => {}
            StreamWireEvent::Error { error, request_id } => {
                let kind = error.kind.unwrap_or_default();
                let transient = matches!(
                    kind.as_str(),
                    "overloaded_error" | "api_error" | "rate_limit_error"
                );
                let message = match request_id {
                    Some(id) => format!("{} (request {id})", error.message),
                    None => error.message,
                };
                return Err(Error::Stream {
                    provider: self.provider.clone(),
                    model: self.model.clone(),
                    error_type: (!kind.is_empty()).then_some(kind),
                    message,
                    transient,
                    content_sent: self.content_sent,
                });
            }
        }
        Ok(())
    }

    fn flush_finish(&mut self, reason: FinishReason, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        self.finished = true;
        for state in self.blocks.values_mut() {
            close_tool(state, out);
        }
        out.push(StreamEvent::Finish { reason });
    }

    /// The error for a byte stream that ended inside an event (the connection was cut): the
    /// unparsable tail is not the provider's answer, so it is a transient stream error.
    pub fn truncated(&self) -> Error {
        Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream was cut inside an event".into(),
            transient: true,
            content_sent: self.content_sent,
        }
    }

    /// Called when the byte stream ends: a stream that ended before its stop reason is an error.
    pub fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        Err(Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream ended before message_delta / message_stop".into(),
            transient: true,
            content_sent: self.content_sent,
        })
    }
}

/// Closes a tool block: a tool that streamed no argument fragment gets its start `input`
/// (`{}` for a no-argument tool).
fn close_tool(state: &mut BlockState, out: &mut Vec<StreamEvent>) {
    if let BlockState::Structured {
        args_sent,
        initial,
        closed,
    } = state
    {
        if !*closed && !*args_sent {
            out.push(StreamEvent::TextDelta {
                text: match initial {
                    Value::Object(m) if m.is_empty() => "{}".to_owned(),
                    v => tool_input_text(v),
                },
            });
        }
        *closed = true;
        return;
    }
    if let BlockState::Tool {
        index,
        args_sent,
        initial,
        closed,
    } = state
    {
        if *closed {
            return;
        }
        *closed = true;
        if !*args_sent {
            let args = match initial {
                Value::Object(m) if m.is_empty() => "{}".to_owned(),
                v => tool_input_text(v),
            };
            out.push(StreamEvent::ToolCallDelta {
                index: *index,
                arguments: args,
            });
        }
        out.push(StreamEvent::ToolCallEnd { index: *index });
    }
}

/// On a 429 without `retry-after`: the wait until the latest reset of an exhausted
/// `anthropic-ratelimit-*` limit (reset timestamps are RFC 3339).
pub fn ratelimit_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: String| headers.get(name).and_then(|v| v.to_str().ok());
    let mut wait: Option<Duration> = None;
    let mut any_reset: Option<Duration> = None;
    for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let Some(reset) = get(format!("anthropic-ratelimit-{kind}-reset")).and_then(parse_rfc3339)
        else {
            continue;
        };
        let left = until(reset, now);
        any_reset = Some(any_reset.map_or(left, |a| a.max(left)));
        let remaining = get(format!("anthropic-ratelimit-{kind}-remaining"))
            .and_then(|v| v.trim().parse::<u64>().ok());
        if remaining == Some(0) {
            wait = Some(wait.map_or(left, |w| w.max(left)));
        }
    }
    wait.or(any_reset)
}

/// Maps an Anthropic error response (`{"type":"error","error":{"type","message"}}`) to the core
/// error: 400 invalid request (or context length), 401/403 authentication, 404 model not found,
/// 413 `request_too_large` (not retryable), 429 rate limited (retry-after, else the rate-limit
/// reset headers), 402/`billing_error` quota, 500 and 529 `overloaded_error` retryable.
pub fn map_error(ctx: &ErrorContext<'_>, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let mut parsed = parse_error_body(body);
    if parsed.error_type.as_deref() == Some("billing_error") {
        parsed
            .code
            .get_or_insert_with(|| "insufficient_quota".into());
    }
    if status == 429 && parsed.retry_after.is_none() {
        parsed.retry_after = ratelimit_retry_after(headers, SystemTime::now());
    }
    classify(ctx, status, headers, parsed)
}

/// One entry of `GET /v1/models`.
#[derive(Debug, Clone, Deserialize)]
pub struct WireModel {
    /// The id (`claude-sonnet-4-5-20250929`).
    pub id: String,
    /// A human name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// RFC 3339 release time.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// The body of `GET /v1/models` (one page).
#[derive(Debug, Clone, Deserialize)]
pub struct ModelPage {
    /// Models.
    #[serde(default)]
    pub data: Vec<WireModel>,
    /// More pages follow.
    #[serde(default)]
    pub has_more: bool,
    /// First id of the page.
    #[serde(default)]
    pub first_id: Option<String>,
    /// Last id of the page (the next page's `after_id`).
    #[serde(default)]
    pub last_id: Option<String>,
}

/// Maps listed models, taking context window and limits from `catalog` where the id (or its
/// undated alias) is known.
pub fn parse_models(
    models: Vec<WireModel>,
    provider: &str,
    catalog: &[ModelInfo],
) -> Vec<ModelInfo> {
    models
        .into_iter()
        .map(|m| {
            let known = catalog
                .iter()
                .filter(|c| {
                    let base =
                        c.id.strip_suffix("-latest")
                            .or_else(|| c.id.strip_suffix("-0"))
                            .unwrap_or(&c.id);
                    m.id == c.id || m.id == base || m.id.starts_with(&format!("{base}-"))
                })
                .max_by_key(|c| c.id.len());
            let mut info = known.cloned().unwrap_or_else(|| ModelInfo {
                kind: ModelKind::Chat,
                supports_streaming: true,
                supports_tools: true,
                supports_vision: true,
                supports_json_schema: true,
                ..ModelInfo::default()
            });
            info.id = m.id;
            info.provider = provider.to_owned();
            info.owned_by = Some("anthropic".into());
            info.created = m.created_at.as_deref().and_then(rfc3339_unix_seconds);
            info
        })
        .collect()
}

impl runtime_core::FrameDecoder for EventDecoder {
    fn decode(&mut self, frame: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        EventDecoder::decode(self, frame, out)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        EventDecoder::end(self, out)
    }

    fn is_done(&self) -> bool {
        EventDecoder::is_done(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons() {
        for (raw, want) in [
            ("end_turn", FinishReason::Stop),
            ("stop_sequence", FinishReason::Stop),
            ("pause_turn", FinishReason::Stop),
            ("max_tokens", FinishReason::Length),
            ("model_context_window_exceeded", FinishReason::Length),
            ("tool_use", FinishReason::ToolCalls),
            ("refusal", FinishReason::ContentFilter),
        ] {
            assert_eq!(finish_reason(Some(raw)), want, "{raw}");
        }
        assert_eq!(
            finish_reason(Some("new_reason")),
            FinishReason::Other("new_reason".into())
        );
    }
}
