//! Spans as the receiver decodes them from an `ExportTraceServiceRequest`, and the attribute
//! values both the trace and the metrics side turn into JSON.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::Value;

/// A link from a span to another span (e.g. a batch to the requests it serves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The linked span's trace id, 32 hex digits.
    pub trace_id: String,
    /// The linked span's id, 16 hex digits.
    pub span_id: String,
}

/// One span as the receiver decoded it.
#[derive(Debug, Clone)]
pub struct Span {
    /// `service.name` of the resource that sent it.
    pub service_name: Option<String>,
    /// Trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// Span id, 16 hex digits.
    pub span_id: String,
    /// The parent's span id (empty for a root).
    pub parent_span_id: String,
    /// The span name.
    pub name: String,
    /// `SpanKind` as the proto numbers it (1 internal, 2 server, 3 client).
    pub kind: i32,
    /// Attributes, values as JSON (strings, numbers, booleans, arrays).
    pub attributes: BTreeMap<String, Value>,
    /// The names of the span's events, in order.
    pub events: Vec<String>,
    /// The status code (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// Its links to other spans.
    pub links: Vec<Link>,
}

impl Span {
    /// An attribute as a string (numbers and booleans as their text).
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// `SpanKind::Server` in the proto.
pub const KIND_SERVER: i32 = 2;
/// `SpanKind::Client` in the proto.
pub const KIND_CLIENT: i32 = 3;
fn json(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(f)) => Value::from(*f),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(json).collect()),
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|k| (k.key.clone(), k.value.as_ref().map_or(Value::Null, json)))
                .collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => Value::String(hex(b)),
        _ => Value::Null,
    }
}

pub(crate) fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter()
        .map(|k| (k.key.clone(), k.value.as_ref().map_or(Value::Null, json)))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes one export request into spans.
pub fn decode(body: &[u8]) -> Result<Vec<Span>, prost::DecodeError> {
    let req = ExportTraceServiceRequest::decode(body)?;
    let mut out = Vec::new();
    for rs in req.resource_spans {
        let service_name = rs.resource.as_ref().and_then(|r| {
            attributes(&r.attributes)
                .get("service.name")
                .and_then(|v| v.as_str().map(str::to_owned))
        });
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push(Span {
                    service_name: service_name.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    name: s.name.clone(),
                    kind: s.kind,
                    attributes: attributes(&s.attributes),
                    events: s.events.iter().map(|e| e.name.clone()).collect(),
                    status_code: s.status.as_ref().map_or(0, |st| st.code),
                    links: s
                        .links
                        .iter()
                        .map(|l| Link {
                            trace_id: hex(&l.trace_id),
                            span_id: hex(&l.span_id),
                        })
                        .collect(),
                });
            }
        }
    }
    Ok(out)
}
