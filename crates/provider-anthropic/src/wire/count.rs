//! `POST /v1/messages/count_tokens`: the body (a Messages body without the fields of
//! generation, which the endpoint rejects) and the answer.
//!
//! Reference: <https://docs.anthropic.com/en/api/messages-count-tokens>.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::MessagesRequest;

/// The fields `count_tokens` accepts (everything else of a Messages body is about generation).
const ACCEPTED: &[&str] = &[
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
    "context_management",
    "cache_control",
];

/// The `count_tokens` body of a Messages request.
pub fn count_tokens_body(body: &MessagesRequest<'_>) -> Value {
    let mut out = Map::new();
    if let Ok(Value::Object(all)) = serde_json::to_value(body) {
        for (k, v) in all {
            if ACCEPTED.contains(&k.as_str()) {
                out.insert(k, v);
            }
        }
    }
    Value::Object(out)
}

/// The answer: `{"input_tokens": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct TokenCount {
    /// The prompt's tokens, as Anthropic bills them.
    pub input_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{RequestOptions, messages_request};
    use runtime_core::{ChatRequest, Message};

    #[test]
    fn generation_fields_are_left_out() {
        let mut req = ChatRequest::new(
            "claude-sonnet-4-5",
            vec![Message::system("Be brief."), Message::user("Hi")],
        );
        req.temperature = Some(0.5);
        req.extra.insert(
            "thinking".into(),
            serde_json::json!({"type": "enabled", "budget_tokens": 1024}),
        );
        let body = messages_request(
            &req,
            &req.model,
            "anthropic",
            RequestOptions::default(),
            false,
        )
        .unwrap();
        let v = count_tokens_body(&body);
        assert_eq!(
            v,
            serde_json::json!({
                "model": "claude-sonnet-4-5",
                "system": "Be brief.",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                "thinking": {"type": "enabled", "budget_tokens": 1024},
            })
        );
    }
}
