//! Gemini's JSON types (camelCase on the wire), shared by requests and responses.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A turn: `role` (`user` or `model`) and its parts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireContent {
    /// `user` or `model` (absent in `systemInstruction` and in blocked candidates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The parts (absent when a candidate was blocked).
    #[serde(default)]
    pub parts: Vec<WirePart>,
}

/// One part of a turn. Exactly one of the data fields is set; `thought` and
/// `thoughtSignature` qualify it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WirePart {
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// True for reasoning ("thought summary") text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// The model's signature over its reasoning, echoed back on the same part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
    /// Inline bytes (images).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Blob>,
    /// Bytes by URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<FileData>,
    /// A call the model asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<WireFunctionCall>,
    /// The result of a call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_response: Option<WireFunctionResponse>,
    /// Code the model wrote for the code-execution tool (never requested by this crate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub executable_code: Option<Value>,
    /// Output of the code-execution tool (never requested by this crate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_execution_result: Option<Value>,
}

/// `inlineData`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    /// MIME type.
    pub mime_type: String,
    /// Base64 data.
    pub data: String,
}

/// `fileData`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    /// MIME type, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    /// The URI.
    pub file_uri: String,
}

/// `functionCall`. In streams with streamed arguments, later parts carry `partialArgs` and
/// no name; `willContinue` says more parts of the same call follow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireFunctionCall {
    /// The call id (Gemini usually sends none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Arguments, an object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    /// Streamed argument pieces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_args: Option<Vec<PartialArg>>,
    /// More parts of this call follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub will_continue: Option<bool>,
}

/// One streamed argument value at a JSON path.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartialArg {
    /// Where the value goes, e.g. `$.operations[0].action`.
    pub json_path: String,
    /// A string piece (appended to what is already there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// A number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_value: Option<f64>,
    /// A boolean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bool_value: Option<bool>,
    /// Null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_value: Option<Value>,
    /// More of this string value follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub will_continue: Option<bool>,
}

/// `functionResponse`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireFunctionResponse {
    /// The call id, when the call had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The function.
    pub name: String,
    /// The result, an object.
    pub response: Value,
}

/// A `tools[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WireTool {
    /// The functions.
    pub function_declarations: Vec<FunctionDeclaration>,
}

/// One function.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    /// Name.
    pub name: String,
    /// Description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Arguments in Gemini's OpenAPI schema subset (older models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
    /// JSON Schema of the arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters_json_schema: Option<Value>,
}

/// `toolConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    /// `functionCallingConfig`.
    pub function_calling_config: FunctionCallingConfig,
}

/// `functionCallingConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig {
    /// `AUTO`, `ANY` or `NONE`.
    pub mode: &'static str,
    /// With `ANY`: the functions allowed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_function_names: Vec<String>,
}

/// `generationConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    /// Temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Top-p.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    /// Output-token limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
    /// Seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i32>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// `application/json` for JSON output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<String>,
    /// The output schema in Gemini's OpenAPI subset (older models).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_schema: Option<Value>,
    /// JSON Schema the output must match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_json_schema: Option<Value>,
    /// Output modalities (`TEXT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_modalities: Option<Value>,
    /// `thinkingConfig` (`thinkingBudget`, `includeThoughts`, `thinkingLevel`).
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub thinking_config: Map<String, Value>,
    /// Raw fields from the request's `generation_config` extra, sent as given.
    #[serde(flatten)]
    pub raw: Map<String, Value>,
}

/// The body of `:generateContent` and `:streamGenerateContent`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest {
    /// The conversation.
    pub contents: Vec<WireContent>,
    /// The system prompt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<WireContent>,
    /// Functions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<WireTool>,
    /// Function-calling mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    /// Sampling and output settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
    /// Safety thresholds (from the `safety_settings` extra).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety_settings: Option<Value>,
    /// A cached-content resource name (from the `cached_content` extra).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cached_content: Option<String>,
}

/// A `GenerateContentResponse` (the whole answer, or one streamed chunk).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    /// Candidates (none when the prompt was blocked).
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Why the prompt was blocked.
    #[serde(default)]
    pub prompt_feedback: Option<PromptFeedback>,
    /// Token counts (cumulative in streams).
    #[serde(default)]
    pub usage_metadata: Option<UsageMetadata>,
    /// The model that answered.
    #[serde(default)]
    pub model_version: Option<String>,
    /// The response id.
    #[serde(default)]
    pub response_id: Option<String>,
    /// RFC 3339 creation time (Vertex AI sends it).
    #[serde(default)]
    pub create_time: Option<String>,
    /// An error reported inside a stream.
    #[serde(default)]
    pub error: Option<Value>,
}

/// One candidate answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// The answer (`{}` when blocked).
    #[serde(default)]
    pub content: Option<WireContent>,
    /// Why it stopped.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Details on the finish reason.
    #[serde(default)]
    pub finish_message: Option<String>,
    /// Candidate index.
    #[serde(default)]
    pub index: Option<u32>,
    /// Safety ratings.
    #[serde(default)]
    pub safety_ratings: Option<Value>,
    /// Citations.
    #[serde(default)]
    pub citation_metadata: Option<Value>,
    /// Grounding.
    #[serde(default)]
    pub grounding_metadata: Option<Value>,
}

/// `promptFeedback`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    /// Why the prompt was blocked (`SAFETY`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `OTHER`…).
    #[serde(default)]
    pub block_reason: Option<String>,
    /// A human explanation.
    #[serde(default)]
    pub block_reason_message: Option<String>,
    /// Ratings of the prompt.
    #[serde(default)]
    pub safety_ratings: Option<Value>,
}

/// `usageMetadata`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// Prompt tokens (cached ones included).
    #[serde(default)]
    pub prompt_token_count: Option<u64>,
    /// Answer tokens, thoughts excluded (absent when there is no answer text).
    #[serde(default)]
    pub candidates_token_count: Option<u64>,
    /// Thinking tokens.
    #[serde(default)]
    pub thoughts_token_count: Option<u64>,
    /// Prompt tokens read from the context cache.
    #[serde(default)]
    pub cached_content_token_count: Option<u64>,
    /// Tokens of tool-use prompts (e.g. search results).
    #[serde(default)]
    pub tool_use_prompt_token_count: Option<u64>,
    /// Total.
    #[serde(default)]
    pub total_token_count: Option<u64>,
}
