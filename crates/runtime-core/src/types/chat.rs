//! Chat requests and responses.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::serde_util::one_or_many;
use super::usage::Usage;

/// A chat request, in the shape OpenAI's `POST /v1/chat/completions` accepts.
///
/// Fields a provider cannot express make that provider return
/// [`Error::InvalidRequest`](crate::Error::InvalidRequest) or
/// [`Error::Unsupported`](crate::Error::Unsupported); they are never dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model: a provider model id, or a logical model the router resolves.
    pub model: String,
    /// The conversation so far.
    pub messages: Vec<Message>,
    /// Functions the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolDefinition>,
    /// Whether and which tool the model must call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may call several tools in one turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Plain text, any JSON object, or JSON matching a schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Most tokens to generate (OpenAI's `max_tokens` or `max_completion_tokens`).
    #[serde(
        default,
        alias = "max_completion_tokens",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_tokens: Option<u32>,
    /// Stop sequences (a string or a list on the wire).
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub stop: Vec<String>,
    /// Seed for reproducible sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// An end-user id, forwarded to providers that accept one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Whether the caller wants a stream. Library callers choose
    /// [`Provider::chat_stream`](crate::Provider::chat_stream) instead; the gateway reads this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// OpenAI's `stream_options` (`include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Fields pinned to one message part, tool call or tool that core has no type for
    /// (Anthropic's `cache_control`, a tool result's `is_error`, replayed `citations`); see
    /// [`ElementExtra`](super::ElementExtra). Providers that cannot express them ignore them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub element_extras: Vec<super::element::ElementExtra>,
    /// Provider-specific fields, passed through to providers that know them
    /// (for example `top_k`, `reasoning_effort`, `n`, `logprobs`, and Anthropic's
    /// `thinking` object `{"type": "enabled", "budget_tokens": n}`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatRequest {
    /// A request for `model` with the given messages.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        Self {
            model: model.into(),
            messages,
            ..Self::default()
        }
    }
}

/// OpenAI's `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with the usage of the whole request.
    #[serde(default)]
    pub include_usage: bool,
}

/// One message of a conversation, tagged by its `role`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
#[non_exhaustive]
pub enum Message {
    /// Instructions for the model (`developer` is accepted as a synonym).
    #[serde(alias = "developer")]
    System {
        /// The instructions.
        content: Content,
        /// Optional participant name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// What the user says: text, images.
    User {
        /// The user's content.
        content: Content,
        /// Optional participant name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// An earlier answer of the model, with its tool calls and reasoning.
    Assistant(AssistantMessage),
    /// The result of a tool call.
    Tool {
        /// The result.
        content: Content,
        /// Which call this answers.
        tool_call_id: String,
        /// The called function's name (some providers need it; filled from the history if absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
}

impl Message {
    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Message::System {
            content: Content::Text(text.into()),
            name: None,
        }
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Message::User {
            content: Content::Text(text.into()),
            name: None,
        }
    }

    /// An assistant message with text only.
    pub fn assistant(text: impl Into<String>) -> Self {
        Message::Assistant(AssistantMessage {
            content: Some(Content::Text(text.into())),
            ..AssistantMessage::default()
        })
    }

    /// A tool result.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message::Tool {
            content: Content::Text(content.into()),
            tool_call_id: tool_call_id.into(),
            name: None,
        }
    }

    /// The role as OpenAI names it.
    pub fn role(&self) -> &'static str {
        match self {
            Message::System { .. } => "system",
            Message::User { .. } => "user",
            Message::Assistant(_) => "assistant",
            Message::Tool { .. } => "tool",
        }
    }
}

/// The model's side of a turn: text, reasoning, tool calls.
///
/// The same type is the answer in [`ChatResponse`] and, pushed back into the history, the
/// assistant message of the next request, so reasoning signatures survive the round trip.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// The text of the answer (`null` when the turn is only tool calls).
    #[serde(default)]
    pub content: Option<Content>,
    /// Reasoning ("thinking") the provider returned, with signatures where it signs them.
    #[serde(
        default,
        rename = "thinking_blocks",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub reasoning: Vec<ReasoningBlock>,
    /// Calls the model wants made.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// A refusal message, where the provider separates it from content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Optional participant name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl AssistantMessage {
    /// The text content, parts joined.
    pub fn text(&self) -> Option<String> {
        self.content.as_ref().map(Content::to_text)
    }

    /// All reasoning text joined, or `None` when there is none.
    pub fn reasoning_text(&self) -> Option<String> {
        let text: String = self
            .reasoning
            .iter()
            .filter_map(|b| b.text.as_deref())
            .collect();
        (!self.reasoning.is_empty()).then_some(text)
    }
}

/// One block of model reasoning.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasoningBlock {
    /// Always `"thinking"` or `"redacted_thinking"` on the wire.
    #[serde(rename = "type", default = "thinking_type")]
    pub kind: String,
    /// The reasoning text (absent for redacted blocks).
    #[serde(default, rename = "thinking", skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The provider's signature over it (Anthropic `signature`, Gemini `thoughtSignature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// Encrypted content of a redacted block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
}

fn thinking_type() -> String {
    "thinking".to_owned()
}

impl ReasoningBlock {
    /// A plain reasoning block.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            kind: thinking_type(),
            text: Some(text.into()),
            signature: None,
            data: None,
        }
    }

    /// True for a redacted block.
    pub fn is_redacted(&self) -> bool {
        self.kind == "redacted_thinking"
    }
}

/// Message content: a string, or a list of parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text and image parts.
    Parts(Vec<ContentPart>),
}

impl Default for Content {
    fn default() -> Self {
        Content::Text(String::new())
    }
}

impl Content {
    /// All text parts joined (images are skipped).
    pub fn to_text(&self) -> String {
        match self {
            Content::Text(s) => s.clone(),
            Content::Parts(parts) => parts
                .iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                })
                .collect(),
        }
    }

    /// The content as a list of parts.
    pub fn parts(&self) -> Vec<ContentPart> {
        match self {
            Content::Text(s) => vec![ContentPart::Text { text: s.clone() }],
            Content::Parts(p) => p.clone(),
        }
    }

    /// True when the content holds an image.
    pub fn has_image(&self) -> bool {
        matches!(self, Content::Parts(p) if p.iter().any(|p| matches!(p, ContentPart::ImageUrl { .. })))
    }
}

impl From<String> for Content {
    fn from(s: String) -> Self {
        Content::Text(s)
    }
}

impl From<&str> for Content {
    fn from(s: &str) -> Self {
        Content::Text(s.to_owned())
    }
}

/// One part of a message's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContentPart {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, by URL or as a `data:` URL with base64 bytes.
    ImageUrl {
        /// Where the image is.
        image_url: ImageUrl,
    },
}

impl ContentPart {
    /// An image given by URL.
    pub fn image_url(url: impl Into<String>) -> Self {
        ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: url.into(),
                detail: None,
            },
        }
    }

    /// An image given as bytes, encoded as a `data:` URL.
    pub fn image_base64(mime_type: &str, base64_data: &str) -> Self {
        Self::image_url(format!("data:{mime_type};base64,{base64_data}"))
    }
}

/// OpenAI's `image_url` object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageUrl {
    /// An `https:` URL or a `data:<mime>;base64,<data>` URL.
    pub url: String,
    /// `auto`, `low` or `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Where an image's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource<'a> {
    /// Fetched by the provider from this URL.
    Url(&'a str),
    /// Inline bytes.
    Base64 {
        /// The MIME type, e.g. `image/png`.
        mime_type: &'a str,
        /// Base64 data.
        data: &'a str,
    },
}

impl ImageUrl {
    /// Splits a `data:` URL into MIME type and base64 data; any other URL is a plain URL.
    pub fn source(&self) -> ImageSource<'_> {
        if let Some(rest) = self.url.strip_prefix("data:") {
            if let Some((meta, data)) = rest.split_once(',') {
                if let Some(mime) = meta.strip_suffix(";base64") {
                    return ImageSource::Base64 {
                        mime_type: mime,
                        data,
                    };
                }
            }
        }
        ImageSource::Url(&self.url)
    }
}

/// A function the model may call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// Always `"function"`.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// The function.
    pub function: FunctionDefinition,
}

impl ToolDefinition {
    /// A function tool.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
    ) -> Self {
        Self {
            kind: function_type(),
            function: FunctionDefinition {
                name: name.into(),
                description: Some(description.into()),
                parameters: Some(parameters),
                strict: None,
            },
        }
    }
}

pub(crate) fn function_type() -> String {
    "function".to_owned()
}

/// Name, description and JSON Schema of a function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// The function's name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// OpenAI structured-outputs strictness.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// Whether and which tool the model must call.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolChoice {
    /// The model decides.
    Auto,
    /// No tool calls.
    None,
    /// At least one tool call.
    Required,
    /// This function.
    Function(String),
}

impl Serialize for ToolChoice {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ToolChoice::Auto => s.serialize_str("auto"),
            ToolChoice::None => s.serialize_str("none"),
            ToolChoice::Required => s.serialize_str("required"),
            ToolChoice::Function(name) => serde_json::json!({
                "type": "function",
                "function": { "name": name }
            })
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for ToolChoice {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Named {
            name: String,
        }
        #[derive(Deserialize)]
        struct Obj {
            function: Named,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Str(String),
            Obj(Obj),
        }
        match Raw::deserialize(d)? {
            Raw::Str(s) => match s.as_str() {
                "auto" => Ok(ToolChoice::Auto),
                "none" => Ok(ToolChoice::None),
                "required" | "any" => Ok(ToolChoice::Required),
                other => Err(serde::de::Error::custom(format!(
                    "unknown tool_choice `{other}`, expected auto, none, required or an object"
                ))),
            },
            Raw::Obj(o) => Ok(ToolChoice::Function(o.function.name)),
        }
    }
}

/// A call the model asked for, in OpenAI's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id; tool results answer it.
    pub id: String,
    /// Always `"function"`.
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    /// Name and arguments.
    pub function: FunctionCall,
    /// Gemini's `thoughtSignature` on the call, echoed back in the next turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
}

impl ToolCall {
    /// A function call.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            kind: function_type(),
            function: FunctionCall {
                name: name.into(),
                arguments: arguments.into(),
            },
            thought_signature: None,
        }
    }
}

/// The function a call names and its arguments.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// The function's name.
    pub name: String,
    /// Arguments as a JSON text (OpenAI's convention; may be `"{}"`).
    #[serde(default)]
    pub arguments: String,
}

/// The requested output format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid against a schema.
    JsonSchema {
        /// The schema and its name.
        json_schema: JsonSchemaFormat,
    },
}

/// A named JSON Schema for structured output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// The schema's name.
    pub name: String,
    /// What it is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Whether the provider must follow the schema exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum FinishReason {
    /// A natural stop or a stop sequence.
    #[default]
    Stop,
    /// The token limit.
    Length,
    /// The model called tools.
    ToolCalls,
    /// Output was filtered.
    ContentFilter,
    /// Anything else, as the provider said it.
    Other(String),
}

impl FinishReason {
    /// The OpenAI spelling.
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other(s) => s,
        }
    }

    /// Parses OpenAI's spelling (`function_call` counts as tool calls).
    pub fn from_openai(s: &str) -> Self {
        match s {
            "stop" => FinishReason::Stop,
            "length" => FinishReason::Length,
            "tool_calls" | "function_call" => FinishReason::ToolCalls,
            "content_filter" => FinishReason::ContentFilter,
            other => FinishReason::Other(other.to_owned()),
        }
    }
}

impl Serialize for FinishReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FinishReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(FinishReason::from_openai(&s))
    }
}

/// A complete chat answer (one choice).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The provider's response id.
    pub id: String,
    /// The model that answered, as the provider names it.
    pub model: String,
    /// Unix seconds.
    pub created: i64,
    /// The answer.
    pub message: AssistantMessage,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
    /// Token counts, when the provider reported them.
    pub usage: Option<Usage>,
    /// Which provider, deployment and attempt served it.
    #[serde(default)]
    pub meta: ResponseMeta,
}

/// Well-known keys of [`ResponseMeta::annotations`], shared by the providers that write them
/// and the client dialects that read them.
pub mod annotation {
    /// The stop sequence that ended the answer (a string).
    pub const STOP_SEQUENCE: &str = "stop_sequence";
    /// The provider's own stop reason when the core [`FinishReason`](super::FinishReason) folds
    /// several into one (Anthropic `pause_turn`, `stop_sequence`, `refusal`): a string.
    pub const STOP_REASON: &str = "stop_reason";
    /// Citations of the answer's text: a list of `{"start": n, "end": n, "citations": [..]}`,
    /// `start`/`end` byte offsets into the answer text (one entry per cited text block), the
    /// citation objects as the provider sent them.
    pub const CITATIONS: &str = "citations";
    /// Content blocks without a core equivalent (server tool use and results), as sent.
    pub const CONTENT_BLOCKS: &str = "content_blocks";
}

/// Where an answer came from: filled by providers and by the router and cache layers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseMeta {
    /// The provider instance that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The router deployment that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// How many attempts the router made (1 when there was no retry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// True when served from the response cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit: Option<bool>,
    /// The upstream's request id, for support tickets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_request_id: Option<String>,
    /// Provider-specific annotations (e.g. Azure content-filter results).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_openai_request() {
        let req: ChatRequest = serde_json::from_value(json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": "c1", "content": "42"}
            ],
            "stop": "END",
            "max_completion_tokens": 10,
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            "n": 1
        }))
        .unwrap();
        assert_eq!(req.stop, vec!["END"]);
        assert_eq!(req.max_tokens, Some(10));
        assert_eq!(req.tool_choice, Some(ToolChoice::Function("f".into())));
        assert_eq!(req.extra.get("n"), Some(&json!(1)));
        assert!(matches!(&req.messages[0], Message::System { .. }));
        let Message::User { content, .. } = &req.messages[1] else {
            panic!("user")
        };
        let Content::Parts(parts) = content else {
            panic!("parts")
        };
        let ContentPart::ImageUrl { image_url } = &parts[1] else {
            panic!("image")
        };
        assert_eq!(
            image_url.source(),
            ImageSource::Base64 {
                mime_type: "image/png",
                data: "AAAA"
            }
        );
        let Message::Assistant(a) = &req.messages[2] else {
            panic!("assistant")
        };
        assert_eq!(a.tool_calls[0].function.name, "f");
    }

    #[test]
    fn wrong_types_are_errors() {
        let err = serde_json::from_value::<ChatRequest>(json!({
            "model": "m", "messages": [], "temperature": "hot"
        }));
        assert!(err.is_err());
        let err = serde_json::from_value::<ChatRequest>(json!({
            "model": "m", "messages": [{"role": "wizard", "content": "x"}]
        }));
        assert!(err.is_err());
    }

    #[test]
    fn finish_reason_round_trip() {
        for s in ["stop", "length", "tool_calls", "content_filter", "weird"] {
            let f: FinishReason = serde_json::from_value(json!(s)).unwrap();
            assert_eq!(serde_json::to_value(&f).unwrap(), json!(s));
        }
        assert_eq!(
            FinishReason::from_openai("function_call"),
            FinishReason::ToolCalls
        );
    }

    #[test]
    fn tool_choice_forms() {
        for (v, want) in [
            (json!("auto"), ToolChoice::Auto),
            (json!("none"), ToolChoice::None),
            (json!("required"), ToolChoice::Required),
        ] {
            let got: ToolChoice = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(got, want);
            assert_eq!(serde_json::to_value(&got).unwrap(), v);
        }
        assert!(serde_json::from_value::<ToolChoice>(json!("sometimes")).is_err());
    }
}
