//! OpenAI's Responses API (`POST /responses`) as an upstream wire format, for the models
//! OpenAI serves only there (`o3-pro`, `codex-mini`, the deep-research models…) and for
//! deployments that opt in (see [`ResponsesApi`]).
//!
//! - Request: core messages become input items (system and user messages, assistant text,
//!   `function_call` and `function_call_output` items); an OpenAI reasoning block (core kind
//!   `reasoning`, its `data` the item's `encrypted_content`) is sent back as a `reasoning` item
//!   with that content untouched and without an id. Requests are stateless (`store: false`) and
//!   ask for `reasoning.encrypted_content` on reasoning models, so a conversation keeps the
//!   model's reasoning without OpenAI storing anything.
//! - Answer: `message` items' `output_text` / `refusal`, `function_call` items, `reasoning`
//!   items (summary text and `encrypted_content`), usage with cached and reasoning tokens.
//! - Stream: the semantic events (`response.output_text.delta`,
//!   `response.function_call_arguments.delta`, `response.reasoning_summary_text.delta`,
//!   `response.completed`…) as core stream events. The streamed answer carries the reasoning
//!   summary, and each finished reasoning item's `encrypted_content` as a [`REASONING_ITEM`]
//!   annotation (core's stream has no event for an opaque reasoning item).

use serde::Deserialize;
use serde_json::{Map, Value, json};

use runtime_core::{
    AssistantMessage, ChatRequest, ChatResponse, Content, ContentPart, Error, FinishReason,
    Message, ReasoningBlock, ResponseFormat, ResponseMeta, StreamEvent, ToolCall, ToolChoice,
    Usage,
};

use super::request::requires_max_completion_tokens;

/// The core reasoning kind of an OpenAI reasoning item (the same as the gateway's Responses
/// dialect uses, so an `encrypted_content` passes from client to upstream untouched).
pub const REASONING_KIND: &str = "reasoning";

/// The stream annotation carrying a finished reasoning item (`{"id", "encrypted_content"}`):
/// core's stream has no event for an opaque reasoning item, and a stateless Responses client
/// must get its `encrypted_content` back. The gateway's Responses dialect reads it
/// (`runtime_dialects::openai_responses::reasoning::REASONING_ITEM`, the same string).
pub const REASONING_ITEM: &str = "reasoning_item";

/// Models OpenAI serves on `/v1/responses` only (prefixes: dated snapshots match too). Chat
/// calls for them go to `/responses` under [`ResponsesApi::Auto`] on `api.openai.com`.
pub const RESPONSES_ONLY_MODELS: &[&str] = &[
    "o1-pro",
    "o3-pro",
    "o3-deep-research",
    "o4-mini-deep-research",
    "codex-mini",
    "computer-use-preview",
    "gpt-5-codex",
    "gpt-5-pro",
    "gpt-5.1-codex",
];

/// Which chat calls go to `/responses` instead of `/chat/completions` (setting
/// `responses_api`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ResponsesApi {
    /// The [`RESPONSES_ONLY_MODELS`], and only on `api.openai.com` (an OpenAI-compatible server
    /// never gets a Responses call it did not ask for).
    #[default]
    Auto,
    /// Every chat call.
    Always,
    /// None.
    Never,
    /// These models (exact names, or prefixes ending in `*`).
    Models(Vec<String>),
}

impl ResponsesApi {
    /// Reads the setting: `auto`, `always`, `never`, or a comma-separated list of models.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "auto" => Ok(Self::Auto),
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            list => {
                let models: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_owned)
                    .collect();
                if models.is_empty() {
                    Err(
                        "expected `auto`, `always`, `never` or a comma-separated list of models"
                            .into(),
                    )
                } else {
                    Ok(Self::Models(models))
                }
            }
        }
    }

    /// Whether a chat call for `model` on `official` (`api.openai.com`) goes to `/responses`.
    pub fn routes(&self, model: &str, official: bool) -> bool {
        match self {
            Self::Auto => official && RESPONSES_ONLY_MODELS.iter().any(|p| model.starts_with(p)),
            Self::Always => true,
            Self::Never => false,
            Self::Models(list) => list.iter().any(|p| match p.strip_suffix('*') {
                Some(prefix) => model.starts_with(prefix),
                None => p == model,
            }),
        }
    }
}

fn user_content(content: &Content) -> Value {
    match content {
        Content::Text(s) => Value::String(s.clone()),
        Content::Parts(parts) => Value::Array(
            parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } => Some(json!({"type": "input_text", "text": text})),
                    ContentPart::ImageUrl { image_url } => Some(json!({
                        "type": "input_image",
                        "image_url": image_url.url,
                        "detail": image_url.detail.as_deref().unwrap_or("auto"),
                    })),
                    _ => None,
                })
                .collect(),
        ),
    }
}

fn tool_choice(c: &ToolChoice) -> Value {
    match c {
        ToolChoice::Function(name) => json!({"type": "function", "name": name}),
        other => serde_json::to_value(other).unwrap_or(Value::Null),
    }
}

/// The `POST /responses` body of a core chat request.
pub fn responses_request(req: &ChatRequest, model: &str, stream: bool) -> Value {
    let mut input = Vec::new();
    for m in &req.messages {
        match m {
            Message::System { content, .. } => {
                input.push(json!({"role": "system", "content": content.to_text()}));
            }
            Message::User { content, .. } => {
                input.push(json!({"role": "user", "content": user_content(content)}));
            }
            Message::Assistant(a) => {
                for r in &a.reasoning {
                    if r.kind != REASONING_KIND {
                        continue; // another provider's thinking: it cannot be verified here
                    }
                    let Some(enc) = &r.data else { continue };
                    let summary: Vec<Value> = r
                        .text
                        .iter()
                        .filter(|t| !t.is_empty())
                        .map(|t| json!({"type": "summary_text", "text": t}))
                        .collect();
                    input.push(json!({
                        "type": "reasoning", "summary": summary, "encrypted_content": enc,
                    }));
                }
                let text = a.content.as_ref().map(Content::to_text).unwrap_or_default();
                if !text.is_empty() {
                    input.push(json!({"role": "assistant", "content": text}));
                }
                for c in &a.tool_calls {
                    input.push(json!({
                        "type": "function_call", "call_id": c.id,
                        "name": c.function.name, "arguments": c.function.arguments,
                    }));
                }
            }
            Message::Tool {
                content,
                tool_call_id,
                ..
            } => input.push(json!({
                "type": "function_call_output", "call_id": tool_call_id,
                "output": content.to_text(),
            })),
            _ => {}
        }
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("input".into(), Value::Array(input));
    body.insert("store".into(), json!(false));
    if stream {
        body.insert("stream".into(), json!(true));
    }
    let reasoning_model = requires_max_completion_tokens(model);
    if reasoning_model || req.extra.contains_key("reasoning_effort") {
        body.insert("include".into(), json!(["reasoning.encrypted_content"]));
    }
    if !req.tools.is_empty() {
        let tools: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let f = &t.function;
                let mut v = json!({"type": "function", "name": f.name});
                if let Some(d) = &f.description {
                    v["description"] = json!(d);
                }
                if let Some(p) = &f.parameters {
                    v["parameters"] = p.clone();
                }
                if let Some(s) = f.strict {
                    v["strict"] = json!(s);
                }
                v
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if let Some(c) = &req.tool_choice {
        body.insert("tool_choice".into(), tool_choice(c));
    }
    let mut text = Map::new();
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let mut f = json!({"type": "json_schema", "name": json_schema.name});
            if let Some(s) = &json_schema.schema {
                f["schema"] = s.clone();
            }
            if let Some(d) = &json_schema.description {
                f["description"] = json!(d);
            }
            if let Some(s) = json_schema.strict {
                f["strict"] = json!(s);
            }
            text.insert("format".into(), f);
        }
        Some(ResponseFormat::JsonObject) => {
            text.insert("format".into(), json!({"type": "json_object"}));
        }
        _ => {}
    }
    let mut extra = req.extra.clone();
    if let Some(v) = extra.remove("verbosity") {
        text.insert("verbosity".into(), v);
    }
    if !text.is_empty() {
        body.insert("text".into(), Value::Object(text));
    }
    if let Some(effort) = extra.remove("reasoning_effort") {
        body.insert("reasoning".into(), json!({"effort": effort}));
    }
    for (k, v) in [
        ("max_output_tokens", req.max_tokens.map(Value::from)),
        ("temperature", req.temperature.map(Value::from)),
        ("top_p", req.top_p.map(Value::from)),
        (
            "parallel_tool_calls",
            req.parallel_tool_calls.map(Value::from),
        ),
        ("user", req.user.clone().map(Value::from)),
    ] {
        if let Some(v) = v {
            body.insert(k.into(), v);
        }
    }
    for (k, v) in extra {
        body.entry(k).or_insert(v);
    }
    Value::Object(body)
}

/// The token counts of a Responses answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponsesUsage {
    /// Input tokens, cached included.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output tokens, reasoning included.
    #[serde(default)]
    pub output_tokens: u64,
    /// Their sum.
    #[serde(default)]
    pub total_tokens: u64,
    /// `{cached_tokens}`.
    #[serde(default)]
    pub input_tokens_details: Option<Value>,
    /// `{reasoning_tokens}`.
    #[serde(default)]
    pub output_tokens_details: Option<Value>,
}

impl From<&ResponsesUsage> for Usage {
    fn from(u: &ResponsesUsage) -> Self {
        let detail = |v: &Option<Value>, k: &str| {
            v.as_ref()
                .and_then(|d| d.get(k))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let mut out = Usage::new(u.input_tokens, u.output_tokens);
        out.total_tokens = u.total_tokens.max(u.input_tokens + u.output_tokens);
        out.cached_prompt_tokens = detail(&u.input_tokens_details, "cached_tokens");
        out.reasoning_tokens = detail(&u.output_tokens_details, "reasoning_tokens");
        out
    }
}

/// A Response object (`"object": "response"`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ResponsesBody {
    /// `resp_…`.
    #[serde(default)]
    pub id: String,
    /// Unix seconds.
    #[serde(default)]
    pub created_at: Option<f64>,
    /// The model.
    #[serde(default)]
    pub model: Option<String>,
    /// `completed`, `incomplete`, `failed`…
    #[serde(default)]
    pub status: Option<String>,
    /// Output items.
    #[serde(default)]
    pub output: Vec<Value>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<ResponsesUsage>,
    /// `{reason}` of an incomplete answer.
    #[serde(default)]
    pub incomplete_details: Option<Value>,
    /// `{code, message}` of a failed answer.
    #[serde(default)]
    pub error: Option<Value>,
}

fn summary_text(item: &Value) -> Option<String> {
    let parts: Vec<&str> = item
        .get("summary")
        .and_then(Value::as_array)?
        .iter()
        .filter_map(|s| s.get("text").and_then(Value::as_str))
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// A finished reasoning item's `encrypted_content`.
fn reasoning_encrypted(item: &Value) -> Option<&str> {
    if item.get("type").and_then(Value::as_str) != Some("reasoning") {
        return None;
    }
    item.get("encrypted_content").and_then(Value::as_str)
}

fn reasoning_block(item: &Value) -> ReasoningBlock {
    let mut b = ReasoningBlock::text(String::new());
    b.kind = REASONING_KIND.into();
    b.text = summary_text(item);
    b.data = item
        .get("encrypted_content")
        .and_then(Value::as_str)
        .map(str::to_owned);
    b
}

fn finish(status: Option<&str>, incomplete: Option<&Value>, calls: bool) -> FinishReason {
    if status == Some("incomplete") {
        return match incomplete
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str)
        {
            Some("content_filter") => FinishReason::ContentFilter,
            _ => FinishReason::Length,
        };
    }
    if calls {
        FinishReason::ToolCalls
    } else {
        FinishReason::Stop
    }
}

fn failed(provider: &str, model: &str, error: Option<&Value>, content_sent: bool) -> Error {
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("the response failed")
        .to_owned();
    let code = error
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let transient = code
        .as_deref()
        .is_some_and(|c| c.contains("server_error") || c.contains("rate_limit"));
    Error::Stream {
        provider: provider.to_owned(),
        model: model.to_owned(),
        error_type: code,
        message,
        transient,
        content_sent,
    }
}

/// A Response object as a core answer.
pub fn parse_responses(
    body: ResponsesBody,
    provider: &str,
    model: &str,
) -> Result<ChatResponse, Error> {
    if body.status.as_deref() == Some("failed") {
        return Err(failed(provider, model, body.error.as_ref(), false));
    }
    let mut msg = AssistantMessage::default();
    let mut text = String::new();
    let mut refusal: Option<String> = None;
    for item in &body.output {
        match item.get("type").and_then(Value::as_str) {
            Some("message") => {
                for part in item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    match part.get("type").and_then(Value::as_str) {
                        Some("output_text") => {
                            text.push_str(part.get("text").and_then(Value::as_str).unwrap_or(""));
                        }
                        Some("refusal") => refusal
                            .get_or_insert_with(String::new)
                            .push_str(part.get("refusal").and_then(Value::as_str).unwrap_or("")),
                        _ => {}
                    }
                }
            }
            Some("reasoning") => msg.reasoning.push(reasoning_block(item)),
            Some("function_call") => {
                let s = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                msg.tool_calls
                    .push(ToolCall::new(s("call_id"), s("name"), s("arguments")));
            }
            _ => {}
        }
    }
    if !text.is_empty() {
        msg.content = Some(Content::Text(text));
    }
    msg.refusal = refusal;
    let finish_reason = finish(
        body.status.as_deref(),
        body.incomplete_details.as_ref(),
        !msg.tool_calls.is_empty(),
    );
    Ok(ChatResponse {
        id: body.id,
        model: body.model.unwrap_or_else(|| model.to_owned()),
        created: body.created_at.map_or(0, |t| t as i64),
        message: msg,
        finish_reason,
        usage: body.usage.as_ref().map(Usage::from),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

/// Turns the Responses API's stream events into core stream events.
#[derive(Debug)]
pub struct ResponsesDecoder {
    provider: String,
    model: String,
    /// Item id → core tool-call index.
    calls: Vec<(String, usize)>,
    content_sent: bool,
    done: bool,
}

impl ResponsesDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            calls: Vec::new(),
            content_sent: false,
            done: false,
        }
    }

    fn call_index(&self, ev: &Value) -> Option<usize> {
        let id = ev.get("item_id").and_then(Value::as_str)?;
        self.calls.iter().find(|(i, _)| i == id).map(|(_, n)| *n)
    }

    /// Decodes one SSE `data` payload.
    pub fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let ev: Value = serde_json::from_str(data)
            .map_err(|e| Error::decode(&self.provider, &self.model, "responses event", e, data))?;
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        match ev.get("type").and_then(Value::as_str).unwrap_or("") {
            "response.created" => {
                let r = &ev["response"];
                out.push(StreamEvent::Start {
                    id: s(r, "id"),
                    model: s(r, "model"),
                    created: r
                        .get("created_at")
                        .and_then(Value::as_f64)
                        .map_or(0, |t| t as i64),
                });
            }
            "response.output_item.added" => {
                let item = &ev["item"];
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    let index = self.calls.len();
                    self.calls.push((s(item, "id"), index));
                    self.content_sent = true;
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id: s(item, "call_id"),
                        name: s(item, "name"),
                        thought_signature: None,
                    });
                }
            }
            "response.output_text.delta" => {
                self.content_sent = true;
                out.push(StreamEvent::TextDelta {
                    text: s(&ev, "delta"),
                });
            }
            "response.refusal.delta" => {
                self.content_sent = true;
                out.push(StreamEvent::RefusalDelta {
                    text: s(&ev, "delta"),
                });
            }
            "response.reasoning_summary_text.delta" => {
                out.push(StreamEvent::ReasoningDelta {
                    text: s(&ev, "delta"),
                });
            }
            "response.function_call_arguments.delta" => {
                if let Some(index) = self.call_index(&ev) {
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: s(&ev, "delta"),
                    });
                }
            }
            "response.output_item.done" => {
                let item = &ev["item"];
                if let Some(enc) = reasoning_encrypted(item) {
                    out.push(StreamEvent::Annotation {
                        key: REASONING_ITEM.into(),
                        value: json!({"id": s(item, "id"), "encrypted_content": enc}),
                    });
                }
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    let id = s(item, "id");
                    if let Some((_, index)) = self.calls.iter().find(|(i, _)| *i == id) {
                        out.push(StreamEvent::ToolCallEnd { index: *index });
                    }
                }
            }
            "response.completed" | "response.incomplete" => {
                let body: ResponsesBody =
                    serde_json::from_value(ev["response"].clone()).unwrap_or_default();
                if let Some(u) = &body.usage {
                    out.push(StreamEvent::Usage(Usage::from(u)));
                }
                out.push(StreamEvent::Finish {
                    reason: finish(
                        body.status.as_deref(),
                        body.incomplete_details.as_ref(),
                        !self.calls.is_empty(),
                    ),
                });
                self.done = true;
            }
            "response.failed" => {
                self.done = true;
                return Err(failed(
                    &self.provider,
                    &self.model,
                    ev["response"].get("error"),
                    self.content_sent,
                ));
            }
            "error" => {
                self.done = true;
                let err = ev.get("error").cloned().unwrap_or_else(|| ev.clone());
                return Err(failed(
                    &self.provider,
                    &self.model,
                    Some(&err),
                    self.content_sent,
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

impl runtime_core::FrameDecoder for ResponsesDecoder {
    fn decode(&mut self, frame: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        ResponsesDecoder::decode(self, frame, out)
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        Err(Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream ended before response.completed".into(),
            transient: true,
            content_sent: self.content_sent,
        })
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_core::ToolDefinition;

    #[test]
    fn auto_routes_responses_only_models_on_openai_only() {
        let auto = ResponsesApi::default();
        assert!(auto.routes("o3-pro-2025-06-10", true));
        assert!(!auto.routes("o3-pro", false));
        assert!(!auto.routes("gpt-4o", true));
        let list = ResponsesApi::parse("gpt-4.1, o4-*").unwrap();
        assert!(list.routes("o4-mini", false) && list.routes("gpt-4.1", false));
        assert!(!list.routes("gpt-4.1-mini", false));
        assert!(ResponsesApi::parse(" , ").is_err());
    }

    #[test]
    fn encrypted_reasoning_goes_back_untouched_without_an_id() {
        let mut block = ReasoningBlock::text("");
        block.kind = REASONING_KIND.into();
        block.text = Some("look it up".into());
        block.data = Some("gAAAAABpPDIU".into());
        let mut thinking = ReasoningBlock::text("claude's");
        thinking.signature = Some("EqQB".into());
        let mut req = ChatRequest::new(
            "o4-mini",
            vec![
                Message::system("be brief"),
                Message::user("weather?"),
                Message::Assistant(AssistantMessage {
                    reasoning: vec![block, thinking],
                    tool_calls: vec![ToolCall::new("call_1", "w", "{}")],
                    ..AssistantMessage::default()
                }),
                Message::Tool {
                    content: Content::Text("sunny".into()),
                    tool_call_id: "call_1".into(),
                    name: None,
                },
            ],
        );
        req.tools.push(ToolDefinition::function(
            "w",
            "weather",
            json!({"type": "object"}),
        ));
        req.max_tokens = Some(100);
        let body = responses_request(&req, "o4-mini", false);
        assert_eq!(body["store"], false);
        assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
        assert_eq!(body["max_output_tokens"], 100);
        let items = body["input"].as_array().unwrap();
        let kinds: Vec<String> = items
            .iter()
            .map(|i| {
                i["type"]
                    .as_str()
                    .or_else(|| i["role"].as_str())
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "system",
                "user",
                "reasoning",
                "function_call",
                "function_call_output"
            ]
        );
        assert_eq!(items[2]["encrypted_content"], "gAAAAABpPDIU");
        assert!(items[2].get("id").is_none());
        assert_eq!(body["tools"][0]["name"], "w");
    }

    #[test]
    fn a_stream_hands_over_each_finished_reasoning_items_encrypted_content() {
        // A recorded gpt-5 stream (runtime-dialects' fixture, SOURCES.md there).
        let sse = include_str!(
            "../../../runtime-dialects/tests/fixtures/openai_responses/reasoning-tool-call.sse"
        );
        let mut dec = ResponsesDecoder::new("openai", "gpt-5");
        let mut out = Vec::new();
        for frame in sse.split("\n\n") {
            if let Some(d) = frame.lines().find_map(|l| l.strip_prefix("data: ")) {
                dec.decode(d, &mut out).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let items: Vec<&Value> = out
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Annotation { key, value } if key == REASONING_ITEM => Some(value),
                _ => None,
            })
            .collect();
        assert_eq!(items.len(), 1);
        assert_eq!(
            items[0]["id"],
            "rs_68d9303e94ac819ead3d9e066f405eae03aa6e5a972b3b23"
        );
        let enc = items[0]["encrypted_content"].as_str().unwrap_or_default();
        assert!(
            enc.starts_with("gAAAAABo2TA_9aB"),
            "the item's final content: {enc}"
        );
        assert!(
            out.iter()
                .any(|e| matches!(e, StreamEvent::ToolCallEnd { index: 0 }))
        );
    }

    #[test]
    fn an_answer_keeps_its_encrypted_reasoning() {
        let body: ResponsesBody = serde_json::from_value(json!({
            "id": "resp_1", "created_at": 1_700_000_000, "model": "o4-mini", "status": "completed",
            "output": [
                {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "s"}],
                 "encrypted_content": "gAAA"},
                {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "w", "arguments": "{}"}
            ],
            "usage": {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30,
                      "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens_details": {"reasoning_tokens": 16}}
        }))
        .unwrap();
        let r = parse_responses(body, "openai", "o4-mini").unwrap();
        assert_eq!(r.id, "resp_1");
        assert_eq!(r.message.reasoning[0].data.as_deref(), Some("gAAA"));
        assert_eq!(r.message.reasoning[0].kind, REASONING_KIND);
        assert_eq!(r.message.tool_calls[0].id, "call_9");
        assert_eq!(r.finish_reason, FinishReason::ToolCalls);
        let u = r.usage.unwrap();
        assert_eq!((u.cached_prompt_tokens, u.reasoning_tokens), (4, 16));
    }
}
