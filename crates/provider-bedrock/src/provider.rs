//! The Bedrock provider: HTTP calls over the shared client, signed or with a bearer key.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::future::try_join_all;

use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec};
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, Embedding, EmbeddingRequest,
    EmbeddingResponse, Error, ModelInfo, Provider, Reply, RequestContext, RerankRequest,
    RerankResponse, ResponseMeta, Result, ServeAs, Usage,
};

use crate::auth::{Auth, SERVICE, sign_spec};
use crate::wire::embed::{self, CohereResponse, EmbedFamily, TitanResponse};
use crate::wire::models::{FoundationModels, InferenceProfiles, parse_models};
use crate::wire::rerank::{self, BedrockRerankPage};
use crate::wire::{self, ConverseResponse, EventStreamFrames, StreamDecoder, map_bedrock_error};

/// What Bedrock serves through this provider.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .completion(true)
    .embeddings(true)
    .rerank(true)
    .list_models(true)
    .max_embedding_inputs(Some(embed::COHERE_MAX_TEXTS));

/// Most pages of `GET /inference-profiles` followed.
const MAX_PROFILE_PAGES: usize = 50;

/// Most pages of a `Rerank` answer followed (1000 sources at most, so a few pages at most).
const MAX_RERANK_PAGES: usize = 20;

/// Everything the provider needs; build it with [`crate::BedrockSettings`].
#[derive(Debug, Clone)]
pub struct BedrockConfig {
    /// Instance name.
    pub name: Arc<str>,
    /// Region (signing scope and default hosts).
    pub region: String,
    /// Runtime base URL (`https://bedrock-runtime.<region>.amazonaws.com`), no trailing `/`.
    pub runtime_url: String,
    /// Control-plane base URL (`https://bedrock.<region>.amazonaws.com`), no trailing `/`.
    pub control_url: String,
    /// Agent Runtime base URL (`https://bedrock-agent-runtime.<region>.amazonaws.com`, the
    /// `Rerank` API), no trailing `/`.
    pub agent_runtime_url: String,
    /// Credentials.
    pub auth: Auth,
    /// Whole-request timeout (and wait for stream headers).
    pub timeout: Duration,
    /// Longest silence inside a stream.
    pub stream_idle_timeout: Duration,
    /// Static catalog.
    pub catalog: Vec<ModelInfo>,
}

/// The AWS Bedrock provider.
#[derive(Debug, Clone)]
pub struct BedrockProvider {
    cfg: Arc<BedrockConfig>,
    http: HttpClient,
}

impl BedrockProvider {
    /// A provider with this config and the shared client.
    pub fn new(cfg: BedrockConfig, http: HttpClient) -> Self {
        Self {
            cfg: Arc::new(cfg),
            http,
        }
    }

    /// Its config.
    pub fn config(&self) -> &BedrockConfig {
        &self.cfg
    }

    /// The credentials of a call: a per-request key (`RequestContext::api_key`, rotated by
    /// the router) is a Bedrock API key; else the configured credentials.
    fn auth(&self, ctx: &RequestContext) -> Auth {
        match ctx.api_key.as_ref().filter(|k| !k.is_empty()) {
            Some(k) => Auth::Bearer(k.clone()),
            None => self.cfg.auth.clone(),
        }
    }

    fn call(&self, model: &str, auth: &Auth) -> CallInfo {
        let mut c = CallInfo::new(
            self.cfg.name.clone(),
            model,
            Some(auth.secret()),
            self.cfg.timeout,
        );
        c.idle_timeout = self.cfg.stream_idle_timeout;
        c.map_error = map_bedrock_error;
        c
    }

    /// Authorizes a spec: bearer header, or a SigV4 signature over the final request.
    pub fn authorize(&self, mut spec: HttpRequestSpec, auth: &Auth) -> Result<HttpRequestSpec> {
        match auth {
            Auth::Bearer(k) => Ok(spec.bearer(k)),
            Auth::SigV4(c) => {
                sign_spec(&mut spec, c, &self.cfg.region, SERVICE, SystemTime::now()).map_err(
                    |reason| Error::InvalidConfig {
                        provider: self.cfg.name.to_string(),
                        field: "credentials".into(),
                        reason,
                    },
                )?;
                Ok(spec)
            }
        }
    }

    /// The unsigned spec of a Converse (or ConverseStream) call for `model` (the body's, or the
    /// one a re-targeted call names: the URL, and so the SigV4 signature over it, names it).
    pub fn chat_spec_unsigned(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
    ) -> Result<HttpRequestSpec> {
        let body = wire::converse_request(req, model, &self.cfg.name)?;
        let action = if stream {
            "converse-stream"
        } else {
            "converse"
        };
        let url = format!(
            "{}{}",
            self.cfg.runtime_url,
            wire::model_path(model, action)
        );
        let spec = HttpRequestSpec::post_json(url, &body);
        Ok(if stream {
            spec.header("accept", "application/vnd.amazon.eventstream")
        } else {
            spec.header("accept", "application/json")
        })
    }

    async fn invoke<T: serde::de::DeserializeOwned>(
        &self,
        model: &str,
        body: &impl serde::Serialize,
        ctx: &RequestContext,
    ) -> Result<(T, Option<u64>)> {
        let auth = self.auth(ctx);
        let url = format!(
            "{}{}",
            self.cfg.runtime_url,
            wire::model_path(model, "invoke")
        );
        let spec = HttpRequestSpec::post_json(url, body).header("accept", "application/json");
        let spec = self.authorize(spec, &auth)?;
        let call = self.call(model, &auth);
        let (value, headers) = self
            .http
            .json(&call, spec, ctx, "InvokeModel response")
            .await?;
        let tokens = headers
            .get("x-amzn-bedrock-input-token-count")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        Ok((value, tokens))
    }

    /// The unsigned spec of one `Rerank` page: pure, for snapshots.
    pub fn rerank_spec_unsigned(&self, body: &rerank::BedrockRerankRequest) -> HttpRequestSpec {
        HttpRequestSpec::post_json(format!("{}/rerank", self.cfg.agent_runtime_url), body)
            .header("accept", "application/json")
    }

    async fn control_get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        ctx: &RequestContext,
    ) -> Result<T> {
        let auth = self.auth(ctx);
        let spec = HttpRequestSpec::get(format!("{}{path}", self.cfg.control_url))
            .header("accept", "application/json");
        let spec = self.authorize(spec, &auth)?;
        let call = self.call("", &auth);
        let (value, _h) = self.http.json(&call, spec, ctx, "model list").await?;
        Ok(value)
    }
}

/// The wire builders take the model apart from the body: a re-targeted call (the dispatcher's
/// `provider/model`, a router deployment's model) is sent, and signed, as it is, without a copy
/// of its body.
#[async_trait]
impl ServeAs for BedrockProvider {
    // Completions are served over chat (the default `complete`), re-targeted ones too.
    const COMPLETION_OVER_CHAT: bool = true;

    /// A Converse answer from `model` (the body's model or a re-targeted call's).
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let auth = self.auth(ctx);
        let spec = self.authorize(self.chat_spec_unsigned(req, model, false)?, &auth)?;
        let call = self.call(model, &auth);
        let (body, headers): (ConverseResponse, _) = self
            .http
            .json(&call, spec, ctx, "Converse response")
            .await?;
        let mut resp = wire::parse_converse(body, &self.cfg.name, model)?;
        resp.meta.upstream_request_id = request_id(&headers);
        Ok(resp)
    }

    /// A ConverseStream answer from `model`.
    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let auth = self.auth(ctx);
        let spec = self.authorize(self.chat_spec_unsigned(req, model, true)?, &auth)?;
        let call = self.call(model, &auth);
        let (bytes, headers) = self.http.stream(&call, spec, ctx).await?;
        let frames = EventStreamFrames::new(bytes, &self.cfg.name, model);
        let decoder = StreamDecoder::new(&self.cfg.name, model);
        Ok(
            ChatStream::decode_frames(frames, decoder).with_meta(ResponseMeta {
                provider: Some(self.cfg.name.to_string()),
                upstream_request_id: request_id(&headers),
                ..ResponseMeta::default()
            }),
        )
    }

    /// Titan or Cohere embeddings from `model` (its family picks the body).
    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        let name = &self.cfg.name;
        if req.input.is_empty() {
            return Err(Error::invalid_request(
                name,
                model,
                Some("input"),
                "no input texts",
            ));
        }
        let Some(family) = EmbedFamily::of(model) else {
            return Err(Error::invalid_request(
                name,
                model,
                Some("model"),
                "not an embedding model this provider knows (amazon.titan-embed-*, cohere.embed-*)",
            ));
        };
        let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(req.input.len());
        let mut tokens = 0u64;
        match family {
            EmbedFamily::Cohere => {
                for chunk in req.input.chunks(family.batch()) {
                    let body = embed::cohere_request(req, model, chunk, name)?;
                    let (r, t): (CohereResponse, _) = self.invoke(model, &body, ctx).await?;
                    let v = embed::cohere_vectors(r, name, model)?;
                    if v.len() != chunk.len() {
                        return Err(Error::decode(
                            name,
                            model,
                            "Cohere embeddings",
                            format!("{} vectors for {} texts", v.len(), chunk.len()),
                            "",
                        ));
                    }
                    vectors.extend(v);
                    tokens += t.unwrap_or(0);
                }
            }
            EmbedFamily::TitanV1 | EmbedFamily::TitanV2 => {
                // One text per call: sent concurrently, answered in order.
                let bodies = req
                    .input
                    .iter()
                    .map(|t| embed::titan_request(req, model, t, family, name))
                    .collect::<Result<Vec<_>>>()?;
                let answers = try_join_all(
                    bodies
                        .iter()
                        .map(|b| self.invoke::<TitanResponse>(model, b, ctx)),
                )
                .await?;
                for (r, t) in answers {
                    tokens += t.unwrap_or(r.input_text_token_count);
                    vectors.push(r.embedding);
                }
            }
        }
        Ok(EmbeddingResponse {
            model: model.to_owned(),
            data: vectors
                .into_iter()
                .enumerate()
                .map(|(index, embedding)| Embedding { index, embedding })
                .collect(),
            usage: Some(Usage::new(tokens, 0)),
            meta: ResponseMeta {
                provider: Some(name.to_string()),
                ..ResponseMeta::default()
            },
        })
    }

    /// The Agent Runtime `Rerank` API with `model`, following `nextToken` pages.
    async fn rerank_as(
        &self,
        req: &RerankRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<RerankResponse> {
        let name = &self.cfg.name;
        let mut body = rerank::rerank_request(req, model, &self.cfg.region, name)?;
        let auth = self.auth(ctx);
        let call = self.call(model, &auth);
        let mut pages = Vec::new();
        for _ in 0..MAX_RERANK_PAGES {
            let spec = self.authorize(self.rerank_spec_unsigned(&body), &auth)?;
            let (page, _h): (BedrockRerankPage, _) =
                self.http.json(&call, spec, ctx, "Rerank response").await?;
            let next = page.next_token.clone().filter(|t| !t.is_empty());
            pages.push(page);
            match next {
                Some(t) if body.next_token.as_deref() != Some(t.as_str()) => {
                    body.next_token = Some(t);
                }
                _ => return rerank::parse_rerank(pages, req, model, name),
            }
        }
        Err(Error::decode(
            name,
            model,
            "Rerank response",
            format!("more than {MAX_RERANK_PAGES} pages"),
            "",
        ))
    }
}

#[async_trait]
impl Provider for BedrockProvider {
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

    /// The Agent Runtime `Rerank` API, following `nextToken` pages.
    async fn rerank(&self, req: &RerankRequest, ctx: &RequestContext) -> Result<RerankResponse> {
        self.rerank_as(req, &req.model, ctx).await
    }

    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        runtime_core::serve_as(self, call, ctx).await
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.cfg.catalog.clone()
    }

    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let models: FoundationModels = self.control_get("/foundation-models", ctx).await?;
        let mut profiles = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PROFILE_PAGES {
            let mut path = "/inference-profiles?maxResults=1000".to_owned();
            if let Some(t) = &token {
                path.push_str("&nextToken=");
                path.push_str(&wire::encode_segment(t));
            }
            let page: InferenceProfiles = self.control_get(&path, ctx).await?;
            profiles.extend(page.inference_profile_summaries);
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(next) if token.as_deref() != Some(next.as_str()) => token = Some(next),
                _ => {
                    return Ok(parse_models(
                        models,
                        profiles,
                        &self.cfg.name,
                        &self.cfg.catalog,
                    ));
                }
            }
        }
        Err(Error::decode(
            &self.cfg.name,
            "",
            "inference profile list",
            format!("more than {MAX_PROFILE_PAGES} pages"),
            "",
        ))
    }
}

fn request_id(h: &http::HeaderMap) -> Option<String> {
    h.get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
