//! Core chat request → Converse request.

use runtime_core::{
    ChatRequest, Content, ContentPart, ElementRef, Error, ImageSource, Message, ReasoningBlock,
    ResponseFormat, Result, ToolChoice,
};
use serde_json::{Map, Value, json};

use super::types::{
    Block, CachePoint, ConverseRequest, DocumentBlock, InferenceConfig, MediaBlock,
    ReasoningBlock as WireReasoning, Source, SystemBlock, ToolConfig, ToolEntry, ToolResult,
    ToolResultContent, ToolSpec, ToolUse, WireMessage,
};

/// Converse fields a request may carry in `extra`, passed through as they are.
pub const PASSTHROUGH_FIELDS: &[&str] = &[
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
    "serviceTier",
];

struct Ctx<'a> {
    provider: &'a str,
    model: &'a str,
    req: &'a ChatRequest,
    documents: usize,
}

impl Ctx<'_> {
    fn invalid(&self, field: &str, why: &str) -> Error {
        Error::invalid_request(self.provider, self.model, Some(field), why)
    }

    /// Whether the element carries a prompt-cache mark (only the default 5-minute kind).
    fn cache_mark(&self, at: ElementRef, field: &str) -> Result<bool> {
        let Some(extra) = self.req.element_extra(at) else {
            return Ok(false);
        };
        if extra.citations.is_some() {
            return Err(self.invalid(field, "Bedrock Converse takes no citations on input"));
        }
        match &extra.cache_control {
            None => Ok(false),
            Some(m) if m.ttl.as_deref().is_none_or(|t| t == "5m") => Ok(true),
            Some(_) => Err(self.invalid(
                &format!("{field}.cache_control.ttl"),
                "Bedrock cache points have the default TTL only",
            )),
        }
    }
}

/// Maps a chat request for `model` (the body's, or a re-targeted call's: the URL names it) to
/// a Converse body. What Converse cannot express is an `InvalidRequest` naming the field.
pub fn converse_request(req: &ChatRequest, model: &str, provider: &str) -> Result<ConverseRequest> {
    let mut cx = Ctx {
        provider,
        model,
        req,
        documents: 0,
    };
    refuse_unexpressible(&cx)?;
    if let Some(x) = req.element_extra(ElementRef::Request)
        && !x.is_empty()
    {
        return Err(cx.invalid(
            "element_extras",
            "Bedrock places cache points after messages, parts or tools, not on the request",
        ));
    }
    let mut out = ConverseRequest {
        inference_config: InferenceConfig {
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop_sequences: req.stop.clone(),
        },
        ..ConverseRequest::default()
    };

    for (i, m) in req.messages.iter().enumerate() {
        let field = format!("messages[{i}]");
        match m {
            Message::System { content, .. } => {
                let parts = content.parts();
                for (j, p) in parts.iter().enumerate() {
                    let ContentPart::Text { text } = p else {
                        return Err(cx.invalid(
                            &format!("{field}.content[{j}]"),
                            "a system prompt is text only",
                        ));
                    };
                    out.system.push(SystemBlock::Text(text.clone()));
                    if cx.cache_mark(
                        ElementRef::Part {
                            message: i,
                            part: j,
                        },
                        &field,
                    )? {
                        out.system
                            .push(SystemBlock::CachePoint(CachePoint::DEFAULT));
                    }
                }
                if cx.cache_mark(ElementRef::Message { message: i }, &field)? {
                    out.system
                        .push(SystemBlock::CachePoint(CachePoint::DEFAULT));
                }
            }
            Message::User { content, .. } => {
                let blocks = user_blocks(&mut cx, i, content, &field)?;
                push(&mut out.messages, "user", blocks);
            }
            Message::Assistant(a) => {
                let mut blocks = Vec::new();
                for (j, r) in a.reasoning.iter().enumerate() {
                    blocks.push(Block::ReasoningContent(reasoning_block(
                        &cx,
                        r,
                        &format!("{field}.thinking_blocks[{j}]"),
                    )?));
                }
                if let Some(c) = &a.content {
                    for (j, p) in c.parts().iter().enumerate() {
                        match p {
                            ContentPart::Text { text } if text.is_empty() => {}
                            ContentPart::Text { text } => blocks.push(Block::Text(text.clone())),
                            _ => {
                                return Err(cx.invalid(
                                    &format!("{field}.content[{j}]"),
                                    "an assistant message is text (and tool calls) only",
                                ));
                            }
                        }
                        if cx.cache_mark(
                            ElementRef::Part {
                                message: i,
                                part: j,
                            },
                            &field,
                        )? {
                            blocks.push(Block::CachePoint(CachePoint::DEFAULT));
                        }
                    }
                }
                if a.refusal.is_some() {
                    return Err(cx.invalid(&format!("{field}.refusal"), "Bedrock has no refusal"));
                }
                for (j, call) in a.tool_calls.iter().enumerate() {
                    let f = format!("{field}.tool_calls[{j}].function.arguments");
                    let args = call.function.arguments.trim();
                    let input: Value = if args.is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(args)
                            .map_err(|e| cx.invalid(&f, &format!("not JSON: {e}")))?
                    };
                    if !input.is_object() {
                        return Err(cx.invalid(&f, "Bedrock tool input must be a JSON object"));
                    }
                    blocks.push(Block::ToolUse(ToolUse {
                        tool_use_id: call.id.clone(),
                        name: call.function.name.clone(),
                        input,
                    }));
                }
                if cx.cache_mark(ElementRef::Message { message: i }, &field)? {
                    blocks.push(Block::CachePoint(CachePoint::DEFAULT));
                }
                if blocks.is_empty() {
                    return Err(cx.invalid(&field, "an empty assistant message"));
                }
                push(&mut out.messages, "assistant", blocks);
            }
            Message::Tool {
                content,
                tool_call_id,
                ..
            } => {
                let mut result = Vec::new();
                for (j, p) in content.parts().iter().enumerate() {
                    let f = format!("{field}.content[{j}]");
                    result.push(match p {
                        ContentPart::Text { text } => ToolResultContent::Text(text.clone()),
                        ContentPart::ImageUrl { image_url } => {
                            match media(&mut cx, image_url.source(), &f)? {
                                Block::Image(m) => ToolResultContent::Image(m),
                                Block::Document(d) => ToolResultContent::Document(d),
                                _ => return Err(cx.invalid(&f, "unsupported tool result content")),
                            }
                        }
                        _ => return Err(cx.invalid(&f, "unsupported tool result content")),
                    });
                }
                let is_error = req
                    .element_extra(ElementRef::Message { message: i })
                    .and_then(|x| x.is_error)
                    .unwrap_or(false);
                let mut blocks = vec![Block::ToolResult(ToolResult {
                    tool_use_id: tool_call_id.clone(),
                    content: result,
                    status: is_error.then_some("error"),
                })];
                if cx.cache_mark(ElementRef::Message { message: i }, &field)? {
                    blocks.push(Block::CachePoint(CachePoint::DEFAULT));
                }
                push(&mut out.messages, "user", blocks);
            }
            _ => return Err(cx.invalid(&field, "a message role Bedrock does not know")),
        }
    }
    if out.messages.is_empty() {
        return Err(cx.invalid("messages", "Bedrock needs at least one user message"));
    }

    out.tool_config = tool_config(&cx)?;
    take_extra(&cx, &mut out)?;
    Ok(out)
}

/// Appends blocks, merging into the previous message of the same role (Converse wants the
/// roles to alternate; tool results and the next user turn become one user message).
fn push(messages: &mut Vec<WireMessage>, role: &'static str, blocks: Vec<Block>) {
    match messages.last_mut() {
        Some(last) if last.role == role => last.content.extend(blocks),
        _ => messages.push(WireMessage {
            role,
            content: blocks,
        }),
    }
}

fn user_blocks(cx: &mut Ctx<'_>, i: usize, content: &Content, field: &str) -> Result<Vec<Block>> {
    let mut blocks = Vec::new();
    for (j, p) in content.parts().iter().enumerate() {
        let f = format!("{field}.content[{j}]");
        match p {
            ContentPart::Text { text } => blocks.push(Block::Text(text.clone())),
            ContentPart::ImageUrl { image_url } => blocks.push(media(
                cx,
                image_url.source(),
                &format!("{f}.image_url.url"),
            )?),
            _ => return Err(cx.invalid(&f, "a content part Bedrock does not know")),
        }
        if cx.cache_mark(
            ElementRef::Part {
                message: i,
                part: j,
            },
            field,
        )? {
            blocks.push(Block::CachePoint(CachePoint::DEFAULT));
        }
    }
    if cx.cache_mark(ElementRef::Message { message: i }, field)? {
        blocks.push(Block::CachePoint(CachePoint::DEFAULT));
    }
    Ok(blocks)
}

/// An image or a document, from a data URL (`data:image/png;base64,…`,
/// `data:application/pdf;base64,…`) or an `s3://` URI.
fn media(cx: &mut Ctx<'_>, src: ImageSource<'_>, field: &str) -> Result<Block> {
    let (mime, source) = match src {
        ImageSource::Base64 { mime_type, data } => {
            (mime_type.to_owned(), Source::Bytes(data.to_owned()))
        }
        ImageSource::Url(u) if u.starts_with("s3://") => {
            let ext = u
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let mime = match ext.as_str() {
                "jpg" | "jpeg" => "image/jpeg".to_owned(),
                "png" | "gif" | "webp" => format!("image/{ext}"),
                other => format!("application/x-{other}"),
            };
            (mime, Source::S3Location { uri: u.to_owned() })
        }
        ImageSource::Url(_) => {
            return Err(cx.invalid(
                field,
                "Bedrock takes images and documents as base64 data URLs or s3:// URIs, not web URLs",
            ));
        }
    };
    if let Some(format) = image_format(&mime) {
        return Ok(Block::Image(MediaBlock {
            format: format.to_owned(),
            source,
        }));
    }
    let Some(format) = document_format(&mime) else {
        return Err(cx.invalid(
            field,
            &format!("media type `{mime}` is neither an image (png, jpeg, gif, webp) nor a document Bedrock reads"),
        ));
    };
    cx.documents += 1;
    Ok(Block::Document(DocumentBlock {
        format: format.to_owned(),
        name: format!("document-{}", cx.documents),
        source,
    }))
}

fn image_format(mime: &str) -> Option<&'static str> {
    Some(match mime {
        "image/png" => "png",
        "image/jpeg" | "image/jpg" => "jpeg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => return None,
    })
}

fn document_format(mime: &str) -> Option<&'static str> {
    Some(match mime {
        "application/pdf" | "application/x-pdf" => "pdf",
        "text/csv" | "application/x-csv" => "csv",
        "application/msword" | "application/x-doc" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/x-docx" => "docx",
        "application/vnd.ms-excel" | "application/x-xls" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/x-xlsx" => "xlsx",
        "text/html" | "application/x-html" => "html",
        "text/plain" | "application/x-txt" => "txt",
        "text/markdown" | "application/x-md" => "md",
        _ => return None,
    })
}

fn reasoning_block(cx: &Ctx<'_>, r: &ReasoningBlock, field: &str) -> Result<WireReasoning> {
    if r.is_redacted() {
        let Some(data) = &r.data else {
            return Err(cx.invalid(&format!("{field}.data"), "redacted reasoning without data"));
        };
        return Ok(WireReasoning::RedactedContent(data.clone()));
    }
    Ok(WireReasoning::ReasoningText {
        text: r.text.clone().unwrap_or_default(),
        signature: r.signature.clone(),
    })
}

fn tool_config(cx: &Ctx<'_>) -> Result<Option<ToolConfig>> {
    let req = cx.req;
    if req.tools.is_empty() {
        if req.tool_choice.is_some() {
            return Err(cx.invalid("tool_choice", "a tool choice without tools"));
        }
        return Ok(None);
    }
    let mut tools = Vec::new();
    for (i, t) in req.tools.iter().enumerate() {
        let f = &t.function;
        if f.strict == Some(true) {
            return Err(cx.invalid(
                &format!("tools[{i}].function.strict"),
                "Bedrock Converse has no strict tool schemas",
            ));
        }
        let schema = f
            .parameters
            .clone()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
        tools.push(ToolEntry::ToolSpec(ToolSpec {
            name: f.name.clone(),
            description: f.description.clone().filter(|d| !d.is_empty()),
            input_schema: json!({ "json": schema }),
        }));
        if cx.cache_mark(ElementRef::Tool { tool: i }, &format!("tools[{i}]"))? {
            tools.push(ToolEntry::CachePoint(CachePoint::DEFAULT));
        }
    }
    let tool_choice = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Auto) => Some(json!({"auto": {}})),
        Some(ToolChoice::Required) => Some(json!({"any": {}})),
        Some(ToolChoice::Function(name)) => Some(json!({"tool": {"name": name}})),
        Some(_) => {
            return Err(cx.invalid(
                "tool_choice",
                "Bedrock Converse has no `none` tool choice: leave the tools out",
            ));
        }
    };
    Ok(Some(ToolConfig { tools, tool_choice }))
}

/// Core fields Converse has no place for: refused by name.
fn refuse_unexpressible(cx: &Ctx<'_>) -> Result<()> {
    let r = cx.req;
    let why = "Bedrock Converse cannot express it";
    if r.seed.is_some() {
        return Err(cx.invalid("seed", why));
    }
    if r.frequency_penalty.is_some() {
        return Err(cx.invalid("frequency_penalty", why));
    }
    if r.presence_penalty.is_some() {
        return Err(cx.invalid("presence_penalty", why));
    }
    if r.parallel_tool_calls.is_some() {
        return Err(cx.invalid("parallel_tool_calls", why));
    }
    match &r.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(_) => {
            return Err(cx.invalid(
                "response_format",
                "Bedrock Converse has no JSON mode here: ask for a tool call instead",
            ));
        }
    }
    Ok(())
}

/// The request's extra fields: Bedrock's own passed through, the rest refused by name.
fn take_extra(cx: &Ctx<'_>, out: &mut ConverseRequest) -> Result<()> {
    let mut additional = Map::new();
    for (k, v) in &cx.req.extra {
        match k.as_str() {
            "additionalModelRequestFields" => {
                let Value::Object(m) = v else {
                    return Err(cx.invalid(k, "must be an object"));
                };
                additional.extend(m.clone());
            }
            // Claude's extended thinking, in Anthropic's shape.
            "thinking" => {
                additional.insert("thinking".into(), v.clone());
            }
            "guardrailConfig" => {
                if !v.is_object() {
                    return Err(cx.invalid(k, "must be an object"));
                }
                out.guardrail_config = Some(v.clone());
            }
            "user" => {
                // OpenAI's end-user id goes to the request metadata (invocation logs).
                let Value::String(s) = v else {
                    return Err(cx.invalid(k, "must be a string"));
                };
                let meta = out
                    .passthrough
                    .entry("requestMetadata")
                    .or_insert_with(|| json!({}));
                if let Value::Object(m) = meta {
                    m.insert("user".into(), Value::String(s.clone()));
                }
            }
            // Streaming is chosen by the endpoint; usage always arrives in `metadata`.
            "stream_options" => {}
            k if PASSTHROUGH_FIELDS.contains(&k) => {
                out.passthrough.insert(k.to_owned(), v.clone());
            }
            _ => return Err(cx.invalid(k, "not a Bedrock Converse field")),
        }
    }
    if let Some(u) = &cx.req.user {
        let meta = out
            .passthrough
            .entry("requestMetadata")
            .or_insert_with(|| json!({}));
        if let Value::Object(m) = meta {
            m.insert("user".into(), Value::String(u.clone()));
        }
    }
    out.additional_model_request_fields = additional;
    Ok(())
}
