//! `POST /api/chat` bodies: core chat requests → Ollama messages, tools and options.

use serde::Serialize;
use serde_json::{Map, Value};

use runtime_core::{
    AssistantMessage, ChatRequest, Content, ContentPart, Error, ImageSource, Message,
    ResponseFormat, Result, ToolChoice,
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

pub(super) fn invalid(provider: &str, model: &str, param: &str, msg: impl Into<String>) -> Error {
    Error::invalid_request(provider, model, Some(param), msg)
}

/// Splits content into text and base64 images; URL images cannot be fetched by Ollama.
pub(super) fn content_and_images(
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

pub(super) fn text_only(
    content: &Content,
    field: &str,
    provider: &str,
    model: &str,
) -> Result<String> {
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

pub(super) fn no_name(name: &Option<String>, i: usize, provider: &str, model: &str) -> Result<()> {
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
pub(super) fn arguments_object(text: &str) -> std::result::Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(format!("arguments must be a JSON object, got {other}")),
        Err(e) => Err(format!("arguments are not JSON: {e}")),
    }
}

pub(super) fn assistant(
    a: &AssistantMessage,
    i: usize,
    provider: &str,
    model: &str,
) -> Result<OllamaMessage> {
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
pub(super) fn tool_name_for(req: &ChatRequest, upto: usize, id: &str) -> Option<String> {
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
pub(super) fn set_option(
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
pub(super) struct Sampling<'a> {
    pub(super) max_tokens: Option<u32>,
    pub(super) temperature: Option<f64>,
    pub(super) top_p: Option<f64>,
    pub(super) seed: Option<i64>,
    pub(super) frequency_penalty: Option<f64>,
    pub(super) presence_penalty: Option<f64>,
    pub(super) stop: &'a [String],
}

/// Splits `extra` into Ollama `options` and allowed top-level fields, then adds the sampling
/// fields. Unknown keys, and an option given twice, are `InvalidRequest`s naming them.
#[allow(clippy::too_many_arguments)]
pub(super) fn options_and_extras(
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
/// `model` is the one asked for (the body's or a re-targeted call's).
pub fn chat_request(
    req: &ChatRequest,
    model: &str,
    stream: bool,
    provider: &str,
) -> Result<OllamaChatRequest> {
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
        model: model.to_owned(),
        messages,
        tools,
        format,
        options,
        stream,
        top_level,
    })
}
