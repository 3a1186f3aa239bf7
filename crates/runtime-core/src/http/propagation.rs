//! The hook that carries trace context to upstream requests, without an OpenTelemetry
//! dependency here.
//!
//! Every upstream call the shared [`HttpClient`](super::HttpClient) makes runs in a `tracing`
//! span named `upstream` (level `debug`, target `runtime_core::http`; fields after the
//! OpenTelemetry HTTP client and GenAI conventions: `http.request.method`, `server.address`,
//! `server.port`, `gen_ai.provider.name`, `gen_ai.request.model`,
//! `http.response.status_code`, `error.type`). Just before it sends, the client calls the injector installed here with the
//! request's headers while that span is current, so a process that exports traces (the
//! gateway's `otel` feature) can write the W3C `traceparent` of the span into them:
//!
//! ```
//! use runtime_core::http::{HeaderMap, set_header_injector};
//!
//! fn inject(headers: &mut HeaderMap) {
//!     // e.g. the OpenTelemetry propagator writing the current span's context
//!     let _ = headers;
//! }
//! // Installed once per process; a second call is refused (returns false).
//! let _ = set_header_injector(inject);
//! ```

use std::sync::OnceLock;

use http::{HeaderMap, Method};

use super::call::CallInfo;

/// Writes trace-context headers (e.g. `traceparent`) for the current span into an upstream
/// request's headers.
pub type HeaderInjector = fn(&mut HeaderMap);

static INJECTOR: OnceLock<HeaderInjector> = OnceLock::new();

/// Installs the process's injector. Returns false when one was installed already (the first
/// stays).
pub fn set_header_injector(f: HeaderInjector) -> bool {
    INJECTOR.set(f).is_ok()
}

/// Runs the installed injector, if any.
pub(crate) fn inject(headers: &mut HeaderMap) {
    if let Some(f) = INJECTOR.get() {
        f(headers);
    }
}

/// The `upstream` span of one call (see [`set_header_injector`]): open from the send
/// until the answer's body has been read (a stream: until it ends or is dropped). At `debug`,
/// so the default log output (`info`) never builds it; a trace exporter asks for it.
pub(crate) fn upstream_span(call: &CallInfo, method: &Method, url: &reqwest::Url) -> tracing::Span {
    tracing::debug_span!(
        target: "runtime_core::http",
        "upstream",
        otel.name = method.as_str(),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        http.request.method = method.as_str(),
        server.address = url.host_str().unwrap_or_default(),
        server.port = i64::from(url.port_or_known_default().unwrap_or_default()),
        gen_ai.provider.name = &*call.provider,
        gen_ai.request.model = call.model.as_str(),
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}
