//! The suite itself: coverage, the scenarios, and the checks every provider must meet.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, Error, FinishReason, Message, Provider,
    RequestContext, Retryability, Secret,
};
use runtime_testkit::fault::{Action, FaultServer};
use serde_json::Value;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::cases::{self, embed_probe};
use crate::{Call, Category, Got, MockReply, Outcome, Report, Scenario, TEST_KEY, Target, matches};

const TIMEOUT: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(400);

/// The per-request key of the override check; it must reach the upstream instead of
/// [`TEST_KEY`].
pub const OVERRIDE_KEY: &str = "sk-conformance-override-Lw4Pq7";

/// The field the unknown-field probe sends.
pub const PROBE_FIELD: &str = "x_conformance_probe";

fn template(r: &MockReply) -> ResponseTemplate {
    let mut t = ResponseTemplate::new(r.status).set_body_raw(r.body.clone(), &r.content_type);
    for (k, v) in &r.headers {
        t = t.insert_header(k.as_str(), v.as_str());
    }
    t
}

fn key() -> Secret {
    Secret::new(TEST_KEY)
}

/// Everything one run shares.
struct Run<'a> {
    target: &'a Target,
    caps: Capabilities,
    model: String,
    scenarios: Vec<Scenario>,
    errors: Vec<Error>,
}

/// Runs every check against `target` and returns the report (call [`Report::finish`]).
///
/// In order: the provider builds; every required [`Category`] is covered by a scenario, or
/// its capability is declared false (and the call answers `Unsupported`), or it is declared
/// not applicable; every scenario (cases and code) passes; then the generic checks — the
/// credential header, the per-request key override, the status → error → retryability table,
/// a malformed body, a stalled server, a stalled and a dropped stream, an unknown request
/// field (sent or refused by name, never dropped), the fields declared inexpressible, and the
/// key never shown in an error.
pub async fn run(target: Target) -> Report {
    let mut report = Report::new(&target.name);
    let caps = match target.build("http://127.0.0.1:9", &key(), TIMEOUT) {
        Ok(p) => p.capabilities(),
        Err(e) => {
            report.push("build", Outcome::Fail(e.to_string()));
            return report;
        }
    };
    report.push("build", Outcome::Pass);
    let mut scenarios = target.scenarios.clone();
    scenarios.extend(cases::load(&target));
    let model = target
        .model
        .clone()
        .or_else(|| {
            scenarios
                .iter()
                .map(|s| s.call.model())
                .find(|m| !m.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "test-model".into());
    let mut run = Run {
        target: &target,
        caps,
        model,
        scenarios,
        errors: Vec::new(),
    };

    coverage(&mut run, &mut report).await;
    for i in 0..run.scenarios.len() {
        let s = run.scenarios[i].clone();
        let outcome = run_scenario(&mut run, &s).await;
        report.push(format!("scenario {}", s.name), outcome);
    }

    report.push("auth header sent", auth_header(&run).await);
    report.push("per-request key reaches upstream", key_override(&run).await);
    for (status, want) in STATUS_TABLE {
        let outcome = status_check(&mut run, *status, *want).await;
        report.push(format!("status {status} -> {}", want.0), outcome);
    }
    report.push(
        "malformed body is a decode error",
        malformed(&mut run).await,
    );
    report.push("stalled server times out", stall(&mut run).await);
    if run.caps.chat && run.caps.streaming {
        let outcome = stream_stall(&mut run).await;
        report.push("stalled stream times out", outcome);
        let outcome = stream_drop(&run).await;
        report.push("dropping a stream closes upstream", outcome);
    } else {
        for check in [
            "stalled stream times out",
            "dropping a stream closes upstream",
        ] {
            report.push(check, Outcome::Unsupported("no streamed chat".into()));
        }
    }
    report.push(
        "unknown field is sent or refused by name",
        unknown_field(&mut run).await,
    );
    for (field, value) in target.cannot_express.clone() {
        let outcome = inexpressible(&mut run, &field, &value).await;
        report.push(format!("refuses `{field}` by name"), outcome);
    }
    report.push("api key never in errors", key_hidden(&run.errors));
    report
}

/// The capability a category needs, when the provider declares it false.
fn gate(cat: &Category, caps: &Capabilities) -> Option<&'static str> {
    let chat_only = matches!(
        cat,
        Category::PlainChat
            | Category::SystemPrompt
            | Category::ToolCall
            | Category::ToolResult
            | Category::ImageInput
            | Category::Streaming
            | Category::StreamEqualsChat
            | Category::Finish(_)
    );
    match cat {
        _ if chat_only && !caps.chat => Some("chat"),
        Category::ToolCall | Category::ToolResult | Category::Finish(FinishReason::ToolCalls)
            if !caps.tools =>
        {
            Some("tools")
        }
        Category::ImageInput if !caps.vision => Some("vision"),
        Category::Streaming | Category::StreamEqualsChat if !caps.streaming => Some("streaming"),
        Category::Embeddings if !caps.embeddings => Some("embeddings"),
        Category::Completion if !caps.completion => Some("completion"),
        Category::ModelListing if !caps.list_models => Some("list_models"),
        _ => None,
    }
}

async fn coverage(run: &mut Run<'_>, report: &mut Report) {
    let covered: BTreeSet<Category> = run
        .scenarios
        .iter()
        .flat_map(|s| s.categories.iter().cloned())
        .collect();
    for cat in Category::required() {
        let label = format!("covers {}", cat.label());
        if let Some((_, why)) = run.target.not_applicable.iter().find(|(c, _)| *c == cat) {
            report.push(label, Outcome::NotApplicable(why.clone()));
        } else if let Some(cap) = gate(&cat, &run.caps) {
            let outcome = unsupported_is_typed(run, &cat).await;
            report.push(
                label,
                outcome.unwrap_or(Outcome::Unsupported(format!("capability `{cap}` is false"))),
            );
        } else if covered.contains(&cat) {
            report.push(label, Outcome::Pass);
        } else {
            report.push(label, Outcome::Fail("no scenario covers it".into()));
        }
    }
}

/// For an unsupported capability, the provider must answer `Unsupported` (checked for the
/// capabilities that have a call of their own). `None` means the call returned it.
async fn unsupported_is_typed(run: &Run<'_>, cat: &Category) -> Option<Outcome> {
    let provider = run.target.build("http://127.0.0.1:9", &key(), SHORT).ok()?;
    let ctx = RequestContext::new();
    let chat = || ChatRequest::new(run.model.clone(), vec![Message::user("x")]);
    let result = match cat {
        Category::Embeddings => provider
            .embed(&embed_probe(&run.model), &ctx)
            .await
            .map(|_| ()),
        Category::PlainChat if !run.caps.chat => provider.chat(&chat(), &ctx).await.map(|_| ()),
        Category::Streaming | Category::StreamEqualsChat => {
            provider.chat_stream(&chat(), &ctx).await.map(|_| ())
        }
        _ => return None,
    };
    match result {
        Err(Error::Unsupported { .. }) => None,
        Err(e) => Some(Outcome::Fail(format!(
            "capability is false but the call did not return Unsupported: {e}"
        ))),
        Ok(()) => Some(Outcome::Fail(
            "capability is false but the call succeeded".into(),
        )),
    }
}

async fn mock(reply: &MockReply) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template(reply))
        .mount(&server)
        .await;
    server
}

async fn call(
    provider: &Arc<dyn Provider>,
    c: &Call,
    ctx: &RequestContext,
) -> runtime_core::Result<Got> {
    match c {
        Call::Chat(r) => provider.chat(r, ctx).await.map(Got::Chat),
        Call::Stream(r) | Call::StreamEqualsChat(r, _) => {
            let s = provider.chat_stream(r, ctx).await?;
            s.collect_response().await.map(Got::Chat)
        }
        Call::Embed(r) => provider.embed(r, ctx).await.map(Got::Embed),
        Call::Complete(r) => provider.complete(r, ctx).await.map(Got::Complete),
        Call::ListModels => provider.list_models(ctx).await.map(Got::Models),
    }
}

/// The path of a URL (`https://host/v1/x?q` → `/v1/x`).
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split('?').next().unwrap_or(path)
}

/// A `created` within a day of now was stamped from the local clock, not taken from the
/// upstream: the fold of a stream and the whole answer would differ at a second boundary.
fn local_clock(created: i64) -> bool {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    created != 0 && (created - now).abs() < 86_400
}

/// The fold contract: the folded stream equals the whole answer, metadata aside. An API
/// without a response id or timestamp gives `id = ""` and `created = 0` (its request id goes
/// to `meta.upstream_request_id`), never a value of its own making.
fn same_answer(whole: &ChatResponse, folded: &ChatResponse) -> Result<(), String> {
    for (what, r) in [("chat", whole), ("stream", folded)] {
        if local_clock(r.created) {
            return Err(format!(
                "{what}: created = {} looks like the local clock; an API without a timestamp \
                 gives created = 0",
                r.created
            ));
        }
    }
    let (mut a, mut b) = (whole.clone(), folded.clone());
    a.meta = Default::default();
    b.meta = Default::default();
    if a != b {
        return Err(format!("stream folds to\n{b:#?}\nbut chat returns\n{a:#?}"));
    }
    Ok(())
}

async fn run_scenario(run: &mut Run<'_>, s: &Scenario) -> Outcome {
    let server = mock(&s.reply).await;
    let provider = match run.target.build(&server.uri(), &key(), TIMEOUT) {
        Ok(p) => p,
        Err(e) => return Outcome::Fail(format!("build: {e}")),
    };
    let ctx = RequestContext::new();
    // The server whose reply is the recording: the stream's, when a stream is compared with
    // the whole answer.
    let mut recorded = server;
    let result = match &s.call {
        Call::StreamEqualsChat(req, stream_reply) => {
            let whole = call(&provider, &Call::Chat(req.clone()), &ctx).await;
            let stream_server = mock(stream_reply).await;
            let sp = match run.target.build(&stream_server.uri(), &key(), TIMEOUT) {
                Ok(p) => p,
                Err(e) => return Outcome::Fail(format!("build: {e}")),
            };
            let streamed = call(&sp, &Call::Stream(req.clone()), &ctx).await;
            match (&whole, &streamed) {
                (Ok(Got::Chat(a)), Ok(Got::Chat(b))) => {
                    if let Err(why) = same_answer(a, b) {
                        return Outcome::Fail(why);
                    }
                }
                (Err(e), _) | (_, Err(e)) => return Outcome::Fail(format!("error: {e}")),
                _ => return Outcome::Fail("unexpected result kinds".into()),
            }
            recorded = stream_server;
            streamed
        }
        other => call(&provider, other, &ctx).await,
    };
    if let Err(e) = &result {
        run.errors.push(e.clone());
    }
    if std::env::var_os("MODELRT_CONFORMANCE_DUMP").is_some() {
        match &result {
            Ok(got) => println!("{} answers:\n{:#}", s.name, got.to_json()),
            Err(e) => println!("{} fails: {e:?}", s.name),
        }
    }
    if let Err(why) = (s.expect)(&result) {
        return Outcome::Fail(why);
    }
    let reqs = recorded.received_requests().await.unwrap_or_default();
    if let Some(url) = &s.endpoint {
        let Some(first) = reqs.first() else {
            return Outcome::Fail("no request reached the server".into());
        };
        let want = url_path(url);
        let got = first.url.path();
        if !want.ends_with(got) || got == "/" {
            return Outcome::Fail(format!(
                "the request went to `{got}`; the recorded endpoint is `{want}`"
            ));
        }
    }
    if let Some(want) = &s.expect_body {
        let Some(first) = reqs.first() else {
            return Outcome::Fail("no request reached the server".into());
        };
        let got: Value = match serde_json::from_slice(&first.body) {
            Ok(v) => v,
            Err(e) => return Outcome::Fail(format!("request body is not JSON: {e}")),
        };
        if let Err(why) = matches(&got, want) {
            return Outcome::Fail(format!("request body: {why}\n{got:#}"));
        }
    }
    Outcome::Pass
}

/// The call the generic checks make: a one-message chat, or embeddings for a provider
/// without chat.
fn probe(run: &Run<'_>) -> Call {
    if !run.caps.chat && run.caps.embeddings {
        Call::Embed(embed_probe(&run.model))
    } else {
        Call::Chat(ChatRequest::new(
            run.model.clone(),
            vec![Message::user("hi")],
        ))
    }
}

async fn with_mock(
    run: &Run<'_>,
    reply: ResponseTemplate,
    ctx: &RequestContext,
    c: &Call,
) -> Result<(runtime_core::Result<Got>, Vec<wiremock::Request>), Outcome> {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(reply).mount(&server).await;
    let p = run
        .target
        .build(&server.uri(), &key(), TIMEOUT)
        .map_err(|e| Outcome::Fail(format!("build: {e}")))?;
    let r = call(&p, c, ctx).await;
    Ok((r, server.received_requests().await.unwrap_or_default()))
}

fn auth_value(run: &Run<'_>, key: &str) -> String {
    run.target.auth_header.1.replace("{key}", key)
}

async fn auth_header(run: &Run<'_>) -> Outcome {
    let reply = ResponseTemplate::new(500).set_body_string((run.target.error_body)(500, "x"));
    let (_, reqs) = match with_mock(run, reply, &RequestContext::new(), &probe(run)).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    let name = &run.target.auth_header.0;
    match reqs.first().and_then(|r| r.headers.get(name.as_str())) {
        Some(v) if v.to_str().ok() == Some(auth_value(run, TEST_KEY).as_str()) => {
            if reqs[0].url.as_str().contains(TEST_KEY) {
                Outcome::Fail("the key is in the URL".into())
            } else {
                Outcome::Pass
            }
        }
        Some(_) => Outcome::Fail(format!("header `{name}` has the wrong value")),
        None => Outcome::Fail(format!("header `{name}` missing")),
    }
}

/// `RequestContext::api_key` (the router rotates keys through it) replaces the configured key.
async fn key_override(run: &Run<'_>) -> Outcome {
    let reply = ResponseTemplate::new(500).set_body_string((run.target.error_body)(500, "x"));
    let mut ctx = RequestContext::new();
    ctx.api_key = Some(Secret::new(OVERRIDE_KEY));
    let (_, reqs) = match with_mock(run, reply, &ctx, &probe(run)).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    let Some(req) = reqs.first() else {
        return Outcome::Fail("no request reached the server".into());
    };
    let name = &run.target.auth_header.0;
    let sent_configured = req
        .headers
        .iter()
        .any(|(_, v)| v.to_str().is_ok_and(|v| v.contains(TEST_KEY)));
    match req.headers.get(name.as_str()).and_then(|v| v.to_str().ok()) {
        _ if sent_configured => {
            Outcome::Fail("the configured key was sent, not the request's".into())
        }
        Some(v) if v == auth_value(run, OVERRIDE_KEY) => Outcome::Pass,
        Some(_) => Outcome::Fail(format!("header `{name}` does not carry the request's key")),
        None => Outcome::Fail(format!("header `{name}` missing")),
    }
}

type Want = (&'static str, fn(&Error) -> bool, bool);

const STATUS_TABLE: &[(u16, Want)] = &[
    (
        400,
        (
            "invalid_request, not retryable",
            |e| matches!(e, Error::InvalidRequest { .. }),
            false,
        ),
    ),
    (
        401,
        (
            "authentication, not retryable",
            |e| matches!(e, Error::Authentication { .. }),
            false,
        ),
    ),
    (
        403,
        (
            "authentication, not retryable",
            |e| matches!(e, Error::Authentication { .. }),
            false,
        ),
    ),
    (
        404,
        (
            "model_not_found, not retryable",
            |e| matches!(e, Error::ModelNotFound { .. }),
            false,
        ),
    ),
    (
        429,
        (
            "rate_limited + retry-after, retryable",
            |e| matches!(e, Error::RateLimited { retry_after: Some(d), .. } if *d == Duration::from_secs(7)),
            true,
        ),
    ),
    (
        500,
        (
            "api error, retryable",
            |e| matches!(e, Error::Api { status: 500, .. }),
            true,
        ),
    ),
    (
        503,
        (
            "retryable",
            |e| matches!(e, Error::Api { status: 503, .. }),
            true,
        ),
    ),
    (
        529,
        (
            "overloaded, retryable",
            |e| matches!(e, Error::Api { status: 529, .. }),
            true,
        ),
    ),
];

async fn status_check(run: &mut Run<'_>, status: u16, want: Want) -> Outcome {
    let mut t = ResponseTemplate::new(status).set_body_raw(
        (run.target.error_body)(
            status,
            &format!("model {} failed; key {TEST_KEY}", run.model),
        ),
        "application/json",
    );
    if status == 429 {
        t = t.insert_header("retry-after", "7");
    }
    let (r, _) = match with_mock(run, t, &RequestContext::new(), &probe(run)).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    match r {
        Ok(_) => Outcome::Fail("expected an error".into()),
        Err(e) => {
            run.errors.push(e.clone());
            let (_, is, retry) = want;
            if !is(&e) {
                Outcome::Fail(format!("got {e:?}"))
            } else if e.is_retryable() != retry {
                Outcome::Fail(format!("is_retryable() = {} for {e}", e.is_retryable()))
            } else {
                Outcome::Pass
            }
        }
    }
}

async fn malformed(run: &mut Run<'_>) -> Outcome {
    let t = ResponseTemplate::new(200).set_body_raw("{\"choices\": [ {\"mess", "application/json");
    let (r, _) = match with_mock(run, t, &RequestContext::new(), &probe(run)).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    match r {
        Err(e @ Error::Decode { .. }) => {
            let retry = e.retryability();
            run.errors.push(e);
            if retry == Retryability::Never {
                Outcome::Pass
            } else {
                Outcome::Fail("a decode error must not be retried".into())
            }
        }
        Err(e) => Outcome::Fail(format!("expected a decode error, got {e:?}")),
        Ok(_) => Outcome::Fail("a truncated body was accepted".into()),
    }
}

async fn stall(run: &mut Run<'_>) -> Outcome {
    let server = FaultServer::start(vec![Action::Stall]).await;
    let Ok(p) = run.target.build(&server.url(), &key(), SHORT) else {
        return Outcome::Fail("build failed".into());
    };
    let c = probe(run);
    let ctx = RequestContext::new();
    match tokio::time::timeout(SHORT * 20, call(&p, &c, &ctx)).await {
        Err(_) => Outcome::Fail("the provider waited far past its timeout".into()),
        Ok(Err(e @ Error::Timeout { .. })) => {
            let ok = e.is_retryable();
            run.errors.push(e);
            if ok {
                Outcome::Pass
            } else {
                Outcome::Fail("a timeout must be retryable".into())
            }
        }
        Ok(Err(e)) => Outcome::Fail(format!("expected a timeout, got {e:?}")),
        Ok(Ok(_)) => Outcome::Fail("a stalled server produced an answer".into()),
    }
}

/// A recorded stream without its last frame (`[DONE]`, `message_stop`, the `done` line…):
/// real content, then no end — what the stall and drop checks replay.
fn without_last_frame(body: &[u8], ndjson: bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let sep = if ndjson {
        "\n"
    } else if text.contains("\r\n\r\n") {
        "\r\n\r\n"
    } else {
        "\n\n"
    };
    let frames: Vec<&str> = text.split(sep).filter(|f| !f.trim().is_empty()).collect();
    let keep = if frames.len() > 1 {
        &frames[..frames.len() - 1]
    } else {
        &frames[..]
    };
    keep.iter()
        .map(|f| format!("{f}{sep}"))
        .collect::<String>()
        .into_bytes()
}

/// A binary AWS event stream without its last message (each message starts with its total
/// length, big-endian).
fn without_last_message(body: &[u8]) -> Vec<u8> {
    let mut starts = Vec::new();
    let mut at = 0;
    while let Some(len) = body.get(at..at + 4) {
        let n = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if n < 16 || at + n > body.len() {
            break;
        }
        starts.push(at);
        at += n;
    }
    match starts.as_slice() {
        [.., last] if starts.len() > 1 => body[..*last].to_vec(),
        _ => body.to_vec(),
    }
}

/// The declared stream event, else the first successful streamed case without its end.
fn stream_event(run: &Run<'_>) -> Option<(Vec<u8>, String)> {
    if let Some(e) = &run.target.stream_event {
        return Some(e.clone());
    }
    run.scenarios.iter().find_map(|s| {
        let streams = s.categories.contains(&Category::Streaming)
            || s.categories.contains(&Category::StreamEqualsChat);
        let r = match &s.call {
            Call::Stream(_) if streams && s.reply.status == 200 => &s.reply,
            Call::StreamEqualsChat(_, r) if streams => r,
            _ => return None,
        };
        if r.content_type.starts_with(crate::EVENTSTREAM) {
            return Some((without_last_message(&r.body), r.content_type.clone()));
        }
        let ndjson = r.content_type.starts_with("application/x-ndjson");
        Some((without_last_frame(&r.body, ndjson), r.content_type.clone()))
    })
}

async fn stalled_stream(
    run: &Run<'_>,
    timeout: Duration,
) -> Result<(FaultServer, Arc<dyn Provider>), Outcome> {
    let Some((event, content_type)) = stream_event(run) else {
        return Err(Outcome::Fail(
            "no streamed case or declared stream_event to replay".into(),
        ));
    };
    let server = FaultServer::start(vec![
        Action::head(200, &content_type),
        Action::Write(event),
        Action::Stall,
    ])
    .await;
    let p = run
        .target
        .build(&server.url(), &key(), timeout)
        .map_err(|e| Outcome::Fail(format!("build: {e}")))?;
    Ok((server, p))
}

async fn stream_stall(run: &mut Run<'_>) -> Outcome {
    let (_server, p) = match stalled_stream(run, SHORT).await {
        Ok(x) => x,
        Err(o) => return o,
    };
    let req = ChatRequest::new(run.model.clone(), vec![Message::user("hi")]);
    let read = async {
        let mut s = p.chat_stream(&req, &RequestContext::new()).await?;
        let mut events = 0;
        while let Some(ev) = s.next().await {
            ev?;
            events += 1;
        }
        Ok::<usize, Error>(events)
    };
    match tokio::time::timeout(SHORT * 20, read).await {
        Err(_) => Outcome::Fail("the stream waited far past its idle timeout".into()),
        Ok(Err(e @ Error::Timeout { .. })) => {
            run.errors.push(e);
            Outcome::Pass
        }
        Ok(Err(e)) => Outcome::Fail(format!("expected a timeout, got {e:?}")),
        Ok(Ok(n)) => Outcome::Fail(format!("a stalled stream ended cleanly after {n} events")),
    }
}

async fn stream_drop(run: &Run<'_>) -> Outcome {
    let (server, p) = match stalled_stream(run, TIMEOUT).await {
        Ok(x) => x,
        Err(o) => return o,
    };
    let req = ChatRequest::new(run.model.clone(), vec![Message::user("hi")]);
    let mut s = match p.chat_stream(&req, &RequestContext::new()).await {
        Ok(s) => s,
        Err(e) => return Outcome::Fail(format!("stream did not start: {e}")),
    };
    match tokio::time::timeout(TIMEOUT, s.next()).await {
        Ok(Some(Ok(_))) => {}
        other => return Outcome::Fail(format!("expected a first event, got {other:?}")),
    }
    drop(s);
    if server.wait_client_closed(1, TIMEOUT).await {
        Outcome::Pass
    } else {
        Outcome::Fail("the upstream connection stayed open after the stream was dropped".into())
    }
}

/// The reply of a scenario whose whole (non-streamed) answer the probe call can reuse.
fn answer_reply(run: &Run<'_>) -> Option<MockReply> {
    let want = if matches!(probe(run), Call::Embed(_)) {
        Category::Embeddings
    } else {
        Category::PlainChat
    };
    run.scenarios
        .iter()
        .find(|s| {
            s.categories.contains(&want)
                && matches!(s.call, Call::Chat(_) | Call::Embed(_))
                && s.reply.status == 200
                && !s.reply.is_stream()
        })
        .map(|s| s.reply.clone())
}

/// The probe call with one more field, set as the wire would (`extra` for unknown ones).
fn probe_with(run: &Run<'_>, field: &str, value: &Value) -> Result<Call, String> {
    let mut v = match probe(run) {
        Call::Embed(r) => serde_json::to_value(r),
        Call::Chat(r) => serde_json::to_value(r),
        _ => return Err("no probe call".into()),
    }
    .map_err(|e| e.to_string())?;
    if let Value::Object(m) = &mut v {
        m.insert(field.to_owned(), value.clone());
    }
    crate::target::core_call(&v).map_err(|e| format!("`{field}` = {value}: {e}"))
}

/// The call carrying `field` must send it or refuse it naming it.
async fn sent_or_refused(run: &mut Run<'_>, field: &str, value: &Value, may_send: bool) -> Outcome {
    let Some(reply) = answer_reply(run) else {
        return Outcome::Fail(
            "no case gives a whole plain answer (chat, or embeddings) to answer the probe".into(),
        );
    };
    let c = match probe_with(run, field, value) {
        Ok(c) => c,
        Err(e) => return Outcome::Fail(e),
    };
    let (r, reqs) = match with_mock(run, template(&reply), &RequestContext::new(), &c).await {
        Ok(r) => r,
        Err(o) => return o,
    };
    let names = |p: &str| {
        p == field || p.starts_with(&format!("{field}.")) || p.starts_with(&format!("{field}["))
    };
    match r {
        Err(Error::InvalidRequest { param: Some(p), .. }) if names(&p) => Outcome::Pass,
        Err(e @ Error::Unsupported { .. }) if e.to_string().contains(field) => Outcome::Pass,
        Err(e) => Outcome::Fail(format!("refused without naming `{field}`: {e:?}")),
        Ok(_) => {
            let sent = reqs
                .first()
                .is_some_and(|r| String::from_utf8_lossy(&r.body).contains(field));
            match (may_send, sent) {
                (true, true) => Outcome::Pass,
                (false, true) => Outcome::Fail(format!("`{field}` was sent, not refused")),
                (_, false) => Outcome::Fail(format!("`{field}` was silently dropped")),
            }
        }
    }
}

async fn unknown_field(run: &mut Run<'_>) -> Outcome {
    sent_or_refused(run, PROBE_FIELD, &Value::from("probe"), true).await
}

async fn inexpressible(run: &mut Run<'_>, field: &str, value: &Value) -> Outcome {
    sent_or_refused(run, field, value, false).await
}

fn key_hidden(errors: &[Error]) -> Outcome {
    if errors.is_empty() {
        return Outcome::Fail("no errors were collected to check".into());
    }
    for e in errors {
        let shown = format!("{e} {e:?}");
        if shown.contains(TEST_KEY) {
            return Outcome::Fail(format!("key visible in {e:?}"));
        }
    }
    Outcome::Pass
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replayed_stream_loses_its_last_frame() {
        assert_eq!(
            without_last_frame(b"data: a\n\ndata: b\n\ndata: [DONE]\n\n", false),
            b"data: a\n\ndata: b\n\n"
        );
        assert_eq!(
            without_last_frame(b"data: a\r\n\r\ndata: b\r\n\r\n", false),
            b"data: a\r\n\r\n"
        );
        assert_eq!(
            without_last_frame(b"{\"a\":1}\n{\"done\":true}\n", true),
            b"{\"a\":1}\n"
        );
        assert_eq!(without_last_frame(b"data: a\n\n", false), b"data: a\n\n");
    }

    #[test]
    fn paths_and_clocks() {
        assert_eq!(url_path("https://api.x.com/v1/chat?a=1"), "/v1/chat");
        assert_eq!(url_path("https://api.x.com"), "/");
        assert!(!local_clock(0));
        assert!(!local_clock(1_700_000_000));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!(local_clock(now));
    }

    #[test]
    fn the_fold_contract_names_a_stamped_created() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        let a = ChatResponse::default();
        let b = ChatResponse {
            created: now,
            ..ChatResponse::default()
        };
        let e = same_answer(&a, &b).unwrap_err();
        assert!(e.contains("local clock"), "{e}");
        assert!(same_answer(&a, &a.clone()).is_ok());
        let c = ChatResponse {
            id: "other".into(),
            ..ChatResponse::default()
        };
        assert!(same_answer(&a, &c).is_err());
    }
}
