//! `POST /v1/rerank`: `model`, `query`, `documents` (texts: an object document is sent as its
//! text), `top_n`, `return_documents: false` (documents asked for are the request's own, so
//! Jina need not send them back); answered with `model`, `usage.total_tokens` and `results`
//! (`index`, `relevance_score`, `document` when asked for), best first.

use runtime_core::{
    Error, RerankRequest, RerankResponse, RerankUsage, ResponseMeta, Result, Usage,
};
use serde::{Deserialize, Serialize};

/// The body of `POST /v1/rerank`.
#[derive(Debug, Serialize)]
pub struct JinaRerankRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Query.
    pub query: &'a str,
    /// Documents' texts.
    pub documents: Vec<String>,
    /// Best `top_n` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Always `false`: documents are served from the request.
    pub return_documents: bool,
}

/// Maps a core request for `model` (the body's or a re-targeted call's); what Jina's rerank
/// cannot express is refused by name.
pub fn rerank_request<'a>(
    req: &'a RerankRequest,
    model: &'a str,
    provider: &str,
) -> Result<JinaRerankRequest<'a>> {
    let refuse =
        |field: &str, why: &str| Err(Error::invalid_request(provider, model, Some(field), why));
    if req.documents.is_empty() {
        return refuse("documents", "no documents to rank");
    }
    if req.top_n == Some(0) {
        return refuse("top_n", "must be at least 1");
    }
    if req.max_tokens_per_doc.is_some() {
        return refuse(
            "max_tokens_per_doc",
            "not a field of Jina's rerank (documents are truncated to the model's window)",
        );
    }
    if let Some(k) = req.extra.keys().next() {
        return refuse(k, "not a field of Jina's rerank");
    }
    Ok(JinaRerankRequest {
        model,
        query: &req.query,
        documents: req.texts(),
        top_n: req.top_n,
        return_documents: false,
    })
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    model: Option<String>,
    results: Vec<WireResult>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct WireResult {
    index: usize,
    relevance_score: f64,
}

/// Jina's usage: `total_tokens` (some answers also carry `prompt_tokens`).
#[derive(Debug, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) total_tokens: u64,
    #[serde(default)]
    pub(crate) prompt_tokens: Option<u64>,
}

impl WireUsage {
    /// Input tokens: `prompt_tokens` when given, else `total_tokens` (nothing is generated).
    pub(crate) fn input(&self) -> u64 {
        self.prompt_tokens
            .filter(|p| *p > 0)
            .unwrap_or(self.total_tokens)
    }
}

/// Maps the answer: ranks in Jina's order, documents (when asked for) from the request, the
/// tokens Jina counted as usage (Jina bills tokens, not search units); `model` is the one asked
/// for, named when the answer names none.
pub fn parse_rerank(
    body: &[u8],
    req: &RerankRequest,
    model: &str,
    provider: &str,
) -> Result<RerankResponse> {
    let decode = |e: &dyn std::fmt::Display| {
        Error::decode(
            provider,
            model,
            "rerank answer",
            e,
            &String::from_utf8_lossy(body),
        )
    };
    let a: Answer = serde_json::from_slice(body).map_err(|e| decode(&e))?;
    let mut results = Vec::with_capacity(a.results.len());
    for r in a.results {
        results.push(
            req.result(r.index, r.relevance_score)
                .map_err(|m| decode(&m))?,
        );
    }
    Ok(RerankResponse {
        id: String::new(),
        model: a.model.unwrap_or_else(|| model.to_owned()),
        results,
        usage: a.usage.map(|u| RerankUsage {
            search_units: 0,
            tokens: Some(Usage::new(u.input(), 0)),
        }),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}
