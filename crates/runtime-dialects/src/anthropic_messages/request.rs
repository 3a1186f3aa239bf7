//! Messages request → core [`ChatRequest`].
//!
//! - `system` (string or text blocks) becomes the first message, a string or text parts.
//! - A user turn is split at its `tool_result` blocks: each becomes a core tool message, the
//!   text and image blocks around them user messages (an Anthropic upstream merges them back
//!   into one turn, in the same order).
//! - An assistant turn becomes one assistant message: `thinking` / `redacted_thinking` blocks its
//!   reasoning (signatures kept), text blocks its content parts, `tool_use` blocks its tool
//!   calls (input as JSON text).
//! - `cache_control` on any block or tool, a tool result's `is_error` and replayed `citations`
//!   go to [`ChatRequest::element_extras`], by position in the core request.
//! - `top_k` and `thinking` go to `extra` as `top_k` and the `thinking` object (the names every
//!   provider that has them reads); `metadata.user_id` to `user`.
//! - Documents, Files-API images, server tools (`web_search_…`) and server tool blocks cannot
//!   be carried by core yet: a [`RequestError`] names them.

use runtime_core::{
    AssistantMessage, ChatRequest, Content, ContentPart, ElementRef, Message, ReasoningBlock,
    ToolCall, ToolChoice as CoreToolChoice, ToolDefinition,
};
use serde_json::{Map, Value};

use super::types::{
    ContentBlock, ImageSource, InputMessage, MessagesRequest, Role, StringOr, TextBlock, Tool,
    ToolChoice, ToolResultBlock,
};
use crate::error::parse_body;
use crate::{Converted, RequestError};

/// Parses a `POST /v1/messages` body; errors name the field.
pub fn parse(body: &[u8]) -> Result<MessagesRequest, RequestError> {
    parse_body(body)
}

/// Turns a Messages request into a core request.
pub fn to_core(req: &MessagesRequest) -> Result<Converted, RequestError> {
    if req.model.trim().is_empty() {
        return Err(RequestError::invalid("model", "`model` must not be empty"));
    }
    if req.messages.is_empty() {
        return Err(RequestError::invalid(
            "messages",
            "`messages` must not be empty",
        ));
    }
    let mut cx = Cx {
        out: ChatRequest::new(req.model.clone(), Vec::new()),
        ignored: Vec::new(),
    };
    if let Some(system) = &req.system {
        cx.system(system)?;
    }
    for (i, m) in req.messages.iter().enumerate() {
        cx.message(i, m)?;
    }
    if let Some(tools) = &req.tools {
        for (j, t) in tools.iter().enumerate() {
            cx.tool(j, t)?;
        }
    }
    let out = &mut cx.out;
    out.max_tokens = Some(req.max_tokens);
    out.temperature = req.temperature;
    out.top_p = req.top_p;
    out.stop = req.stop_sequences.clone().unwrap_or_default();
    out.stream = req.stream;
    if let Some(k) = req.top_k {
        out.extra.insert("top_k".into(), Value::from(k));
    }
    if let Some(choice) = &req.tool_choice {
        let (choice, disable_parallel) = match choice {
            ToolChoice::Auto {
                disable_parallel_tool_use,
            } => (CoreToolChoice::Auto, disable_parallel_tool_use),
            ToolChoice::Any {
                disable_parallel_tool_use,
            } => (CoreToolChoice::Required, disable_parallel_tool_use),
            ToolChoice::Tool {
                name,
                disable_parallel_tool_use,
            } => (
                CoreToolChoice::Function(name.clone()),
                disable_parallel_tool_use,
            ),
            ToolChoice::None => (CoreToolChoice::None, &None),
        };
        out.tool_choice = Some(choice);
        if *disable_parallel == Some(true) {
            out.parallel_tool_calls = Some(false);
        }
    }
    if let Some(thinking) = &req.thinking {
        if thinking.kind == "enabled" && thinking.budget_tokens.is_none() {
            return Err(RequestError::invalid(
                "thinking.budget_tokens",
                "`budget_tokens` is required when thinking is enabled",
            ));
        }
        let v = serde_json::to_value(thinking)
            .map_err(|e| RequestError::invalid("thinking", e.to_string()))?;
        out.extra.insert("thinking".into(), v);
    }
    if let Some(meta) = &req.metadata {
        out.user = meta.user_id.clone();
        if !meta.extra.is_empty() {
            out.extra
                .insert("metadata".into(), Value::Object(meta.extra.clone()));
        }
    }
    if let Some(mark) = &req.cache_control {
        out.element_extra_mut(ElementRef::Request).cache_control = Some(mark.clone());
    }
    for (k, v) in &req.extra {
        out.extra.insert(k.clone(), v.clone());
    }
    Ok(Converted {
        request: cx.out,
        ignored: cx.ignored,
    })
}

struct Cx {
    out: ChatRequest,
    ignored: Vec<String>,
}

fn ignore_extra(ignored: &mut Vec<String>, path: &str, extra: &Map<String, Value>) {
    for k in extra.keys().filter(|k| *k != "type") {
        ignored.push(format!("{path}.{k}"));
    }
}

fn other_type(map: &Map<String, Value>) -> String {
    map.get("type")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned()
}

impl Cx {
    fn next_index(&self) -> usize {
        self.out.messages.len()
    }

    fn system(&mut self, system: &StringOr<TextBlock>) -> Result<(), RequestError> {
        let index = self.next_index();
        let content = match system {
            StringOr::String(s) => Content::Text(s.clone()),
            StringOr::List(blocks) => {
                let mut parts = Vec::with_capacity(blocks.len());
                for (j, b) in blocks.iter().enumerate() {
                    // System blocks are typed as text blocks; their `type` stays in `extra`.
                    match b.extra.get("type") {
                        None => {}
                        Some(Value::String(t)) if t == "text" => {}
                        Some(other) => {
                            return Err(RequestError::invalid(
                                format!("system[{j}].type"),
                                format!("system blocks must be text blocks, not {other}"),
                            ));
                        }
                    }
                    self.text_extras(index, j, b, &format!("system[{j}]"));
                    parts.push(ContentPart::Text {
                        text: b.text.clone(),
                    });
                }
                Content::Parts(parts)
            }
        };
        self.out.messages.push(Message::System {
            content,
            name: None,
        });
        Ok(())
    }

    /// Cache mark and citations of a text block that becomes part `part` of message `message`.
    fn text_extras(&mut self, message: usize, part: usize, b: &TextBlock, path: &str) {
        let at = ElementRef::Part { message, part };
        if let Some(mark) = &b.cache_control {
            self.out.element_extra_mut(at).cache_control = Some(mark.clone());
        }
        if let Some(c) = &b.citations {
            self.out.element_extra_mut(at).citations = Some(c.clone());
        }
        ignore_extra(&mut self.ignored, path, &b.extra);
    }

    fn message(&mut self, i: usize, m: &InputMessage) -> Result<(), RequestError> {
        let path = format!("messages[{i}]");
        ignore_extra(&mut self.ignored, &path, &m.extra);
        match (m.role, &m.content) {
            (Role::User, StringOr::String(s)) => {
                self.out.messages.push(Message::user(s.clone()));
                Ok(())
            }
            (Role::Assistant, StringOr::String(s)) => {
                self.out.messages.push(Message::assistant(s.clone()));
                Ok(())
            }
            (Role::User, StringOr::List(blocks)) => self.user_blocks(&path, blocks),
            (Role::Assistant, StringOr::List(blocks)) => self.assistant_blocks(&path, blocks),
        }
    }

    /// A text or image block as a user-side part; `Ok(None)` for blocks that are not parts.
    fn part(
        &mut self,
        message: usize,
        part: usize,
        b: &ContentBlock,
        path: &str,
    ) -> Result<ContentPart, RequestError> {
        match b {
            ContentBlock::Text(t) => {
                self.text_extras(message, part, t, path);
                Ok(ContentPart::Text {
                    text: t.text.clone(),
                })
            }
            ContentBlock::Image(img) => {
                if let Some(mark) = &img.cache_control {
                    self.out
                        .element_extra_mut(ElementRef::Part { message, part })
                        .cache_control = Some(mark.clone());
                }
                ignore_extra(&mut self.ignored, path, &img.extra);
                match &img.source {
                    ImageSource::Base64 { media_type, data } => {
                        Ok(ContentPart::image_base64(media_type, data))
                    }
                    ImageSource::Url { url } => Ok(ContentPart::image_url(url.clone())),
                    ImageSource::File { .. } => Err(RequestError::unsupported(
                        format!("{path}.source"),
                        "images from Anthropic's Files API (`file_id`) cannot be sent through \
                         the gateway; send the bytes (`base64`) or a `url`",
                    )),
                }
            }
            ContentBlock::Document(_) => Err(RequestError::unsupported(
                path,
                "document blocks cannot be carried by the gateway yet",
            )),
            ContentBlock::ToolUse(_)
            | ContentBlock::Thinking(_)
            | ContentBlock::RedactedThinking(_) => Err(RequestError::invalid(
                path,
                "`tool_use`, `thinking` and `redacted_thinking` blocks belong in assistant turns",
            )),
            ContentBlock::ToolResult(_) => Err(RequestError::invalid(
                path,
                "a `tool_result` block cannot be nested here",
            )),
            ContentBlock::Other(map) => Err(RequestError::unsupported(
                path,
                format!(
                    "`{}` blocks cannot be carried by the gateway yet",
                    other_type(map)
                ),
            )),
        }
    }

    fn user_blocks(&mut self, path: &str, blocks: &[ContentBlock]) -> Result<(), RequestError> {
        let mut parts: Vec<ContentPart> = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            let bpath = format!("{path}.content[{j}]");
            if let ContentBlock::ToolResult(r) = b {
                self.flush_user(&mut parts);
                self.tool_result(r, &bpath)?;
                continue;
            }
            let message = self.next_index();
            let part = self.part(message, parts.len(), b, &bpath)?;
            parts.push(part);
        }
        if blocks.is_empty() {
            self.out.messages.push(Message::User {
                content: Content::Parts(Vec::new()),
                name: None,
            });
        }
        self.flush_user(&mut parts);
        Ok(())
    }

    fn flush_user(&mut self, parts: &mut Vec<ContentPart>) {
        if parts.is_empty() {
            return;
        }
        self.out.messages.push(Message::User {
            content: Content::Parts(std::mem::take(parts)),
            name: None,
        });
    }

    fn tool_result(&mut self, r: &ToolResultBlock, path: &str) -> Result<(), RequestError> {
        let message = self.next_index();
        ignore_extra(&mut self.ignored, path, &r.extra);
        let content = match &r.content {
            None => Content::Text(String::new()),
            Some(StringOr::String(s)) => Content::Text(s.clone()),
            Some(StringOr::List(blocks)) => {
                let mut parts = Vec::with_capacity(blocks.len());
                for (k, b) in blocks.iter().enumerate() {
                    let p = self.part(message, k, b, &format!("{path}.content[{k}]"))?;
                    parts.push(p);
                }
                Content::Parts(parts)
            }
        };
        let at = ElementRef::Message { message };
        if let Some(mark) = &r.cache_control {
            self.out.element_extra_mut(at).cache_control = Some(mark.clone());
        }
        if let Some(is_error) = r.is_error {
            self.out.element_extra_mut(at).is_error = Some(is_error);
        }
        self.out.messages.push(Message::Tool {
            content,
            tool_call_id: r.tool_use_id.clone(),
            name: None,
        });
        Ok(())
    }

    fn assistant_blocks(
        &mut self,
        path: &str,
        blocks: &[ContentBlock],
    ) -> Result<(), RequestError> {
        let message = self.next_index();
        let mut a = AssistantMessage::default();
        let mut parts = Vec::new();
        for (j, b) in blocks.iter().enumerate() {
            let bpath = format!("{path}.content[{j}]");
            match b {
                ContentBlock::Text(t) => {
                    self.text_extras(message, parts.len(), t, &bpath);
                    parts.push(ContentPart::Text {
                        text: t.text.clone(),
                    });
                }
                ContentBlock::Thinking(t) => {
                    ignore_extra(&mut self.ignored, &bpath, &t.extra);
                    let mut r = ReasoningBlock::text(t.thinking.clone());
                    r.signature = (!t.signature.is_empty()).then(|| t.signature.clone());
                    a.reasoning.push(r);
                }
                ContentBlock::RedactedThinking(t) => {
                    ignore_extra(&mut self.ignored, &bpath, &t.extra);
                    let mut r = ReasoningBlock::text("");
                    r.kind = "redacted_thinking".into();
                    r.text = None;
                    r.data = Some(t.data.clone());
                    a.reasoning.push(r);
                }
                ContentBlock::ToolUse(u) => {
                    ignore_extra(&mut self.ignored, &bpath, &u.extra);
                    let call = a.tool_calls.len();
                    if let Some(mark) = &u.cache_control {
                        self.out
                            .element_extra_mut(ElementRef::ToolCall { message, call })
                            .cache_control = Some(mark.clone());
                    }
                    let args = match &u.input {
                        Value::Null => "{}".to_owned(),
                        v => v.to_string(),
                    };
                    a.tool_calls
                        .push(ToolCall::new(u.id.clone(), u.name.clone(), args));
                }
                ContentBlock::Image(_)
                | ContentBlock::Document(_)
                | ContentBlock::ToolResult(_) => {
                    return Err(RequestError::invalid(
                        bpath,
                        "assistant turns hold text, thinking and tool_use blocks only",
                    ));
                }
                ContentBlock::Other(map) => {
                    return Err(RequestError::unsupported(
                        bpath,
                        format!(
                            "`{}` blocks cannot be carried by the gateway yet",
                            other_type(map)
                        ),
                    ));
                }
            }
        }
        a.content = (!parts.is_empty()).then_some(Content::Parts(parts));
        self.out.messages.push(Message::Assistant(a));
        Ok(())
    }

    fn tool(&mut self, j: usize, t: &Tool) -> Result<(), RequestError> {
        let path = format!("tools[{j}]");
        match t.kind.as_deref() {
            None | Some("custom") => {}
            Some(other) => {
                return Err(RequestError::unsupported(
                    format!("{path}.type"),
                    format!(
                        "Anthropic-defined tool `{other}` runs on Anthropic's servers and cannot \
                         be served by the gateway yet; only client tools (`input_schema`) can"
                    ),
                ));
            }
        }
        let Some(schema) = &t.input_schema else {
            return Err(RequestError::invalid(
                format!("{path}.input_schema"),
                "a client tool needs an `input_schema`",
            ));
        };
        let mut def = ToolDefinition::function(t.name.clone(), "", schema.clone());
        def.function.description = t.description.clone();
        def.function.strict = t.strict;
        ignore_extra(&mut self.ignored, &path, &t.extra);
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
    fn tool_results_split_a_user_turn_in_order() {
        let c = conv(
            r#"{"model":"m","max_tokens":5,"messages":[
              {"role":"user","content":"weather?"},
              {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"w","input":{"city":"Paris"}}]},
              {"role":"user","content":[
                {"type":"tool_result","tool_use_id":"t1","content":"sunny","is_error":true},
                {"type":"text","text":"thanks","cache_control":{"type":"ephemeral"}}]}]}"#,
        )
        .unwrap();
        let roles: Vec<_> = c.request.messages.iter().map(Message::role).collect();
        assert_eq!(roles, ["user", "assistant", "tool", "user"]);
        let Message::Assistant(a) = &c.request.messages[1] else {
            panic!()
        };
        assert_eq!(a.tool_calls[0].function.arguments, r#"{"city":"Paris"}"#);
        assert_eq!(
            c.request
                .element_extra(ElementRef::Message { message: 2 })
                .and_then(|e| e.is_error),
            Some(true)
        );
        assert!(
            c.request
                .element_extra(ElementRef::Part {
                    message: 3,
                    part: 0
                })
                .and_then(|e| e.cache_control.as_ref())
                .is_some()
        );
    }

    #[test]
    fn what_core_cannot_carry_is_an_error_naming_it() {
        let e = conv(
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
              {"type":"text","text":"read"},
              {"type":"document","source":{"type":"text","media_type":"text/plain","data":"x"}}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.kind, RequestErrorKind::Unsupported);
        assert_eq!(e.param.as_deref(), Some("messages[0].content[1]"));
        let e = conv(
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"}],
               "tools":[{"type":"web_search_20250305","name":"web_search","max_uses":2}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("tools[0].type"));
        let e = conv(
            r#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"}],
               "thinking":{"type":"enabled"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("thinking.budget_tokens"));
    }

    #[test]
    fn malformed_known_blocks_name_the_block_and_field() {
        let e = parse(
            br#"{"model":"m","max_tokens":5,"messages":[{"role":"user","content":[
              {"type":"image","source":{"type":"base64","data":"AAAA"}}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("messages[0].content[0]"));
        assert!(e.message.contains("media_type"), "{e}");
    }
}
