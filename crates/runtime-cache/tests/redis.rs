//! The Redis backend against real `redis-server`s: the shared one (`MODELRT_TEST_REDIS_URL`,
//! default `redis://127.0.0.1:6379/`) and private ones this test starts, pauses and kills.
//! These tests fail (never skip) when Redis is missing.

// Helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use runtime_redis::redis;

use runtime_cache::{
    BackendKind, CacheBackend, CacheConfig, CachedProvider, ManualClock, RedisBackend,
    ResponseCache,
};
use runtime_core::{
    CacheControl, ChatRequest, EmbeddingRequest, Message, ProviderService, RequestContext,
    ServiceExt,
};
use runtime_testkit::fake::{FakeProvider, Step};
use runtime_testkit::redis::{RedisCluster, RedisServer, free_port};

fn shared_url() -> String {
    std::env::var("MODELRT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{:016x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

async fn raw(url: &str) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(url).unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .unwrap_or_else(|_| panic!("Redis at {url} did not answer"))
    .unwrap_or_else(|e| panic!("Redis at {url} is required for this test: {e}"))
}

async fn ping(url: &str) {
    let mut c = raw(url).await;
    let pong: String = redis::cmd("PING").query_async(&mut c).await.unwrap();
    assert_eq!(pong, "PONG");
}

fn req(text: &str) -> ChatRequest {
    let mut r = ChatRequest::new("m", vec![Message::user(text)]);
    r.temperature = Some(0.0);
    r
}

fn redis_cache(url: &str, namespace: &str, timeout: Duration) -> ResponseCache {
    ResponseCache::new(Arc::new(RedisBackend::new(url, timeout).unwrap()))
        .with_namespace(namespace)
        .with_default_ttl(Duration::from_secs(60))
}

#[tokio::test]
async fn shared_redis_serves_hits_across_replicas() {
    let url = shared_url();
    ping(&url).await;
    let ns = unique("rt-cache-test");
    let fake = Arc::new(FakeProvider::new("fake"));
    fake.push(Step::text("from upstream"));
    // Two replicas, one Redis.
    let a = CachedProvider::from_parts(
        ProviderService::shared(fake.clone()),
        Some(redis_cache(&url, &ns, Duration::from_millis(500))),
    );
    let b = CachedProvider::from_parts(
        ProviderService::shared(fake.clone()),
        Some(redis_cache(&url, &ns, Duration::from_millis(500))),
    );
    let ctx = RequestContext::default();
    let first = a.chat(&req("q"), &ctx).await.unwrap();
    assert_eq!(first.meta.cache_hit, Some(false));
    let second = b.chat(&req("q"), &ctx).await.unwrap();
    assert_eq!(second.meta.cache_hit, Some(true));
    assert_eq!(second.message, first.message);
    assert_eq!(fake.calls(), 1);

    // The entry is in Redis under the namespace with the default TTL as expiry.
    let mut c = raw(&url).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{ns}:chat:*"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(pttl > 0 && pttl <= 60_000, "pttl {pttl}");

    // A per-request TTL sets the Redis expiry.
    let short = RequestContext {
        cache: CacheControl {
            ttl: Some(Duration::from_secs(7)),
            ..CacheControl::default()
        },
        ..RequestContext::default()
    };
    a.chat(&req("short"), &short).await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{ns}:chat:*"))
        .query_async(&mut c)
        .await
        .unwrap();
    let mut pttls = Vec::new();
    for k in &keys {
        let p: i64 = redis::cmd("PTTL").arg(k).query_async(&mut c).await.unwrap();
        pttls.push(p);
    }
    pttls.sort_unstable();
    assert!(pttls[0] > 0 && pttls[0] <= 7_000, "{pttls:?}");
    for k in keys {
        let _: () = redis::cmd("DEL").arg(k).query_async(&mut c).await.unwrap();
    }
}

#[tokio::test]
async fn redis_entries_honour_ttl_and_max_age_by_their_stored_time() {
    let url = shared_url();
    ping(&url).await;
    let ns = unique("rt-cache-age");
    let clock = ManualClock::new(1_000_000);
    let cache =
        redis_cache(&url, &ns, Duration::from_millis(500)).with_clock(Arc::new(clock.clone()));
    let fake = Arc::new(FakeProvider::new("fake"));
    let p = CachedProvider::from_parts(ProviderService::shared(fake.clone()), Some(cache));
    let ctx = RequestContext::default();
    p.chat(&req("q"), &ctx).await.unwrap();
    clock.advance(Duration::from_secs(30));
    let strict = RequestContext {
        cache: CacheControl {
            max_age: Some(Duration::from_secs(10)),
            ..CacheControl::default()
        },
        ..RequestContext::default()
    };
    assert_eq!(
        p.chat(&req("q"), &ctx).await.unwrap().meta.cache_hit,
        Some(true)
    );
    // Too old for this reader: a miss, fetched and stored again.
    assert_eq!(
        p.chat(&req("q"), &strict).await.unwrap().meta.cache_hit,
        Some(false)
    );
    assert_eq!(
        p.chat(&req("q"), &strict).await.unwrap().meta.cache_hit,
        Some(true)
    );
    // Past the 60 s TTL by the stored time: a miss even though Redis still holds it.
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        p.chat(&req("q"), &ctx).await.unwrap().meta.cache_hit,
        Some(false)
    );
    assert_eq!(fake.calls(), 3);
}

#[tokio::test]
async fn embeddings_per_text_in_redis() {
    let url = shared_url();
    ping(&url).await;
    let ns = unique("rt-cache-emb");
    let fake = Arc::new(FakeProvider::new("fake"));
    let p = CachedProvider::from_parts(
        ProviderService::shared(fake.clone()),
        Some(redis_cache(&url, &ns, Duration::from_millis(500))),
    );
    let ctx = RequestContext::default();
    let first: Vec<String> = (0..20).map(|i| format!("text {i}")).collect();
    p.embed(&EmbeddingRequest::new("e", first.clone()), &ctx)
        .await
        .unwrap();
    let mut all = first.clone();
    all.extend((20..25).map(|i| format!("text {i}")));
    all.reverse();
    let resp = p
        .embed(&EmbeddingRequest::new("e", all.clone()), &ctx)
        .await
        .unwrap();
    for (e, t) in resp.data.iter().zip(&all) {
        assert_eq!(e.embedding, vec![t.len() as f32, t.as_bytes()[0] as f32]);
    }
    let sent = fake.embed_requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].input.len(), 5);
    let st = p.stats().snapshot();
    assert_eq!((st.hits, st.stores, st.errors), (20, 25, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_test_makes_misses_not_errors() {
    let mut server = RedisServer::start();
    let url = server.url();
    let fake = Arc::new(FakeProvider::new("fake"));
    let p = CachedProvider::from_parts(
        ProviderService::shared(fake.clone()),
        Some(redis_cache(&url, "stop", Duration::from_millis(250))),
    );
    let ctx = RequestContext::default();
    p.chat(&req("q"), &ctx).await.unwrap();
    assert_eq!(
        p.chat(&req("q"), &ctx).await.unwrap().meta.cache_hit,
        Some(true)
    );
    p.embed(
        &EmbeddingRequest::new("e", vec!["a".into(), "b".into()]),
        &ctx,
    )
    .await
    .unwrap();
    assert_eq!(p.stats().snapshot().errors, 0);

    server.kill();
    // Every call still succeeds, served upstream.
    for i in 0..5 {
        let r = p.chat(&req("q"), &ctx).await.unwrap();
        assert_eq!(r.meta.cache_hit, Some(false), "call {i}");
        let mut s = p.chat_stream(&req("q"), &ctx).await.unwrap();
        use futures::StreamExt;
        while let Some(ev) = s.next().await {
            ev.unwrap();
        }
        let e = p
            .embed(
                &EmbeddingRequest::new("e", vec!["a".into(), "b".into()]),
                &ctx,
            )
            .await
            .unwrap();
        assert_eq!(e.data.len(), 2);
        assert_eq!(e.meta.cache_hit, Some(false));
    }
    let st = p.stats().snapshot();
    assert!(st.errors >= 10, "backend failures are counted: {st:?}");
    let upstream_before = fake.calls();

    // Redis comes back on the same port: the cache works again.
    let _server = RedisServer::start_on(server.port());
    let mut hit = false;
    for _ in 0..100 {
        p.chat(&req("again"), &ctx).await.unwrap();
        if p.chat(&req("again"), &ctx).await.unwrap().meta.cache_hit == Some(true) {
            hit = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(hit, "the cache recovers once Redis is back");
    assert!(fake.calls() > upstream_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_is_a_miss() {
    let server = RedisServer::start();
    let url = server.url();
    let fake = Arc::new(FakeProvider::new("fake"));
    let p = CachedProvider::from_parts(
        ProviderService::shared(fake.clone()),
        Some(redis_cache(&url, "slow", Duration::from_millis(250))),
    );
    let ctx = RequestContext::default();
    p.chat(&req("q"), &ctx).await.unwrap();
    assert_eq!(
        p.chat(&req("q"), &ctx).await.unwrap().meta.cache_hit,
        Some(true)
    );
    // Redis stops answering commands for two seconds.
    let mut admin = raw(&url).await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(2000)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    let r = p.chat(&req("q"), &ctx).await.unwrap();
    assert_eq!(r.meta.cache_hit, Some(false));
    assert!(p.stats().snapshot().errors >= 1);
    assert_eq!(fake.calls(), 2);
}

#[tokio::test]
async fn redis_down_at_start_is_only_a_miss() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let config = CacheConfig {
        backend: BackendKind::Redis,
        redis_url: Some(url),
        redis_timeout: Some(Duration::from_millis(50)),
        ..CacheConfig::default()
    };
    let fake = Arc::new(FakeProvider::new("fake"));
    let p = CachedProvider::from_config(ProviderService::shared(fake.clone()), &config).unwrap();
    let ctx = RequestContext::default();
    for _ in 0..3 {
        let r = p.chat(&req("q"), &ctx).await.unwrap();
        assert_eq!(r.meta.cache_hit, Some(false));
    }
    assert_eq!(fake.calls(), 3);
    assert!(p.stats().snapshot().errors >= 3);
    // A bad URL is a config error, not a runtime one.
    assert!(RedisBackend::new("not a url", Duration::from_millis(50)).is_err());
    let backend = RedisBackend::new("redis://127.0.0.1:1/", Duration::from_millis(50)).unwrap();
    assert!(backend.get("k").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_cluster_serves_hits_and_batched_entries_across_replicas() {
    let cluster = RedisCluster::start(3, 0);
    let cfg = runtime_redis::RedisConfig::cluster(cluster.urls())
        .with_timeout(Duration::from_millis(500));
    let cache = |ns: &str| {
        ResponseCache::new(Arc::new(RedisBackend::with_handle(
            runtime_redis::Redis::new(&cfg).unwrap(),
        )))
        .with_namespace(ns)
        .with_default_ttl(Duration::from_secs(60))
    };
    let fa = Arc::new(FakeProvider::new("fake"));
    let fb = Arc::new(FakeProvider::new("fake"));
    let a = CachedProvider::from_parts(ProviderService::shared(fa.clone()), Some(cache("c")));
    let b = CachedProvider::from_parts(ProviderService::shared(fb.clone()), Some(cache("c")));
    let ctx = RequestContext::default();
    a.chat(&req("q"), &ctx).await.unwrap();
    assert_eq!(
        b.chat(&req("q"), &ctx).await.unwrap().meta.cache_hit,
        Some(true)
    );
    // 30 texts: their entries spread over the three masters (stored by `put_many`, read by
    // one MGET the cluster connection splits by slot).
    let texts: Vec<String> = (0..30).map(|i| format!("text {i}")).collect();
    a.embed(&EmbeddingRequest::new("e", texts.clone()), &ctx)
        .await
        .unwrap();
    let r = b
        .embed(&EmbeddingRequest::new("e", texts.clone()), &ctx)
        .await
        .unwrap();
    assert_eq!(r.data.len(), 30);
    assert!(fb.embed_requests().is_empty(), "all 30 were hits");
    let (sa, sb) = (a.stats().snapshot(), b.stats().snapshot());
    assert_eq!((sa.errors, sb.errors), (0, 0));
    assert_eq!(sb.hits, 31);
}
