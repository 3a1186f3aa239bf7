//! The generic checks every provider must meet, whatever its scenarios: the credential
//! header, the per-request key override, the status → error → retryability table, a malformed
//! body, a stalled server, a stalled and a dropped stream, unknown and inexpressible request
//! fields, and the key never shown in an error.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use runtime_core::{ChatRequest, Error, Message, Provider, RequestContext, Retryability, Secret};
use runtime_testkit::fault::{Action, FaultServer};
use serde_json::Value;
use wiremock::ResponseTemplate;

use crate::category::Category;
use crate::harness::{Run, SHORT, TEST_KEY, TIMEOUT, call, key, probe, template, with_mock};
use crate::report::Outcome;
use crate::scenario::{Call, MockReply};

/// The per-request key of the override check; it must reach the upstream instead of
/// [`TEST_KEY`].
pub const OVERRIDE_KEY: &str = "sk-conformance-override-Lw4Pq7";

/// The field the unknown-field probe sends.
pub const PROBE_FIELD: &str = "x_conformance_probe";

pub(crate) fn auth_value(run: &Run<'_>, key: &str) -> String {
    run.target.auth_header.1.replace("{key}", key)
}

pub(crate) async fn auth_header(run: &Run<'_>) -> Outcome {
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
pub(crate) async fn key_override(run: &Run<'_>) -> Outcome {
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

pub(crate) const STATUS_TABLE: &[(u16, Want)] = &[
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

pub(crate) async fn status_check(run: &mut Run<'_>, status: u16, want: Want) -> Outcome {
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

pub(crate) async fn malformed(run: &mut Run<'_>) -> Outcome {
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

pub(crate) async fn stall(run: &mut Run<'_>) -> Outcome {
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
pub(crate) fn without_last_frame(body: &[u8], ndjson: bool) -> Vec<u8> {
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
pub(crate) fn without_last_message(body: &[u8]) -> Vec<u8> {
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
pub(crate) fn stream_event(run: &Run<'_>) -> Option<(Vec<u8>, String)> {
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
        if r.content_type.starts_with(crate::scenario::EVENTSTREAM) {
            return Some((without_last_message(&r.body), r.content_type.clone()));
        }
        let ndjson = r.content_type.starts_with("application/x-ndjson");
        Some((without_last_frame(&r.body, ndjson), r.content_type.clone()))
    })
}

pub(crate) async fn stalled_stream(
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

pub(crate) async fn stream_stall(run: &mut Run<'_>) -> Outcome {
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

pub(crate) async fn stream_drop(run: &Run<'_>) -> Outcome {
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
pub(crate) fn answer_reply(run: &Run<'_>) -> Option<MockReply> {
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
pub(crate) fn probe_with(run: &Run<'_>, field: &str, value: &Value) -> Result<Call, String> {
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
pub(crate) async fn sent_or_refused(
    run: &mut Run<'_>,
    field: &str,
    value: &Value,
    may_send: bool,
) -> Outcome {
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

pub(crate) async fn unknown_field(run: &mut Run<'_>) -> Outcome {
    sent_or_refused(run, PROBE_FIELD, &Value::from("probe"), true).await
}

pub(crate) async fn inexpressible(run: &mut Run<'_>, field: &str, value: &Value) -> Outcome {
    sent_or_refused(run, field, value, false).await
}

pub(crate) fn key_hidden(errors: &[Error]) -> Outcome {
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
}
