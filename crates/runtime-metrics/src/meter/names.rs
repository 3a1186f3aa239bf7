//! Metric and label names (Prometheus conventions; OpenTelemetry GenAI names where they fit).

/// Counter: requests made (request scope: as the client saw them).
pub const REQUESTS: &str = "gen_ai_client_requests_total";
/// Counter: requests that succeeded.
pub const SUCCESSES: &str = "gen_ai_client_request_successes_total";
/// Counter: requests that failed, by `error_type`.
pub const ERRORS: &str = "gen_ai_client_request_errors_total";
/// Histogram: whole-operation duration (OTel `gen_ai.client.operation.duration`).
pub const DURATION: &str = "gen_ai_client_operation_duration_seconds";
/// Histogram: time to the first content event of a stream (OTel
/// `gen_ai.server.time_to_first_token`, measured by the gateway).
pub const TTFT: &str = "gen_ai_server_time_to_first_token_seconds";
/// Histogram: time per output token after the first (OTel
/// `gen_ai.server.time_per_output_token`; whole answers: generation time per token).
pub const TPOT: &str = "gen_ai_server_time_per_output_token_seconds";
/// Histogram: output tokens per second of generation.
pub const OUTPUT_TPS: &str = "gen_ai_client_output_tokens_per_second";
/// Histogram: tokens per request, by `gen_ai_token_type` `input` / `output` (OTel
/// `gen_ai.client.token.usage`).
pub const TOKEN_USAGE: &str = "gen_ai_client_token_usage";
/// Counter: tokens, by `gen_ai_token_type` (input, output, cached_input, cache_write,
/// reasoning).
pub const TOKENS: &str = "modelrt_tokens_total";
/// Counter: router attempts at a provider (attempt scope).
pub const ATTEMPTS: &str = "modelrt_attempts_total";
/// Counter: attempts that succeeded.
pub const ATTEMPT_SUCCESSES: &str = "modelrt_attempt_successes_total";
/// Counter: attempts that failed, by `error_type`.
pub const ATTEMPT_ERRORS: &str = "modelrt_attempt_errors_total";
/// Histogram: duration of one attempt (streams: until the stream ended).
pub const ATTEMPT_DURATION: &str = "modelrt_attempt_duration_seconds";
/// Counter: provider cost in US dollars, in nano-dollars (Prometheus counters are integers).
pub const COST: &str = "gen_ai_client_cost_nanodollars_total";
/// Counter: cost avoided by answers served from our cache, in nano-dollars.
pub const SAVED: &str = "gen_ai_client_cache_savings_nanodollars_total";
/// Counter: requests with usage but no known price.
pub const UNPRICED: &str = "gen_ai_client_unpriced_requests_total";
/// Counter: requests answered from our response cache (labelled with the provider that
/// produced the cached answer).
pub const CACHE_HITS: &str = "gen_ai_client_cache_hits_total";

/// Label: the provider instance.
pub const PROVIDER: &str = "gen_ai_provider_name";
/// Label: the router deployment (absent when none).
pub const DEPLOYMENT: &str = "deployment";
/// Label: the model the client asked for.
pub const MODEL: &str = "gen_ai_request_model";
/// Label: chat, chat_stream, completion, completion_stream, embedding or rerank.
pub const OPERATION: &str = "gen_ai_operation_name";
/// Label: the error kind (`runtime_core::Error::kind`).
pub const ERROR_TYPE: &str = "error_type";
/// Label: input, output, cached_input, cache_write or reasoning.
pub const TOKEN_TYPE: &str = "gen_ai_token_type";
