//! Reranking: documents ordered by relevance to a query (Cohere's `POST /v2/rerank`, Jina's
//! and Hugging Face TEI's `/rerank`, the Cohere-style body LiteLLM serves at `/v1/rerank`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::usage::Usage;

/// A rerank request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankRequest {
    /// The model.
    pub model: String,
    /// What the documents are ranked against.
    pub query: String,
    /// The documents: strings, or objects (their `text` is what is ranked).
    pub documents: Vec<RerankDocument>,
    /// Return only the best `top_n` (default: all, best first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_n: Option<u32>,
    /// Return each ranked document with its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_documents: Option<bool>,
    /// Longest document, in tokens; longer ones are truncated (Cohere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens_per_doc: Option<u32>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Provider-specific fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RerankRequest {
    /// The result for the document at `index` as a provider ranked it, with the document
    /// attached when `return_documents` asked for it. An index past the documents sent is an
    /// error naming it (the caller wraps it as its decode error).
    pub fn result(
        &self,
        index: usize,
        relevance_score: f64,
    ) -> std::result::Result<RerankResult, String> {
        let Some(doc) = self.documents.get(index) else {
            return Err(format!(
                "index {index} past the {} documents sent",
                self.documents.len()
            ));
        };
        Ok(RerankResult {
            index,
            relevance_score,
            document: (self.return_documents == Some(true)).then(|| doc.clone()),
        })
    }

    /// A request ranking text documents.
    pub fn new(model: impl Into<String>, query: impl Into<String>, documents: Vec<String>) -> Self {
        Self {
            model: model.into(),
            query: query.into(),
            documents: documents.into_iter().map(RerankDocument::Text).collect(),
            ..Self::default()
        }
    }

    /// The texts of the documents, in order (see [`RerankDocument::text`]).
    pub fn texts(&self) -> Vec<String> {
        self.documents.iter().map(RerankDocument::text).collect()
    }
}

/// One document to rank.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RerankDocument {
    /// Plain text.
    Text(String),
    /// An object; its `text` field is ranked when it is a string, else the whole object as
    /// JSON (Cohere ranks structured documents as YAML-like text the same way).
    Object(Map<String, Value>),
}

impl RerankDocument {
    /// The text that is ranked.
    pub fn text(&self) -> String {
        match self {
            RerankDocument::Text(t) => t.clone(),
            RerankDocument::Object(o) => match o.get("text") {
                Some(Value::String(t)) => t.clone(),
                _ => Value::Object(o.clone()).to_string(),
            },
        }
    }
}

/// Ranked documents, best first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankResponse {
    /// The upstream's id of the ranking (`""` where the API gives none).
    #[serde(default)]
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// The results, best first.
    pub results: Vec<RerankResult>,
    /// What was billed: search units (Cohere: one per query over up to 100 documents) and
    /// tokens where the API counts them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<RerankUsage>,
    /// Where it came from.
    #[serde(default)]
    pub meta: super::chat::ResponseMeta,
}

/// One ranked document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RerankResult {
    /// Position of the document in the request.
    pub index: usize,
    /// Relevance to the query (higher is more relevant; the scale is the model's).
    pub relevance_score: f64,
    /// The document, when `return_documents` asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<RerankDocument>,
}

/// What a rerank call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RerankUsage {
    /// Search units billed (Cohere, Bedrock); 0 where the API bills tokens.
    #[serde(default)]
    pub search_units: u64,
    /// Tokens, where the API counts them (Jina, TEI, Cohere's `meta.tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Usage>,
}

impl RerankUsage {
    /// Search units only.
    pub fn search_units(units: u64) -> Self {
        Self {
            search_units: units,
            tokens: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_are_strings_or_objects() {
        let req: RerankRequest = serde_json::from_value(json!({
            "model": "rerank-v3.5",
            "query": "capital of the US?",
            "documents": ["Carson City is the capital of Nevada.", {"text": "Washington, D.C.", "id": 7}],
            "top_n": 1,
            "return_documents": true
        }))
        .unwrap();
        assert_eq!(req.documents.len(), 2);
        assert_eq!(
            req.texts(),
            vec!["Carson City is the capital of Nevada.", "Washington, D.C."]
        );
        assert_eq!(req.top_n, Some(1));
        let no_text = RerankDocument::Object(
            json!({"title": "t"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(no_text.text(), r#"{"title":"t"}"#);
    }
}
