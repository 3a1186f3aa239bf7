//! OpenAI's JSON wire format: request and response types, and the pure functions that map
//! core types to it and back. Azure OpenAI, local OpenAI-compatible servers and TGI's Messages
//! API reuse this module.

use std::collections::BTreeSet;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use runtime_core::{
    AssistantMessage, ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, Content,
    Embedding, EmbeddingRequest, EmbeddingResponse, Error, FinishReason, Message, ModelInfo,
    ModelKind, ReasoningBlock, ResponseFormat, ResponseMeta, StreamEvent, ToolCall, ToolChoice,
    ToolDefinition, Usage,
};

/// Which field carries the output-token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxTokensField {
    /// `max_completion_tokens` (OpenAI; required by reasoning models).
    #[default]
    MaxCompletionTokens,
    /// `max_tokens` (most compatible servers).
    MaxTokens,
}

/// Options of the request mapping.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestOptions {
    /// Where `max_tokens` goes.
    pub max_tokens_field: MaxTokensField,
    /// Ask for the usage chunk on streams (`stream_options.include_usage`).
    pub stream_usage: bool,
}

/// A message as OpenAI accepts it.
#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum WireMessage<'a> {
    /// System.
    System {
        /// Content.
        content: &'a Content,
        /// Name.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    },
    /// User.
    User {
        /// Content.
        content: &'a Content,
        /// Name.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    },
    /// Assistant.
    Assistant {
        /// Content (`null` with tool calls).
        content: Option<&'a Content>,
        /// Tool calls.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<WireToolCallOut<'a>>,
        /// Refusal.
        #[serde(skip_serializing_if = "Option::is_none")]
        refusal: Option<&'a str>,
        /// Name.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    },
    /// Tool result.
    Tool {
        /// Content.
        content: &'a Content,
        /// The call answered.
        tool_call_id: &'a str,
    },
    /// A kind of message newer than this mapping: the core type is OpenAI-shaped, so it is
    /// sent as the core serializes it (never dropped).
    #[serde(untagged)]
    Other(&'a Message),
}

/// A tool call in a request's assistant message.
#[derive(Debug, Serialize)]
pub struct WireToolCallOut<'a> {
    /// Id.
    pub id: &'a str,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name and arguments.
    pub function: WireFunctionOut<'a>,
}

/// Name and arguments.
#[derive(Debug, Serialize)]
pub struct WireFunctionOut<'a> {
    /// Name.
    pub name: &'a str,
    /// Arguments JSON text.
    pub arguments: &'a str,
}

/// `stream_options`.
#[derive(Debug, Serialize)]
pub struct WireStreamOptions {
    /// Ask for the usage chunk.
    pub include_usage: bool,
}

/// The body of `POST /chat/completions`.
#[derive(Debug, Serialize)]
pub struct ChatCompletionRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Messages.
    pub messages: Vec<WireMessage<'a>>,
    /// Tools.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tools: &'a [ToolDefinition],
    /// Tool choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<&'a ToolChoice>,
    /// Parallel tool calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Response format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<&'a ResponseFormat>,
    /// Temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Top-p.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// `max_tokens` (compatible servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// `max_completion_tokens` (OpenAI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop: &'a [String],
    /// Seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// End user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// Streaming.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Stream options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<WireStreamOptions>,
    /// Provider-specific fields.
    #[serde(flatten)]
    pub extra: &'a Map<String, Value>,
}

/// Maps a core request to OpenAI's body. `model` is the model to send (deployments may rename).
pub fn chat_request<'a>(
    req: &'a ChatRequest,
    model: &'a str,
    stream: bool,
    opts: RequestOptions,
) -> ChatCompletionRequest<'a> {
    let messages = req
        .messages
        .iter()
        .map(|m| match m {
            Message::System { content, name } => WireMessage::System {
                content,
                name: name.as_deref(),
            },
            Message::User { content, name } => WireMessage::User {
                content,
                name: name.as_deref(),
            },
            Message::Assistant(a) => WireMessage::Assistant {
                content: a.content.as_ref(),
                tool_calls: a
                    .tool_calls
                    .iter()
                    .map(|c| WireToolCallOut {
                        id: &c.id,
                        kind: "function",
                        function: WireFunctionOut {
                            name: &c.function.name,
                            arguments: &c.function.arguments,
                        },
                    })
                    .collect(),
                refusal: a.refusal.as_deref(),
                name: a.name.as_deref(),
            },
            Message::Tool {
                content,
                tool_call_id,
                ..
            } => WireMessage::Tool {
                content,
                tool_call_id,
            },
            other => WireMessage::Other(other),
        })
        .collect();
    let (max_tokens, max_completion_tokens) = match opts.max_tokens_field {
        MaxTokensField::MaxTokens => (req.max_tokens, None),
        MaxTokensField::MaxCompletionTokens => (None, req.max_tokens),
    };
    ChatCompletionRequest {
        model,
        messages,
        tools: &req.tools,
        tool_choice: req.tool_choice.as_ref(),
        parallel_tool_calls: req.parallel_tool_calls,
        response_format: req.response_format.as_ref(),
        temperature: req.temperature,
        top_p: req.top_p,
        max_tokens,
        max_completion_tokens,
        stop: &req.stop,
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        user: req.user.as_deref(),
        stream,
        stream_options: (stream && opts.stream_usage).then_some(WireStreamOptions {
            include_usage: true,
        }),
        extra: &req.extra,
    }
}

/// Tool-call arguments: a JSON string (OpenAI) or an object (some compatible servers).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Arguments {
    /// A JSON text.
    Text(String),
    /// Anything else, re-serialized.
    Json(Value),
    /// Absent.
    #[default]
    #[serde(skip)]
    None,
}

impl Arguments {
    /// The arguments as JSON text.
    pub fn into_text(self) -> String {
        match self {
            Arguments::Text(s) => s,
            Arguments::Json(Value::Null) | Arguments::None => String::new(),
            Arguments::Json(v) => v.to_string(),
        }
    }
}

/// A function name and arguments in a response.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireFunction {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Arguments.
    #[serde(default)]
    pub arguments: Arguments,
}

/// A tool call in a response.
#[derive(Debug, Clone, Deserialize)]
pub struct WireToolCall {
    /// Position (streams).
    #[serde(default)]
    pub index: Option<usize>,
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name and arguments.
    #[serde(default)]
    pub function: WireFunction,
}

/// `choices[].message`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireResponseMessage {
    /// Text.
    #[serde(default)]
    pub content: Option<String>,
    /// Refusal.
    #[serde(default)]
    pub refusal: Option<String>,
    /// Tool calls.
    #[serde(default)]
    pub tool_calls: Option<Vec<WireToolCall>>,
    /// Reasoning text (vLLM, DeepSeek, llama.cpp).
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// Reasoning text (newer vLLM).
    #[serde(default)]
    pub reasoning: Option<String>,
}

/// One choice of a response.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireChoice {
    /// Index.
    #[serde(default)]
    pub index: u32,
    /// The message.
    #[serde(default)]
    pub message: WireResponseMessage,
    /// Finish reason.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Azure content-filter annotations.
    #[serde(default)]
    pub content_filter_results: Option<Value>,
}

/// The body of a chat completion.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatCompletion {
    /// Id (missing on some servers).
    #[serde(default)]
    pub id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Choices.
    #[serde(default)]
    pub choices: Vec<WireChoice>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Azure prompt-filter annotations.
    #[serde(default)]
    pub prompt_filter_results: Option<Value>,
}

fn reasoning_of(content: Option<String>, alt: Option<String>) -> Option<String> {
    content.or(alt).filter(|s| !s.is_empty())
}

/// Maps a chat completion to the core response. A missing choice is a decode error.
pub fn parse_chat(
    body: ChatCompletion,
    provider: &str,
    model: &str,
) -> Result<ChatResponse, Error> {
    let mut annotations = Map::new();
    if let Some(p) = body.prompt_filter_results {
        annotations.insert("prompt_filter_results".into(), p);
    }
    let Some(choice) = body.choices.into_iter().next() else {
        return Err(Error::decode(
            provider,
            model,
            "chat completion",
            "the response has no choices",
            "",
        ));
    };
    if let Some(c) = choice.content_filter_results {
        annotations.insert("content_filter_results".into(), c);
    }
    let msg = choice.message;
    let tool_calls: Vec<ToolCall> = msg
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            ToolCall::new(
                c.id.filter(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("call_{i}")),
                c.function.name.unwrap_or_default(),
                c.function.arguments.into_text(),
            )
        })
        .collect();
    let finish_reason = finish_reason(choice.finish_reason.as_deref(), !tool_calls.is_empty());
    let reasoning = reasoning_of(msg.reasoning_content, msg.reasoning)
        .map(|t| vec![ReasoningBlock::text(t)])
        .unwrap_or_default();
    Ok(ChatResponse {
        id: body.id.unwrap_or_default(),
        model: body.model.unwrap_or_else(|| model.to_owned()),
        created: body.created.unwrap_or_default(),
        message: AssistantMessage {
            content: msg.content.map(Content::Text),
            reasoning,
            tool_calls,
            refusal: msg.refusal,
            name: None,
        },
        finish_reason,
        usage: body.usage,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            annotations,
            ..ResponseMeta::default()
        },
    })
}

/// OpenAI's finish reason; `stop` with tool calls (TGI, Ollama) is reported as `tool_calls`.
pub fn finish_reason(raw: Option<&str>, has_tool_calls: bool) -> FinishReason {
    match raw.map(FinishReason::from_openai) {
        Some(FinishReason::Stop) | None if has_tool_calls => FinishReason::ToolCalls,
        Some(r) => r,
        None => FinishReason::Stop,
    }
}

/// One streamed chunk.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatCompletionChunk {
    /// Id (empty on Azure's filter chunks).
    #[serde(default)]
    pub id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Choices (empty on usage and annotation chunks).
    #[serde(default)]
    pub choices: Vec<WireChunkChoice>,
    /// Usage (last chunk with `include_usage`).
    #[serde(default)]
    pub usage: Option<Usage>,
    /// A mid-stream error (an object, or a string with `error_type` beside it as TGI sends).
    #[serde(default)]
    pub error: Option<Value>,
    /// TGI's error type, beside a string `error`.
    #[serde(default)]
    pub error_type: Option<String>,
    /// Legacy completions put `text` on choices; see [`WireChunkChoice::text`].
    #[serde(default)]
    pub object: Option<String>,
}

/// One choice of a chunk.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireChunkChoice {
    /// Index.
    #[serde(default)]
    pub index: u32,
    /// The delta.
    #[serde(default)]
    pub delta: WireDelta,
    /// Legacy completion text.
    #[serde(default)]
    pub text: Option<String>,
    /// Finish reason.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A chunk's delta.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireDelta {
    /// Text.
    #[serde(default)]
    pub content: Option<String>,
    /// Refusal.
    #[serde(default)]
    pub refusal: Option<String>,
    /// Reasoning (vLLM, DeepSeek, llama.cpp).
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// Reasoning (newer vLLM).
    #[serde(default)]
    pub reasoning: Option<String>,
    /// Tool-call fragments.
    #[serde(default)]
    pub tool_calls: Option<Vec<WireToolCall>>,
}

/// Turns OpenAI chunks into core stream events, keeping the state a stream needs.
#[derive(Debug)]
pub struct ChunkDecoder {
    provider: String,
    model: String,
    started: bool,
    finished: bool,
    pending_finish: Option<String>,
    calls: BTreeSet<usize>,
    content_sent: bool,
    done: bool,
}

impl ChunkDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            started: false,
            finished: false,
            pending_finish: None,
            calls: BTreeSet::new(),
            content_sent: false,
            done: false,
        }
    }

    /// True after `[DONE]`.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes one SSE `data` payload, appending events to `out`.
    pub fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if data == "[DONE]" {
            self.flush_finish(out);
            self.done = true;
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk: ChatCompletionChunk = serde_json::from_str(data)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream chunk", e, data))?;
        self.decode_chunk(chunk, out)
    }

    /// Decodes one parsed chunk.
    pub fn decode_chunk(
        &mut self,
        chunk: ChatCompletionChunk,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        if let Some(err) = chunk.error {
            return Err(self.stream_error(err, chunk.error_type));
        }
        let id = chunk.id.unwrap_or_default();
        if !self.started && (!id.is_empty() || !chunk.choices.is_empty()) {
            self.started = true;
            out.push(StreamEvent::Start {
                id,
                model: chunk.model.unwrap_or_else(|| self.model.clone()),
                created: chunk.created.unwrap_or_default(),
            });
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let d = choice.delta;
            if let Some(t) = reasoning_of(d.reasoning_content, d.reasoning) {
                self.content_sent = true;
                out.push(StreamEvent::ReasoningDelta { text: t });
            }
            if let Some(t) = d.content.or(choice.text).filter(|t| !t.is_empty()) {
                self.content_sent = true;
                out.push(StreamEvent::TextDelta { text: t });
            }
            if let Some(t) = d.refusal.filter(|t| !t.is_empty()) {
                self.content_sent = true;
                out.push(StreamEvent::RefusalDelta { text: t });
            }
            for (pos, call) in d.tool_calls.unwrap_or_default().into_iter().enumerate() {
                let index = call.index.unwrap_or(pos);
                if self.calls.insert(index) {
                    self.content_sent = true;
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id: call
                            .id
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| format!("call_{index}")),
                        name: call.function.name.unwrap_or_default(),
                        thought_signature: None,
                    });
                }
                let args = call.function.arguments.into_text();
                if !args.is_empty() {
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: args,
                    });
                }
            }
            if let Some(r) = choice.finish_reason {
                self.pending_finish = Some(r);
                self.flush_finish(out);
            }
        }
        if let Some(u) = chunk.usage {
            out.push(StreamEvent::Usage(u));
        }
        Ok(())
    }

    fn flush_finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        let Some(raw) = self.pending_finish.take() else {
            return;
        };
        self.finished = true;
        for index in &self.calls {
            out.push(StreamEvent::ToolCallEnd { index: *index });
        }
        out.push(StreamEvent::Finish {
            reason: finish_reason(Some(&raw), !self.calls.is_empty()),
        });
    }

    /// Called when the byte stream ends: a stream that never finished is an error.
    pub fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        self.flush_finish(out);
        if self.finished {
            return Ok(());
        }
        Err(Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream ended before a finish reason".into(),
            transient: true,
            content_sent: self.content_sent,
        })
    }

    fn stream_error(&self, err: Value, error_type: Option<String>) -> Error {
        let mut envelope = serde_json::json!({ "error": err });
        if let Some(t) = error_type {
            envelope["error_type"] = Value::String(t);
        }
        let body = runtime_core::http::parse_error_body(envelope.to_string().as_bytes());
        let kind = format!(
            "{} {}",
            body.error_type.as_deref().unwrap_or(""),
            body.code.as_deref().unwrap_or("")
        );
        if body.code.as_deref() == Some("content_filter") {
            return Error::ContentFiltered {
                provider: self.provider.clone(),
                model: self.model.clone(),
                message: body.message,
            };
        }
        let transient = [
            "server_error",
            "rate_limit",
            "overloaded",
            "timeout",
            "unavailable",
            "500",
            "503",
            "429",
        ]
        .iter()
        .any(|k| kind.contains(k));
        Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: body.error_type.or(body.code),
            message: body.message,
            transient,
            content_sent: self.content_sent,
        }
    }
}

impl runtime_core::FrameDecoder for ChunkDecoder {
    fn decode(&mut self, frame: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        ChunkDecoder::decode(self, frame, out)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        ChunkDecoder::end(self, out)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

/// The body of `POST /completions`.
#[derive(Debug, Serialize)]
pub struct CompletionWireRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Prompt.
    pub prompt: &'a str,
    /// Suffix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<&'a str>,
    /// Most tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Top-p.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop: &'a [String],
    /// Seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// End user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// Streaming.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Stream options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<WireStreamOptions>,
    /// Provider-specific fields.
    #[serde(flatten)]
    pub extra: &'a Map<String, Value>,
}

/// Maps a completion request.
pub fn completion_request<'a>(
    req: &'a CompletionRequest,
    model: &'a str,
    stream: bool,
    opts: RequestOptions,
) -> CompletionWireRequest<'a> {
    CompletionWireRequest {
        model,
        prompt: &req.prompt,
        suffix: req.suffix.as_deref(),
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: &req.stop,
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        user: req.user.as_deref(),
        stream,
        stream_options: (stream && opts.stream_usage).then_some(WireStreamOptions {
            include_usage: true,
        }),
        extra: &req.extra,
    }
}

/// A legacy completion choice.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireCompletionChoice {
    /// Text.
    #[serde(default)]
    pub text: String,
    /// Finish reason.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The body of a legacy completion.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextCompletion {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Choices.
    #[serde(default)]
    pub choices: Vec<WireCompletionChoice>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// Maps a legacy completion.
pub fn parse_completion(
    body: TextCompletion,
    provider: &str,
    model: &str,
) -> Result<CompletionResponse, Error> {
    let Some(choice) = body.choices.into_iter().next() else {
        return Err(Error::decode(
            provider,
            model,
            "completion",
            "no choices",
            "",
        ));
    };
    Ok(CompletionResponse {
        id: body.id.unwrap_or_default(),
        model: body.model.unwrap_or_else(|| model.to_owned()),
        created: body.created.unwrap_or_default(),
        text: choice.text,
        finish_reason: finish_reason(choice.finish_reason.as_deref(), false),
        usage: body.usage,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

/// The body of `POST /embeddings`.
#[derive(Debug, Serialize)]
pub struct EmbeddingWireRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Inputs.
    pub input: &'a [String],
    /// `float` or `base64`.
    pub encoding_format: &'static str,
    /// Dimensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// End user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// Provider-specific fields.
    #[serde(flatten)]
    pub extra: &'a Map<String, Value>,
}

/// Maps an embedding request; vectors are asked for as base64 (exact and smaller), and either
/// form is accepted back.
pub fn embedding_request<'a>(
    req: &'a EmbeddingRequest,
    model: &'a str,
    base64: bool,
) -> EmbeddingWireRequest<'a> {
    EmbeddingWireRequest {
        model,
        input: &req.input,
        encoding_format: if base64 { "base64" } else { "float" },
        dimensions: req.dimensions,
        user: req.user.as_deref(),
        extra: &req.extra,
    }
}

/// A vector as floats or base64.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum WireVector {
    /// Floats.
    Float(Vec<f32>),
    /// Base64 of little-endian f32.
    Base64(String),
}

/// One vector of an embedding response.
#[derive(Debug, Clone, Deserialize)]
pub struct WireEmbedding {
    /// Input index.
    #[serde(default)]
    pub index: Option<usize>,
    /// The vector.
    pub embedding: WireVector,
}

/// The body of an embedding response.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddingList {
    /// Vectors.
    pub data: Vec<WireEmbedding>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// Decodes base64 little-endian f32s.
pub fn decode_base64_f32(s: &str) -> Result<Vec<f32>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| e.to_string())?;
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "{} bytes is not a whole number of f32s",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Encodes f32s as base64 little-endian (the gateway's `encoding_format: base64`).
pub fn encode_base64_f32(v: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for f in v {
        bytes.extend_from_slice(&f.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Maps an embedding response, ordered by index; the count must match the inputs.
pub fn parse_embeddings(
    body: EmbeddingList,
    inputs: usize,
    provider: &str,
    model: &str,
) -> Result<EmbeddingResponse, Error> {
    let mut data = Vec::with_capacity(body.data.len());
    for (pos, e) in body.data.into_iter().enumerate() {
        let embedding = match e.embedding {
            WireVector::Float(v) => v,
            WireVector::Base64(s) => decode_base64_f32(&s)
                .map_err(|m| Error::decode(provider, model, "base64 embedding", m, &s))?,
        };
        data.push(Embedding {
            index: e.index.unwrap_or(pos),
            embedding,
        });
    }
    data.sort_by_key(|e| e.index);
    if data.len() != inputs || data.iter().enumerate().any(|(i, e)| e.index != i) {
        return Err(Error::decode(
            provider,
            model,
            "embeddings",
            format!(
                "expected {inputs} vectors indexed 0..{inputs}, got {}",
                data.len()
            ),
            "",
        ));
    }
    Ok(EmbeddingResponse {
        model: body.model.unwrap_or_else(|| model.to_owned()),
        data,
        usage: body.usage,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

/// `GET /models` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct WireModel {
    /// Id.
    pub id: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// Owner.
    #[serde(default)]
    pub owned_by: Option<String>,
}

/// `GET /models` body.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelList {
    /// Models.
    #[serde(default)]
    pub data: Vec<WireModel>,
}

/// Maps a model list, taking capabilities from `catalog` where the id is known.
pub fn parse_models(body: ModelList, provider: &str, catalog: &[ModelInfo]) -> Vec<ModelInfo> {
    body.data
        .into_iter()
        .map(|m| {
            let mut info = catalog
                .iter()
                .find(|c| c.id == m.id)
                .cloned()
                .unwrap_or_else(|| ModelInfo {
                    kind: guess_kind(&m.id),
                    supports_streaming: guess_kind(&m.id) == ModelKind::Chat,
                    ..ModelInfo::default()
                });
            info.id = m.id;
            info.provider = provider.to_owned();
            info.owned_by = m.owned_by;
            info.created = m.created;
            info
        })
        .collect()
}

/// Guesses a model's kind from its id.
pub fn guess_kind(id: &str) -> ModelKind {
    let id = id.to_ascii_lowercase();
    if id.contains("embed") {
        ModelKind::Embedding
    } else if id.contains("instruct") && id.starts_with("gpt-3.5")
        || id.starts_with("babbage")
        || id.starts_with("davinci")
    {
        ModelKind::Completion
    } else if ["whisper", "tts", "dall-e", "moderation", "sora", "image"]
        .iter()
        .any(|k| id.contains(k))
    {
        ModelKind::Other
    } else {
        ModelKind::Chat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        let v = vec![0.5f32, -1.25, 3.0e-7];
        assert_eq!(decode_base64_f32(&encode_base64_f32(&v)).unwrap(), v);
        assert!(decode_base64_f32("AAA=").is_err());
    }

    #[test]
    fn decoder_handles_error_chunk() {
        let mut d = ChunkDecoder::new("openai", "m");
        let mut out = Vec::new();
        let e = d
            .decode(
                r#"{"error":{"message":"boom","type":"server_error"}}"#,
                &mut out,
            )
            .unwrap_err();
        assert!(e.is_retryable(), "{e:?}");
    }

    #[test]
    fn string_error_keeps_its_error_type() {
        let mut d = ChunkDecoder::new("tgi", "m");
        let mut out = Vec::new();
        let e = d
            .decode(
                r#"{"error":"Request failed during generation","error_type":"overloaded"}"#,
                &mut out,
            )
            .unwrap_err();
        assert!(
            matches!(&e, Error::Stream { error_type: Some(t), transient: true, .. } if t == "overloaded"),
            "{e:?}"
        );
    }

    #[test]
    fn stream_without_finish_is_an_error() {
        let mut d = ChunkDecoder::new("openai", "m");
        let mut out = Vec::new();
        d.decode(
            r#"{"id":"x","choices":[{"index":0,"delta":{"content":"hi"}}]}"#,
            &mut out,
        )
        .unwrap();
        let e = d.end(&mut out).unwrap_err();
        assert!(matches!(
            e,
            Error::Stream {
                content_sent: true,
                ..
            }
        ));
    }
}
