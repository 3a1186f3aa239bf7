//! Upstream wire data → core, for the tests: Anthropic through provider-anthropic's own
//! decoder (what the gateway will run), OpenAI Responses through a small test-only decoder
//! (no provider speaks Responses upstream yet).

use runtime_core::{
    AssistantMessage, ChatResponse, Content, FinishReason, ReasoningBlock, StreamEvent, ToolCall,
    Usage,
};
use serde_json::Value;

use super::Sse;

/// Recorded Anthropic SSE → core events, through provider-anthropic's decoder.
pub fn anthropic_events(events: &[Sse], model: &str) -> Vec<StreamEvent> {
    let mut dec = provider_anthropic::wire::EventDecoder::new("anthropic", model);
    let mut out = Vec::new();
    for e in events {
        dec.decode(&e.data.to_string(), &mut out).unwrap();
    }
    dec.end(&mut out).unwrap();
    out
}

/// A recorded Anthropic response body → core, through provider-anthropic.
pub fn anthropic_response(body: &Value) -> ChatResponse {
    let wire: provider_anthropic::wire::MessagesResponse =
        serde_json::from_value(body.clone()).unwrap();
    provider_anthropic::wire::parse_response(wire, "anthropic", "claude", None)
}

fn usage(u: &Value) -> Usage {
    let mut out = Usage::new(
        u["input_tokens"].as_u64().unwrap_or(0),
        u["output_tokens"].as_u64().unwrap_or(0),
    );
    out.cached_prompt_tokens = u["input_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap_or(0);
    out.cache_creation_tokens = u["input_tokens_details"]["cache_write_tokens"]
        .as_u64()
        .unwrap_or(0);
    out.reasoning_tokens = u["output_tokens_details"]["reasoning_tokens"]
        .as_u64()
        .unwrap_or(0);
    out.total_tokens = u["total_tokens"].as_u64().unwrap_or(out.total_tokens);
    out
}

fn finish(r: &Value, has_calls: bool) -> FinishReason {
    match (
        r["status"].as_str(),
        r["incomplete_details"]["reason"].as_str(),
    ) {
        (Some("incomplete"), Some("max_output_tokens")) => FinishReason::Length,
        (Some("incomplete"), Some("content_filter")) => FinishReason::ContentFilter,
        _ if has_calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

/// A recorded Responses object → core (test-only).
pub fn responses_response(r: &Value) -> ChatResponse {
    let mut msg = AssistantMessage::default();
    let mut text = String::new();
    for item in r["output"].as_array().unwrap() {
        match item["type"].as_str().unwrap() {
            "message" => {
                for p in item["content"].as_array().unwrap() {
                    match p["type"].as_str().unwrap() {
                        "output_text" => text.push_str(p["text"].as_str().unwrap()),
                        "refusal" => msg.refusal = p["refusal"].as_str().map(str::to_owned),
                        _ => {}
                    }
                }
            }
            "function_call" => msg.tool_calls.push(ToolCall::new(
                item["call_id"].as_str().unwrap(),
                item["name"].as_str().unwrap(),
                item["arguments"].as_str().unwrap(),
            )),
            "reasoning" => {
                let summary: Vec<&str> = item["summary"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|s| s["text"].as_str())
                    .collect();
                let mut b = ReasoningBlock::text(summary.join("\n\n"));
                b.kind = "reasoning".into();
                b.data = item["encrypted_content"].as_str().map(str::to_owned);
                msg.reasoning.push(b);
            }
            _ => {}
        }
    }
    if !text.is_empty() {
        msg.content = Some(Content::Text(text));
    }
    let has_calls = !msg.tool_calls.is_empty();
    let mut resp = ChatResponse::default();
    resp.id = r["id"].as_str().unwrap().to_owned();
    resp.model = r["model"].as_str().unwrap().to_owned();
    resp.created = r["created_at"].as_i64().unwrap();
    resp.message = msg;
    resp.finish_reason = finish(r, has_calls);
    resp.usage = (!r["usage"].is_null()).then(|| usage(&r["usage"]));
    resp
}

/// Recorded Responses stream payloads → core events (test-only).
pub fn responses_events(events: &[Sse]) -> Vec<StreamEvent> {
    let mut out = Vec::new();
    let mut calls = 0usize;
    let mut call_of: Vec<(String, usize)> = Vec::new();
    for e in events {
        let d = &e.data;
        match d["type"].as_str().unwrap() {
            "response.created" => out.push(StreamEvent::Start {
                id: d["response"]["id"].as_str().unwrap().to_owned(),
                model: d["response"]["model"].as_str().unwrap().to_owned(),
                created: d["response"]["created_at"].as_i64().unwrap_or(0),
            }),
            "response.output_text.delta" => out.push(StreamEvent::TextDelta {
                text: d["delta"].as_str().unwrap().to_owned(),
            }),
            "response.refusal.delta" => out.push(StreamEvent::RefusalDelta {
                text: d["delta"].as_str().unwrap().to_owned(),
            }),
            "response.reasoning_summary_text.delta" => out.push(StreamEvent::ReasoningDelta {
                text: d["delta"].as_str().unwrap().to_owned(),
            }),
            "response.output_item.added" if d["item"]["type"] == "function_call" => {
                call_of.push((d["item"]["id"].as_str().unwrap().to_owned(), calls));
                out.push(StreamEvent::ToolCallStart {
                    index: calls,
                    id: d["item"]["call_id"].as_str().unwrap().to_owned(),
                    name: d["item"]["name"].as_str().unwrap().to_owned(),
                    thought_signature: None,
                });
                calls += 1;
            }
            "response.function_call_arguments.delta" => {
                let id = d["item_id"].as_str().unwrap();
                let index = call_of.iter().find(|(i, _)| i == id).unwrap().1;
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    arguments: d["delta"].as_str().unwrap().to_owned(),
                });
            }
            "response.output_item.done" if d["item"]["type"] == "function_call" => {
                let id = d["item"]["id"].as_str().unwrap();
                let index = call_of.iter().find(|(i, _)| i == id).unwrap().1;
                out.push(StreamEvent::ToolCallEnd { index });
            }
            "response.completed" | "response.incomplete" => {
                let r = &d["response"];
                out.push(StreamEvent::Finish {
                    reason: finish(r, calls > 0),
                });
                out.push(StreamEvent::Usage(usage(&r["usage"])));
            }
            _ => {}
        }
    }
    out
}
