//! Every file of `fixtures/gemini` is exercised by some test of this crate. The list says
//! where; a new fixture fails this test until a test uses it and it is listed here.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

const USED: &[(&str, &str)] = &[
    (
        "batch-embed-contents.meta.json",
        "provenance of the batch-embed pair (path :batchEmbedContents checked in http.rs)",
    ),
    (
        "batch-embed-contents.request.json",
        "wire.rs batch_embed_request_matches_the_recording; conformance",
    ),
    (
        "batch-embed-contents.response.json",
        "wire.rs batch_embed_response; conformance",
    ),
    (
        "error-400-invalid-api-key.meta.json",
        "provenance (GET /models): http.rs list_models_error_is_typed",
    ),
    (
        "error-400-invalid-api-key.response.json",
        "wire.rs error_fixtures_map_to_typed_errors; http.rs; conformance",
    ),
    (
        "error-404-model-not-found.meta.json",
        "provenance of the 404 pair",
    ),
    (
        "error-404-model-not-found.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "error-404-model-not-found.response.json",
        "wire.rs error_fixtures_map_to_typed_errors; conformance",
    ),
    (
        "error-429-retry-info.response.json",
        "wire.rs error_fixtures_map_to_typed_errors; conformance",
    ),
    (
        "function-call.meta.json",
        "provenance of the function-call pair",
    ),
    (
        "function-call.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "function-call.response.json",
        "wire.rs function_call_gets_a_stable_id_and_round_trips; conformance",
    ),
    (
        "function-response-followup.meta.json",
        "provenance of the follow-up pair",
    ),
    (
        "function-response-followup.request.json",
        "wire.rs chat_requests_match_the_recordings, function_call_gets_a_stable_id_and_round_trips",
    ),
    (
        "function-response-followup.response.json",
        "wire.rs whole_responses; conformance",
    ),
    ("generate-basic.meta.json", "provenance of the basic pair"),
    (
        "generate-basic.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "generate-basic.response.json",
        "wire.rs basic_response_counts_every_token; conformance; http.rs",
    ),
    (
        "generate-max-tokens.meta.json",
        "provenance of the max-tokens pair",
    ),
    (
        "generate-max-tokens.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "generate-max-tokens.response.json",
        "wire.rs max_tokens_with_no_parts; conformance",
    ),
    (
        "generate-system-instruction.meta.json",
        "provenance of the system-instruction pair",
    ),
    (
        "generate-system-instruction.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "generate-system-instruction.response.json",
        "wire.rs whole_responses; conformance",
    ),
    (
        "generate-thinking-usage.meta.json",
        "provenance of the thinking pair",
    ),
    (
        "generate-thinking-usage.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "generate-thinking-usage.response.json",
        "wire.rs thinking_response_keeps_thoughts_and_signature; conformance",
    ),
    (
        "max-tokens-thinking-empty.meta.json",
        "provenance of the empty max-tokens pair",
    ),
    (
        "max-tokens-thinking-empty.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "max-tokens-thinking-empty.response.json",
        "wire.rs max_tokens_with_no_parts; conformance",
    ),
    (
        "models-list.meta.json",
        "provenance (GET /models?pageSize=1000): http.rs list_models_follows_every_page",
    ),
    (
        "models-list.response.json",
        "wire.rs model_list_fixture; http.rs list_models_follows_every_page",
    ),
    (
        "safety-block-empty-content.meta.json",
        "provenance of the safety pair",
    ),
    (
        "safety-block-empty-content.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "safety-block-empty-content.response.json",
        "wire.rs safety_finish_is_content_filter_with_ratings_kept; conformance",
    ),
    (
        "stream-error-404-event-stream-content-type.meta.json",
        "read below: the 404 came as text/event-stream",
    ),
    (
        "stream-error-404-event-stream-content-type.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "stream-error-404-event-stream-content-type.response.json",
        "wire.rs error_fixtures_map_to_typed_errors; conformance",
    ),
    (
        "stream-function-call-thought-signature.meta.json",
        "provenance of the signature stream",
    ),
    (
        "stream-function-call-thought-signature.request.json",
        "wire.rs chat_requests_match_the_recordings",
    ),
    (
        "stream-function-call-thought-signature.response.sse",
        "stream.rs (every byte boundary, equals whole answer); conformance",
    ),
    ("stream-sse-crlf.meta.json", "provenance of the CRLF stream"),
    (
        "stream-sse-crlf.request.json",
        "wire.rs chat_requests_match_the_recordings; http.rs stream_url_has_only_alt_sse",
    ),
    (
        "stream-sse-crlf.response.sse",
        "stream.rs (every byte boundary, equals whole answer); conformance; http.rs; bench",
    ),
    (
        "stream-tool-call-array-args-missing-terminal.chunks.jsonl",
        "stream.rs streamed_arguments_are_assembled; conformance",
    ),
    (
        "stream-tool-call.chunks.jsonl",
        "stream.rs function_call_streams_keep_signatures_and_ids; conformance",
    ),
];

#[test]
fn every_fixture_is_used() {
    let files = runtime_testkit::fixtures::list("gemini");
    let unlisted: Vec<&String> = files
        .iter()
        .filter(|f| !USED.iter().any(|(u, _)| u == f))
        .collect();
    assert!(unlisted.is_empty(), "fixtures no test uses: {unlisted:?}");
    let missing: Vec<&str> = USED
        .iter()
        .map(|(u, _)| *u)
        .filter(|u| !files.iter().any(|f| f == u))
        .collect();
    assert!(
        missing.is_empty(),
        "listed fixtures that do not exist: {missing:?}"
    );
}

/// The recorded meta files agree with the URLs this crate builds.
#[test]
fn meta_files_match_the_paths_we_call() {
    use runtime_testkit::fixtures::json;
    for name in USED
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| n.ends_with(".meta.json"))
    {
        let m = json("gemini", name);
        let url = m["url"].as_str().or(m["path"].as_str()).unwrap();
        let path = url.split('?').next().unwrap();
        let ok = path.ends_with(":generateContent")
            || path.ends_with(":streamGenerateContent")
            || path.ends_with(":batchEmbedContents")
            || path.ends_with("/v1beta/models");
        assert!(ok, "{name}: {url}");
        if path.ends_with(":streamGenerateContent") {
            assert!(url.contains("alt=sse"), "{name}");
        }
        if name == "stream-error-404-event-stream-content-type.meta.json" {
            assert_eq!(m["status"], 404);
            assert_eq!(m["response_headers"]["content-type"], "text/event-stream");
        }
    }
}
