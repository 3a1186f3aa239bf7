//! The suite itself.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use runtime_core::{
    ChatRequest, EmbeddingRequest, Error, Message, Provider, RequestContext, Retryability, Secret,
};
use runtime_testkit::fault::{Action, FaultServer};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{
    Call, Category, Got, MockReply, Outcome, Report, Scenario, TEST_KEY, Target, json_contains,
};

const TIMEOUT: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(400);

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

/// Runs every check against `target` and returns the report (call [`Report::finish`]).
pub async fn run(target: Target) -> Report {
    let mut report = Report {
        provider: target.name.clone(),
        results: Vec::new(),
    };
    let mut errors: Vec<Error> = Vec::new();
    let caps = match (target.build)("http://127.0.0.1:9", &key(), TIMEOUT) {
        Ok(p) => p.capabilities(),
        Err(e) => {
            report.push("build", Outcome::Fail(e.to_string()));
            return report;
        }
    };
    report.push("build", Outcome::Pass);

    // Coverage: every required category has a scenario, or is unsupported / not applicable.
    let covered: BTreeSet<Category> = target
        .scenarios
        .iter()
        .flat_map(|s| s.categories.iter().cloned())
        .collect();
    for cat in Category::required() {
        let gate = gate(&cat, &caps);
        let label = format!("covers {}", cat.label());
        if let Some((_, why)) = target.not_applicable.iter().find(|(c, _)| *c == cat) {
            report.push(label, Outcome::NotApplicable(why.clone()));
        } else if let Some(cap) = gate {
            let outcome = unsupported_is_typed(&target, &cat).await;
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

    for s in &target.scenarios {
        let outcome = run_scenario(&target, s, &mut errors).await;
        report.push(format!("scenario {}", s.name), outcome);
    }

    report.push("auth header sent", auth_header(&target).await);
    for (status, want) in STATUS_TABLE {
        let outcome = status_check(&target, *status, *want, &mut errors).await;
        report.push(format!("status {status} -> {}", want.0), outcome);
    }
    report.push(
        "malformed body is a decode error",
        malformed(&target, &mut errors).await,
    );
    report.push(
        "stalled server times out",
        stall(&target, &mut errors).await,
    );
    if caps.streaming {
        report.push(
            "stalled stream times out",
            stream_stall(&target, &mut errors).await,
        );
        report.push(
            "dropping a stream closes upstream",
            stream_drop(&target).await,
        );
    } else {
        report.push(
            "stalled stream times out",
            Outcome::Unsupported("no streaming".into()),
        );
        report.push(
            "dropping a stream closes upstream",
            Outcome::Unsupported("no streaming".into()),
        );
    }
    report.push("api key never in errors", key_hidden(&errors));
    report
}

fn gate(cat: &Category, caps: &runtime_core::Capabilities) -> Option<&'static str> {
    match cat {
        Category::ToolCall
        | Category::ToolResult
        | Category::Finish(runtime_core::FinishReason::ToolCalls)
            if !caps.tools =>
        {
            Some("tools")
        }
        Category::ImageInput if !caps.vision => Some("vision"),
        Category::Streaming | Category::StreamEqualsChat if !caps.streaming => Some("streaming"),
        Category::Embeddings if !caps.embeddings => Some("embeddings"),
        Category::Completion if !caps.completion => Some("completion"),
        _ => None,
    }
}

/// For an unsupported capability, the provider must answer `Unsupported` (checked for the
/// capabilities that have a call of their own). `None` means the call returned it.
async fn unsupported_is_typed(target: &Target, cat: &Category) -> Option<Outcome> {
    let provider = (target.build)("http://127.0.0.1:9", &key(), SHORT).ok()?;
    let ctx = RequestContext::new();
    let result = match cat {
        Category::Embeddings => provider
            .embed(
                &EmbeddingRequest::new(target.model.clone(), vec!["x".into()]),
                &ctx,
            )
            .await
            .map(|_| ()),
        Category::Streaming | Category::StreamEqualsChat => provider
            .chat_stream(
                &ChatRequest::new(target.model.clone(), vec![Message::user("x")]),
                &ctx,
            )
            .await
            .map(|_| ()),
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

async fn mock_for(target: &Target, path: &str, reply: &MockReply) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path_regex(path))
        .respond_with(template(reply))
        .mount(&server)
        .await;
    let _ = target;
    server
}

fn path_of(target: &Target, call: &Call) -> String {
    match call {
        Call::Chat(_) => target.chat_path.clone(),
        Call::Stream(_) => target.stream_path.clone(),
        Call::StreamEqualsChat(..) => target.chat_path.clone(),
        Call::Embed(_) => target.embed_path.clone(),
        Call::Complete(_) => target.completion_path.clone(),
    }
}

async fn call(provider: &Arc<dyn Provider>, c: &Call) -> runtime_core::Result<Got> {
    let ctx = RequestContext::new();
    match c {
        Call::Chat(r) => provider.chat(r, &ctx).await.map(Got::Chat),
        Call::Stream(r) | Call::StreamEqualsChat(r, _) => {
            let s = provider.chat_stream(r, &ctx).await?;
            s.collect_response().await.map(Got::Chat)
        }
        Call::Embed(r) => provider.embed(r, &ctx).await.map(Got::Embed),
        Call::Complete(r) => provider.complete(r, &ctx).await.map(Got::Complete),
    }
}

async fn run_scenario(target: &Target, s: &Scenario, errors: &mut Vec<Error>) -> Outcome {
    let server = mock_for(target, &path_of(target, &s.call), &s.reply).await;
    let provider = match (target.build)(&server.uri(), &key(), TIMEOUT) {
        Ok(p) => p,
        Err(e) => return Outcome::Fail(format!("build: {e}")),
    };
    let result = match &s.call {
        Call::StreamEqualsChat(req, stream_reply) => {
            let plain = call(&provider, &Call::Chat(req.clone())).await;
            let stream_server = mock_for(target, &target.stream_path, stream_reply).await;
            let sp = match (target.build)(&stream_server.uri(), &key(), TIMEOUT) {
                Ok(p) => p,
                Err(e) => return Outcome::Fail(format!("build: {e}")),
            };
            let streamed = call(&sp, &Call::Stream(req.clone())).await;
            match (&plain, &streamed) {
                (Ok(Got::Chat(a)), Ok(Got::Chat(b))) => {
                    let (mut a, mut b) = (a.clone(), b.clone());
                    a.meta = Default::default();
                    b.meta = Default::default();
                    if a != b {
                        return Outcome::Fail(format!(
                            "stream folds to\n{b:#?}\nbut chat returns\n{a:#?}"
                        ));
                    }
                }
                (Err(e), _) | (_, Err(e)) => return Outcome::Fail(format!("error: {e}")),
                _ => return Outcome::Fail("unexpected result kinds".into()),
            }
            streamed
        }
        other => call(&provider, other).await,
    };
    if let Err(e) = &result {
        errors.push(e.clone());
    }
    if let Err(why) = (s.expect)(&result) {
        return Outcome::Fail(why);
    }
    if let Some(want) = &s.expect_body {
        let reqs = server.received_requests().await.unwrap_or_default();
        let Some(first) = reqs.first() else {
            return Outcome::Fail("no request reached the server".into());
        };
        let got: serde_json::Value = match serde_json::from_slice(&first.body) {
            Ok(v) => v,
            Err(e) => return Outcome::Fail(format!("request body is not JSON: {e}")),
        };
        if !json_contains(&got, want) {
            return Outcome::Fail(format!("request body\n{got:#}\ndoes not contain\n{want:#}"));
        }
    }
    Outcome::Pass
}

async fn auth_header(target: &Target) -> Outcome {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string((target.error_body)(500, "x")))
        .mount(&server)
        .await;
    let Ok(p) = (target.build)(&server.uri(), &key(), TIMEOUT) else {
        return Outcome::Fail("build failed".into());
    };
    let _ = p
        .chat(
            &ChatRequest::new(target.model.clone(), vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await;
    let reqs = server.received_requests().await.unwrap_or_default();
    let (name, want) = &target.auth_header;
    match reqs.first().and_then(|r| r.headers.get(name.as_str())) {
        Some(v) if v.to_str().ok() == Some(want.as_str()) => {
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

async fn status_check(
    target: &Target,
    status: u16,
    want: Want,
    errors: &mut Vec<Error>,
) -> Outcome {
    let server = MockServer::start().await;
    let mut t = ResponseTemplate::new(status).set_body_raw(
        (target.error_body)(
            status,
            &format!("model {} failed; key {TEST_KEY}", target.model),
        ),
        "application/json",
    );
    if status == 429 {
        t = t.insert_header("retry-after", "7");
    }
    Mock::given(method("POST"))
        .respond_with(t)
        .mount(&server)
        .await;
    let Ok(p) = (target.build)(&server.uri(), &key(), TIMEOUT) else {
        return Outcome::Fail("build failed".into());
    };
    let r = p
        .chat(
            &ChatRequest::new(target.model.clone(), vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await;
    match r {
        Ok(_) => Outcome::Fail("expected an error".into()),
        Err(e) => {
            errors.push(e.clone());
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

async fn malformed(target: &Target, errors: &mut Vec<Error>) -> Outcome {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("{\"choices\": [ {\"mess", "application/json"),
        )
        .mount(&server)
        .await;
    let Ok(p) = (target.build)(&server.uri(), &key(), TIMEOUT) else {
        return Outcome::Fail("build failed".into());
    };
    let r = p
        .chat(
            &ChatRequest::new(target.model.clone(), vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await;
    match r {
        Err(e @ Error::Decode { .. }) => {
            let retry = e.retryability();
            errors.push(e);
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

async fn stall(target: &Target, errors: &mut Vec<Error>) -> Outcome {
    let server = FaultServer::start(vec![Action::Stall]).await;
    let Ok(p) = (target.build)(&server.url(), &key(), SHORT) else {
        return Outcome::Fail("build failed".into());
    };
    let r = tokio::time::timeout(
        SHORT * 20,
        p.chat(
            &ChatRequest::new(target.model.clone(), vec![Message::user("hi")]),
            &RequestContext::new(),
        ),
    )
    .await;
    match r {
        Err(_) => Outcome::Fail("the provider waited far past its timeout".into()),
        Ok(Err(e @ Error::Timeout { .. })) => {
            let ok = e.is_retryable();
            errors.push(e);
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

async fn stream_stall(target: &Target, errors: &mut Vec<Error>) -> Outcome {
    let server = FaultServer::start(vec![
        Action::head(200, &target.stream_content_type),
        Action::Write(target.stream_event.clone()),
        Action::Stall,
    ])
    .await;
    let Ok(p) = (target.build)(&server.url(), &key(), SHORT) else {
        return Outcome::Fail("build failed".into());
    };
    let run = async {
        let mut s = p
            .chat_stream(
                &ChatRequest::new(target.model.clone(), vec![Message::user("hi")]),
                &RequestContext::new(),
            )
            .await?;
        let mut events = 0;
        while let Some(ev) = s.next().await {
            ev?;
            events += 1;
        }
        Ok::<usize, Error>(events)
    };
    match tokio::time::timeout(SHORT * 20, run).await {
        Err(_) => Outcome::Fail("the stream waited far past its idle timeout".into()),
        Ok(Err(e @ Error::Timeout { .. })) => {
            errors.push(e);
            Outcome::Pass
        }
        Ok(Err(e)) => Outcome::Fail(format!("expected a timeout, got {e:?}")),
        Ok(Ok(n)) => Outcome::Fail(format!("a stalled stream ended cleanly after {n} events")),
    }
}

async fn stream_drop(target: &Target) -> Outcome {
    let server = FaultServer::start(vec![
        Action::head(200, &target.stream_content_type),
        Action::Write(target.stream_event.clone()),
        Action::Stall,
    ])
    .await;
    let Ok(p) = (target.build)(&server.url(), &key(), TIMEOUT) else {
        return Outcome::Fail("build failed".into());
    };
    let s = p
        .chat_stream(
            &ChatRequest::new(target.model.clone(), vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await;
    let mut s = match s {
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
