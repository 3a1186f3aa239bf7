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

use http::HeaderMap;

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
