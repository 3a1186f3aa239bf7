//! The event grammars of the two dialects' streams, as checkers. They are run on real
//! upstream recordings (so the checkers match what Anthropic and OpenAI actually send) and on
//! everything our encoders write.

use std::collections::HashSet;

use serde_json::Value;

use super::Sse;

const STOP_REASONS: &[&str] = &[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

fn ty(e: &Sse) -> &str {
    e.data["type"].as_str().unwrap_or("")
}

/// Checks Anthropic's Messages stream grammar.
pub fn check_messages(events: &[Sse]) -> Result<(), String> {
    let mut it = events.iter().enumerate();
    let Some((_, first)) = it.next() else {
        return Err("empty stream".into());
    };
    for (i, e) in events.iter().enumerate() {
        if !e.event.is_empty() && e.event != ty(e) {
            return Err(format!(
                "#{i}: event line `{}` but type `{}`",
                e.event,
                ty(e)
            ));
        }
    }
    if ty(first) != "message_start" {
        return Err(format!("first event is `{}`, not message_start", ty(first)));
    }
    let m = &first.data["message"];
    if m["type"] != "message" || m["role"] != "assistant" || m["content"] != Value::Array(vec![]) {
        return Err(format!("message_start message malformed: {m}"));
    }
    if !m["usage"]["input_tokens"].is_u64() || !m["usage"]["output_tokens"].is_u64() {
        return Err(format!("message_start usage malformed: {}", m["usage"]));
    }
    let mut next_index = 0u64;
    let mut open: Option<(u64, String, bool)> = None; // index, block type, signed
    let mut delta_seen = false;
    let mut ended = false;
    for (i, e) in it {
        if ended {
            return Err(format!("#{i}: `{}` after the end of the stream", ty(e)));
        }
        match ty(e) {
            "ping" => {}
            "content_block_start" => {
                if delta_seen {
                    return Err(format!("#{i}: block after message_delta"));
                }
                if let Some((idx, ..)) = &open {
                    return Err(format!("#{i}: block starts while block {idx} is open"));
                }
                let idx = e.data["index"].as_u64().ok_or("index")?;
                if idx != next_index {
                    return Err(format!("#{i}: block index {idx}, expected {next_index}"));
                }
                next_index += 1;
                let block = &e.data["content_block"];
                let kind = block["type"].as_str().unwrap_or("").to_owned();
                match kind.as_str() {
                    "text" if block["text"].is_string() => {}
                    "thinking" if block["thinking"].is_string() => {}
                    "redacted_thinking" if block["data"].is_string() => {}
                    "tool_use"
                        if block["id"].is_string()
                            && block["name"].is_string()
                            && block["input"].is_object() => {}
                    "server_tool_use" | "web_search_tool_result" => {}
                    _ => return Err(format!("#{i}: bad content_block {block}")),
                }
                open = Some((idx, kind, false));
            }
            "content_block_delta" => {
                let idx = e.data["index"].as_u64().ok_or("index")?;
                let Some((oidx, kind, signed)) = &mut open else {
                    return Err(format!("#{i}: delta with no open block"));
                };
                if *oidx != idx {
                    return Err(format!("#{i}: delta for block {idx}, open is {oidx}"));
                }
                let d = &e.data["delta"];
                let dt = d["type"].as_str().unwrap_or("");
                let ok = match (kind.as_str(), dt) {
                    ("text", "text_delta") => d["text"].is_string(),
                    ("text", "citations_delta") => true,
                    ("tool_use" | "server_tool_use", "input_json_delta") => {
                        d["partial_json"].is_string()
                    }
                    ("thinking", "thinking_delta") if !*signed => d["thinking"].is_string(),
                    ("thinking", "signature_delta") if !*signed => {
                        *signed = true;
                        d["signature"].is_string()
                    }
                    _ => false,
                };
                if !ok {
                    return Err(format!("#{i}: delta {d} not allowed in a {kind} block"));
                }
            }
            "content_block_stop" => {
                let idx = e.data["index"].as_u64().ok_or("index")?;
                match &open {
                    Some((oidx, ..)) if *oidx == idx => open = None,
                    _ => return Err(format!("#{i}: stop of block {idx}, open is {open:?}")),
                }
            }
            "message_delta" => {
                if open.is_some() {
                    return Err(format!("#{i}: message_delta while a block is open"));
                }
                if delta_seen {
                    return Err(format!("#{i}: second message_delta"));
                }
                delta_seen = true;
                let r = e.data["delta"]["stop_reason"].as_str().unwrap_or("");
                if !STOP_REASONS.contains(&r) {
                    return Err(format!("#{i}: stop_reason `{r}`"));
                }
                if !e.data["usage"]["output_tokens"].is_u64() {
                    return Err(format!("#{i}: message_delta without output_tokens"));
                }
            }
            "message_stop" => {
                if !delta_seen {
                    return Err(format!("#{i}: message_stop before message_delta"));
                }
                ended = true;
            }
            "error" => {
                if !e.data["error"]["type"].is_string() || !e.data["error"]["message"].is_string() {
                    return Err(format!("#{i}: malformed error {}", e.data));
                }
                ended = true;
            }
            other => return Err(format!("#{i}: unknown event `{other}`")),
        }
    }
    if !ended {
        return Err("the stream has no message_stop or error".into());
    }
    Ok(())
}

#[derive(Debug)]
struct OpenItem {
    index: u64,
    id: String,
    kind: String,
    part: Option<(u64, String, String)>, // content_index, part type, text so far
    parts: u64,
    args: String,
    summary: Option<String>,
}

/// Checks the Responses API's semantic event grammar.
pub fn check_responses(events: &[Sse]) -> Result<(), String> {
    let mut items_added = 0u64;
    let mut items_done = 0u64;
    let mut ids = HashSet::new();
    let mut open: Option<OpenItem> = None;
    let mut terminal = false;
    let mut errored = false;
    for (i, e) in events.iter().enumerate() {
        let seq = i as u64;
        let t = ty(e);
        if !e.event.is_empty() && e.event != t {
            return Err(format!("#{i}: event line `{}` but type `{t}`", e.event));
        }
        if terminal {
            return Err(format!("#{i}: `{t}` after the terminal event"));
        }
        if e.data["sequence_number"].as_u64() != Some(seq) {
            return Err(format!(
                "#{i}: sequence_number {}, expected {seq}",
                e.data["sequence_number"]
            ));
        }
        match (i, t) {
            (0, "response.created") | (1, "response.in_progress") => {
                let r = &e.data["response"];
                if r["object"] != "response" || r["status"] != "in_progress" || !r["id"].is_string()
                {
                    return Err(format!("#{i}: bad response {r}"));
                }
                continue;
            }
            (0 | 1, _) => return Err(format!("#{i}: `{t}` before created/in_progress")),
            _ => {}
        }
        let out_idx = e.data["output_index"].as_u64();
        let item_id = e.data["item_id"].as_str();
        let check_item = |open: &Option<OpenItem>, kind: &str| -> Result<(), String> {
            match open {
                Some(o) if Some(o.index) == out_idx && item_id.is_none_or(|x| x == o.id) => {
                    if o.kind == kind {
                        Ok(())
                    } else {
                        Err(format!("#{i}: `{t}` on a {} item", o.kind))
                    }
                }
                _ => Err(format!(
                    "#{i}: `{t}` for an item that is not open ({open:?})"
                )),
            }
        };
        match t {
            "response.output_item.added" => {
                if open.is_some() {
                    return Err(format!("#{i}: item added while another is open"));
                }
                if out_idx != Some(items_added) {
                    return Err(format!(
                        "#{i}: output_index {out_idx:?}, expected {items_added}"
                    ));
                }
                items_added += 1;
                let item = &e.data["item"];
                let id = item["id"].as_str().ok_or("item id")?.to_owned();
                if !ids.insert(id.clone()) {
                    return Err(format!("#{i}: item id {id} reused"));
                }
                let kind = item["type"].as_str().unwrap_or("").to_owned();
                match kind.as_str() {
                    "message" if item["status"] == "in_progress" && item["role"] == "assistant" => {
                    }
                    "function_call" if item["call_id"].is_string() && item["name"].is_string() => {}
                    "reasoning" => {}
                    _ => return Err(format!("#{i}: bad item {item}")),
                }
                open = Some(OpenItem {
                    index: items_added - 1,
                    id,
                    kind,
                    part: None,
                    parts: 0,
                    args: String::new(),
                    summary: None,
                });
            }
            "response.content_part.added" => {
                check_item(&open, "message")?;
                let o = open.as_mut().ok_or("open")?;
                if o.part.is_some() {
                    return Err(format!("#{i}: part added while another is open"));
                }
                if e.data["content_index"].as_u64() != Some(o.parts) {
                    return Err(format!("#{i}: content_index, expected {}", o.parts));
                }
                let pt = e.data["part"]["type"].as_str().unwrap_or("").to_owned();
                if pt != "output_text" && pt != "refusal" {
                    return Err(format!("#{i}: part type {pt}"));
                }
                o.part = Some((o.parts, pt, String::new()));
            }
            "response.output_text.delta"
            | "response.output_text.done"
            | "response.refusal.delta"
            | "response.refusal.done" => {
                check_item(&open, "message")?;
                let o = open.as_mut().ok_or("open")?;
                let want = if t.contains("refusal") {
                    "refusal"
                } else {
                    "output_text"
                };
                let Some((ci, pt, acc)) = o.part.as_mut() else {
                    return Err(format!("#{i}: `{t}` with no open part"));
                };
                if e.data["content_index"].as_u64() != Some(*ci) || pt != want {
                    return Err(format!("#{i}: `{t}` for part {ci} of type {pt}"));
                }
                if t.ends_with(".delta") {
                    acc.push_str(e.data["delta"].as_str().ok_or("delta")?);
                } else {
                    let key = if want == "refusal" { "refusal" } else { "text" };
                    if e.data[key].as_str() != Some(acc.as_str()) {
                        return Err(format!("#{i}: done text differs from the deltas"));
                    }
                }
            }
            "response.content_part.done" => {
                check_item(&open, "message")?;
                let o = open.as_mut().ok_or("open")?;
                let Some((ci, pt, acc)) = o.part.take() else {
                    return Err(format!("#{i}: part done with no open part"));
                };
                let part = &e.data["part"];
                let key = if pt == "refusal" { "refusal" } else { "text" };
                if e.data["content_index"].as_u64() != Some(ci)
                    || part["type"] != pt.as_str()
                    || part[key].as_str() != Some(acc.as_str())
                {
                    return Err(format!("#{i}: part done {part} does not match"));
                }
                o.parts += 1;
            }
            "response.function_call_arguments.delta" => {
                check_item(&open, "function_call")?;
                let o = open.as_mut().ok_or("open")?;
                o.args.push_str(e.data["delta"].as_str().ok_or("delta")?);
            }
            "response.function_call_arguments.done" => {
                check_item(&open, "function_call")?;
                let o = open.as_ref().ok_or("open")?;
                if e.data["arguments"].as_str() != Some(o.args.as_str()) {
                    return Err(format!("#{i}: arguments differ from the deltas"));
                }
            }
            "response.reasoning_summary_part.added" => {
                check_item(&open, "reasoning")?;
                open.as_mut().ok_or("open")?.summary = Some(String::new());
            }
            "response.reasoning_summary_text.delta" => {
                check_item(&open, "reasoning")?;
                let o = open.as_mut().ok_or("open")?;
                o.summary
                    .as_mut()
                    .ok_or(format!("#{i}: summary delta without a part"))?
                    .push_str(e.data["delta"].as_str().ok_or("delta")?);
            }
            "response.reasoning_summary_text.done" | "response.reasoning_summary_part.done" => {
                check_item(&open, "reasoning")?;
                let o = open.as_ref().ok_or("open")?;
                let got = if t.ends_with("text.done") {
                    e.data["text"].as_str()
                } else {
                    e.data["part"]["text"].as_str()
                };
                if got != o.summary.as_deref() {
                    return Err(format!("#{i}: summary text differs from the deltas"));
                }
            }
            "response.output_item.done" => {
                let o = open.take().ok_or(format!("#{i}: item done, none open"))?;
                let item = &e.data["item"];
                if out_idx != Some(o.index) || item["id"].as_str() != Some(o.id.as_str()) {
                    return Err(format!("#{i}: item done does not match the open item"));
                }
                if o.part.is_some() {
                    return Err(format!("#{i}: item done with a part open"));
                }
                if o.kind != "reasoning" && item["status"] != "completed" {
                    return Err(format!("#{i}: item done with status {}", item["status"]));
                }
                items_done += 1;
            }
            "error" => {
                if !e.data["message"].is_string() && !e.data["error"]["message"].is_string() {
                    return Err(format!("#{i}: malformed error"));
                }
                errored = true;
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                if open.is_some() && t != "response.failed" {
                    return Err(format!("#{i}: `{t}` with an item open"));
                }
                let r = &e.data["response"];
                let want = &t["response.".len()..];
                if r["status"] != want {
                    return Err(format!("#{i}: `{t}` with status {}", r["status"]));
                }
                if r["output"].as_array().map(Vec::len) != usize::try_from(items_done).ok() {
                    return Err(format!(
                        "#{i}: final output has {} items, {items_done} were done",
                        r["output"]
                    ));
                }
                if t != "response.failed" && !r["usage"]["total_tokens"].is_u64() {
                    return Err(format!("#{i}: `{t}` without usage"));
                }
                terminal = true;
            }
            other => return Err(format!("#{i}: unknown event `{other}`")),
        }
    }
    if !terminal {
        return Err("no terminal event".into());
    }
    let _ = errored;
    Ok(())
}
