//! Live model listing: Model Garden's `publishers.models.list`
//! (`GET {host}/v1beta1/publishers/google/models?pageSize=…&pageToken=…`, the collection route:
//! the project-scoped path has no list method, and the `v1` route is not served), every page.
//!
//! The answer is the publisher's catalog (`publisherModels[]` with `name =
//! "publishers/google/models/<id>"`, `versionId`, `launchStage`, `supportedActions`), not the
//! models a project has enabled, and it lists far more than this provider can call (Imagen,
//! Veo, Gemma weights to deploy…). Kept: `gemini-*` (chat over `generateContent`) and the text
//! embedding models (`predict`); context windows come from the static catalog where it knows
//! the id. Claude models are not listed this way (Anthropic's publisher ids carry no `@`
//! version the calls need): the catalog's Claude entries are added as they are. When the list
//! cannot be read, the provider serves the static catalog instead (see
//! [`crate::VertexProvider`]).

use runtime_core::{Error, ModelInfo, Result};
use serde::Deserialize;

/// Models asked for per page.
pub const PAGE_SIZE: u32 = 300;

/// Most pages followed.
pub const MAX_PAGES: usize = 20;

/// One page of `publishers.models.list`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublisherModelsPage {
    /// The models of this page.
    #[serde(default)]
    pub publisher_models: Vec<PublisherModel>,
    /// Set when more pages follow.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// One publisher model.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublisherModel {
    /// `publishers/<publisher>/models/<id>`.
    pub name: String,
    /// `GA`, `PUBLIC_PREVIEW`, `DEPRECATED`…
    #[serde(default)]
    pub launch_stage: Option<String>,
}

/// The URL of one page of Google's publisher models.
pub fn list_url(host: &str, page_token: Option<&str>) -> String {
    let mut url = format!("{host}/v1beta1/publishers/google/models?pageSize={PAGE_SIZE}");
    if let Some(t) = page_token {
        url.push_str("&pageToken=");
        for b in t.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                url.push(b as char);
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
    }
    url
}

/// Parses one page.
pub fn parse_page(body: &[u8], provider: &str) -> Result<PublisherModelsPage> {
    serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            provider,
            "",
            "publisher model list",
            e,
            &String::from_utf8_lossy(body),
        )
    })
}

fn is_embedding(id: &str) -> bool {
    id.starts_with("text-embedding-")
        || id.starts_with("text-multilingual-embedding-")
        || id.starts_with("gemini-embedding-")
}

/// The callable models of the listed ones, with the catalog's limits where it knows the id,
/// then the catalog's Claude entries. Deprecated models are left out.
pub fn merge(listed: Vec<PublisherModel>, catalog: &[ModelInfo], provider: &str) -> Vec<ModelInfo> {
    let mut out: Vec<ModelInfo> = Vec::new();
    for m in listed {
        let Some(id) = m.name.strip_prefix("publishers/google/models/") else {
            continue;
        };
        if m.launch_stage.as_deref() == Some("DEPRECATED") || out.iter().any(|x| x.id == id) {
            continue;
        }
        let known = catalog.iter().find(|c| c.id == id);
        let info = match known {
            Some(c) => c.clone(),
            None if is_embedding(id) => ModelInfo {
                id: id.to_owned(),
                provider: provider.to_owned(),
                kind: runtime_core::ModelKind::Embedding,
                owned_by: Some("google".into()),
                ..ModelInfo::default()
            },
            None if id.starts_with("gemini-") => ModelInfo {
                id: id.to_owned(),
                provider: provider.to_owned(),
                kind: runtime_core::ModelKind::Chat,
                supports_streaming: true,
                supports_tools: true,
                owned_by: Some("google".into()),
                ..ModelInfo::default()
            },
            None => continue,
        };
        out.push(info);
    }
    out.extend(
        catalog
            .iter()
            .filter(|c| c.id.starts_with("claude-"))
            .cloned(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_are_encoded() {
        assert_eq!(
            list_url("https://h", None),
            "https://h/v1beta1/publishers/google/models?pageSize=300"
        );
        assert_eq!(
            list_url("https://h", Some("a+b/c=")),
            "https://h/v1beta1/publishers/google/models?pageSize=300&pageToken=a%2Bb%2Fc%3D"
        );
    }

    #[test]
    fn only_callable_models_are_kept_with_catalog_limits() {
        let catalog = vec![
            ModelInfo::chat("v", "gemini-2.5-pro", 1_048_576, 65_536),
            ModelInfo::chat("v", "claude-sonnet-4-5@20250929", 200_000, 64_000),
        ];
        let listed: Vec<PublisherModel> = serde_json::from_value(serde_json::json!([
            {"name": "publishers/google/models/gemini-2.5-pro", "launchStage": "GA"},
            {"name": "publishers/google/models/gemini-3-pro-preview", "launchStage": "PUBLIC_PREVIEW"},
            {"name": "publishers/google/models/gemini-1.0-pro", "launchStage": "DEPRECATED"},
            {"name": "publishers/google/models/text-embedding-005"},
            {"name": "publishers/google/models/imagen-4.0-generate-001"},
            {"name": "publishers/google/models/gemma3", "versionId": "gemma-3-1b-it"}
        ]))
        .unwrap();
        let got = merge(listed, &catalog, "v");
        let ids: Vec<&str> = got.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "gemini-2.5-pro",
                "gemini-3-pro-preview",
                "text-embedding-005",
                "claude-sonnet-4-5@20250929"
            ]
        );
        assert_eq!(got[0].context_window, Some(1_048_576));
        assert_eq!(got[1].context_window, None);
        assert_eq!(got[2].kind, runtime_core::ModelKind::Embedding);
    }
}
