//! The way of one chat call through the gateway, shared by every endpoint that ends in a core
//! [`ChatRequest`] (`/v1/chat/completions`, `/v1/responses`): the key's model check, the
//! request context, governance (aliases, rate limits, the budget hold), the call through the
//! metered stack, and the settlement — streamed or not. Usage rows, metering and the router
//! apply the same way whatever dialect the client speaks.

use axum::http::HeaderMap;
use axum::response::Response;
use model_runtime::{ChatRequest, ChatResponse, RequestContext};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::govern::{self, Admitted};
use crate::sse::{SseEncoder, sse_response};
use crate::state::{Gateway, RequestId};

/// An admitted chat call: its context and its governance ticket.
#[derive(Debug)]
pub struct ChatCall {
    /// The request context (request id, deadline, key, attribution).
    pub ctx: RequestContext,
    adm: Admitted,
}

impl ChatCall {
    /// Checks the key may use `req.model`, builds the context and admits the call (a key
    /// alias rewrites `req.model`; a budgeted call without `max_tokens` gets one).
    /// `body_len` bounds the prompt for the budget hold.
    pub async fn admit(
        gw: &Gateway,
        id: &RequestId,
        who: &Principal,
        headers: &HeaderMap,
        req: &mut ChatRequest,
        body_len: usize,
    ) -> Result<Self, ApiError> {
        who.check_model(&req.model)?;
        let mut ctx = gw.context(id, who, headers);
        let user = req.user.clone();
        let ask = govern::Ask {
            model: &mut req.model,
            max_tokens: Some(&mut req.max_tokens),
            user: user.as_deref(),
            body_len,
        };
        let adm = govern::admit(
            gw.governor().map(|g| &**g),
            gw.runtime(),
            who,
            headers,
            ask,
            &mut ctx,
        )
        .await?;
        // A chat request to a model that only embeds (and the like) is the client's error.
        if let Err(e) = crate::fit::check(gw.runtime(), who, &req.model, crate::fit::Want::Chat) {
            let headers = adm.headers();
            adm.finish().await;
            return Err(e.with_headers(headers.pairs()));
        }
        Ok(Self { ctx, adm })
    }

    /// The non-streamed call. Answer with [`ChatCall::answer`] whatever the outcome.
    pub async fn chat(&self, gw: &Gateway, req: &ChatRequest) -> Result<ChatResponse, ApiError> {
        crate::otel::record_chat_request(req);
        let resp = gw
            .provider
            .chat(req, &self.ctx)
            .await
            .map_err(|e| ApiError::from_call(e, &self.ctx))?;
        crate::otel::record_chat_response(&resp);
        Ok(resp)
    }

    /// Settles a non-streamed call and adds its rate-limit headers to the answer.
    pub async fn answer(self, result: Result<Response, ApiError>) -> Result<Response, ApiError> {
        govern::answer(self.adm, result).await
    }

    /// The streamed call, answered as SSE written by `enc`; settles when the stream ends or
    /// the client goes away.
    pub async fn stream<E: SseEncoder>(
        self,
        gw: &Gateway,
        req: &ChatRequest,
        enc: E,
    ) -> Result<Response, ApiError> {
        crate::otel::record_chat_request(req);
        let stream = match gw.provider.chat_stream(req, &self.ctx).await {
            Ok(s) => crate::otel::observe_stream(s),
            Err(e) => {
                return govern::answer(self.adm, Err(ApiError::from_call(e, &self.ctx))).await;
            }
        };
        let limits = self.adm.headers();
        let stream = govern::hold(stream, self.adm);
        let mut resp = sse_response(gw, stream, enc, self.ctx.cancel).await?;
        govern::add_headers(resp.headers_mut(), limits);
        Ok(resp)
    }
}
