//! The Anthropic Messages API over any provider or logical model: `POST /v1/messages` and
//! `POST /v1/messages/count_tokens` (also without the `/v1` prefix).
//!
//! A body is translated by `runtime_dialects::anthropic_messages` into a core chat request and
//! served by the chat path of `/v1/chat/completions` ([`crate::call::ChatCall`]): keys, governance
//! (aliases, limits, budgets), the router, the cache and the usage rows apply unchanged. The
//! answer, the stream (Anthropic's exact event grammar) and every failure (the key check and
//! governance refusals included) are written in Anthropic's shapes. Gateway keys come from
//! `x-api-key` or `Authorization: Bearer`; `anthropic-version` is accepted (any value) and
//! `anthropic-beta` features travel with the request to an Anthropic upstream.

mod beta;
mod count;
pub mod error;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::HeaderMap;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::post;
use model_runtime::StreamEvent;
use runtime_dialects::anthropic_messages::{MessagesStreamEncoder, request, response};

use crate::auth::Principal;
use crate::call::ChatCall;
use crate::error::ApiError;
use crate::http::{json_with_meta, read_body};
use crate::sse::SseEncoder;
use crate::state::{Gateway, RequestId};
use beta::beta_features;

/// The routes, with their own key check (its failures in Anthropic's envelope).
pub fn routes(gw: Arc<Gateway>) -> Router<Arc<Gateway>> {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count::count_tokens))
        .route("/messages/count_tokens", post(count::count_tokens))
        .route_layer(from_fn_with_state(gw, authenticate))
}

fn rid(req: &Request) -> Arc<str> {
    req.extensions()
        .get::<RequestId>()
        .map_or_else(|| crate::http::request_id(req.headers()), |r| r.0.clone())
}

async fn authenticate(State(gw): State<Arc<Gateway>>, mut req: Request, next: Next) -> Response {
    match gw.auth().authenticate(req.headers()).await {
        Ok(p) => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => error::response(e, &rid(&req)),
    }
}

async fn messages(
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
    let parsed = request::parse(&bytes).map_err(|e| error::request_error(&e))?;
    let mut req = request::to_core(&parsed)
        .map_err(|e| error::request_error(&e))?
        .request;
    beta_features(headers, &mut req);
    let fallback_id = format!("msg_{}", id.0.trim_start_matches("req_"));
    let call = ChatCall::admit(gw, id, who, headers, &mut req, bytes.len()).await?;
    if req.stream == Some(true) {
        let enc = Encoder(MessagesStreamEncoder::new(fallback_id, req.model.clone()));
        call.stream(gw, &req, enc).await
    } else {
        let result = call.chat(gw, &req).await.map(|resp| {
            json_with_meta(response::body(&resp, &fallback_id, &req.model), &resp.meta)
        });
        call.answer(result).await
    }
}

/// The Messages stream encoder, with gateway errors in its `error` event.
pub(crate) struct Encoder(MessagesStreamEncoder);

impl SseEncoder for Encoder {
    fn event(&mut self, ev: StreamEvent, out: &mut Vec<u8>) {
        self.0.event(ev, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        self.0.finish(out);
    }
    fn fail(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        self.0.fail(&error::info(err), out);
    }
}
