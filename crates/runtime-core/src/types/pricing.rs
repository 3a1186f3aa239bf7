//! Prices per token, shared by the router (lowest-cost routing) and metrics (cost records).

use serde::{Deserialize, Serialize};

use super::usage::Usage;

/// Prices of one model, in US dollars per million tokens.
///
/// Cached and cache-write prices default to the input price and the reasoning price to the
/// output price when not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelPricing {
    /// Uncached input tokens.
    pub input_per_mtok: f64,
    /// Output tokens (reasoning included unless `reasoning_per_mtok` is set).
    pub output_per_mtok: f64,
    /// Input tokens read from the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
    /// Input tokens written to the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_per_mtok: Option<f64>,
    /// Reasoning output tokens, where priced apart from output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_per_mtok: Option<f64>,
    /// One search unit of a rerank call (Cohere: one query over up to 100 documents), in US
    /// dollars; `None` where the model is not priced by search.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_search_unit: Option<f64>,
}

impl ModelPricing {
    /// The cost of `usage` in US dollars, each token priced once: cached input at the cached
    /// rate (not also at the input rate), cache writes at their rate, reasoning once.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let cached = usage.cached_prompt_tokens.min(usage.prompt_tokens);
        let writes = usage
            .cache_creation_tokens
            .min(usage.prompt_tokens - cached);
        let plain_in = usage.prompt_tokens - cached - writes;
        let reasoning = usage.reasoning_tokens.min(usage.completion_tokens);
        let (plain_out, reasoning_rate) = match self.reasoning_per_mtok {
            Some(r) => (usage.completion_tokens - reasoning, r),
            None => (usage.completion_tokens, 0.0),
        };
        let reasoning_cost = if self.reasoning_per_mtok.is_some() {
            reasoning as f64 * reasoning_rate
        } else {
            0.0
        };
        (plain_in as f64 * self.input_per_mtok
            + cached as f64 * self.cached_input_per_mtok.unwrap_or(self.input_per_mtok)
            + writes as f64 * self.cache_write_per_mtok.unwrap_or(self.input_per_mtok)
            + plain_out as f64 * self.output_per_mtok
            + reasoning_cost)
            / 1_000_000.0
    }

    /// The cost of `units` search units (rerank), `None` when the model has no search price.
    pub fn search_cost(&self, units: u64) -> Option<f64> {
        self.per_search_unit.map(|p| units as f64 * p)
    }

    /// A rough cost of a request before it is sent: `prompt` input and `completion` output tokens.
    pub fn estimate(&self, prompt: u64, completion: u64) -> f64 {
        (prompt as f64 * self.input_per_mtok + completion as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_and_reasoning_priced_once() {
        let p = ModelPricing {
            input_per_mtok: 2.0,
            output_per_mtok: 8.0,
            cached_input_per_mtok: Some(0.5),
            cache_write_per_mtok: Some(2.5),
            reasoning_per_mtok: None,
            per_search_unit: None,
        };
        let u = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            total_tokens: 1_500_000,
            cached_prompt_tokens: 400_000,
            cache_creation_tokens: 100_000,
            reasoning_tokens: 200_000,
        };
        // 500k plain * 2 + 400k * 0.5 + 100k * 2.5 + 500k * 8 (reasoning inside output)
        let want = 1.0 + 0.2 + 0.25 + 4.0;
        assert!((p.cost(&u) - want).abs() < 1e-9, "{}", p.cost(&u));
    }
}
