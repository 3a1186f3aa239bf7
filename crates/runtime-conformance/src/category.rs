//! The categories of scenarios the suite requires or accepts.

use runtime_core::FinishReason;

/// What a scenario exercises; the suite requires one scenario per required category.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Category {
    /// A plain user message.
    PlainChat,
    /// A system prompt.
    SystemPrompt,
    /// The model calls a tool.
    ToolCall,
    /// A tool result sent back.
    ToolResult,
    /// An image in the input.
    ImageInput,
    /// A streamed answer.
    Streaming,
    /// A streamed answer whose fold equals the non-streamed one.
    StreamEqualsChat,
    /// Every usage count mapped.
    Usage,
    /// This finish reason produced.
    Finish(FinishReason),
    /// Embeddings.
    Embeddings,
    /// Text completion.
    Completion,
    /// The live model listing.
    ModelListing,
    /// Anything else the provider wants checked.
    Extra,
}

impl Category {
    /// The categories every provider must cover (or declare unsupported / not applicable).
    ///
    /// The finish reasons required are `stop`, `length`, `tool_calls` (unless tools are
    /// unsupported) and `content_filter` (a provider whose API never filters declares it
    /// not applicable, saying so).
    pub fn required() -> Vec<Category> {
        vec![
            Category::PlainChat,
            Category::SystemPrompt,
            Category::ToolCall,
            Category::ToolResult,
            Category::ImageInput,
            Category::Streaming,
            Category::StreamEqualsChat,
            Category::Usage,
            Category::Finish(FinishReason::Stop),
            Category::Finish(FinishReason::Length),
            Category::Finish(FinishReason::ToolCalls),
            Category::Finish(FinishReason::ContentFilter),
            Category::Embeddings,
            Category::Completion,
            Category::ModelListing,
        ]
    }

    /// A short name for tables.
    pub fn label(&self) -> String {
        match self {
            Category::Finish(r) => format!("finish:{}", r.as_str()),
            other => format!("{other:?}")
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let lower = c.to_ascii_lowercase();
                    if c.is_ascii_uppercase() && i > 0 {
                        vec!['_', lower]
                    } else {
                        vec![lower]
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(Category::StreamEqualsChat.label(), "stream_equals_chat");
        assert_eq!(
            Category::Finish(FinishReason::ToolCalls).label(),
            "finish:tool_calls"
        );
    }
}
