//! One call against a mock upstream and what its result must be.

use std::sync::Arc;

use runtime_core::{
    ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, EmbeddingRequest,
    EmbeddingResponse, Error, ModelInfo, Result,
};

use crate::category::Category;

/// The content type of AWS's binary event stream.
pub const EVENTSTREAM: &str = "application/vnd.amazon.eventstream";

/// What the mock server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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
    /// A reply of `status` with this content type and body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            content_type: content_type.to_owned(),
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// A 200 JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, "application/json", body)
    }

    /// A 200 SSE body.
    pub fn sse(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, "text/event-stream", body)
    }

    /// A 200 NDJSON body.
    pub fn ndjson(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, "application/x-ndjson", body)
    }

    /// A 200 binary AWS event stream (`application/vnd.amazon.eventstream`, Bedrock).
    pub fn eventstream(body: impl Into<Vec<u8>>) -> Self {
        Self::new(200, EVENTSTREAM, body)
    }

    /// The same reply with another status.
    pub fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The same reply with one more header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// True for a streamed body (SSE or NDJSON).
    pub fn is_stream(&self) -> bool {
        self.content_type.starts_with("text/event-stream")
            || self.content_type.starts_with("application/x-ndjson")
            || self.content_type.starts_with(EVENTSTREAM)
    }
}

/// The call a scenario makes.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Call {
    /// `chat`.
    Chat(ChatRequest),
    /// `chat_stream`, folded.
    Stream(ChatRequest),
    /// `chat` with the scenario's reply and `chat_stream` with this one; the folded stream must
    /// equal the whole answer (see the crate docs for `id` and `created`).
    StreamEqualsChat(ChatRequest, MockReply),
    /// `embed`.
    Embed(EmbeddingRequest),
    /// `complete`.
    Complete(CompletionRequest),
    /// `list_models`.
    ListModels,
}

impl Call {
    /// The model the call names (empty for a model listing).
    pub fn model(&self) -> &str {
        match self {
            Call::Chat(r) | Call::Stream(r) | Call::StreamEqualsChat(r, _) => &r.model,
            Call::Embed(r) => &r.model,
            Call::Complete(r) => &r.model,
            Call::ListModels => "",
        }
    }
}

/// What a scenario got back.
#[derive(Debug)]
#[non_exhaustive]
pub enum Got {
    /// A chat answer (streams folded).
    Chat(ChatResponse),
    /// Embeddings.
    Embed(EmbeddingResponse),
    /// A completion.
    Complete(CompletionResponse),
    /// A model listing.
    Models(Vec<ModelInfo>),
}

impl Got {
    /// The answer as JSON, in the core types' serde shape (what case expectations match).
    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            Got::Chat(r) => serde_json::to_value(r),
            Got::Embed(r) => serde_json::to_value(r),
            Got::Complete(r) => serde_json::to_value(r),
            Got::Models(r) => serde_json::to_value(r),
        };
        v.unwrap_or(serde_json::Value::Null)
    }
}

/// A check over the result of a scenario.
pub type Expect = Arc<dyn Fn(&Result<Got>) -> std::result::Result<(), String> + Send + Sync>;

/// One call a provider must handle: the request, what the mock upstream answers, and what
/// the result must be. Cases in a folder ([`crate::Target::cases`]) become scenarios; a
/// provider adds its own in code with [`crate::Target::scenario`].
#[derive(Clone)]
#[non_exhaustive]
pub struct Scenario {
    /// Name shown in the table.
    pub name: String,
    /// What it covers (several categories may be covered by one scenario).
    pub categories: Vec<Category>,
    /// The call.
    pub call: Call,
    /// What the mock answers.
    pub reply: MockReply,
    /// JSON the upstream request body must contain (see [`crate::matches()`]), if any.
    pub expect_body: Option<serde_json::Value>,
    /// The URL path the request must go to: the recorded URL, whose path must end with the
    /// path the provider called (the base URL differs).
    pub endpoint: Option<String>,
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
    /// A scenario whose call must succeed; add checks with the `expect_*` methods.
    pub fn new(name: &str, categories: Vec<Category>, call: Call, reply: MockReply) -> Self {
        Self {
            name: name.to_owned(),
            categories,
            call,
            reply,
            expect_body: None,
            endpoint: None,
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

    /// Checks the result with `f`.
    pub fn expect_result(
        mut self,
        f: impl Fn(&Result<Got>) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        self.expect = Arc::new(f);
        self
    }
}
