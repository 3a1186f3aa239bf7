//! A tiny OpenAI-compatible HTTP provider for tests (the real one lives in provider-openai),
//! plus helpers.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use runtime_core::http::{CallInfo, HttpClient, HttpClientConfig, HttpRequestSpec};
use runtime_core::{
    AssistantMessage, Capabilities, ChatRequest, ChatResponse, ChatStream, Content, Error,
    FinishReason, HealthStatus, Provider, RequestContext, Result, Secret, StreamEvent, Usage,
};
use serde_json::{Value, json};

/// Speaks just enough of OpenAI's chat API to talk to wiremock.
pub struct HttpTestProvider {
    name: Arc<str>,
    base: String,
    http: HttpClient,
    key: Option<Secret>,
    timeout: Duration,
}

impl HttpTestProvider {
    pub fn new(name: &str, base: &str) -> Arc<Self> {
        Arc::new(Self {
            name: Arc::from(name),
            base: base.trim_end_matches('/').to_owned(),
            http: HttpClient::new(&HttpClientConfig::default()).unwrap(),
            key: Some(Secret::new("configured-key")),
            timeout: Duration::from_secs(30),
        })
    }

    fn spec(&self, path: &str, body: &Value, ctx: &RequestContext) -> HttpRequestSpec {
        let key = ctx.api_key.as_ref().or(self.key.as_ref()).cloned();
        let spec = HttpRequestSpec::post_json(format!("{}{path}", self.base), body);
        match key {
            Some(k) => spec.bearer(&k),
            None => spec,
        }
    }

    fn call(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        CallInfo::new(
            self.name.clone(),
            model,
            ctx.api_key.clone().or(self.key.clone()),
            self.timeout,
        )
    }
}

fn decode_chunk(
    provider: &str,
    model: &str,
    v: &Value,
    out: &mut Vec<StreamEvent>,
    started: &mut bool,
) -> Result<()> {
    if let Some(err) = v.get("error") {
        return Err(Error::Stream {
            provider: provider.to_owned(),
            model: model.to_owned(),
            error_type: err.get("type").and_then(Value::as_str).map(str::to_owned),
            message: err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("stream error")
                .to_owned(),
            transient: true,
            content_sent: false,
        });
    }
    if !*started {
        *started = true;
        out.push(StreamEvent::Start {
            id: v["id"].as_str().unwrap_or("").to_owned(),
            model: v["model"].as_str().unwrap_or(model).to_owned(),
            created: v["created"].as_i64().unwrap_or(0),
        });
    }
    if let Some(choice) = v["choices"].get(0) {
        if let Some(t) = choice["delta"]["content"].as_str() {
            if !t.is_empty() {
                out.push(StreamEvent::TextDelta { text: t.to_owned() });
            }
        }
        if let Some(f) = choice["finish_reason"].as_str() {
            out.push(StreamEvent::Finish {
                reason: FinishReason::from_openai(f),
            });
        }
    }
    if let Some(u) = v.get("usage").filter(|u| !u.is_null()) {
        let u: Usage = serde_json::from_value(u.clone())
            .map_err(|e| Error::decode(provider, model, "usage", e, ""))?;
        out.push(StreamEvent::Usage(u));
    }
    Ok(())
}

#[async_trait]
impl Provider for HttpTestProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default().list_models(true)
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        let body =
            json!({"model": req.model, "messages": req.messages, "max_tokens": req.max_tokens});
        let call = self.call(&req.model, ctx);
        let (v, _): (Value, _) = self
            .http
            .json(
                &call,
                self.spec("/v1/chat/completions", &body, ctx),
                ctx,
                "chat response",
            )
            .await?;
        let choice = &v["choices"][0];
        Ok(ChatResponse {
            id: v["id"].as_str().unwrap_or("").to_owned(),
            model: v["model"].as_str().unwrap_or(&req.model).to_owned(),
            created: v["created"].as_i64().unwrap_or(0),
            message: AssistantMessage {
                content: choice["message"]["content"]
                    .as_str()
                    .map(|s| Content::Text(s.to_owned())),
                ..AssistantMessage::default()
            },
            finish_reason: FinishReason::from_openai(
                choice["finish_reason"].as_str().unwrap_or("stop"),
            ),
            usage: v
                .get("usage")
                .and_then(|u| serde_json::from_value(u.clone()).ok()),
            meta: Default::default(),
        })
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        let body = json!({"model": req.model, "messages": req.messages, "stream": true});
        let call = self.call(&req.model, ctx);
        let (sse, _) = self
            .http
            .sse(&call, self.spec("/v1/chat/completions", &body, ctx), ctx)
            .await?;
        let provider = self.name.to_string();
        let model = req.model.clone();
        let s = futures::stream::unfold(
            (Box::pin(sse), Vec::<StreamEvent>::new(), false, false),
            move |(mut sse, mut pending, mut started, done)| {
                let provider = provider.clone();
                let model = model.clone();
                async move {
                    loop {
                        if !pending.is_empty() {
                            let ev = pending.remove(0);
                            return Some((Ok(ev), (sse, pending, started, done)));
                        }
                        if done {
                            return None;
                        }
                        match sse.next().await? {
                            Err(e) => return Some((Err(e), (sse, pending, started, true))),
                            Ok(ev) if ev.data.trim() == "[DONE]" => return None,
                            Ok(ev) => {
                                let v: Value = match serde_json::from_str(&ev.data) {
                                    Ok(v) => v,
                                    Err(e) => {
                                        return Some((
                                            Err(Error::decode(
                                                &provider, &model, "chunk", e, &ev.data,
                                            )),
                                            (sse, pending, started, true),
                                        ));
                                    }
                                };
                                if let Err(e) =
                                    decode_chunk(&provider, &model, &v, &mut pending, &mut started)
                                {
                                    return Some((Err(e), (sse, pending, started, true)));
                                }
                            }
                        }
                    }
                }
            },
        );
        Ok(ChatStream::new(s))
    }

    async fn health(&self, ctx: &RequestContext) -> Result<HealthStatus> {
        let start = std::time::Instant::now();
        let call = self.call("", ctx);
        let mut spec = HttpRequestSpec::get(format!("{}/v1/models", self.base));
        if let Some(k) = ctx.api_key.as_ref().or(self.key.as_ref()) {
            spec = spec.bearer(k);
        }
        self.http.bytes(&call, spec, ctx).await?;
        Ok(HealthStatus {
            healthy: true,
            latency: start.elapsed(),
            detail: "models listed".into(),
        })
    }
}

/// An OpenAI chat completion body answering `text`.
pub fn chat_body(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    })
}

/// An SSE body streaming `text` in two chunks.
pub fn sse_body(text: &str) -> String {
    let (a, b) = text.split_at(text.len() / 2);
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    format!(
        "{}{}{}{}data: [DONE]\n\n",
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": a}), Value::Null),
        chunk(json!({"content": b}), Value::Null),
        chunk(json!({}), json!("stop")),
    )
}

pub fn user(text: &str) -> Vec<runtime_core::Message> {
    vec![runtime_core::Message::user(text)]
}
