//! `POST /v1/messages/count_tokens`: the exact count from the upstream when it has a counting
//! endpoint (Anthropic's, through [`Provider::count_tokens`](model_runtime::Provider)),
//! otherwise the local estimate of `runtime_dialects::estimate`.
//!
//! The answer says which: the body gains `"estimated": true` for an estimate (a field the
//! Anthropic SDKs ignore), and the header `x-modelrt-token-count` is `exact` or `estimate`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use model_runtime::{Error, Failure};
use runtime_dialects::anthropic_messages::count_tokens;
use runtime_dialects::estimate;

use super::beta::beta_features;
use super::error;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::{json_ok, read_body};
use crate::state::{Gateway, RequestId};

/// The header naming how the count was made.
pub const X_TOKEN_COUNT: &str = "x-modelrt-token-count";

pub(super) async fn count_tokens(
    State(gw): State<Arc<Gateway>>,
    Extension(id): Extension<RequestId>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match serve(&gw, &id, &who, &headers, body).await {
        Ok(resp) => resp,
        Err(e) => error::response(e, &id.0),
    }
}

async fn serve(
    gw: &Arc<Gateway>,
    id: &RequestId,
    who: &Principal,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, headers, gw.config().max_body_bytes).await?;
    let parsed = count_tokens::parse(&bytes).map_err(|e| error::request_error(&e))?;
    let mut req = count_tokens::to_core(&parsed)
        .map_err(|e| error::request_error(&e))?
        .request;
    who.check_model(&req.model)?;
    // A database key's alias names the model it stands for (counting spends nothing, so no
    // budget is held).
    if let Some(target) = who
        .caller
        .as_ref()
        .and_then(|c| c.key.aliases.get(req.model.as_str()))
    {
        req.model.clone_from(target);
    }
    beta_features(headers, &mut req);
    let ctx = gw.context(id, who, headers);
    let (n, exact) = match gw.stack().count_tokens(&req, &ctx).await {
        Ok(n) => (n, true),
        // No upstream of this model can count: the estimate.
        Err(Failure {
            error: Error::Unsupported { .. },
            ..
        }) => (estimate::input_tokens(&req), false),
        Err(e) => return Err(ApiError::from_call(e, &ctx)),
    };
    let mut resp = json_ok(count_tokens::body(n, !exact));
    resp.headers_mut().insert(
        X_TOKEN_COUNT,
        HeaderValue::from_static(if exact { "exact" } else { "estimate" }),
    );
    Ok(resp)
}
