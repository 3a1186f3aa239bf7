//! The static catalog: Jina's embedding and reranker models (Jina has no model-list endpoint).

use runtime_core::{ModelInfo, ModelKind};

/// `(id, context window)` of the embedding models.
const EMBED: &[(&str, u32)] = &[
    ("jina-embeddings-v4", 32_768),
    ("jina-embeddings-v3", 8_192),
    ("jina-clip-v2", 8_192),
];

/// Reranker models.
const RERANK: &[&str] = &[
    "jina-reranker-v3",
    "jina-reranker-m0",
    "jina-reranker-v2-base-multilingual",
    "jina-colbert-v2",
];

/// The static catalog.
pub fn catalog(provider: &str) -> Vec<ModelInfo> {
    let mut out: Vec<ModelInfo> = EMBED
        .iter()
        .map(|&(id, ctx)| ModelInfo::embedding(provider, id, ctx))
        .collect();
    out.extend(RERANK.iter().map(|id| ModelInfo {
        id: (*id).to_owned(),
        provider: provider.to_owned(),
        kind: ModelKind::Other,
        ..ModelInfo::default()
    }));
    out
}
