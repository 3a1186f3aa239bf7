//! Every Anthropic fixture is exercised by some test of this crate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use runtime_testkit::fixtures;

/// Every fixture file, as the tests use it. `*.meta.json` files are replayed (with their
/// request and response files) by `provider.rs::every_recorded_exchange_replays`, which reads
/// the directory; every other file is named in a test source.
const USED: &[&str] = &[
    "error-400-invalid-request.meta.json",
    "error-400-invalid-request.request.json",
    "error-400-invalid-request.response.json",
    "error-401-authentication.meta.json",
    "error-401-authentication.request.json",
    "error-401-authentication.response.json",
    "error-404-not-found.meta.json",
    "error-404-not-found.request.json",
    "error-404-not-found.response.json",
    "messages-basic-system.meta.json",
    "messages-basic-system.request.json",
    "messages-basic-system.response.json",
    "messages-parallel-tool-use.meta.json",
    "messages-parallel-tool-use.request.json",
    "messages-parallel-tool-use.response.json",
    "messages-prompt-cache-read.meta.json",
    "messages-prompt-cache-read.request.json",
    "messages-prompt-cache-read.response.json",
    "messages-tool-result-followup.meta.json",
    "messages-tool-result-followup.request.json",
    "messages-tool-result-followup.response.json",
    "messages-tool-use.meta.json",
    "messages-tool-use.request.json",
    "messages-tool-use.response.json",
    "models-list.meta.json",
    "models-list.response.json",
    "stream-basic.sse",
    "stream-incomplete-partial-json.sse",
    "stream-json-tool-ping-between-deltas.chunks.jsonl",
    "stream-message-delta-input-tokens.chunks.jsonl",
    "stream-refusal.chunks.jsonl",
    "stream-text-ping-padding.meta.json",
    "stream-text-ping-padding.request.json",
    "stream-text-ping-padding.response.sse",
    "stream-thinking.meta.json",
    "stream-thinking.request.json",
    "stream-thinking.response.sse",
    "stream-tool-no-args.chunks.jsonl",
    "stream-tool-use.sse",
];

const SOURCES: &[&str] = &[
    include_str!("wire_request.rs"),
    include_str!("wire_response.rs"),
    include_str!("wire_stream.rs"),
    include_str!("provider.rs"),
    include_str!("common/mod.rs"),
];

#[test]
fn every_fixture_is_listed_and_referenced() {
    let on_disk = fixtures::list("anthropic");
    let cases = fixtures::used_by_cases(
        "anthropic",
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance")),
    );
    let mut listed: Vec<String> = USED.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "the fixture directory and this list differ: add a test for the new fixture"
    );
    for name in USED {
        if name.ends_with(".meta.json") {
            let meta = fixtures::json("anthropic", name);
            let body = meta["response_body_file"].as_str().unwrap();
            assert!(USED.contains(&body), "{name} names {body}");
            continue;
        }
        assert!(
            SOURCES.iter().any(|s| s.contains(name)) || cases.iter().any(|c| c == name),
            "fixture {name} is not referenced by any test"
        );
    }
}
