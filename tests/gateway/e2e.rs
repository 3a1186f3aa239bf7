//! End-to-end: the real `modelrt` binary against wiremock and fault-server upstreams.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use runtime_testkit::fault::{Action, FaultServer};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn chat_non_streaming() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .header("x-request-id", "client-req-1")
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["x-request-id"], "client-req-1");
    assert_eq!(h["x-modelrt-provider"], "mock");
    assert_eq!(h["x-modelrt-attempts"], "1");
    assert_eq!(h["x-modelrt-cache"], "miss");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["id"], "chatcmpl-up1");
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there!");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    assert_eq!(v["usage"]["total_tokens"], 12);
    // The upstream got the provider model and the configured key.
    let reqs = up.received_requests().await.unwrap();
    let sent = reqs
        .iter()
        .find(|r| r.url.path() == "/v1/chat/completions")
        .unwrap();
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        sent.headers["authorization"].to_str().unwrap(),
        format!("Bearer {UPSTREAM_KEY}")
    );
    // A generated request id when the client sends none.
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert!(!resp.headers()["x-request-id"].is_empty());
}

#[tokio::test]
async fn chat_streaming_with_usage() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let mut body = chat_body("mock/gpt-4o-mini");
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["x-modelrt-provider"], "mock");
    let text = resp.text().await.unwrap();
    let frames = sse_frames(&text);
    assert_eq!(frames.last().unwrap(), "[DONE]", "{text}");
    let chunks: Vec<Value> = frames[..frames.len() - 1]
        .iter()
        .map(|f| serde_json::from_str(f).unwrap())
        .collect();
    for c in &chunks {
        assert_eq!(c["id"], chunks[0]["id"]);
        assert_eq!(c["created"], chunks[0]["created"]);
        assert_eq!(c["model"], chunks[0]["model"]);
        assert_eq!(c["object"], "chat.completion.chunk");
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hello");
    let finish: Vec<&Value> = chunks
        .iter()
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finish.len(), 1);
    assert_eq!(finish[0]["choices"][0]["finish_reason"], "stop");
    let last = chunks.last().unwrap();
    assert_eq!(last["choices"], json!([]));
    assert_eq!(last["usage"]["prompt_tokens"], 5);
    assert_eq!(last["usage"]["completion_tokens"], 2);

    // Without include_usage there is no usage chunk.
    body["stream_options"] = json!({"include_usage": false});
    let text = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("\"usage\""), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"));
}

#[tokio::test]
async fn completions_plain_and_streamed() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let v: Value = client()
        .post(gw.at("/v1/completions"))
        .json(&json!({"model": "mock/gpt-4o-mini", "prompt": "Say hi"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], "Hello there!");
    let text = client()
        .post(gw.at("/v1/completions"))
        .json(&json!({"model": "mock/gpt-4o-mini", "prompt": "Say hi", "stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames = sse_frames(&text);
    let joined: String = frames
        .iter()
        .filter(|f| *f != "[DONE]")
        .map(|f| serde_json::from_str::<Value>(f).unwrap())
        .filter_map(|c| c["choices"][0]["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(joined, "Hello");
    assert_eq!(frames.last().unwrap(), "[DONE]");
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let v: Value = client()
        .post(gw.at("/v1/embeddings"))
        .json(&json!({"model": "mock/text-embedding-3-small", "input": ["a", "b"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][1]["embedding"], json!([0.5, -0.25, 1.0]));
    assert_eq!(v["usage"]["prompt_tokens"], 4);
    let v: Value = client()
        .post(gw.at("/v1/embeddings"))
        .json(&json!({"model": "mock/text-embedding-3-small", "input": "a", "encoding_format": "base64"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let b64 = v["data"][0]["embedding"].as_str().unwrap();
    let floats = model_runtime::provider_openai::wire::decode_base64_f32(b64).unwrap();
    assert_eq!(floats, vec![0.5, -0.25, 0.0]);
}

#[tokio::test]
async fn models_and_health() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let v: Value = client()
        .get(gw.at("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    let ids: Vec<&str> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"mock/gpt-4o-mini"), "{ids:?}");
    assert!(ids.contains(&"mock/text-embedding-3-small"), "{ids:?}");
    let one: Value = client()
        .get(gw.at("/v1/models/mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["id"], "mock/gpt-4o-mini");
    assert_eq!(one["object"], "model");
    let resp = client()
        .get(gw.at("/v1/models/mock/nope"))
        .send()
        .await
        .unwrap();
    error_envelope(resp, 404).await;
    // Three listings, one upstream request: the provider's listing is kept for minutes.
    let listings = up
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/models")
        .count();
    assert_eq!(listings, 1);
    let resp = client().get(gw.at("/health")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn fresh_machine_without_config() {
    let gw = Gw::start(None).await;
    assert_eq!(
        client()
            .get(gw.at("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = client().get(gw.at("/v1/models")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["object"], "list");
    // A chat to a provider without credentials says what to set.
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("openai/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_client_error() || resp.status().is_server_error());
    let v = error_envelope(resp, 500).await;
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("OPENAI_API_KEY"), "{msg}");
}

#[tokio::test]
async fn errors_are_openai_envelopes() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(
        &up.uri(),
        "[gateway]\nmax_body_bytes = 65536\n",
    )))
    .await;
    let c = client();
    let post = |body: Vec<u8>| {
        c.post(gw.at("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Invalid JSON.
    let v = error_envelope(post(b"{\"model\": ".to_vec()).await.unwrap(), 400).await;
    assert_eq!(v["error"]["type"], "invalid_request_error");
    // A field of the wrong type names the field.
    let mut body = chat_body("mock/gpt-4o-mini");
    body["temperature"] = json!("hot");
    let v = error_envelope(post(serde_json::to_vec(&body).unwrap()).await.unwrap(), 400).await;
    assert_eq!(v["error"]["param"], "temperature");
    // Unknown model.
    let v = error_envelope(
        post(serde_json::to_vec(&chat_body("nosuch/model")).unwrap())
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(v["error"]["code"], "model_not_found");
    let v = error_envelope(
        post(serde_json::to_vec(&chat_body("no-slash-model")).unwrap())
            .await
            .unwrap(),
        404,
    )
    .await;
    assert_eq!(v["error"]["code"], "model_not_found");
    // Empty messages.
    let v = error_envelope(
        post(serde_json::to_vec(&json!({"model": "mock/x", "messages": []})).unwrap())
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(v["error"]["param"], "messages");
    // Too large.
    let big = format!(
        "{{\"model\":\"mock/x\",\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
        "x".repeat(70_000)
    );
    let v = error_envelope(post(big.into_bytes()).await.unwrap(), 413).await;
    assert_eq!(v["error"]["code"], "request_too_large");
    // Unknown route and wrong method. A fresh client: the server closes the connection it
    // answered 413 on without reading the rest of the body, and a pooled client could race it.
    let c = reqwest::Client::new();
    error_envelope(c.get(gw.at("/v1/nothing")).send().await.unwrap(), 404).await;
    error_envelope(
        c.get(gw.at("/v1/chat/completions")).send().await.unwrap(),
        405,
    )
    .await;
    // Nothing reached the upstream.
    assert!(up.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn upstream_errors_keep_status_and_retry_after() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"model": "rl"})))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})),
        )
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"model": "bad"})))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": {"message": "Invalid value for 'n'", "type": "invalid_request_error", "param": "n", "code": null}}),
        ))
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"model": "unauth"})))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}}),
        ))
        .mount(&up)
        .await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let send = |t: &'static str| {
        client()
            .post(gw.at("/v1/chat/completions"))
            .json(&chat_body(&format!("mock/{t}")))
            .send()
    };
    let resp = send("rl").await.unwrap();
    assert_eq!(resp.headers()["retry-after"], "7");
    let v = error_envelope(resp, 429).await;
    assert_eq!(v["error"]["type"], "rate_limit_error");
    let v = error_envelope(send("bad").await.unwrap(), 400).await;
    assert_eq!(v["error"]["type"], "invalid_request_error");
    // The upstream refused the gateway's own key: not the client's 401 (which would blame the
    // client's key), but a 502 the OpenAI SDKs are told not to retry.
    let resp = send("unauth").await.unwrap();
    let status = resp.status().as_u16();
    assert_eq!(resp.headers()["x-should-retry"], "false");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 502, "{v}");
    assert_eq!(v["error"]["type"], "api_error", "{v}");
    assert_eq!(v["error"]["code"], "upstream_authentication", "{v}");
    assert!(!v.to_string().contains(UPSTREAM_KEY));
    assert!(!gw.logs().contains(UPSTREAM_KEY));
}

#[tokio::test]
async fn client_disconnect_cancels_the_upstream_stream() {
    let first = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
    let up = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(first),
        Action::Stall,
    ])
    .await;
    let gw = Gw::start(Some(&mock_config(&up.url(), ""))).await;
    let mut body = chat_body("mock/gpt-4o-mini");
    body["stream"] = json!(true);
    let mut resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let chunk = resp.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("Hi"));
    assert_eq!(up.client_closed(), 0);
    drop(resp);
    assert!(
        up.wait_client_closed(1, Duration::from_secs(20)).await,
        "the gateway kept the upstream request open after the client left"
    );
    // Still serving.
    assert_eq!(
        client()
            .get(gw.at("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn graceful_shutdown_finishes_a_stream_in_flight() {
    let chunk = |text: &str| {
        format!(
            "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n"
        )
    };
    let up = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(chunk("one ")),
        Action::Sleep(Duration::from_millis(1500)),
        Action::body(chunk("two")),
        Action::body("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"),
        Action::Close,
    ])
    .await;
    let mut gw = Gw::start(Some(&mock_config(
        &up.url(),
        "[gateway]\nshutdown_grace = \"20s\"\n",
    )))
    .await;
    let mut body = chat_body("mock/gpt-4o-mini");
    body["stream"] = json!(true);
    let mut resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while !text.contains("one ") {
        let c = resp.chunk().await.unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&c));
    }
    gw.sigterm();
    // (What the listener answers meanwhile is tested in connections.rs.)
    while let Some(c) = resp.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(text.contains("two"), "{text}");
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    let status = tokio::time::timeout(Duration::from_secs(30), gw.child.wait())
        .await
        .expect("modelrt exits after the stream finished")
        .unwrap();
    assert!(status.success(), "{status:?}\n{}", gw.logs());
    assert!(client().get(gw.at("/health")).send().await.is_err());
}

#[tokio::test]
async fn a_stream_that_fails_midway_ends_with_an_error_frame() {
    let first = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
    for tail in [
        Action::body(
            "data: {\"error\":{\"message\":\"The server had an error\",\"type\":\"server_error\"}}\n\n",
        ),
        // Cut without [DONE].
        Action::Close,
    ] {
        let up = FaultServer::start(vec![
            Action::head(200, "text/event-stream"),
            Action::body(first),
            tail,
            Action::Close,
        ])
        .await;
        let gw = Gw::start(Some(&mock_config(&up.url(), ""))).await;
        let mut body = chat_body("mock/gpt-4o-mini");
        body["stream"] = json!(true);
        let text = client()
            .post(gw.at("/v1/chat/completions"))
            .json(&body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let frames = sse_frames(&text);
        assert!(frames[1].contains("\"content\":\"Hi\""), "{text}");
        let last: Value = serde_json::from_str(frames.last().unwrap()).unwrap();
        assert!(last["error"]["message"].is_string(), "{text}");
        assert!(last["error"]["type"].is_string(), "{text}");
        assert!(!text.contains("[DONE]"), "{text}");
    }
}

#[tokio::test]
async fn a_stream_that_fails_before_its_first_event_is_an_http_error() {
    // The upstream accepted the request (200, SSE) but its first event is an error: the
    // client gets the error's status and an OpenAI envelope, not a 200 with an error frame.
    let up = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(
            "data: {\"error\":{\"message\":\"The server is overloaded\",\"type\":\"server_error\"}}\n\n",
        ),
        Action::Close,
    ])
    .await;
    let gw = Gw::start(Some(&mock_config(&up.url(), ""))).await;
    let mut body = chat_body("mock/gpt-4o-mini");
    body["stream"] = json!(true);
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let ctype = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    assert!(status.is_server_error(), "{status} {text}");
    assert_eq!(ctype.as_deref(), Some("application/json"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("overloaded")),
        "{text}"
    );
}

#[tokio::test]
async fn client_giving_up_on_a_plain_request_cancels_the_upstream_call() {
    let up = FaultServer::start(vec![Action::Stall]).await;
    let gw = Gw::start(Some(&mock_config(&up.url(), ""))).await;
    let short = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = short
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        up.wait_client_closed(1, Duration::from_secs(20)).await,
        "the upstream call outlived its client"
    );
}

#[tokio::test]
async fn streamed_tool_calls_are_re_encoded_by_index() {
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": "c9", "object": "chat.completion.chunk", "created": 5, "model": "m",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut sse = String::new();
    sse.push_str(&chunk(json!({"role": "assistant", "content": null, "tool_calls": [
        {"index": 0, "id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}), Value::Null));
    sse.push_str(&chunk(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
        Value::Null,
    ));
    sse.push_str(&chunk(json!({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}]}), Value::Null));
    sse.push_str(&chunk(
        json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
        Value::Null,
    ));
    sse.push_str(&chunk(json!({}), json!("tool_calls")));
    sse.push_str("data: [DONE]\n\n");
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(sse),
        )
        .mount(&up)
        .await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let mut body = chat_body("mock/gpt-4o-mini");
    body["stream"] = json!(true);
    let text = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let frames = sse_frames(&text);
    assert_eq!(frames.last().unwrap(), "[DONE]");
    // Fold the client's view back: id and name on the first fragment of each index.
    let mut calls: std::collections::BTreeMap<u64, (String, String, String)> = Default::default();
    let mut finish = None;
    for f in &frames[..frames.len() - 1] {
        let c: Value = serde_json::from_str(f).unwrap();
        assert_eq!(c["id"], "c9");
        let choice = &c["choices"][0];
        if let Some(r) = choice["finish_reason"].as_str() {
            finish = Some(r.to_owned());
        }
        for tc in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = tc["index"].as_u64().unwrap();
            let e = calls.entry(i).or_default();
            if let Some(id) = tc["id"].as_str() {
                assert!(e.0.is_empty(), "id sent twice for call {i}");
                e.0 = id.to_owned();
                assert_eq!(tc["type"], "function");
                e.1 = tc["function"]["name"].as_str().unwrap().to_owned();
            } else {
                assert!(!e.0.is_empty(), "fragment before the id for call {i}");
                assert!(tc["function"].get("name").is_none());
            }
            e.2.push_str(tc["function"]["arguments"].as_str().unwrap());
        }
    }
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert_eq!(
        calls[&0],
        (
            "call_a".into(),
            "get_weather".into(),
            "{\"city\":\"Paris\"}".into()
        )
    );
    assert_eq!(calls[&1], ("call_b".into(), "get_time".into(), "{}".into()));
}
