//! HTTP behaviour against wiremock: registration and config, credentials, error mapping and
//! retry delays, streams that fail after HTTP 200, model listing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use futures::StreamExt;
use provider_huggingface::{Api, FACTORY};
use runtime_core::http::HttpClient;
use runtime_core::registry::validate_with;
use runtime_core::{
    BuildContext, ChatRequest, EmbeddingRequest, Error, Message, Provider, ProviderRegistry,
    RequestContext, Retryability, Secret,
};
use serde_json::{Map, Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const T: Duration = Duration::from_secs(10);

fn table(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn build_from(
    v: Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> runtime_core::Result<std::sync::Arc<dyn Provider>> {
    let cfg = validate_with(&FACTORY, "hf", &table(v), env)?;
    (FACTORY.build)(
        cfg,
        &BuildContext::new(HttpClient::new(&Default::default()).unwrap()),
    )
}

#[test]
fn registered_through_inventory_with_declared_settings() {
    let reg = ProviderRegistry::new(&[], HttpClient::new(&Default::default()).unwrap()).unwrap();
    let f = reg.factory("huggingface").unwrap();
    assert_eq!(f.crate_name, "provider-huggingface");
    let keys: Vec<&str> = f.settings.iter().map(|s| s.key).collect();
    assert_eq!(
        keys,
        [
            "api_key",
            "base_url",
            "api",
            "embeddings_url",
            "rerank_url",
            "pooling",
            "normalize",
            "timeout",
            "stream_idle_timeout"
        ]
    );
    let key = &f.settings[0];
    assert!(key.is_secret() && !key.required && key.env == Some("HF_TOKEN"));
    // Defaults fill in; the token comes from HF_TOKEN.
    let cfg = validate_with(&FACTORY, "hf", &Map::new(), &|v| {
        (v == "HF_TOKEN").then(|| "hf_env".to_owned())
    })
    .unwrap();
    assert_eq!(cfg.secret("api_key").unwrap().unwrap().expose(), "hf_env");
    assert_eq!(
        cfg.string("base_url").unwrap().as_deref(),
        Some("https://router.huggingface.co/v1")
    );
    assert_eq!(cfg.string("api").unwrap().as_deref(), Some("messages"));
    assert_eq!(cfg.string("pooling").unwrap().as_deref(), Some("mean"));
    assert_eq!(cfg.bool("normalize").unwrap(), Some(false));
    let p = build_from(json!({}), &|_| None).unwrap();
    assert_eq!(p.name(), "hf");
    assert!(p.capabilities().tools && p.capabilities().embeddings);
}

#[test]
fn config_errors_name_the_field() {
    let none = |_: &str| None;
    let field = |r: runtime_core::Result<std::sync::Arc<dyn Provider>>| match r {
        Err(Error::InvalidConfig { field, .. }) => field,
        Err(other) => panic!("{other:?}"),
        Ok(p) => panic!("built {}", p.name()),
    };
    assert_eq!(field(build_from(json!({"api": "chat"}), &none)), "api");
    assert_eq!(
        field(build_from(json!({"pooling": "max"}), &none)),
        "pooling"
    );
    assert_eq!(
        field(build_from(json!({"api": "generate"}), &none)),
        "base_url"
    );
    assert_eq!(
        field(build_from(json!({"api_base": "x"}), &none)),
        "api_base"
    );
    assert_eq!(
        field(build_from(json!({"normalize": "yes"}), &none)),
        "normalize"
    );
}

#[tokio::test]
async fn every_setting_is_read() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/generate"))
        .and(header("authorization", "Bearer hf_cfg"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "generated_text": "ok",
            "details": {"finish_reason": "eos_token", "generated_tokens": 1, "seed": null, "prefill": [], "tokens": []}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/emb/BAAI/bge-small-en-v1.5"))
        .and(header("authorization", "Bearer hf_cfg"))
        // Synthetic token-level answer for one input.
        .respond_with(ResponseTemplate::new(200).set_body_string("[[3.0, 4.0], [10.0, 10.0]]"))
        .expect(1)
        .mount(&server)
        .await;
    let p = build_from(
        json!({
            "api_key": "hf_cfg",
            "base_url": format!("{}/v1", server.uri()),
            "api": "generate",
            "embeddings_url": format!("{}/emb/{{model}}", server.uri()),
            "pooling": "cls",
            "normalize": true,
            "timeout": "5s",
            "stream_idle_timeout": "1s"
        }),
        &|_| None,
    )
    .unwrap();
    let caps = p.capabilities();
    assert!(!caps.tools && !caps.vision && caps.completion);
    let ctx = RequestContext::new();
    let r = p
        .chat(&ChatRequest::new("tgi", vec![Message::user("hi")]), &ctx)
        .await
        .unwrap();
    assert_eq!(r.message.text().as_deref(), Some("ok"));
    let e = p
        .embed(
            &EmbeddingRequest::new("BAAI/bge-small-en-v1.5", vec!["x".into()]),
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!(
        e.data[0].embedding,
        vec![0.6, 0.8],
        "cls pooling, normalized"
    );
}

#[tokio::test]
async fn stream_idle_timeout_is_the_configured_one() {
    let server = runtime_testkit::fault::FaultServer::start(vec![
        runtime_testkit::fault::Action::head(200, "text/event-stream"),
        runtime_testkit::fault::Action::Stall,
    ])
    .await;
    let p = build_from(
        json!({"base_url": server.url(), "api": "generate", "stream_idle_timeout": "300ms", "timeout": "30s"}),
        &|_| None,
    )
    .unwrap();
    let mut s = p
        .chat_stream(
            &ChatRequest::new("tgi", vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    match s.next().await {
        Some(Err(Error::Timeout { after, .. })) => assert_eq!(after, Duration::from_millis(300)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn request_key_overrides_and_local_tgi_needs_none() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                std::fs::read(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/data/completion-stream-usage.equivalent.synthetic.json"
                ))
                .unwrap(),
                "application/json",
            ),
        )
        .mount(&server)
        .await;
    let req = ChatRequest::new("tgi", vec![Message::user("hi")]);
    let configured = common::provider(&server.uri(), Some("hf_configured"), Api::Messages, T);
    let mut ctx = RequestContext::new();
    ctx.api_key = Some(Secret::new("hf_rotated"));
    configured.chat(&req, &ctx).await.unwrap();
    let local = common::provider(&server.uri(), None, Api::Messages, T);
    local.chat(&req, &RequestContext::new()).await.unwrap();
    // Embeddings and /generate use the same credential rules.
    let reqs = server.received_requests().await.unwrap();
    let auth = |i: usize| {
        reqs[i]
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(auth(0).as_deref(), Some("Bearer hf_rotated"));
    assert_eq!(auth(1), None);
}

#[tokio::test]
async fn model_loading_503_is_retried_after_estimated_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_raw(
            r#"{"error":"Model BAAI/bge-small-en-v1.5 is currently loading","estimated_time":20.0}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = common::provider(&server.uri(), Some("hf_x"), Api::Messages, T);
    let e = p
        .embed(
            &EmbeddingRequest::new("BAAI/bge-small-en-v1.5", vec!["x".into()]),
            &RequestContext::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.retryability(),
        Retryability::Retry {
            after: Some(Duration::from_secs(20))
        },
        "{e:?}"
    );
    assert!(e.to_string().contains("currently loading"));
}

#[tokio::test]
async fn tgi_status_classes() {
    // Synthetic bodies in TGI's error shape.
    type Case = (u16, &'static str, &'static str, fn(&Error) -> bool, bool);
    let cases: [Case; 4] = [
        (
            422,
            "Input validation error: `temperature` must be strictly positive",
            "validation",
            |e| matches!(e, Error::InvalidRequest { .. }),
            false,
        ),
        (
            424,
            "Request failed during generation: Server error: CUDA out of memory",
            "generation",
            |e| matches!(e, Error::Api { status: 424, .. }),
            false,
        ),
        (
            429,
            "Model is overloaded",
            "overloaded",
            |e| matches!(e, Error::RateLimited { .. }),
            true,
        ),
        (
            500,
            "Incomplete generation",
            "incomplete_generation",
            |e| matches!(e, Error::Api { status: 500, .. }),
            true,
        ),
    ];
    for (status, msg, kind, is, retry) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(json!({"error": msg, "error_type": kind})),
            )
            .mount(&server)
            .await;
        for api in [Api::Messages, Api::Generate] {
            let p = common::provider(&server.uri(), None, api, T);
            let e = p
                .chat(
                    &ChatRequest::new("tgi", vec![Message::user("hi")]),
                    &RequestContext::new(),
                )
                .await
                .unwrap_err();
            assert!(is(&e), "{status} {api:?}: {e:?}");
            assert_eq!(e.is_retryable(), retry, "{status}: {e:?}");
            assert!(e.to_string().contains(msg), "{e}");
        }
    }
}

#[tokio::test]
async fn generate_stream_errors_after_200() {
    let server = MockServer::start().await;
    let body = "data:{\"index\":1,\"token\":{\"id\":5,\"text\":\" Hi\",\"logprob\":-0.1,\"special\":false},\"generated_text\":null,\"details\":null}\n\n\
                data:{\"error\":\"Request failed during generation: Server error: CUDA out of memory\",\"error_type\":\"generation\"}\n\n";
    Mock::given(method("POST"))
        .and(path("/generate_stream"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(&server)
        .await;
    let p = common::provider(&server.uri(), None, Api::Generate, T);
    let s = p
        .chat_stream(
            &ChatRequest::new("tgi", vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    let events: Vec<_> = s.collect().await;
    assert!(matches!(
        events.last(),
        Some(Err(Error::Stream {
            content_sent: true,
            transient: false,
            ..
        }))
    ));
    assert_eq!(events.len(), 3, "start, text, error");

    // A validation error TGI reports inside a 200 stream (e.g. best_of with streaming).
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/generate_stream"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            "data:{\"error\":\"Input validation error: `best_of` != 1 is not supported when streaming tokens\",\"error_type\":\"validation\"}\n\n",
            "text/event-stream",
        ))
        .mount(&server)
        .await;
    let p = common::provider(&server.uri(), None, Api::Generate, T);
    let mut req = ChatRequest::new("tgi", vec![Message::user("hi")]);
    req.extra.insert("best_of".into(), json!(2));
    let r = p
        .chat_stream(&req, &RequestContext::new())
        .await
        .unwrap()
        .collect_response()
        .await;
    assert!(matches!(r, Err(Error::InvalidRequest { .. })), "{r:?}");
    let sent: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["parameters"]["best_of"], json!(2));
}

#[tokio::test]
async fn generate_mode_sends_nothing_it_cannot_express() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"generated_text": "x"})))
        .expect(0)
        .mount(&server)
        .await;
    let p = common::provider(&server.uri(), None, Api::Generate, T);
    let e = p
        .chat(
            &ChatRequest::new("tgi", vec![Message::system("s"), Message::user("hi")]),
            &RequestContext::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.param(), Some("messages"));
    let e = p
        .complete(
            &runtime_core::CompletionRequest {
                model: "tgi".into(),
                prompt: "a".into(),
                suffix: Some("b".into()),
                ..Default::default()
            },
            &RequestContext::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.param(), Some("suffix"));
}

#[tokio::test]
async fn completion_stream_over_generate_and_over_messages() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/generate_stream"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(common::generate_stream_from_details(3), "text/event-stream"),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            common::tgi_sse("completion-stream-usage.chunks.json", true),
            "text/event-stream",
        ))
        .mount(&server)
        .await;
    let req = runtime_core::CompletionRequest {
        model: "tgi".into(),
        prompt: "GET".into(),
        max_tokens: Some(10),
        ..Default::default()
    };
    let g = common::provider(&server.uri(), None, Api::Generate, T);
    let r = g
        .complete_stream(&req, &RequestContext::new())
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(r.message.text().as_deref(), Some(" for /api/v1/projects/1"));
    let m = common::provider(&server.uri(), None, Api::Messages, T);
    let r = m
        .complete_stream(&req, &RequestContext::new())
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(r.usage.map(|u| u.total_tokens), Some(50));
    let reqs = server.received_requests().await.unwrap();
    let gen_body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(gen_body["inputs"], "GET");
    assert_eq!(gen_body["parameters"]["max_new_tokens"], 10);
    let chat_body: Value = serde_json::from_slice(&reqs[1].body).unwrap();
    assert_eq!(
        chat_body["messages"],
        json!([{"role": "user", "content": "GET"}])
    );
    assert_eq!(chat_body["stream"], true);
}

#[tokio::test]
async fn list_models_per_api() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/info"))
        // Synthetic: the fields of TGI's /info this crate reads.
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model_id": "meta-llama/Llama-3.1-8B-Instruct", "max_total_tokens": 8192,
            "version": "3.1.2-dev0"
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [{"id": "meta-llama/Llama-3.1-8B-Instruct", "object": "model", "created": 1, "owned_by": "meta-llama"}]
        })))
        .mount(&server)
        .await;
    let g = common::provider(&server.uri(), None, Api::Generate, T);
    let m = g.list_models(&RequestContext::new()).await.unwrap();
    assert_eq!(m[0].id, "meta-llama/Llama-3.1-8B-Instruct");
    assert_eq!(m[0].context_window, Some(8192));
    assert!(g.health(&RequestContext::new()).await.unwrap().healthy);
    let p = common::provider(&server.uri(), None, Api::Messages, T);
    let m = p.list_models(&RequestContext::new()).await.unwrap();
    assert_eq!(m[0].owned_by.as_deref(), Some("meta-llama"));
}

#[tokio::test]
async fn a_retargeted_streamed_chat_sends_the_calls_model_and_leaves_the_body_alone() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"model": "other-model", "stream": true}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            common::tgi_sse("completion-stream-usage.chunks.json", true),
            "text/event-stream",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let p = common::provider(&server.uri(), None, Api::Messages, T);
    let req = ChatRequest::new("tgi", vec![Message::user("GET")]);
    let call = runtime_core::Call::chat_stream(&req).with_model("other-model");
    let r = runtime_core::call::serve(&p, call, &RequestContext::new())
        .await
        .unwrap()
        .into_stream()
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(r.usage.map(|u| u.total_tokens), Some(50));
    assert_eq!(req.model, "tgi");
}
