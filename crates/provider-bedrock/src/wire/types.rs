//! The Converse API's JSON shapes (request side serialized, response side deserialized).
//!
//! One wire for every model family on Bedrock: the
//! [Converse](https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html)
//! request and response.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A Converse (or ConverseStream) request body.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseRequest {
    /// The conversation.
    pub messages: Vec<WireMessage>,
    /// System prompts (and cache points between them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub system: Vec<SystemBlock>,
    /// Sampling and length.
    #[serde(skip_serializing_if = "InferenceConfig::is_empty")]
    pub inference_config: InferenceConfig,
    /// Tools and the tool choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    /// Passed through from `guardrailConfig` in the request's extra fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guardrail_config: Option<Value>,
    /// Model-specific fields (Claude's `thinking`, `top_k`, …).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub additional_model_request_fields: Map<String, Value>,
    /// Other documented Converse fields passed through (`additionalModelResponseFieldPaths`,
    /// `promptVariables`, `requestMetadata`, `performanceConfig`, `serviceTier`).
    #[serde(flatten)]
    pub passthrough: Map<String, Value>,
}

/// Sampling and length settings.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceConfig {
    /// Most tokens to generate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
}

impl InferenceConfig {
    fn is_empty(&self) -> bool {
        self.max_tokens.is_none()
            && self.temperature.is_none()
            && self.top_p.is_none()
            && self.stop_sequences.is_empty()
    }
}

/// A system block.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SystemBlock {
    /// A system prompt.
    Text(String),
    /// A prompt-cache checkpoint.
    CachePoint(CachePoint),
}

/// A prompt-cache checkpoint (`{"type": "default"}`).
#[derive(Debug, Clone, Serialize)]
pub struct CachePoint {
    /// Always `default`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl CachePoint {
    /// The one kind of checkpoint.
    pub const DEFAULT: CachePoint = CachePoint { kind: "default" };
}

/// A message of the conversation.
#[derive(Debug, Clone, Serialize)]
pub struct WireMessage {
    /// `user` or `assistant`.
    pub role: &'static str,
    /// Its blocks.
    pub content: Vec<Block>,
}

/// A content block of a request message.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Block {
    /// Text.
    Text(String),
    /// An image.
    Image(MediaBlock),
    /// A document (PDF, text, office formats).
    Document(DocumentBlock),
    /// A call the assistant made.
    ToolUse(ToolUse),
    /// A tool's result.
    ToolResult(ToolResult),
    /// Earlier reasoning, sent back with its signature.
    ReasoningContent(ReasoningBlock),
    /// A prompt-cache checkpoint.
    CachePoint(CachePoint),
}

/// An image: its format and bytes (base64) or S3 location.
#[derive(Debug, Clone, Serialize)]
pub struct MediaBlock {
    /// `png`, `jpeg`, `gif` or `webp`.
    pub format: String,
    /// Where the bytes are.
    pub source: Source,
}

/// A document.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentBlock {
    /// `pdf`, `csv`, `doc`, `docx`, `xls`, `xlsx`, `html`, `txt` or `md`.
    pub format: String,
    /// A name (Bedrock requires one).
    pub name: String,
    /// Where the bytes are.
    pub source: Source,
}

/// Bytes inline (base64) or in S3.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// Base64 bytes.
    Bytes(String),
    /// An `s3://` URI.
    S3Location {
        /// The URI.
        uri: String,
    },
}

/// A tool call in an assistant message.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUse {
    /// The call id.
    pub tool_use_id: String,
    /// The tool.
    pub name: String,
    /// The arguments (a JSON value).
    pub input: Value,
}

/// A tool result in a user message.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    /// The call answered.
    pub tool_use_id: String,
    /// Its content.
    pub content: Vec<ToolResultContent>,
    /// `success` or `error`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

/// A block of a tool result.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolResultContent {
    /// Text.
    Text(String),
    /// An image.
    Image(MediaBlock),
    /// A document.
    Document(DocumentBlock),
}

/// Earlier reasoning: its text and signature, or the redacted bytes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReasoningBlock {
    /// Readable reasoning.
    ReasoningText {
        /// The text.
        text: String,
        /// Its signature.
        #[serde(skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Encrypted reasoning (base64).
    RedactedContent(String),
}

/// Tools and the choice among them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    /// The tools (and cache points).
    pub tools: Vec<ToolEntry>,
    /// How the model may call them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
}

/// A tool or a cache point in the tool list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ToolEntry {
    /// A tool.
    ToolSpec(ToolSpec),
    /// A prompt-cache checkpoint.
    CachePoint(CachePoint),
}

/// A tool's declaration.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec {
    /// Its name.
    pub name: String,
    /// What it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `{"json": <JSON schema>}`.
    pub input_schema: Value,
}

// ---- responses ----

/// A Converse response body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConverseResponse {
    /// The answer.
    #[serde(default)]
    pub output: Option<Output>,
    /// Why it stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<WireUsage>,
    /// Fields asked for with `additionalModelResponseFieldPaths`.
    #[serde(default)]
    pub additional_model_response_fields: Option<Value>,
    /// The guardrail trace, when tracing was asked for.
    #[serde(default)]
    pub trace: Option<Value>,
}

/// `output` of a response.
#[derive(Debug, Deserialize)]
pub struct Output {
    /// The assistant message.
    #[serde(default)]
    pub message: Option<OutputMessage>,
}

/// The assistant's message.
#[derive(Debug, Deserialize)]
pub struct OutputMessage {
    /// Its blocks.
    #[serde(default)]
    pub content: Vec<OutputBlock>,
}

/// A content block of a response (unknown blocks are kept as JSON).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputBlock {
    /// Text.
    #[serde(default)]
    pub text: Option<String>,
    /// A tool call.
    #[serde(default)]
    pub tool_use: Option<OutputToolUse>,
    /// Reasoning.
    #[serde(default)]
    pub reasoning_content: Option<OutputReasoning>,
}

/// A tool call in a response.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputToolUse {
    /// The call id.
    pub tool_use_id: String,
    /// The tool.
    pub name: String,
    /// The arguments, kept as sent.
    pub input: Box<RawValue>,
}

/// Reasoning in a response.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputReasoning {
    /// Readable reasoning.
    #[serde(default)]
    pub reasoning_text: Option<ReasoningText>,
    /// Encrypted reasoning (base64).
    #[serde(default)]
    pub redacted_content: Option<String>,
}

/// Reasoning text and its signature.
#[derive(Debug, Deserialize)]
pub struct ReasoningText {
    /// The text.
    #[serde(default)]
    pub text: String,
    /// The signature.
    #[serde(default)]
    pub signature: Option<String>,
}

/// Token counts. `inputTokens` leaves out cache reads and writes (`totalTokens` has them).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireUsage {
    /// Uncached input.
    #[serde(default)]
    pub input_tokens: u64,
    /// Output.
    #[serde(default)]
    pub output_tokens: u64,
    /// All of them.
    #[serde(default)]
    pub total_tokens: Option<u64>,
    /// Input read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: u64,
    /// Input written to the prompt cache.
    #[serde(default)]
    pub cache_write_input_tokens: u64,
}

impl WireUsage {
    /// The core usage: prompt = input + cache reads + cache writes.
    pub fn to_core(self) -> runtime_core::Usage {
        let prompt =
            self.input_tokens + self.cache_read_input_tokens + self.cache_write_input_tokens;
        runtime_core::Usage {
            prompt_tokens: prompt,
            completion_tokens: self.output_tokens,
            total_tokens: self.total_tokens.unwrap_or(prompt + self.output_tokens),
            cached_prompt_tokens: self.cache_read_input_tokens,
            cache_creation_tokens: self.cache_write_input_tokens,
            reasoning_tokens: 0,
        }
    }
}
