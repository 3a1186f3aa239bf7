//! Model ids in URL paths, and what a model id says about the model.
//!
//! A Bedrock model id is a foundation-model id (`anthropic.claude-sonnet-4-5-20250929-v1:0`),
//! a cross-region inference profile id (the same with a geography prefix: `us.`, `eu.`,
//! `apac.`, `global.`, …) or an ARN (`arn:aws:bedrock:us-east-1:123456789012:
//! application-inference-profile/abc`, provisioned throughput, imported models). In the path
//! every byte outside the unreserved set is percent-encoded, as the AWS SDKs do: `:` is
//! `%3A` and an ARN's `/` is `%2F`.

/// Geography prefixes of cross-region (system-defined) inference profiles.
pub const PROFILE_PREFIXES: &[&str] = &[
    "global.", "us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.",
];

/// Percent-encodes one path segment (RFC 3986 unreserved bytes stay).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/model/{id}/{action}` with the id encoded.
pub fn model_path(model: &str, action: &str) -> String {
    format!("/model/{}/{action}", encode_segment(model))
}

/// The foundation-model id inside a model id: the ARN's resource name, without a
/// cross-region prefix (`us.anthropic.claude-…` → `anthropic.claude-…`).
pub fn base_model_id(model: &str) -> &str {
    let id = if model.starts_with("arn:") {
        model.rsplit('/').next().unwrap_or(model)
    } else {
        model
    };
    PROFILE_PREFIXES
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id)
}

/// The model family (the id's vendor part: `anthropic`, `amazon`, `meta`, `cohere`, …).
pub fn vendor(model: &str) -> &str {
    base_model_id(model).split('.').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_encoded_like_the_sdks() {
        assert_eq!(
            model_path("amazon.nova-micro-v1:0", "converse"),
            "/model/amazon.nova-micro-v1%3A0/converse"
        );
        assert_eq!(
            model_path(
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "converse-stream"
            ),
            "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse-stream"
        );
        assert_eq!(
            model_path(
                "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3",
                "converse"
            ),
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3/converse"
        );
        assert_eq!(model_path("a b?#", "invoke"), "/model/a%20b%3F%23/invoke");
    }

    #[test]
    fn base_ids() {
        for (id, base) in [
            (
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "anthropic.claude-sonnet-4-5-20250929-v1:0",
            ),
            (
                "global.anthropic.claude-haiku-4-5-20251001-v1:0",
                "anthropic.claude-haiku-4-5-20251001-v1:0",
            ),
            ("eu.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0"),
            ("apac.amazon.nova-micro-v1:0", "amazon.nova-micro-v1:0"),
            (
                "amazon.titan-embed-text-v2:0",
                "amazon.titan-embed-text-v2:0",
            ),
            (
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
                "anthropic.claude-3-haiku-20240307-v1:0",
            ),
            (
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-3-70b-instruct-v1:0",
                "meta.llama3-3-70b-instruct-v1:0",
            ),
        ] {
            assert_eq!(base_model_id(id), base, "{id}");
        }
        assert_eq!(
            vendor("us.anthropic.claude-3-haiku-20240307-v1:0"),
            "anthropic"
        );
    }
}
