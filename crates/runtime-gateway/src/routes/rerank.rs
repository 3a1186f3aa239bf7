//! `POST /v1/rerank` (also `/rerank` and `/v2/rerank`): the Cohere/Jina-style body LiteLLM
//! serves — `model`, `query`, `documents` (strings or objects with `text`), `top_n`,
//! `return_documents`, `max_tokens_per_doc` — answered with `id`, `results` (`index`,
//! `relevance_score`, `document`), Cohere's `meta.billed_units.search_units` and a `usage`
//! object. Governed, metered, priced and cached like embeddings.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::Response;
use model_runtime::{RerankDocument, RerankRequest, RerankResponse};
use serde_json::{Map, Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::govern;
use crate::http::{json_with_meta, parse_json, read_body, require};
use crate::state::{Gateway, RequestId};

/// The handler.
pub async fn rerank(
    State(gw): State<Arc<Gateway>>,
    Extension(id): Extension<RequestId>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, &headers, gw.config().max_body_bytes).await?;
    let mut req: RerankRequest = parse_json(&bytes)?;
    validate(&req)?;
    who.check_model(&req.model)?;
    let mut ctx = gw.request_context(&id, &who, &headers);
    let user = req.user.clone();
    let ask = govern::Ask {
        model: &mut req.model,
        max_tokens: None,
        user: user.as_deref(),
        body_len: bytes.len(),
    };
    let adm = govern::admit(
        gw.governor().map(|g| &**g),
        gw.runtime(),
        &who,
        &headers,
        ask,
        &mut ctx,
    )
    .await?;
    let result = gw
        .stack()
        .rerank(&req, &ctx)
        .await
        .map_err(|e| ApiError::from_call(e, &ctx))
        .map(|resp| json_with_meta(encode(&resp, &id.0, &req), &resp.meta));
    govern::answer(adm, result).await
}

/// Bad input is a 400 naming the field.
pub fn validate(req: &RerankRequest) -> Result<(), ApiError> {
    require(&req.model, "model")?;
    require(&req.query, "query")?;
    if req.documents.is_empty() {
        return Err(ApiError::bad_request("`documents` must not be empty").with_param("documents"));
    }
    if req.top_n == Some(0) {
        return Err(ApiError::bad_request("`top_n` must be at least 1").with_param("top_n"));
    }
    Ok(())
}

fn document(d: &RerankDocument) -> Value {
    match d {
        RerankDocument::Text(t) => json!({ "text": t }),
        RerankDocument::Object(o) => Value::Object(o.clone()),
    }
}

/// The answer body. Documents are returned when asked for: from the provider's answer, else
/// from the request (some APIs never echo them).
pub fn encode(resp: &RerankResponse, request_id: &str, req: &RerankRequest) -> Vec<u8> {
    let want_docs = req.return_documents == Some(true);
    let results: Vec<Value> = resp
        .results
        .iter()
        .map(|r| {
            let mut o = Map::new();
            o.insert("index".into(), json!(r.index));
            o.insert("relevance_score".into(), json!(r.relevance_score));
            if want_docs {
                let doc = r.document.as_ref().or_else(|| req.documents.get(r.index));
                if let Some(d) = doc {
                    o.insert("document".into(), document(d));
                }
            }
            Value::Object(o)
        })
        .collect();
    let usage = resp.usage.unwrap_or_default();
    let mut billed = Map::new();
    billed.insert("search_units".into(), json!(usage.search_units));
    let mut meta = Map::new();
    meta.insert("billed_units".into(), Value::Object(billed));
    let mut out_usage = Map::new();
    out_usage.insert("search_units".into(), json!(usage.search_units));
    if let Some(t) = usage.tokens {
        meta.insert(
            "tokens".into(),
            json!({"input_tokens": t.prompt_tokens, "output_tokens": t.completion_tokens}),
        );
        out_usage.insert("prompt_tokens".into(), json!(t.prompt_tokens));
        out_usage.insert("total_tokens".into(), json!(t.total_tokens));
    }
    let id = if resp.id.is_empty() {
        request_id
    } else {
        &resp.id
    };
    let body = json!({
        "id": id,
        "model": if resp.model.is_empty() { &req.model } else { &resp.model },
        "results": results,
        "meta": meta,
        "usage": out_usage,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use model_runtime::{RerankResult, RerankUsage, Usage};

    fn req(body: Value) -> RerankRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn validation_names_the_field() {
        let ok = req(json!({"model": "m", "query": "q", "documents": ["a"]}));
        assert!(validate(&ok).is_ok());
        for (body, param) in [
            (
                json!({"model": "", "query": "q", "documents": ["a"]}),
                "model",
            ),
            (
                json!({"model": "m", "query": " ", "documents": ["a"]}),
                "query",
            ),
            (
                json!({"model": "m", "query": "q", "documents": []}),
                "documents",
            ),
            (
                json!({"model": "m", "query": "q", "documents": ["a"], "top_n": 0}),
                "top_n",
            ),
        ] {
            let e = validate(&req(body)).unwrap_err();
            assert_eq!(e.param.as_deref(), Some(param), "{e:?}");
        }
    }

    #[test]
    fn encodes_cohere_and_jina_shapes() {
        let r = req(json!({"model": "rerank-v3.5", "query": "q",
                           "documents": ["a", {"text": "b", "id": 2}], "return_documents": true}));
        let resp = RerankResponse {
            id: "abc".into(),
            model: "rerank-v3.5".into(),
            results: vec![
                RerankResult {
                    index: 1,
                    relevance_score: 0.9,
                    document: None,
                },
                RerankResult {
                    index: 0,
                    relevance_score: 0.1,
                    document: None,
                },
            ],
            usage: Some(RerankUsage {
                search_units: 1,
                tokens: Some(Usage::new(12, 0)),
            }),
            ..RerankResponse::default()
        };
        let v: Value = serde_json::from_slice(&encode(&resp, "req_1", &r)).unwrap();
        assert_eq!(v["id"], "abc");
        assert_eq!(v["results"][0]["index"], 1);
        assert_eq!(v["results"][0]["document"], json!({"text": "b", "id": 2}));
        assert_eq!(v["results"][1]["document"], json!({"text": "a"}));
        assert_eq!(v["meta"]["billed_units"]["search_units"], 1);
        assert_eq!(v["meta"]["tokens"]["input_tokens"], 12);
        assert_eq!(v["usage"]["total_tokens"], 12);
        let no_docs = req(json!({"model": "m", "query": "q", "documents": ["a"]}));
        let v: Value = serde_json::from_slice(&encode(
            &RerankResponse {
                results: vec![RerankResult::default()],
                ..RerankResponse::default()
            },
            "req_1",
            &no_docs,
        ))
        .unwrap();
        assert_eq!(v["id"], "req_1");
        assert_eq!(v["model"], "m");
        assert!(v["results"][0].get("document").is_none());
    }
}
