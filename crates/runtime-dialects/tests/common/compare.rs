//! What a client keeps of an answer or a stream, per dialect: the comparisons the dialect
//! tests and the conformance rows share.

use serde_json::{Value, json};

use super::Sse;

/// What an SDK keeps of a usage object (absent cache counts are 0).
pub fn usage4(u: &Value) -> [u64; 4] {
    [
        u["input_tokens"].as_u64().unwrap_or(0),
        u["output_tokens"].as_u64().unwrap_or(0),
        u["cache_creation_input_tokens"].as_u64().unwrap_or(0),
        u["cache_read_input_tokens"].as_u64().unwrap_or(0),
    ]
}

/// The bytes of an answer that matter to a client: block types and contents (text,
/// citations, thinking and its signature, redacted data, tool ids, names and inputs), stop
/// reason, stop sequence, refusal explanation, usage.
pub fn messages_essentials(msg: &Value) -> Value {
    let blocks: Vec<Value> = msg["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| match b["type"].as_str().unwrap() {
            "text" => json!({"text": b["text"], "citations": b.get("citations").cloned().unwrap_or(Value::Null)}),
            "thinking" => json!({"thinking": b["thinking"], "signature": b["signature"]}),
            "redacted_thinking" => json!({"redacted": b["data"]}),
            "tool_use" => json!({"tool_use": [b["id"], b["name"], b["input"]]}),
            other => json!({"other": other}),
        })
        .collect();
    json!({
        "content": blocks,
        "stop_reason": msg["stop_reason"],
        "stop_sequence": msg.get("stop_sequence").cloned().unwrap_or(Value::Null),
        "refusal": msg.get("stop_details").and_then(|d| d.get("explanation")).cloned().unwrap_or(Value::Null),
        "usage": usage4(&msg["usage"]),
    })
}

/// What a client accumulates from a stream: the final message (blocks with their joined
/// deltas, stop reason, usage as the SDKs fold it: message_start's, overwritten by every count
/// message_delta carries).
pub fn messages_accumulate(events: &[Sse]) -> Value {
    let mut msg = Value::Null;
    let mut blocks: Vec<Value> = Vec::new();
    let mut json_parts: Vec<String> = Vec::new();
    for e in events {
        let d = &e.data;
        match d["type"].as_str().unwrap() {
            "message_start" => msg = d["message"].clone(),
            "content_block_start" => {
                blocks.push(d["content_block"].clone());
                json_parts.push(String::new());
            }
            "content_block_delta" => {
                let i = usize::try_from(d["index"].as_u64().unwrap()).unwrap();
                let delta = &d["delta"];
                let b = &mut blocks[i];
                match delta["type"].as_str().unwrap() {
                    "text_delta" => {
                        b["text"] = json!(format!(
                            "{}{}",
                            b["text"].as_str().unwrap(),
                            delta["text"].as_str().unwrap()
                        ))
                    }
                    "thinking_delta" => {
                        b["thinking"] = json!(format!(
                            "{}{}",
                            b["thinking"].as_str().unwrap(),
                            delta["thinking"].as_str().unwrap()
                        ))
                    }
                    "signature_delta" => b["signature"] = delta["signature"].clone(),
                    "input_json_delta" => {
                        json_parts[i].push_str(delta["partial_json"].as_str().unwrap())
                    }
                    _ => {}
                }
            }
            "content_block_stop" => {
                let i = usize::try_from(d["index"].as_u64().unwrap()).unwrap();
                if blocks[i]["type"] == "tool_use" && !json_parts[i].is_empty() {
                    blocks[i]["input"] = serde_json::from_str(&json_parts[i]).unwrap();
                }
            }
            "message_delta" => {
                for (k, v) in d["delta"].as_object().unwrap() {
                    msg[k] = v.clone();
                }
                for (k, v) in d["usage"].as_object().unwrap() {
                    if !v.is_null() {
                        msg["usage"][k] = v.clone();
                    }
                }
            }
            _ => {}
        }
    }
    msg["content"] = Value::Array(blocks);
    msg
}

/// The parts of a Response object that matter to a client: output items (message parts with
/// their annotations, calls, reasoning with its encrypted content), status, usage.
pub fn responses_essentials(r: &Value) -> Value {
    let items: Vec<Value> = r["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| match i["type"].as_str().unwrap() {
            "message" => json!({"message": i["content"].as_array().unwrap().iter()
                .map(|p| json!([p["type"], p.get("text").or(p.get("refusal")), p.get("annotations")]))
                .collect::<Vec<_>>()}),
            "function_call" => json!({"call": [i["call_id"], i["name"], i["arguments"]]}),
            "reasoning" => json!({"reasoning": [i["summary"], i.get("encrypted_content")]}),
            other => json!({"other": other}),
        })
        .collect();
    let u = &r["usage"];
    json!({
        "output": items,
        "status": r["status"],
        "usage": [u["input_tokens"], u["output_tokens"], u["total_tokens"],
                  u["input_tokens_details"]["cached_tokens"], u["output_tokens_details"]["reasoning_tokens"]],
    })
}
