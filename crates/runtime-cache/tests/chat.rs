//! The response cache in front of a scripted provider: policy, TTL, per-request control,
//! what is stored, stream replay.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use runtime_cache::{CachedProvider, ManualClock, ResponseCache};
use runtime_core::{
    AssistantMessage, CacheControl, CacheMode, ChatRequest, ChatResponse, CompletionRequest,
    Content, Error, FinishReason, Message, ProviderService, ReasoningBlock, RequestContext,
    Service, ServiceExt, StreamEvent, ToolCall, Usage,
};
use runtime_testkit::fake::{FakeProvider, Step};

struct Setup {
    fake: Arc<FakeProvider>,
    cached: CachedProvider,
    clock: ManualClock,
}

fn setup() -> Setup {
    let fake = Arc::new(FakeProvider::new("fake"));
    let clock = ManualClock::new(1_700_000_000_000);
    let cache = ResponseCache::memory(1000, 1 << 24)
        .with_clock(Arc::new(clock.clone()))
        .with_default_ttl(Duration::from_secs(60));
    let cached = CachedProvider::from_parts(ProviderService::shared(fake.clone()), Some(cache));
    Setup {
        fake,
        cached,
        clock,
    }
}

fn req(text: &str) -> ChatRequest {
    let mut r = ChatRequest::new("m", vec![Message::user(text)]);
    r.temperature = Some(0.0);
    r
}

fn ctx(cache: CacheControl) -> RequestContext {
    RequestContext {
        cache,
        ..RequestContext::default()
    }
}

fn mode(mode: CacheMode) -> RequestContext {
    ctx(CacheControl {
        mode,
        ..CacheControl::default()
    })
}

fn text(r: &ChatResponse) -> String {
    r.message.text().unwrap_or_default()
}

#[tokio::test]
async fn deterministic_chat_is_served_from_the_cache() {
    let s = setup();
    s.fake.push(Step::text("first"));
    s.fake.push(Step::text("second"));
    let c = RequestContext::default();
    let a = s.cached.chat(&req("hi"), &c).await.unwrap();
    assert_eq!(text(&a), "first");
    assert_eq!(a.meta.cache_hit, Some(false));
    let b = s.cached.chat(&req("hi"), &c).await.unwrap();
    assert_eq!(text(&b), "first");
    assert_eq!(b.meta.cache_hit, Some(true));
    // The original metadata is kept.
    assert_eq!(b.meta.provider.as_deref(), Some("fake"));
    assert_eq!(b.id, a.id);
    assert_eq!(b.usage, a.usage);
    assert_eq!(s.fake.calls(), 1);

    // A request that differs only in non-answer fields shares the entry…
    let mut other = req("hi");
    other.user = Some("bob".into());
    other
        .extra
        .insert("metadata".into(), serde_json::json!({"x": 1}));
    assert_eq!(
        s.cached.chat(&other, &c).await.unwrap().meta.cache_hit,
        Some(true)
    );
    // …one that differs in the prompt does not.
    assert_eq!(
        text(&s.cached.chat(&req("hello"), &c).await.unwrap()),
        "second"
    );
    assert_eq!(s.fake.calls(), 2);

    let st = s.cached.stats().snapshot();
    assert_eq!((st.hits, st.misses, st.stores), (2, 2, 2));
}

#[tokio::test]
async fn sampling_is_cached_only_when_forced() {
    let s = setup();
    let mut r = req("hi");
    r.temperature = Some(0.7);
    let c = RequestContext::default();
    let a = s.cached.chat(&r, &c).await.unwrap();
    assert_eq!(a.meta.cache_hit, None);
    s.cached.chat(&r, &c).await.unwrap();
    assert_eq!(s.fake.calls(), 2);
    r.temperature = None;
    s.cached.chat(&r, &c).await.unwrap();
    assert_eq!(s.fake.calls(), 3);
    assert_eq!(s.cached.stats().snapshot().bypassed, 3);

    let forced = ctx(CacheControl {
        force: true,
        ..CacheControl::default()
    });
    s.cached.chat(&r, &forced).await.unwrap();
    let hit = s.cached.chat(&r, &forced).await.unwrap();
    assert_eq!(hit.meta.cache_hit, Some(true));
    assert_eq!(s.fake.calls(), 4);
}

#[tokio::test]
async fn entries_expire_after_their_ttl() {
    let s = setup();
    let c = RequestContext::default();
    s.cached.chat(&req("a"), &c).await.unwrap();
    s.clock.advance(Duration::from_secs(59));
    assert_eq!(
        s.cached.chat(&req("a"), &c).await.unwrap().meta.cache_hit,
        Some(true)
    );
    s.clock.advance(Duration::from_secs(2));
    assert_eq!(
        s.cached.chat(&req("a"), &c).await.unwrap().meta.cache_hit,
        Some(false)
    );
    assert_eq!(s.fake.calls(), 2);

    // A per-request TTL replaces the default.
    let short = ctx(CacheControl {
        ttl: Some(Duration::from_secs(5)),
        ..CacheControl::default()
    });
    s.cached.chat(&req("b"), &short).await.unwrap();
    s.clock.advance(Duration::from_secs(4));
    assert_eq!(
        s.cached.chat(&req("b"), &c).await.unwrap().meta.cache_hit,
        Some(true)
    );
    s.clock.advance(Duration::from_secs(2));
    assert_eq!(
        s.cached.chat(&req("b"), &c).await.unwrap().meta.cache_hit,
        Some(false)
    );
}

#[tokio::test]
async fn max_age_limits_what_a_read_accepts() {
    let s = setup();
    s.fake.push(Step::text("old"));
    s.fake.push(Step::text("new"));
    let c = RequestContext::default();
    s.cached.chat(&req("a"), &c).await.unwrap();
    s.clock.advance(Duration::from_secs(30));
    let young = ctx(CacheControl {
        max_age: Some(Duration::from_secs(10)),
        ..CacheControl::default()
    });
    let old_ok = ctx(CacheControl {
        max_age: Some(Duration::from_secs(40)),
        ..CacheControl::default()
    });
    assert_eq!(
        text(&s.cached.chat(&req("a"), &old_ok).await.unwrap()),
        "old"
    );
    let fresh = s.cached.chat(&req("a"), &young).await.unwrap();
    assert_eq!(
        (text(&fresh).as_str(), fresh.meta.cache_hit),
        ("new", Some(false))
    );
    // The fresh answer replaced the old one.
    let again = s.cached.chat(&req("a"), &young).await.unwrap();
    assert_eq!(
        (text(&again).as_str(), again.meta.cache_hit),
        ("new", Some(true))
    );
}

#[tokio::test]
async fn per_request_modes() {
    let s = setup();
    for t in ["1", "2", "3", "4", "5"] {
        s.fake.push(Step::text(t));
    }
    // Off: neither reads nor writes.
    let off = s
        .cached
        .chat(&req("q"), &mode(CacheMode::Off))
        .await
        .unwrap();
    assert_eq!((text(&off).as_str(), off.meta.cache_hit), ("1", None));
    // Read-only on an empty cache: a miss that is not stored.
    let ro = s
        .cached
        .chat(&req("q"), &mode(CacheMode::ReadOnly))
        .await
        .unwrap();
    assert_eq!((text(&ro).as_str(), ro.meta.cache_hit), ("2", Some(false)));
    // On: stores "3".
    s.cached
        .chat(&req("q"), &RequestContext::default())
        .await
        .unwrap();
    // Write-only: does not read "3", stores "4" over it.
    let wo = s
        .cached
        .chat(&req("q"), &mode(CacheMode::WriteOnly))
        .await
        .unwrap();
    assert_eq!((text(&wo).as_str(), wo.meta.cache_hit), ("4", Some(false)));
    // Read-only now hits "4"; Off still goes upstream.
    let ro = s
        .cached
        .chat(&req("q"), &mode(CacheMode::ReadOnly))
        .await
        .unwrap();
    assert_eq!((text(&ro).as_str(), ro.meta.cache_hit), ("4", Some(true)));
    let off = s
        .cached
        .chat(&req("q"), &mode(CacheMode::Off))
        .await
        .unwrap();
    assert_eq!(text(&off), "5");
    assert_eq!(s.fake.calls(), 5);
}

#[tokio::test]
async fn only_successful_answers_are_stored() {
    let s = setup();
    let c = RequestContext::default();
    s.fake.push(Step::fail(Error::RateLimited {
        provider: "fake".into(),
        model: "m".into(),
        retry_after: None,
        message: "slow down".into(),
    }));
    s.fake.push(Step::fail(Error::ContentFiltered {
        provider: "fake".into(),
        model: "m".into(),
        message: "no".into(),
    }));
    // An answer the provider's filter cut.
    s.fake.push(Step::Stream(
        vec![
            Ok(StreamEvent::TextDelta { text: "par".into() }),
            Ok(StreamEvent::Finish {
                reason: FinishReason::ContentFilter,
            }),
        ],
        Duration::ZERO,
    ));
    s.fake.push(Step::text("good"));
    assert!(matches!(
        s.cached.chat(&req("q"), &c).await,
        Err(Error::RateLimited { .. })
    ));
    assert!(matches!(
        s.cached.chat(&req("q"), &c).await,
        Err(Error::ContentFiltered { .. })
    ));
    let filtered = s.cached.chat(&req("q"), &c).await.unwrap();
    assert_eq!(filtered.finish_reason, FinishReason::ContentFilter);
    assert_eq!(text(&s.cached.chat(&req("q"), &c).await.unwrap()), "good");
    let hit = s.cached.chat(&req("q"), &c).await.unwrap();
    assert_eq!(
        (text(&hit).as_str(), hit.meta.cache_hit),
        ("good", Some(true))
    );
    assert_eq!(s.fake.calls(), 4);
    assert_eq!(s.cached.stats().snapshot().stores, 1);
}

fn rich_answer() -> Vec<Result<StreamEvent, Error>> {
    let resp = ChatResponse {
        id: "resp-1".into(),
        model: "m-2025".into(),
        created: 42,
        message: AssistantMessage {
            content: Some(Content::Text("the answer".into())),
            reasoning: vec![
                ReasoningBlock {
                    signature: Some("sig".into()),
                    ..ReasoningBlock::text("let me think")
                },
                ReasoningBlock {
                    kind: "redacted_thinking".into(),
                    text: None,
                    signature: None,
                    data: Some("enc".into()),
                },
            ],
            tool_calls: vec![
                ToolCall::new("c1", "lookup", "{\"q\":1}"),
                ToolCall::new("c2", "other", "{}"),
            ],
            refusal: None,
            name: None,
        },
        finish_reason: FinishReason::ToolCalls,
        usage: Some(Usage::new(12, 34)),
        meta: Default::default(),
    };
    resp.to_events().into_iter().map(Ok).collect()
}

#[tokio::test]
async fn a_cached_answer_is_replayed_as_a_stream() {
    let s = setup();
    s.fake.push(Step::Stream(rich_answer(), Duration::ZERO));
    let c = RequestContext::default();
    let stored = s.cached.chat(&req("q"), &c).await.unwrap();
    assert_eq!(stored.message.tool_calls.len(), 2);

    let stream = s.cached.chat_stream(&req("q"), &c).await.unwrap();
    assert_eq!(stream.meta().cache_hit, Some(true));
    let replayed = stream.collect_response().await.unwrap();
    let mut want = stored.clone();
    want.meta.cache_hit = Some(true);
    assert_eq!(replayed, want);
    assert_eq!(replayed.message.reasoning.len(), 2);
    assert_eq!(s.fake.calls(), 1);
}

#[tokio::test]
async fn a_completed_stream_is_stored() {
    let s = setup();
    let mut events = rich_answer();
    events.push(Ok(StreamEvent::Annotation {
        key: "content_filter_results".into(),
        value: serde_json::json!({"hate": {"filtered": false, "severity": "safe"}}),
    }));
    s.fake.push(Step::Stream(events, Duration::from_millis(1)));
    let c = RequestContext::default();
    let stream = s.cached.chat_stream(&req("q"), &c).await.unwrap();
    assert_eq!(stream.meta().cache_hit, Some(false));
    let streamed = stream.collect_response().await.unwrap();

    let hit = s.cached.chat(&req("q"), &c).await.unwrap();
    assert_eq!(hit.meta.cache_hit, Some(true));
    assert_eq!(hit.message, streamed.message);
    assert_eq!(hit.usage, streamed.usage);
    assert_eq!(hit.finish_reason, FinishReason::ToolCalls);
    // The stream's annotations are stored with the answer.
    assert_eq!(
        hit.meta.annotations["content_filter_results"]["hate"]["severity"],
        "safe"
    );
    assert_eq!(hit.meta.annotations, streamed.meta.annotations);
    // And replays as a stream too.
    let replay = s
        .cached
        .chat_stream(&req("q"), &c)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(replay.message, streamed.message);
    assert_eq!(replay.meta.annotations, streamed.meta.annotations);
    assert_eq!(s.fake.calls(), 1);
}

#[tokio::test]
async fn a_failed_or_dropped_stream_is_not_stored() {
    let s = setup();
    let c = RequestContext::default();
    // Fails after some content.
    let mut failing = rich_answer();
    failing.truncate(3);
    failing.push(Err(Error::Stream {
        provider: "fake".into(),
        model: "m".into(),
        error_type: None,
        message: "boom".into(),
        transient: true,
        content_sent: true,
    }));
    s.fake.push(Step::Stream(failing, Duration::ZERO));
    let folded = s
        .cached
        .chat_stream(&req("q"), &c)
        .await
        .unwrap()
        .collect_response()
        .await;
    assert!(folded.is_err());

    // Dropped after the first event.
    s.fake.push(Step::Stream(rich_answer(), Duration::ZERO));
    let mut stream = s.cached.chat_stream(&req("q"), &c).await.unwrap();
    assert!(stream.next().await.is_some());
    drop(stream);

    // Ends without a finish event (the upstream connection closed early).
    let mut incomplete = rich_answer();
    incomplete.retain(|e| !matches!(e, Ok(StreamEvent::Finish { .. })));
    s.fake.push(Step::Stream(incomplete, Duration::ZERO));
    let mut stream = s.cached.chat_stream(&req("q"), &c).await.unwrap();
    while stream.next().await.is_some() {}

    assert_eq!(s.cached.stats().snapshot().stores, 0);
    let after = s.cached.chat(&req("q"), &c).await.unwrap();
    assert_eq!(after.meta.cache_hit, Some(false));
    assert_eq!(s.fake.calls(), 4);
}

#[tokio::test]
async fn completions_share_entries_between_stream_and_call() {
    let s = setup();
    s.fake.push(Step::text("done"));
    let c = RequestContext::default();
    let r = CompletionRequest {
        model: "m".into(),
        prompt: "say".into(),
        temperature: Some(0.0),
        ..Default::default()
    };
    let a = s.cached.complete(&r, &c).await.unwrap();
    assert_eq!((a.text.as_str(), a.meta.cache_hit), ("done", Some(false)));
    let b = s.cached.complete(&r, &c).await.unwrap();
    assert_eq!((b.text.as_str(), b.meta.cache_hit), ("done", Some(true)));
    let stream = s.cached.complete_stream(&r, &c).await.unwrap();
    assert_eq!(stream.meta().cache_hit, Some(true));
    let folded = stream.collect_response().await.unwrap();
    assert_eq!(folded.message.text().as_deref(), Some("done"));
    assert_eq!(folded.usage, a.usage);
    assert_eq!(s.fake.calls(), 1);

    // A completion streamed on a miss is stored for the plain call.
    let r2 = CompletionRequest {
        prompt: "other".into(),
        ..r.clone()
    };
    s.fake.push(Step::text("streamed"));
    let streamed = s
        .cached
        .complete_stream(&r2, &c)
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(streamed.message.text().as_deref(), Some("streamed"));
    let hit = s.cached.complete(&r2, &c).await.unwrap();
    assert_eq!(
        (hit.text.as_str(), hit.meta.cache_hit),
        ("streamed", Some(true))
    );
    assert_eq!(s.fake.calls(), 2);
}

#[tokio::test]
async fn latency_saved_is_counted() {
    let s = setup();
    s.fake.push(Step::Reply {
        text: "slow".into(),
        usage: Usage::new(1, 1),
        delay: Duration::from_millis(30),
    });
    let c = RequestContext::default();
    s.cached.chat(&req("q"), &c).await.unwrap();
    s.cached.chat(&req("q"), &c).await.unwrap();
    s.cached.chat(&req("q"), &c).await.unwrap();
    // Two hits, each saving at least the upstream's 30 ms.
    assert!(s.cached.stats().latency_saved() >= Duration::from_millis(60));
}

#[tokio::test]
async fn disabled_cache_passes_everything_through() {
    let fake = Arc::new(FakeProvider::new("fake"));
    let config = runtime_cache::CacheConfig {
        enabled: false,
        ..Default::default()
    };
    let cached = CachedProvider::from_config(
        ProviderService::shared(Arc::new(FakeProvider::new("x"))),
        &config,
    )
    .unwrap();
    assert!(cached.cache().is_none());
    let plain = CachedProvider::from_parts(ProviderService::shared(fake.clone()), None);
    let c = RequestContext::default();
    assert_eq!(
        plain.chat(&req("a"), &c).await.unwrap().meta.cache_hit,
        None
    );
    plain.chat(&req("a"), &c).await.unwrap();
    assert_eq!(fake.calls(), 2);
    assert_eq!(plain.name(), "fake");
}

fn slow(text: &str) -> Step {
    Step::Reply {
        text: text.to_owned(),
        usage: Usage::new(10, 5),
        delay: Duration::from_millis(200),
    }
}

#[tokio::test(start_paused = true)]
async fn identical_concurrent_misses_share_one_upstream_call() {
    let s = setup();
    s.fake.set_default(slow("once"));
    let c = RequestContext::default();
    let same = req("same");
    let all = futures::future::join_all((0..10).map(|_| s.cached.chat(&same, &c))).await;
    assert_eq!(s.fake.calls(), 1);
    let hits = all
        .iter()
        .map(|r| r.as_ref().unwrap())
        .inspect(|r| assert_eq!(text(r), "once"))
        .filter(|r| r.meta.cache_hit == Some(true))
        .count();
    // One went upstream (a miss); nine took its answer (served as hits).
    assert_eq!(hits, 9);
    let st = s.cached.stats().snapshot();
    assert_eq!((st.merged, st.stores), (9, 1));
    // Different prompts are never merged.
    let two = futures::future::join(
        s.cached.chat(&req("one"), &c),
        s.cached.chat(&req("two"), &c),
    )
    .await;
    assert!(two.0.is_ok() && two.1.is_ok());
    assert_eq!(s.fake.calls(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_failed_leader_releases_the_merged_requests_to_go_themselves() {
    let s = setup();
    s.fake.push(Step::Fail(
        Error::Api {
            provider: "fake".into(),
            model: "m".into(),
            status: 500,
            message: "boom".into(),
            error_type: None,
            code: None,
            retry_after: None,
            should_retry: None,
        },
        Duration::from_millis(200),
    ));
    s.fake.set_default(slow("after"));
    let c = RequestContext::default();
    let (a, b, d) = futures::future::join3(
        s.cached.chat(&req("x"), &c),
        s.cached.chat(&req("x"), &c),
        s.cached.chat(&req("x"), &c),
    )
    .await;
    // The leader's error is its own; the two others joined again after it failed: one led
    // the second round, the other took its answer.
    assert!(a.is_err());
    assert_eq!(text(&b.unwrap()), "after");
    assert_eq!(text(&d.unwrap()), "after");
    assert_eq!(s.fake.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn requests_that_may_not_read_the_cache_are_never_merged() {
    let s = setup();
    s.fake.set_default(slow("fresh"));
    let (a, b) = futures::future::join(
        s.cached.chat(&req("y"), &RequestContext::default()),
        s.cached.chat(&req("y"), &mode(CacheMode::WriteOnly)),
    )
    .await;
    assert_eq!(a.unwrap().meta.cache_hit, Some(false));
    assert_eq!(b.unwrap().meta.cache_hit, Some(false));
    assert_eq!(s.fake.calls(), 2);
}
