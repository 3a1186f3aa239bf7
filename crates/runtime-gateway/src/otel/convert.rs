//! The `/metrics` exposition as OTLP metrics: one source of truth for both.
//!
//! The exporter renders the very text `GET /metrics` answers and turns each family into an
//! OTLP metric: a counter into a monotonic cumulative `Sum`, a gauge into a `Gauge`, a
//! histogram (its cumulative `_bucket` series, `_sum`, `_count`) into a cumulative
//! explicit-bucket `Histogram` with the same bounds. Names and attributes follow the
//! OpenTelemetry conventions where the Prometheus names are their translations
//! ([`otel_name`], [`attribute_name`]; the table is in docs/observability.md).
//!
//! Why the text and not the SDK's instruments: the SDK (0.33) has no way to hand a
//! pre-aggregated histogram to its exporter (no observable histogram, `ResourceMetrics` not
//! constructible, no metric producer), and recording the same measurements twice would give
//! two sources of truth that may disagree.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

/// The OpenTelemetry semantic-convention instruments among the families: Prometheus name,
/// OTel name, unit.
const SEMCONV: &[(&str, &str, &str)] = &[
    (
        "gen_ai_client_operation_duration_seconds",
        "gen_ai.client.operation.duration",
        "s",
    ),
    (
        "gen_ai_client_token_usage",
        "gen_ai.client.token.usage",
        "{token}",
    ),
    (
        "gen_ai_server_time_to_first_token_seconds",
        "gen_ai.server.time_to_first_token",
        "s",
    ),
    (
        "gen_ai_server_time_per_output_token_seconds",
        "gen_ai.server.time_per_output_token",
        "s",
    ),
    (
        "modelrt_http_request_duration_seconds",
        "http.server.request.duration",
        "s",
    ),
    (
        "modelrt_http_requests_in_flight",
        "http.server.active_requests",
        "{request}",
    ),
];

/// The OTLP name and unit of the family `prom` of type `kind`: the semantic-convention name
/// where there is one, else the Prometheus name with a counter's `_total` cut (a Prometheus
/// exporter adds it back, so the names come back as on `/metrics`).
pub fn otel_name<'a>(prom: &'a str, kind: &str) -> (&'a str, &'static str) {
    if let Some((_, otel, unit)) = SEMCONV.iter().find(|(p, _, _)| *p == prom) {
        return (otel, unit);
    }
    let name = match kind {
        "counter" => prom.strip_suffix("_total").unwrap_or(prom),
        _ => prom,
    };
    let unit = if name.ends_with("_seconds") { "s" } else { "" };
    (name, unit)
}

/// The attribute name of the label `label` on the metric `otel` (an OTLP name): `gen_ai_*`
/// labels and `error_type` are the OTel attributes they translate; on the `http.server.*`
/// instruments `route`, `method` and `status` are the HTTP conventions' names.
pub fn attribute_name(otel: &str, label: &str) -> String {
    if let Some(rest) = label.strip_prefix("gen_ai_") {
        return format!("gen_ai.{}", rest.replace('_', "."));
    }
    if label == "error_type" {
        return "error.type".into();
    }
    if otel.starts_with("http.server.") {
        match label {
            "route" => return "http.route".into(),
            "method" => return "http.request.method".into(),
            "status" => return "http.response.status_code".into(),
            _ => {}
        }
    }
    label.to_owned()
}

/// A sample's labels, in order.
pub type Labels = Vec<(String, String)>;

/// One family of the exposition.
#[derive(Debug, Default, PartialEq)]
pub struct Family {
    /// The family name.
    pub name: String,
    /// `counter`, `gauge`, `histogram` (anything else is read as a gauge).
    pub kind: String,
    /// The `# HELP` text.
    pub help: String,
    /// Its samples: name, labels, value.
    pub samples: Vec<(String, Labels, f64)>,
}

/// Parses the Prometheus text exposition (0.0.4) the gateway renders. Lines it cannot read
/// are skipped (the renderer is ours; a test parses it strictly).
pub fn parse(text: &str) -> Vec<Family> {
    let mut out: Vec<Family> = Vec::new();
    let family_of = |out: &mut Vec<Family>, name: &str| -> usize {
        match out.iter().rposition(|f| f.name == name) {
            Some(i) => i,
            None => {
                out.push(Family {
                    name: name.to_owned(),
                    ..Family::default()
                });
                out.len() - 1
            }
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let i = family_of(&mut out, name);
            out[i].help = help.replace("\\n", "\n").replace("\\\\", "\\");
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            let i = family_of(&mut out, name);
            out[i].kind = kind.trim().to_owned();
        } else if line.is_empty() || line.starts_with('#') {
            continue;
        } else if let Some((name, labels, value)) = sample(line) {
            let fam = match out.last() {
                Some(f) if belongs(&name, f) => out.len() - 1,
                _ => family_of(&mut out, &name),
            };
            out[fam].samples.push((name, labels, value));
        }
    }
    out
}

/// Whether the sample `name` is one of `f`'s (a histogram's `_bucket`, `_sum`, `_count`).
fn belongs(name: &str, f: &Family) -> bool {
    name == f.name
        || (f.kind == "histogram"
            && name
                .strip_prefix(f.name.as_str())
                .is_some_and(|s| matches!(s, "_bucket" | "_sum" | "_count")))
}

/// `name{a="x",b="y"} value [timestamp]`.
fn sample(line: &str) -> Option<(String, Labels, f64)> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(mut r) = rest.strip_prefix('{') {
        loop {
            r = r.trim_start_matches([',', ' ']);
            if let Some(after) = r.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = r.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                let (i, c) = chars.next()?;
                match c {
                    '\\' => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        other => value.push(other),
                    },
                    '"' => break i,
                    c => value.push(c),
                }
            };
            labels.push((key.trim().to_owned(), value));
            r = &after[end + 1..];
        }
    }
    let value = rest.split_whitespace().next()?.parse::<f64>().ok()?;
    Some((name.to_owned(), labels, value))
}

fn kv(key: String, value: any_value::Value) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn attributes(otel: &str, labels: &[(String, String)]) -> Vec<KeyValue> {
    labels
        .iter()
        .filter(|(k, _)| k != "le")
        .map(|(k, v)| {
            let key = attribute_name(otel, k);
            let value = match v.parse::<i64>() {
                Ok(n) if key == "http.response.status_code" => any_value::Value::IntValue(n),
                _ => any_value::Value::StringValue(v.clone()),
            };
            kv(key, value)
        })
        .collect()
}

/// The times of the points: since when the values count, and now (Unix nanoseconds).
#[derive(Debug, Clone, Copy)]
pub struct Times {
    /// When counting began (the process's start).
    pub start: u64,
    /// When the values were read.
    pub now: u64,
}

/// The gauges whose OTel instrument is an up-down counter (a non-monotonic `Sum`).
const UP_DOWN: &[&str] = &["http.server.active_requests"];

/// One family as an OTLP metric; `None` for a family without samples.
pub fn metric(f: &Family, t: Times) -> Option<Metric> {
    if f.samples.is_empty() {
        return None;
    }
    let (name, unit) = otel_name(&f.name, &f.kind);
    let number = |labels: &[(String, String)], v: f64| NumberDataPoint {
        attributes: attributes(name, labels),
        start_time_unix_nano: t.start,
        time_unix_nano: t.now,
        value: Some(number_data_point::Value::AsDouble(v)),
        ..NumberDataPoint::default()
    };
    let data = match f.kind.as_str() {
        "counter" => metric::Data::Sum(Sum {
            data_points: f.samples.iter().map(|(_, l, v)| number(l, *v)).collect(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        }),
        "gauge" if UP_DOWN.contains(&name) => metric::Data::Sum(Sum {
            data_points: f.samples.iter().map(|(_, l, v)| number(l, *v)).collect(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: false,
        }),
        "histogram" => metric::Data::Histogram(Histogram {
            data_points: histogram_points(f, name, t),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
        }),
        _ => metric::Data::Gauge(Gauge {
            data_points: f.samples.iter().map(|(_, l, v)| number(l, *v)).collect(),
        }),
    };
    Some(Metric {
        name: name.to_owned(),
        description: f.help.clone(),
        unit: unit.to_owned(),
        data: Some(data),
        ..Metric::default()
    })
}

/// A histogram family's series (grouped by their labels without `le`) as data points:
/// cumulative `_bucket` counts become per-bucket counts over the finite bounds, the `+Inf`
/// bucket the rest of `_count`.
fn histogram_points(f: &Family, otel: &str, t: Times) -> Vec<HistogramDataPoint> {
    #[derive(Default)]
    struct Series {
        buckets: Vec<(f64, f64)>,
        sum: f64,
        count: f64,
    }
    let mut series: BTreeMap<Vec<(String, String)>, Series> = BTreeMap::new();
    let mut order: Vec<Vec<(String, String)>> = Vec::new();
    for (name, labels, v) in &f.samples {
        let key: Vec<(String, String)> =
            labels.iter().filter(|(k, _)| k != "le").cloned().collect();
        if !series.contains_key(&key) {
            order.push(key.clone());
        }
        let s = series.entry(key).or_default();
        match name.strip_prefix(f.name.as_str()) {
            Some("_bucket") => {
                if let Some(le) = labels
                    .iter()
                    .find(|(k, _)| k == "le")
                    .and_then(|(_, le)| le.parse::<f64>().ok())
                {
                    s.buckets.push((le, *v));
                }
            }
            Some("_sum") => s.sum = *v,
            Some("_count") => s.count = *v,
            _ => {}
        }
    }
    order
        .into_iter()
        .filter_map(|key| {
            let mut s = series.remove(&key)?;
            s.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            let count = s.count.max(0.0) as u64;
            let mut bounds = Vec::with_capacity(s.buckets.len());
            let mut counts = Vec::with_capacity(s.buckets.len() + 1);
            let mut below = 0u64;
            for (le, cum) in s.buckets.iter().filter(|(le, _)| le.is_finite()) {
                let cum = (cum.max(0.0) as u64).max(below);
                bounds.push(*le);
                counts.push(cum - below);
                below = cum;
            }
            counts.push(count.saturating_sub(below));
            Some(HistogramDataPoint {
                attributes: attributes(otel, &key),
                start_time_unix_nano: t.start,
                time_unix_nano: t.now,
                count,
                sum: Some(s.sum),
                bucket_counts: counts,
                explicit_bounds: bounds,
                ..HistogramDataPoint::default()
            })
        })
        .collect()
}

/// The whole exposition as one OTLP export request from `service_name`.
pub fn request(text: &str, service_name: &str, t: Times) -> ExportMetricsServiceRequest {
    let metrics: Vec<Metric> = parse(text).iter().filter_map(|f| metric(f, t)).collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name".into(),
                    any_value::Value::StringValue(service_name.to_owned()),
                )],
                ..Resource::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "modelrt".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                metrics,
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP gen_ai_client_requests_total Requests.
# TYPE gen_ai_client_requests_total counter
gen_ai_client_requests_total{gen_ai_provider_name=\"openai\",gen_ai_request_model=\"a \\\"b\\\"\"} 3
# HELP gen_ai_client_token_usage Tokens per request.
# TYPE gen_ai_client_token_usage histogram
gen_ai_client_token_usage_bucket{gen_ai_token_type=\"input\",le=\"1\"} 1
gen_ai_client_token_usage_bucket{gen_ai_token_type=\"input\",le=\"10\"} 3
gen_ai_client_token_usage_bucket{gen_ai_token_type=\"input\",le=\"+Inf\"} 4
gen_ai_client_token_usage_sum{gen_ai_token_type=\"input\"} 120
gen_ai_client_token_usage_count{gen_ai_token_type=\"input\"} 4
# HELP modelrt_http_requests_in_flight In flight.
# TYPE modelrt_http_requests_in_flight gauge
modelrt_http_requests_in_flight 2
# HELP modelrt_http_request_duration_seconds Duration.
# TYPE modelrt_http_request_duration_seconds histogram
modelrt_http_request_duration_seconds_bucket{route=\"/v1/models\",method=\"GET\",status=\"200\",le=\"+Inf\"} 1
modelrt_http_request_duration_seconds_sum{route=\"/v1/models\",method=\"GET\",status=\"200\"} 0.5
modelrt_http_request_duration_seconds_count{route=\"/v1/models\",method=\"GET\",status=\"200\"} 1
# HELP empty_total Nothing yet.
# TYPE empty_total counter
";

    fn attr(kvs: &[KeyValue], key: &str) -> Option<any_value::Value> {
        kvs.iter()
            .find(|k| k.key == key)
            .and_then(|k| k.value.clone()?.value)
    }

    #[test]
    fn families_become_otlp_metrics_with_otel_names() {
        let t = Times { start: 1, now: 2 };
        let req = request(TEXT, "svc", t);
        let sm = &req.resource_metrics[0].scope_metrics[0];
        let names: Vec<&str> = sm.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "gen_ai_client_requests",
                "gen_ai.client.token.usage",
                "http.server.active_requests",
                "http.server.request.duration"
            ]
        );
        let Some(metric::Data::Sum(s)) = &sm.metrics[0].data else {
            panic!("a sum")
        };
        assert!(s.is_monotonic);
        assert_eq!(s.aggregation_temporality, 2);
        let p = &s.data_points[0];
        assert_eq!(p.value, Some(number_data_point::Value::AsDouble(3.0)));
        assert_eq!((p.start_time_unix_nano, p.time_unix_nano), (1, 2));
        assert_eq!(
            attr(&p.attributes, "gen_ai.request.model"),
            Some(any_value::Value::StringValue("a \"b\"".into()))
        );
        assert_eq!(sm.metrics[0].description, "Requests.");

        let usage = &sm.metrics[1];
        assert_eq!(usage.unit, "{token}");
        let Some(metric::Data::Histogram(h)) = &usage.data else {
            panic!("a histogram")
        };
        let p = &h.data_points[0];
        assert_eq!((p.count, p.sum), (4, Some(120.0)));
        assert_eq!(p.explicit_bounds, [1.0, 10.0]);
        assert_eq!(p.bucket_counts, [1, 2, 1]);
        assert_eq!(
            attr(&p.attributes, "gen_ai.token.type"),
            Some(any_value::Value::StringValue("input".into()))
        );
        assert!(attr(&p.attributes, "le").is_none());

        let Some(metric::Data::Histogram(h)) = &sm.metrics[3].data else {
            panic!("a histogram")
        };
        let p = &h.data_points[0];
        assert_eq!((p.bucket_counts.as_slice(), p.count), (&[1u64][..], 1));
        assert_eq!(
            attr(&p.attributes, "http.response.status_code"),
            Some(any_value::Value::IntValue(200))
        );
        assert!(attr(&p.attributes, "http.route").is_some());
        assert_eq!(sm.metrics[3].unit, "s");
        // The in-flight gauge is the HTTP conventions' up-down counter.
        let Some(metric::Data::Sum(active)) = &sm.metrics[2].data else {
            panic!("a non-monotonic sum")
        };
        assert!(!active.is_monotonic);
    }

    #[test]
    fn names_follow_the_otel_conventions_where_there_are_some() {
        assert_eq!(
            otel_name("gen_ai_client_operation_duration_seconds", "histogram"),
            ("gen_ai.client.operation.duration", "s")
        );
        assert_eq!(
            otel_name("modelrt_attempts_total", "counter"),
            ("modelrt_attempts", "")
        );
        assert_eq!(
            otel_name("modelrt_attempt_duration_seconds", "histogram"),
            ("modelrt_attempt_duration_seconds", "s")
        );
        assert_eq!(
            attribute_name("x", "gen_ai_provider_name"),
            "gen_ai.provider.name"
        );
        assert_eq!(attribute_name("x", "error_type"), "error.type");
        assert_eq!(attribute_name("x", "route"), "route");
    }
}
