//! Core [`ChatResponse`] → Response object (`"object": "response"`).
//!
//! Output items come in the order OpenAI sends them: reasoning (summary, and the
//! `encrypted_content` of [`super::reasoning`]), the assistant message (`output_text` with its
//! annotations, or a `refusal` part), then one `function_call` per tool call. The request's
//! settings are repeated as OpenAI repeats them ([`Echo`]); ids are `resp_…`, `msg_…`, `fc_…`,
//! `rs_…`, derived from one base so a response's items are unique and stable.

use runtime_core::{ChatResponse, FinishReason, Usage, annotation};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::reasoning;
use super::types::ResponsesRequest;

/// The request settings a response object repeats, with OpenAI's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Echo {
    instructions: Value,
    max_output_tokens: Value,
    parallel_tool_calls: bool,
    previous_response_id: Option<String>,
    reasoning: Value,
    store: bool,
    temperature: Value,
    text: Value,
    tool_choice: Value,
    tools: Value,
    top_p: Value,
    truncation: Value,
    user: Option<String>,
    metadata: Value,
}

impl Echo {
    /// What `req` asked for.
    pub fn from_request(req: &ResponsesRequest) -> Self {
        let to = |v: Option<Value>, default: Value| v.unwrap_or(default);
        Self {
            instructions: to(req.instructions.clone().map(Value::String), Value::Null),
            max_output_tokens: to(req.max_output_tokens.map(Value::from), Value::Null),
            parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
            previous_response_id: req.previous_response_id.clone(),
            reasoning: req
                .reasoning
                .as_ref()
                .and_then(|r| serde_json::to_value(r).ok())
                .unwrap_or_else(|| json!({"effort": null, "summary": null})),
            store: req.store.unwrap_or(true),
            temperature: to(req.temperature.map(Value::from), json!(1.0)),
            text: req
                .text
                .as_ref()
                .and_then(|t| serde_json::to_value(t).ok())
                .filter(|t| t.get("format").is_some())
                .unwrap_or_else(|| json!({"format": {"type": "text"}})),
            tool_choice: to(req.tool_choice.clone(), json!("auto")),
            tools: req
                .tools
                .as_ref()
                .and_then(|t| serde_json::to_value(t).ok())
                .unwrap_or_else(|| json!([])),
            top_p: to(req.top_p.map(Value::from), json!(1.0)),
            truncation: to(req.truncation.clone().map(Value::String), json!("disabled")),
            user: req.user.clone(),
            metadata: req
                .metadata
                .clone()
                .map(Value::Object)
                .unwrap_or_else(|| json!({})),
        }
    }
}

/// Ids of one response and its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// `resp_…`.
    pub response: String,
    base: String,
    next: usize,
}

impl Ids {
    /// The upstream's id when it is already a Responses id, else `resp_<fallback>`
    /// (the gateway's request id).
    pub fn new(upstream_id: &str, fallback: &str) -> Self {
        let response = if upstream_id.starts_with("resp_") {
            upstream_id.to_owned()
        } else {
            format!("resp_{fallback}")
        };
        let base = response.trim_start_matches("resp_").to_owned();
        Self {
            response,
            base,
            next: 0,
        }
    }

    /// The next item id with `prefix` (`msg`, `fc`, `rs`).
    pub fn item(&mut self, prefix: &str) -> String {
        let n = self.next;
        self.next += 1;
        format!("{prefix}_{}_{n}", self.base)
    }
}

/// A part of an output message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputContent {
    /// Text.
    OutputText {
        /// Citations.
        annotations: Vec<Value>,
        /// Token log-probabilities (never requested through the gateway).
        logprobs: Vec<Value>,
        /// The text.
        text: String,
    },
    /// A refusal.
    Refusal {
        /// Why.
        refusal: String,
    },
}

/// One part of a reasoning summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryOut {
    /// Always `summary_text`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The text.
    pub text: String,
}

/// An output item.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    /// Reasoning.
    Reasoning {
        /// `rs_…`.
        id: String,
        /// The summary.
        summary: Vec<SummaryOut>,
        /// What the client must send back to continue the reasoning.
        #[serde(skip_serializing_if = "Option::is_none")]
        encrypted_content: Option<String>,
    },
    /// The assistant's message.
    Message {
        /// `msg_…`.
        id: String,
        /// `in_progress` while streaming, then `completed`.
        status: &'static str,
        /// Its parts.
        content: Vec<OutputContent>,
        /// Always `assistant`.
        role: &'static str,
    },
    /// A function call.
    FunctionCall {
        /// `fc_…`.
        id: String,
        /// `in_progress` while streaming, then `completed`.
        status: &'static str,
        /// Arguments as JSON text.
        arguments: String,
        /// The id the client's `function_call_output` answers.
        call_id: String,
        /// The function.
        name: String,
    },
}

/// `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutUsage {
    /// All input tokens (cached included).
    pub input_tokens: u64,
    /// Cache details.
    pub input_tokens_details: InputDetails,
    /// All output tokens (reasoning included).
    pub output_tokens: u64,
    /// Reasoning details.
    pub output_tokens_details: OutputDetails,
    /// Input plus output.
    pub total_tokens: u64,
}

/// `input_tokens_details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InputDetails {
    /// Input tokens read from the prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to the prompt cache (sent when there are any).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_write_tokens: u64,
}

/// `output_tokens_details`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutputDetails {
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl From<&Usage> for OutUsage {
    fn from(u: &Usage) -> Self {
        Self {
            input_tokens: u.prompt_tokens,
            input_tokens_details: InputDetails {
                cached_tokens: u.cached_prompt_tokens,
                cache_write_tokens: u.cache_creation_tokens,
            },
            output_tokens: u.completion_tokens,
            output_tokens_details: OutputDetails {
                reasoning_tokens: u.reasoning_tokens,
            },
            total_tokens: u.total_tokens.max(u.prompt_tokens + u.completion_tokens),
        }
    }
}

/// `error` of a failed response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseError {
    /// A stable code.
    pub code: String,
    /// Words for a person.
    pub message: String,
}

/// `incomplete_details`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncompleteDetails {
    /// `max_output_tokens` or `content_filter`.
    pub reason: &'static str,
}

/// A Response object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseObject {
    /// `resp_…`.
    pub id: String,
    /// Always `response`.
    pub object: &'static str,
    /// Unix seconds.
    pub created_at: i64,
    /// `in_progress`, `completed`, `incomplete`, `failed`.
    pub status: &'static str,
    /// Why it failed.
    pub error: Option<ResponseError>,
    /// Why it is incomplete.
    pub incomplete_details: Option<IncompleteDetails>,
    instructions: Value,
    max_output_tokens: Value,
    /// The model that answered.
    pub model: String,
    /// The output items.
    pub output: Vec<OutputItem>,
    parallel_tool_calls: bool,
    previous_response_id: Option<String>,
    reasoning: Value,
    store: bool,
    temperature: Value,
    text: Value,
    tool_choice: Value,
    tools: Value,
    top_p: Value,
    truncation: Value,
    /// Token counts (null until the end of a stream).
    pub usage: Option<OutUsage>,
    user: Option<String>,
    metadata: Value,
}

impl ResponseObject {
    /// A response with the request's settings and nothing produced yet.
    pub fn new(id: String, created_at: i64, model: String, echo: &Echo) -> Self {
        let e = echo.clone();
        Self {
            id,
            object: "response",
            created_at,
            status: "in_progress",
            error: None,
            incomplete_details: None,
            instructions: e.instructions,
            max_output_tokens: e.max_output_tokens,
            model,
            output: Vec::new(),
            parallel_tool_calls: e.parallel_tool_calls,
            previous_response_id: e.previous_response_id,
            reasoning: e.reasoning,
            store: e.store,
            temperature: e.temperature,
            text: e.text,
            tool_choice: e.tool_choice,
            tools: e.tools,
            top_p: e.top_p,
            truncation: e.truncation,
            usage: None,
            user: e.user,
            metadata: e.metadata,
        }
    }
}

/// `status` and `incomplete_details` for a finish reason.
pub fn status(finish: &FinishReason) -> (&'static str, Option<IncompleteDetails>) {
    match finish {
        FinishReason::Length => (
            "incomplete",
            Some(IncompleteDetails {
                reason: "max_output_tokens",
            }),
        ),
        FinishReason::ContentFilter => (
            "incomplete",
            Some(IncompleteDetails {
                reason: "content_filter",
            }),
        ),
        _ => ("completed", None),
    }
}

/// The `output_text` annotations for the answer's [`annotation::CITATIONS`]: web-search
/// citations become `url_citation`s (character offsets); other kinds have no Responses form.
pub fn url_citations(text: &str, annotations: &Map<String, Value>) -> Vec<Value> {
    let Some(Value::Array(spans)) = annotations.get(annotation::CITATIONS) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for s in spans {
        let (Some(a), Some(b)) = (
            s.get("start").and_then(Value::as_u64),
            s.get("end").and_then(Value::as_u64),
        ) else {
            continue;
        };
        let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
            continue;
        };
        if a > b || b > text.len() || !text.is_char_boundary(a) || !text.is_char_boundary(b) {
            continue;
        }
        let start = text[..a].chars().count();
        let end = start + text[a..b].chars().count();
        for c in s
            .get("citations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if c.get("type").and_then(Value::as_str) == Some("web_search_result_location") {
                out.push(json!({
                    "type": "url_citation",
                    "start_index": start,
                    "end_index": end,
                    "title": c.get("title").cloned().unwrap_or(Value::Null),
                    "url": c.get("url").cloned().unwrap_or(Value::Null),
                }));
            }
        }
    }
    out
}

/// The output items of a core answer.
pub fn output_items(resp: &ChatResponse, ids: &mut Ids) -> Vec<OutputItem> {
    let m = &resp.message;
    let mut items = Vec::new();
    for r in &m.reasoning {
        items.push(OutputItem::Reasoning {
            id: ids.item("rs"),
            summary: r
                .text
                .as_ref()
                .filter(|t| !t.is_empty())
                .map(|t| {
                    vec![SummaryOut {
                        kind: "summary_text",
                        text: t.clone(),
                    }]
                })
                .unwrap_or_default(),
            encrypted_content: reasoning::encrypted_content(r),
        });
    }
    let mut content = Vec::new();
    if let Some(text) = m.text().filter(|t| !t.is_empty()) {
        content.push(OutputContent::OutputText {
            annotations: url_citations(&text, &resp.meta.annotations),
            logprobs: Vec::new(),
            text,
        });
    }
    if let Some(refusal) = &m.refusal {
        content.push(OutputContent::Refusal {
            refusal: refusal.clone(),
        });
    }
    if !content.is_empty() {
        items.push(OutputItem::Message {
            id: ids.item("msg"),
            status: "completed",
            content,
            role: "assistant",
        });
    }
    for c in &m.tool_calls {
        items.push(OutputItem::FunctionCall {
            id: ids.item("fc"),
            status: "completed",
            arguments: c.function.arguments.clone(),
            call_id: c.id.clone(),
            name: c.function.name.clone(),
        });
    }
    items
}

/// The Response object of a finished core answer. `fallback_id` (the gateway's request id)
/// names the response when the upstream's id is not a Responses id; `created_at` is used when
/// the upstream gave no time.
pub fn response(
    resp: &ChatResponse,
    req: &ResponsesRequest,
    fallback_id: &str,
    created_at: i64,
) -> ResponseObject {
    let mut ids = Ids::new(&resp.id, fallback_id);
    let model = if resp.model.is_empty() {
        req.model.clone()
    } else {
        resp.model.clone()
    };
    let created = if resp.created == 0 {
        created_at
    } else {
        resp.created
    };
    let mut obj = ResponseObject::new(
        ids.response.clone(),
        created,
        model,
        &Echo::from_request(req),
    );
    obj.output = output_items(resp, &mut ids);
    let (status, incomplete) = status(&resp.finish_reason);
    obj.status = status;
    obj.incomplete_details = incomplete;
    obj.usage = resp.usage.as_ref().map(OutUsage::from);
    obj
}

/// [`response`] as JSON bytes.
pub fn body(
    resp: &ChatResponse,
    req: &ResponsesRequest,
    fallback_id: &str,
    created_at: i64,
) -> Vec<u8> {
    serde_json::to_vec(&response(resp, req, fallback_id, created_at)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_an_upstream_responses_id() {
        let mut ids = Ids::new("resp_abc", "req1");
        assert_eq!(ids.response, "resp_abc");
        assert_eq!(ids.item("msg"), "msg_abc_0");
        assert_eq!(ids.item("fc"), "fc_abc_1");
        assert_eq!(Ids::new("chatcmpl-9", "req1").response, "resp_req1");
    }

    #[test]
    fn length_is_incomplete() {
        let (s, d) = status(&FinishReason::Length);
        assert_eq!(s, "incomplete");
        assert_eq!(d.map(|d| d.reason), Some("max_output_tokens"));
        assert_eq!(status(&FinishReason::ToolCalls).0, "completed");
    }

    #[test]
    fn web_search_citations_become_url_citations_with_char_offsets() {
        let ann: Map<String, Value> = [(
            "citations".to_owned(),
            json!([{"start": 7, "end": 12, "citations": [
                {"type": "web_search_result_location", "url": "https://x.test", "title": "X"},
                {"type": "char_location", "cited_text": "y"}]}]),
        )]
        .into_iter()
        .collect();
        let got = url_citations("héllo, world", &ann);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["start_index"], 6);
        assert_eq!(got[0]["end_index"], 11);
    }
}
