//! A re-targeted call (a router deployment's model) reaches Mistral with the call's model, which
//! also decides where a completion goes (Codestral's are FIM).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_mistral::MistralSettings;
use runtime_core::http::HttpClient;
use runtime_core::{ChatRequest, CompletionRequest, Message, RequestContext, Secret};
use runtime_testkit::fixtures;
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn a_retargeted_call_sends_the_calls_model_and_leaves_the_body_alone() {
    let server = MockServer::start().await;
    let answer = fixtures::bytes("mistral", "fim-codestral.response.json");
    for (route, model) in [
        ("/v1/chat/completions", "other-model"),
        ("/v1/fim/completions", "codestral-latest"),
    ] {
        Mock::given(method("POST"))
            .and(path(route))
            .and(body_partial_json(json!({ "model": model })))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(answer.clone(), "application/json"),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let mut s = MistralSettings::new("mistral", Secret::new("k"));
    s.base_url = format!("{}/v1", server.uri());
    let p = s.build(HttpClient::new(&Default::default()).unwrap());
    let ctx = RequestContext::new();
    let chat = ChatRequest::new("mistral-small-latest", vec![Message::user("hi")]);
    let call = runtime_core::Call::chat(&chat).with_model("other-model");
    runtime_core::call::serve(&p, call, &ctx).await.unwrap();
    assert_eq!(chat.model, "mistral-small-latest");
    // Re-targeted to a Codestral model, a plain completion goes to FIM.
    let completion = CompletionRequest {
        model: "mistral-small-latest".into(),
        prompt: "func main() {".into(),
        ..CompletionRequest::default()
    };
    let call = runtime_core::Call::complete(&completion).with_model("codestral-latest");
    runtime_core::call::serve(&p, call, &ctx).await.unwrap();
    assert_eq!(completion.model, "mistral-small-latest");
}
