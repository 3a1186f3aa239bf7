//! Token usage.

use serde::{Deserialize, Serialize};

/// Token counts of one request, in OpenAI's vocabulary.
///
/// `prompt_tokens` includes cached and cache-write tokens; `completion_tokens` includes
/// reasoning tokens. The detail counts say how many of those were cached, written to the
/// provider's prompt cache, or spent on reasoning, so cost can price each part once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "WireUsage", into = "WireUsage")]
pub struct Usage {
    /// All input tokens.
    pub prompt_tokens: u64,
    /// All output tokens (reasoning included).
    pub completion_tokens: u64,
    /// Input plus output, as the provider reported it (or computed).
    pub total_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_prompt_tokens: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic cache creation).
    pub cache_creation_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
}

impl Usage {
    /// A usage with prompt and completion counts; total computed.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        Self {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens + completion_tokens,
            ..Self::default()
        }
    }

    /// Adds another usage to this one, field by field.
    pub fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.total_tokens += other.total_tokens;
        self.cached_prompt_tokens += other.cached_prompt_tokens;
        self.cache_creation_tokens += other.cache_creation_tokens;
        self.reasoning_tokens += other.reasoning_tokens;
    }
}

#[derive(Serialize, Deserialize, Default)]
struct PromptDetails {
    #[serde(default)]
    cached_tokens: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    cache_creation_tokens: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct CompletionDetails {
    #[serde(default)]
    reasoning_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize, Deserialize)]
struct WireUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prompt_tokens_details: Option<PromptDetails>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    completion_tokens_details: Option<CompletionDetails>,
}

impl From<WireUsage> for Usage {
    fn from(w: WireUsage) -> Self {
        let p = w.prompt_tokens_details.unwrap_or_default();
        let c = w.completion_tokens_details.unwrap_or_default();
        Usage {
            prompt_tokens: w.prompt_tokens,
            completion_tokens: w.completion_tokens,
            total_tokens: w
                .total_tokens
                .unwrap_or(w.prompt_tokens + w.completion_tokens),
            cached_prompt_tokens: p.cached_tokens,
            cache_creation_tokens: p.cache_creation_tokens,
            reasoning_tokens: c.reasoning_tokens,
        }
    }
}

impl From<Usage> for WireUsage {
    fn from(u: Usage) -> Self {
        WireUsage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: Some(u.total_tokens),
            prompt_tokens_details: Some(PromptDetails {
                cached_tokens: u.cached_prompt_tokens,
                cache_creation_tokens: u.cache_creation_tokens,
            }),
            completion_tokens_details: Some(CompletionDetails {
                reasoning_tokens: u.reasoning_tokens,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn openai_shape_round_trips() {
        let v = json!({
            "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
            "prompt_tokens_details": {"cached_tokens": 3, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 4, "audio_tokens": 0}
        });
        let u: Usage = serde_json::from_value(v).unwrap();
        assert_eq!(u.cached_prompt_tokens, 3);
        assert_eq!(u.reasoning_tokens, 4);
        let back: Usage = serde_json::from_value(serde_json::to_value(u).unwrap()).unwrap();
        assert_eq!(back, u);
    }

    #[test]
    fn total_computed_when_absent() {
        let u: Usage =
            serde_json::from_value(json!({"prompt_tokens": 2, "completion_tokens": 3})).unwrap();
        assert_eq!(u.total_tokens, 5);
    }
}
