//! The batcher against an HTTP upstream (wiremock): 1000 concurrent single-text calls become
//! about 1000 / max_batch upstream requests, each caller getting exactly its vector.

mod support;

use std::sync::Arc;
use std::time::Duration;

use runtime_cache::{BatchConfig, CachedProvider, ResponseCache};
use runtime_core::{EmbeddingRequest, ProviderService, RequestContext, ServiceExt};
use support::{EmbeddingsResponder, HttpEmbedder, vector};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

const CALLERS: usize = 1000;
const MAX_BATCH: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_single_text_calls_become_ten_upstream_requests() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(EmbeddingsResponder)
        .mount(&server)
        .await;
    let provider = CachedProvider::from_parts(
        ProviderService::shared(Arc::new(
            HttpEmbedder::new(&server.uri(), Some(2048)).unwrap(),
        )),
        Some(ResponseCache::memory(100_000, 1 << 26)),
    )
    .with_batching(BatchConfig {
        enabled: true,
        max_batch: MAX_BATCH,
        max_wait: Duration::from_millis(100),
    });
    let provider = Arc::new(provider);

    let mut tasks = Vec::with_capacity(CALLERS);
    for i in 0..CALLERS {
        let p = provider.clone();
        tasks.push(tokio::spawn(async move {
            let text = format!("text number {i} {}", "y".repeat(i % 13));
            let resp = p
                .embed(
                    &EmbeddingRequest::new("text-embedding-3-small", vec![text.clone()]),
                    &RequestContext::default(),
                )
                .await
                .unwrap();
            assert_eq!(resp.data.len(), 1);
            assert_eq!(
                resp.data[0].embedding,
                vector(&text),
                "caller {i} got its own vector"
            );
            assert_eq!(resp.usage.unwrap().prompt_tokens, text.len() as u64);
            resp.usage.unwrap().prompt_tokens
        }));
    }
    let mut tokens = 0;
    for t in tasks {
        tokens += t.await.unwrap();
    }

    let requests = server.received_requests().await.unwrap();
    let bodies: Vec<serde_json::Value> = requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let sizes: Vec<usize> = bodies
        .iter()
        .map(|b| b["input"].as_array().unwrap().len())
        .collect();
    assert!(sizes.iter().all(|&n| n <= MAX_BATCH), "{sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), CALLERS);
    eprintln!(
        "{} upstream requests for {CALLERS} callers: {sizes:?}",
        requests.len()
    );
    let margin = 3;
    assert!(
        requests.len() <= CALLERS / MAX_BATCH + margin,
        "{} upstream requests for {CALLERS} callers: {sizes:?}",
        requests.len()
    );
    let upstream_tokens: u64 = bodies
        .iter()
        .flat_map(|b| b["input"].as_array().unwrap().clone())
        .map(|t| t.as_str().unwrap().len() as u64)
        .sum();
    assert_eq!(
        tokens, upstream_tokens,
        "usage shares add up to the upstream total"
    );
    let st = provider.stats().snapshot();
    assert_eq!(st.upstream_batches as usize, requests.len());
    assert_eq!(st.misses as usize, CALLERS);

    // All cached now: the same 1000 calls send nothing upstream.
    let before = requests.len();
    let mut tasks = Vec::new();
    for i in 0..CALLERS {
        let p = provider.clone();
        tasks.push(tokio::spawn(async move {
            let text = format!("text number {i} {}", "y".repeat(i % 13));
            p.embed(
                &EmbeddingRequest::new("text-embedding-3-small", vec![text]),
                &RequestContext::default(),
            )
            .await
            .unwrap()
            .meta
            .cache_hit
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Some(true));
    }
    assert_eq!(server.received_requests().await.unwrap().len(), before);
    // wiremock's `MockServer` drop blocks on an async reset. After two thousand awaits this
    // task's tokio coop budget may be spent, and then every tokio resource that blocking reset
    // polls answers "yield" forever (seen: the test spinning at 100 % CPU). Drop it with the
    // budget lifted.
    tokio::task::unconstrained(async move { drop(server) }).await;
}

#[tokio::test]
async fn over_limit_requests_are_split_over_http() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(EmbeddingsResponder)
        .mount(&server)
        .await;
    let provider = CachedProvider::from_parts(
        ProviderService::shared(Arc::new(
            HttpEmbedder::new(&server.uri(), Some(16)).unwrap(),
        )),
        None,
    );
    let input: Vec<String> = (0..50).map(|i| format!("doc {i}")).collect();
    let resp = provider
        .embed(
            &EmbeddingRequest::new("e", input.clone()),
            &RequestContext::default(),
        )
        .await
        .unwrap();
    for (i, (e, t)) in resp.data.iter().zip(&input).enumerate() {
        assert_eq!(e.index, i);
        assert_eq!(e.embedding, vector(t));
    }
    let requests = server.received_requests().await.unwrap();
    let mut sizes: Vec<usize> = requests
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["input"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, vec![2, 16, 16, 16]);
}
