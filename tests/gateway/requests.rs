//! What real OpenAI clients send (issue 15, item 3): embedding `input` as token arrays, every
//! route without its `/v1` prefix, requests whose kind does not fit the model, and the
//! unknown-model error that lists only what the caller's key may use.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};

const KEY: &str = "sk-requests-key";

/// `mock` (OpenAI type) and `ollama` (native API, text-only embeddings) behind logical models.
fn config(up: &str) -> String {
    mock_config(
        up,
        &format!(
            r#"
[providers.ollama]
type = "local"
api = "ollama"
base_url = "{up}"

[[models]]
name = "chat"
type = "chat"

[[models.deployments]]
provider = "mock"
model = "gpt-4o-mini"

[[models]]
name = "embed"
type = "embedding"

[[models.deployments]]
provider = "mock"
model = "text-embedding-3-small"

[[models]]
name = "local-embed"
type = "embedding"

[[models.deployments]]
provider = "ollama"
model = "nomic-embed-text"

[[models]]
name = "untyped"

[[models.deployments]]
provider = "mock"
model = "gpt-4o-mini"

[[models]]
name = "hidden-model"

[[models.deployments]]
provider = "mock"
model = "gpt-4o"

[storage]
enabled = false

[gateway]
master_key = "sk-requests-master"

[[gateway.keys]]
id = "limited"
key = "{KEY}"
models = ["chat", "embed", "local-embed", "untyped", "m*"]
"#
        ),
    )
}

async fn post(gw: &Gw, path: &str, body: Value) -> reqwest::Response {
    client()
        .post(gw.at(path))
        .bearer_auth(KEY)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn upstream_embedding_inputs(up: &wiremock::MockServer) -> Vec<Value> {
    received_bodies(up, "/v1/embeddings")
        .await
        .into_iter()
        .map(|b| b["input"].clone())
        .collect()
}

#[tokio::test]
async fn token_arrays_are_forwarded_to_an_openai_upstream_and_refused_by_a_text_only_one() {
    let (up, gw) = gw_over_openai(config).await;

    let resp = post(
        &gw,
        "/v1/embeddings",
        json!({"model": "embed", "input": [[1, 2, 3], [4]]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2, "{v}");
    let resp = post(
        &gw,
        "/v1/embeddings",
        json!({"model": "mock/text-embedding-3-small", "input": [5, 6]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        upstream_embedding_inputs(&up).await,
        [json!([[1, 2, 3], [4]]), json!([[5, 6]])]
    );

    // Ollama's native API embeds text only: a 400 that names the provider and the way out,
    // and nothing is sent upstream.
    let before = up.received_requests().await.unwrap().len();
    let resp = post(
        &gw,
        "/v1/embeddings",
        json!({"model": "local-embed", "input": [[1, 2]]}),
    )
    .await;
    let v = error_envelope(resp, 400).await;
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("ollama") && msg.contains("token ids"), "{v}");
    assert_eq!(v["error"]["param"], "input", "{v}");
    assert_eq!(up.received_requests().await.unwrap().len(), before);

    // Bad shapes name the field.
    for bad in [json!([[]]), json!([1, "a"]), json!([-1]), json!([])] {
        let resp = post(
            &gw,
            "/v1/embeddings",
            json!({"model": "embed", "input": bad}),
        )
        .await;
        let v = error_envelope(resp, 400).await;
        assert!(
            v["error"]["param"]
                .as_str()
                .unwrap_or("")
                .starts_with("input"),
            "{bad}: {v}"
        );
    }
}

#[tokio::test]
async fn every_route_also_answers_without_the_v1_prefix() {
    let (_up, gw) = gw_over_openai(config).await;
    let resp = post(&gw, "/chat/completions", chat_body("chat")).await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there!");

    let resp = post(
        &gw,
        "/chat/completions",
        json!({"model": "chat", "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().ends_with("data: [DONE]\n\n"));

    let resp = post(
        &gw,
        "/completions",
        json!({"model": "mock/gpt-3.5-turbo-instruct", "prompt": "hi"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let resp = post(&gw, "/embeddings", json!({"model": "embed", "input": "hi"})).await;
    assert_eq!(resp.status(), 200);

    for path in ["/models", "/models/chat"] {
        let resp = client()
            .get(gw.at(path))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
    // Still authenticated, and other paths are not rewritten.
    let resp = client()
        .post(gw.at("/chat/completions"))
        .json(&chat_body("chat"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client().get(gw.at("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = client().get(gw.at("/nothing-here")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_request_of_the_wrong_kind_for_its_model_is_a_400() {
    let (up, gw) = gw_over_openai(config).await;
    let before = up.received_requests().await.unwrap().len();

    let resp = post(&gw, "/v1/chat/completions", chat_body("embed")).await;
    let v = error_envelope(resp, 400).await;
    assert_eq!(v["error"]["code"], "model_kind_mismatch", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("embedding model"),
        "{v}"
    );

    let resp = post(
        &gw,
        "/v1/completions",
        json!({"model": "embed", "prompt": "hi"}),
    )
    .await;
    assert_eq!(
        error_envelope(resp, 400).await["error"]["code"],
        "model_kind_mismatch"
    );

    let resp = post(
        &gw,
        "/v1/embeddings",
        json!({"model": "chat", "input": "hi"}),
    )
    .await;
    let v = error_envelope(resp, 400).await;
    assert_eq!(v["error"]["code"], "model_kind_mismatch", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chat model"),
        "{v}"
    );

    // `provider/model` from the static catalog: an embedding model cannot chat.
    let resp = post(
        &gw,
        "/v1/chat/completions",
        chat_body("mock/text-embedding-3-small"),
    )
    .await;
    assert_eq!(
        error_envelope(resp, 400).await["error"]["code"],
        "model_kind_mismatch"
    );

    assert_eq!(
        up.received_requests().await.unwrap().len(),
        before,
        "nothing was forwarded"
    );

    // A logical model without an explicit `type` keeps serving both, as before.
    let resp = post(
        &gw,
        "/v1/embeddings",
        json!({"model": "untyped", "input": "hi"}),
    )
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn an_unknown_model_lists_only_what_the_key_may_use() {
    let (_up, gw) = gw_over_openai(config).await;
    // Allowed by the key's `m*` pattern, but nothing serves it.
    let resp = post(&gw, "/v1/chat/completions", chat_body("missing-model")).await;
    let v = error_envelope(resp, 404).await;
    assert_eq!(v["error"]["code"], "model_not_found", "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    for name in ["chat", "embed", "local-embed", "mock/<model>"] {
        assert!(msg.contains(name), "{name} missing: {msg}");
    }
    assert!(!msg.contains("hidden-model"), "{msg}");
    assert!(
        !msg.contains("ollama/"),
        "the key reaches no ollama model: {msg}"
    );

    // The master key sees everything; a huge name is excerpted.
    let long = format!("m{}", "x".repeat(5000));
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth("sk-requests-master")
        .json(&chat_body(&long))
        .send()
        .await
        .unwrap();
    let v = error_envelope(resp, 404).await;
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("hidden-model") && msg.contains("ollama/<model>"),
        "{msg}"
    );
    assert!(msg.len() < 2000, "{}", msg.len());
}
