//! Cost of the gateway's hot-path encoding: SSE chunks from stream events, and a whole
//! `chat.completion` body.
#![allow(missing_docs)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use model_runtime::{AssistantMessage, ChatResponse, Content, FinishReason, StreamEvent, Usage};
use runtime_gateway::encode::{ChunkEncoder, ChunkKind, chat_completion};

fn events(n: usize) -> Vec<StreamEvent> {
    let mut v = vec![StreamEvent::Start {
        id: "chatcmpl-bench".into(),
        model: "gpt-4o-mini".into(),
        created: 1_700_000_000,
    }];
    v.extend((0..n).map(|i| StreamEvent::TextDelta {
        text: format!("token{i} "),
    }));
    v.push(StreamEvent::Finish {
        reason: FinishReason::Stop,
    });
    v.push(StreamEvent::Usage(Usage::new(20, n as u64)));
    v
}

fn bench(c: &mut Criterion) {
    let evs = events(500);
    let mut g = c.benchmark_group("sse_encode");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function("500_text_deltas", |b| {
        b.iter(|| {
            let mut enc = ChunkEncoder::new(ChunkKind::Chat, "id".into(), "m".into(), true);
            let mut out = Vec::with_capacity(64 * 1024);
            for e in evs.iter().cloned() {
                enc.event(e, &mut out);
            }
            enc.finish(&mut out);
            black_box(out.len())
        })
    });
    g.finish();
    let resp = ChatResponse {
        id: "chatcmpl-bench".into(),
        model: "gpt-4o-mini".into(),
        created: 1_700_000_000,
        message: AssistantMessage {
            content: Some(Content::Text("word ".repeat(200))),
            ..AssistantMessage::default()
        },
        finish_reason: FinishReason::Stop,
        usage: Some(Usage::new(20, 200)),
        ..ChatResponse::default()
    };
    c.bench_function("chat_completion_body", |b| {
        b.iter(|| black_box(chat_completion(black_box(&resp), "x", "y").len()))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
