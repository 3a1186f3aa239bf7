//! The HTTP server: routes, request decoding, the stack call, response encoding, shutdown.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use model_runtime::error::excerpt;
use model_runtime::{ChatRequest, CompletionRequest, EmbeddingRequest, EncodingFormat, ModelInfo};

use crate::auth::Principal;
use crate::call::ChatCall;
use crate::encode::{self, ChunkEncoder, ChunkKind};
use crate::error::ApiError;
use crate::govern;
pub use crate::http::parse_json;
use crate::http::{
    X_REQUEST_ID, json_ok, json_with_meta, read_body, request_id, require, shutting_down,
};
use crate::sse::sse_response;
pub use crate::state::{Gateway, RequestId};

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
    let mut resp = Response::new(Body::from(gw.metrics_text().await));
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
