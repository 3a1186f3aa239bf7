//! End-to-end: OpenTelemetry traces from the real `modelrt` binary to a real OTLP receiver
//! (`runtime_testkit::otlp`, the official protobuf definitions over HTTP/protobuf): a failed
//! over stream is one trace under the client's `traceparent`, request → attempts → upstream
//! calls, with the GenAI attributes; the upstream sees the trace; content only on opt-in;
//! keys never; a collector that is down costs the requests nothing and is counted; an
//! embedding call batched for two requests links to both.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use runtime_testkit::otlp::{KIND_CLIENT, KIND_SERVER, OtlpReceiver, Span};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";
const PROMPT: &str = "PROMPT-MARKER-7781 say hi";

/// Export batches quickly (the SDK's OTEL_BSP_SCHEDULE_DELAY, milliseconds).
const FAST_EXPORT: &[(&str, &str)] = &[("OTEL_BSP_SCHEDULE_DELAY", "100")];

async fn failing_upstream(status: u16) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_json(json!({"error": {"message": "boom", "type": "server_error"}})),
        )
        .mount(&s)
        .await;
    s
}

/// The gateway over an OpenAI upstream (provider `mock`), exporting spans quickly to
/// `collector`; `settings` go in `[telemetry]`, `extra` before it.
async fn gw_tracing_to(collector: &str, settings: &str, extra: &str) -> (MockServer, Gw) {
    let telemetry = telemetry(collector, settings);
    gw_over_openai_with(FAST_EXPORT, |up| {
        mock_config(up, &format!("{extra}\n{telemetry}"))
    })
    .await
}

fn of_trace(spans: &[Span]) -> Vec<Span> {
    spans
        .iter()
        .filter(|s| s.trace_id == TRACE_ID)
        .cloned()
        .collect()
}

fn no_secrets(spans: &[Span]) {
    for s in spans {
        let text = format!("{s:?}");
        assert!(!text.contains(UPSTREAM_KEY), "a key in a span: {text}");
    }
}

#[tokio::test]
async fn a_streamed_failover_is_one_trace_under_the_clients_traceparent() {
    let rx = OtlpReceiver::start().await;
    let bad = failing_upstream(500).await;
    let good = openai_upstream().await;
    let telemetry = telemetry(
        &rx.endpoint(),
        "protocol = \"http/protobuf\"\nservice_name = \"modelrt-test\"",
    );
    // A logical model `fast`: deployment `primary-mini` at `bad`, then `backup-mini` at `good`.
    let gw = Gw::start_with(
        Some(&two_deployments(
            "fast",
            &bad.uri(),
            &good.uri(),
            &telemetry,
        )),
        FAST_EXPORT,
    )
    .await;

    let body = json!({"model": "fast", "stream": true, "max_tokens": 50, "temperature": 0.5,
                      "messages": [{"role": "user", "content": PROMPT}]});
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .header("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN}-01"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-modelrt-deployment"], "backup-mini");
    let text = resp.text().await.unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");

    // request + 2 attempts + 2 upstream calls, all in the client's trace.
    let spans = rx
        .wait_for(Duration::from_secs(20), |s| of_trace(s).len() >= 5)
        .await;
    let trace = of_trace(&spans);
    assert_eq!(trace.len(), 5, "{trace:#?}");
    no_secrets(&spans);

    // The request: a server span whose parent is the client's span.
    let req = trace
        .iter()
        .find(|s| s.kind == KIND_SERVER)
        .expect("server span");
    assert_eq!(req.parent_span_id, CLIENT_SPAN, "{req:#?}");
    assert_eq!(req.name, "POST /v1/chat/completions");
    assert_eq!(req.service_name.as_deref(), Some("modelrt-test"));
    let a = |k: &str| req.attr(k);
    assert_eq!(
        a("http.response.status_code").as_deref(),
        Some("200"),
        "{req:#?}"
    );
    assert_eq!(a("gen_ai.operation.name").as_deref(), Some("chat"));
    assert_eq!(a("gen_ai.request.model").as_deref(), Some("fast"));
    assert_eq!(a("gen_ai.request.max_tokens").as_deref(), Some("50"));
    assert_eq!(a("gen_ai.request.temperature").as_deref(), Some("0.5"));
    assert_eq!(a("gen_ai.provider.name").as_deref(), Some("backup"));
    assert_eq!(
        a("gen_ai.response.model").as_deref(),
        Some("gpt-4o-mini-2024-07-18")
    );
    assert_eq!(a("gen_ai.response.id").as_deref(), Some("chatcmpl-up2"));
    assert_eq!(
        a("gen_ai.response.finish_reasons").as_deref(),
        Some(r#"["stop"]"#)
    );
    assert_eq!(a("gen_ai.usage.input_tokens").as_deref(), Some("5"));
    assert_eq!(a("gen_ai.usage.output_tokens").as_deref(), Some("2"));
    // Content is not captured by default.
    assert!(a("gen_ai.input.messages").is_none() && a("gen_ai.output.messages").is_none());
    assert!(
        !format!("{spans:?}").contains("PROMPT-MARKER"),
        "prompt in a span"
    );

    // The attempts: children of the request, first failed at primary, then ok at backup.
    let mut attempts: Vec<&Span> = trace
        .iter()
        .filter(|s| s.parent_span_id == req.span_id)
        .collect();
    attempts.sort_by_key(|s| s.attr("attempt"));
    assert_eq!(attempts.len(), 2, "{trace:#?}");
    assert_eq!(
        attempts[0].attr("deployment").as_deref(),
        Some("primary-mini")
    );
    assert_eq!(
        attempts[1].attr("deployment").as_deref(),
        Some("backup-mini")
    );
    assert_eq!(attempts[0].attr("outcome").as_deref(), Some("api_error"));
    assert_eq!(attempts[1].attr("outcome").as_deref(), Some("ok"));
    for (at, provider) in attempts.iter().zip(["primary", "backup"]) {
        assert_eq!(at.name, "chat gpt-4o-mini", "{at:#?}");
        assert_eq!(at.attr("gen_ai.operation.name").as_deref(), Some("chat"));
        assert_eq!(at.attr("gen_ai.provider.name").as_deref(), Some(provider));
        assert_eq!(
            at.attr("gen_ai.request.model").as_deref(),
            Some("gpt-4o-mini")
        );
    }
    assert_eq!(attempts[0].attr("error.type").as_deref(), Some("api_error"));
    assert_eq!(attempts[0].status_code, 2);
    assert!(attempts[1].attr("error.type").is_none());
    // The failed attempt's log event, and the failover, as span events.
    assert!(
        attempts[0].events.iter().any(|e| e == "attempt failed"),
        "{:?}",
        attempts[0]
    );
    assert!(req.events.iter().any(|e| e == "failover"), "{req:#?}");

    // One upstream call under each attempt: client spans with the HTTP attributes.
    for (attempt, (provider, status)) in
        attempts.iter().zip([("primary", "500"), ("backup", "200")])
    {
        let calls: Vec<&Span> = trace
            .iter()
            .filter(|s| s.parent_span_id == attempt.span_id)
            .collect();
        assert_eq!(calls.len(), 1, "{trace:#?}");
        let c = calls[0];
        assert_eq!(c.kind, KIND_CLIENT, "{c:#?}");
        assert_eq!(c.name, "POST");
        assert_eq!(c.attr("gen_ai.provider.name").as_deref(), Some(provider));
        assert_eq!(
            c.attr("gen_ai.request.model").as_deref(),
            Some("gpt-4o-mini")
        );
        assert_eq!(c.attr("server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(c.attr("http.response.status_code").as_deref(), Some(status));
        if status == "500" {
            assert_eq!(c.attr("error.type").as_deref(), Some("api_error"), "{c:#?}");
            assert_eq!(c.status_code, 2, "{c:#?}");
        } else {
            assert!(c.attr("error.type").is_none(), "{c:#?}");
        }
        // The upstream received the trace, with this call's span as the parent.
        let up = if status == "500" { &bad } else { &good };
        let got = up.received_requests().await.unwrap();
        let tp = got[0]
            .headers
            .get("traceparent")
            .expect("traceparent upstream");
        assert_eq!(
            tp.to_str().unwrap(),
            format!("00-{TRACE_ID}-{}-01", c.span_id)
        );
    }
}

#[tokio::test]
async fn content_is_captured_only_when_the_operator_opts_in() {
    let rx = OtlpReceiver::start().await;
    let (_up, gw) = gw_tracing_to(&rx.endpoint(), "capture_content = true", "").await;
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&json!({"model": "mock/gpt-4o-mini",
                      "messages": [{"role": "user", "content": PROMPT}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let spans = rx
        .wait_for(Duration::from_secs(20), |s| {
            s.iter().any(|s| s.kind == KIND_SERVER)
        })
        .await;
    let req = spans
        .iter()
        .find(|s| s.kind == KIND_SERVER)
        .expect("server span");
    // Without a client traceparent the request starts a trace of its own.
    assert!(req.parent_span_id.is_empty(), "{req:#?}");
    let input = req.attr("gen_ai.input.messages").expect("input captured");
    assert!(input.contains("PROMPT-MARKER-7781"), "{input}");
    let output = req.attr("gen_ai.output.messages").expect("output captured");
    assert!(output.contains("Hello there!"), "{output}");
    assert_eq!(
        req.attr("gen_ai.response.finish_reasons").as_deref(),
        Some(r#"["stop"]"#)
    );
    no_secrets(&spans);
    // The upstream call is in the same trace.
    assert!(
        spans
            .iter()
            .any(|s| s.kind == KIND_CLIENT && s.trace_id == req.trace_id),
        "{spans:#?}"
    );
}

#[tokio::test]
async fn with_the_collector_down_requests_are_unaffected_and_drops_are_counted() {
    let (_up, gw) = gw_tracing_to(&collector_down(), "queue_size = 4", "").await;
    for i in 0..6 {
        let mut body = chat_body("mock/gpt-4o-mini");
        if i % 2 == 1 {
            body["stream"] = json!(true);
        }
        let resp = client()
            .post(gw.at("/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(!resp.text().await.unwrap().is_empty());
    }
    let counts = |e: &runtime_testkit::prom::Exposition| {
        (
            e.sum("modelrt_otel_spans_dropped_total", &[]),
            e.sum("modelrt_otel_export_errors_total", &[]),
        )
    };
    // 6 requests, each a request span and an upstream span (and the /metrics requests' own
    // spans): every one dropped. A failed export is retried within the export timeout (10 s)
    // before it counts.
    let (_, e) = scrape_until(&gw, Duration::from_secs(40), |e| {
        let (dropped, errors) = counts(e);
        dropped >= 12.0 && errors >= 1.0
    })
    .await;
    assert_eq!(e.sum("modelrt_otel_spans_exported_total", &[]), 0.0);
    let (dropped, errors) = counts(&e);
    assert!(
        dropped >= 12.0,
        "every span is dropped and counted: {dropped}"
    );
    assert!(errors >= 1.0, "{errors}");
    assert!(gw.logs().contains("OTLP export failed"), "{}", gw.logs());
}

#[tokio::test]
async fn bad_telemetry_settings_are_refused_naming_the_key() {
    for (setting, key) in [
        (
            "endpoint = \"http://127.0.0.1:4318\"\nsampling_ratio = 1.5",
            "telemetry.sampling_ratio",
        ),
        ("endpoint = \"collector:4318\"", "telemetry.endpoint"),
        (
            "endpoint = \"http://127.0.0.1:4318\"\nprotocol = \"thrift\"",
            "protocol",
        ),
        (
            "endpoint = \"http://127.0.0.1:4318\"\nqueue_size = 0",
            "telemetry.queue_size",
        ),
        ("capture_content = true", "telemetry.endpoint"),
    ] {
        let cfg = mock_config("http://127.0.0.1:9", &format!("[telemetry]\n{setting}\n"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("modelrt.toml");
        std::fs::write(&file, cfg).unwrap();
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--config")
            .arg(&file)
            .output()
            .await
            .unwrap();
        assert!(!out.status.success(), "{setting}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{setting}: {err}");
    }
}

#[tokio::test]
async fn grpc_export_reaches_a_grpc_receiver() {
    let rx = OtlpReceiver::start_grpc().await;
    let (_up, gw) = gw_tracing_to(&rx.endpoint(), "protocol = \"grpc\"", "").await;
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .header("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN}-01"))
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let spans = rx
        .wait_for(Duration::from_secs(20), |s| of_trace(s).len() >= 2)
        .await;
    let trace = of_trace(&spans);
    assert_eq!(trace.len(), 2, "{spans:#?}");
    let req = trace
        .iter()
        .find(|s| s.kind == KIND_SERVER)
        .expect("server span");
    assert_eq!(req.parent_span_id, CLIENT_SPAN);
    assert_eq!(req.name, "POST /v1/chat/completions");
    assert_eq!(req.attr("gen_ai.operation.name").as_deref(), Some("chat"));
    assert_eq!(
        req.attr("gen_ai.request.model").as_deref(),
        Some("mock/gpt-4o-mini")
    );
    assert_eq!(req.attr("gen_ai.usage.input_tokens").as_deref(), Some("9"));
    let call = trace
        .iter()
        .find(|s| s.kind == KIND_CLIENT)
        .expect("client span");
    assert_eq!(call.parent_span_id, req.span_id);
    assert!(rx.requests() >= 1);
    no_secrets(&spans);
}

#[tokio::test]
async fn a_cache_hit_is_an_event_on_the_request_span() {
    let rx = OtlpReceiver::start().await;
    let (_up, gw) = gw_tracing_to(&rx.endpoint(), "", "").await;
    // Deterministic (temperature 0) answers are cached by default.
    let mut body = chat_body("mock/gpt-4o-mini");
    body["temperature"] = json!(0);
    for expect in ["miss", "hit"] {
        let resp = client()
            .post(gw.at("/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["x-modelrt-cache"], expect);
    }
    let spans = rx
        .wait_for(Duration::from_secs(20), |s| {
            s.iter().filter(|s| s.kind == KIND_SERVER).count() >= 2
        })
        .await;
    let servers: Vec<&Span> = spans.iter().filter(|s| s.kind == KIND_SERVER).collect();
    assert_eq!(servers.len(), 2, "{spans:#?}");
    let hits: Vec<&&Span> = servers
        .iter()
        .filter(|s| s.events.iter().any(|e| e == "cache hit"))
        .collect();
    assert_eq!(hits.len(), 1, "{servers:#?}");
    // The hit made no upstream call: one client span in all, under the miss.
    let calls: Vec<&Span> = spans.iter().filter(|s| s.kind == KIND_CLIENT).collect();
    assert_eq!(calls.len(), 1, "{spans:#?}");
    assert_ne!(calls[0].trace_id, hits[0].trace_id);
}

#[tokio::test]
async fn a_batched_embedding_call_links_to_every_request_it_serves() {
    let rx = OtlpReceiver::start().await;
    // The first request of a batch waits up to 300 ms for others.
    let (up, gw) = gw_tracing_to(
        &rx.endpoint(),
        "",
        "[cache.embedding_batch]\nmax_wait = \"300ms\"\n",
    )
    .await;
    let traces = [
        ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"),
        ("5b8aa5a2d2c872e8321cf37308d69df2", "051581bf3cb55c13"),
    ];
    let send = |(trace, parent): (&str, &str), text: &str| {
        client()
            .post(gw.at("/v1/embeddings"))
            .header("traceparent", format!("00-{trace}-{parent}-01"))
            .json(&json!({"model": "mock/text-embedding-3-small", "input": [text]}))
            .send()
    };
    let (a, b) = tokio::join!(
        send(traces[0], "first text"),
        send(traces[1], "second text")
    );
    assert_eq!(a.unwrap().status(), 200);
    assert_eq!(b.unwrap().status(), 200);
    // One upstream call served both.
    let calls = received_bodies(&up, "/v1/embeddings").await;
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["input"].as_array().map(Vec::len), Some(2));

    let spans = rx
        .wait_for(Duration::from_secs(20), |s| {
            s.iter().filter(|s| s.kind == KIND_SERVER).count() >= 2
                && s.iter().any(|s| s.kind == KIND_CLIENT)
                && s.iter().any(|s| s.name == "embeddings batch")
        })
        .await;
    let batch = spans
        .iter()
        .find(|s| s.name == "embeddings batch")
        .unwrap_or_else(|| panic!("no batch span: {spans:#?}"));
    // The batch span links to each request's span, in each client's trace.
    let mut linked: Vec<&str> = batch.links.iter().map(|l| l.trace_id.as_str()).collect();
    linked.sort_unstable();
    let mut want: Vec<&str> = traces.iter().map(|t| t.0).collect();
    want.sort_unstable();
    assert_eq!(linked, want, "{batch:#?}");
    for l in &batch.links {
        let req = spans
            .iter()
            .find(|s| s.span_id == l.span_id)
            .unwrap_or_else(|| panic!("the linked span {l:?} was not exported"));
        assert_eq!(req.kind, KIND_SERVER);
        assert_eq!(req.trace_id, l.trace_id);
        assert_eq!(req.name, "POST /v1/embeddings");
    }
    assert_eq!(batch.attr("modelrt.batch.requests").as_deref(), Some("2"));
    assert_eq!(
        batch.attr("gen_ai.operation.name").as_deref(),
        Some("embeddings")
    );
    // The one upstream call is the batch span's child, in its trace (none of the clients').
    let upstream: Vec<&Span> = spans.iter().filter(|s| s.kind == KIND_CLIENT).collect();
    assert_eq!(upstream.len(), 1, "{spans:#?}");
    assert_eq!(upstream[0].parent_span_id, batch.span_id);
    assert_eq!(upstream[0].trace_id, batch.trace_id);
    assert!(!want.contains(&batch.trace_id.as_str()));
}
