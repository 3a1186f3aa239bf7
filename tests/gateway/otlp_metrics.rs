//! End-to-end: the `/metrics` families over OTLP, from the real `modelrt` binary to a real
//! OTLP receiver (`runtime_testkit::otlp`, HTTP/protobuf and gRPC): the request counter is
//! the number of requests, `gen_ai.client.token.usage` holds the usage, request and attempt
//! figures stay apart, every value equals what `/metrics` shows at the same moment, the last
//! values go out at shutdown, and a collector that is down costs the requests nothing and
//! is counted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use runtime_testkit::otlp::{Batch, Metric, MetricKind, OtlpReceiver};
use runtime_testkit::prom;
use serde_json::Value;

/// One provider `mock` and a logical model `fast` on it; no response cache (every request
/// reaches the upstream); metrics exported to `collector` with `settings`.
fn config(upstream: &str, collector: &str, settings: &str) -> String {
    let telemetry = telemetry(collector, &format!("metrics = true\n{settings}"));
    mock_config(
        upstream,
        &format!(
            r#"
[[models]]
name = "fast"

[[models.deployments]]
provider = "mock"
model = "gpt-4o-mini"
name = "mock-mini"

[cache]
enabled = false

{telemetry}
"#
        ),
    )
}

/// The gateway over an OpenAI upstream, exporting metrics to `collector` with `settings`.
async fn gw_exporting_to(collector: &str, settings: &str) -> Gw {
    let (_up, gw) = gw_over_openai(|up| config(up, collector, settings)).await;
    gw
}

/// Waits for a metrics export that counts `n` requests; the batches received until then.
async fn exported_requests(rx: &OtlpReceiver, n: f64) -> Vec<Batch> {
    rx.wait_for_metrics(Duration::from_secs(20), |b| {
        b.last().is_some_and(|b| requests(b) == n)
    })
    .await
}

fn metric<'a>(batch: &'a Batch, name: &str) -> &'a Metric {
    batch
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("no metric {name} in {:#?}", names(batch)))
}

fn names(batch: &Batch) -> Vec<&str> {
    batch.iter().map(|m| m.name.as_str()).collect()
}

/// The documented mapping (docs/observability.md, "Metrics over OTLP").
fn otel_name(prom: &str, kind: &str) -> String {
    let semconv = [
        (
            "gen_ai_client_operation_duration_seconds",
            "gen_ai.client.operation.duration",
        ),
        ("gen_ai_client_token_usage", "gen_ai.client.token.usage"),
        (
            "gen_ai_server_time_to_first_token_seconds",
            "gen_ai.server.time_to_first_token",
        ),
        (
            "gen_ai_server_time_per_output_token_seconds",
            "gen_ai.server.time_per_output_token",
        ),
        (
            "modelrt_http_request_duration_seconds",
            "http.server.request.duration",
        ),
        (
            "modelrt_http_requests_in_flight",
            "http.server.active_requests",
        ),
    ];
    if let Some((_, o)) = semconv.iter().find(|(p, _)| *p == prom) {
        return (*o).to_owned();
    }
    match kind {
        "counter" => prom.strip_suffix("_total").unwrap_or(prom).to_owned(),
        _ => prom.to_owned(),
    }
}

fn attribute(label: &str) -> String {
    match label.strip_prefix("gen_ai_") {
        Some(rest) => format!("gen_ai.{}", rest.replace('_', ".")),
        None if label == "error_type" => "error.type".into(),
        None => label.to_owned(),
    }
}

fn attrs_of(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| *k != "le")
        .map(|(k, v)| (attribute(k), v.clone()))
        .collect()
}

fn text_attrs(p: &runtime_testkit::otlp::Point) -> BTreeMap<String, String> {
    p.attributes
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Every series of the GenAI request and attempt families and the router's attempts, as
/// `/metrics` shows it, is in `batch` under its OTel name with the same value (counters),
/// or the same count, sum and buckets (histograms).
fn assert_same_values(expo: &prom::Exposition, batch: &Batch) {
    let mut compared = 0;
    for (name, fam) in &expo.families {
        let stable = name.starts_with("gen_ai_")
            || name.starts_with("modelrt_attempt")
            || name.starts_with("modelrt_tokens")
            || name == "modelrt_router_attempts_total";
        if !stable || fam.samples.is_empty() {
            continue;
        }
        let m = metric(batch, &otel_name(name, &fam.kind));
        assert_eq!(m.description, fam.help, "{name}");
        match fam.kind.as_str() {
            "counter" => {
                assert_eq!(
                    m.kind,
                    MetricKind::Sum {
                        monotonic: true,
                        temporality: 2
                    },
                    "{name}"
                );
                for s in &fam.samples {
                    let want = attrs_of(&s.labels);
                    let p = m
                        .points
                        .iter()
                        .find(|p| text_attrs(p) == want)
                        .unwrap_or_else(|| panic!("{name} {want:?} not in {m:#?}"));
                    assert_eq!(p.value, s.value, "{name} {want:?}");
                    compared += 1;
                }
            }
            "histogram" => {
                assert_eq!(m.kind, MetricKind::Histogram { temporality: 2 }, "{name}");
                for s in fam.samples.iter().filter(|s| s.name.ends_with("_count")) {
                    let want = attrs_of(&s.labels);
                    let p = m
                        .points
                        .iter()
                        .find(|p| text_attrs(p) == want)
                        .unwrap_or_else(|| panic!("{name} {want:?} not in {m:#?}"));
                    assert_eq!(p.count as f64, s.value, "{name} {want:?}");
                    let sum_name = format!("{name}_sum");
                    let sum = fam
                        .samples
                        .iter()
                        .find(|x| x.name == sum_name && attrs_of(&x.labels) == want)
                        .unwrap();
                    assert_eq!(p.sum, sum.value, "{name} {want:?}");
                    // Buckets: the cumulative `_bucket` series at each bound.
                    let mut cum = 0u64;
                    for (bound, n) in p.bounds.iter().zip(&p.buckets) {
                        cum += n;
                        let b = fam
                            .samples
                            .iter()
                            .find(|x| {
                                x.name.ends_with("_bucket")
                                    && attrs_of(&x.labels) == want
                                    && x.labels["le"].parse::<f64>().unwrap() == *bound
                            })
                            .unwrap_or_else(|| panic!("{name} le={bound}"));
                        assert_eq!(cum as f64, b.value, "{name} {want:?} le={bound}");
                    }
                    assert_eq!(p.buckets.iter().sum::<u64>(), p.count, "{name}");
                    compared += 1;
                }
            }
            _ => {}
        }
    }
    assert!(compared >= 10, "only {compared} series compared");
}

async fn chat(gw: &Gw, n: usize) {
    for _ in 0..n {
        let r = client()
            .post(gw.at("/v1/chat/completions"))
            .json(&chat_body("fast"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap();
    }
}

fn requests(b: &Batch) -> f64 {
    b.iter()
        .find(|m| m.name == "gen_ai_client_requests")
        .map_or(0.0, |m| m.total(&[]))
}

#[tokio::test]
async fn the_metrics_families_reach_the_collector_with_the_values_of_the_prometheus_text() {
    let rx = OtlpReceiver::start().await;
    let gw = gw_exporting_to(
        &rx.endpoint(),
        "service_name = \"modelrt-metrics\"\nmetrics_interval_secs = 1",
    )
    .await;
    chat(&gw, 3).await;

    let batches = exported_requests(&rx, 3.0).await;
    let batch = batches.last().expect("a metrics export").clone();
    assert_eq!(requests(&batch), 3.0, "{:#?}", names(&batch));
    // Nothing but this scrape happens now: the GenAI figures of /metrics are those exported.
    let (_, expo) = scrape(&gw).await;
    assert_same_values(&expo, &batch);

    assert!(
        batch
            .iter()
            .all(|m| m.service_name.as_deref() == Some("modelrt-metrics"))
    );
    // The request counter is the number of requests; tokens per request as a histogram.
    let usage = metric(&batch, "gen_ai.client.token.usage");
    assert_eq!(usage.unit, "{token}");
    assert_eq!(usage.kind, MetricKind::Histogram { temporality: 2 });
    let input: Vec<_> = usage
        .points
        .iter()
        .filter(|p| p.has(&[("gen_ai.token.type", "input")]))
        .collect();
    assert_eq!(input.iter().map(|p| p.count).sum::<u64>(), 3);
    assert_eq!(input.iter().map(|p| p.sum).sum::<f64>(), 27.0);
    assert_eq!(
        usage.total(&[("gen_ai.token.type", "output")]),
        3.0,
        "{usage:#?}"
    );
    let output_sum: f64 = usage
        .points
        .iter()
        .filter(|p| p.has(&[("gen_ai.token.type", "output")]))
        .map(|p| p.sum)
        .sum();
    assert_eq!(output_sum, 9.0);
    assert!(
        input[0].has(&[
            ("gen_ai.request.model", "fast"),
            ("gen_ai.provider.name", "mock")
        ]),
        "{input:#?}"
    );
    let duration = metric(&batch, "gen_ai.client.operation.duration");
    assert_eq!((duration.unit.as_str(), duration.total(&[])), ("s", 3.0));
    // Request and attempt scopes are separate metrics.
    assert_eq!(metric(&batch, "modelrt_attempts").total(&[]), 3.0);
    assert_eq!(
        metric(&batch, "modelrt_attempt_duration_seconds").total(&[]),
        3.0
    );
    assert!(
        metric(&batch, "modelrt_attempts")
            .points
            .iter()
            .all(|p| !p.attributes.contains_key("gen_ai.request.model")
                || p.has(&[("gen_ai.request.model", "gpt-4o-mini")])),
    );
    // HTTP server metrics by route and status, with the HTTP conventions' names.
    let http = metric(&batch, "http.server.request.duration");
    assert_eq!(
        http.total(&[
            ("http.route", "/v1/chat/completions"),
            ("http.response.status_code", "200"),
            ("http.request.method", "POST")
        ]),
        3.0,
        "{http:#?}"
    );
    assert_eq!(
        metric(&batch, "http.server.active_requests").kind,
        MetricKind::Sum {
            monotonic: false,
            temporality: 2
        }
    );
    assert_eq!(metric(&batch, "modelrt_router_attempts").total(&[]), 3.0);
    // Every family of /metrics is exported, with its HELP as the description.
    for (name, fam) in &expo.families {
        if fam.samples.is_empty() || name.starts_with("modelrt_otel_metric") {
            continue;
        }
        let m = metric(&batch, &otel_name(name, &fam.kind));
        assert_eq!(m.description, fam.help, "{name}");
    }
    // And the exporter counts its own work.
    assert!(expo.sum("modelrt_otel_metric_exports_total", &[]) >= 1.0);
    assert_eq!(
        expo.sum("modelrt_otel_metric_export_errors_total", &[]),
        0.0
    );
}

#[tokio::test]
async fn the_last_values_are_exported_at_shutdown() {
    let rx = OtlpReceiver::start().await;
    // An hour between exports: only the one at shutdown can arrive.
    let mut gw = gw_exporting_to(&rx.endpoint(), "metrics_interval_secs = 3600").await;
    chat(&gw, 2).await;
    assert!(rx.metric_batches().is_empty());
    gw.sigterm();
    let status = tokio::time::timeout(Duration::from_secs(30), gw.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{}", gw.logs());
    let batches = rx.metric_batches();
    assert_eq!(batches.len(), 1, "{}", gw.logs());
    assert_eq!(requests(&batches[0]), 2.0);
}

#[tokio::test]
async fn metrics_go_over_grpc_too() {
    let rx = OtlpReceiver::start_grpc().await;
    let gw = gw_exporting_to(
        &rx.endpoint(),
        "protocol = \"grpc\"\nmetrics_interval_secs = 1",
    )
    .await;
    chat(&gw, 2).await;
    let batches = exported_requests(&rx, 2.0).await;
    let batch = batches.last().expect("a metrics export over gRPC");
    assert_eq!(requests(batch), 2.0, "{}", gw.logs());
    assert_eq!(
        metric(batch, "gen_ai.client.token.usage").total(&[("gen_ai.token.type", "input")]),
        2.0
    );
}

#[tokio::test]
async fn with_the_collector_down_requests_are_unaffected_and_export_errors_are_counted() {
    let gw = gw_exporting_to(&collector_down(), "metrics_interval_secs = 1").await;
    let started = std::time::Instant::now();
    chat(&gw, 3).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let errors = |e: &prom::Exposition| e.sum("modelrt_otel_metric_export_errors_total", &[]);
    let (_, expo) = scrape_until(&gw, Duration::from_secs(10), |e| errors(e) >= 2.0).await;
    // The counter only goes up: none at the end is none ever.
    assert_eq!(expo.sum("modelrt_otel_metric_exports_total", &[]), 0.0);
    let errors = errors(&expo);
    assert!(errors >= 2.0, "export errors: {errors}; {}", gw.logs());
    assert!(
        gw.logs().contains("OTLP metrics export failed"),
        "{}",
        gw.logs()
    );
    chat(&gw, 1).await;
}
