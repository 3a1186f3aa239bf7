//! The named servers (`vllm`, `sglang`, `lmstudio`, `llamacpp`): their defaults, environment
//! variables and quirks, through the registry as a config file would build them.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

use provider_local::servers::{self, LLAMACPP_FACTORY, LMSTUDIO_FACTORY, VLLM_FACTORY};
use runtime_core::http::HttpClient;
use runtime_core::registry::validate_with;
use runtime_core::{
    BuildContext, EmbeddingRequest, Error, Provider, ProviderFactory, RequestContext,
};
use serde_json::{Map, Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn build(
    factory: &'static ProviderFactory,
    config: Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> std::sync::Arc<dyn Provider> {
    let cfg = validate_with(factory, factory.name, config.as_object().unwrap(), env).unwrap();
    let ctx = BuildContext::new(HttpClient::new(&Default::default()).unwrap());
    (factory.build)(cfg, &ctx).ok().unwrap()
}

fn embeddings_reply() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5]}],
        "model": "m",
        "usage": {"prompt_tokens": 3, "total_tokens": 3}
    }))
}

#[test]
fn every_named_server_defaults_to_its_own_address() {
    for server in servers::ALL {
        let factory = provider_local::factories()
            .into_iter()
            .find(|f| f.name == server.name)
            .unwrap();
        let cfg = validate_with(factory, "s", &Map::new(), &|_| None).unwrap();
        assert_eq!(
            cfg.string("base_url").unwrap().as_deref(),
            Some(server.default_base_url),
            "{}",
            server.name
        );
    }
}

#[tokio::test]
async fn vllm_reads_its_address_and_key_from_the_environment_and_takes_token_embeddings() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(header("authorization", "Bearer vllm-secret"))
        .respond_with(embeddings_reply())
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let p = build(&VLLM_FACTORY, json!({}), &|k| match k {
        "VLLM_BASE_URL" => Some(base.clone()),
        "VLLM_API_KEY" => Some("vllm-secret".into()),
        _ => None,
    });
    let req = EmbeddingRequest::from_tokens("m", vec![vec![1, 2, 3]]);
    let r = p.embed(&req, &RequestContext::new()).await.unwrap();
    assert_eq!(r.data.len(), 1);
    let sent: Value = server.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(sent["input"], json!([[1, 2, 3]]), "{sent}");
}

#[tokio::test]
async fn servers_without_token_input_refuse_it_before_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(embeddings_reply())
        .expect(0)
        .mount(&server)
        .await;
    for factory in [&LMSTUDIO_FACTORY, &LLAMACPP_FACTORY] {
        let p = build(
            factory,
            json!({"base_url": format!("{}/v1", server.uri())}),
            &|_| None,
        );
        let req = EmbeddingRequest::from_tokens("m", vec![vec![1, 2, 3]]);
        let e = p.embed(&req, &RequestContext::new()).await.err().unwrap();
        assert!(
            matches!(e, Error::InvalidRequest { .. } | Error::Unsupported { .. }),
            "{}: {e:?}",
            factory.name
        );
        assert!(
            e.to_string().contains(factory.name),
            "{}: {e}",
            factory.name
        );
    }
}

#[test]
fn a_named_server_rejects_a_bad_setting_naming_it() {
    let cfg = validate_with(
        &VLLM_FACTORY,
        "v",
        json!({"max_tokens_field": "tokens"}).as_object().unwrap(),
        &|_| None,
    )
    .unwrap();
    let ctx = BuildContext::new(HttpClient::new(&Default::default()).unwrap());
    let e = (VLLM_FACTORY.build)(cfg, &ctx).err().unwrap();
    assert!(
        matches!(e, Error::InvalidConfig { ref field, .. } if field == "max_tokens_field"),
        "{e:?}"
    );
}
