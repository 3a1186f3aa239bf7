//! Any OpenAI-compatible local server (vLLM, llama.cpp `llama-server`, LM Studio, Ollama's `/v1`)
//! over [`provider_openai::wire`] and [`provider_openai::compat`], with the quirks of those
//! servers handled: missing `usage` / `id` / `created`, `content: null` first deltas, empty
//! `choices` chunks, llama.cpp `timings` and `data[]` + `models[]` listings, llama.cpp and vLLM
//! error envelopes, `reasoning_content` / `reasoning`.

use std::sync::Arc;

use async_trait::async_trait;
use http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use provider_openai::compat::{CompatProvider, Operation};
use provider_openai::wire::{
    self as openai, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, RequestOptions,
};
use runtime_core::http::parse_error_body;
use runtime_core::http::{ErrorContext, HttpRequestSpec, classify};
use runtime_core::secret::redact;
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest,
    CompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, FrameDecoder, Message,
    ModelInfo, ModelKind, Provider, Reply, RequestContext, Result, ServeAs, StreamEvent,
};

/// Maps a core request to the chat body for `model` (the body's or a re-targeted call's).
/// Assistant reasoning in the history is sent as `reasoning_content` (the field llama.cpp and
/// vLLM read back); signed or redacted reasoning and Gemini thought signatures cannot be
/// expressed and are an [`Error::InvalidRequest`].
pub fn chat_body<'a>(
    req: &'a ChatRequest,
    model: &'a str,
    stream: bool,
    opts: RequestOptions,
    provider: &str,
) -> Result<ChatCompletionRequest<'a>> {
    for (i, m) in req.messages.iter().enumerate() {
        let Message::Assistant(a) = m else { continue };
        if a.reasoning
            .iter()
            .any(|b| b.is_redacted() || b.signature.is_some())
        {
            return Err(Error::invalid_request(
                provider,
                model,
                Some(&format!("messages[{i}].thinking_blocks")),
                "signed or redacted reasoning cannot be sent to an OpenAI-compatible server",
            ));
        }
        if let Some(j) = a
            .tool_calls
            .iter()
            .position(|c| c.thought_signature.is_some())
        {
            return Err(Error::invalid_request(
                provider,
                model,
                Some(&format!("messages[{i}].tool_calls[{j}].thought_signature")),
                "an OpenAI-compatible server has no field for a tool call's thought signature",
            ));
        }
    }
    let opts = RequestOptions {
        reasoning_content: true,
        ..opts
    };
    Ok(openai::chat_request(req, model, stream, opts))
}

/// True for a Responses API object or event (vLLM and Azure serve `/v1/responses`; this
/// provider implements chat completions only).
pub fn is_responses_api(v: &Value) -> bool {
    v.get("object").and_then(Value::as_str) == Some("response")
        || v.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("response."))
}

fn responses_error(provider: &str, model: &str, text: &str) -> Error {
    Error::decode(
        provider,
        model,
        "chat completion",
        "this is a Responses API payload (`object: response`); the Responses API is not \
         implemented, only chat completions",
        text,
    )
}

/// vLLM's older top-level error object `{"object": "error", "message", "type", "code"}`.
fn top_level_error(v: &Value) -> bool {
    v.get("object").and_then(Value::as_str) == Some("error")
}

/// Parses a chat completion, tolerating missing `id` / `created` / `usage`; llama.cpp's
/// `timings` are kept in `meta.annotations["timings"]`.
pub fn parse_chat_body(body: &[u8], provider: &str, model: &str) -> Result<ChatResponse> {
    let text = String::from_utf8_lossy(body);
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| Error::decode(provider, model, "chat completion", e, &text))?;
    if is_responses_api(&v) {
        return Err(responses_error(provider, model, &text));
    }
    if top_level_error(&v) {
        let status = v
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| *c >= 400)
            .unwrap_or(500);
        let ctx = ErrorContext {
            provider,
            model,
            secret: None,
        };
        return Err(map_error(&ctx, status, &HeaderMap::new(), body));
    }
    let timings = v.get("timings").cloned();
    let parsed: ChatCompletion = serde_json::from_value(v)
        .map_err(|e| Error::decode(provider, model, "chat completion", e, &text))?;
    let mut resp = openai::parse_chat(parsed, provider, model)?;
    if let Some(t) = timings {
        resp.meta.annotations.insert("timings".into(), t);
    }
    Ok(resp)
}

/// Stream decoder for OpenAI-compatible local servers: OpenAI's [`openai::ChunkDecoder`] plus
/// vLLM's top-level `{"object": "error"}` payloads and a clear error for Responses API events.
#[derive(Debug)]
pub struct LocalChunkDecoder {
    inner: openai::ChunkDecoder,
    provider: String,
    model: String,
    content_sent: bool,
}

impl LocalChunkDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            inner: openai::ChunkDecoder::new(provider, model),
            provider: provider.to_owned(),
            model: model.to_owned(),
            content_sent: false,
        }
    }
}

impl FrameDecoder for LocalChunkDecoder {
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        let trimmed = data.trim();
        if trimmed.is_empty() || trimmed == "[DONE]" {
            return FrameDecoder::decode(&mut self.inner, trimmed, out);
        }
        let v: Value = serde_json::from_str(trimmed)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream chunk", e, trimmed))?;
        if is_responses_api(&v) {
            return Err(responses_error(&self.provider, &self.model, trimmed));
        }
        if top_level_error(&v) {
            let b = parse_error_body(trimmed.as_bytes());
            let code = v.get("code").and_then(Value::as_u64).unwrap_or(500);
            return Err(Error::Stream {
                provider: self.provider.clone(),
                model: self.model.clone(),
                error_type: b.error_type,
                message: b.message,
                transient: code >= 500 || code == 429,
                content_sent: self.content_sent,
            });
        }
        // llama.cpp sends its `timings` on the last chunk; a non-streamed answer keeps them too.
        let timings = v.get("timings").cloned();
        let chunk: ChatCompletionChunk = serde_json::from_value(v)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream chunk", e, trimmed))?;
        let start = out.len();
        let r = self.inner.decode_chunk(chunk, out);
        if out[start..].iter().any(StreamEvent::is_content) {
            self.content_sent = true;
        }
        if let Some(value) = timings {
            out.push(StreamEvent::Annotation {
                key: "timings".into(),
                value,
            });
        }
        r
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<()> {
        FrameDecoder::end(&mut self.inner, out)
    }

    fn is_done(&self) -> bool {
        FrameDecoder::is_done(&self.inner)
    }
}

/// Error mapping of local servers over the shared one: llama.cpp's 501 `not_supported_error`
/// (e.g. embeddings without `--embeddings`) and its 500 "tools param requires --jinja flag" are
/// [`Error::Unsupported`] (the server cannot do it; another deployment may), naming the server's
/// words. `exceed_context_size_error` is context length exceeded (shared mapping).
pub fn map_error(ctx: &ErrorContext<'_>, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let b = parse_error_body(body);
    let secrets: Vec<&runtime_core::Secret> = ctx.secret.into_iter().collect();
    let message = redact(&b.message, &secrets);
    if status == 501 || b.error_type.as_deref() == Some("not_supported_error") {
        return Error::Unsupported {
            provider: ctx.provider.to_owned(),
            capability: format!("this request on this server ({message})"),
        };
    }
    if message.contains("--jinja") {
        return Error::Unsupported {
            provider: ctx.provider.to_owned(),
            capability: format!("tools on this server ({message})"),
        };
    }
    classify(ctx, status, headers, b)
}

/// An entry of llama.cpp's Ollama-style `models[]`.
#[derive(Debug, Clone, Deserialize)]
struct NamedModel {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    model: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct DataModel {
    id: String,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    owned_by: Option<String>,
    #[serde(default)]
    meta: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
struct Listing {
    #[serde(default)]
    data: Vec<DataModel>,
    #[serde(default)]
    models: Vec<NamedModel>,
}

fn info(provider: &str, id: &str, catalog: &[ModelInfo]) -> ModelInfo {
    let mut m = catalog
        .iter()
        .find(|c| c.id == id)
        .cloned()
        .unwrap_or_else(|| static_model(provider, id));
    m.provider = provider.to_owned();
    m
}

/// A catalog entry for a configured model name (kind guessed from the name).
pub fn static_model(provider: &str, id: &str) -> ModelInfo {
    let kind = openai::guess_kind(id);
    ModelInfo {
        id: id.to_owned(),
        provider: provider.to_owned(),
        kind,
        supports_streaming: kind == ModelKind::Chat,
        supports_tools: kind == ModelKind::Chat,
        ..ModelInfo::default()
    }
}

/// Parses `GET /v1/models`: OpenAI's `data[]` (llama.cpp's `meta.n_ctx` becomes the context
/// window; `created: 0` is treated as unknown), else an Ollama-style `models[]`.
pub fn parse_model_list(
    body: &[u8],
    provider: &str,
    catalog: &[ModelInfo],
) -> Result<Vec<ModelInfo>> {
    let l: Listing = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            provider,
            "",
            "model list",
            e,
            &String::from_utf8_lossy(body),
        )
    })?;
    if !l.data.is_empty() {
        return Ok(l
            .data
            .into_iter()
            .map(|d| {
                let mut m = info(provider, &d.id, catalog);
                m.created = d.created.filter(|c| *c > 0);
                m.owned_by = d.owned_by;
                if let Some(n) = d
                    .meta
                    .as_ref()
                    .and_then(|x| x.get("n_ctx"))
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                {
                    m.context_window = Some(n);
                }
                m
            })
            .collect());
    }
    Ok(l.models
        .into_iter()
        .filter_map(|m| m.name.or(m.model))
        .map(|id| info(provider, &id, catalog))
        .collect())
}

/// A provider over a local OpenAI-compatible server.
#[derive(Debug, Clone)]
pub struct LocalOpenAiProvider {
    compat: CompatProvider,
    name: Arc<str>,
}

impl LocalOpenAiProvider {
    pub(crate) fn new(compat: CompatProvider) -> Self {
        let name = compat.config().name.clone();
        Self { compat, name }
    }

    /// The underlying OpenAI-compatible provider.
    pub fn compat(&self) -> &CompatProvider {
        &self.compat
    }

    /// The request spec of a chat call for `model` (the body's or a re-targeted call's).
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        self.compat.check_request(req)?;
        let body = chat_body(req, model, stream, self.compat.config().request, &self.name)?;
        self.compat
            .post_spec(Operation::Chat, model, &body, stream, ctx)
    }
}

/// The chat builder takes the model apart from the body, and completions and embeddings go to
/// the compatible provider's twins: a re-targeted call is sent as it is, without a copy.
#[async_trait]
impl ServeAs for LocalOpenAiProvider {
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.chat_spec(req, model, false, ctx)?;
        let body = self.compat.send(spec, model, ctx).await?;
        parse_chat_body(&body, &self.name, model)
    }

    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.chat_spec(req, model, true, ctx)?;
        let decoder = LocalChunkDecoder::new(&self.name, model);
        self.compat.stream_with(spec, model, ctx, decoder).await
    }

    async fn complete_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        self.compat.complete_as(req, model, ctx).await
    }

    async fn complete_stream_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        self.compat.complete_stream_as(req, model, ctx).await
    }

    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.compat.embed_as(req, model, ctx).await
    }
}

#[async_trait]
impl Provider for LocalOpenAiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.compat.capabilities()
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_as(req, &req.model, ctx).await
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        self.chat_stream_as(req, &req.model, ctx).await
    }

    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        self.complete_as(req, &req.model, ctx).await
    }

    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        self.complete_stream_as(req, &req.model, ctx).await
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.embed_as(req, &req.model, ctx).await
    }

    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        runtime_core::serve_as(self, call, ctx).await
    }

    /// The configured `models` (static catalog).
    fn models(&self) -> Vec<ModelInfo> {
        self.compat.models()
    }

    /// `GET {base_url}/models`, live.
    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let body = self.compat.model_list_body(ctx).await?;
        parse_model_list(&body, &self.name, &self.compat.models())
    }
}
