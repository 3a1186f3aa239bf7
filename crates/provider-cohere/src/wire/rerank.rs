//! `POST /v2/rerank`: `query`, `documents` (strings: an object document is sent as its text),
//! `top_n`, `max_tokens_per_doc`; answered with `results` (`index`, `relevance_score`) and
//! `meta.billed_units.search_units`. v2 returns no documents: those asked for are the
//! request's own.

use runtime_core::{Error, RerankRequest, RerankResponse, RerankUsage, ResponseMeta, Result};
use serde::{Deserialize, Serialize};

/// The body of `POST /v2/rerank`.
#[derive(Debug, Serialize)]
pub struct CohereRerankRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Query.
    pub query: &'a str,
    /// Documents' texts.
    pub documents: Vec<String>,
    /// Best `top_n` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Longest document in tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_doc: Option<u32>,
}

/// Maps a core request for `model` (the body's or a re-targeted call's).
pub fn rerank_request<'a>(
    req: &'a RerankRequest,
    model: &'a str,
    provider: &str,
) -> Result<CohereRerankRequest<'a>> {
    if let Some(k) = req.extra.keys().next() {
        return Err(Error::invalid_request(
            provider,
            model,
            Some(k),
            "not a field of Cohere's v2 rerank",
        ));
    }
    Ok(CohereRerankRequest {
        model,
        query: &req.query,
        documents: req.texts(),
        top_n: req.top_n,
        max_tokens_per_doc: req.max_tokens_per_doc,
    })
}

#[derive(Debug, Deserialize)]
struct Answer {
    #[serde(default)]
    id: String,
    results: Vec<WireResult>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
struct WireResult {
    index: usize,
    relevance_score: f64,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(default)]
    billed_units: Option<Billed>,
}

#[derive(Debug, Deserialize)]
struct Billed {
    #[serde(default)]
    search_units: f64,
}

/// Maps the answer of `model`.
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
    let units = a
        .meta
        .and_then(|m| m.billed_units)
        .map_or(0, |b| b.search_units as u64);
    Ok(RerankResponse {
        id: a.id,
        model: model.to_owned(),
        results,
        usage: Some(RerankUsage::search_units(units)),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}
