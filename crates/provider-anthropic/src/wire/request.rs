//! Core chat requests → the typed body of `POST /v1/messages`.

use std::borrow::Cow;

use serde_json::{Map, Value, json};

use runtime_core::{
    AssistantMessage, ChatRequest, Content, ContentPart, ElementRef, Error,
    ImageSource as CoreImageSource, ImageUrl, Message, ReasoningBlock, ResponseFormat,
    ToolChoice as CoreToolChoice,
};

use super::body::{
    ImageSource, MessagesRequest, RequestBlock, System, Tool, ToolChoice, ToolResultContent, Turn,
};

/// `max_tokens` sent when a request has none.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

fn invalid(provider: &str, model: &str, param: &str, message: impl Into<String>) -> Error {
    Error::invalid_request(provider, model, Some(param), message)
}

/// Options of the request mapping that come from the provider's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOptions {
    /// `max_tokens` sent when the request has none (Anthropic requires the field).
    pub default_max_tokens: u32,
}

impl Default for RequestOptions {
    fn default() -> Self {
        Self {
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

/// The names and model every mapping error carries.
#[derive(Clone, Copy)]
struct Cx<'a> {
    provider: &'a str,
    model: &'a str,
}

impl Cx<'_> {
    fn invalid(&self, param: &str, message: impl Into<String>) -> Error {
        invalid(self.provider, self.model, param, message)
    }
}

/// Accumulates messages into Anthropic turns, merging consecutive turns of one role.
#[derive(Default)]
struct Turns<'a>(Vec<Turn<'a>>);

impl<'a> Turns<'a> {
    fn push(&mut self, role: &'static str, blocks: Vec<RequestBlock<'a>>) {
        if blocks.is_empty() {
            return;
        }
        match self.0.last_mut() {
            Some(t) if t.role == role => t.content.extend(blocks),
            _ => self.0.push(Turn {
                role,
                content: blocks,
            }),
        }
    }
}

fn image_block<'a>(img: &'a ImageUrl, cx: Cx<'_>, param: &str) -> Result<RequestBlock<'a>, Error> {
    match img.detail.as_deref() {
        None | Some("auto") => {}
        Some(other) => {
            return Err(cx.invalid(
                &format!("{param}.image_url.detail"),
                format!("Anthropic has no image detail setting; `{other}` cannot be expressed"),
            ));
        }
    }
    let source = match img.source() {
        CoreImageSource::Base64 { mime_type, data } => ImageSource::Base64 {
            media_type: mime_type,
            data,
        },
        CoreImageSource::Url(url) if url.starts_with("data:") => {
            return Err(cx.invalid(
                &format!("{param}.image_url.url"),
                "a data: URL must be base64 encoded (data:<mime>;base64,<data>)",
            ));
        }
        CoreImageSource::Url(url) => ImageSource::Url { url },
    };
    Ok(RequestBlock::image(source))
}

fn unknown_part(cx: Cx<'_>, param: &str) -> Error {
    cx.invalid(
        param,
        "this kind of content part cannot be expressed for Anthropic",
    )
}

/// User-side content (user messages, tool results) of message `message`: text and images,
/// with the element extras (`cache_control`, `citations`) pinned to them.
fn user_blocks<'a>(
    req: &'a ChatRequest,
    message: usize,
    content: &'a Content,
    cx: Cx<'_>,
    param: &str,
) -> Result<Vec<RequestBlock<'a>>, Error> {
    match content {
        Content::Text(text) => {
            let mut b = RequestBlock::text(text);
            b.mark(req.element_extra(ElementRef::Message { message }));
            Ok(vec![b])
        }
        Content::Parts(parts) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| {
                let mut b = match p {
                    ContentPart::Text { text } => RequestBlock::text(text),
                    ContentPart::ImageUrl { image_url } => {
                        image_block(image_url, cx, &format!("{param}.content[{j}]"))?
                    }
                    _ => return Err(unknown_part(cx, &format!("{param}.content[{j}]"))),
                };
                b.mark(req.element_extra(ElementRef::Part { message, part: j }));
                Ok(b)
            })
            .collect(),
    }
}

/// A reasoning block sent back, or `None` for one Anthropic cannot replay: reasoning of
/// another provider (OpenAI's `reasoning` items, unsigned `reasoning_content` text), which
/// Anthropic would reject and which it lets a client omit from earlier turns.
fn reasoning_block<'a>(
    b: &'a ReasoningBlock,
    cx: Cx<'_>,
    param: &str,
) -> Result<Option<RequestBlock<'a>>, Error> {
    match b.kind.as_str() {
        "thinking" if b.signature.is_none() => Ok(None),
        "reasoning" => Ok(None),
        "redacted_thinking" => {
            let data = b.data.as_deref().ok_or_else(|| {
                cx.invalid(
                    &format!("{param}.data"),
                    "a redacted_thinking block needs its encrypted `data`",
                )
            })?;
            Ok(Some(RequestBlock::RedactedThinking { data }))
        }
        "thinking" => {
            let signature = b.signature.as_deref().ok_or_else(|| {
                cx.invalid(
                    &format!("{param}.signature"),
                    "Anthropic only accepts thinking blocks it signed; this one has no signature",
                )
            })?;
            Ok(Some(RequestBlock::Thinking {
                thinking: b.text.as_deref().unwrap_or(""),
                signature,
            }))
        }
        other => Err(cx.invalid(
            &format!("{param}.type"),
            format!("unknown reasoning block type `{other}`"),
        )),
    }
}

fn assistant_blocks<'a>(
    req: &'a ChatRequest,
    message: usize,
    a: &'a AssistantMessage,
    cx: Cx<'_>,
    param: &str,
) -> Result<Vec<RequestBlock<'a>>, Error> {
    if a.name.is_some() {
        return Err(cx.invalid(
            &format!("{param}.name"),
            "Anthropic messages have no participant name",
        ));
    }
    if a.refusal.is_some() {
        return Err(cx.invalid(
            &format!("{param}.refusal"),
            "Anthropic has no refusal field on assistant messages",
        ));
    }
    let mut blocks = Vec::new();
    for (j, b) in a.reasoning.iter().enumerate() {
        blocks.extend(reasoning_block(
            b,
            cx,
            &format!("{param}.thinking_blocks[{j}]"),
        )?);
    }
    match &a.content {
        None => {}
        // Anthropic rejects empty text blocks; an empty text carries nothing to lose.
        Some(Content::Text(text)) if text.is_empty() => {}
        Some(Content::Text(text)) => {
            let mut b = RequestBlock::text(text);
            b.mark(req.element_extra(ElementRef::Message { message }));
            blocks.push(b);
        }
        Some(Content::Parts(parts)) => {
            for (j, p) in parts.iter().enumerate() {
                match p {
                    ContentPart::Text { text } if text.is_empty() => {}
                    ContentPart::Text { text } => {
                        let mut b = RequestBlock::text(text);
                        b.mark(req.element_extra(ElementRef::Part { message, part: j }));
                        blocks.push(b);
                    }
                    ContentPart::ImageUrl { .. } => {
                        return Err(cx.invalid(
                            &format!("{param}.content[{j}]"),
                            "Anthropic assistant messages cannot hold images",
                        ));
                    }
                    _ => return Err(unknown_part(cx, &format!("{param}.content[{j}]"))),
                }
            }
        }
    }
    for (j, c) in a.tool_calls.iter().enumerate() {
        let p = format!("{param}.tool_calls[{j}]");
        if c.kind != "function" {
            return Err(cx.invalid(
                &format!("{p}.type"),
                format!(
                    "only function tool calls exist on Anthropic, not `{}`",
                    c.kind
                ),
            ));
        }
        if c.thought_signature.is_some() {
            return Err(cx.invalid(
                &format!("{p}.thought_signature"),
                "a Gemini thought signature cannot be sent to Anthropic",
            ));
        }
        let args = c.function.arguments.trim();
        let input: Value = if args.is_empty() {
            json!({})
        } else {
            serde_json::from_str(args).map_err(|e| {
                cx.invalid(
                    &format!("{p}.function.arguments"),
                    format!("arguments are not valid JSON: {e}"),
                )
            })?
        };
        if !input.is_object() {
            return Err(cx.invalid(
                &format!("{p}.function.arguments"),
                "Anthropic tool inputs must be JSON objects",
            ));
        }
        let mut b = RequestBlock::tool_use(&c.id, &c.function.name, input);
        b.mark(req.element_extra(ElementRef::ToolCall { message, call: j }));
        blocks.push(b);
    }
    Ok(blocks)
}

fn system_prompt<'a>(
    req: &'a ChatRequest,
    systems: &[(&'a Content, usize)],
    cx: Cx<'_>,
) -> Result<Option<System<'a>>, Error> {
    match systems {
        [] => Ok(None),
        [(Content::Text(s), i)]
            if req
                .element_extra(ElementRef::Message { message: *i })
                .is_none() =>
        {
            Ok(Some(System::Text(s)))
        }
        many => {
            let mut blocks = Vec::new();
            for (content, i) in many {
                match content {
                    Content::Text(text) => {
                        let mut b = RequestBlock::text(text);
                        b.mark(req.element_extra(ElementRef::Message { message: *i }));
                        blocks.push(b);
                    }
                    Content::Parts(parts) => {
                        for (j, p) in parts.iter().enumerate() {
                            let param = format!("messages[{i}].content[{j}]");
                            match p {
                                ContentPart::Text { text } => {
                                    let mut b = RequestBlock::text(text);
                                    b.mark(req.element_extra(ElementRef::Part {
                                        message: *i,
                                        part: j,
                                    }));
                                    blocks.push(b);
                                }
                                ContentPart::ImageUrl { .. } => {
                                    return Err(cx.invalid(
                                        &param,
                                        "the Anthropic system prompt cannot hold images",
                                    ));
                                }
                                _ => return Err(unknown_part(cx, &param)),
                            }
                        }
                    }
                }
            }
            Ok(Some(System::Blocks(blocks)))
        }
    }
}

fn tool_choice(choice: &CoreToolChoice) -> Option<ToolChoice<'_>> {
    Some(match choice {
        CoreToolChoice::Auto => ToolChoice::of("auto"),
        CoreToolChoice::None => ToolChoice::of("none"),
        CoreToolChoice::Required => ToolChoice::of("any"),
        CoreToolChoice::Function(name) => ToolChoice::tool(name),
        _ => return None,
    })
}

/// The name of the tool that carries a structured (`response_format`) answer, if the request
/// asks for one: the `json_schema` name, or `json_object` for JSON mode.
pub fn structured_output_tool(req: &ChatRequest) -> Option<&str> {
    match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(&json_schema.name),
        Some(ResponseFormat::JsonObject) => Some(JSON_OBJECT_TOOL),
        _ => None,
    }
}

/// The tool name used for `response_format: json_object`.
pub const JSON_OBJECT_TOOL: &str = "json_object";

/// `response_format` over the Messages API, by the documented technique: one tool whose input
/// schema is the requested schema, forced with `tool_choice`; its input is the answer.
fn structured_output<'a>(req: &'a ChatRequest, cx: Cx<'_>) -> Result<Option<Tool<'a>>, Error> {
    let Some(name) = structured_output_tool(req) else {
        return match &req.response_format {
            None | Some(ResponseFormat::Text) => Ok(None),
            Some(_) => Err(cx.invalid(
                "response_format",
                "this response format cannot be expressed for Anthropic",
            )),
        };
    };
    let fail = |why: &str| {
        cx.invalid(
            "response_format",
            format!("structured output is a forced tool call on Anthropic; {why}"),
        )
    };
    if !req.tools.is_empty() {
        return Err(fail("it cannot be combined with tools"));
    }
    if matches!(
        req.tool_choice,
        Some(CoreToolChoice::Required | CoreToolChoice::Function(_))
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
    let (description, schema, strict) = match &req.response_format {
        Some(ResponseFormat::JsonSchema { json_schema }) => (
            json_schema.description.as_deref(),
            json_schema.schema.as_ref().map(Cow::Borrowed),
            json_schema.strict,
        ),
        _ => (None, None, None),
    };
    let schema = schema.unwrap_or_else(|| Cow::Owned(json!({"type": "object"})));
    if schema.get("type").and_then(Value::as_str) != Some("object") {
        return Err(fail("the schema's root must be an object"));
    }
    Ok(Some(Tool {
        name,
        description: Some(Cow::Borrowed(
            description.unwrap_or("Respond with the answer as this tool's input."),
        )),
        input_schema: schema,
        strict,
        cache_control: None,
    }))
}

fn function_tools<'a>(req: &'a ChatRequest, cx: Cx<'_>) -> Result<Vec<Tool<'a>>, Error> {
    let mut tools = Vec::with_capacity(req.tools.len());
    for (j, t) in req.tools.iter().enumerate() {
        if t.kind != "function" {
            return Err(cx.invalid(
                &format!("tools[{j}].type"),
                format!("only function tools map to Anthropic, not `{}`", t.kind),
            ));
        }
        let f = &t.function;
        tools.push(Tool {
            name: &f.name,
            description: f.description.as_deref().map(Cow::Borrowed),
            input_schema: f.parameters.as_ref().map_or_else(
                || Cow::Owned(json!({"type": "object", "properties": {}})),
                Cow::Borrowed,
            ),
            strict: f.strict,
            cache_control: req
                .element_extra(ElementRef::Tool { tool: j })
                .and_then(|e| e.cache_control.as_ref()),
        });
    }
    Ok(tools)
}

/// Maps a core chat request to the body of `POST /v1/messages`.
///
/// System messages (wherever they are) are lifted to the top-level `system`; consecutive
/// messages of one role, and tool results (which travel as `tool_result` blocks in a user turn),
/// are merged into one turn. `max_tokens` is always sent. Fields Anthropic cannot express are
/// errors naming the field, never dropped; provider-specific fields in `extra` are passed
/// through.
pub fn messages_request<'a>(
    req: &'a ChatRequest,
    model: &'a str,
    provider: &str,
    opts: RequestOptions,
    stream: bool,
) -> Result<MessagesRequest<'a>, Error> {
    let cx = Cx { provider, model };
    let mut systems: Vec<(&Content, usize)> = Vec::new();
    let mut turns = Turns::default();
    for (i, m) in req.messages.iter().enumerate() {
        let param = format!("messages[{i}]");
        match m {
            Message::System { content, name } => {
                if name.is_some() {
                    return Err(cx.invalid(
                        &format!("{param}.name"),
                        "the Anthropic system prompt has no participant name",
                    ));
                }
                systems.push((content, i));
            }
            Message::User { content, name } => {
                if name.is_some() {
                    return Err(cx.invalid(
                        &format!("{param}.name"),
                        "Anthropic messages have no participant name",
                    ));
                }
                turns.push("user", user_blocks(req, i, content, cx, &param)?);
            }
            Message::Assistant(a) => {
                turns.push("assistant", assistant_blocks(req, i, a, cx, &param)?);
            }
            Message::Tool {
                content,
                tool_call_id,
                ..
            } => {
                let content = match content {
                    Content::Text(s) => ToolResultContent::Text(s),
                    parts @ Content::Parts(_) => {
                        ToolResultContent::Blocks(user_blocks(req, i, parts, cx, &param)?)
                    }
                };
                let mut b = RequestBlock::tool_result(tool_call_id, content);
                b.mark(req.element_extra(ElementRef::Message { message: i }));
                turns.push("user", vec![b]);
            }
            other => {
                return Err(cx.invalid(
                    &param,
                    format!(
                        "a `{}` message cannot be expressed for Anthropic",
                        other.role()
                    ),
                ));
            }
        }
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
    if req.seed.is_some() {
        return Err(cx.invalid("seed", "Anthropic has no seeded sampling"));
    }
    for (name, v) in [
        ("frequency_penalty", req.frequency_penalty),
        ("presence_penalty", req.presence_penalty),
    ] {
        if v.is_some_and(|v| v != 0.0) {
            return Err(cx.invalid(name, format!("Anthropic has no {name}")));
        }
    }

    let mut body = MessagesRequest {
        model: Some(model),
        anthropic_version: None,
        messages: turns.0,
        system: system_prompt(req, &systems, cx)?,
        max_tokens,
        stream,
        temperature: req.temperature,
        top_p: req.top_p,
        stop_sequences: &req.stop,
        tools: Vec::new(),
        tool_choice: None,
        metadata: None,
        cache_control: req
            .element_extra(ElementRef::Request)
            .and_then(|e| e.cache_control.as_ref()),
        extra: Default::default(),
    };

    let structured = structured_output(req, cx)?;
    body.tools = function_tools(req, cx)?;
    // Without tools, `auto` / `none` and a parallelism limit say nothing (and Anthropic rejects
    // a tool_choice without tools); `required` / a named tool still go out, to fail upstream.
    let choice_without_tools = matches!(
        req.tool_choice,
        Some(CoreToolChoice::Auto | CoreToolChoice::None)
    );
    body.tool_choice = req
        .tool_choice
        .as_ref()
        .filter(|_| !(req.tools.is_empty() && choice_without_tools))
        .map(|c| {
            tool_choice(c).ok_or_else(|| {
                cx.invalid(
                    "tool_choice",
                    "this tool_choice cannot be expressed for Anthropic",
                )
            })
        })
        .transpose()?;
    if req.parallel_tool_calls == Some(false)
        && !req.tools.is_empty()
        && req.tool_choice != Some(CoreToolChoice::None)
    {
        body.tool_choice
            .get_or_insert_with(|| ToolChoice::of("auto"))
            .disable_parallel_tool_use = Some(true);
    }
    if let Some(tool) = structured {
        body.tool_choice = Some(ToolChoice {
            disable_parallel_tool_use: Some(true),
            ..ToolChoice::tool(tool.name)
        });
        body.tools = vec![tool];
    }

    body.metadata = metadata(req, cx)?;
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
            _ if body.sets(k) => {
                return Err(cx.invalid(
                    k,
                    format!("`{k}` is set both by the request and as a provider-specific field"),
                ));
            }
            _ => {
                body.extra.insert(k, v);
            }
        }
    }
    Ok(body)
}

/// `metadata` from the request's `extra`, with `user` as `metadata.user_id`.
fn metadata(req: &ChatRequest, cx: Cx<'_>) -> Result<Option<Map<String, Value>>, Error> {
    let mut metadata = match req.extra.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(cx.invalid("metadata", "metadata must be an object")),
    };
    if let Some(user) = &req.user {
        let m = metadata.get_or_insert_with(Map::new);
        match m.get("user_id") {
            Some(Value::String(u)) if u != user => {
                return Err(cx.invalid("user", "`user` and `metadata.user_id` disagree"));
            }
            _ => {
                m.insert("user_id".into(), Value::String(user.clone()));
            }
        }
    }
    Ok(metadata)
}
