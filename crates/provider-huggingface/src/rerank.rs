//! Text Embeddings Inference's `POST /rerank`: `{query, texts, return_text, truncate,
//! raw_scores}` answered with `[{index, score, text?}]`, best first. TEI serves one model and
//! has no `top_n`: the best `top_n` are kept here.

use runtime_core::{Error, RerankRequest, RerankResponse, ResponseMeta, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The body of `POST /rerank`.
#[derive(Debug, Serialize)]
pub struct TeiRerankRequest<'a> {
    /// The query.
    pub query: &'a str,
    /// The documents' texts.
    pub texts: Vec<String>,
    /// Return each text with its rank.
    pub return_text: bool,
    /// Truncate inputs longer than the model's maximum (TEI field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncate: Option<bool>,
    /// Scores before the sigmoid (TEI field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_scores: Option<bool>,
}

/// One rank of the answer.
#[derive(Debug, Deserialize)]
pub struct TeiRank {
    /// Position of the text in the request.
    pub index: usize,
    /// Relevance.
    pub score: f64,
}

/// Maps a core request for `model` (the body's or a re-targeted call's; TEI serves one model,
/// so it only names the request in errors); what TEI cannot express is refused by name.
pub fn rerank_request<'a>(
    req: &'a RerankRequest,
    model: &str,
    provider: &str,
) -> Result<TeiRerankRequest<'a>> {
    let refuse =
        |field: &str, why: &str| Err(Error::invalid_request(provider, model, Some(field), why));
    if req.max_tokens_per_doc.is_some() {
        return refuse(
            "max_tokens_per_doc",
            "TEI truncates to the model's maximum only (`truncate: true`)",
        );
    }
    let flag = |k: &str| -> Result<Option<bool>> {
        match req.extra.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::invalid_request(
                provider,
                model,
                Some(k),
                "must be a boolean",
            )),
        }
    };
    if let Some(k) = req
        .extra
        .keys()
        .find(|k| !matches!(k.as_str(), "truncate" | "raw_scores"))
    {
        return refuse(k, "not a field of TEI's /rerank");
    }
    Ok(TeiRerankRequest {
        query: &req.query,
        texts: req.texts(),
        return_text: false,
        truncate: flag("truncate")?,
        raw_scores: flag("raw_scores")?,
    })
}

/// Maps the answer: ranks in TEI's order (best first), cut to `top_n`; documents, when asked
/// for, are the request's own (strings or objects). TEI gives no id and no usage; the answer
/// names `model`, the one asked for.
pub fn parse_rerank(
    body: &[u8],
    req: &RerankRequest,
    model: &str,
    provider: &str,
) -> Result<RerankResponse> {
    let ranks: Vec<TeiRank> = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            provider,
            model,
            "rerank answer",
            e,
            &String::from_utf8_lossy(body),
        )
    })?;
    let keep = req.top_n.map_or(ranks.len(), |n| n as usize);
    let mut results = Vec::with_capacity(keep.min(ranks.len()));
    for r in ranks.into_iter().take(keep) {
        let result = req
            .result(r.index, r.score)
            .map_err(|m| Error::decode(provider, model, "rerank answer", m, ""))?;
        results.push(result);
    }
    Ok(RerankResponse {
        id: String::new(),
        model: model.to_owned(),
        results,
        usage: None,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}
