//! Responses request → core [`ChatRequest`].
//!
//! - `instructions` becomes the first (system) message; `system` and `developer` messages
//!   system messages; `input` as a string one user message.
//! - Items of an earlier answer that follow each other (reasoning, assistant message,
//!   function calls) become one core assistant message: reasoning blocks (see
//!   [`super::reasoning`]), content parts, tool calls. A `function_call_output` becomes a tool
//!   message.
//! - Function `tools`, `tool_choice`, `text.format` (→ `response_format`), `max_output_tokens`,
//!   `temperature`, `top_p`, `parallel_tool_calls`, `user` map to their core fields;
//!   `reasoning.effort` and `text.verbosity` to the `reasoning_effort` and `verbosity` extras;
//!   prompt-cache breakpoints on parts and tools (`prompt_cache_breakpoint`, or LiteLLM's
//!   `cache_control`) to [`ChatRequest::element_extras`].
//! - `store`, `previous_response_id` and `metadata` are the gateway's business: it resolves
//!   `previous_response_id` with [`prepend_history`] before calling [`to_core`].
//! - Hosted tools, file inputs and item references cannot be carried: a [`RequestError`]
//!   names them.

use runtime_core::{
    AssistantMessage, ChatRequest, Content, ContentPart as CorePart, ElementRef, ImageUrl,
    JsonSchemaFormat, Message, PromptCacheMark, ResponseFormat, ToolCall,
    ToolChoice as CoreToolChoice, ToolDefinition,
};
use serde_json::{Map, Value};

use super::reasoning;
use super::types::{
    ContentPart, InputItem, MessageItem, MessageRole, ResponsesRequest, StringOr, TextFormat, Tool,
};
use crate::error::parse_body;
use crate::{Converted, RequestError};

/// Top-level fields that only mean something to OpenAI's Responses service: never forwarded
/// to a chat upstream, listed in [`Converted::ignored`] when present.
const RESPONSES_ONLY: &[&str] = &[
    "background",
    "conversation",
    "max_tool_calls",
    "prompt",
    "prompt_cache_options",
    "stream_options",
    "top_logprobs",
];

/// Parses a `POST /v1/responses` body; errors name the field.
pub fn parse(body: &[u8]) -> Result<ResponsesRequest, RequestError> {
    parse_body(body)
}

/// Puts the items of the response `previous_response_id` names (its input items, then its
/// output items, in order) before the request's own input, and marks the request resolved.
/// `instructions` are not inherited: only the new request's count.
pub fn prepend_history(req: &mut ResponsesRequest, prior: Vec<InputItem>) {
    let mut items = prior;
    match req.input.take() {
        None => {}
        Some(StringOr::String(s)) => items.push(InputItem::EasyMessage(MessageItem {
            role: MessageRole::User,
            content: StringOr::String(s),
            id: None,
            status: None,
            extra: Map::new(),
        })),
        Some(StringOr::List(mut own)) => items.append(&mut own),
    }
    req.input = Some(StringOr::List(items));
    req.history_resolved = true;
}

/// Turns a Responses request into a core request.
pub fn to_core(req: &ResponsesRequest) -> Result<Converted, RequestError> {
    if req.model.trim().is_empty() {
        return Err(RequestError::invalid("model", "`model` must not be empty"));
    }
    if req.previous_response_id.is_some() && !req.history_resolved {
        return Err(RequestError::unsupported(
            "previous_response_id",
            "the stored conversation must be resolved (prepend_history) before conversion",
        ));
    }
    let mut cx = Cx {
        out: ChatRequest::new(req.model.clone(), Vec::new()),
        ignored: Vec::new(),
        assistant: None,
    };
    if let Some(instr) = &req.instructions {
        cx.out.messages.push(Message::system(instr.clone()));
    }
    match &req.input {
        None => {}
        Some(StringOr::String(s)) => cx.out.messages.push(Message::user(s.clone())),
        Some(StringOr::List(items)) => {
            for (i, it) in items.iter().enumerate() {
                cx.item(i, it)?;
            }
            cx.flush_assistant();
        }
    }
    if cx.out.messages.is_empty() {
        return Err(RequestError::invalid(
            "input",
            "`input` (or `instructions`) must not be empty",
        ));
    }
    if let Some(tools) = &req.tools {
        for (j, t) in tools.iter().enumerate() {
            cx.tool(j, t)?;
        }
    }
    let mut out = cx.out;
    if let Some(choice) = &req.tool_choice {
        out.tool_choice = Some(tool_choice(choice)?);
    }
    if let Some(text) = &req.text {
        if let Some(format) = &text.format {
            out.response_format = Some(match format {
                TextFormat::Text => ResponseFormat::Text,
                TextFormat::JsonObject => ResponseFormat::JsonObject,
                TextFormat::JsonSchema {
                    name,
                    schema,
                    description,
                    strict,
                } => ResponseFormat::JsonSchema {
                    json_schema: JsonSchemaFormat {
                        name: name.clone(),
                        description: description.clone(),
                        schema: schema.clone(),
                        strict: *strict,
                    },
                },
            });
        }
        if let Some(v) = &text.verbosity {
            out.extra
                .insert("verbosity".into(), Value::String(v.clone()));
        }
        cx.ignored
            .extend(text.extra.keys().map(|k| format!("text.{k}")));
    }
    if let Some(r) = &req.reasoning {
        if let Some(effort) = &r.effort {
            out.extra
                .insert("reasoning_effort".into(), Value::String(effort.clone()));
        }
        if r.summary.is_some() {
            cx.ignored.push("reasoning.summary".into());
        }
        cx.ignored
            .extend(r.extra.keys().map(|k| format!("reasoning.{k}")));
    }
    out.max_tokens = req.max_output_tokens;
    out.temperature = req.temperature;
    out.top_p = req.top_p;
    out.parallel_tool_calls = req.parallel_tool_calls;
    out.user = req.user.clone();
    out.stream = req.stream;
    for (k, v) in &req.extra {
        if RESPONSES_ONLY.contains(&k.as_str()) {
            cx.ignored.push(k.clone());
        } else {
            out.extra.insert(k.clone(), v.clone());
        }
    }
    Ok(Converted {
        request: out,
        ignored: cx.ignored,
    })
}

fn tool_choice(v: &Value) -> Result<CoreToolChoice, RequestError> {
    let bad = |msg: &str| RequestError::invalid("tool_choice", msg.to_owned());
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(CoreToolChoice::Auto),
            "none" => Ok(CoreToolChoice::None),
            "required" => Ok(CoreToolChoice::Required),
            _ => Err(bad(
                "expected `auto`, `none`, `required` or {\"type\": \"function\", \"name\": …}",
            )),
        },
        Value::Object(m) => match (m.get("type").and_then(Value::as_str), m.get("name")) {
            (Some("function"), Some(Value::String(name))) => {
                Ok(CoreToolChoice::Function(name.clone()))
            }
            (Some("function"), _) => Err(RequestError::invalid(
                "tool_choice.name",
                "a function tool_choice needs a `name`",
            )),
            (Some(other), _) => Err(RequestError::unsupported(
                "tool_choice.type",
                format!("tool_choice `{other}` cannot be served by the gateway yet"),
            )),
            (None, _) => Err(RequestError::invalid("tool_choice.type", "missing `type`")),
        },
        _ => Err(bad("expected a string or an object")),
    }
}

struct Cx {
    out: ChatRequest,
    ignored: Vec<String>,
    assistant: Option<AssistantMessage>,
}

fn breakpoint_mark() -> PromptCacheMark {
    PromptCacheMark::ephemeral()
}

impl Cx {
    fn ignore(&mut self, path: &str, extra: &Map<String, Value>) {
        self.ignored
            .extend(extra.keys().map(|k| format!("{path}.{k}")));
    }

    fn flush_assistant(&mut self) {
        if let Some(a) = self.assistant.take() {
            self.out.messages.push(Message::Assistant(a));
        }
    }

    fn assistant_index(&mut self) -> usize {
        self.assistant.get_or_insert_with(AssistantMessage::default);
        self.out.messages.len()
    }

    fn item(&mut self, i: usize, it: &InputItem) -> Result<(), RequestError> {
        let path = format!("input[{i}]");
        match it {
            InputItem::Message(m) | InputItem::EasyMessage(m)
                if m.role == MessageRole::Assistant =>
            {
                self.assistant_message(&path, m)
            }
            InputItem::Message(m) | InputItem::EasyMessage(m) => {
                self.flush_assistant();
                self.message(&path, m)
            }
            InputItem::FunctionCall(c) => {
                for (field, present) in [("id", c.id.is_some()), ("status", c.status.is_some())] {
                    if present {
                        self.ignored.push(format!("{path}.{field}"));
                    }
                }
                self.ignore(&path, &c.extra);
                self.assistant_index();
                if let Some(a) = self.assistant.as_mut() {
                    a.tool_calls.push(ToolCall::new(
                        c.call_id.clone(),
                        c.name.clone(),
                        c.arguments.clone(),
                    ));
                }
                Ok(())
            }
            InputItem::FunctionCallOutput(o) => {
                self.flush_assistant();
                self.ignore(&path, &o.extra);
                let message = self.out.messages.len();
                let content = match &o.output {
                    StringOr::String(s) => Content::Text(s.clone()),
                    StringOr::List(parts) => {
                        Content::Parts(self.parts(message, &format!("{path}.output"), parts)?)
                    }
                };
                self.out.messages.push(Message::Tool {
                    content,
                    tool_call_id: o.call_id.clone(),
                    name: None,
                });
                Ok(())
            }
            InputItem::Reasoning(r) => {
                self.ignore(&path, &r.extra);
                if r.id.is_some() {
                    self.ignored.push(format!("{path}.id"));
                }
                let summary = (!r.summary.is_empty()).then(|| {
                    r.summary
                        .iter()
                        .map(|s| s.text.as_str())
                        .collect::<Vec<_>>()
                        .join("\n\n")
                });
                self.assistant_index();
                if let Some(a) = self.assistant.as_mut() {
                    a.reasoning
                        .push(reasoning::block(summary, r.encrypted_content.as_deref()));
                }
                Ok(())
            }
            InputItem::Other(map) => {
                let kind = map.get("type").and_then(Value::as_str).unwrap_or("?");
                Err(RequestError::unsupported(
                    format!("{path}.type"),
                    format!("`{kind}` items cannot be carried by the gateway yet"),
                ))
            }
        }
    }

    fn message(&mut self, path: &str, m: &MessageItem) -> Result<(), RequestError> {
        self.ignore(path, &m.extra);
        let message = self.out.messages.len();
        let content = match &m.content {
            StringOr::String(s) => Content::Text(s.clone()),
            StringOr::List(parts) => {
                Content::Parts(self.parts(message, &format!("{path}.content"), parts)?)
            }
        };
        self.out.messages.push(match m.role {
            MessageRole::System | MessageRole::Developer => Message::System {
                content,
                name: None,
            },
            _ => Message::User {
                content,
                name: None,
            },
        });
        Ok(())
    }

    fn parts(
        &mut self,
        message: usize,
        path: &str,
        parts: &[ContentPart],
    ) -> Result<Vec<CorePart>, RequestError> {
        let mut out = Vec::with_capacity(parts.len());
        for (j, p) in parts.iter().enumerate() {
            let ppath = format!("{path}[{j}]");
            let at = ElementRef::Part { message, part: j };
            match p {
                ContentPart::InputText(t) => {
                    self.ignore(&ppath, &t.extra);
                    if let Some(mark) = &t.cache_control {
                        self.out.element_extra_mut(at).cache_control = Some(mark.clone());
                    } else if t.prompt_cache_breakpoint.is_some() {
                        self.out.element_extra_mut(at).cache_control = Some(breakpoint_mark());
                    }
                    out.push(CorePart::Text {
                        text: t.text.clone(),
                    });
                }
                ContentPart::OutputText(t) => {
                    self.ignore(&ppath, &t.extra);
                    out.push(CorePart::Text {
                        text: t.text.clone(),
                    });
                }
                ContentPart::InputImage(img) => {
                    self.ignore(&ppath, &img.extra);
                    let Some(url) = &img.image_url else {
                        return Err(RequestError::unsupported(
                            format!("{ppath}.file_id"),
                            "images by OpenAI `file_id` cannot be sent through the gateway; \
                             send an `image_url` (https: or data:)",
                        ));
                    };
                    if img.prompt_cache_breakpoint.is_some() {
                        self.out.element_extra_mut(at).cache_control = Some(breakpoint_mark());
                    }
                    out.push(CorePart::ImageUrl {
                        image_url: ImageUrl {
                            url: url.clone(),
                            detail: img.detail.clone(),
                        },
                    });
                }
                ContentPart::Refusal(_) => {
                    return Err(RequestError::invalid(
                        ppath,
                        "a `refusal` part belongs in an assistant message",
                    ));
                }
                ContentPart::Other(map) => {
                    let kind = map.get("type").and_then(Value::as_str).unwrap_or("?");
                    return Err(RequestError::unsupported(
                        ppath,
                        format!("`{kind}` parts cannot be carried by the gateway yet"),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn assistant_message(&mut self, path: &str, m: &MessageItem) -> Result<(), RequestError> {
        self.ignore(path, &m.extra);
        for (field, present) in [("id", m.id.is_some()), ("status", m.status.is_some())] {
            if present {
                self.ignored.push(format!("{path}.{field}"));
            }
        }
        let message = self.assistant_index();
        let mut texts = Vec::new();
        let mut refusal: Option<String> = None;
        let mut cites = Vec::new();
        match &m.content {
            StringOr::String(s) => texts.push(s.clone()),
            StringOr::List(parts) => {
                for (j, p) in parts.iter().enumerate() {
                    let ppath = format!("{path}.content[{j}]");
                    match p {
                        ContentPart::OutputText(t) => {
                            self.ignore(&ppath, &t.extra);
                            if let Some(a) = t.annotations.as_ref().filter(|a| !a.is_empty()) {
                                cites.push((texts.len(), a.clone()));
                            }
                            texts.push(t.text.clone());
                        }
                        ContentPart::InputText(t) => {
                            self.ignore(&ppath, &t.extra);
                            texts.push(t.text.clone());
                        }
                        ContentPart::Refusal(r) => {
                            refusal.get_or_insert_with(String::new).push_str(&r.refusal);
                        }
                        ContentPart::InputImage(_) | ContentPart::Other(_) => {
                            return Err(RequestError::invalid(
                                ppath,
                                "assistant messages hold output_text and refusal parts only",
                            ));
                        }
                    }
                }
            }
        }
        let Some(a) = self.assistant.as_mut() else {
            return Ok(());
        };
        let base = match &a.content {
            Some(Content::Parts(p)) => p.len(),
            Some(Content::Text(_)) => 1,
            None => 0,
        };
        let mut parts = match a.content.take() {
            Some(c) => c.parts(),
            None => Vec::new(),
        };
        parts.extend(texts.into_iter().map(|text| CorePart::Text { text }));
        a.content = (!parts.is_empty()).then_some(Content::Parts(parts));
        if let Some(r) = refusal {
            a.refusal.get_or_insert_with(String::new).push_str(&r);
        }
        for (k, c) in cites {
            self.out
                .element_extra_mut(ElementRef::Part {
                    message,
                    part: base + k,
                })
                .citations = Some(c);
        }
        Ok(())
    }

    fn tool(&mut self, j: usize, t: &Tool) -> Result<(), RequestError> {
        let path = format!("tools[{j}]");
        if t.kind != "function" {
            return Err(RequestError::unsupported(
                format!("{path}.type"),
                format!(
                    "hosted tool `{}` cannot be served by the gateway yet; only function tools can",
                    t.kind
                ),
            ));
        }
        let Some(name) = &t.name else {
            return Err(RequestError::invalid(
                format!("{path}.name"),
                "a function tool needs a `name`",
            ));
        };
        let mut def = ToolDefinition::function(
            name.clone(),
            "",
            t.parameters
                .clone()
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
        );
        def.function.description = t.description.clone();
        def.function.strict = t.strict;
        self.ignore(&path, &t.extra);
        if let Some(mark) = &t.cache_control {
            self.out
                .element_extra_mut(ElementRef::Tool { tool: j })
                .cache_control = Some(mark.clone());
        }
        self.out.tools.push(def);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RequestErrorKind;

    fn conv(body: &str) -> Result<Converted, RequestError> {
        to_core(&parse(body.as_bytes())?)
    }

    #[test]
    fn an_earlier_answer_folds_into_one_assistant_message() {
        let c = conv(
            r#"{"model":"m","instructions":"be brief","input":[
              {"role":"user","content":"weather?"},
              {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"look up"}],"encrypted_content":"gAAA"},
              {"type":"message","role":"assistant","id":"msg_1","status":"completed","content":[{"type":"output_text","text":"Checking.","annotations":[]}]},
              {"type":"function_call","id":"fc_1","call_id":"call_1","name":"w","arguments":"{}"},
              {"type":"function_call_output","call_id":"call_1","output":"sunny"}]}"#,
        )
        .unwrap();
        let roles: Vec<_> = c.request.messages.iter().map(Message::role).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool"]);
        let Message::Assistant(a) = &c.request.messages[2] else {
            panic!()
        };
        assert_eq!(a.reasoning[0].data.as_deref(), Some("gAAA"));
        assert_eq!(a.tool_calls[0].id, "call_1");
        assert_eq!(a.text().as_deref(), Some("Checking."));
        assert!(
            c.ignored.contains(&"input[3].id".to_owned()),
            "{:?}",
            c.ignored
        );
    }

    #[test]
    fn previous_response_id_needs_the_history() {
        let mut req =
            parse(br#"{"model":"m","input":"and now?","previous_response_id":"resp_1"}"#).unwrap();
        let e = to_core(&req).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("previous_response_id"));
        let prior: Vec<InputItem> = serde_json::from_str(
            r#"[{"role":"user","content":"hi"},{"type":"message","role":"assistant","content":[{"type":"output_text","text":"hello"}]}]"#,
        )
        .unwrap();
        prepend_history(&mut req, prior);
        let c = to_core(&req).unwrap();
        let roles: Vec<_> = c.request.messages.iter().map(Message::role).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
    }

    #[test]
    fn hosted_tools_and_references_are_named() {
        let e = conv(r#"{"model":"m","input":"q","tools":[{"type":"web_search"}]}"#).unwrap_err();
        assert_eq!(
            (e.kind, e.param.as_deref()),
            (RequestErrorKind::Unsupported, Some("tools[0].type"))
        );
        let e =
            conv(r#"{"model":"m","input":[{"type":"item_reference","id":"msg_1"}]}"#).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("input[0].type"));
    }
}
