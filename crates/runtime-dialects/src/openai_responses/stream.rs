//! Core [`StreamEvent`]s → the Responses API's semantic events.
//!
//! ```text
//! response.created, response.in_progress
//! per output item (reasoning | message | function_call):
//!   response.output_item.added
//!     reasoning: reasoning_summary_part.added, reasoning_summary_text.delta*,
//!                reasoning_summary_text.done, reasoning_summary_part.done
//!     message:   per part: content_part.added, (output_text | refusal).delta*,
//!                (output_text | refusal).done, content_part.done
//!     call:      function_call_arguments.delta*, function_call_arguments.done
//!   response.output_item.done
//! response.completed | response.incomplete        (the whole response, usage included)
//! on failure: error, response.failed
//! ```
//!
//! Every event carries `sequence_number` (0, 1, 2, … in the order written), and item events
//! their `output_index`, `item_id` and, for parts, `content_index` / `summary_index`. The
//! response is announced at the first event that is not the upstream's `Start`, so it carries
//! the upstream's model.

use runtime_core::{FinishReason, StreamEvent, Usage};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::error_code;
use super::reasoning::{self, REASONING_ITEM};
use super::response::{
    Echo, Ids, OutUsage, OutputContent, OutputItem, ResponseError, ResponseObject, SummaryOut,
    status, url_citations,
};
use crate::ErrorInfo;
use crate::sse::write_event;

mod reasoning_items;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Text,
    Refusal,
}

#[derive(Debug)]
enum OpenItem {
    Reasoning {
        output_index: usize,
        id: String,
        text: Option<String>,
        signature: Option<String>,
        /// An OpenAI reasoning item's `encrypted_content`, as the upstream sent it.
        encrypted: Option<String>,
    },
    Message {
        output_index: usize,
        id: String,
        parts: Vec<OutputContent>,
        open: Option<(PartKind, String)>,
    },
    Call {
        output_index: usize,
        id: String,
        call: usize,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// The stateful encoder of one Responses stream.
#[derive(Debug)]
pub struct ResponsesStreamEncoder {
    response: ResponseObject,
    ids: Ids,
    fallback_id: String,
    seq: u64,
    started: bool,
    open: Option<OpenItem>,
    /// Core tool-call index → (output index, item id) of calls already closed.
    closed_calls: Vec<(usize, usize, String)>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    annotations: Map<String, Value>,
    done: bool,
}

#[derive(Serialize)]
struct Ev<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    sequence_number: u64,
    #[serde(flatten)]
    body: T,
}

#[derive(Serialize)]
struct WithResponse<'a> {
    response: &'a ResponseObject,
}

#[derive(Serialize)]
struct ItemEv<'a> {
    output_index: usize,
    item: &'a OutputItem,
}

#[derive(Serialize)]
struct PartEv<'a> {
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    part: &'a OutputContent,
}

#[derive(Serialize)]
struct TextDelta<'a> {
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    delta: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    logprobs: Option<[(); 0]>,
}

#[derive(Serialize)]
struct TextDone<'a> {
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    text: &'a str,
    logprobs: [(); 0],
}

#[derive(Serialize)]
struct RefusalDone<'a> {
    item_id: &'a str,
    output_index: usize,
    content_index: usize,
    refusal: &'a str,
}

#[derive(Serialize)]
struct ArgsDelta<'a> {
    item_id: &'a str,
    output_index: usize,
    delta: &'a str,
}

#[derive(Serialize)]
struct ArgsDone<'a> {
    item_id: &'a str,
    output_index: usize,
    name: &'a str,
    arguments: &'a str,
}

#[derive(Serialize)]
struct SummaryPart<'a> {
    item_id: &'a str,
    output_index: usize,
    summary_index: usize,
    part: SummaryOut,
}

#[derive(Serialize)]
struct SummaryDelta<'a> {
    item_id: &'a str,
    output_index: usize,
    summary_index: usize,
    delta: &'a str,
}

#[derive(Serialize)]
struct SummaryDone<'a> {
    item_id: &'a str,
    output_index: usize,
    summary_index: usize,
    text: &'a str,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    param: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorEv<'a> {
    code: &'a str,
    message: &'a str,
    param: Option<&'a str>,
    error: ErrorBody<'a>,
}

fn summary(text: &str) -> SummaryOut {
    SummaryOut {
        kind: "summary_text",
        text: text.to_owned(),
    }
}

impl ResponsesStreamEncoder {
    /// An encoder for `req`'s stream. `fallback_id` (the gateway's request id) names the
    /// response unless the upstream's `Start` carries a Responses id; `created_at` is Unix
    /// seconds.
    pub fn new(req: &super::types::ResponsesRequest, fallback_id: &str, created_at: i64) -> Self {
        let ids = Ids::new("", fallback_id);
        Self {
            response: ResponseObject::new(
                ids.response.clone(),
                created_at,
                req.model.clone(),
                &Echo::from_request(req),
            ),
            ids,
            fallback_id: fallback_id.to_owned(),
            seq: 0,
            started: false,
            open: None,
            closed_calls: Vec::new(),
            usage: None,
            finish: None,
            annotations: Map::new(),
            done: false,
        }
    }

    /// The usage seen so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The response as it stands (the whole response once the stream finished): what the
    /// gateway stores for `GET /v1/responses/{id}` and `previous_response_id`.
    pub fn response(&self) -> &ResponseObject {
        &self.response
    }

    fn emit<T: Serialize>(&mut self, out: &mut Vec<u8>, kind: &str, body: T) {
        let ev = Ev {
            kind,
            sequence_number: self.seq,
            body,
        };
        self.seq += 1;
        write_event(out, kind, &ev);
    }

    fn emit_response(&mut self, out: &mut Vec<u8>, kind: &str) {
        let ev = Ev {
            kind,
            sequence_number: self.seq,
            body: WithResponse {
                response: &self.response,
            },
        };
        self.seq += 1;
        write_event(out, kind, &ev);
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        self.emit_response(out, "response.created");
        self.emit_response(out, "response.in_progress");
    }

    fn item_added(&mut self, out: &mut Vec<u8>, output_index: usize, item: &OutputItem) {
        self.emit(
            out,
            "response.output_item.added",
            ItemEv { output_index, item },
        );
    }

    fn next_output_index(&self) -> usize {
        self.response.output.len()
    }

    fn close_part(&mut self, out: &mut Vec<u8>) {
        let Some(OpenItem::Message {
            output_index,
            id,
            parts,
            open,
        }) = &mut self.open
        else {
            return;
        };
        let Some((kind, text)) = open.take() else {
            return;
        };
        let (output_index, id, content_index) = (*output_index, id.clone(), parts.len());
        let part = match kind {
            PartKind::Text => OutputContent::OutputText {
                annotations: url_citations(&text, &self.annotations),
                logprobs: Vec::new(),
                text: text.clone(),
            },
            PartKind::Refusal => OutputContent::Refusal {
                refusal: text.clone(),
            },
        };
        parts.push(part.clone());
        match kind {
            PartKind::Text => self.emit(
                out,
                "response.output_text.done",
                TextDone {
                    item_id: &id,
                    output_index,
                    content_index,
                    text: &text,
                    logprobs: [],
                },
            ),
            PartKind::Refusal => self.emit(
                out,
                "response.refusal.done",
                RefusalDone {
                    item_id: &id,
                    output_index,
                    content_index,
                    refusal: &text,
                },
            ),
        }
        self.emit(
            out,
            "response.content_part.done",
            PartEv {
                item_id: &id,
                output_index,
                content_index,
                part: &part,
            },
        );
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        self.close_part(out);
        let Some(open) = self.open.take() else {
            return;
        };
        let (output_index, item) = match open {
            OpenItem::Reasoning {
                output_index,
                id,
                text,
                signature,
                encrypted,
            } => {
                if let Some(t) = &text {
                    self.emit(
                        out,
                        "response.reasoning_summary_text.done",
                        SummaryDone {
                            item_id: &id,
                            output_index,
                            summary_index: 0,
                            text: t,
                        },
                    );
                    self.emit(
                        out,
                        "response.reasoning_summary_part.done",
                        SummaryPart {
                            item_id: &id,
                            output_index,
                            summary_index: 0,
                            part: summary(t),
                        },
                    );
                }
                let mut block =
                    runtime_core::ReasoningBlock::text(text.clone().unwrap_or_default());
                block.signature = signature;
                if encrypted.is_some() {
                    block.kind = reasoning::OPENAI_KIND.into();
                    block.data = encrypted;
                }
                (
                    output_index,
                    OutputItem::Reasoning {
                        id,
                        summary: text.as_deref().map(summary).into_iter().collect(),
                        encrypted_content: reasoning::encrypted_content(&block),
                    },
                )
            }
            OpenItem::Message {
                output_index,
                id,
                parts,
                ..
            } => (
                output_index,
                OutputItem::Message {
                    id,
                    status: "completed",
                    content: parts,
                    role: "assistant",
                },
            ),
            OpenItem::Call {
                output_index,
                id,
                call,
                call_id,
                name,
                arguments,
            } => {
                self.emit(
                    out,
                    "response.function_call_arguments.done",
                    ArgsDone {
                        item_id: &id,
                        output_index,
                        name: &name,
                        arguments: &arguments,
                    },
                );
                self.closed_calls.push((call, output_index, id.clone()));
                (
                    output_index,
                    OutputItem::FunctionCall {
                        id,
                        status: "completed",
                        arguments,
                        call_id,
                        name,
                    },
                )
            }
        };
        self.emit(
            out,
            "response.output_item.done",
            ItemEv {
                output_index,
                item: &item,
            },
        );
        self.response.output.push(item);
    }

    fn message_text(&mut self, kind: PartKind, text: &str, out: &mut Vec<u8>) {
        if !matches!(self.open, Some(OpenItem::Message { .. })) {
            self.close(out);
            let output_index = self.next_output_index();
            let id = self.ids.item("msg");
            let item = OutputItem::Message {
                id: id.clone(),
                status: "in_progress",
                content: Vec::new(),
                role: "assistant",
            };
            self.item_added(out, output_index, &item);
            self.open = Some(OpenItem::Message {
                output_index,
                id,
                parts: Vec::new(),
                open: None,
            });
        }
        if matches!(&self.open, Some(OpenItem::Message { open: Some((k, _)), .. }) if *k != kind) {
            self.close_part(out);
        }
        let Some(OpenItem::Message {
            output_index,
            id,
            parts,
            open,
        }) = &mut self.open
        else {
            return;
        };
        let (output_index, id, content_index) = (*output_index, id.clone(), parts.len());
        let added = open.is_none();
        let acc = &mut open.get_or_insert_with(|| (kind, String::new())).1;
        acc.push_str(text);
        if added {
            let part = match kind {
                PartKind::Text => OutputContent::OutputText {
                    annotations: Vec::new(),
                    logprobs: Vec::new(),
                    text: String::new(),
                },
                PartKind::Refusal => OutputContent::Refusal {
                    refusal: String::new(),
                },
            };
            self.emit(
                out,
                "response.content_part.added",
                PartEv {
                    item_id: &id,
                    output_index,
                    content_index,
                    part: &part,
                },
            );
        }
        if !text.is_empty() {
            let name = match kind {
                PartKind::Text => "response.output_text.delta",
                PartKind::Refusal => "response.refusal.delta",
            };
            self.emit(
                out,
                name,
                TextDelta {
                    item_id: &id,
                    output_index,
                    content_index,
                    delta: text,
                    logprobs: (kind == PartKind::Text).then_some([]),
                },
            );
        }
    }

    fn open_call(&mut self, call: usize, call_id: String, name: String, out: &mut Vec<u8>) {
        self.close(out);
        let output_index = self.next_output_index();
        let id = self.ids.item("fc");
        let item = OutputItem::FunctionCall {
            id: id.clone(),
            status: "in_progress",
            arguments: String::new(),
            call_id: call_id.clone(),
            name: name.clone(),
        };
        self.item_added(out, output_index, &item);
        self.open = Some(OpenItem::Call {
            output_index,
            id,
            call,
            call_id,
            name,
            arguments: String::new(),
        });
    }

    /// Appends the events for one core event (possibly none).
    pub fn event(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        if let StreamEvent::Start { id, model, created } = event {
            if !self.started {
                if id.starts_with("resp_") {
                    self.ids = Ids::new(&id, &self.fallback_id);
                    self.response.id = self.ids.response.clone();
                }
                if !model.is_empty() {
                    self.response.model = model;
                }
                if created != 0 {
                    self.response.created_at = created;
                }
            }
            return;
        }
        match event {
            StreamEvent::Usage(u) => {
                self.usage = Some(u);
                return;
            }
            StreamEvent::Annotation { key, value } if key != REASONING_ITEM => {
                self.annotations.insert(key, value);
                return;
            }
            _ => {}
        }
        self.ensure_started(out);
        if let StreamEvent::Annotation { value, .. } = &event {
            self.reasoning_item(value, out);
            return;
        }
        match event {
            StreamEvent::ReasoningDelta { text } => self.reasoning_text(&text, out),
            StreamEvent::ReasoningSignature { signature } => {
                if !matches!(
                    &self.open,
                    Some(OpenItem::Reasoning {
                        signature: None,
                        ..
                    })
                ) {
                    self.open_reasoning(out);
                }
                if let Some(OpenItem::Reasoning { signature: s, .. }) = &mut self.open {
                    *s = Some(signature);
                }
            }
            StreamEvent::RedactedReasoning { data } => {
                self.close(out);
                let output_index = self.next_output_index();
                let mut block = runtime_core::ReasoningBlock::text("");
                block.kind = "redacted_thinking".into();
                block.text = None;
                block.data = Some(data);
                let item = OutputItem::Reasoning {
                    id: self.ids.item("rs"),
                    summary: Vec::new(),
                    encrypted_content: reasoning::encrypted_content(&block),
                };
                self.item_added(out, output_index, &item);
                self.emit(
                    out,
                    "response.output_item.done",
                    ItemEv {
                        output_index,
                        item: &item,
                    },
                );
                self.response.output.push(item);
            }
            StreamEvent::TextDelta { text } => self.message_text(PartKind::Text, &text, out),
            StreamEvent::RefusalDelta { text } => self.message_text(PartKind::Refusal, &text, out),
            StreamEvent::ToolCallStart {
                index, id, name, ..
            } => {
                let open_here =
                    matches!(&self.open, Some(OpenItem::Call { call, .. }) if *call == index);
                if !open_here && !self.closed_calls.iter().any(|(c, ..)| *c == index) {
                    self.open_call(index, id, name, out);
                }
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                let open_here =
                    matches!(&self.open, Some(OpenItem::Call { call, .. }) if *call == index);
                if !open_here {
                    if let Some((_, output_index, id)) = self
                        .closed_calls
                        .iter()
                        .find(|(c, ..)| *c == index)
                        .cloned()
                    {
                        // A fragment for a call already closed (an upstream that interleaves
                        // calls): sent with that call's ids, so clients that accumulate by
                        // item id still get it.
                        self.emit(
                            out,
                            "response.function_call_arguments.delta",
                            ArgsDelta {
                                item_id: &id,
                                output_index,
                                delta: &arguments,
                            },
                        );
                        return;
                    }
                    self.open_call(index, format!("call_{index}"), String::new(), out);
                }
                if let Some(OpenItem::Call {
                    output_index,
                    id,
                    arguments: acc,
                    ..
                }) = &mut self.open
                {
                    acc.push_str(&arguments);
                    let (output_index, id) = (*output_index, id.clone());
                    if !arguments.is_empty() {
                        self.emit(
                            out,
                            "response.function_call_arguments.delta",
                            ArgsDelta {
                                item_id: &id,
                                output_index,
                                delta: &arguments,
                            },
                        );
                    }
                }
            }
            StreamEvent::ToolCallEnd { index } => {
                if matches!(&self.open, Some(OpenItem::Call { call, .. }) if *call == index) {
                    self.close(out);
                }
            }
            StreamEvent::Finish { reason } => {
                self.close(out);
                self.finish = Some(reason);
            }
            StreamEvent::Start { .. } | StreamEvent::Usage(_) | StreamEvent::Annotation { .. } => {}
            // An event kind core adds later carries nothing this dialect can say.
            _ => {}
        }
    }

    /// The upstream stream ended: closes the open item, then `response.completed` (or
    /// `response.incomplete` when the answer was cut) with the whole response and its usage.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        self.close(out);
        self.done = true;
        let (status, incomplete) = status(&self.finish.clone().unwrap_or(FinishReason::Stop));
        self.response.status = status;
        self.response.incomplete_details = incomplete;
        self.response.usage = self.usage.as_ref().map(OutUsage::from);
        let kind = if status == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.emit_response(out, kind);
    }

    /// The stream failed after it started: an `error` event, then `response.failed` with the
    /// items completed so far.
    pub fn fail(&mut self, err: &ErrorInfo, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        self.done = true;
        let code = error_code(err);
        self.emit(
            out,
            "error",
            ErrorEv {
                code: &code,
                message: &err.message,
                param: err.param.as_deref(),
                error: ErrorBody {
                    code: &code,
                    message: &err.message,
                    param: err.param.as_deref(),
                },
            },
        );
        self.response.status = "failed";
        self.response.error = Some(ResponseError {
            code,
            message: err.message.clone(),
        });
        self.response.usage = self.usage.as_ref().map(OutUsage::from);
        self.emit_response(out, "response.failed");
    }
}
