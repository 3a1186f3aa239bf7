//! The one place where core types become OpenAI JSON: chat and completion responses, SSE
//! chunks re-encoded from [`StreamEvent`]s, embeddings and model lists.

use model_runtime::provider_openai::wire::encode_base64_f32;
use model_runtime::{
    AssistantMessage, ChatResponse, CompletionResponse, EmbeddingResponse, EncodingFormat,
    FinishReason, ModelInfo, ReasoningBlock, StreamEvent, Usage,
};
use serde::Serialize;

/// Unix seconds now.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[derive(Serialize)]
struct ChatMessageOut<'a> {
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<String>,
    #[serde(flatten)]
    message: &'a AssistantMessage,
}

#[derive(Serialize)]
struct ChatChoiceOut<'a> {
    index: u32,
    message: ChatMessageOut<'a>,
    finish_reason: &'a FinishReason,
    logprobs: Option<()>,
}

#[derive(Serialize)]
struct ChatCompletionOut<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: [ChatChoiceOut<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
}

fn or<'a>(s: &'a str, fallback: &'a str) -> &'a str {
    if s.is_empty() { fallback } else { s }
}

/// A `chat.completion` object. `fallback_id`/`fallback_model` fill what the provider left empty.
pub fn chat_completion(resp: &ChatResponse, fallback_id: &str, fallback_model: &str) -> Vec<u8> {
    let out = ChatCompletionOut {
        id: or(&resp.id, fallback_id),
        object: "chat.completion",
        created: if resp.created == 0 {
            now_unix()
        } else {
            resp.created
        },
        model: or(&resp.model, fallback_model),
        choices: [ChatChoiceOut {
            index: 0,
            message: ChatMessageOut {
                role: "assistant",
                reasoning_content: resp.message.reasoning_text(),
                message: &resp.message,
            },
            finish_reason: &resp.finish_reason,
            logprobs: None,
        }],
        usage: resp.usage.as_ref(),
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

#[derive(Serialize)]
struct TextChoiceOut<'a> {
    text: &'a str,
    index: u32,
    logprobs: Option<()>,
    finish_reason: Option<&'a FinishReason>,
}

#[derive(Serialize)]
struct TextCompletionOut<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    model: &'a str,
    choices: Vec<TextChoiceOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
}

/// A `text_completion` object.
pub fn text_completion(
    resp: &CompletionResponse,
    fallback_id: &str,
    fallback_model: &str,
) -> Vec<u8> {
    let out = TextCompletionOut {
        id: or(&resp.id, fallback_id),
        object: "text_completion",
        created: if resp.created == 0 {
            now_unix()
        } else {
            resp.created
        },
        model: or(&resp.model, fallback_model),
        choices: vec![TextChoiceOut {
            text: &resp.text,
            index: 0,
            logprobs: None,
            finish_reason: Some(&resp.finish_reason),
        }],
        usage: resp.usage.as_ref(),
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

#[derive(Serialize)]
#[serde(untagged)]
enum Vector<'a> {
    Float(&'a [f32]),
    Base64(String),
}

#[derive(Serialize)]
struct EmbeddingOut<'a> {
    object: &'static str,
    index: usize,
    embedding: Vector<'a>,
}

#[derive(Serialize)]
struct EmbeddingUsageOut {
    prompt_tokens: u64,
    total_tokens: u64,
}

#[derive(Serialize)]
struct EmbeddingListOut<'a> {
    object: &'static str,
    data: Vec<EmbeddingOut<'a>>,
    model: &'a str,
    usage: EmbeddingUsageOut,
}

/// An embedding `list`, vectors as JSON floats or base64 of little-endian `f32`s.
pub fn embeddings(
    resp: &EmbeddingResponse,
    format: EncodingFormat,
    fallback_model: &str,
) -> Vec<u8> {
    let usage = resp.usage.unwrap_or_default();
    let out = EmbeddingListOut {
        object: "list",
        data: resp
            .data
            .iter()
            .map(|e| EmbeddingOut {
                object: "embedding",
                index: e.index,
                embedding: match format {
                    EncodingFormat::Float => Vector::Float(&e.embedding),
                    EncodingFormat::Base64 => Vector::Base64(encode_base64_f32(&e.embedding)),
                },
            })
            .collect(),
        model: or(&resp.model, fallback_model),
        usage: EmbeddingUsageOut {
            prompt_tokens: usage.prompt_tokens,
            total_tokens: usage.total_tokens.max(usage.prompt_tokens),
        },
    };
    serde_json::to_vec(&out).unwrap_or_default()
}

#[derive(Serialize)]
struct ModelOut<'a> {
    id: &'a str,
    object: &'static str,
    created: i64,
    owned_by: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    provider: &'a str,
    kind: model_runtime::ModelKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    context_window: Option<u32>,
}

fn model_out(m: &ModelInfo) -> ModelOut<'_> {
    ModelOut {
        id: &m.id,
        object: "model",
        created: m.created.unwrap_or(0),
        owned_by: m.owned_by.as_deref().unwrap_or(if m.provider.is_empty() {
            "model-runtime"
        } else {
            &m.provider
        }),
        provider: &m.provider,
        kind: m.kind,
        context_window: m.context_window,
    }
}

/// A model `list`.
pub fn model_list(models: &[ModelInfo]) -> Vec<u8> {
    #[derive(Serialize)]
    struct List<'a> {
        object: &'static str,
        data: Vec<ModelOut<'a>>,
    }
    serde_json::to_vec(&List {
        object: "list",
        data: models.iter().map(model_out).collect(),
    })
    .unwrap_or_default()
}

/// One `model` object.
pub fn model(m: &ModelInfo) -> Vec<u8> {
    serde_json::to_vec(&model_out(m)).unwrap_or_default()
}

/// Which OpenAI stream shape to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkKind {
    /// `chat.completion.chunk` (`/v1/chat/completions`).
    Chat,
    /// `text_completion` (`/v1/completions`).
    Completion,
}

#[derive(Serialize)]
struct ToolCallDeltaOut<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    function: FunctionDeltaOut<'a>,
}

#[derive(Serialize)]
struct FunctionDeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    arguments: &'a str,
}

#[derive(Serialize, Default)]
struct DeltaOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_content: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking_blocks: Option<[ReasoningBlock; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refusal: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_calls: Option<[ToolCallDeltaOut<'a>; 1]>,
}

#[derive(Serialize)]
struct ChunkChoiceOut<'a> {
    index: u32,
    delta: DeltaOut<'a>,
    logprobs: Option<()>,
    finish_reason: Option<&'a FinishReason>,
}

// A short-lived stack value per chunk: boxing the big variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize)]
#[serde(untagged)]
enum ChoicesOut<'a> {
    Chat([ChunkChoiceOut<'a>; 1]),
    Text([TextChoiceOut<'a>; 1]),
    None([(); 0]),
}

/// The part of a chunk that changes from chunk to chunk (`id`, `object`, `created` and
/// `model` are written once into [`ChunkEncoder`]'s cached prefix).
#[derive(Serialize)]
struct ChunkTail<'a> {
    choices: ChoicesOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<&'a Usage>,
}

/// Turns [`StreamEvent`]s into OpenAI SSE frames (`data: {…}\n\n`).
///
/// Every chunk carries the same `id`, `model` and `created` (the provider's when its `Start`
/// event comes first, else the fallbacks). Chat streams open with a `role` delta; tool calls
/// are sent by index with `id`, `type` and `name` on their first fragment; the finish reason
/// gets its own chunk; a usage chunk with `choices: []` follows only when the client asked for
/// `stream_options.include_usage`; `data: [DONE]` closes the stream.
#[derive(Debug)]
pub struct ChunkEncoder {
    kind: ChunkKind,
    id: String,
    model: String,
    created: i64,
    include_usage: bool,
    started: bool,
    usage: Option<Usage>,
    done: bool,
    /// `data: {"id":…,"object":…,"created":…,"model":…` — the same for every chunk, so it is
    /// escaped and formatted once (empty until the first chunk, reset when `Start` changes it).
    prefix: Vec<u8>,
}

impl ChunkEncoder {
    /// An encoder; `id` and `model` are used unless the stream's `Start` event comes first.
    pub fn new(kind: ChunkKind, id: String, model: String, include_usage: bool) -> Self {
        Self {
            kind,
            id,
            model,
            created: now_unix(),
            include_usage,
            started: false,
            usage: None,
            done: false,
            prefix: Vec::new(),
        }
    }

    /// The usage seen so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn object(&self) -> &'static str {
        match self.kind {
            ChunkKind::Chat => "chat.completion.chunk",
            ChunkKind::Completion => "text_completion",
        }
    }

    fn write(&mut self, choices: ChoicesOut<'_>, usage: Option<&Usage>, out: &mut Vec<u8>) {
        if self.prefix.is_empty() {
            self.prefix = self.head();
        }
        out.extend_from_slice(&self.prefix);
        let tail_at = out.len();
        if serde_json::to_writer(&mut *out, &ChunkTail { choices, usage }).is_ok() {
            // `{"choices":…}` continues the prefix's object: its `{` becomes the `,`.
            out[tail_at] = b',';
        } else {
            // Serialising these plain structs cannot fail; keep the frame well formed anyway.
            out.truncate(tail_at);
            out.push(b'}');
        }
        out.extend_from_slice(b"\n\n");
    }

    /// The most frequent frame — a chat text delta after the first chunk — written without
    /// the generic serialiser: only the text is escaped. Byte for byte what [`Self::write`]
    /// makes of the same delta (a unit test compares them).
    fn text_chunk(&mut self, text: &str, out: &mut Vec<u8>) {
        if self.prefix.is_empty() {
            self.prefix = self.head();
        }
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(br#","choices":[{"index":0,"delta":{"content":"#);
        if serde_json::to_writer(&mut *out, text).is_err() {
            // Writing a string into a Vec cannot fail; keep the frame well formed anyway.
            out.extend_from_slice(b"\"\"");
        }
        out.extend_from_slice(br#"},"logprobs":null,"finish_reason":null}]}"#);
        out.extend_from_slice(b"\n\n");
    }

    /// `data: {"id":…,"object":…,"created":…,"model":…` (no closing brace).
    fn head(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Head<'a> {
            id: &'a str,
            object: &'static str,
            created: i64,
            model: &'a str,
        }
        let mut head = b"data: ".to_vec();
        let head_obj = Head {
            id: &self.id,
            object: self.object(),
            created: self.created,
            model: &self.model,
        };
        if serde_json::to_writer(&mut head, &head_obj).is_err() {
            head.truncate(6);
            head.extend_from_slice(b"{}");
        }
        // Drop the closing `}`: the chunk's tail follows.
        head.pop();
        head
    }

    fn delta(&mut self, mut delta: DeltaOut<'_>, text: &str, out: &mut Vec<u8>) {
        let first = !self.started;
        self.started = true;
        let choices = match self.kind {
            ChunkKind::Chat => {
                if first {
                    delta.role = Some("assistant");
                }
                ChoicesOut::Chat([ChunkChoiceOut {
                    index: 0,
                    delta,
                    logprobs: None,
                    finish_reason: None,
                }])
            }
            ChunkKind::Completion => ChoicesOut::Text([TextChoiceOut {
                text,
                index: 0,
                logprobs: None,
                finish_reason: None,
            }]),
        };
        self.write(choices, None, out);
    }

    /// Appends the frames for one event (possibly none).
    pub fn event(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model, created } => {
                if self.started {
                    return;
                }
                if !id.is_empty() {
                    self.id = id;
                }
                if !model.is_empty() {
                    self.model = model;
                }
                if created != 0 {
                    self.created = created;
                }
                self.prefix.clear();
                if self.kind == ChunkKind::Chat {
                    self.delta(
                        DeltaOut {
                            content: Some(""),
                            ..DeltaOut::default()
                        },
                        "",
                        out,
                    );
                }
            }
            StreamEvent::TextDelta { text } if self.started && self.kind == ChunkKind::Chat => {
                self.text_chunk(&text, out);
            }
            StreamEvent::TextDelta { text } => {
                let d = DeltaOut {
                    content: Some(&text),
                    ..DeltaOut::default()
                };
                self.delta(d, &text, out);
            }
            StreamEvent::ReasoningDelta { text } if self.kind == ChunkKind::Chat => {
                let d = DeltaOut {
                    reasoning_content: Some(&text),
                    ..DeltaOut::default()
                };
                self.delta(d, "", out);
            }
            StreamEvent::ReasoningSignature { signature } if self.kind == ChunkKind::Chat => {
                let d = DeltaOut {
                    thinking_blocks: Some([ReasoningBlock {
                        text: Some(String::new()),
                        signature: Some(signature),
                        ..ReasoningBlock::default()
                    }
                    .with_kind("thinking")]),
                    ..DeltaOut::default()
                };
                self.delta(d, "", out);
            }
            StreamEvent::RedactedReasoning { data } if self.kind == ChunkKind::Chat => {
                let d = DeltaOut {
                    thinking_blocks: Some([ReasoningBlock {
                        data: Some(data),
                        ..ReasoningBlock::default()
                    }
                    .with_kind("redacted_thinking")]),
                    ..DeltaOut::default()
                };
                self.delta(d, "", out);
            }
            StreamEvent::RefusalDelta { text } if self.kind == ChunkKind::Chat => {
                let d = DeltaOut {
                    refusal: Some(&text),
                    ..DeltaOut::default()
                };
                self.delta(d, "", out);
            }
            StreamEvent::ToolCallStart {
                index, id, name, ..
            } if self.kind == ChunkKind::Chat => {
                let d = DeltaOut {
                    tool_calls: Some([ToolCallDeltaOut {
                        index,
                        id: Some(&id),
                        kind: Some("function"),
                        function: FunctionDeltaOut {
                            name: Some(&name),
                            arguments: "",
                        },
                    }]),
                    ..DeltaOut::default()
                };
                self.delta(d, "", out);
            }
            StreamEvent::ToolCallDelta { index, arguments } if self.kind == ChunkKind::Chat => {
                let d = DeltaOut {
                    tool_calls: Some([ToolCallDeltaOut {
                        index,
                        id: None,
                        kind: None,
                        function: FunctionDeltaOut {
                            name: None,
                            arguments: &arguments,
                        },
                    }]),
                    ..DeltaOut::default()
                };
                self.delta(d, "", out);
            }
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Finish { reason } => {
                self.started = true;
                let choices = match self.kind {
                    ChunkKind::Chat => ChoicesOut::Chat([ChunkChoiceOut {
                        index: 0,
                        delta: DeltaOut::default(),
                        logprobs: None,
                        finish_reason: Some(&reason),
                    }]),
                    ChunkKind::Completion => ChoicesOut::Text([TextChoiceOut {
                        text: "",
                        index: 0,
                        logprobs: None,
                        finish_reason: Some(&reason),
                    }]),
                };
                self.write(choices, None, out);
            }
            // Tool-call ends carry nothing on OpenAI's wire; completions have no reasoning,
            // refusal or tool calls; provider annotations have no field in an OpenAI chunk
            // (they reach the folded answer: the cache and library callers).
            _ => {}
        }
    }

    /// Appends the usage chunk (when asked for) and `data: [DONE]`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        if self.include_usage {
            let usage = self.usage.unwrap_or_default();
            self.write(ChoicesOut::None([]), Some(&usage), out);
        }
        out.extend_from_slice(b"data: [DONE]\n\n");
    }

    /// Appends an error frame and ends the stream (no `[DONE]`: the answer is incomplete).
    pub fn fail(&mut self, err: &crate::error::ApiError, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.done = true;
        crate::error::sse_error_frame(err, out);
    }

    /// True after [`ChunkEncoder::finish`] or [`ChunkEncoder::fail`].
    pub fn is_done(&self) -> bool {
        self.done
    }
}

trait WithKind {
    fn with_kind(self, kind: &str) -> Self;
}

impl WithKind for ReasoningBlock {
    fn with_kind(mut self, kind: &str) -> Self {
        kind.clone_into(&mut self.kind);
        self
    }
}

#[cfg(test)]
mod tests;
