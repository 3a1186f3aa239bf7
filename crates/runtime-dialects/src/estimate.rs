//! A local estimate of a request's input tokens, for upstreams that cannot count them.
//!
//! It is an estimate, not a count: about four bytes of UTF-8 text per token (the usual figure
//! for English prose and code with the tokenizers of OpenAI and Anthropic; fewer bytes per token
//! for other scripts), a few tokens per message and per tool for the framing, and a fixed 1 600
//! tokens per image (Anthropic's cost of an image near its size limit; the dimensions are not
//! known here). Expect it within ±25 % of the real count for prose, worse for unusual text.

use runtime_core::{ChatRequest, Content, ContentPart, Message};

const BYTES_PER_TOKEN: usize = 4;
const PER_MESSAGE: u64 = 4;
const PER_TOOL: u64 = 8;
const PER_IMAGE: u64 = 1_600;

fn text_tokens(bytes: usize) -> u64 {
    u64::try_from(bytes.div_ceil(BYTES_PER_TOKEN)).unwrap_or(u64::MAX)
}

fn content_tokens(c: &Content) -> u64 {
    match c {
        Content::Text(s) => text_tokens(s.len()),
        Content::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Text { text } => text_tokens(text.len()),
                ContentPart::ImageUrl { .. } => PER_IMAGE,
                // A part kind core adds later: counted like an image (an estimate).
                _ => PER_IMAGE,
            })
            .sum(),
    }
}

/// The estimated input tokens of `req` (never zero for a non-empty request).
pub fn input_tokens(req: &ChatRequest) -> u64 {
    let mut n: u64 = 0;
    for m in &req.messages {
        n += PER_MESSAGE;
        n += match m {
            Message::System { content, .. }
            | Message::User { content, .. }
            | Message::Tool { content, .. } => content_tokens(content),
            Message::Assistant(a) => {
                a.content.as_ref().map_or(0, content_tokens)
                    + a.reasoning
                        .iter()
                        .map(|r| text_tokens(r.text.as_deref().map_or(0, str::len)))
                        .sum::<u64>()
                    + a.tool_calls
                        .iter()
                        .map(|c| text_tokens(c.function.name.len() + c.function.arguments.len()))
                        .sum::<u64>()
            }
            // A message kind core adds later: its envelope only.
            _ => 0,
        };
    }
    for t in &req.tools {
        let f = &t.function;
        n += PER_TOOL
            + text_tokens(
                f.name.len()
                    + f.description.as_deref().map_or(0, str::len)
                    + f.parameters.as_ref().map_or(0, |p| p.to_string().len()),
            );
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_text_images_and_tools() {
        let small = ChatRequest::new("m", vec![Message::user("Hello, world")]);
        let base = input_tokens(&small);
        assert_eq!(base, PER_MESSAGE + 3);
        let mut big = small.clone();
        big.messages.push(Message::User {
            content: Content::Parts(vec![ContentPart::image_url("https://x.test/a.png")]),
            name: None,
        });
        big.tools.push(runtime_core::ToolDefinition::function(
            "get_weather",
            "Weather of a city",
            serde_json::json!({"type": "object"}),
        ));
        assert!(input_tokens(&big) > base + PER_IMAGE + PER_TOOL);
    }
}
