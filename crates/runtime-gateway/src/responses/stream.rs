//! The Responses API stream as an [`SseEncoder`]: runtime-dialects' encoder writes the
//! semantic events; once the stream finished, the whole response is stored (when `store`)
//! before `response.completed` goes out, so a client may continue from it at once.

use std::sync::Arc;

use futures::future::BoxFuture;
use model_runtime::StreamEvent;
use runtime_dialects::openai_responses::ResponsesStreamEncoder;
use runtime_dialects::{ErrorCategory, ErrorInfo};

use super::store::Saver;
use crate::error::ApiError;
use crate::sse::SseEncoder;

/// The encoder of one `/v1/responses` stream.
pub struct ResponsesSse {
    enc: ResponsesStreamEncoder,
    save: Option<Arc<Saver>>,
    finished: bool,
}

impl ResponsesSse {
    /// Writes `enc`'s events; `save` stores the finished response.
    pub(crate) fn new(enc: ResponsesStreamEncoder, save: Option<Saver>) -> Self {
        Self {
            enc,
            save: save.map(Arc::new),
            finished: false,
        }
    }
}

impl SseEncoder for ResponsesSse {
    fn event(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        self.enc.event(event, out);
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.enc.finish(out);
        self.finished = true;
    }

    fn fail(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        self.enc.fail(&error_info(err), out);
    }

    fn before_last(&mut self) -> Option<BoxFuture<'static, ()>> {
        if !self.finished {
            return None;
        }
        let save = self.save.take()?;
        let response = self.enc.response().clone();
        Some(Box::pin(async move { save.save(&response).await }))
    }
}

/// The neutral description of a gateway error, for the stream's `error` event.
pub(crate) fn error_info(e: &ApiError) -> ErrorInfo {
    let status = e.status.as_u16();
    let category = match status {
        401 => ErrorCategory::Authentication,
        403 => ErrorCategory::Permission,
        404 => ErrorCategory::NotFound,
        413 => ErrorCategory::RequestTooLarge,
        429 => ErrorCategory::RateLimited,
        503 | 529 => ErrorCategory::Overloaded,
        504 => ErrorCategory::Timeout,
        400..=499 => ErrorCategory::InvalidRequest,
        _ => ErrorCategory::Api,
    };
    let mut info = ErrorInfo::new(category, e.message.clone());
    info.status = status;
    info.param.clone_from(&e.param);
    info.code.clone_from(&e.code);
    info.retry_after = e.retry_after;
    info
}
