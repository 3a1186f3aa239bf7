//! Request bodies per preset, snapshotted (insta), one per quirk: the token-limit field, the
//! usage-chunk request, dropped and refused fields, model-id prefixes, reasoning sent back,
//! OpenRouter's routing preferences.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_presets::{PresetProvider, PresetSettings, presets};
use runtime_core::http::HttpClient;
use runtime_core::{
    AssistantMessage, ChatRequest, Content, Error, Message, ReasoningBlock, RequestContext, Secret,
    ToolCall,
};
use serde_json::{Value, json};

fn provider(name: &str, edit: impl FnOnce(&mut PresetSettings)) -> PresetProvider {
    let preset = provider_presets::preset(name).unwrap();
    let mut s = PresetSettings::new(preset, name, Secret::new("sk-test"));
    s.base_url = "http://127.0.0.1:9/v1".into();
    edit(&mut s);
    s.build(HttpClient::new(&Default::default()).unwrap())
}

fn body(p: &PresetProvider, req: &ChatRequest, stream: bool) -> Value {
    p.chat_spec(req, &req.model, stream, &RequestContext::new())
        .unwrap()
        .json_body()
        .unwrap()
}

fn req(v: Value) -> ChatRequest {
    serde_json::from_value(v).unwrap()
}

fn err(p: &PresetProvider, r: &ChatRequest) -> Error {
    p.chat_spec(r, &r.model, false, &RequestContext::new())
        .unwrap_err()
}

fn param(e: &Error) -> String {
    match e {
        Error::InvalidRequest { param: Some(p), .. } => p.clone(),
        other => panic!("expected InvalidRequest naming a field, got {other:?}"),
    }
}

fn assistant(text: &str, reasoning: Vec<ReasoningBlock>, calls: Vec<ToolCall>) -> Message {
    Message::Assistant(AssistantMessage {
        content: Some(Content::Text(text.into())),
        reasoning,
        tool_calls: calls,
        ..Default::default()
    })
}

/// A conversation with reasoning on two assistant turns: one before the last user message,
/// one inside the current tool-call loop.
fn reasoning_history(model: &str) -> ChatRequest {
    let mut r = ChatRequest::new(
        model,
        vec![
            Message::user("Is 7 prime?"),
            assistant(
                "Yes.",
                vec![ReasoningBlock::text("7 has no divisors.")],
                vec![],
            ),
            Message::user("Weather in Paris?"),
            assistant(
                "",
                vec![ReasoningBlock::text("I should call the tool.")],
                vec![ToolCall::new("call_1", "weather", r#"{"city":"Paris"}"#)],
            ),
            Message::Tool {
                content: Content::Text("18C".into()),
                tool_call_id: "call_1".into(),
                name: None,
            },
        ],
    );
    r.max_tokens = Some(100);
    r
}

#[test]
fn every_preset_is_registered_with_its_own_settings() {
    let names: Vec<&str> = presets().iter().map(|p| p.name).collect();
    assert_eq!(
        names,
        [
            "cerebras",
            "deepseek",
            "fireworks",
            "groq",
            "openrouter",
            "perplexity",
            "together",
            "xai"
        ]
    );
    for f in provider_presets::factories() {
        let key = f.settings.iter().find(|s| s.key == "api_key").unwrap();
        assert!(
            key.env.is_some_and(|e| e.ends_with("_API_KEY")),
            "{}",
            f.name
        );
        assert!(f.settings.iter().any(|s| s.key == "base_url"), "{}", f.name);
    }
}

#[test]
fn groq_body() {
    let p = provider("groq", |_| {});
    let r = req(json!({
        "model": "llama-3.3-70b-versatile", "max_tokens": 256,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather?"}],
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
        "reasoning_format": "parsed"
    }));
    insta::assert_json_snapshot!("groq_stream_tools", body(&p, &r, true));
}

#[test]
fn groq_refuses_the_fields_it_answers_400_for() {
    let p = provider("groq", |_| {});
    let base =
        json!({"model": "llama-3.1-8b-instant", "messages": [{"role": "user", "content": "hi"}]});
    for (field, value, want) in [
        ("logprobs", json!(true), "logprobs"),
        ("top_logprobs", json!(2), "top_logprobs"),
        ("logit_bias", json!({"50256": -100}), "logit_bias"),
        ("n", json!(2), "n"),
    ] {
        let mut v = base.clone();
        v[field] = value;
        assert_eq!(param(&err(&p, &req(v))), want);
    }
    // n = 1 is what Groq accepts.
    let mut v = base.clone();
    v["n"] = json!(1);
    assert_eq!(body(&p, &req(v), false)["n"], 1);
    // A participant name, on the message that carries it.
    let r = req(json!({"model": "llama-3.1-8b-instant", "messages": [
        {"role": "system", "content": "x"}, {"role": "user", "content": "hi", "name": "ann"}]}));
    assert_eq!(param(&err(&p, &r)), "messages[1].name");
}

#[test]
fn deepseek_reasoner_drops_ignored_sampling_and_refuses_logprobs() {
    let p = provider("deepseek", |_| {});
    let r = req(json!({
        "model": "deepseek-reasoner", "max_tokens": 2000,
        "temperature": 0.2, "top_p": 0.4, "presence_penalty": 0.5, "frequency_penalty": 0.5,
        "messages": [{"role": "user", "content": "9.11 or 9.8?"}]
    }));
    let b = body(&p, &r, true);
    insta::assert_json_snapshot!("deepseek_reasoner_stream", b);
    for f in [
        "temperature",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
    ] {
        assert!(
            b.get(f).is_none(),
            "{f} must be left out for deepseek-reasoner"
        );
    }
    // deepseek-chat keeps them.
    let mut chat = r.clone();
    chat.model = "deepseek-chat".into();
    assert_eq!(body(&p, &chat, false)["temperature"], 0.2);
    let mut lp = r.clone();
    lp.extra.insert("logprobs".into(), json!(true));
    assert_eq!(param(&err(&p, &lp)), "logprobs");
}

#[test]
fn deepseek_sends_reasoning_back_only_inside_the_tool_loop() {
    let p = provider("deepseek", |_| {});
    let b = body(&p, &reasoning_history("deepseek-reasoner"), false);
    insta::assert_json_snapshot!("deepseek_reasoning_echo", b["messages"]);
    assert!(b["messages"][1].get("reasoning_content").is_none());
    assert_eq!(
        b["messages"][3]["reasoning_content"],
        "I should call the tool."
    );
}

#[test]
fn deepseek_v4_gets_reasoning_on_every_assistant_turn() {
    let p = provider("deepseek", |_| {});
    let mut r = reasoning_history("deepseek-v4-flash");
    r.messages.insert(1, assistant("Hello!", vec![], vec![]));
    r.messages.insert(1, Message::user("hi"));
    let b = body(&p, &r, false);
    assert_eq!(b["messages"][2]["reasoning_content"], "");
    assert_eq!(b["messages"][3]["reasoning_content"], "7 has no divisors.");
    assert_eq!(
        b["messages"][5]["reasoning_content"],
        "I should call the tool."
    );
}

#[test]
fn xai_body_and_reasoning_model_rules() {
    let p = provider("xai", |_| {});
    let r = req(json!({
        "model": "grok-3-mini", "max_tokens": 64,
        "messages": [{"role": "user", "content": "hi"}]
    }));
    insta::assert_json_snapshot!("xai_stream", body(&p, &r, true));
    for (field, value) in [
        ("stop", json!(["\n"])),
        ("presence_penalty", json!(0.5)),
        ("frequency_penalty", json!(0.5)),
    ] {
        for model in ["grok-3-mini", "grok-4", "grok-code-fast-1"] {
            let mut v = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
            v[field] = value.clone();
            assert_eq!(param(&err(&p, &req(v))), field, "{model}");
        }
        // grok-3 is not a reasoning model.
        let mut v = json!({"model": "grok-3", "messages": [{"role": "user", "content": "hi"}]});
        v[field] = value.clone();
        let r = req(v);
        assert!(
            p.chat_spec(&r, &r.model, false, &RequestContext::new())
                .is_ok()
        );
    }
}

#[test]
fn openrouter_routing_preferences_and_reasoning_details() {
    let p = provider("openrouter", |s| {
        s.defaults.insert(
            "provider".into(),
            json!({"order": ["Anthropic", "Google"], "allow_fallbacks": false}),
        );
    });
    let mut r = reasoning_history("anthropic/claude-sonnet-4.5");
    if let Message::Assistant(a) = &mut r.messages[3] {
        a.reasoning[0].signature = Some("sig-1".into());
        a.reasoning.push(ReasoningBlock {
            kind: "redacted_thinking".into(),
            text: None,
            signature: None,
            data: Some("enc-2".into()),
        });
    }
    let b = body(&p, &r, true);
    insta::assert_json_snapshot!("openrouter_stream_reasoning_details", b);
    assert_eq!(b["provider"]["order"], json!(["Anthropic", "Google"]));
    // A request's own routing preferences win.
    r.extra
        .insert("provider".into(), json!({"only": ["Mistral"]}));
    assert_eq!(
        body(&p, &r, false)["provider"],
        json!({"only": ["Mistral"]})
    );
}

#[test]
fn together_does_not_ask_for_the_usage_chunk() {
    let p = provider("together", |_| {});
    let r = req(json!({
        "model": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "max_tokens": 32,
        "messages": [{"role": "user", "content": "hi"}]
    }));
    let b = body(&p, &r, true);
    insta::assert_json_snapshot!("together_stream", b);
    assert!(b.get("stream_options").is_none());
}

#[test]
fn fireworks_prefixes_short_model_ids_with_the_account() {
    let p = provider("fireworks", |_| {});
    let short = req(json!({"model": "llama-v3p1-8b-instruct", "max_tokens": 8,
                          "messages": [{"role": "user", "content": "hi"}]}));
    insta::assert_json_snapshot!("fireworks_short_id", body(&p, &short, false));
    let full = req(json!({"model": "accounts/acme/models/tuned-1",
                         "messages": [{"role": "user", "content": "hi"}]}));
    assert_eq!(
        body(&p, &full, false)["model"],
        "accounts/acme/models/tuned-1"
    );
    let mine = provider("fireworks", |s| s.account = Some("acme".into()));
    assert_eq!(
        body(&mine, &short, false)["model"],
        "accounts/acme/models/llama-v3p1-8b-instruct"
    );
}

#[test]
fn cerebras_body_reasoning_echo_and_refused_fields() {
    let p = provider("cerebras", |_| {});
    let mut r = reasoning_history("gpt-oss-120b");
    r.messages.truncate(3);
    let b = body(&p, &r, false);
    insta::assert_json_snapshot!("cerebras_reasoning_echo", b);
    assert_eq!(b["messages"][1]["reasoning"], "7 has no divisors.");
    for (field, value) in [
        ("frequency_penalty", json!(0.1)),
        ("presence_penalty", json!(0.1)),
        ("logit_bias", json!({"1": 1})),
        ("parallel_tool_calls", json!(false)),
        ("service_tier", json!("priority")),
    ] {
        let mut v =
            json!({"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]});
        v[field] = value;
        assert_eq!(param(&err(&p, &req(v))), field);
    }
}

#[test]
fn perplexity_body_and_no_tools() {
    let p = provider("perplexity", |_| {});
    let r = req(json!({
        "model": "sonar", "max_tokens": 300,
        "messages": [{"role": "user", "content": "Population of San Francisco?"}],
        "search_domain_filter": ["census.gov"]
    }));
    insta::assert_json_snapshot!("perplexity_search_filter", body(&p, &r, false));
    let tools = req(json!({
        "model": "sonar", "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    }));
    assert!(matches!(err(&p, &tools), Error::Unsupported { .. }));
}
