//! The `anthropic-beta` request header, carried to the upstream on the core request.

use axum::http::HeaderMap;
use model_runtime::{ChatRequest, ElementRef};

/// The `anthropic-beta` features of the request (comma-separated, in one header or several),
/// pinned to the core request for an Anthropic upstream.
pub(crate) fn beta_features(headers: &HeaderMap, req: &mut ChatRequest) {
    let features: Vec<String> = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty() && f.len() <= 128)
        .map(str::to_owned)
        .collect();
    if !features.is_empty() {
        req.element_extra_mut(ElementRef::Request).beta_features = Some(features);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_features_are_split_trimmed_and_pinned_to_the_request() {
        let mut h = HeaderMap::new();
        h.append(
            "anthropic-beta",
            "prompt-caching-2024-07-31, interleaved-thinking-2025-05-14"
                .parse()
                .unwrap(),
        );
        h.append(
            "anthropic-beta",
            "fine-grained-tool-streaming-2025-05-14".parse().unwrap(),
        );
        let mut req = ChatRequest::new("m", Vec::new());
        beta_features(&h, &mut req);
        assert_eq!(
            req.element_extra(ElementRef::Request)
                .and_then(|e| e.beta_features.clone()),
            Some(vec![
                "prompt-caching-2024-07-31".to_owned(),
                "interleaved-thinking-2025-05-14".to_owned(),
                "fine-grained-tool-streaming-2025-05-14".to_owned()
            ])
        );
        let mut plain = ChatRequest::new("m", Vec::new());
        beta_features(&HeaderMap::new(), &mut plain);
        assert!(plain.element_extras.is_empty());
    }
}
