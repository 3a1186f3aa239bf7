//! Embeddings: per-text caching, provider limits, the batcher.

use std::sync::Arc;
use std::time::Duration;

use runtime_cache::{
    BatchConfig, CACHED_INPUTS_ANNOTATION, CachedProvider, EmbeddingBatcher, ResponseCache,
};
use runtime_core::{
    CacheControl, CacheMode, Capabilities, EmbeddingRequest, Error, Provider, ProviderService,
    RequestContext, Service, ServiceExt, Usage,
};
use runtime_testkit::fake::{FakeProvider, Step};

/// The fake's vector for a text: its length and first byte.
fn vector(t: &str) -> Vec<f32> {
    vec![t.len() as f32, t.bytes().next().unwrap_or(0) as f32]
}

fn texts(prefix: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{prefix}{i:03}{}", "x".repeat(i % 7)))
        .collect()
}

fn check(resp: &runtime_core::EmbeddingResponse, input: &[String]) {
    assert_eq!(resp.data.len(), input.len());
    for (i, (e, t)) in resp.data.iter().zip(input).enumerate() {
        assert_eq!(e.index, i);
        assert_eq!(e.embedding, vector(t), "vector {i} is for {t}");
    }
}

fn fake(max_inputs: Option<usize>) -> Arc<FakeProvider> {
    Arc::new(
        FakeProvider::new("fake").with_capabilities(
            Capabilities::default()
                .embeddings(true)
                .max_embedding_inputs(max_inputs),
        ),
    )
}

fn cached(f: &Arc<FakeProvider>) -> CachedProvider {
    CachedProvider::from_parts(
        ProviderService::shared(f.clone()),
        Some(ResponseCache::memory(100_000, 1 << 26)),
    )
}

#[tokio::test]
async fn only_missing_texts_go_upstream_and_order_is_kept() {
    let f = fake(None);
    let c = cached(&f);
    let ctx = RequestContext::default();
    let all = texts("t", 100);
    // Cache 90 of them (every text whose number is not a multiple of 10).
    let some: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 10 != 0)
        .map(|(_, t)| t.clone())
        .collect();
    let first = c
        .embed(&EmbeddingRequest::new("e", some.clone()), &ctx)
        .await
        .unwrap();
    check(&first, &some);
    assert_eq!(first.meta.cache_hit, Some(false));

    let resp = c
        .embed(&EmbeddingRequest::new("e", all.clone()), &ctx)
        .await
        .unwrap();
    check(&resp, &all);
    let sent = f.embed_requests();
    assert_eq!(sent.len(), 2);
    let want: Vec<String> = all.iter().step_by(10).cloned().collect();
    assert_eq!(sent[1].input, want, "only the 10 missing texts go upstream");
    // Usage covers only what went upstream.
    let upstream_tokens: u64 = want.iter().map(|t| t.len() as u64).sum();
    assert_eq!(resp.usage.unwrap().prompt_tokens, upstream_tokens);
    assert_eq!(resp.meta.cache_hit, Some(false));
    assert_eq!(
        resp.meta.annotations.get(CACHED_INPUTS_ANNOTATION),
        Some(&serde_json::json!(90))
    );

    // Everything cached now: no upstream call at all.
    let again = c
        .embed(&EmbeddingRequest::new("e", all.clone()), &ctx)
        .await
        .unwrap();
    check(&again, &all);
    assert_eq!(again.meta.cache_hit, Some(true));
    assert_eq!(again.model, "e");
    assert_eq!(again.usage, Some(Usage::default()));
    assert_eq!(f.embed_requests().len(), 2);
}

#[tokio::test]
async fn duplicate_texts_are_sent_once() {
    let f = fake(None);
    let c = cached(&f);
    let input: Vec<String> = ["a", "bb", "a", "ccc", "bb"].map(String::from).to_vec();
    let resp = c
        .embed(
            &EmbeddingRequest::new("e", input.clone()),
            &RequestContext::default(),
        )
        .await
        .unwrap();
    check(&resp, &input);
    assert_eq!(f.embed_requests()[0].input, vec!["a", "bb", "ccc"]);
}

#[tokio::test]
async fn embedding_parameters_separate_entries_and_modes_apply() {
    let f = fake(None);
    let c = cached(&f);
    let ctx = RequestContext::default();
    let input = texts("p", 3);
    c.embed(&EmbeddingRequest::new("e", input.clone()), &ctx)
        .await
        .unwrap();
    let mut dims = EmbeddingRequest::new("e", input.clone());
    dims.dimensions = Some(8);
    c.embed(&dims, &ctx).await.unwrap();
    c.embed(&EmbeddingRequest::new("other", input.clone()), &ctx)
        .await
        .unwrap();
    assert_eq!(f.embed_requests().len(), 3);
    let off = RequestContext {
        cache: CacheControl {
            mode: CacheMode::Off,
            ..CacheControl::default()
        },
        ..RequestContext::default()
    };
    let resp = c
        .embed(&EmbeddingRequest::new("e", input.clone()), &off)
        .await
        .unwrap();
    assert_eq!(resp.meta.cache_hit, None);
    assert_eq!(f.embed_requests().len(), 4);
    // Errors are not stored and reach the caller.
    f.push(Step::fail(Error::Connect {
        provider: "fake".into(),
        model: "e".into(),
        message: "down".into(),
    }));
    assert!(
        c.embed(&EmbeddingRequest::new("e", texts("q", 2)), &ctx)
            .await
            .is_err()
    );
    let resp = c
        .embed(&EmbeddingRequest::new("e", texts("q", 2)), &ctx)
        .await
        .unwrap();
    assert_eq!(resp.meta.cache_hit, Some(false));
}

#[tokio::test]
async fn requests_over_the_provider_limit_are_split() {
    let f = fake(Some(3));
    let c = CachedProvider::from_parts(ProviderService::shared(f.clone()), None);
    let input = texts("s", 10);
    let resp = c
        .embed(
            &EmbeddingRequest::new("e", input.clone()),
            &RequestContext::default(),
        )
        .await
        .unwrap();
    check(&resp, &input);
    let sizes: Vec<usize> = f.embed_requests().iter().map(|r| r.input.len()).collect();
    assert_eq!(sizes, vec![3, 3, 3, 1]);
    // The layer splits, so it declares no limit of its own.
    assert_eq!(c.capabilities().max_embedding_inputs, None);
    assert!(c.capabilities().embeddings);
    let sent: Vec<String> = f
        .embed_requests()
        .into_iter()
        .flat_map(|r| r.input)
        .collect();
    assert_eq!(sent, input);
    let total: u64 = input.iter().map(|t| t.len() as u64).sum();
    assert_eq!(resp.usage.unwrap().prompt_tokens, total);
}

#[tokio::test(start_paused = true)]
async fn the_batcher_respects_the_provider_limit_too() {
    let f = fake(Some(3));
    let c = CachedProvider::from_parts(
        ProviderService::shared(f.clone()),
        Some(ResponseCache::memory(1000, 1 << 20)),
    )
    .with_batching(BatchConfig {
        enabled: true,
        max_batch: 128,
        max_wait: Duration::from_millis(5),
    });
    let input = texts("l", 8);
    let resp = c
        .embed(
            &EmbeddingRequest::new("e", input.clone()),
            &RequestContext::default(),
        )
        .await
        .unwrap();
    check(&resp, &input);
    let sizes: Vec<usize> = f.embed_requests().iter().map(|r| r.input.len()).collect();
    assert_eq!(sizes, vec![3, 3, 2]);
}

fn batcher(max_batch: usize) -> EmbeddingBatcher {
    EmbeddingBatcher::new(BatchConfig {
        enabled: true,
        max_batch,
        max_wait: Duration::from_millis(5),
    })
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_are_coalesced_and_usage_apportioned() {
    let f = fake(None);
    let p: Arc<dyn Service> = ProviderService::shared(f.clone());
    let b = batcher(4);
    // Ten callers, one to three texts each, of different lengths.
    let inputs: Vec<Vec<String>> = (0..10)
        .map(|i| texts(&format!("c{i}-"), 1 + i % 3))
        .collect();
    let total_inputs: usize = inputs.iter().map(Vec::len).sum();
    let mut tasks = Vec::new();
    for input in inputs.clone() {
        let (b, p) = (b.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            b.embed(
                &p,
                &EmbeddingRequest::new("e", input),
                "e",
                &RequestContext::default(),
            )
            .await
        }));
    }
    let mut usage_sum = 0;
    for (t, input) in tasks.into_iter().zip(&inputs) {
        let resp = t.await.unwrap().unwrap();
        check(&resp, input);
        let u = resp.usage.unwrap();
        // The fake counts one token per byte: the apportioned share is exactly the caller's.
        let own: u64 = input.iter().map(|t| t.len() as u64).sum();
        assert_eq!(u.prompt_tokens, own);
        assert_eq!(u.total_tokens, own);
        usage_sum += u.prompt_tokens;
    }
    let calls = f.embed_requests();
    assert!(calls.iter().all(|r| r.input.len() <= 4));
    assert_eq!(
        calls.iter().map(|r| r.input.len()).sum::<usize>(),
        total_inputs
    );
    assert!(
        calls.len() <= total_inputs.div_ceil(4) + 2,
        "{} calls for {total_inputs} inputs",
        calls.len()
    );
    assert!(calls.len() < 10, "requests were coalesced");
    let upstream: u64 = calls
        .iter()
        .flat_map(|r| r.input.iter())
        .map(|t| t.len() as u64)
        .sum();
    assert_eq!(usage_sum, upstream);
    let st = b.stats().snapshot();
    assert_eq!(st.upstream_batches as usize, calls.len());
    assert_eq!(st.batched_inputs as usize, total_inputs);
}

/// A provider whose usage is not proportional to text length, to check exact sums.
#[tokio::test(start_paused = true)]
async fn apportioned_usage_adds_up_exactly() {
    struct Odd(FakeProvider);
    #[async_trait::async_trait]
    impl Provider for Odd {
        fn name(&self) -> &str {
            "odd"
        }
        fn capabilities(&self) -> Capabilities {
            self.0.capabilities()
        }
        async fn chat(
            &self,
            r: &runtime_core::ChatRequest,
            c: &RequestContext,
        ) -> runtime_core::Result<runtime_core::ChatResponse> {
            self.0.chat(r, c).await
        }
        async fn chat_stream(
            &self,
            r: &runtime_core::ChatRequest,
            c: &RequestContext,
        ) -> runtime_core::Result<runtime_core::ChatStream> {
            self.0.chat_stream(r, c).await
        }
        async fn embed(
            &self,
            r: &EmbeddingRequest,
            c: &RequestContext,
        ) -> runtime_core::Result<runtime_core::EmbeddingResponse> {
            let mut resp = self.0.embed(r, c).await?;
            resp.usage = Some(Usage::new(1001, 0));
            Ok(resp)
        }
    }
    let p: Arc<dyn Service> = ProviderService::shared(Arc::new(Odd(FakeProvider::new("odd"))));
    let b = batcher(100);
    let mut tasks = Vec::new();
    for i in 0..7 {
        let (b, p) = (b.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            b.embed(
                &p,
                &EmbeddingRequest::new("e", vec!["y".repeat(i + 1)]),
                "e",
                &RequestContext::default(),
            )
            .await
        }));
    }
    let mut sum = 0;
    let mut parts = Vec::new();
    for t in tasks {
        let u = t.await.unwrap().unwrap().usage.unwrap();
        sum += u.prompt_tokens;
        parts.push(u.prompt_tokens);
    }
    assert_eq!(sum, 1001);
    // Proportional to length: 1..=7 bytes of 28 in total.
    assert_eq!(parts, vec![36, 72, 107, 143, 179, 214, 250]);
    assert_eq!(b.stats().snapshot().upstream_batches, 1);
}

#[tokio::test(start_paused = true)]
async fn an_upstream_error_reaches_every_caller() {
    let f = fake(None);
    f.push(Step::fail(Error::Api {
        provider: "fake".into(),
        model: "e".into(),
        status: 500,
        error_type: None,
        code: None,
        message: "boom".into(),
        retry_after: None,
        should_retry: None,
    }));
    let p: Arc<dyn Service> = ProviderService::shared(f.clone());
    let b = batcher(10);
    let mut tasks = Vec::new();
    for i in 0..5 {
        let (b, p) = (b.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            b.embed(
                &p,
                &EmbeddingRequest::new("e", vec![format!("t{i}")]),
                "e",
                &RequestContext::default(),
            )
            .await
        }));
    }
    for t in tasks {
        assert!(matches!(
            t.await.unwrap(),
            Err(Error::Api { status: 500, .. })
        ));
    }
    assert_eq!(f.embed_requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_caller_does_not_fail_the_others() {
    let f = fake(None);
    // The upstream takes 50 ms.
    f.set_default(Step::Reply {
        text: String::new(),
        usage: Usage::default(),
        delay: Duration::from_millis(50),
    });
    let p: Arc<dyn Service> = ProviderService::shared(f.clone());
    let b = batcher(10);
    let spawn = |text: &str, ctx: RequestContext| {
        let (b, p) = (b.clone(), p.clone());
        let req = EmbeddingRequest::new("e", vec![text.to_owned()]);
        tokio::spawn(async move { b.embed(&p, &req, &req.model, &ctx).await })
    };
    // Dropped before the batch goes: its text is not sent.
    let early = spawn("early", RequestContext::default());
    let a = spawn("a", RequestContext::default());
    tokio::time::sleep(Duration::from_millis(1)).await;
    early.abort();
    // Cancelled through its context while the upstream call runs.
    let ctx = RequestContext::default();
    let cancel = ctx.cancel.clone();
    let late = spawn("late", ctx);
    let bb = spawn("bb", RequestContext::default());
    tokio::time::sleep(Duration::from_millis(20)).await;
    cancel.cancel();
    assert!(matches!(late.await.unwrap(), Err(Error::Cancelled)));
    assert!(early.await.unwrap_err().is_cancelled());

    let ra = a.await.unwrap().unwrap();
    let rb = bb.await.unwrap().unwrap();
    assert_eq!(ra.data[0].embedding, vector("a"));
    assert_eq!(rb.data[0].embedding, vector("bb"));
    let sent = f.embed_requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].input, vec!["a", "late", "bb"]);
}

#[tokio::test(start_paused = true)]
async fn different_parameters_are_not_coalesced() {
    let f = fake(None);
    let p: Arc<dyn Service> = ProviderService::shared(f.clone());
    let b = batcher(10);
    let mut tasks = Vec::new();
    for (model, dims, key) in [
        ("e", None, None),
        ("e", None, None),
        ("f", None, None),
        ("e", Some(8), None),
        ("e", None, Some("sk-other")),
    ] {
        let (b, p) = (b.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let mut req = EmbeddingRequest::new(model, vec!["t".into()]);
            req.dimensions = dims;
            let ctx = RequestContext {
                api_key: key.map(runtime_core::Secret::new),
                ..RequestContext::default()
            };
            b.embed(&p, &req, &req.model, &ctx).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let mut sizes: Vec<usize> = f.embed_requests().iter().map(|r| r.input.len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![1, 1, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_caller_deadline_ends_only_that_caller() {
    let f = fake(None);
    f.set_default(Step::Reply {
        text: String::new(),
        usage: Usage::default(),
        delay: Duration::from_millis(100),
    });
    let p: Arc<dyn Service> = ProviderService::shared(f.clone());
    let b = batcher(10);
    let impatient = {
        let (b, p) = (b.clone(), p.clone());
        tokio::spawn(async move {
            let ctx = RequestContext::default().with_timeout(Duration::from_millis(30));
            b.embed(&p, &EmbeddingRequest::new("e", vec!["x".into()]), "e", &ctx)
                .await
        })
    };
    let patient = {
        let (b, p) = (b.clone(), p.clone());
        tokio::spawn(async move {
            b.embed(
                &p,
                &EmbeddingRequest::new("e", vec!["y".into()]),
                "e",
                &RequestContext::default(),
            )
            .await
        })
    };
    assert!(matches!(
        impatient.await.unwrap(),
        Err(Error::Timeout {
            phase: runtime_core::TimeoutPhase::Deadline,
            ..
        })
    ));
    let r = patient.await.unwrap().unwrap();
    assert_eq!(r.data[0].embedding, vector("y"));
    assert_eq!(f.embed_requests().len(), 1);
}
