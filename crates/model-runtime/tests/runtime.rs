//! The facade end to end against wiremock upstreams.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use model_runtime::{ChatRequest, Error, Message, Runtime};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn chat_body(text: &str) -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12}
    })
}

async fn upstream(text: &str) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_body(text)))
        .mount(&s)
        .await;
    s
}

#[cfg(feature = "openai")]
#[tokio::test]
async fn provider_slash_model_reaches_that_provider() {
    let up = upstream("hello").await;
    let rt = Runtime::from_toml_str(
        &format!(
            "[providers.openai]\napi_key = \"sk-test\"\nbase_url = \"{}/v1\"\n",
            up.uri()
        ),
        "test.toml",
    )
    .await
    .unwrap();
    let r = rt
        .chat(
            "openai/gpt-4o-mini",
            ChatRequest::new("", vec![Message::user("hi")]),
        )
        .await
        .unwrap();
    assert_eq!(r.message.text().as_deref(), Some("hello"));
    let sent: serde_json::Value =
        serde_json::from_slice(&up.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["model"], "gpt-4o-mini");

    let e = rt
        .chat("nope", ChatRequest::new("", vec![Message::user("hi")]))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ModelNotFound { .. }), "{e:?}");
    rt.shutdown().await;
}

#[cfg(feature = "anthropic")]
#[tokio::test]
async fn an_unconfigured_provider_says_what_to_set() {
    if std::env::var_os("ANTHROPIC_API_KEY").is_some() {
        return; // the environment configures it; nothing to check here
    }
    let rt = Runtime::from_toml_str("", "empty.toml").await.unwrap();
    let e = rt
        .chat(
            "anthropic/claude-sonnet-4-5",
            ChatRequest::new("", vec![Message::user("hi")]),
        )
        .await
        .unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("api_key") && s.contains("ANTHROPIC_API_KEY"),
        "{s}"
    );
}

#[cfg(feature = "openai")]
#[tokio::test]
async fn config_errors_name_the_file_and_key() {
    let e = Runtime::from_toml_str(
        "[providers.openai]\napi_key = \"k\"\nbse_url = \"x\"\n",
        "gw.toml",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("gw.toml") && e.contains("providers.openai.bse_url"),
        "{e}"
    );
    let e = Runtime::from_toml_str("[providers.mine]\ntype = \"nosuch\"\n", "gw.toml")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("providers.mine.type") && e.contains("nosuch"),
        "{e}"
    );
}

#[cfg(all(
    feature = "openai",
    feature = "router",
    feature = "cache",
    feature = "metrics"
))]
#[tokio::test]
async fn the_full_stack_routes_caches_meters_and_records_usage() {
    use model_runtime::metrics::GroupBy;
    let a = upstream("from a").await;
    let b = upstream("from b").await;
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"
[providers.a]
type = "openai"
api_key = "sk-a"
base_url = "{a}/v1"
[providers.b]
type = "openai"
api_key = "sk-b"
base_url = "{b}/v1"

[[models]]
name = "chat-default"
strategy = "round_robin"
[[models.deployments]]
provider = "a"
model = "gpt-4o-mini"
[[models.deployments]]
provider = "b"
model = "gpt-4o-mini"

[cache]
backend = "memory"

[storage]
database_url = "sqlite://{db}"
spill_path = "{spill}"
flush_interval = "50ms"
"#,
        a = a.uri(),
        b = b.uri(),
        db = dir.path().join("usage.sqlite").display(),
        spill = dir.path().join("spill.jsonl").display(),
    );
    let rt = Runtime::from_toml_str(&toml, "full.toml").await.unwrap();
    assert_eq!(rt.logical_models(), vec!["chat-default".to_owned()]);
    // Migrations ran at start: the usage store answers before any record exists.
    let t0 = std::time::SystemTime::now();
    assert!(
        rt.usage_summary(t0, t0, &[GroupBy::Model])
            .await
            .unwrap()
            .is_empty()
    );

    // Two distinct prompts at temperature 0: round robin sends one to each deployment.
    let mut served = Vec::new();
    for prompt in ["one", "two"] {
        let mut req = ChatRequest::new("", vec![Message::user(prompt)]);
        req.temperature = Some(0.0);
        let r = rt.chat("chat-default", req).await.unwrap();
        assert_eq!(r.meta.cache_hit, Some(false));
        served.push(r.meta.deployment.clone().unwrap());
    }
    served.sort();
    assert_eq!(
        served,
        vec!["a/gpt-4o-mini".to_owned(), "b/gpt-4o-mini".to_owned()]
    );

    // The same prompt again is a cache hit: no upstream call.
    let mut req = ChatRequest::new("", vec![Message::user("one")]);
    req.temperature = Some(0.0);
    let r = rt.chat("chat-default", req).await.unwrap();
    assert_eq!(r.meta.cache_hit, Some(true));
    let calls =
        a.received_requests().await.unwrap().len() + b.received_requests().await.unwrap().len();
    assert_eq!(calls, 2);

    let text = rt.metrics_text();
    assert!(text.contains("modelrt_cache_hits_total 1"), "{text}");
    assert!(
        text.contains("gen_ai") || text.contains("modelrt_"),
        "{text}"
    );

    assert!(
        rt.ready().await.iter().all(|c| c.ok),
        "{:?}",
        rt.ready().await
    );
    rt.metering().unwrap().writer().unwrap().flush().await;
    let now = std::time::SystemTime::now();
    let rows = rt
        .usage_summary(
            now - std::time::Duration::from_secs(3600),
            now + std::time::Duration::from_secs(60),
            &[GroupBy::Model],
        )
        .await
        .unwrap();
    let total: u64 = rows.iter().map(|r| r.requests).sum();
    assert_eq!(total, 3, "{rows:?}");
    let hits: u64 = rows.iter().map(|r| r.cache_hits).sum();
    assert_eq!(hits, 1, "{rows:?}");
    rt.shutdown().await;
}
