//! The Gemini provider: HTTP calls over the shared client.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::HeaderMap;

use runtime_core::error::truncate;
use runtime_core::http::{
    CallInfo, ErrorContext, HttpClient, HttpRequestSpec, classify, parse_error_body,
};
use runtime_core::secret::redact;
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse,
    Error, ModelInfo, Provider, Reply, RequestContext, ResponseMeta, Result, Secret, ServeAs,
};

use crate::wire::{self, BatchEmbedContentsResponse, EmbedContentResponse, ModelsPage};

/// What the Gemini API serves.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .embeddings(true)
    .list_models(true)
    .max_embedding_inputs(Some(wire::MAX_BATCH));

/// Most pages of `GET /models` followed (a guard against a server that never stops).
const MAX_MODEL_PAGES: usize = 100;

/// Maps a failed call: Google RPC envelopes go through the shared classification (400
/// `API_KEY_INVALID` → authentication, 429 `RetryInfo.retryDelay` → `retry_after`, 404
/// `NOT_FOUND` → model not found); an error body framed as an SSE event (a failed `alt=sse`
/// call) is unframed first.
pub fn map_google_error(
    ctx: &ErrorContext<'_>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let body = wire::unframe_error_body(body);
    let parsed = parse_error_body(&body);
    // Google reports every unusable key (invalid, expired, blocked for this API) with an
    // `ErrorInfo.reason` starting `API_KEY_`, usually under HTTP 400.
    if parsed.reasons.iter().any(|r| r.starts_with("API_KEY_")) {
        let secrets: Vec<&Secret> = ctx.secret.into_iter().collect();
        return Error::Authentication {
            provider: ctx.provider.to_owned(),
            model: ctx.model.to_owned(),
            status: if status == 400 { 401 } else { status },
            message: truncate(&redact(&parsed.message, &secrets), 600),
        };
    }
    classify(ctx, status, headers, parsed)
}

/// Everything the provider needs; build it with [`crate::GoogleSettings`].
#[derive(Debug, Clone)]
pub struct GoogleConfig {
    /// Instance name.
    pub name: Arc<str>,
    /// Base URL (`…/v1beta`), without a trailing slash.
    pub base_url: String,
    /// API key (sent as `x-goog-api-key`).
    pub api_key: Option<Secret>,
    /// Whole-request timeout (and wait for stream headers).
    pub timeout: Duration,
    /// Longest silence inside a stream.
    pub stream_idle_timeout: Duration,
    /// Static catalog.
    pub catalog: Vec<ModelInfo>,
}

/// The Gemini (Generative Language API) provider.
#[derive(Debug, Clone)]
pub struct GoogleProvider {
    cfg: Arc<GoogleConfig>,
    http: HttpClient,
}

impl GoogleProvider {
    /// A provider with this config and the shared client.
    pub fn new(cfg: GoogleConfig, http: HttpClient) -> Self {
        Self {
            cfg: Arc::new(cfg),
            http,
        }
    }

    /// Its config.
    pub fn config(&self) -> &GoogleConfig {
        &self.cfg
    }

    fn key<'a>(&'a self, ctx: &'a RequestContext) -> Option<&'a Secret> {
        ctx.api_key
            .as_ref()
            .or(self.cfg.api_key.as_ref())
            .filter(|k| !k.is_empty())
    }

    fn call(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        let mut c = CallInfo::new(
            self.cfg.name.clone(),
            model,
            self.key(ctx).cloned(),
            self.cfg.timeout,
        );
        c.idle_timeout = self.cfg.stream_idle_timeout;
        c.map_error = map_google_error;
        c
    }

    /// Adds the `x-goog-api-key` header (marked sensitive; the key never goes in the URL).
    pub fn authorize(&self, spec: HttpRequestSpec, ctx: &RequestContext) -> HttpRequestSpec {
        match self.key(ctx) {
            Some(k) => spec.secret_header("x-goog-api-key", "", k),
            None => spec,
        }
    }

    fn method_url(&self, model: &str, method: &str) -> Result<String> {
        let path = wire::model_path(model, &self.cfg.name)?;
        Ok(format!("{}/{path}:{method}", self.cfg.base_url))
    }

    /// The request spec of a chat call for `model` (the body's, or the one a re-targeted call
    /// names: the URL names it), pure apart from reading the config.
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = wire::generate_request(req, model, &self.cfg.name)?;
        let spec = if stream {
            let url = self.method_url(model, "streamGenerateContent")?;
            HttpRequestSpec::post_json(format!("{url}?alt=sse"), &body)
                .header("accept", "text/event-stream")
        } else {
            HttpRequestSpec::post_json(self.method_url(model, "generateContent")?, &body)
        };
        Ok(self.authorize(spec, ctx))
    }

    /// One `:embedContent` (one text) or `:batchEmbedContents` call to `model`.
    async fn embed_batch(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        texts: &[String],
        ctx: &RequestContext,
    ) -> Result<BatchEmbedContentsResponse> {
        let call = self.call(model, ctx);
        if let [one] = texts {
            let body = wire::embed_content_request(req, model, one, &self.cfg.name)?;
            let url = self.method_url(model, "embedContent")?;
            let spec = self.authorize(HttpRequestSpec::post_json(url, &body), ctx);
            let (r, _h): (EmbedContentResponse, _) = self
                .http
                .json(&call, spec, ctx, "embedContent response")
                .await?;
            return Ok(r.into());
        }
        let path = wire::model_path(model, &self.cfg.name)?;
        let body = wire::batch_embed_request(req, model, texts, &path, &self.cfg.name)?;
        let url = self.method_url(model, "batchEmbedContents")?;
        let spec = self.authorize(HttpRequestSpec::post_json(url, &body), ctx);
        let (r, _h): (BatchEmbedContentsResponse, _) = self
            .http
            .json(&call, spec, ctx, "batchEmbedContents response")
            .await?;
        Ok(r)
    }
}

/// The wire builders take the model apart from the body: a re-targeted call (the dispatcher's
/// `provider/model`, a router deployment's model) is sent as it is, without a copy of its body.
#[async_trait]
impl ServeAs for GoogleProvider {
    // Completions are served over chat (the default `complete`), re-targeted ones too.
    const COMPLETION_OVER_CHAT: bool = true;

    /// A `generateContent` answer from `model` (the body's model or a re-targeted call's).
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.chat_spec(req, model, false, ctx)?;
        let call = self.call(model, ctx);
        let (body, _h): (wire::GenerateContentResponse, _) = self
            .http
            .json(&call, spec, ctx, "generateContent response")
            .await?;
        wire::parse_generate(body, &self.cfg.name, model)
    }

    /// A `streamGenerateContent` answer from `model`.
    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.chat_spec(req, model, true, ctx)?;
        let call = self.call(model, ctx);
        let (sse, _headers) = self.http.sse(&call, spec, ctx).await?;
        let decoder = wire::StreamDecoder::new(&self.cfg.name, model);
        Ok(
            ChatStream::decode_sse(sse, decoder).with_meta(ResponseMeta {
                provider: Some(self.cfg.name.to_string()),
                ..ResponseMeta::default()
            }),
        )
    }

    /// Embeddings from `model`, in batches of [`wire::MAX_BATCH`].
    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        req.text_only(&self.cfg.name)?;
        if req.input.is_empty() {
            return Err(Error::invalid_request(
                &self.cfg.name,
                model,
                Some("input"),
                "no input texts",
            ));
        }
        let mut parts = Vec::new();
        for chunk in req.input.chunks(wire::MAX_BATCH) {
            parts.push(self.embed_batch(req, model, chunk, ctx).await?);
        }
        wire::parse_embeddings(parts, req.input.len(), &self.cfg.name, model)
    }
}

#[async_trait]
impl Provider for GoogleProvider {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_as(req, &req.model, ctx).await
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        self.chat_stream_as(req, &req.model, ctx).await
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

    fn models(&self) -> Vec<ModelInfo> {
        self.cfg.catalog.clone()
    }

    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let call = self.call("", ctx);
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_MODEL_PAGES {
            let mut url = format!("{}/models?pageSize=1000", self.cfg.base_url);
            if let Some(t) = &token {
                url.push_str("&pageToken=");
                url.push_str(&encode_query(t));
            }
            let spec = self.authorize(HttpRequestSpec::get(url), ctx);
            let (page, _h): (ModelsPage, _) =
                self.http.json(&call, spec, ctx, "model list").await?;
            all.extend(page.models);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                _ => return Ok(wire::parse_models(all, &self.cfg.name, &self.cfg.catalog)),
            }
        }
        Err(Error::decode(
            &self.cfg.name,
            "",
            "model list",
            format!("more than {MAX_MODEL_PAGES} pages"),
            "",
        ))
    }
}

/// Percent-encodes a query value.
fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unusable_key_is_an_authentication_error() {
        let key = Secret::new("AIzaSecretKey123");
        let ctx = ErrorContext {
            provider: "google",
            model: "m",
            secret: Some(&key),
        };
        let body = br#"{"error":{"code":400,"message":"API key expired. Please renew the API key AIzaSecretKey123.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_EXPIRED"}]}}"#;
        let e = map_google_error(&ctx, 400, &HeaderMap::new(), body);
        assert!(
            matches!(e, Error::Authentication { status: 401, .. }),
            "{e:?}"
        );
        assert!(!e.to_string().contains("AIzaSecretKey123"), "{e}");
        let e = map_google_error(
            &ctx,
            400,
            &HeaderMap::new(),
            br#"{"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}}"#,
        );
        assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
    }

    #[test]
    fn query_encoding() {
        assert_eq!(encode_query("a b/c=="), "a%20b%2Fc%3D%3D");
    }
}
