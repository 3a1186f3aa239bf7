//! The Messages API request body, typed, with unknown fields kept (`#[serde(flatten)]`) so a
//! body re-serialises to what the client sent.
//!
//! Reference: <https://docs.anthropic.com/en/api/messages>.

use runtime_core::PromptCacheMark;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

/// A string or a list (`system`, a message's `content`, a tool result's `content`).
#[derive(Debug, Clone, PartialEq)]
pub enum StringOr<T> {
    /// The short form: one string.
    String(String),
    /// The long form: a list of blocks.
    List(Vec<T>),
}

impl<T: Serialize> Serialize for StringOr<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StringOr::String(text) => s.serialize_str(text),
            StringOr::List(list) => list.serialize(s),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for StringOr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = StringOr<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or a list of blocks")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOr::String(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StringOr::String(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(StringOr::List(out))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `POST /v1/messages`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    /// The model (a provider model id or a logical model of the gateway).
    pub model: String,
    /// Most tokens to generate (required by the API).
    pub max_tokens: u32,
    /// The conversation.
    pub messages: Vec<InputMessage>,
    /// The system prompt: a string or text blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<StringOr<TextBlock>>,
    /// `user_id` and any other metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Custom stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    /// Stream the answer as SSE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Tools the model may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// How the model must use tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Extended thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    /// Automatic prompt caching: the breakpoint goes on the last cacheable block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<PromptCacheMark>,
    /// Any other field (`service_tier`, `container`, `context_management`…), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `POST /v1/messages/count_tokens`: a Messages request without `max_tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountTokensRequest {
    /// The model.
    pub model: String,
    /// The conversation.
    pub messages: Vec<InputMessage>,
    /// The system prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<StringOr<TextBlock>>,
    /// Tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Tool choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Extended thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<Thinking>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CountTokensRequest {
    /// The same conversation as a Messages request (`max_tokens` 1: counting generates nothing).
    pub fn to_messages_request(&self) -> MessagesRequest {
        MessagesRequest {
            model: self.model.clone(),
            max_tokens: 1,
            messages: self.messages.clone(),
            system: self.system.clone(),
            metadata: None,
            stop_sequences: None,
            stream: None,
            temperature: None,
            top_p: None,
            top_k: None,
            tools: self.tools.clone(),
            tool_choice: self.tool_choice.clone(),
            thinking: self.thinking.clone(),
            cache_control: None,
            extra: self.extra.clone(),
        }
    }
}

/// Who speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The user (and tool results).
    User,
    /// The model.
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputMessage {
    /// `user` or `assistant`.
    pub role: Role,
    /// A string or content blocks.
    pub content: StringOr<ContentBlock>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `metadata`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// An opaque end-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A content block. Block types the gateway does not model are kept whole in
/// [`ContentBlock::Other`]; a block of a known type with a wrong field is an error naming it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    /// Text.
    Text(TextBlock),
    /// An image.
    Image(ImageBlock),
    /// A document (PDF, plain text, content blocks).
    Document(DocumentBlock),
    /// A call of a client tool (in assistant turns).
    ToolUse(ToolUseBlock),
    /// The result of a tool call (in user turns).
    ToolResult(ToolResultBlock),
    /// Extended thinking of an earlier answer, with its signature.
    Thinking(ThinkingBlock),
    /// Encrypted thinking of an earlier answer.
    RedactedThinking(RedactedThinkingBlock),
    /// Any other block (`server_tool_use`, `web_search_tool_result`, `search_result`…), as sent.
    #[serde(untagged)]
    Other(Map<String, Value>),
}

fn block<'de, T: Deserialize<'de>, E: de::Error>(
    kind: &str,
    map: Map<String, Value>,
) -> Result<T, E> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            E::custom(format!("{kind} block: {}", e.into_inner()))
        } else {
            E::custom(format!("{kind} block, `{path}`: {}", e.into_inner()))
        }
    })
}

impl<'de> Deserialize<'de> for ContentBlock {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let kind = match map.get("type") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(de::Error::custom("block `type` must be a string")),
            None => return Err(de::Error::missing_field("type")),
        };
        let known = [
            "text",
            "image",
            "document",
            "tool_use",
            "tool_result",
            "thinking",
            "redacted_thinking",
        ];
        if !known.contains(&kind.as_str()) {
            return Ok(ContentBlock::Other(map));
        }
        map.remove("type");
        Ok(match kind.as_str() {
            "text" => ContentBlock::Text(block(&kind, map)?),
            "image" => ContentBlock::Image(block(&kind, map)?),
            "document" => ContentBlock::Document(block(&kind, map)?),
            "tool_use" => ContentBlock::ToolUse(block(&kind, map)?),
            "tool_result" => ContentBlock::ToolResult(block(&kind, map)?),
            "thinking" => ContentBlock::Thinking(block(&kind, map)?),
            _ => ContentBlock::RedactedThinking(block(&kind, map)?),
        })
    }
}

/// A text block (also the blocks of `system`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBlock {
    /// The text.
    pub text: String,
    /// A prompt-cache breakpoint after this block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<PromptCacheMark>,
    /// Citations (on text blocks of earlier answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citations: Option<Vec<Value>>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    /// Inline bytes.
    Base64 {
        /// `image/png`, `image/jpeg`, `image/gif`, `image/webp`.
        media_type: String,
        /// Base64 data.
        data: String,
    },
    /// A URL the provider fetches.
    Url {
        /// The URL.
        url: String,
    },
    /// A file uploaded through Anthropic's Files API.
    File {
        /// The file id.
        file_id: String,
    },
}

/// An image block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageBlock {
    /// The image.
    pub source: ImageSource,
    /// A prompt-cache breakpoint after this block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<PromptCacheMark>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A document block (kept as sent: core has no document part yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentBlock {
    /// The document's source (`base64`, `text`, `url`, `content`, `file`).
    pub source: Value,
    /// Any other field (`title`, `context`, `citations`, `cache_control`), as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool call of an earlier answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolUseBlock {
    /// `toolu_…`.
    pub id: String,
    /// The tool.
    pub name: String,
    /// Its input (an object).
    #[serde(default)]
    pub input: Value,
    /// A prompt-cache breakpoint after this block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<PromptCacheMark>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The result of a tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResultBlock {
    /// The `tool_use` block this answers.
    pub tool_use_id: String,
    /// The result: a string or text / image blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<StringOr<ContentBlock>>,
    /// The tool failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// A prompt-cache breakpoint after this block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<PromptCacheMark>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Thinking of an earlier answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThinkingBlock {
    /// The thinking text.
    #[serde(default)]
    pub thinking: String,
    /// Anthropic's signature (required to send thinking back).
    #[serde(default)]
    pub signature: String,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Encrypted thinking of an earlier answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedactedThinkingBlock {
    /// The encrypted thinking.
    pub data: String,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool: a client tool (`input_schema`, no `type` or `type: custom`) or one of Anthropic's
/// own (`web_search_…`, `bash_…`, `text_editor_…`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The tool's name.
    pub name: String,
    /// Absent or `custom` for client tools; the versioned type of Anthropic's tools.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its input (required for client tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    /// Strict schema adherence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// A prompt-cache breakpoint after this tool definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<PromptCacheMark>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `tool_choice`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides.
    Auto {
        /// At most one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// At least one tool call.
    Any {
        /// Exactly one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// This tool.
    Tool {
        /// The tool's name.
        name: String,
        /// Exactly one tool call.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    /// No tool calls.
    None,
}

/// `thinking`: `{"type": "enabled", "budget_tokens": n}` or `{"type": "disabled"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thinking {
    /// `enabled` or `disabled`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Tokens the model may think with (at least 1024, below `max_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_tokens: Option<u32>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
