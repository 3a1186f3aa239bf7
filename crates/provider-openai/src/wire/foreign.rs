//! Request fields of other dialects that an OpenAI-style upstream does not take.
//!
//! Anthropic's Messages API (served by the gateway's `/v1/messages` over any provider) puts
//! `thinking` (`{"type": "enabled", "budget_tokens": N}`) and `top_k` in the core request's
//! `extra`, which the OpenAI body would otherwise flatten raw into the upstream's request —
//! where OpenAI answers 400 ("Unrecognized request argument supplied: thinking").
//!
//! - `thinking` never goes raw. An enabled budget becomes `reasoning_effort` (unless the
//!   request already names one), bucketed as LiteLLM does (`reasoning_effort_from_thinking_budget`:
//!   ≥ 4096 `high`, ≥ 2048 `medium`, otherwise `low`), on OpenAI's own API for its reasoning
//!   models only (the others reject `reasoning_effort`) and on every other OpenAI-compatible
//!   server (vLLM, llama.cpp read it; the rest ignore it). Otherwise it is dropped.
//! - `top_k` is dropped on OpenAI's own API (which has no such parameter) and kept elsewhere
//!   (vLLM, llama.cpp, Ollama take it).
//!
//! What was dropped is returned so the provider can report it (the gateway's
//! `x-modelrt-dropped-params` header).

use serde_json::{Map, Value};

use super::requires_max_completion_tokens;

/// The `reasoning_effort` for an Anthropic thinking budget (LiteLLM's buckets).
pub fn effort_for_budget(budget_tokens: u64) -> &'static str {
    match budget_tokens {
        4096.. => "high",
        2048..4096 => "medium",
        _ => "low",
    }
}

/// `extra` made fit for an OpenAI-style upstream serving `model` (`official`: OpenAI's own
/// API), or `None` when it already is; with the names of the fields dropped.
pub fn openai_extra(
    extra: &Map<String, Value>,
    model: &str,
    official: bool,
) -> Option<(Map<String, Value>, Vec<&'static str>)> {
    let top_k_dropped = official && extra.contains_key("top_k");
    if !(extra.contains_key("thinking") || top_k_dropped) {
        return None;
    }
    let mut out = extra.clone();
    let mut dropped = Vec::new();
    if let Some(thinking) = out.remove("thinking") {
        let budget = (thinking.get("type").and_then(Value::as_str) == Some("enabled"))
            .then(|| thinking.get("budget_tokens").and_then(Value::as_u64))
            .flatten();
        let takes_effort = !official || requires_max_completion_tokens(model);
        match budget {
            Some(b) if takes_effort => {
                out.entry("reasoning_effort")
                    .or_insert_with(|| Value::from(effort_for_budget(b)));
            }
            // Disabled thinking is what a model without it does anyway.
            None if thinking.get("type").and_then(Value::as_str) == Some("disabled") => {}
            _ => dropped.push("thinking"),
        }
    }
    if official && out.remove("top_k").is_some() {
        dropped.push("top_k");
    }
    Some((out, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn budgets_bucket_like_litellm() {
        assert_eq!(effort_for_budget(1024), "low");
        assert_eq!(effort_for_budget(2047), "low");
        assert_eq!(effort_for_budget(2048), "medium");
        assert_eq!(effort_for_budget(4095), "medium");
        assert_eq!(effort_for_budget(4096), "high");
        assert_eq!(effort_for_budget(32_000), "high");
    }

    #[test]
    fn thinking_becomes_reasoning_effort_where_the_model_takes_it() {
        let extra =
            map(json!({"thinking": {"type": "enabled", "budget_tokens": 2048}, "top_k": 5}));
        let (out, dropped) = openai_extra(&extra, "o3", true).unwrap_or_default();
        assert_eq!(Value::Object(out), json!({"reasoning_effort": "medium"}));
        assert_eq!(dropped, ["top_k"]);
        // A non-reasoning OpenAI model rejects reasoning_effort: dropped, and said so.
        let (out, dropped) = openai_extra(&extra, "gpt-4o", true).unwrap_or_default();
        assert_eq!(Value::Object(out), json!({}));
        assert_eq!(dropped, ["thinking", "top_k"]);
        // Another OpenAI-compatible server: effort, and top_k kept.
        let (out, dropped) = openai_extra(&extra, "Qwen/Qwen3-8B", false).unwrap_or_default();
        assert_eq!(
            Value::Object(out),
            json!({"reasoning_effort": "medium", "top_k": 5})
        );
        assert!(dropped.is_empty());
    }

    #[test]
    fn an_explicit_effort_wins_and_disabled_thinking_goes_silently() {
        let extra = map(
            json!({"thinking": {"type": "enabled", "budget_tokens": 9000},
                               "reasoning_effort": "low"}),
        );
        let (out, _) = openai_extra(&extra, "o4-mini", true).unwrap_or_default();
        assert_eq!(Value::Object(out), json!({"reasoning_effort": "low"}));
        let extra = map(json!({"thinking": {"type": "disabled"}}));
        let (out, dropped) = openai_extra(&extra, "gpt-4o", true).unwrap_or_default();
        assert!(out.is_empty() && dropped.is_empty());
    }

    #[test]
    fn plain_requests_are_untouched() {
        assert!(openai_extra(&map(json!({"seed_x": 1})), "gpt-4o", true).is_none());
        assert!(openai_extra(&map(json!({"top_k": 3})), "llama", false).is_none());
    }
}
