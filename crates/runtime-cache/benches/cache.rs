//! Cache hit latency and key hashing throughput.

// criterion_group! generates an undocumented function.
// Benchmarks are test code: failing loudly on setup errors is what we want.
#![allow(missing_docs, clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use runtime_cache::{CachedProvider, ResponseCache, chat_key, key::EmbeddingKeys};
use runtime_core::{
    ChatRequest, EmbeddingRequest, Message, ProviderService, RequestContext, ServiceExt,
    ToolDefinition,
};
use runtime_testkit::fake::FakeProvider;
use serde_json::json;

/// A chat request of about 2 KB of JSON, with a tool schema.
fn request_2kb() -> ChatRequest {
    let mut req = ChatRequest::new(
        "gpt-4o-mini",
        vec![
            Message::system("You are a careful assistant. Answer briefly and cite sources."),
            Message::user("lorem ipsum dolor sit amet ".repeat(40)),
            Message::assistant("consectetur adipiscing elit ".repeat(15)),
            Message::user("sed do eiusmod tempor incididunt ut labore".repeat(5)),
        ],
    );
    req.temperature = Some(0.0);
    req.max_tokens = Some(256);
    req.tools = vec![ToolDefinition::function(
        "search",
        "Search the web",
        json!({"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer"}}, "required": ["q"]}),
    )];
    req
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let req = request_2kb();
    let size = serde_json::to_vec(&req).expect("json").len();

    let cached = CachedProvider::from_parts(
        ProviderService::shared(Arc::new(FakeProvider::new("fake"))),
        Some(ResponseCache::memory(10_000, 1 << 26)),
    );
    let ctx = RequestContext::default();
    rt.block_on(async {
        cached.chat(&req, &ctx).await.expect("prime");
        let hit = cached.chat(&req, &ctx).await.expect("hit");
        assert_eq!(hit.meta.cache_hit, Some(true));
    });
    c.bench_function(&format!("memory_hit_chat_{size}B"), |b| {
        b.iter(|| rt.block_on(cached.chat(&req, &ctx)).expect("hit"))
    });

    // The parts of a hit, for reference.
    let key = chat_key("fake", &req.model, &req).expect("key");
    let cache = cached.cache().expect("cache").clone();
    let entry = rt.block_on(cache.get(&key, None)).expect("entry");
    c.bench_function("hit_parts/backend_get", |b| {
        b.iter(|| rt.block_on(cache.get(&key, None)).expect("entry"))
    });
    c.bench_function("hit_parts/decode_response_json_as_from_redis", |b| {
        b.iter(|| {
            serde_json::from_slice::<runtime_core::ChatResponse>(&entry.value).expect("decode")
        })
    });

    let mut g = c.benchmark_group("key_hashing");
    g.throughput(Throughput::Bytes(size as u64));
    g.bench_function(format!("chat_key_{size}B"), |b| {
        b.iter(|| chat_key("openai", &req.model, &req).expect("key"))
    });
    let raw = serde_json::to_vec(&req).expect("json");
    g.bench_function(format!("sha256_only_{size}B"), |b| {
        b.iter(|| <sha2::Sha256 as sha2::Digest>::digest(&raw))
    });
    g.bench_function(format!("serialize_only_{size}B"), |b| {
        b.iter(|| serde_json::to_vec(&req).expect("json"))
    });
    let texts: Vec<String> = (0..100)
        .map(|i| format!("document number {i} ").repeat(10))
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let ereq = EmbeddingRequest::new("text-embedding-3-small", Vec::new());
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("embedding_keys_100_texts", |b| {
        b.iter(|| {
            let keys = EmbeddingKeys::new("openai", &ereq.model, &ereq).expect("keys");
            texts.iter().map(|t| keys.key(t)).collect::<Vec<_>>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
