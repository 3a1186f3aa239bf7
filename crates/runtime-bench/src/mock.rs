//! A fast OpenAI-compatible mock upstream.
//!
//! Every response body is built once at start ([`MockBodies`]); a request costs reading its body
//! and writing precomputed bytes. Sockets get `TCP_NODELAY`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use futures::StreamExt;
use tokio::net::TcpListener;

/// What the mock answers.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Content chunks of a streamed answer (a final chunk with `finish_reason`, a usage chunk
    /// and `[DONE]` follow them).
    pub stream_chunks: usize,
    /// Dimensions of an embedding vector.
    pub embedding_dims: usize,
    /// Wait this long before answering (and between stream chunks when `chunk_delay` is set).
    pub delay: Duration,
    /// Wait this long between two stream chunks.
    pub chunk_delay: Duration,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            stream_chunks: 20,
            embedding_dims: 64,
            delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
        }
    }
}

/// Precomputed response bodies.
#[derive(Debug, Clone)]
pub struct MockBodies {
    /// `POST /v1/chat/completions` without `"stream": true`.
    pub chat: Bytes,
    /// The SSE events of a streamed answer, one `Bytes` per event.
    pub stream: Vec<Bytes>,
    /// One embedding object (`{"object":"embedding","index":…` is added per input).
    pub embedding_vector: String,
    /// `GET /v1/models`.
    pub models: Bytes,
}

const CREATED: u64 = 1_700_000_000;

impl MockBodies {
    /// Builds every body for `config`.
    pub fn new(config: &MockConfig) -> Self {
        let n = config.stream_chunks;
        let words: Vec<String> = (0..n.max(1)).map(|i| format!("tok{i} ")).collect();
        let content: String = words.concat();
        let chat = serde_json::json!({
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": "bench-model",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop"
            }],
            "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n}
        });
        let mut stream = Vec::with_capacity(n + 3);
        let event = |v: serde_json::Value| Bytes::from(format!("data: {v}\n\n"));
        for (i, w) in words.iter().take(n).enumerate() {
            let delta = if i == 0 {
                serde_json::json!({"role": "assistant", "content": w})
            } else {
                serde_json::json!({"content": w})
            };
            stream.push(event(serde_json::json!({
                "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED,
                "model": "bench-model",
                "choices": [{"index": 0, "delta": delta, "finish_reason": null}]
            })));
        }
        stream.push(event(serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED,
            "model": "bench-model",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]
        })));
        stream.push(event(serde_json::json!({
            "id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED,
            "model": "bench-model", "choices": [],
            "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n}
        })));
        stream.push(Bytes::from_static(b"data: [DONE]\n\n"));
        let vector: Vec<f32> = (0..config.embedding_dims)
            .map(|i| ((i % 17) as f32) / 17.0 - 0.5)
            .collect();
        let embedding_vector = serde_json::to_string(&vector).unwrap_or_else(|_| "[]".into());
        let models = serde_json::json!({
            "object": "list",
            "data": [
                {"id": "bench-model", "object": "model", "created": CREATED, "owned_by": "bench"},
                {"id": "bench-embed", "object": "model", "created": CREATED, "owned_by": "bench"}
            ]
        });
        Self {
            chat: Bytes::from(chat.to_string()),
            stream,
            embedding_vector,
            models: Bytes::from(models.to_string()),
        }
    }

    /// The embeddings answer for `inputs` texts.
    pub fn embeddings(&self, inputs: usize) -> Bytes {
        let mut out = String::with_capacity(64 + inputs * (self.embedding_vector.len() + 48));
        out.push_str(r#"{"object":"list","data":["#);
        for i in 0..inputs {
            if i > 0 {
                out.push(',');
            }
            out.push_str(r#"{"object":"embedding","index":"#);
            out.push_str(&i.to_string());
            out.push_str(r#","embedding":"#);
            out.push_str(&self.embedding_vector);
            out.push('}');
        }
        let tokens = inputs * 4;
        out.push_str(&format!(
            r#"],"model":"bench-embed","usage":{{"prompt_tokens":{tokens},"total_tokens":{tokens}}}}}"#
        ));
        Bytes::from(out)
    }
}

struct MockState {
    bodies: MockBodies,
    config: MockConfig,
}

/// The mock's axum router: `POST /v1/chat/completions`, `POST /v1/embeddings`,
/// `GET /v1/models`, `GET /health`.
pub fn router(config: MockConfig) -> Router {
    let state = Arc::new(MockState {
        bodies: MockBodies::new(&config),
        config,
    });
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .route("/health", get(|| async { "ok" }))
        .with_state(state)
}

/// Serves the mock on `listener` until the process ends.
pub async fn serve(listener: TcpListener, config: MockConfig) -> std::io::Result<()> {
    let listener = listener.tap_io(|tcp| {
        // Best effort: a socket that refuses NODELAY still works, only slower.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(config)).await
}

/// Binds `addr` and returns the listener and its actual address (for port 0).
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

fn json(body: Bytes) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Whether a JSON request body asks for a stream, without parsing it fully.
pub fn wants_stream(body: &[u8]) -> bool {
    let needle = b"\"stream\"";
    let Some(pos) = body.windows(needle.len()).position(|w| w == needle) else {
        return false;
    };
    let rest = &body[pos + needle.len()..];
    let rest = rest
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == b':')
        .take(4)
        .copied()
        .collect::<Vec<u8>>();
    rest == b"true"
}

async fn chat(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    if !state.config.delay.is_zero() {
        tokio::time::sleep(state.config.delay).await;
    }
    if !wants_stream(&body) {
        return json(state.bodies.chat.clone());
    }
    let events = state.bodies.stream.clone();
    let chunk_delay = state.config.chunk_delay;
    let body = if chunk_delay.is_zero() {
        Body::from_stream(futures::stream::iter(
            events.into_iter().map(Ok::<_, std::convert::Infallible>),
        ))
    } else {
        Body::from_stream(futures::stream::iter(events).then(move |b| async move {
            tokio::time::sleep(chunk_delay).await;
            Ok::<_, std::convert::Infallible>(b)
        }))
    };
    let mut r = Response::new(body);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

async fn embeddings(State(state): State<Arc<MockState>>, body: Bytes) -> Response {
    if !state.config.delay.is_zero() {
        tokio::time::sleep(state.config.delay).await;
    }
    let inputs = match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(v) => match v.get("input") {
            Some(serde_json::Value::Array(a)) => a.len().max(1),
            Some(_) => 1,
            None => return (StatusCode::BAD_REQUEST, "missing input").into_response(),
        },
        Err(_) => return (StatusCode::BAD_REQUEST, "invalid JSON").into_response(),
    };
    json(state.bodies.embeddings(inputs))
}

async fn models(State(state): State<Arc<MockState>>) -> Response {
    json(state.bodies.models.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_flag_is_detected() {
        assert!(wants_stream(br#"{"model":"m","stream": true}"#));
        assert!(wants_stream(br#"{"stream":true,"model":"m"}"#));
        assert!(!wants_stream(br#"{"model":"m","stream":false}"#));
        assert!(!wants_stream(br#"{"model":"m"}"#));
    }

    #[test]
    fn bodies_are_valid_openai_json() {
        let b = MockBodies::new(&MockConfig {
            stream_chunks: 3,
            ..MockConfig::default()
        });
        let chat: serde_json::Value = serde_json::from_slice(&b.chat).unwrap();
        assert_eq!(chat["choices"][0]["message"]["content"], "tok0 tok1 tok2 ");
        assert_eq!(b.stream.len(), 3 + 3);
        let usage = std::str::from_utf8(&b.stream[4]).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(usage.trim_start_matches("data: ").trim()).unwrap();
        assert_eq!(v["usage"]["completion_tokens"], 3);
        let e: serde_json::Value = serde_json::from_slice(&b.embeddings(2)).unwrap();
        assert_eq!(e["data"][1]["index"], 1);
        assert_eq!(e["data"][0]["embedding"].as_array().unwrap().len(), 64);
    }
}
