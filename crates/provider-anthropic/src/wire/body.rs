//! The typed body of `POST /v1/messages`, borrowing from the core request it was mapped from.

use std::borrow::Cow;
use std::collections::BTreeMap;

use runtime_core::{ElementExtra, PromptCacheMark};
use serde::Serialize;
use serde_json::{Map, Value};

/// The body of `POST /v1/messages`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessagesRequest<'a> {
    /// The model; `None` where the URL names it (Claude on Vertex AI, see
    /// [`MessagesRequest::for_platform`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<&'a str>,
    /// `anthropic_version` in the body, where a cloud platform takes it there instead of as a
    /// header (Vertex AI: `vertex-2023-10-16`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anthropic_version: Option<&'a str>,
    /// Alternating user / assistant turns.
    pub messages: Vec<Turn<'a>>,
    /// The system prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<System<'a>>,
    /// Most tokens to generate (Anthropic requires it).
    pub max_tokens: u64,
    /// Whether to stream.
    pub stream: bool,
    /// Sampling temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop_sequences: &'a [String],
    /// Tools.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool<'a>>,
    /// Tool choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice<'a>>,
    /// `metadata` (`user_id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// A request-wide cache breakpoint (Anthropic places it on the last cacheable block).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<&'a PromptCacheMark>,
    /// Anthropic fields the core has no name for (`thinking`, `top_k`, `output_config`…),
    /// passed through from the request's `extra`.
    #[serde(flatten)]
    pub extra: BTreeMap<&'a str, &'a Value>,
}

impl<'a> MessagesRequest<'a> {
    /// The body as a cloud platform's raw-predict endpoint takes it (Claude on Vertex AI):
    /// no `model` (the URL names it) and `anthropic_version` in the body. Refuses, naming the
    /// field, a passed-through `extra` field the platform body sets itself.
    pub fn for_platform(
        mut self,
        anthropic_version: &'a str,
        provider: &str,
    ) -> Result<Self, runtime_core::Error> {
        let model = self.model.take().unwrap_or_default();
        if let Some(k) = ["model", "anthropic_version"]
            .into_iter()
            .find(|k| self.extra.contains_key(k))
        {
            return Err(runtime_core::Error::invalid_request(
                provider,
                model,
                Some(k),
                format!("`{k}` is set by the platform endpoint, not by the request body"),
            ));
        }
        self.anthropic_version = Some(anthropic_version);
        Ok(self)
    }

    /// True when the typed part of the body already sets `key` (an `extra` field of that name
    /// would be sent twice).
    pub fn sets(&self, key: &str) -> bool {
        match key {
            "model" | "messages" | "max_tokens" | "stream" => true,
            "anthropic_version" => self.anthropic_version.is_some(),
            "system" => self.system.is_some(),
            "temperature" => self.temperature.is_some(),
            "top_p" => self.top_p.is_some(),
            "stop_sequences" => !self.stop_sequences.is_empty(),
            "tools" => !self.tools.is_empty(),
            "tool_choice" => self.tool_choice.is_some(),
            "metadata" => self.metadata.is_some(),
            "cache_control" => self.cache_control.is_some(),
            _ => false,
        }
    }
}

/// One turn: a role and its content blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn<'a> {
    /// `user` or `assistant`.
    pub role: &'static str,
    /// Its blocks.
    pub content: Vec<RequestBlock<'a>>,
}

/// The system prompt: one string, or text blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum System<'a> {
    /// One system message of plain text.
    Text(&'a str),
    /// Several system messages, or parts.
    Blocks(Vec<RequestBlock<'a>>),
}

/// A content block of a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequestBlock<'a> {
    /// Text.
    Text {
        /// The text.
        text: &'a str,
        /// Citations of a replayed answer's text.
        #[serde(skip_serializing_if = "Option::is_none")]
        citations: Option<&'a [Value]>,
        /// A prompt-cache breakpoint.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a PromptCacheMark>,
    },
    /// An image.
    Image {
        /// Where its bytes are.
        source: ImageSource<'a>,
        /// A prompt-cache breakpoint.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a PromptCacheMark>,
    },
    /// Earlier signed thinking, sent back.
    Thinking {
        /// The thinking text.
        thinking: &'a str,
        /// Anthropic's signature.
        signature: &'a str,
    },
    /// Earlier redacted thinking, sent back.
    RedactedThinking {
        /// Encrypted content.
        data: &'a str,
    },
    /// An earlier tool call of the model.
    ToolUse {
        /// `toolu_…`.
        id: &'a str,
        /// The tool.
        name: &'a str,
        /// Its input object.
        input: Value,
        /// A prompt-cache breakpoint.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a PromptCacheMark>,
    },
    /// A tool's result.
    ToolResult {
        /// The call answered.
        tool_use_id: &'a str,
        /// The result.
        content: ToolResultContent<'a>,
        /// The tool failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
        /// A prompt-cache breakpoint.
        #[serde(skip_serializing_if = "Option::is_none")]
        cache_control: Option<&'a PromptCacheMark>,
    },
}

impl<'a> RequestBlock<'a> {
    /// A text block.
    pub fn text(text: &'a str) -> Self {
        Self::Text {
            text,
            citations: None,
            cache_control: None,
        }
    }

    /// An image block.
    pub fn image(source: ImageSource<'a>) -> Self {
        Self::Image {
            source,
            cache_control: None,
        }
    }

    /// A `tool_use` block.
    pub fn tool_use(id: &'a str, name: &'a str, input: Value) -> Self {
        Self::ToolUse {
            id,
            name,
            input,
            cache_control: None,
        }
    }

    /// A `tool_result` block.
    pub fn tool_result(tool_use_id: &'a str, content: ToolResultContent<'a>) -> Self {
        Self::ToolResult {
            tool_use_id,
            content,
            is_error: None,
            cache_control: None,
        }
    }

    /// Writes the fields of `extra` (the core request's [`ElementExtra`] for this block) that
    /// this kind of block has: `cache_control` on any but thinking, `citations` on text,
    /// `is_error` on a tool result.
    pub fn mark(&mut self, extra: Option<&'a ElementExtra>) {
        let Some(e) = extra else { return };
        let mark = e.cache_control.as_ref();
        match self {
            Self::Text {
                citations,
                cache_control,
                ..
            } => {
                *citations = e.citations.as_deref();
                *cache_control = mark;
            }
            Self::Image { cache_control, .. } | Self::ToolUse { cache_control, .. } => {
                *cache_control = mark;
            }
            Self::ToolResult {
                is_error,
                cache_control,
                ..
            } => {
                *is_error = e.is_error;
                *cache_control = mark;
            }
            Self::Thinking { .. } | Self::RedactedThinking { .. } => {}
        }
    }
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource<'a> {
    /// Inline base64.
    Base64 {
        /// `image/png`…
        media_type: &'a str,
        /// The bytes, base64.
        data: &'a str,
    },
    /// Fetched by Anthropic.
    Url {
        /// The URL.
        url: &'a str,
    },
}

/// A tool result: a string, or text and image blocks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ToolResultContent<'a> {
    /// Plain text.
    Text(&'a str),
    /// Blocks.
    Blocks(Vec<RequestBlock<'a>>),
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tool<'a> {
    /// Its name.
    pub name: &'a str,
    /// What it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Cow<'a, str>>,
    /// JSON Schema of its input.
    pub input_schema: Cow<'a, Value>,
    /// Strict schema adherence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// A prompt-cache breakpoint (caches the tools up to this one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<&'a PromptCacheMark>,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolChoice<'a> {
    /// `auto`, `any`, `none` or `tool`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The tool, for `tool`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// At most one tool call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_parallel_tool_use: Option<bool>,
}

impl<'a> ToolChoice<'a> {
    /// A choice of `kind` (no tool name, parallel use allowed).
    pub fn of(kind: &'static str) -> Self {
        Self {
            kind,
            name: None,
            disable_parallel_tool_use: None,
        }
    }

    /// `{"type": "tool", "name": name}`.
    pub fn tool(name: &'a str) -> Self {
        Self {
            name: Some(name),
            ..Self::of("tool")
        }
    }
}
