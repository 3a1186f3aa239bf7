//! Re-targeted calls (a layer above aimed the call at another model than its body names,
//! `Call::with_model`): cached under the model served, shared with direct calls naming that
//! model, and sent upstream re-targeted as they came.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use runtime_cache::{BatchConfig, CachedProvider, ResponseCache};
use runtime_core::{
    AssistantMessage, CacheControl, CacheMode, Call, Capabilities, ChatRequest, ChatResponse,
    CompletionRequest, CompletionResponse, Content, Embedding, EmbeddingRequest, EmbeddingResponse,
    Error, Failure, FinishReason, FromReply, Message, Op, Reply, RequestContext, RerankRequest,
    RerankResponse, RerankResult, Service, ServiceExt,
};

/// What the upstream saw of one call.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    op: &'static str,
    /// `call.model`: the model it was asked to serve.
    model: String,
    /// The model the body names.
    body: String,
    /// The texts of an embedding request.
    inputs: Vec<String>,
}

fn seen(op: &'static str, model: &str, body: &str, inputs: &[&str]) -> Seen {
    Seen {
        op,
        model: model.into(),
        body: body.into(),
        inputs: inputs.iter().map(|t| (*t).to_owned()).collect(),
    }
}

/// An upstream that records every call and answers with the model it was asked to serve and
/// the call's number (`b#1`), so an answer tells which call produced it.
#[derive(Default)]
struct Upstream {
    seen: Mutex<Vec<Seen>>,
}

impl Upstream {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().clone()
    }
}

#[async_trait]
impl Service for Upstream {
    fn name(&self) -> &str {
        "up"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .chat(true)
            .embeddings(true)
            .rerank(true)
    }

    async fn call(&self, call: Call<'_>, _ctx: &RequestContext) -> Result<Reply, Failure> {
        let inputs = match call.op {
            Op::Embed(r) => r.input.clone(),
            _ => Vec::new(),
        };
        let n = {
            let mut seen = self.seen.lock();
            seen.push(Seen {
                op: call.operation(),
                model: call.model.to_owned(),
                body: call.body_model().to_owned(),
                inputs,
            });
            seen.len()
        };
        let model = call.model.to_owned();
        let answer = format!("{model}#{n}");
        Ok(match call.op {
            Op::Chat(_) => Reply::Chat(ChatResponse {
                model,
                message: AssistantMessage {
                    content: Some(Content::Text(answer)),
                    ..AssistantMessage::default()
                },
                finish_reason: FinishReason::Stop,
                ..ChatResponse::default()
            }),
            Op::Complete(_) => Reply::Completion(CompletionResponse {
                model,
                text: answer,
                finish_reason: FinishReason::Stop,
                ..CompletionResponse::default()
            }),
            // A vector per text: its length and the call's number.
            Op::Embed(r) => Reply::Embeddings(EmbeddingResponse {
                model,
                data: r
                    .input
                    .iter()
                    .enumerate()
                    .map(|(index, t)| Embedding {
                        index,
                        embedding: vec![t.len() as f32, n as f32],
                    })
                    .collect(),
                ..EmbeddingResponse::default()
            }),
            Op::Rerank(_) => Reply::Rerank(RerankResponse {
                id: answer,
                model,
                results: vec![RerankResult {
                    index: 0,
                    relevance_score: 0.5,
                    document: None,
                }],
                ..RerankResponse::default()
            }),
            _ => return Err(Error::unsupported("up", call.operation()).into()),
        })
    }
}

fn setup() -> (Arc<Upstream>, CachedProvider) {
    let up = Arc::new(Upstream::default());
    let cached = CachedProvider::new(up.clone(), ResponseCache::memory(1000, 1 << 24));
    (up, cached)
}

/// `call`'s answer from `c` in `ctx`.
#[allow(clippy::unwrap_used)] // A test helper: a failed call fails the test.
async fn answer<T: FromReply>(c: &CachedProvider, call: Call<'_>, ctx: &RequestContext) -> T {
    c.call_typed(call, ctx).await.unwrap()
}

/// The calls every kind is checked with, `send(body model, call model)` answering with its
/// text and whether it was a hit: `a` re-targeted to `b` is a miss (upstream call number
/// `n`), then a hit; a direct call naming `b` hits the same entry; one naming `a` misses.
async fn shares_entries_with_the_model_served(
    send: impl AsyncFn(&str, &str) -> (String, Option<bool>),
    n: usize,
) {
    let (b, a) = (format!("b#{n}"), format!("a#{}", n + 1));
    assert_eq!(send("a", "b").await, (b.clone(), Some(false)));
    assert_eq!(send("a", "b").await, (b.clone(), Some(true)));
    assert_eq!(send("b", "b").await, (b, Some(true)));
    assert_eq!(send("a", "a").await, (a, Some(false)));
}

#[tokio::test]
async fn retargeted_chat_completion_and_ranking_are_cached_under_the_model_served() {
    let (up, c) = setup();
    let ctx = RequestContext::default();
    let chat = async |body: &str, model: &str| {
        let mut req = ChatRequest::new(body, vec![Message::user("hi")]);
        req.temperature = Some(0.0);
        let r: ChatResponse = answer(&c, Call::chat(&req).with_model(model), &ctx).await;
        (r.message.text().unwrap_or_default(), r.meta.cache_hit)
    };
    shares_entries_with_the_model_served(chat, 1).await;
    let complete = async |body: &str, model: &str| {
        let req = CompletionRequest {
            model: body.into(),
            prompt: "p".into(),
            temperature: Some(0.0),
            ..CompletionRequest::default()
        };
        let r: CompletionResponse = answer(&c, Call::complete(&req).with_model(model), &ctx).await;
        (r.text, r.meta.cache_hit)
    };
    shares_entries_with_the_model_served(complete, 3).await;
    let rerank = async |body: &str, model: &str| {
        let req = RerankRequest::new(body, "q", vec!["d".into()]);
        let r: RerankResponse = answer(&c, Call::rerank(&req).with_model(model), &ctx).await;
        (r.id, r.meta.cache_hit)
    };
    shares_entries_with_the_model_served(rerank, 5).await;
    // Upstream was asked for `b` with the body as it came (naming `a`).
    let calls = |op| [seen(op, "b", "a", &[]), seen(op, "a", "a", &[])];
    assert_eq!(
        up.seen(),
        [calls("chat"), calls("text_completion"), calls("rerank")].concat()
    );
}

/// `input` embedded as `model` from a body naming `body`, in `ctx`.
async fn embed(
    c: &CachedProvider,
    body: &str,
    model: &str,
    input: &[&str],
    ctx: &RequestContext,
) -> EmbeddingResponse {
    let req = EmbeddingRequest::new(body, input.iter().map(|t| (*t).to_owned()).collect());
    answer(c, Call::embed(&req).with_model(model), ctx).await
}

/// Each vector's call number (the second component): which upstream call produced it.
fn calls_of(r: &EmbeddingResponse) -> Vec<f32> {
    r.data.iter().map(|e| e.embedding[1]).collect()
}

#[tokio::test]
async fn retargeted_embeddings_are_cached_under_the_model_served() {
    let (up, c) = setup();
    let ctx = RequestContext::default();
    let first = embed(&c, "a", "b", &["x", "yy"], &ctx).await;
    assert_eq!(first.model, "b");
    assert_eq!(first.meta.cache_hit, Some(false));
    let again = embed(&c, "a", "b", &["x", "yy"], &ctx).await;
    assert_eq!(again.meta.cache_hit, Some(true));
    assert_eq!(calls_of(&again), vec![1.0, 1.0]);
    // Direct calls naming `b` share the vectors (only the new text goes); naming `a` misses.
    let direct = embed(&c, "b", "b", &["yy", "zzz"], &ctx).await;
    assert_eq!(calls_of(&direct), vec![1.0, 2.0]);
    let other = embed(&c, "a", "a", &["x"], &ctx).await;
    assert_eq!(
        (calls_of(&other), other.meta.cache_hit),
        (vec![3.0], Some(false))
    );
    // The missing texts go in a request of their own, naming the model served.
    assert_eq!(
        up.seen(),
        vec![
            seen("embeddings", "b", "b", &["x", "yy"]),
            seen("embeddings", "b", "b", &["zzz"]),
            seen("embeddings", "a", "a", &["x"]),
        ]
    );

    // Past the cache (mode `off`), the call goes on re-targeted, the body not copied.
    let off = RequestContext {
        cache: CacheControl {
            mode: CacheMode::Off,
            ..CacheControl::default()
        },
        ..RequestContext::default()
    };
    let passed = embed(&c, "a", "b", &["x"], &off).await;
    assert_eq!((passed.model.as_str(), passed.meta.cache_hit), ("b", None));
    assert_eq!(up.seen()[3], seen("embeddings", "b", "a", &["x"]));
}

#[tokio::test]
async fn an_answer_from_the_cache_alone_names_the_provider_of_the_model_served() {
    let (_up, c) = setup();
    let ctx = RequestContext::default();
    embed(&c, "a", "other/b", &["x"], &ctx).await;
    let hit = embed(&c, "a", "other/b", &["x"], &ctx).await;
    assert_eq!(hit.meta.cache_hit, Some(true));
    assert_eq!(hit.meta.provider.as_deref(), Some("other"));
    // A direct call keeps naming the provider its own model names.
    embed(&c, "mine/a", "mine/a", &["x"], &ctx).await;
    let hit = embed(&c, "mine/a", "mine/a", &["x"], &ctx).await;
    assert_eq!(hit.meta.provider.as_deref(), Some("mine"));
}

#[tokio::test(start_paused = true)]
async fn the_batcher_groups_a_retargeted_request_with_those_for_the_model_served() {
    for cache in [None, Some(ResponseCache::memory(1000, 1 << 24))] {
        let up = Arc::new(Upstream::default());
        let c = CachedProvider::from_parts(up.clone(), cache).with_batching(BatchConfig {
            enabled: true,
            max_batch: 16,
            max_wait: Duration::from_millis(5),
        });
        let ctx = RequestContext::default();
        let (retargeted, direct_b, direct_a) = tokio::join!(
            embed(&c, "a", "b", &["r"], &ctx),
            embed(&c, "b", "b", &["dd"], &ctx),
            embed(&c, "a", "a", &["aaa"], &ctx),
        );
        assert_eq!(retargeted.model, "b");
        assert_eq!(direct_a.model, "a");
        let mut seen = up.seen();
        seen.sort_by(|x, y| x.model.cmp(&y.model));
        assert_eq!(seen.len(), 2, "one batch per model served: {seen:?}");
        assert_eq!(seen[0], self::seen("embeddings", "a", "a", &["aaa"]));
        let mut b = seen[1].clone();
        b.inputs.sort();
        // A new request for the batch, naming the model served.
        assert_eq!(b, self::seen("embeddings", "b", "b", &["dd", "r"]));
        assert_eq!(retargeted.data[0].embedding[0], 1.0);
        assert_eq!(direct_b.data[0].embedding[0], 2.0);
    }
}
