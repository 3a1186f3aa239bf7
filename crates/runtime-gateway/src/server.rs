//! The HTTP server: routes, request decoding, the stack call, response encoding, shutdown.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use futures::StreamExt;
use model_runtime::error::excerpt;
use model_runtime::{
    ChatRequest, Client, CompletionRequest, EmbeddingRequest, EncodingFormat, ModelInfo,
    RequestContext, ResponseMeta, Runtime,
};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Auth, Principal};
use crate::call::ChatCall;
use crate::config::GatewayConfig;
use crate::encode::{self, ChunkEncoder, ChunkKind};
use crate::error::ApiError;
use crate::govern;
use crate::listener::{BodyTimeout, Connections};
use crate::sse::sse_response;

/// The request id of the request being served (the client's `x-request-id` or a new one).
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
static X_PROVIDER: HeaderName = HeaderName::from_static("x-modelrt-provider");
static X_DEPLOYMENT: HeaderName = HeaderName::from_static("x-modelrt-deployment");
static X_ATTEMPTS: HeaderName = HeaderName::from_static("x-modelrt-attempts");
static X_DROPPED_PARAMS: HeaderName = HeaderName::from_static("x-modelrt-dropped-params");
static X_CACHE: HeaderName = HeaderName::from_static("x-modelrt-cache");

/// Everything a request handler needs, shared behind one `Arc` (never cloned per request).
pub struct Gateway {
    runtime: Runtime,
    pub(crate) provider: Client,
    config: GatewayConfig,
    auth: Auth,
    logical: Vec<String>,
    /// The client connections (limits, counters, drain state).
    conns: Arc<Connections>,
    /// In-flight requests and streams (the drain waits for them).
    pub(crate) tracker: TaskTracker,
    /// Cancelled when the drain deadline passes: what still runs ends.
    pub(crate) hard_stop: CancellationToken,
    /// True once `hard_stop` is cancelled (a cheap check for the streaming hot path).
    pub(crate) stopping: Arc<AtomicBool>,
    /// Database keys, teams and budgets (`[gateway.governance]`), set once at start.
    governor: std::sync::OnceLock<Arc<crate::govern::Governor>>,
    /// HTTP metrics and the access log (`observe`).
    observe: Arc<crate::observe::HttpMetrics>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway serving `runtime`'s stack with these settings.
    pub fn new(runtime: Runtime, config: GatewayConfig) -> Arc<Self> {
        // Key limits share the runtime's Redis handle (one connection with the router and the
        // cache when they use the same Redis); nothing connects here.
        let redis = config.redis.as_ref().and_then(|r| {
            runtime
                .redis_handle(&r.config, "gateway")
                .map_err(|e| tracing::warn!(error = %e, "gateway Redis unusable; key limits count per process"))
                .ok()
        });
        Arc::new(Self {
            provider: runtime.client(),
            auth: Auth::new(&config, redis),
            logical: runtime.logical_models(),
            conns: Connections::new(config.connections),
            runtime,
            config,
            tracker: TaskTracker::new(),
            hard_stop: CancellationToken::new(),
            stopping: Arc::new(AtomicBool::new(false)),
            governor: std::sync::OnceLock::new(),
            observe: Arc::default(),
        })
    }

    /// Turns governance on: database keys are accepted from now on.
    pub fn set_governor(&self, g: Arc<crate::govern::Governor>) {
        self.auth.set_governance(g.gov.clone());
        let _ = self.governor.set(g);
    }

    /// Governance, when on.
    pub fn governor(&self) -> Option<&Arc<crate::govern::Governor>> {
        self.governor.get()
    }

    /// The key checks (master, TOML and database keys).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The settings.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The client connections: counters, the cap in force, whether draining.
    pub fn connections(&self) -> &Arc<Connections> {
        &self.conns
    }

    /// The stack every call goes through (dispatcher, router, cache, metrics).
    pub(crate) fn stack(&self) -> &Client {
        &self.provider
    }

    /// The per-request context of a call (see `context`).
    pub(crate) fn request_context(
        &self,
        id: &RequestId,
        who: &Principal,
        headers: &HeaderMap,
    ) -> RequestContext {
        self.context(id, who, headers)
    }

    pub(crate) fn context(
        &self,
        id: &RequestId,
        who: &Principal,
        headers: &HeaderMap,
    ) -> RequestContext {
        let mut ctx = RequestContext::with_id(&*id.0).with_timeout(self.config.request_timeout);
        ctx.key_id.clone_from(&who.key_id);
        ctx.cache = cache_control(headers);
        crate::observe::attach(&mut ctx);
        ctx
    }
}

fn cache_control(headers: &HeaderMap) -> model_runtime::CacheControl {
    model_runtime::cache::cache_control_from_headers(headers)
}

/// The axum router of the gateway.
pub fn router(gw: Arc<Gateway>) -> Router {
    let v1 = Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/rerank", post(crate::routes::rerank::rerank))
        .route("/v2/rerank", post(crate::routes::rerank::rerank))
        .route("/rerank", post(crate::routes::rerank::rerank))
        .route("/v1/models", get(models))
        .route("/v1/models/{*id}", get(model))
        .route("/v1/usage", get(usage))
        .merge(crate::responses::routes(&gw))
        .route_layer(from_fn_with_state(gw.clone(), authenticate));
    let app = Router::new()
        .merge(v1)
        .merge(crate::admin::routes(gw.clone()))
        .merge(crate::routes::messages::routes(gw.clone()))
        .nest_service("/ui", crate::ui::service(gw.clone()))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(gw.clone(), per_request));
    crate::unprefixed::with_unprefixed_routes(app.with_state(gw))
}

fn valid_request_id(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())).then_some(s)
}

/// The request id of a request: the client's valid `x-request-id`, or a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> Arc<str> {
    match headers.get(&X_REQUEST_ID).and_then(valid_request_id) {
        Some(s) => Arc::from(s),
        None => Arc::from(model_runtime::new_request_id()),
    }
}

/// Request id in and out, in-flight tracking for shutdown, HTTP metrics and the access log
/// line (`observe`).
async fn per_request(State(gw): State<Arc<Gateway>>, mut req: Request, next: Next) -> Response {
    let id = request_id(req.headers());
    req.extensions_mut().insert(RequestId(id.clone()));
    let _inflight = gw.tracker.token();
    // The request's trace span (none when traces are off), open until its body has ended.
    let span = crate::otel::request_span(&req, &id);
    let obs = crate::observe::Observed::start(&gw.observe, &req, id.clone(), span.clone());
    let path = req.uri().path().to_owned();
    let rid = id.clone();
    let mut resp = tracing::Instrument::instrument(
        obs.scope(async move {
            tokio::select! {
                resp = next.run(req) => resp,
                () = gw.hard_stop.cancelled() => {
                    crate::routes::error_for_path(&path, shutting_down(), &rid)
                }
            }
        }),
        span,
    )
    .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    obs.finish(resp)
}

/// `503 shutting_down`: the gateway is draining or stopping.
pub(crate) fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "api_error",
        "the gateway is shutting down",
    )
    .with_code("shutting_down")
}

async fn authenticate(State(gw): State<Arc<Gateway>>, mut req: Request, next: Next) -> Response {
    match gw.auth.authenticate(req.headers()).await {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// The request id `per_request` gave `req`.
fn rid_of(req: &Request) -> Arc<str> {
    req.extensions()
        .get::<RequestId>()
        .map_or_else(|| request_id(req.headers()), |r| r.0.clone())
}

async fn not_found(req: Request) -> Response {
    let e = ApiError::not_found(format!(
        "unknown route {} {}",
        req.method(),
        excerpt(req.uri().path())
    ));
    crate::routes::error_for_path(req.uri().path(), e, &rid_of(&req))
}

async fn method_not_allowed(req: Request) -> Response {
    let e = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        format!(
            "method {} is not allowed on {}",
            req.method(),
            excerpt(req.uri().path())
        ),
    )
    .with_code("method_not_allowed");
    crate::routes::error_for_path(req.uri().path(), e, &rid_of(&req))
}

async fn health() -> Response {
    json_ok(br#"{"status":"ok"}"#.to_vec())
}

/// Readiness: providers configured, every logical model has a usable deployment, stores
/// reachable (or degraded for less than `ready_grace`). 503 when a check fails, and while
/// draining for shutdown (`{"status":"draining"}`, so a load balancer stops sending).
async fn ready(State(gw): State<Arc<Gateway>>) -> Response {
    if gw.conns.draining() {
        let mut resp = json_ok(br#"{"status":"draining"}"#.to_vec());
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        return resp;
    }
    let checks = gw.runtime.ready_with(gw.config.ready_grace).await;
    let all_ok = checks.iter().all(|c| c.ok);
    let body = serde_json::json!({
        "status": if all_ok { "ready" } else { "not_ready" },
        "checks": checks
            .iter()
            .map(|c| serde_json::json!({"name": c.name, "ok": c.ok, "degraded": c.degraded, "detail": c.detail}))
            .collect::<Vec<_>>(),
    });
    let mut resp = json_ok(serde_json::to_vec(&body).unwrap_or_default());
    if !all_ok {
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    resp
}

/// Prometheus text exposition.
async fn metrics(State(gw): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    if gw.config.metrics_require_auth {
        match gw.auth.identify(&headers) {
            Ok(p) if p.admin => {}
            Ok(_) => return admin_only().into_response(),
            Err(e) => return e.into_response(),
        }
    }
    let mut text = gw.runtime.render_metrics().await;
    gw.conns.render_metrics(&mut text);
    gw.observe.render(&mut text);
    crate::otel::render(&mut text);
    let mut resp = Response::new(Body::from(text));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

fn admin_only() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "permission_error",
        "this endpoint needs the master key",
    )
    .with_code("admin_only")
}

/// The query of `GET /v1/usage`.
#[derive(Debug, serde::Deserialize)]
struct UsageQuery {
    since: Option<String>,
    from: Option<String>,
    to: Option<String>,
    group_by: Option<String>,
}

/// Cost and tokens over a time range, grouped (master key only).
async fn usage(
    State(gw): State<Arc<Gateway>>,
    Extension(who): Extension<Principal>,
    query: Result<axum::extract::Query<UsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    if !who.admin {
        return Err(admin_only());
    }
    let axum::extract::Query(q) =
        query.map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let (from, to) = crate::timeq::range(q.since.as_deref(), q.from.as_deref(), q.to.as_deref())
        .map_err(|e| ApiError::bad_request(e).with_param("since"))?;
    let groups = crate::usage::parse_groups(q.group_by.as_deref().unwrap_or("model"))
        .map_err(|e| ApiError::bad_request(e).with_param("group_by"))?;
    let rows = gw
        .runtime
        .usage_summary(from, to, &groups)
        .await
        .map_err(|e| match e {
            model_runtime::metrics::StoreError::Disabled => ApiError::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                e.to_string(),
            )
            .with_code("usage_disabled"),
            other => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "api_error",
                other.to_string(),
            )
            .with_code("usage_store_unavailable"),
        })?;
    let body = crate::usage::summary_json(&rows, &groups, from, to);
    Ok(json_ok(serde_json::to_vec(&body).unwrap_or_default()))
}

/// Reads the body up to `limit` bytes.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("request body is larger than the limit of {limit} bytes"),
        )
        .with_code("request_too_large")
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(declared.map_or(1024, |n| n as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(body_read_error)?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// `408` when the client stopped sending the body (`body_timeout`; the connection closes
/// after it), else `400`.
fn body_read_error(e: axum::Error) -> ApiError {
    match BodyTimeout::find(&e) {
        Some(t) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            t.to_string(),
        )
        .with_code("request_timeout"),
        None => ApiError::bad_request(format!("could not read the request body: {e}")),
    }
}

/// Decodes a JSON body; errors name the offending field as `param`.
///
/// A valid body is decoded once, by plain `serde_json`; only a body that fails is decoded a
/// second time with path tracking, to name the field (tracking every key of every request
/// cost about 3 % of the gateway's CPU per request).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; expected a JSON object",
        ));
    }
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(_) => Err(parse_json_error::<T>(bytes)),
    }
}

/// The error of a body that does not decode, with the path of the offending field.
fn parse_json_error<T: DeserializeOwned>(bytes: &[u8]) -> ApiError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match result {
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let mut err = if inner.is_data() {
                ApiError::bad_request(format!("invalid request: {inner}"))
            } else {
                ApiError::bad_request(format!("invalid JSON body: {inner}"))
                    .with_code("invalid_json")
            };
            if inner.is_data() && !path.is_empty() && path != "." {
                err = err.with_param(excerpt(&path));
            }
            err
        }
        // The value decoded, so what failed is what follows it.
        Ok(_) => match de.end() {
            Err(e) => {
                ApiError::bad_request(format!("invalid JSON body: {e}")).with_code("invalid_json")
            }
            Ok(()) => ApiError::bad_request("invalid JSON body").with_code("invalid_json"),
        },
    }
}

pub(crate) fn require(value: &str, param: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        Err(ApiError::bad_request(format!("`{param}` is required")).with_param(param))
    } else {
        Ok(())
    }
}

pub(crate) fn json_ok(body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn meta_headers(h: &mut HeaderMap, meta: &ResponseMeta) {
    let mut set = |name: &HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name.clone(), v);
        }
    };
    if let Some(p) = &meta.provider {
        set(&X_PROVIDER, p);
    }
    if let Some(d) = &meta.deployment {
        set(&X_DEPLOYMENT, d);
    }
    set(&X_ATTEMPTS, &meta.attempts.unwrap_or(1).to_string());
    // Request fields the provider could not send upstream (e.g. Anthropic's `top_k` to OpenAI).
    if let Some(serde_json::Value::Array(names)) = meta.annotations.get("dropped_params") {
        let names: Vec<&str> = names.iter().filter_map(serde_json::Value::as_str).collect();
        if !names.is_empty() {
            set(&X_DROPPED_PARAMS, &names.join(", "));
        }
    }
    set(
        &X_CACHE,
        if meta.cache_hit == Some(true) {
            "hit"
        } else {
            "miss"
        },
    );
}

pub(crate) fn json_with_meta(body: Vec<u8>, meta: &ResponseMeta) -> Response {
    let mut resp = json_ok(body);
    meta_headers(resp.headers_mut(), meta);
    resp
}

async fn chat(
    State(gw): State<Arc<Gateway>>,
    Extension(id): Extension<RequestId>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, &headers, gw.config.max_body_bytes).await?;
    let mut req: ChatRequest = parse_json(&bytes)?;
    require(&req.model, "model")?;
    if req.messages.is_empty() {
        return Err(ApiError::bad_request("`messages` must not be empty").with_param("messages"));
    }
    let call = ChatCall::admit(&gw, &id, &who, &headers, &mut req, bytes.len()).await?;
    let fallback_id = format!("chatcmpl-{}", id.0);
    if req.stream == Some(true) {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let enc = ChunkEncoder::new(
            ChunkKind::Chat,
            fallback_id,
            req.model.clone(),
            include_usage,
        );
        call.stream(&gw, &req, enc).await
    } else {
        let result = call.chat(&gw, &req).await.map(|resp| {
            json_with_meta(
                encode::chat_completion(&resp, &fallback_id, &req.model),
                &resp.meta,
            )
        });
        call.answer(result).await
    }
}

async fn completions(
    State(gw): State<Arc<Gateway>>,
    Extension(id): Extension<RequestId>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, &headers, gw.config.max_body_bytes).await?;
    let mut req: CompletionRequest = parse_json(&bytes)?;
    require(&req.model, "model")?;
    crate::otel::record_operation("text_completion", &req.model);
    who.check_model(&req.model)?;
    let mut ctx = gw.context(&id, &who, &headers);
    let user = req.user.clone();
    let ask = govern::Ask {
        model: &mut req.model,
        max_tokens: Some(&mut req.max_tokens),
        user: user.as_deref(),
        body_len: bytes.len(),
    };
    let adm = govern::admit(
        gw.governor().map(|g| &**g),
        &gw.runtime,
        &who,
        &headers,
        ask,
        &mut ctx,
    )
    .await?;
    if let Err(e) = crate::fit::check(&gw.runtime, &who, &req.model, crate::fit::Want::Chat) {
        return govern::answer(adm, Err(e)).await;
    }
    let fallback_id = format!("cmpl-{}", id.0);
    if req.stream == Some(true) {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let stream = match gw.provider.complete_stream(&req, &ctx).await {
            Ok(s) => s,
            Err(e) => return govern::answer(adm, Err(ApiError::from_call(e, &ctx))).await,
        };
        let limits = adm.headers();
        let stream = govern::hold(stream, adm);
        let enc = ChunkEncoder::new(ChunkKind::Completion, fallback_id, req.model, include_usage);
        let mut resp = sse_response(&gw, stream, enc, ctx.cancel).await?;
        govern::add_headers(resp.headers_mut(), limits);
        Ok(resp)
    } else {
        let result = gw
            .provider
            .complete(&req, &ctx)
            .await
            .map_err(|e| ApiError::from_call(e, &ctx))
            .map(|resp| {
                json_with_meta(
                    encode::text_completion(&resp, &fallback_id, &req.model),
                    &resp.meta,
                )
            });
        govern::answer(adm, result).await
    }
}

async fn embeddings(
    State(gw): State<Arc<Gateway>>,
    Extension(id): Extension<RequestId>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, &headers, gw.config.max_body_bytes).await?;
    let mut req: EmbeddingRequest = parse_json(&bytes)?;
    require(&req.model, "model")?;
    crate::otel::record_operation("embeddings", &req.model);
    crate::fit::check_input(&req)?;
    who.check_model(&req.model)?;
    let mut ctx = gw.context(&id, &who, &headers);
    let user = req.user.clone();
    let ask = govern::Ask {
        model: &mut req.model,
        max_tokens: None,
        user: user.as_deref(),
        body_len: bytes.len(),
    };
    let adm = govern::admit(
        gw.governor().map(|g| &**g),
        &gw.runtime,
        &who,
        &headers,
        ask,
        &mut ctx,
    )
    .await?;
    if let Err(e) = crate::fit::check(&gw.runtime, &who, &req.model, crate::fit::Want::Embedding) {
        return govern::answer(adm, Err(e)).await;
    }
    let format = req.encoding_format.unwrap_or(EncodingFormat::Float);
    let result = gw
        .provider
        .embed(&req, &ctx)
        .await
        .map_err(|e| ApiError::from_call(e, &ctx))
        .map(|resp| json_with_meta(encode::embeddings(&resp, format, &req.model), &resp.meta));
    govern::answer(adm, result).await
}

async fn visible_models(
    gw: &Gateway,
    id: &RequestId,
    who: &Principal,
    headers: &HeaderMap,
) -> Result<Vec<ModelInfo>, ApiError> {
    let ctx = gw.context(id, who, headers);
    let mut models = gw.provider.list_models(&ctx).await.map_err(|f| f.error)?;
    // Every logical model is listed, even when its router reports none of its deployments.
    let mut logical: Vec<ModelInfo> = gw
        .logical
        .iter()
        .filter(|name| !models.iter().any(|m| &m.id == *name))
        .map(|name| ModelInfo {
            id: name.clone(),
            provider: "router".into(),
            owned_by: Some("model-runtime".into()),
            ..ModelInfo::default()
        })
        .collect();
    logical.append(&mut models);
    logical.retain(|m| who.allows(&m.id));
    Ok(logical)
}

async fn models(
    State(gw): State<Arc<Gateway>>,
    Extension(id): Extension<RequestId>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let models = visible_models(&gw, &id, &who, &headers).await?;
    Ok(json_ok(encode::model_list(&models)))
}

async fn model(
    State(gw): State<Arc<Gateway>>,
    Extension(id): Extension<RequestId>,
    Extension(who): Extension<Principal>,
    Path(model_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let models = visible_models(&gw, &id, &who, &headers).await?;
    match models.iter().find(|m| m.id == model_id) {
        Some(m) => Ok(json_ok(encode::model(m))),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            format!(
                "model `{}` does not exist or this key may not use it",
                excerpt(&model_id)
            ),
        )
        .with_param("model")
        .with_code("model_not_found")),
    }
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dropped_request_fields_are_named_in_a_header() {
        let mut meta = ResponseMeta::default();
        let mut h = HeaderMap::new();
        meta_headers(&mut h, &meta);
        assert!(!h.contains_key("x-modelrt-dropped-params"));
        meta.annotations.insert(
            "dropped_params".into(),
            serde_json::json!(["thinking", "top_k"]),
        );
        meta_headers(&mut h, &meta);
        assert_eq!(h["x-modelrt-dropped-params"], "thinking, top_k");
    }

    #[test]
    fn a_body_that_stopped_arriving_is_408_other_read_errors_400() {
        let timeout = axum::Error::new(BodyTimeout(Duration::from_secs(1)));
        let e = body_read_error(timeout);
        assert_eq!(e.status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(e.code.as_deref(), Some("request_timeout"));
        let e = body_read_error(axum::Error::new(std::io::Error::other("reset")));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
}
