//! The OpenAI Responses API over any provider: `POST /v1/responses` (streamed or not),
//! `GET` and `DELETE /v1/responses/{id}`, each also without the `/v1` prefix.
//!
//! The body is translated by runtime-dialects' `openai_responses` functions into a core chat
//! request and goes the way every chat call goes ([`ChatCall`]: the key's models,
//! governance, the metered and routed stack, usage rows), so a Responses client is metered,
//! budgeted and routed exactly as a chat-completions client. The answer is translated back
//! into a Response object, or into the semantic stream events.
//!
//! With `store` (default true), the response and the conversation it ends are kept in the
//! [`ResponseStore`] under the caller's key: `previous_response_id` continues from it (the
//! stored items are put before the new `input`; `instructions` are not inherited), and only
//! the key that created a response can read or delete it (another key gets 404).

pub mod store;
pub mod stream;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use runtime_dialects::openai_responses::types::{MessageItem, MessageRole, StringOr};
use runtime_dialects::openai_responses::{InputItem, ResponsesStreamEncoder, request, response};
use runtime_dialects::{ErrorInfo, RequestError};
use serde_json::Value;

use crate::auth::Principal;
use crate::call::ChatCall;
use crate::encode::now_unix;
use crate::error::ApiError;
use crate::http::{json_ok, json_with_meta, read_body};
use crate::state::{Gateway, RequestId};
use store::Saver;
pub use store::{ResponseStore, ResponseStoreError, StoreSettings};
use stream::ResponsesSse;

/// The routes, with their store (in the usage database when there is one, else in memory).
pub fn routes(gw: &Arc<Gateway>) -> Router<Arc<Gateway>> {
    let usage = gw.runtime().metering().and_then(|m| m.store()).cloned();
    let store = Arc::new(ResponseStore::new(gw.config().responses, usage));
    tracing::debug!(kind = store.kind(), "responses store");
    Router::new()
        .route("/v1/responses", post(create))
        .route("/responses", post(create))
        .route(
            "/v1/responses/{id}",
            axum::routing::get(retrieve).delete(remove),
        )
        .route(
            "/responses/{id}",
            axum::routing::get(retrieve).delete(remove),
        )
        .layer(Extension(store))
}

/// Who owns a stored response: the caller's key id (`*` for the master key or an open
/// gateway).
fn owner(who: &Principal) -> String {
    who.key_id.clone().unwrap_or_else(|| "*".to_owned())
}

/// A body that cannot be served: 400 in OpenAI's envelope, naming the field.
fn bad_request(e: &RequestError) -> ApiError {
    let info = ErrorInfo::from(e);
    // serde names a missing top-level field only in its message.
    let param = info.param.clone().or_else(|| {
        let rest = info.message.split("missing field `").nth(1)?;
        rest.split('`').next().map(str::to_owned)
    });
    let mut err = ApiError::bad_request(info.message);
    if let Some(p) = param {
        err = err.with_param(model_runtime::error::excerpt(&p).into_owned());
    }
    match info.code {
        Some(c) => err.with_code(c),
        None => err,
    }
}

fn store_unavailable(e: &ResponseStoreError) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "api_error",
        format!("the response store is unavailable: {e}"),
    )
    .with_code("response_store_unavailable")
}

fn response_not_found(id: &str, param: Option<&str>) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!(
            "Response with id '{}' not found.",
            model_runtime::error::excerpt(id)
        ),
    );
    if let Some(p) = param {
        e = e.with_param(p).with_code("previous_response_not_found");
    } else {
        e = e.with_code("not_found");
    }
    e
}

/// The input of a request as items (a string input is one user message).
fn input_items(input: Option<&StringOr<InputItem>>) -> Vec<Value> {
    match input {
        None => Vec::new(),
        Some(StringOr::String(s)) => {
            let item = InputItem::EasyMessage(MessageItem {
                role: MessageRole::User,
                content: StringOr::String(s.clone()),
                id: None,
                status: None,
                extra: serde_json::Map::new(),
            });
            serde_json::to_value(item).into_iter().collect()
        }
        Some(StringOr::List(items)) => items
            .iter()
            .filter_map(|i| serde_json::to_value(i).ok())
            .collect(),
    }
}

/// `POST /v1/responses`.
async fn create(
    State(gw): State<Arc<Gateway>>,
    Extension(store): Extension<Arc<ResponseStore>>,
    Extension(id): Extension<RequestId>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, &headers, gw.config().max_body_bytes).await?;
    let mut rreq = request::parse(&bytes).map_err(|e| bad_request(&e))?;
    let owner = owner(&who);
    if let Some(prev) = rreq.previous_response_id.clone() {
        let prior = store
            .get(&prev, &owner)
            .await
            .map_err(|e| store_unavailable(&e))?
            .ok_or_else(|| response_not_found(&prev, Some("previous_response_id")))?;
        let items: Vec<InputItem> = serde_json::from_str(&prior.items).map_err(|e| {
            tracing::warn!(error = %e, id = %prev, "a stored response does not decode");
            response_not_found(&prev, Some("previous_response_id"))
        })?;
        request::prepend_history(&mut rreq, items);
    }
    let converted = request::to_core(&rreq).map_err(|e| bad_request(&e))?;
    let mut req = converted.request;
    let call = ChatCall::admit(&gw, &id, &who, &headers, &mut req, bytes.len()).await?;
    let saver = (rreq.store != Some(false)).then(|| Saver {
        store: store.clone(),
        owner,
        items: input_items(rreq.input.as_ref()),
    });
    // Response ids are drawn fresh (96 random bits), never taken from the client's
    // `x-request-id`, so one key cannot name another's stored response.
    let fallback = model_runtime::new_request_id();
    let fallback = fallback.trim_start_matches("req_");
    let created = now_unix();
    if rreq.stream == Some(true) {
        let enc = ResponsesSse::new(ResponsesStreamEncoder::new(&rreq, fallback, created), saver);
        call.stream(&gw, &req, enc).await
    } else {
        let result = match call.chat(&gw, &req).await {
            Ok(resp) => {
                let obj = response::response(&resp, &rreq, fallback, created);
                if let Some(s) = &saver {
                    s.save(&obj).await;
                }
                Ok(json_with_meta(
                    serde_json::to_vec(&obj).unwrap_or_default(),
                    &resp.meta,
                ))
            }
            Err(e) => Err(e),
        };
        call.answer(result).await
    }
}

/// `GET /v1/responses/{id}`: the stored Response object (the caller's own only).
async fn retrieve(
    Extension(store): Extension<Arc<ResponseStore>>,
    Extension(who): Extension<Principal>,
    Path(rid): Path<String>,
) -> Result<Response, ApiError> {
    match store
        .get(&rid, &owner(&who))
        .await
        .map_err(|e| store_unavailable(&e))?
    {
        Some(row) => Ok(json_ok(row.response.into_bytes())),
        None => Err(response_not_found(&rid, None)),
    }
}

/// `DELETE /v1/responses/{id}`.
async fn remove(
    Extension(store): Extension<Arc<ResponseStore>>,
    Extension(who): Extension<Principal>,
    Path(rid): Path<String>,
) -> Result<Response, ApiError> {
    if store
        .delete(&rid, &owner(&who))
        .await
        .map_err(|e| store_unavailable(&e))?
    {
        let body = serde_json::json!({"id": rid, "object": "response.deleted", "deleted": true});
        Ok(json_ok(serde_json::to_vec(&body).unwrap_or_default()))
    } else {
        Err(response_not_found(&rid, None))
    }
}
