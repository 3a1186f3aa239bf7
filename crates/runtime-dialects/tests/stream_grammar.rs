//! Property: for any core event stream a provider can produce, both encoders write valid SSE
//! that obeys their dialect's event grammar, and what a client folds from it equals the core
//! fold of the same events (text, refusal, reasoning and signatures, tool calls and arguments,
//! usage). Bounded: 600 generated streams from a fixed seed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::grammar::{check_messages, check_responses};
use common::{Sse, parse_sse, render};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use runtime_core::{FinishReason, StreamAccumulator, StreamEvent, Usage};
use runtime_dialects::anthropic_messages::MessagesStreamEncoder;
use runtime_dialects::openai_responses::{ResponsesStreamEncoder, request as responses};
use runtime_dialects::{ErrorCategory, ErrorInfo};
use serde_json::Value;

fn words(rng: &mut StdRng) -> String {
    let pool = ["a", " b", "é", "🙂", "\n", "\"q\"", " end", "", "{", "\\"];
    (0..rng.random_range(0..4))
        .map(|_| pool[rng.random_range(0..pool.len())])
        .collect()
}

/// A stream as providers produce them: optional start and early usage, content in runs,
/// tool calls one after the other, then finish and usage (in either order), maybe a failure.
fn generate(rng: &mut StdRng) -> (Vec<StreamEvent>, bool) {
    let mut ev = Vec::new();
    if rng.random_bool(0.8) {
        ev.push(StreamEvent::Start {
            id: if rng.random_bool(0.5) {
                "msg_up".into()
            } else {
                "resp_up".into()
            },
            model: "up-model".into(),
            created: 7,
        });
    }
    if rng.random_bool(0.5) {
        ev.push(StreamEvent::Usage(Usage::new(10, 1)));
    }
    let mut calls = 0;
    for _ in 0..rng.random_range(0..7) {
        match rng.random_range(0..7) {
            0 | 1 => {
                for _ in 0..rng.random_range(1..4) {
                    ev.push(StreamEvent::TextDelta { text: words(rng) });
                }
            }
            2 => {
                for _ in 0..rng.random_range(1..3) {
                    ev.push(StreamEvent::ReasoningDelta { text: words(rng) });
                }
                if rng.random_bool(0.6) {
                    ev.push(StreamEvent::ReasoningSignature {
                        signature: format!("sig{}", rng.random_range(0..99)),
                    });
                }
            }
            3 => ev.push(StreamEvent::RedactedReasoning {
                data: "EmwKAhgB".into(),
            }),
            4 => ev.push(StreamEvent::RefusalDelta { text: words(rng) }),
            5 => ev.push(StreamEvent::Annotation {
                key: "stop_sequence".into(),
                value: Value::String("END".into()),
            }),
            _ => {
                let index = calls;
                calls += 1;
                ev.push(StreamEvent::ToolCallStart {
                    index,
                    id: format!("call_{index}"),
                    name: format!("f{index}"),
                    thought_signature: None,
                });
                let args = ["{", "\"x\":", " 1", "}"];
                let pieces = if rng.random_bool(0.3) { 0 } else { 4 };
                for a in args.iter().take(pieces) {
                    ev.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: (*a).into(),
                    });
                }
                if pieces == 0 {
                    ev.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: "{}".into(),
                    });
                }
                if rng.random_bool(0.5) {
                    ev.push(StreamEvent::ToolCallEnd { index });
                }
            }
        }
    }
    let fail = rng.random_bool(0.1);
    if !fail {
        let reason = match rng.random_range(0..4) {
            0 => FinishReason::Stop,
            1 => FinishReason::Length,
            2 => FinishReason::ContentFilter,
            _ if calls > 0 => FinishReason::ToolCalls,
            _ => FinishReason::Other("pause_turn".into()),
        };
        let usage = StreamEvent::Usage(Usage::new(10, rng.random_range(1..50)));
        if rng.random_bool(0.5) {
            ev.push(StreamEvent::Finish { reason });
            ev.push(usage);
        } else {
            ev.push(usage);
            ev.push(StreamEvent::Finish { reason });
        }
    }
    (ev, fail)
}

fn concat(events: &[Sse], kind: &str, field: &str) -> String {
    events
        .iter()
        .filter(|e| e.data["type"] == kind || e.data["delta"]["type"] == kind)
        .map(|e| {
            e.data[field]
                .as_str()
                .or(e.data["delta"][field].as_str())
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[test]
fn generated_streams_obey_both_grammars_and_fold_like_core() {
    let mut rng = StdRng::seed_from_u64(2026);
    let req = responses::parse(br#"{"model":"m","stream":true}"#).unwrap();
    for case in 0..600 {
        let (events, fail) = generate(&mut rng);
        let mut acc = StreamAccumulator::default();
        for e in &events {
            acc.push(e.clone());
        }
        let folded = acc.finish();
        let err = ErrorInfo::new(ErrorCategory::Overloaded, "Overloaded");

        let mut m = MessagesStreamEncoder::new("msg_gw", "m");
        let mut r = ResponsesStreamEncoder::new(&req, "gw", 1);
        let (mut mo, mut ro) = (Vec::new(), Vec::new());
        for e in &events {
            m.event(e.clone(), &mut mo);
            r.event(e.clone(), &mut ro);
        }
        if fail {
            m.fail(&err, &mut mo);
            r.fail(&err, &mut ro);
        } else {
            m.finish(&mut mo);
            r.finish(&mut ro);
        }
        let ms = parse_sse(&mo).unwrap_or_else(|e| panic!("case {case}: {e}"));
        let rs = parse_sse(&ro).unwrap_or_else(|e| panic!("case {case}: {e}"));
        check_messages(&ms)
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{events:?}\n{}", render(&ms)));
        check_responses(&rs)
            .unwrap_or_else(|e| panic!("case {case}: {e}\n{events:?}\n{}", render(&rs)));

        // Messages: text, thinking, signatures, tool arguments fold like core.
        let text = folded.message.text().unwrap_or_default();
        assert_eq!(concat(&ms, "text_delta", "text"), text, "case {case}");
        let thinking: String = folded
            .message
            .reasoning
            .iter()
            .filter_map(|b| b.text.clone())
            .collect();
        assert_eq!(
            concat(&ms, "thinking_delta", "thinking"),
            thinking,
            "case {case}"
        );
        let sigs: Vec<String> = folded
            .message
            .reasoning
            .iter()
            .filter_map(|b| b.signature.clone())
            .collect();
        let got: Vec<String> = ms
            .iter()
            .filter(|e| e.data["delta"]["type"] == "signature_delta")
            .map(|e| e.data["delta"]["signature"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, sigs, "case {case}");
        let args: String = folded
            .message
            .tool_calls
            .iter()
            .map(|c| c.function.arguments.clone())
            .collect();
        assert_eq!(
            concat(&ms, "input_json_delta", "partial_json"),
            args,
            "case {case}"
        );

        // Responses: the same text, refusal, summaries and arguments; final usage.
        assert_eq!(
            concat(&rs, "response.output_text.delta", "delta"),
            text,
            "case {case}"
        );
        assert_eq!(
            concat(&rs, "response.refusal.delta", "delta"),
            folded.message.refusal.clone().unwrap_or_default(),
            "case {case}"
        );
        assert_eq!(
            concat(&rs, "response.reasoning_summary_text.delta", "delta"),
            thinking,
            "case {case}"
        );
        assert_eq!(
            concat(&rs, "response.function_call_arguments.delta", "delta"),
            args,
            "case {case}"
        );
        if !fail {
            let last = &rs.last().unwrap().data["response"];
            let u = folded.usage.unwrap();
            assert_eq!(
                last["usage"]["output_tokens"], u.completion_tokens,
                "case {case}"
            );
            let delta = ms.iter().find(|e| e.event == "message_delta").unwrap();
            assert_eq!(delta.data["usage"]["output_tokens"], u.completion_tokens);
            let calls: Vec<(String, String, String)> = last["output"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["type"] == "function_call")
                .map(|i| {
                    let s = |k: &str| i[k].as_str().unwrap().to_owned();
                    (s("call_id"), s("name"), s("arguments"))
                })
                .collect();
            let want: Vec<(String, String, String)> = folded
                .message
                .tool_calls
                .iter()
                .map(|c| {
                    (
                        c.id.clone(),
                        c.function.name.clone(),
                        c.function.arguments.clone(),
                    )
                })
                .collect();
            assert_eq!(calls, want, "case {case}: the final output's calls");
        }
    }
}
