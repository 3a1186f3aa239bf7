//! The Responses API request body, typed, with unknown fields kept (`#[serde(flatten)]`).
//!
//! Reference: <https://platform.openai.com/docs/api-reference/responses/create>.

use runtime_core::PromptCacheMark;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::anthropic_messages::types::StringOr;

/// `POST /v1/responses`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponsesRequest {
    /// The model.
    pub model: String,
    /// A string (one user message) or a list of items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<StringOr<InputItem>>,
    /// A system (developer) message put first. Not inherited through `previous_response_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// `auto`, `none`, `required` or `{"type": "function", "name"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// Output format (`text.format`) and verbosity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// Reasoning effort and summaries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<ReasoningConfig>,
    /// Most output tokens (reasoning included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Whether several tool calls may come in one turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Keep the response for `previous_response_id` and `GET /v1/responses/{id}` (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// Continue from a stored response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Key-value pairs stored with the response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    /// Stream the answer as semantic events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// An end-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Extra output to include (`reasoning.encrypted_content`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    /// `auto` or `disabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<String>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Set by [`prepend_history`](super::request::prepend_history) once the items of
    /// `previous_response_id` were put before `input`.
    #[serde(skip)]
    pub history_resolved: bool,
}

/// `text`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TextConfig {
    /// The output format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    /// `low`, `medium`, `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<String>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `text.format`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TextFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid against a schema.
    JsonSchema {
        /// The schema's name.
        name: String,
        /// The schema.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        schema: Option<Value>,
        /// What it is for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Strict adherence.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<bool>,
    },
}

/// `reasoning`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReasoningConfig {
    /// `none`, `minimal`, `low`, `medium`, `high`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    /// `auto`, `concise`, `detailed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// Any other field (`generate_summary`…), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A tool: a function, or one of OpenAI's hosted tools (kept as sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// `function`, `web_search`, `file_search`, `mcp`…
    #[serde(rename = "type")]
    pub kind: String,
    /// The function's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema of its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// Strict schema adherence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Anthropic-style prompt-cache breakpoint (a LiteLLM convention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<PromptCacheMark>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Who speaks in a message item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageRole {
    /// The user.
    User,
    /// The model.
    Assistant,
    /// System instructions.
    System,
    /// Developer instructions (a system message for core).
    Developer,
}

/// An input item. Item types the gateway does not model are kept whole in
/// [`InputItem::Other`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputItem {
    /// A message (`{"type": "message", "role", "content"}`).
    Message(MessageItem),
    /// A function call of an earlier answer.
    FunctionCall(FunctionCallItem),
    /// The output of a function call.
    FunctionCallOutput(FunctionCallOutputItem),
    /// Reasoning of an earlier answer.
    Reasoning(ReasoningItem),
    /// A message in the "easy" form, without `type` (kept so the body re-serialises as sent).
    #[serde(untagged)]
    EasyMessage(MessageItem),
    /// Any other item (`item_reference`, hosted tool calls…), as sent.
    #[serde(untagged)]
    Other(Map<String, Value>),
}

fn item<'de, T: Deserialize<'de>, E: de::Error>(
    kind: &str,
    map: Map<String, Value>,
) -> Result<T, E> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            E::custom(format!("{kind}: {}", e.into_inner()))
        } else {
            E::custom(format!("{kind}, `{path}`: {}", e.into_inner()))
        }
    })
}

impl<'de> Deserialize<'de> for InputItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let kind = match map.get("type") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(de::Error::custom("item `type` must be a string")),
            None if map.contains_key("role") => {
                return Ok(InputItem::EasyMessage(item("message", map)?));
            }
            None => return Err(de::Error::missing_field("type")),
        };
        let known = [
            "message",
            "function_call",
            "function_call_output",
            "reasoning",
        ];
        if !known.contains(&kind.as_str()) {
            return Ok(InputItem::Other(map));
        }
        map.remove("type");
        Ok(match kind.as_str() {
            "message" => InputItem::Message(item("message item", map)?),
            "function_call" => InputItem::FunctionCall(item("function_call item", map)?),
            "function_call_output" => {
                InputItem::FunctionCallOutput(item("function_call_output item", map)?)
            }
            _ => InputItem::Reasoning(item("reasoning item", map)?),
        })
    }
}

/// A message item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    /// Who speaks.
    pub role: MessageRole,
    /// A string or content parts.
    pub content: StringOr<ContentPart>,
    /// The item id (on items of earlier answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The item status (on items of earlier answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Any other field (`phase`…), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A content part of a message item (or of a function call's output).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Text in a user, system or developer message.
    InputText(InputText),
    /// An image by URL (or `data:` URL) or file id.
    InputImage(InputImage),
    /// Text of an earlier answer.
    OutputText(OutputText),
    /// A refusal of an earlier answer.
    Refusal(RefusalPart),
    /// Any other part (`input_file`, `input_audio`…), as sent.
    #[serde(untagged)]
    Other(Map<String, Value>),
}

impl<'de> Deserialize<'de> for ContentPart {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(d)?;
        let kind = match map.get("type") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(de::Error::custom("part `type` must be a string")),
            None => return Err(de::Error::missing_field("type")),
        };
        let known = ["input_text", "input_image", "output_text", "refusal"];
        if !known.contains(&kind.as_str()) {
            return Ok(ContentPart::Other(map));
        }
        map.remove("type");
        Ok(match kind.as_str() {
            "input_text" => ContentPart::InputText(item("input_text part", map)?),
            "input_image" => ContentPart::InputImage(item("input_image part", map)?),
            "output_text" => ContentPart::OutputText(item("output_text part", map)?),
            _ => ContentPart::Refusal(item("refusal part", map)?),
        })
    }
}

/// `input_text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputText {
    /// The text.
    pub text: String,
    /// OpenAI's explicit prompt-cache breakpoint (`{"mode": "explicit"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_breakpoint: Option<Value>,
    /// Anthropic-style prompt-cache breakpoint (a LiteLLM convention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<PromptCacheMark>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `input_image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputImage {
    /// An `https:` or `data:` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    /// A file uploaded to OpenAI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
    /// `low`, `high`, `auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// OpenAI's explicit prompt-cache breakpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_breakpoint: Option<Value>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `output_text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputText {
    /// The text.
    pub text: String,
    /// Citations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<Value>>,
    /// Any other field (`logprobs`…), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `refusal`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalPart {
    /// The refusal.
    pub refusal: String,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `function_call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallItem {
    /// The id the output answers.
    pub call_id: String,
    /// The function.
    pub name: String,
    /// Arguments as JSON text.
    pub arguments: String,
    /// The item id (`fc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The item status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `function_call_output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallOutputItem {
    /// The call this answers.
    pub call_id: String,
    /// A string, or text / image parts.
    pub output: StringOr<ContentPart>,
    /// The item id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The item status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Any other field, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One part of a reasoning summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryText {
    /// Always `summary_text`.
    #[serde(rename = "type", default = "summary_text")]
    pub kind: String,
    /// The text.
    pub text: String,
}

fn summary_text() -> String {
    "summary_text".to_owned()
}

/// `reasoning`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningItem {
    /// The item id (`rs_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The summary.
    #[serde(default)]
    pub summary: Vec<SummaryText>,
    /// The encrypted reasoning, passed back untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    /// Raw reasoning text parts (`reasoning_text`), from servers that expose them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Vec<Value>>,
    /// Any other field (`status`…), kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
