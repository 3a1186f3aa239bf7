//! Core chat request → Gemini `GenerateContentRequest`.

use serde_json::{Map, Value, json};

use runtime_core::{
    AssistantMessage, ChatRequest, Content, ContentPart, Error, ImageSource, Message,
    ResponseFormat, ToolChoice,
};

use super::schema::{SchemaDialect, SchemaError, to_gemini_schema, to_openapi_schema};
use super::types::{
    Blob, FileData, FunctionCallingConfig, FunctionDeclaration, GenerateContentRequest,
    GenerationConfig, ToolConfig, WireContent, WireFunctionCall, WireFunctionResponse, WirePart,
    WireTool,
};

/// The `extra` fields of a chat request this provider understands; any other is an error.
pub const CHAT_EXTRA_FIELDS: &[&str] = &[
    "top_k",
    "n",
    "candidate_count",
    "reasoning_effort",
    "thinking_config",
    "thinking_budget",
    "include_thoughts",
    "response_modalities",
    "safety_settings",
    "cached_content",
    "generation_config",
];

/// True for ids this crate synthesizes for Gemini calls without an id (`call_<n>`); they are
/// not sent back to Gemini.
pub fn is_synthetic_call_id(id: &str) -> bool {
    id.strip_prefix("call_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The id to put on the wire for a core tool-call id: none for synthesized or empty ids.
fn wire_call_id(id: &str) -> Option<String> {
    (!id.is_empty() && !is_synthetic_call_id(id)).then(|| id.to_owned())
}

struct Ctx<'a> {
    provider: &'a str,
    model: &'a str,
}

impl Ctx<'_> {
    fn invalid(&self, param: &str, message: impl Into<String>) -> Error {
        Error::invalid_request(self.provider, self.model, Some(param), message)
    }
}

/// Maps a core chat request to Gemini's body.
///
/// Mapping (see the crate README for the full table): system messages → `systemInstruction`
/// (in order), assistant → role `model`, tool results → `functionResponse` parts in a `user`
/// turn (consecutive results share one turn), images → `inlineData` (data URLs) or `fileData`
/// (other URLs). Everything Gemini cannot express is an [`Error::InvalidRequest`] naming the
/// field. `model` (the body's, or the one a re-targeted call names; the URL names it) picks
/// the schema dialect and is named by every mapping error.
pub fn generate_request(
    req: &ChatRequest,
    model: &str,
    provider: &str,
) -> Result<GenerateContentRequest, Error> {
    let cx = Ctx { provider, model };
    let mut system: Vec<WirePart> = Vec::new();
    let mut contents: Vec<WireContent> = Vec::new();
    let mut last_was_tool = false;
    for (i, m) in req.messages.iter().enumerate() {
        let path = format!("messages[{i}]");
        let is_tool = matches!(m, Message::Tool { .. });
        match m {
            Message::System { content, name } => {
                no_name(&cx, &path, name.as_deref())?;
                for part in content_parts(&cx, &path, content)? {
                    if part.text.is_none() {
                        return Err(cx.invalid(
                            &format!("{path}.content"),
                            "Gemini's systemInstruction takes text only",
                        ));
                    }
                    system.push(part);
                }
            }
            Message::User { content, name } => {
                no_name(&cx, &path, name.as_deref())?;
                contents.push(WireContent {
                    role: Some("user".into()),
                    parts: content_parts(&cx, &path, content)?,
                });
            }
            Message::Assistant(a) => {
                no_name(&cx, &path, a.name.as_deref())?;
                let parts = assistant_parts(&cx, &path, a)?;
                if !parts.is_empty() {
                    contents.push(WireContent {
                        role: Some("model".into()),
                        parts,
                    });
                }
            }
            Message::Tool {
                content,
                tool_call_id,
                name,
            } => {
                let name = match name.as_deref().filter(|n| !n.is_empty()) {
                    Some(n) => n.to_owned(),
                    None => call_name(&req.messages[..i], tool_call_id).ok_or_else(|| {
                        cx.invalid(
                            &format!("{path}.tool_call_id"),
                            format!(
                                "no earlier assistant tool call has id `{tool_call_id}` and the \
                                 message has no `name`; Gemini needs the function name"
                            ),
                        )
                    })?,
                };
                let part = WirePart {
                    function_response: Some(WireFunctionResponse {
                        id: wire_call_id(tool_call_id),
                        name,
                        response: tool_response(&cx, &path, content)?,
                    }),
                    ..WirePart::default()
                };
                match contents.last_mut() {
                    Some(turn) if last_was_tool => turn.parts.push(part),
                    _ => contents.push(WireContent {
                        role: Some("user".into()),
                        parts: vec![part],
                    }),
                }
            }
            other => {
                return Err(cx.invalid(
                    &path,
                    format!(
                        "a `{}` message cannot be expressed for Gemini",
                        other.role()
                    ),
                ));
            }
        }
        last_was_tool = is_tool;
    }

    let mut body = GenerateContentRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(WireContent {
            role: None,
            parts: system,
        }),
        ..GenerateContentRequest::default()
    };
    tools(&cx, req, &mut body)?;
    let mut gc = GenerationConfig {
        temperature: req.temperature,
        top_p: req.top_p,
        max_output_tokens: req.max_tokens,
        stop_sequences: req.stop.clone(),
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        ..GenerationConfig::default()
    };
    if let Some(seed) = req.seed {
        gc.seed = Some(
            i32::try_from(seed)
                .map_err(|_| cx.invalid("seed", "Gemini's seed is a 32-bit integer"))?,
        );
    }
    if req.user.is_some() {
        return Err(cx.invalid("user", "Gemini has no end-user id field"));
    }
    if req.parallel_tool_calls == Some(false) {
        return Err(cx.invalid(
            "parallel_tool_calls",
            "Gemini cannot be told to avoid parallel function calls",
        ));
    }
    match &req.response_format {
        None | Some(ResponseFormat::Text) => {}
        Some(ResponseFormat::JsonObject) => gc.response_mime_type = Some("application/json".into()),
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            gc.response_mime_type = Some("application/json".into());
            if let Some(schema) = &json_schema.schema {
                let param = "response_format.json_schema.schema";
                match SchemaDialect::for_model(cx.model) {
                    SchemaDialect::JsonSchema => {
                        gc.response_json_schema =
                            Some(to_gemini_schema(schema).map_err(|e| schema_err(&cx, param, e))?);
                    }
                    SchemaDialect::OpenApi => {
                        gc.response_schema =
                            Some(to_openapi_schema(schema).map_err(|e| schema_err(&cx, param, e))?);
                    }
                }
            }
        }
        Some(_) => {
            return Err(cx.invalid(
                "response_format",
                "this response format cannot be expressed for Gemini",
            ));
        }
    }
    extras(&cx, req, &mut gc, &mut body)?;
    if gc != GenerationConfig::default() {
        body.generation_config = Some(gc);
    }
    Ok(body)
}

fn schema_err(cx: &Ctx<'_>, param: &str, e: SchemaError) -> Error {
    cx.invalid(param, format!("{}: {}", e.path, e.message))
}

fn no_name(cx: &Ctx<'_>, path: &str, name: Option<&str>) -> Result<(), Error> {
    match name {
        Some(_) => Err(cx.invalid(&format!("{path}.name"), "Gemini has no participant names")),
        None => Ok(()),
    }
}

/// The function name of the call `id` answers: the nearest earlier assistant call with that id.
fn call_name(history: &[Message], id: &str) -> Option<String> {
    history.iter().rev().find_map(|m| match m {
        Message::Assistant(a) => a
            .tool_calls
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.function.name.clone()),
        _ => None,
    })
}

fn guess_mime(url: &str) -> Option<&'static str> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

fn content_parts(cx: &Ctx<'_>, path: &str, content: &Content) -> Result<Vec<WirePart>, Error> {
    match content {
        Content::Text(t) => Ok(vec![text_part(t.clone())]),
        Content::Parts(parts) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| match p {
                ContentPart::Text { text } => Ok(text_part(text.clone())),
                ContentPart::ImageUrl { image_url } => {
                    match image_url.detail.as_deref() {
                        None | Some("auto") => {}
                        Some(other) => {
                            return Err(cx.invalid(
                                &format!("{path}.content[{j}].image_url.detail"),
                                format!("Gemini has no per-image detail setting (`{other}`)"),
                            ));
                        }
                    }
                    Ok(match image_url.source() {
                        ImageSource::Base64 { mime_type, data } => WirePart {
                            inline_data: Some(Blob {
                                mime_type: mime_type.to_owned(),
                                data: data.to_owned(),
                            }),
                            ..WirePart::default()
                        },
                        ImageSource::Url(url) => WirePart {
                            file_data: Some(FileData {
                                mime_type: guess_mime(url).map(str::to_owned),
                                file_uri: url.to_owned(),
                            }),
                            ..WirePart::default()
                        },
                    })
                }
                _ => Err(cx.invalid(
                    &format!("{path}.content[{j}]"),
                    "this kind of content part cannot be expressed for Gemini",
                )),
            })
            .collect(),
    }
}

fn text_part(text: String) -> WirePart {
    WirePart {
        text: Some(text),
        ..WirePart::default()
    }
}

/// An assistant turn. Reasoning blocks become `thought: true` parts; a block's signature goes
/// on the first non-thought part after it (where Gemini put it), tool calls keep their own.
fn assistant_parts(cx: &Ctx<'_>, path: &str, a: &AssistantMessage) -> Result<Vec<WirePart>, Error> {
    let mut parts = Vec::new();
    let mut pending: Option<String> = None;
    for (j, b) in a.reasoning.iter().enumerate() {
        if b.is_redacted() {
            return Err(cx.invalid(
                &format!("{path}.thinking_blocks[{j}]"),
                "redacted reasoning blocks cannot be sent to Gemini",
            ));
        }
        let text = b.text.as_deref().unwrap_or("");
        if !text.is_empty() {
            if let Some(sig) = pending.take() {
                parts.push(signature_part(sig));
            }
            parts.push(WirePart {
                text: Some(text.to_owned()),
                thought: Some(true),
                ..WirePart::default()
            });
        }
        if let Some(sig) = &b.signature {
            if let Some(prev) = pending.replace(sig.clone()) {
                parts.push(signature_part(prev));
            }
        }
    }
    let mut body = Vec::new();
    if let Some(c) = &a.content {
        for p in content_parts(cx, path, c)? {
            if p.text.as_deref() == Some("") {
                continue;
            }
            body.push(p);
        }
    }
    if let Some(r) = a.refusal.as_deref().filter(|r| !r.is_empty()) {
        body.push(text_part(r.to_owned()));
    }
    if let Some(sig) = pending.take() {
        match body.iter_mut().find(|p| p.text.is_some()) {
            Some(p) => p.thought_signature = Some(sig),
            None => body.insert(0, signature_part(sig)),
        }
    }
    parts.extend(body);
    for (j, call) in a.tool_calls.iter().enumerate() {
        let param = format!("{path}.tool_calls[{j}].function.arguments");
        let args = if call.function.arguments.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str::<Value>(&call.function.arguments)
                .map_err(|e| cx.invalid(&param, format!("arguments are not JSON: {e}")))?
        };
        if !args.is_object() {
            return Err(cx.invalid(&param, "Gemini function-call arguments must be an object"));
        }
        parts.push(WirePart {
            function_call: Some(WireFunctionCall {
                id: wire_call_id(&call.id),
                name: Some(call.function.name.clone()),
                args: Some(args),
                ..WireFunctionCall::default()
            }),
            thought_signature: call.thought_signature.clone(),
            ..WirePart::default()
        });
    }
    Ok(parts)
}

fn signature_part(sig: String) -> WirePart {
    WirePart {
        text: Some(String::new()),
        thought_signature: Some(sig),
        ..WirePart::default()
    }
}

/// A tool result as Gemini's `response` object: a JSON object is sent as is; any other JSON
/// value or plain text is wrapped as `{"result": …}`.
pub fn tool_response_value(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(other) => json!({ "result": other }),
        Err(_) => json!({ "result": text }),
    }
}

fn tool_response(cx: &Ctx<'_>, path: &str, content: &Content) -> Result<Value, Error> {
    if content.has_image() {
        return Err(cx.invalid(
            &format!("{path}.content"),
            "images in tool results cannot be sent to Gemini",
        ));
    }
    Ok(tool_response_value(&content.to_text()))
}

fn tools(cx: &Ctx<'_>, req: &ChatRequest, body: &mut GenerateContentRequest) -> Result<(), Error> {
    let mut decls = Vec::with_capacity(req.tools.len());
    for (j, t) in req.tools.iter().enumerate() {
        if t.kind != "function" {
            return Err(cx.invalid(
                &format!("tools[{j}].type"),
                format!("only function tools are supported, got `{}`", t.kind),
            ));
        }
        let f = &t.function;
        let param = format!("tools[{j}].function.parameters");
        let mut decl = FunctionDeclaration {
            name: f.name.clone(),
            description: f.description.clone(),
            ..FunctionDeclaration::default()
        };
        if let Some(p) = &f.parameters {
            match SchemaDialect::for_model(cx.model) {
                SchemaDialect::JsonSchema => {
                    decl.parameters_json_schema =
                        Some(to_gemini_schema(p).map_err(|e| schema_err(cx, &param, e))?);
                }
                SchemaDialect::OpenApi => {
                    decl.parameters =
                        Some(to_openapi_schema(p).map_err(|e| schema_err(cx, &param, e))?);
                }
            }
        }
        decls.push(decl);
    }
    let has_tools = !decls.is_empty();
    if has_tools {
        body.tools.push(WireTool {
            function_declarations: decls,
        });
    }
    let config = |mode: &'static str, names: Vec<String>| ToolConfig {
        function_calling_config: FunctionCallingConfig {
            mode,
            allowed_function_names: names,
        },
    };
    body.tool_config = match &req.tool_choice {
        None => None,
        Some(ToolChoice::Auto) if has_tools => Some(config("AUTO", Vec::new())),
        Some(ToolChoice::None) if has_tools => Some(config("NONE", Vec::new())),
        Some(ToolChoice::Auto | ToolChoice::None) => None,
        Some(ToolChoice::Required) if has_tools => Some(config("ANY", Vec::new())),
        Some(ToolChoice::Function(name)) if req.tools.iter().any(|t| &t.function.name == name) => {
            Some(config("ANY", vec![name.clone()]))
        }
        Some(ToolChoice::Required) => {
            return Err(cx.invalid("tool_choice", "`required` needs at least one tool"));
        }
        Some(ToolChoice::Function(name)) => {
            return Err(cx.invalid(
                "tool_choice",
                format!("tool_choice names `{name}`, which is not among the tools"),
            ));
        }
        Some(_) => {
            return Err(cx.invalid(
                "tool_choice",
                "this tool_choice cannot be expressed for Gemini",
            ));
        }
    };
    Ok(())
}

fn reasoning_budget(effort: &str) -> Option<i64> {
    Some(match effort {
        "none" => 0,
        "minimal" => 128,
        "low" => 1024,
        "medium" => 8192,
        "high" => 24576,
        _ => return None,
    })
}

fn extras(
    cx: &Ctx<'_>,
    req: &ChatRequest,
    gc: &mut GenerationConfig,
    body: &mut GenerateContentRequest,
) -> Result<(), Error> {
    for (k, v) in &req.extra {
        let bad = |what: &str| cx.invalid(k, format!("`{k}` must be {what}"));
        match k.as_str() {
            "top_k" => gc.top_k = Some(v.as_u64().ok_or_else(|| bad("a non-negative integer"))?),
            "n" | "candidate_count" => {
                if v.as_u64() != Some(1) {
                    return Err(cx.invalid(
                        k,
                        "only one candidate is supported (the response holds one choice)",
                    ));
                }
            }
            "reasoning_effort" => {
                let budget = v
                    .as_str()
                    .and_then(reasoning_budget)
                    .ok_or_else(|| bad("one of none, minimal, low, medium, high"))?;
                gc.thinking_config
                    .insert("thinkingBudget".into(), Value::from(budget));
            }
            "thinking_config" => {
                let Value::Object(m) = v else {
                    return Err(bad("an object"));
                };
                gc.thinking_config.extend(m.clone());
            }
            "thinking_budget" => {
                let n = v.as_i64().ok_or_else(|| bad("an integer"))?;
                gc.thinking_config
                    .insert("thinkingBudget".into(), Value::from(n));
            }
            "include_thoughts" => {
                let b = v.as_bool().ok_or_else(|| bad("true or false"))?;
                gc.thinking_config
                    .insert("includeThoughts".into(), Value::Bool(b));
            }
            "response_modalities" => {
                if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
                    return Err(bad("a list of strings"));
                }
                gc.response_modalities = Some(v.clone());
            }
            "safety_settings" => {
                if !v.is_array() {
                    return Err(bad("a list of {category, threshold} objects"));
                }
                body.safety_settings = Some(v.clone());
            }
            "cached_content" => {
                body.cached_content = Some(v.as_str().ok_or_else(|| bad("a string"))?.to_owned());
            }
            "generation_config" => {
                let Value::Object(m) = v else {
                    return Err(bad("an object of raw generationConfig fields"));
                };
                merge_raw(&mut gc.raw, m);
            }
            _ => {
                return Err(cx.invalid(
                    k,
                    format!(
                        "`{k}` cannot be expressed in a Gemini request; supported extra fields: {}",
                        CHAT_EXTRA_FIELDS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn merge_raw(into: &mut Map<String, Value>, from: &Map<String, Value>) {
    for (k, v) in from {
        into.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests;
