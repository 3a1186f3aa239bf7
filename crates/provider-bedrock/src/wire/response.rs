//! Converse response → core chat response.

use runtime_core::types::annotation;
use runtime_core::{
    AssistantMessage, ChatResponse, Content, FinishReason, ReasoningBlock, ResponseMeta, Result,
    ToolCall,
};
use serde_json::Value;

use super::types::ConverseResponse;

/// The core finish reason of a Converse `stopReason`.
pub fn finish_reason(stop: &str) -> FinishReason {
    match stop {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// Annotation key of `additionalModelResponseFields`.
pub const ADDITIONAL_FIELDS: &str = "additional_model_response_fields";
/// Annotation key of the guardrail trace.
pub const TRACE: &str = "trace";

/// A redacted reasoning block.
pub fn redacted(data: String) -> ReasoningBlock {
    ReasoningBlock {
        kind: "redacted_thinking".into(),
        text: None,
        signature: None,
        data: Some(data),
    }
}

/// JSON text without the whitespace between tokens, key order kept: the arguments of a tool
/// call read the same from a whole answer and from the stream's compact deltas.
pub fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// Maps a Converse answer. Converse has no response id or timestamp: `id` is `""`,
/// `created` is 0, and `model` is the model asked for.
pub fn parse_converse(body: ConverseResponse, provider: &str, model: &str) -> Result<ChatResponse> {
    let mut text: Option<String> = None;
    let mut reasoning = Vec::new();
    let mut tool_calls = Vec::new();
    let blocks = body
        .output
        .and_then(|o| o.message)
        .map(|m| m.content)
        .unwrap_or_default();
    for b in blocks {
        if let Some(t) = b.text {
            text.get_or_insert_with(String::new).push_str(&t);
        }
        if let Some(r) = b.reasoning_content {
            if let Some(rt) = r.reasoning_text {
                reasoning.push(ReasoningBlock {
                    signature: rt.signature,
                    ..ReasoningBlock::text(rt.text)
                });
            }
            if let Some(data) = r.redacted_content {
                reasoning.push(redacted(data));
            }
        }
        if let Some(t) = b.tool_use {
            tool_calls.push(ToolCall::new(t.tool_use_id, t.name, minify(t.input.get())));
        }
    }
    let stop = body.stop_reason.unwrap_or_default();
    let mut meta = ResponseMeta {
        provider: Some(provider.to_owned()),
        ..ResponseMeta::default()
    };
    meta.annotations
        .insert(annotation::STOP_REASON.into(), Value::String(stop.clone()));
    if let Some(v) = body
        .additional_model_response_fields
        .filter(|v| !v.is_null())
    {
        meta.annotations.insert(ADDITIONAL_FIELDS.into(), v);
    }
    if let Some(v) = body.trace.filter(|v| !v.is_null()) {
        meta.annotations.insert(TRACE.into(), v);
    }
    Ok(ChatResponse {
        id: String::new(),
        model: model.to_owned(),
        created: 0,
        message: AssistantMessage {
            content: text.map(Content::Text),
            reasoning,
            tool_calls,
            ..AssistantMessage::default()
        },
        finish_reason: finish_reason(&stop),
        usage: body.usage.map(|u| u.to_core()),
        meta,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_strings_and_order() {
        assert_eq!(
            minify("{\n  \"b\": \"x y\\\" z\",\n  \"a\": [1, 2]\n}"),
            r#"{"b":"x y\" z","a":[1,2]}"#
        );
    }

    #[test]
    fn stop_reasons() {
        assert_eq!(finish_reason("end_turn"), FinishReason::Stop);
        assert_eq!(finish_reason("stop_sequence"), FinishReason::Stop);
        assert_eq!(finish_reason("max_tokens"), FinishReason::Length);
        assert_eq!(
            finish_reason("model_context_window_exceeded"),
            FinishReason::Length
        );
        assert_eq!(finish_reason("tool_use"), FinishReason::ToolCalls);
        assert_eq!(
            finish_reason("guardrail_intervened"),
            FinishReason::ContentFilter
        );
        assert_eq!(
            finish_reason("content_filtered"),
            FinishReason::ContentFilter
        );
    }
}
