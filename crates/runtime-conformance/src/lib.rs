#![doc = include_str!("../README.md")]
#![allow(clippy::panic)]

mod checks;
mod report;

use std::sync::Arc;
use std::time::Duration;

use runtime_core::{
    ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, EmbeddingRequest,
    EmbeddingResponse, Error, FinishReason, Provider, Result, Secret,
};

pub use checks::run;
pub use report::{CheckResult, Outcome, Report};

/// The API key the suite configures; it must never show up in an error.
pub const TEST_KEY: &str = "sk-conformance-Zq8VtW2xK9-secret";

/// What a scenario exercises; the suite requires one scenario per required category.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
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
    /// Anything else the provider wants checked.
    Extra,
}

impl Category {
    /// The categories every provider must cover (or declare unsupported / not applicable).
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

/// What the mock server answers.
#[derive(Debug, Clone)]
pub struct MockReply {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// Body.
    pub body: Vec<u8>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
}

impl MockReply {
    /// A 200 JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            content_type: "application/json".into(),
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// A 200 SSE body.
    pub fn sse(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            content_type: "text/event-stream".into(),
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// A 200 NDJSON body.
    pub fn ndjson(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            content_type: "application/x-ndjson".into(),
            body: body.into(),
            headers: Vec::new(),
        }
    }
}

/// The call a scenario makes.
#[derive(Debug, Clone)]
pub enum Call {
    /// `chat`.
    Chat(ChatRequest),
    /// `chat_stream`, folded.
    Stream(ChatRequest),
    /// `chat` with the first reply and `chat_stream` with the second; the results must match.
    StreamEqualsChat(ChatRequest, MockReply),
    /// `embed`.
    Embed(EmbeddingRequest),
    /// `complete`.
    Complete(CompletionRequest),
}

/// What a scenario got back.
#[derive(Debug)]
pub enum Got {
    /// A chat answer (streams folded).
    Chat(ChatResponse),
    /// Embeddings.
    Embed(EmbeddingResponse),
    /// A completion.
    Complete(CompletionResponse),
}

/// A check over the result of a scenario.
pub type Expect = Arc<dyn Fn(&Result<Got>) -> std::result::Result<(), String> + Send + Sync>;

/// One wire fixture a provider must handle.
#[derive(Clone)]
pub struct Scenario {
    /// Name shown in the table.
    pub name: String,
    /// What it covers (several categories may be covered by one scenario).
    pub categories: Vec<Category>,
    /// The call.
    pub call: Call,
    /// What the mock answers.
    pub reply: MockReply,
    /// JSON the upstream request body must contain (a subset match), if any.
    pub expect_body: Option<serde_json::Value>,
    /// The check of the result.
    pub expect: Expect,
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario")
            .field("name", &self.name)
            .field("categories", &self.categories)
            .finish_non_exhaustive()
    }
}

impl Scenario {
    /// A scenario; add checks with [`Scenario::expect`].
    pub fn new(name: &str, categories: Vec<Category>, call: Call, reply: MockReply) -> Self {
        Self {
            name: name.to_owned(),
            categories,
            call,
            reply,
            expect_body: None,
            expect: Arc::new(|r| r.as_ref().map(|_| ()).map_err(|e| format!("error: {e}"))),
        }
    }

    /// Requires the upstream body to contain `subset`.
    pub fn expect_body(mut self, subset: serde_json::Value) -> Self {
        self.expect_body = Some(subset);
        self
    }

    /// Checks a chat answer.
    pub fn expect_chat(
        mut self,
        f: impl Fn(&ChatResponse) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.expect = Arc::new(move |r| match r {
            Ok(Got::Chat(c)) => f(c),
            Ok(other) => Err(format!("expected a chat answer, got {other:?}")),
            Err(e) => Err(format!("error: {e}")),
        });
        self
    }

    /// Checks embeddings.
    pub fn expect_embed(
        mut self,
        f: impl Fn(&EmbeddingResponse) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.expect = Arc::new(move |r| match r {
            Ok(Got::Embed(e)) => f(e),
            Ok(other) => Err(format!("expected embeddings, got {other:?}")),
            Err(e) => Err(format!("error: {e}")),
        });
        self
    }

    /// Checks a completion.
    pub fn expect_completion(
        mut self,
        f: impl Fn(&CompletionResponse) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.expect = Arc::new(move |r| match r {
            Ok(Got::Complete(c)) => f(c),
            Ok(other) => Err(format!("expected a completion, got {other:?}")),
            Err(e) => Err(format!("error: {e}")),
        });
        self
    }

    /// Expects an error and checks it.
    pub fn expect_error(
        mut self,
        f: impl Fn(&Error) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.expect = Arc::new(move |r| match r {
            Err(e) => f(e),
            Ok(other) => Err(format!("expected an error, got {other:?}")),
        });
        self
    }
}

/// The provider's error envelope for a status, its message containing the given text.
pub type ErrorBodyFn = Arc<dyn Fn(u16, &str) -> String + Send + Sync>;

/// Builds the provider under test against `base_url` with `key`, timeouts set to `timeout`.
pub type Builder = Arc<dyn Fn(&str, &Secret, Duration) -> Result<Arc<dyn Provider>> + Send + Sync>;

/// A provider as the suite sees it.
#[derive(Clone)]
pub struct Target {
    /// Provider name (table row).
    pub name: String,
    /// Builds it.
    pub build: Builder,
    /// The model the generic checks use.
    pub model: String,
    /// Regex of the chat path (non-streaming).
    pub chat_path: String,
    /// Regex of the streaming chat path.
    pub stream_path: String,
    /// Regex of the embeddings path.
    pub embed_path: String,
    /// Regex of the completion path (or the chat path when served over chat).
    pub completion_path: String,
    /// The provider's error envelope for a status, its message containing `message`.
    pub error_body: ErrorBodyFn,
    /// The header that carries the key and its expected value for [`TEST_KEY`].
    pub auth_header: (String, String),
    /// One complete streamed content event, framing included (for the stall and drop checks).
    pub stream_event: Vec<u8>,
    /// The stream content type.
    pub stream_content_type: String,
    /// The wire scenarios.
    pub scenarios: Vec<Scenario>,
    /// Categories the provider cannot produce, with why (reported as n/a, not as a pass).
    pub not_applicable: Vec<(Category, String)>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A JSON subset match: every key of `want` is in `got` with a matching value (recursively;
/// arrays match element-wise and must have the same length).
pub fn json_contains(got: &serde_json::Value, want: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| g.get(k).is_some_and(|gv| json_contains(gv, wv))),
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(a, b)| json_contains(a, b))
        }
        (g, w) => g == w,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_match() {
        assert!(json_contains(
            &json!({"a": 1, "b": {"c": [1, {"d": 2, "e": 3}]}}),
            &json!({"b": {"c": [1, {"d": 2}]}})
        ));
        assert!(!json_contains(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!json_contains(&json!({"a": [1, 2]}), &json!({"a": [1]})));
    }

    #[test]
    fn labels() {
        assert_eq!(Category::StreamEqualsChat.label(), "stream_equals_chat");
        assert_eq!(
            Category::Finish(FinishReason::ToolCalls).label(),
            "finish:tool_calls"
        );
    }
}
