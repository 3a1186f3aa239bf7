//! Test-only HTTP embeddings provider (OpenAI wire shape) and a wiremock responder for it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec};
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, Embedding, EmbeddingRequest,
    EmbeddingResponse, Error, Provider, RequestContext, Result, Usage,
};
use serde::Deserialize;
use serde_json::json;
use wiremock::{Request, Respond, ResponseTemplate};

/// The vector the responder returns for a text.
pub fn vector(text: &str) -> Vec<f32> {
    vec![
        text.len() as f32,
        f32::from(text.bytes().next().unwrap_or(0)),
        1.0,
    ]
}

/// Answers `POST /v1/embeddings` like OpenAI: one vector per input, usage = one token per
/// byte of input.
pub struct EmbeddingsResponder;

impl Respond for EmbeddingsResponder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        #[derive(Deserialize)]
        struct Body {
            model: String,
            input: Vec<String>,
        }
        let Ok(body) = serde_json::from_slice::<Body>(&req.body) else {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"message": "bad body"}}));
        };
        let data: Vec<_> = body
            .input
            .iter()
            .enumerate()
            .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": vector(t)}))
            .collect();
        let tokens: usize = body.input.iter().map(String::len).sum();
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "model": body.model,
            "data": data,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
        }))
    }
}

/// A minimal OpenAI-compatible embeddings client over the shared HTTP plumbing.
pub struct HttpEmbedder {
    name: Arc<str>,
    base_url: String,
    client: HttpClient,
    max_inputs: Option<usize>,
}

impl HttpEmbedder {
    pub fn new(base_url: &str, max_inputs: Option<usize>) -> Result<Self> {
        Ok(Self {
            name: Arc::from("http-embedder"),
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: HttpClient::new(&Default::default())?,
            max_inputs,
        })
    }
}

#[derive(Deserialize)]
struct WireEmbedding {
    index: usize,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct WireResponse {
    model: String,
    data: Vec<WireEmbedding>,
    usage: Option<Usage>,
}

#[async_trait::async_trait]
impl Provider for HttpEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .chat(false)
            .streaming(false)
            .embeddings(true)
            .max_embedding_inputs(self.max_inputs)
    }

    async fn chat(&self, _req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatResponse> {
        Err(Error::unsupported(&self.name, "chat"))
    }

    async fn chat_stream(&self, _req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatStream> {
        Err(Error::unsupported(&self.name, "chat"))
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        let call = CallInfo::new(self.name.clone(), &req.model, None, Duration::from_secs(30));
        let spec = HttpRequestSpec::post_json(format!("{}/v1/embeddings", self.base_url), req);
        let (wire, _headers): (WireResponse, _) =
            self.client.json(&call, spec, ctx, "embeddings").await?;
        Ok(EmbeddingResponse {
            model: wire.model,
            data: wire
                .data
                .into_iter()
                .map(|e| Embedding {
                    index: e.index,
                    embedding: e.embedding,
                })
                .collect(),
            usage: wire.usage,
            meta: runtime_core::ResponseMeta {
                provider: Some(self.name.to_string()),
                ..Default::default()
            },
        })
    }
}
