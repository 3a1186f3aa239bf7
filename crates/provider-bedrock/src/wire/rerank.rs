//! The Agent Runtime `Rerank` API: `POST https://bedrock-agent-runtime.<region>.amazonaws.com/rerank`
//! (SigV4 service `bedrock`), for `amazon.rerank-v1:0` and `cohere.rerank-v3-5:0`.
//!
//! Body: one text query (`queries: [{type: TEXT, textQuery: {text}}]`), the documents as
//! inline `sources` (strings as `TEXT` documents, objects as `JSON` documents), and
//! `rerankingConfiguration.bedrockRerankingConfiguration` with the model's ARN (a model id is
//! made `arn:aws:bedrock:<region>::foundation-model/<id>`), `numberOfResults` (`top_n`) and
//! `additionalModelRequestFields` (an extra field of the request, passed through; so is
//! `nextToken`, to start from a page of an earlier call). Answer:
//! `results[{index, relevanceScore, document?}]` and a `nextToken` when more follow.
//!
//! The API returns no usage. AWS prices rerank per query and, as Cohere does for a search unit,
//! counts a query over more than 100 documents as several (a rule not re-read on AWS's price
//! page here), so the units metered are `ceil(documents / 100)`, at least one.

use runtime_core::{
    Error, RerankDocument, RerankRequest, RerankResponse, RerankUsage, ResponseMeta, Result,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Documents one billed query covers.
pub const DOCUMENTS_PER_QUERY: usize = 100;

/// Most sources one request takes (API reference: 1 to 1000).
pub const MAX_SOURCES: usize = 1000;

/// Reranker model ids this provider knows.
pub const MODELS: &[&str] = &["amazon.rerank-v1:0", "cohere.rerank-v3-5:0"];

/// The body of `POST /rerank`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BedrockRerankRequest {
    /// The page to continue from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Exactly one query.
    pub queries: Vec<Query>,
    /// The model and how many results.
    pub reranking_configuration: RerankingConfiguration,
    /// The documents.
    pub sources: Vec<Source>,
}

/// A text query.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    /// `TEXT`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The text.
    pub text_query: TextDocument,
}

/// `{text}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TextDocument {
    /// The text.
    pub text: String,
}

/// `rerankingConfiguration`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RerankingConfiguration {
    /// `BEDROCK_RERANKING_MODEL`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The Bedrock reranker.
    pub bedrock_reranking_configuration: BedrockRerankingConfiguration,
}

/// `bedrockRerankingConfiguration`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BedrockRerankingConfiguration {
    /// Results to return (1 to 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_of_results: Option<u32>,
    /// The model.
    pub model_configuration: ModelConfiguration,
}

/// `modelConfiguration`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelConfiguration {
    /// The model's ARN.
    pub model_arn: String,
    /// Model-specific fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub additional_model_request_fields: Option<Map<String, Value>>,
}

/// One inline source.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Source {
    /// `INLINE`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The document.
    pub inline_document_source: InlineDocument,
}

/// A `TEXT` or `JSON` document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineDocument {
    /// `TEXT` or `JSON`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A text document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_document: Option<TextDocument>,
    /// A JSON document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_document: Option<Map<String, Value>>,
}

/// The model ARN of a model id: ARNs pass unchanged, ids become the region's foundation model.
pub fn model_arn(model: &str, region: &str) -> String {
    if model.starts_with("arn:") {
        model.to_owned()
    } else {
        format!("arn:aws:bedrock:{region}::foundation-model/{model}")
    }
}

/// Maps a core request for `model` (the body's, or a re-targeted call's); what the API cannot
/// express is refused by name.
pub fn rerank_request(
    req: &RerankRequest,
    model: &str,
    region: &str,
    provider: &str,
) -> Result<BedrockRerankRequest> {
    let refuse =
        |field: &str, why: &str| Err(Error::invalid_request(provider, model, Some(field), why));
    if req.documents.is_empty() {
        return refuse("documents", "no documents to rank");
    }
    if req.documents.len() > MAX_SOURCES {
        return refuse(
            "documents",
            "Bedrock's Rerank takes at most 1000 documents a call",
        );
    }
    if req.top_n == Some(0) || req.top_n.is_some_and(|n| n as usize > MAX_SOURCES) {
        return refuse("top_n", "must be between 1 and 1000");
    }
    if req.max_tokens_per_doc.is_some() {
        return refuse(
            "max_tokens_per_doc",
            "not a field of Bedrock's Rerank (Cohere's `max_tokens_per_doc` goes in \
             `additionalModelRequestFields`)",
        );
    }
    if region.is_empty() && !model.starts_with("arn:") {
        return refuse(
            "model",
            "a model id needs the provider's `region` to make its ARN; give the model's ARN",
        );
    }
    let mut additional = None;
    let mut next_token = None;
    for (k, v) in &req.extra {
        match (k.as_str(), v) {
            ("nextToken", Value::String(t)) if !t.is_empty() => next_token = Some(t.clone()),
            ("nextToken", _) => return refuse(k, "must be a non-empty string"),
            ("additionalModelRequestFields", Value::Object(o)) => additional = Some(o.clone()),
            ("additionalModelRequestFields", _) => {
                return refuse(k, "must be a JSON object");
            }
            _ => return refuse(k, "not a field of Bedrock's Rerank"),
        }
    }
    let sources = req
        .documents
        .iter()
        .map(|d| Source {
            kind: "INLINE",
            inline_document_source: match d {
                RerankDocument::Text(t) => InlineDocument {
                    kind: "TEXT",
                    text_document: Some(TextDocument { text: t.clone() }),
                    json_document: None,
                },
                RerankDocument::Object(o) => InlineDocument {
                    kind: "JSON",
                    text_document: None,
                    json_document: Some(o.clone()),
                },
            },
        })
        .collect();
    Ok(BedrockRerankRequest {
        next_token,
        queries: vec![Query {
            kind: "TEXT",
            text_query: TextDocument {
                text: req.query.clone(),
            },
        }],
        reranking_configuration: RerankingConfiguration {
            kind: "BEDROCK_RERANKING_MODEL",
            bedrock_reranking_configuration: BedrockRerankingConfiguration {
                number_of_results: req.top_n,
                model_configuration: ModelConfiguration {
                    model_arn: model_arn(model, region),
                    additional_model_request_fields: additional,
                },
            },
        },
        sources,
    })
}

/// One page of the answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BedrockRerankPage {
    /// The ranks of this page, best first.
    #[serde(default)]
    pub results: Vec<WireResult>,
    /// Set when more results follow.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// One rank.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireResult {
    /// Position of the source in the request.
    pub index: usize,
    /// Relevance.
    pub relevance_score: f64,
}

/// Search units of a call over `documents` documents: one per started hundred.
pub fn search_units(documents: usize) -> u64 {
    documents.div_ceil(DOCUMENTS_PER_QUERY).max(1) as u64
}

/// Maps the ranks of every page (`model` answered); documents, when asked for, are the
/// request's own.
pub fn parse_rerank(
    pages: Vec<BedrockRerankPage>,
    req: &RerankRequest,
    model: &str,
    provider: &str,
) -> Result<RerankResponse> {
    let mut results = Vec::new();
    for r in pages.into_iter().flat_map(|p| p.results) {
        let result = req
            .result(r.index, r.relevance_score)
            .map_err(|m| Error::decode(provider, model, "rerank answer", m, ""))?;
        results.push(result);
    }
    if let Some(n) = req.top_n {
        results.truncate(n as usize);
    }
    Ok(RerankResponse {
        id: String::new(),
        model: model.to_owned(),
        results,
        usage: Some(RerankUsage::search_units(search_units(req.documents.len()))),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_per_started_hundred() {
        assert_eq!(search_units(0), 1);
        assert_eq!(search_units(1), 1);
        assert_eq!(search_units(100), 1);
        assert_eq!(search_units(101), 2);
        assert_eq!(search_units(1000), 10);
    }

    #[test]
    fn arns_pass_and_ids_become_foundation_models() {
        assert_eq!(
            model_arn("amazon.rerank-v1:0", "eu-central-1"),
            "arn:aws:bedrock:eu-central-1::foundation-model/amazon.rerank-v1:0"
        );
        let arn = "arn:aws:bedrock:us-west-2::foundation-model/cohere.rerank-v3-5:0";
        assert_eq!(model_arn(arn, "eu-central-1"), arn);
    }

    #[test]
    fn refusals_name_the_field() {
        let mut req = RerankRequest::new("amazon.rerank-v1:0", "q", vec!["a".into()]);
        req.max_tokens_per_doc = Some(10);
        let e = rerank_request(&req, &req.model, "us-west-2", "b").unwrap_err();
        assert!(e.to_string().contains("max_tokens_per_doc"), "{e}");
        req.max_tokens_per_doc = None;
        req.extra.insert("rank_fields".into(), Value::Null);
        let e = rerank_request(&req, &req.model, "us-west-2", "b").unwrap_err();
        assert!(e.to_string().contains("rank_fields"), "{e}");
        req.extra.clear();
        req.top_n = Some(0);
        let e = rerank_request(&req, &req.model, "us-west-2", "b").unwrap_err();
        assert!(e.to_string().contains("top_n"), "{e}");
        req.top_n = None;
        let e = rerank_request(&req, &req.model, "", "b").unwrap_err();
        assert!(e.to_string().contains("region"), "{e}");
        req.documents.clear();
        let e = rerank_request(&req, &req.model, "us-west-2", "b").unwrap_err();
        assert!(e.to_string().contains("documents"), "{e}");
    }
}
