//! Every file of the TGI fixture directory is used by some test or conformance case of this
//! crate: this test fails when a fixture is added and nothing reads it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use runtime_testkit::fixtures;

#[test]
fn every_tgi_fixture_is_exercised() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests");
    let mut sources = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let is_rs = path.extension().is_some_and(|e| e == "rs");
        if is_rs && !path.ends_with("fixture_coverage.rs") {
            sources.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    for cases in ["messages", "generate", "embeddings"] {
        let dir = format!("{dir}/conformance/{cases}");
        sources.push_str(&fixtures::used_by_cases("tgi", std::path::Path::new(&dir)).join("\n"));
    }
    let all = fixtures::list("tgi");
    assert!(all.len() >= 7, "{all:?}");
    let missing: Vec<&String> = all
        .iter()
        .filter(|f| !sources.contains(f.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "fixtures no test of provider-huggingface reads: {missing:?}"
    );
}
