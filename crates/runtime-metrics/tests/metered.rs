//! MeteredProvider over the scripted fake provider: metrics, cost, usage records, streams
//! (TTFT, errors, client drops) and the Prometheus text output parsed back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use parking_lot::Mutex;
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, Error, FinishReason,
    Message, Provider, ProviderService, RequestContext, Service, ServiceExt, StreamEvent, Usage,
};
use runtime_metrics::{
    Meter, MeteredProvider, Metrics, MetricsConfig, Operation, Pricing, Status, UsageRecord,
    UsageSink,
};
use runtime_testkit::fake::{FakeProvider, Step};

#[derive(Default)]
struct Collect(Mutex<Vec<UsageRecord>>);

impl UsageSink for Collect {
    fn submit(&self, record: UsageRecord) {
        self.0.lock().push(record);
    }
}

/// `p` as a service.
fn svc(p: impl Provider) -> Arc<dyn Service> {
    Arc::new(ProviderService::new(Arc::new(p)))
}

fn setup(fake: FakeProvider) -> (MeteredProvider, Arc<Collect>, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new(&MetricsConfig::default()));
    let pricing = Arc::new(Pricing::default().with_provider_type("fake", "openai"));
    let sink = Arc::new(Collect::default());
    let meter = Meter::new(metrics.clone(), pricing).with_sink(sink.clone());
    (MeteredProvider::new(svc(fake), meter), sink, metrics)
}

fn req(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("hi")])
}

fn usage() -> Usage {
    Usage {
        prompt_tokens: 1_000,
        completion_tokens: 400,
        total_tokens: 1_400,
        cached_prompt_tokens: 600,
        cache_creation_tokens: 0,
        reasoning_tokens: 300,
    }
}

#[tokio::test(start_paused = true)]
async fn chat_success_records_metrics_cost_and_usage() {
    let fake = FakeProvider::new("fake");
    fake.push(Step::Reply {
        text: "hello".into(),
        usage: usage(),
        delay: Duration::from_millis(250),
    });
    let (p, sink, metrics) = setup(fake);
    let ctx = RequestContext::new().with_request_id("r1");
    let mut ctx = ctx;
    ctx.key_id = Some("key-1".into());
    p.chat(&req("gpt-4o-mini"), &ctx).await.unwrap();

    let recs = sink.0.lock().clone();
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.request_id, "r1");
    assert_eq!(r.key_id.as_deref(), Some("key-1"));
    assert_eq!(r.provider, "fake");
    assert_eq!(r.operation, "chat");
    assert_eq!(r.logical_model, "gpt-4o-mini");
    assert_eq!(r.provider_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        (r.prompt_tokens, r.cached_tokens, r.reasoning_tokens),
        (1_000, 600, 300)
    );
    // gpt-4o-mini: 400 plain input at 0.15, 600 cached at 0.075, 400 output (reasoning inside) at 0.60
    let want = (400.0 * 0.15 + 600.0 * 0.075 + 400.0 * 0.60) / 1e6;
    assert!((r.cost_usd.unwrap() - want).abs() < 1e-12, "{r:?}");
    assert_eq!(r.status, Status::Ok);
    assert!((r.latency_ms - 250.0).abs() < 1.0, "{}", r.latency_ms);

    let snap = metrics.snapshot();
    assert_eq!(snap.len(), 1);
    let s = &snap[0];
    assert_eq!((s.requests, s.successes, s.errors), (1, 1, 0));
    assert_eq!(s.operation, Operation::Chat);
    assert_eq!(s.usage.cached_prompt_tokens, 600);
    assert!((s.cost_usd - want).abs() < 1e-9);
    assert!(
        (s.latency.p50 - 0.25).abs() < 0.25 * 0.04,
        "{:?}",
        s.latency
    );
    // 400 tokens in 0.25 s
    assert!(
        (s.output_tokens_per_second.p50 - 1600.0).abs() < 1600.0 * 0.04,
        "{:?}",
        s.output_tokens_per_second
    );
}

#[tokio::test]
async fn errors_are_counted_by_kind() {
    let fake = FakeProvider::new("fake");
    fake.push(Step::fail(Error::RateLimited {
        provider: "fake".into(),
        model: "gpt-4o".into(),
        retry_after: None,
        message: "slow down".into(),
    }));
    fake.push(Step::fail(Error::Cancelled));
    fake.push(Step::fail(Error::Cancelled));
    let (p, sink, metrics) = setup(fake);
    for _ in 0..3 {
        assert!(
            p.chat(&req("gpt-4o"), &RequestContext::new())
                .await
                .is_err()
        );
    }
    let s = &metrics.snapshot()[0];
    assert_eq!((s.requests, s.successes, s.errors), (3, 0, 3));
    assert_eq!(
        s.errors_by_kind,
        vec![("cancelled", 2), ("rate_limited", 1)]
    );
    let recs = sink.0.lock().clone();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0].status, Status::Error);
    assert_eq!(recs[0].error_kind.as_deref(), Some("rate_limited"));
    assert_eq!(recs[0].cost_usd, None);
}

fn stream_events(model: &str) -> Vec<Result<StreamEvent, Error>> {
    vec![
        Ok(StreamEvent::Start {
            id: "s1".into(),
            model: model.into(),
            created: 1,
        }),
        Ok(StreamEvent::TextDelta { text: "a".into() }),
        Ok(StreamEvent::TextDelta { text: "b".into() }),
        Ok(StreamEvent::TextDelta { text: "c".into() }),
        Ok(StreamEvent::Finish {
            reason: FinishReason::Stop,
        }),
        Ok(StreamEvent::Usage(Usage::new(100, 50))),
    ]
}

#[tokio::test(start_paused = true)]
async fn stream_records_ttft_usage_and_provider_model() {
    let fake = FakeProvider::new("fake");
    fake.push(Step::Stream(
        stream_events("gpt-4o-2024-08-06"),
        Duration::from_millis(100),
    ));
    let (p, sink, metrics) = setup(fake);
    let ctx = RequestContext::new().with_request_id("s-1");
    let mut s = p.chat_stream(&req("gpt-4o"), &ctx).await.unwrap();
    let mut n = 0;
    while let Some(ev) = s.next().await {
        ev.unwrap();
        n += 1;
    }
    assert_eq!(n, 6);
    drop(s);
    let recs = sink.0.lock().clone();
    assert_eq!(recs.len(), 1, "recorded once, not again on drop");
    let r = &recs[0];
    assert_eq!(r.operation, "chat_stream");
    assert_eq!(r.provider_model.as_deref(), Some("gpt-4o-2024-08-06"));
    // Start at 0, first text after one gap.
    assert!((r.ttft_ms.unwrap() - 100.0).abs() < 1.0, "{r:?}");
    assert!((r.latency_ms - 500.0).abs() < 1.0, "{r:?}");
    assert_eq!(r.completion_tokens, 50);
    // Priced as gpt-4o (the dated snapshot falls back): 100 * 2.5 + 50 * 10
    let want = (100.0 * 2.5 + 50.0 * 10.0) / 1e6;
    assert!((r.cost_usd.unwrap() - want).abs() < 1e-12);
    let snap = metrics.snapshot();
    let ttft = snap[0].ttft.unwrap();
    assert!((ttft.p50 - 0.1).abs() < 0.004, "{ttft:?}");
    let text = metrics.render();
    let line = text
        .lines()
        .find(|l| l.starts_with("gen_ai_server_time_to_first_token_seconds_sum{"))
        .unwrap();
    assert!(
        line.contains("gen_ai_operation_name=\"chat_stream\""),
        "{line}"
    );
    let sum: f64 = line.rsplit_once(' ').unwrap().1.parse().unwrap();
    assert!((sum - 0.1).abs() < 1e-3, "{line}");
}

#[tokio::test(start_paused = true)]
async fn dropped_stream_still_records_what_was_produced() {
    let fake = FakeProvider::new("fake");
    let mut events = stream_events("gpt-4o");
    // Usage early (some providers send running usage), then the client goes away.
    events.insert(2, Ok(StreamEvent::Usage(Usage::new(100, 1))));
    fake.push(Step::Stream(events, Duration::from_millis(10)));
    let (p, sink, metrics) = setup(fake);
    let mut s = p
        .chat_stream(&req("gpt-4o"), &RequestContext::new())
        .await
        .unwrap();
    for _ in 0..3 {
        s.next().await.unwrap().unwrap();
    }
    assert!(sink.0.lock().is_empty());
    drop(s); // client disconnect
    let recs = sink.0.lock().clone();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].status, Status::Aborted);
    assert_eq!(recs[0].prompt_tokens, 100);
    assert!(recs[0].cost_usd.unwrap() > 0.0);
    assert_eq!(metrics.snapshot()[0].errors_by_kind, vec![("cancelled", 1)]);
}

/// A non-streamed call whose caller goes away (its future dropped) before the answer still
/// leaves its one record, `aborted`, once; a call that ends is not recorded again on drop.
#[tokio::test(start_paused = true)]
async fn abandoned_call_is_recorded_aborted_once() {
    let fake = FakeProvider::new("fake");
    fake.push(Step::Hang);
    fake.push(Step::Hang);
    fake.push(Step::Reply {
        text: "hello".into(),
        usage: usage(),
        delay: Duration::ZERO,
    });
    let (p, sink, metrics) = setup(fake);
    let ctx = RequestContext::new().with_request_id("gone");
    let r = tokio::time::timeout(Duration::from_secs(1), p.chat(&req("gpt-4o"), &ctx)).await;
    assert!(r.is_err(), "the fake hangs");
    let e = EmbeddingRequest::new("text-embedding-3-small", vec!["abcd".into()]);
    let ctx2 = RequestContext::new().with_request_id("gone-embed");
    let r = tokio::time::timeout(Duration::from_secs(1), p.embed(&e, &ctx2)).await;
    assert!(r.is_err(), "the fake hangs");
    p.chat(
        &req("gpt-4o"),
        &RequestContext::new().with_request_id("done"),
    )
    .await
    .unwrap();
    let recs = sink.0.lock().clone();
    assert_eq!(recs.len(), 3, "{recs:?}");
    assert_eq!(recs[0].request_id, "gone");
    assert_eq!(recs[0].status, Status::Aborted);
    assert_eq!(recs[0].operation, "chat");
    assert_eq!(recs[0].error_kind.as_deref(), Some("cancelled"));
    assert_eq!(recs[0].total_tokens, 0);
    assert_eq!(recs[1].request_id, "gone-embed");
    assert_eq!(recs[1].status, Status::Aborted);
    assert_eq!(recs[1].operation, "embedding");
    assert_eq!(recs[2].request_id, "done");
    assert_eq!(recs[2].status, Status::Ok);
    let cancelled: u64 = metrics
        .snapshot()
        .iter()
        .flat_map(|s| s.errors_by_kind.iter())
        .filter(|(k, _)| *k == "cancelled")
        .map(|(_, n)| *n)
        .sum();
    assert_eq!(cancelled, 2);
}

#[tokio::test]
async fn stream_error_is_recorded_once() {
    let fake = FakeProvider::new("fake");
    fake.push(Step::Stream(
        vec![
            Ok(StreamEvent::TextDelta { text: "a".into() }),
            Err(Error::Stream {
                provider: "fake".into(),
                model: "m".into(),
                error_type: None,
                message: "boom".into(),
                transient: false,
                content_sent: true,
            }),
        ],
        Duration::ZERO,
    ));
    let (p, sink, _) = setup(fake);
    let mut s = p
        .chat_stream(&req("gpt-4o"), &RequestContext::new())
        .await
        .unwrap();
    assert!(s.next().await.unwrap().is_ok());
    assert!(s.next().await.unwrap().is_err());
    drop(s);
    let recs = sink.0.lock().clone();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].error_kind.as_deref(), Some("stream"));
}

#[tokio::test]
async fn embeddings_are_metered() {
    let (p, sink, metrics) = setup(FakeProvider::new("fake"));
    let r = EmbeddingRequest::new("text-embedding-3-small", vec!["abcd".into(), "ef".into()]);
    p.embed(&r, &RequestContext::new()).await.unwrap();
    let recs = sink.0.lock().clone();
    assert_eq!(recs[0].operation, "embedding");
    assert_eq!(recs[0].prompt_tokens, 6);
    assert!((recs[0].cost_usd.unwrap() - 6.0 * 0.02 / 1e6).abs() < 1e-15);
    assert_eq!(metrics.snapshot()[0].operation, Operation::Embedding);
}

/// A provider answering as if from the response cache (sets `meta.cache_hit`).
struct CacheHit(FakeProvider);

#[async_trait]
impl Provider for CacheHit {
    fn name(&self) -> &str {
        "cache"
    }
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
    async fn chat(
        &self,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> runtime_core::Result<ChatResponse> {
        let mut r = self.0.chat(req, ctx).await?;
        r.meta.cache_hit = Some(true);
        r.meta.deployment = Some("dep-a".into());
        Ok(r)
    }
    async fn chat_stream(
        &self,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> runtime_core::Result<ChatStream> {
        self.0.chat_stream(req, ctx).await
    }
}

#[tokio::test]
async fn own_cache_hit_records_zero_cost_and_the_saving() {
    let metrics = Arc::new(Metrics::new(&MetricsConfig::default()));
    let pricing = Arc::new(Pricing::default().with_provider_type("fake", "openai"));
    let sink = Arc::new(Collect::default());
    let fake = FakeProvider::new("fake");
    fake.push(Step::Reply {
        text: "x".into(),
        usage: Usage::new(1_000_000, 0),
        delay: Duration::ZERO,
    });
    let p = MeteredProvider::new(
        svc(CacheHit(fake)),
        Meter::new(metrics.clone(), pricing).with_sink(sink.clone()),
    );
    p.chat(&req("gpt-4o-mini"), &RequestContext::new())
        .await
        .unwrap();
    let r = sink.0.lock()[0].clone();
    assert!(r.cache_hit);
    assert_eq!(r.deployment.as_deref(), Some("dep-a"));
    assert_eq!(r.cost_usd, Some(0.0));
    assert!((r.saved_usd.unwrap() - 0.15).abs() < 1e-12);
    let s = &metrics.snapshot()[0];
    assert_eq!(s.cache_hits, 1);
    assert_eq!(s.cost_usd, 0.0);
    assert!((s.saved_usd - 0.15).abs() < 1e-9);
}

#[tokio::test]
async fn unknown_price_is_unknown_in_metrics_and_records() {
    let metrics = Arc::new(Metrics::new(&MetricsConfig::default()));
    let sink = Arc::new(Collect::default());
    // "fake" not declared as openai: no catalog entry, not free.
    let p = MeteredProvider::new(
        svc(FakeProvider::new("fake")),
        Meter::new(metrics.clone(), Arc::new(Pricing::default())).with_sink(sink.clone()),
    );
    for _ in 0..2 {
        p.chat(&req("my-model"), &RequestContext::new())
            .await
            .unwrap();
    }
    assert!(sink.0.lock().iter().all(|r| r.cost_usd.is_none()));
    let s = &metrics.snapshot()[0];
    assert_eq!(s.unpriced_requests, 2);
    assert_eq!(s.cost_usd, 0.0);
}

/// A minimal parser of the Prometheus text format: (name, labels) -> value, and TYPE lines.
type Samples = HashMap<(String, Vec<(String, String)>), f64>;

fn parse_prometheus(text: &str) -> (Samples, HashMap<String, String>) {
    let mut samples = HashMap::new();
    let mut types = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split_whitespace();
            types.insert(it.next().unwrap().to_owned(), it.next().unwrap().to_owned());
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value in {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), vec![]),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap();
                let mut labels = vec![];
                for pair in body.split("\",").filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once("=\"").unwrap();
                    labels.push((k.to_owned(), v.trim_end_matches('"').to_owned()));
                }
                labels.sort();
                (name.to_owned(), labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{name}"
        );
        samples.insert((name, labels), value);
    }
    (samples, types)
}

fn labels(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> = [
        ("gen_ai_operation_name", "chat"),
        ("gen_ai_provider_name", "fake"),
        ("gen_ai_request_model", "gpt-4o-mini"),
    ]
    .iter()
    .chain(extra.iter())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    l.sort();
    l
}

#[tokio::test]
async fn prometheus_text_parses_back() {
    let fake = FakeProvider::new("fake");
    for _ in 0..3 {
        fake.push(Step::Reply {
            text: "x".into(),
            usage: usage(),
            delay: Duration::ZERO,
        });
    }
    fake.push(Step::fail(Error::Cancelled));
    let (p, _sink, metrics) = setup(fake);
    for _ in 0..4 {
        let _ = p.chat(&req("gpt-4o-mini"), &RequestContext::new()).await;
    }
    let text = metrics.render();
    if std::env::var("SHOW_PROM").is_ok() {
        println!("{text}");
    }
    let (samples, types) = parse_prometheus(&text);
    let get = |name: &str, extra: &[(&str, &str)]| {
        *samples
            .get(&(name.to_owned(), labels(extra)))
            .unwrap_or_else(|| panic!("{name} {extra:?} missing in\n{text}"))
    };
    assert_eq!(get("gen_ai_client_requests_total", &[]), 4.0);
    assert_eq!(get("gen_ai_client_request_successes_total", &[]), 3.0);
    assert_eq!(
        get(
            "gen_ai_client_request_errors_total",
            &[("error_type", "cancelled")]
        ),
        1.0
    );
    assert_eq!(
        get(
            "modelrt_tokens_total",
            &[("gen_ai_token_type", "cached_input")]
        ),
        1_800.0
    );
    assert_eq!(
        get(
            "modelrt_tokens_total",
            &[("gen_ai_token_type", "reasoning")]
        ),
        900.0
    );
    let cost = (400.0 * 0.15 + 600.0 * 0.075 + 400.0 * 0.60) * 1e3 * 3.0; // nano-dollars
    assert!((get("gen_ai_client_cost_nanodollars_total", &[]) - cost).abs() < 3.0);
    assert_eq!(
        get("gen_ai_client_operation_duration_seconds_count", &[]),
        4.0
    );
    assert_eq!(
        get(
            "gen_ai_client_operation_duration_seconds_bucket",
            &[("le", "+Inf")]
        ),
        4.0
    );
    // gen_ai.client.token.usage is a histogram of tokens per request.
    assert_eq!(types["gen_ai_client_token_usage"], "histogram", "{text}");
    assert_eq!(
        get(
            "gen_ai_client_token_usage_count",
            &[("gen_ai_token_type", "input")]
        ),
        3.0
    );
    // No sliding-window percentiles exported as gauges.
    assert!(!text.contains("quantile="), "{text}");
    // Conventions: counters end in _total, histograms carry a unit.
    for (name, ty) in &types {
        match ty.as_str() {
            "counter" => assert!(name.ends_with("_total"), "{name}"),
            "histogram" => assert!(
                name.ends_with("_seconds")
                    || name.ends_with("_per_second")
                    || name == "gen_ai_client_token_usage",
                "{name}"
            ),
            other => panic!("unexpected type {other} for {name}"),
        }
    }
    assert_eq!(
        types["gen_ai_client_operation_duration_seconds"],
        "histogram"
    );
    // Time to first token is a stream metric only.
    assert!(!text.contains("time_to_first_token"));
    // No secrets in labels: the gateway key id is never a label.
    assert!(!text.contains("key"), "{text}");
}

#[tokio::test]
async fn series_are_bounded() {
    let metrics = Arc::new(Metrics::new(&MetricsConfig {
        max_series: 3,
        ..MetricsConfig::default()
    }));
    let p = MeteredProvider::new(
        svc(FakeProvider::new("fake")),
        Meter::new(metrics.clone(), Arc::new(Pricing::default())),
    );
    for i in 0..10 {
        p.chat(&req(&format!("model-{i}")), &RequestContext::new())
            .await
            .unwrap();
    }
    let snap = metrics.snapshot();
    assert_eq!(snap.len(), 4, "3 series plus the overflow one");
    let other = snap.iter().find(|s| s.model == "__other__").unwrap();
    assert_eq!(other.requests, 7);
}

#[tokio::test]
async fn attempts_are_counted_apart_from_requests() {
    // Request-level meter over an attempt-level one (the facade wraps each deployment too).
    let metrics = Arc::new(Metrics::new(&MetricsConfig::default()));
    let sink = Arc::new(Collect::default());
    let meter = Meter::new(metrics.clone(), Arc::new(Pricing::default())).with_sink(sink.clone());
    let fake = FakeProvider::new("fake");
    fake.push(Step::fail(Error::Cancelled));
    let inner = MeteredProvider::new(svc(fake), meter.for_attempts());
    let outer = MeteredProvider::new(Arc::new(inner), meter);
    let _ = outer.chat(&req("m"), &RequestContext::new()).await;
    outer.chat(&req("m"), &RequestContext::new()).await.unwrap();
    let snap = metrics.snapshot();
    assert_eq!(snap.len(), 2);
    for s in &snap {
        assert_eq!((s.requests, s.successes, s.errors), (2, 1, 1), "{s:?}");
    }
    assert_eq!(
        snap.iter().map(|s| s.scope).collect::<Vec<_>>(),
        vec![
            runtime_metrics::Scope::Attempt,
            runtime_metrics::Scope::Request
        ]
    );
    // One usage record per request, from the request-level meter.
    assert_eq!(sink.0.lock().len(), 2);
    // Separate families: summing the request family never adds attempts, and nothing
    // carries an empty deployment or a scope label.
    let text = metrics.render();
    let expo = runtime_testkit::prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(expo.sum("gen_ai_client_requests_total", &[]), 2.0, "{text}");
    assert_eq!(expo.sum("modelrt_attempts_total", &[]), 2.0, "{text}");
    assert_eq!(
        expo.sum(
            "modelrt_attempt_errors_total",
            &[("error_type", "cancelled")]
        ),
        1.0
    );
    assert!(
        !text.contains("deployment=\"\"") && !text.contains("scope="),
        "{text}"
    );
}

/// Fails every call as a router does: the error and the route it took.
struct FailsRouted;

#[async_trait]
impl Service for FailsRouted {
    fn name(&self) -> &str {
        "router"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn call(
        &self,
        _: runtime_core::Call<'_>,
        _: &RequestContext,
    ) -> Result<runtime_core::Reply, runtime_core::Failure> {
        Err(runtime_core::Failure::routed(
            Error::Cancelled,
            Some(runtime_core::RouteSummary {
                provider: "upstream-b".into(),
                deployment: "dep-b".into(),
                attempts: 3,
            }),
        ))
    }
}

#[tokio::test]
async fn a_failed_routed_call_is_recorded_with_its_deployment_and_attempts() {
    let metrics = Arc::new(Metrics::new(&MetricsConfig::default()));
    let sink = Arc::new(Collect::default());
    let p = MeteredProvider::new(
        Arc::new(FailsRouted),
        Meter::new(metrics.clone(), Arc::new(Pricing::default())).with_sink(sink.clone()),
    );
    let ctx = RequestContext::new();
    let failure = p
        .call(runtime_core::Call::chat(&req("fast")), &ctx)
        .await
        .unwrap_err();
    // The failure goes on up with its route.
    assert_eq!(failure.route.as_ref().map(|r| r.attempts), Some(3));
    let recs = sink.0.lock().clone();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].status, Status::Error);
    assert_eq!(recs[0].error_kind.as_deref(), Some("cancelled"));
    assert_eq!(recs[0].provider, "upstream-b");
    assert_eq!(recs[0].deployment.as_deref(), Some("dep-b"));
    assert_eq!(recs[0].attempts, 3);
    let reported = ctx.usage.get().unwrap();
    assert_eq!(reported.deployment.as_deref(), Some("dep-b"));
}
