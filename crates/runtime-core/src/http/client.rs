use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::call::{CallInfo, error_chain};
use super::ndjson::NdjsonStream;
use super::sse::SseStream;
use crate::error::{Error, Result, TimeoutPhase};
use crate::provider::RequestContext;
use crate::secret::Secret;

/// Most bytes of an error body kept for mapping.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A request built by a provider's pure mapping function; [`HttpClient`] sends it.
///
/// `Debug` never shows credential headers (they are marked sensitive).
#[derive(Debug, Clone)]
pub struct HttpRequestSpec {
    /// GET or POST.
    pub method: Method,
    /// The full URL (never with a key in it).
    pub url: String,
    /// Headers, credentials marked sensitive.
    pub headers: HeaderMap,
    /// The serialized JSON body.
    pub body: Option<Bytes>,
    invalid: Option<String>,
}

impl HttpRequestSpec {
    /// A GET.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            url: url.into(),
            headers: HeaderMap::new(),
            body: None,
            invalid: None,
        }
    }

    /// A POST of `body` as JSON.
    pub fn post_json<T: Serialize + ?Sized>(url: impl Into<String>, body: &T) -> Self {
        let mut spec = Self::get(url);
        spec.method = Method::POST;
        match serde_json::to_vec(body) {
            Ok(b) => spec.body = Some(Bytes::from(b)),
            Err(e) => spec.invalid = Some(format!("request body: {e}")),
        }
        spec.headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        spec
    }

    /// Adds a header. The name may be in any case (HTTP/2 sends it lowercased); an invalid
    /// name or value makes the send fail with a config error naming the header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (header_name(name), HeaderValue::from_str(value)) {
            (Ok(n), Ok(v)) => {
                self.headers.insert(n, v);
            }
            (Err(e), _) => self.invalid = Some(e),
            (_, Err(_)) => self.invalid = Some(format!("header `{name}` has an invalid value")),
        }
        self
    }

    /// Adds a credential header, marked sensitive (never shown by `Debug`). The name may be
    /// in any case; an invalid name, or a credential with characters a header cannot carry,
    /// makes the send fail with a config error (which never shows the credential).
    pub fn secret_header(mut self, name: &str, prefix: &str, secret: &Secret) -> Self {
        let name = match header_name(name) {
            Ok(n) => n,
            Err(e) => {
                self.invalid = Some(e);
                return self;
            }
        };
        match HeaderValue::from_str(&format!("{prefix}{}", secret.expose())) {
            Ok(mut v) => {
                v.set_sensitive(true);
                self.headers.insert(name, v);
            }
            Err(_) => {
                self.invalid = Some(format!(
                    "credential for header `{name}` has invalid characters"
                ))
            }
        }
        self
    }

    /// `Authorization: Bearer <secret>`.
    pub fn bearer(self, secret: &Secret) -> Self {
        self.secret_header("authorization", "Bearer ", secret)
    }

    /// The body parsed back as JSON (for snapshots and tests).
    pub fn json_body(&self) -> Option<serde_json::Value> {
        self.body
            .as_ref()
            .and_then(|b| serde_json::from_slice(b).ok())
    }
}

/// A header name of any case (`X-Acme-Key` and `x-acme-key` are the same header).
fn header_name(name: &str) -> std::result::Result<HeaderName, String> {
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))
}

/// Settings of the shared client.
#[derive(Debug, Clone)]
pub struct HttpClientConfig {
    /// Longest wait to open a connection.
    pub connect_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// Most idle connections kept per host.
    pub pool_max_idle_per_host: usize,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            pool_idle_timeout: Duration::from_secs(90),
            pool_max_idle_per_host: 256,
        }
    }
}

/// A boxed stream of body chunks whose errors are already typed.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// The one HTTP client (and connection pool) every provider shares.
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    urls: Arc<UrlCache>,
}

/// Most URLs [`UrlCache`] keeps before it starts over.
const URL_CACHE_MAX: usize = 1024;

/// Parsed upstream URLs by their text. A provider calls a handful of URLs (its base URL and a
/// few paths) over and over, and parsing one (host, IDNA, path) cost about 4 % of the
/// gateway's CPU per request when reqwest did it from the string each time.
#[derive(Debug, Default)]
struct UrlCache(std::sync::RwLock<std::collections::HashMap<String, reqwest::Url>>);

impl UrlCache {
    fn get(&self, text: &str) -> std::result::Result<reqwest::Url, String> {
        if let Some(url) = self.0.read().ok().and_then(|m| m.get(text).cloned()) {
            return Ok(url);
        }
        let url = reqwest::Url::parse(text).map_err(|e| e.to_string())?;
        if let Ok(mut m) = self.0.write() {
            if m.len() >= URL_CACHE_MAX {
                m.clear();
            }
            m.insert(text.to_owned(), url.clone());
        }
        Ok(url)
    }
}

impl HttpClient {
    /// Builds a client: `TCP_NODELAY`, pooled keep-alive connections, a connect timeout.
    pub fn new(config: &HttpClientConfig) -> Result<Self> {
        let inner = reqwest::Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .pool_max_idle_per_host(config.pool_max_idle_per_host)
            .user_agent(concat!("model-runtime/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::InvalidConfig {
                provider: "http".into(),
                field: "client".into(),
                reason: error_chain(&e),
            })?;
        Ok(Self {
            inner,
            urls: Arc::default(),
        })
    }

    /// The process-wide default client, built on first use.
    ///
    /// Its pooled connections belong to the tokio runtime that opened them: a program with
    /// one runtime shares it freely, but tests that each start their own runtime (every
    /// `#[tokio::test]`) build their own client with [`HttpClient::new`], or a later test whose
    /// mock server reuses a port meets "dispatch task is gone".
    pub fn shared() -> Result<Self> {
        static SHARED: OnceLock<std::result::Result<HttpClient, Error>> = OnceLock::new();
        SHARED
            .get_or_init(|| HttpClient::new(&HttpClientConfig::default()))
            .clone()
    }

    /// The underlying reqwest client.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner
    }

    /// Sends `spec` and waits for the response headers. A non-2xx status becomes a typed
    /// error through `call.map_error`.
    pub async fn execute(
        &self,
        call: &CallInfo,
        spec: HttpRequestSpec,
        ctx: &RequestContext,
    ) -> Result<reqwest::Response> {
        self.execute_spanned(call, spec, ctx)
            .await
            .map(|(resp, _)| resp)
    }

    /// [`HttpClient::execute`], also handing back the call's `upstream` span (to keep it open
    /// while the body is read).
    async fn execute_spanned(
        &self,
        call: &CallInfo,
        spec: HttpRequestSpec,
        ctx: &RequestContext,
    ) -> Result<(reqwest::Response, tracing::Span)> {
        let (limit, phase) = limit(call.timeout, ctx, TimeoutPhase::Response);
        with_limits(call, ctx, limit, phase, self.execute_inner(call, spec)).await
    }

    async fn execute_inner(
        &self,
        call: &CallInfo,
        mut spec: HttpRequestSpec,
    ) -> Result<(reqwest::Response, tracing::Span)> {
        if let Some(reason) = spec.invalid {
            return Err(Error::InvalidConfig {
                provider: call.provider.to_string(),
                field: "request".into(),
                reason,
            });
        }
        let url = self.urls.get(&spec.url).map_err(|e| Error::InvalidConfig {
            provider: call.provider.to_string(),
            field: "url".into(),
            reason: format!("`{}` is not a valid URL: {e}", spec.url),
        })?;
        let span = super::propagation::upstream_span(call, &spec.method, &url);
        span.in_scope(|| super::propagation::inject(&mut spec.headers));
        let sent = self
            .send(call, spec, url, &span)
            .instrument(span.clone())
            .await;
        if let Err(e) = &sent {
            span.record("error.type", e.kind());
            span.record("otel.status_code", "ERROR");
        }
        sent.map(|resp| (resp, span))
    }

    async fn send(
        &self,
        call: &CallInfo,
        spec: HttpRequestSpec,
        url: reqwest::Url,
        span: &tracing::Span,
    ) -> Result<reqwest::Response> {
        let mut req = self.inner.request(spec.method, url).headers(spec.headers);
        if let Some(body) = spec.body {
            req = req.body(body);
        }
        let resp = req.send().await.map_err(|e| call.transport_error(&e))?;
        let status = resp.status();
        span.record("http.response.status_code", i64::from(status.as_u16()));
        if status.is_success() {
            return Ok(resp);
        }
        let headers = resp.headers().clone();
        let body = read_limited(resp, MAX_ERROR_BODY).await;
        Err((call.map_error)(
            &call.error_context(),
            status.as_u16(),
            &headers,
            &body,
        ))
    }

    /// Sends `spec` and reads the whole body (bounded by the call's timeout and the deadline).
    pub async fn bytes(
        &self,
        call: &CallInfo,
        spec: HttpRequestSpec,
        ctx: &RequestContext,
    ) -> Result<(Bytes, HeaderMap)> {
        let (limit, phase) = limit(call.timeout, ctx, TimeoutPhase::Response);
        with_limits(call, ctx, limit, phase, async {
            let (resp, span) = self.execute_inner(call, spec).await?;
            let headers = resp.headers().clone();
            let body = resp
                .bytes()
                .instrument(span)
                .await
                .map_err(|e| call.body_error(&e))?;
            Ok((body, headers))
        })
        .await
    }

    /// Sends `spec` and decodes the JSON body.
    pub async fn json<T: DeserializeOwned>(
        &self,
        call: &CallInfo,
        spec: HttpRequestSpec,
        ctx: &RequestContext,
        what: &str,
    ) -> Result<(T, HeaderMap)> {
        let (body, headers) = self.bytes(call, spec, ctx).await?;
        let value = serde_json::from_slice(&body).map_err(|e| call.decode_error(what, e, &body))?;
        Ok((value, headers))
    }

    /// Sends `spec` and returns the body as a stream of chunks, each within `idle_timeout`
    /// of the previous one. Dropping the stream closes the upstream request.
    pub async fn stream(
        &self,
        call: &CallInfo,
        spec: HttpRequestSpec,
        ctx: &RequestContext,
    ) -> Result<(ByteStream, HeaderMap)> {
        let (resp, span) = self.execute_spanned(call, spec, ctx).await?;
        let headers = resp.headers().clone();
        Ok((byte_stream(call, resp, ctx, span), headers))
    }

    /// [`HttpClient::stream`] framed as Server-Sent Events.
    pub async fn sse(
        &self,
        call: &CallInfo,
        spec: HttpRequestSpec,
        ctx: &RequestContext,
    ) -> Result<(SseStream<ByteStream>, HeaderMap)> {
        let (s, h) = self.stream(call, spec, ctx).await?;
        Ok((SseStream::new(s), h))
    }

    /// [`HttpClient::stream`] framed as newline-delimited JSON.
    pub async fn ndjson(
        &self,
        call: &CallInfo,
        spec: HttpRequestSpec,
        ctx: &RequestContext,
    ) -> Result<(NdjsonStream<ByteStream>, HeaderMap)> {
        let (s, h) = self.stream(call, spec, ctx).await?;
        Ok((NdjsonStream::new(s), h))
    }
}

fn limit(timeout: Duration, ctx: &RequestContext, phase: TimeoutPhase) -> (Duration, TimeoutPhase) {
    match ctx.remaining() {
        Some(rem) if rem < timeout => (rem, TimeoutPhase::Deadline),
        _ => (timeout, phase),
    }
}

async fn with_limits<T>(
    call: &CallInfo,
    ctx: &RequestContext,
    limit: Duration,
    phase: TimeoutPhase,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        biased;
        _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
        r = tokio::time::timeout(limit, fut) => r.unwrap_or_else(|_| Err(call.timeout_err(phase, limit))),
    }
}

async fn read_limited(mut resp: reqwest::Response, max: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = max.saturating_sub(out.len());
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= max {
            break;
        }
    }
    out
}

fn byte_stream(
    call: &CallInfo,
    resp: reqwest::Response,
    ctx: &RequestContext,
    span: tracing::Span,
) -> ByteStream {
    Box::pin(BodyStream {
        span,
        body: Box::pin(resp.bytes_stream()),
        call: call.clone(),
        cancel: Box::pin(ctx.cancel.clone().cancelled_owned()),
        deadline: ctx.deadline,
        timer: None,
        armed: None,
        done: false,
    })
}

/// An upstream body as a stream of chunks, each within the idle timeout (or the request's
/// deadline, when that comes first) of the previous one, ended early by cancellation.
///
/// One timer and one cancellation registration serve the whole body: the timer is re-armed
/// (an in-place extension, no timer-wheel work) only when the body runs dry after a chunk,
/// and cancellation is looked at only then too — a chunk that is already there is handed
/// over without touching either. A cancelled request still ends within one chunk.
struct BodyStream {
    /// The call's `upstream` span, closed when the body is dropped.
    span: tracing::Span,
    body: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    call: CallInfo,
    cancel: Pin<Box<tokio_util::sync::WaitForCancellationFutureOwned>>,
    deadline: Option<std::time::Instant>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The current wait and what it is for; `None` after a chunk (the timer must be re-armed).
    armed: Option<(Duration, TimeoutPhase)>,
    done: bool,
}

impl Stream for BodyStream {
    type Item = Result<Bytes>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match this.body.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => {
                this.armed = None;
                return Poll::Ready(Some(Ok(b)));
            }
            Poll::Ready(Some(Err(e))) => {
                this.done = true;
                let e = this.call.body_error(&e);
                this.span.record("error.type", e.kind());
                this.span.record("otel.status_code", "ERROR");
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        if this.cancel.as_mut().poll(cx).is_ready() {
            this.done = true;
            return Poll::Ready(Some(Err(Error::Cancelled)));
        }
        let (wait, phase) = match this.armed {
            Some(armed) => armed,
            None => {
                let armed = match this
                    .deadline
                    .map(|d| d.saturating_duration_since(std::time::Instant::now()))
                {
                    Some(rem) if rem < this.call.idle_timeout => (rem, TimeoutPhase::Deadline),
                    _ => (this.call.idle_timeout, TimeoutPhase::StreamIdle),
                };
                let at = tokio::time::Instant::now() + armed.0;
                match this.timer.as_mut() {
                    Some(t) => t.as_mut().reset(at),
                    None => this.timer = Some(Box::pin(tokio::time::sleep_until(at))),
                }
                this.armed = Some(armed);
                armed
            }
        };
        if let Some(t) = this.timer.as_mut()
            && t.as_mut().poll(cx).is_ready()
        {
            this.done = true;
            return Poll::Ready(Some(Err(this.call.timeout_err(phase, wait))));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests;
