//! Reasoning items ↔ core reasoning blocks.
//!
//! A Responses client sends the reasoning items of earlier answers back untouched (that is how
//! OpenAI's stateless `store: false` conversations keep the model's reasoning), and the only
//! field every client echoes is `encrypted_content`. So:
//!
//! - OpenAI's own reasoning (core kind `reasoning`) keeps its `encrypted_content` as it came;
//! - a signed Anthropic thinking block travels as `mrt1:thinking:<signature>`, its text as the
//!   summary, and a redacted one as `mrt1:redacted_thinking:<data>`,
//!
//! and both come back as the same core blocks, so Claude's signed thinking survives a tool-use
//! loop driven by a Responses client. A value without the `mrt1:` prefix is never touched.

use runtime_core::ReasoningBlock;

const PREFIX: &str = "mrt1:";

/// The core kind of OpenAI reasoning items.
pub const OPENAI_KIND: &str = "reasoning";

/// The stream annotation with which an upstream speaking the Responses API (provider-openai's
/// `ResponsesDecoder`, key `wire::responses::REASONING_ITEM`) hands over a finished reasoning
/// item: `{"id", "encrypted_content"}`. Core's stream has no event for an opaque reasoning item,
/// so without it a streamed answer would lose the `encrypted_content` a stateless client must
/// send back. The same string on both sides (neither crate depends on the other).
pub const REASONING_ITEM: &str = "reasoning_item";

/// The `encrypted_content` that carries a core reasoning block, if it has anything to carry.
pub fn encrypted_content(b: &ReasoningBlock) -> Option<String> {
    match b.kind.as_str() {
        "thinking" => b
            .signature
            .as_ref()
            .map(|sig| format!("{PREFIX}thinking:{sig}")),
        "redacted_thinking" => b
            .data
            .as_ref()
            .map(|d| format!("{PREFIX}redacted_thinking:{d}")),
        _ => b.data.clone(),
    }
}

/// The core block of a reasoning item: its summary text and its `encrypted_content`.
pub fn block(summary: Option<String>, encrypted: Option<&str>) -> ReasoningBlock {
    let mut b = ReasoningBlock::text(summary.clone().unwrap_or_default());
    b.text = summary;
    match encrypted.and_then(|e| e.strip_prefix(PREFIX)) {
        Some(rest) => {
            if let Some(sig) = rest.strip_prefix("thinking:") {
                b.signature = Some(sig.to_owned());
                b.text.get_or_insert_with(String::new);
            } else if let Some(data) = rest.strip_prefix("redacted_thinking:") {
                b.kind = "redacted_thinking".into();
                b.text = None;
                b.data = Some(data.to_owned());
            } else {
                b.kind = OPENAI_KIND.into();
                b.data = encrypted.map(str::to_owned);
            }
        }
        None => {
            b.kind = OPENAI_KIND.into();
            b.data = encrypted.map(str::to_owned);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_thinking_round_trips_and_openai_content_is_untouched() {
        let mut signed = ReasoningBlock::text("because");
        signed.signature = Some("EqQBCkYIBx".into());
        let enc = encrypted_content(&signed).unwrap();
        assert_eq!(block(Some("because".into()), Some(&enc)), signed);

        let mut redacted = ReasoningBlock::text("");
        redacted.kind = "redacted_thinking".into();
        redacted.text = None;
        redacted.data = Some("EmwKAhgB".into());
        let enc = encrypted_content(&redacted).unwrap();
        assert_eq!(block(None, Some(&enc)), redacted);

        let openai = block(Some("sum".into()), Some("gAAAAABpPDIU"));
        assert_eq!(openai.kind, OPENAI_KIND);
        assert_eq!(encrypted_content(&openai).as_deref(), Some("gAAAAABpPDIU"));
    }
}
