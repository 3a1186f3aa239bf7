//! The suite itself: coverage, the scenarios, and the checks every provider must meet.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, Error, FinishReason, Message, RequestContext,
};
use serde_json::Value;

use crate::cases::{self, embed_probe};
use crate::category::Category;
use crate::generic::{
    STATUS_TABLE, auth_header, inexpressible, key_hidden, key_override, malformed, stall,
    status_check, stream_drop, stream_stall, unknown_field,
};
use crate::harness::{Run, SHORT, TIMEOUT, call, key, mock, url_path};
use crate::matching::matches;
use crate::report::{Outcome, Report};
use crate::scenario::{Call, Got, Scenario};
use crate::target::Target;

impl Target {
    /// Runs every check (see [`crate::run`]).
    pub async fn run(self) -> Report {
        run(self).await
    }
}

/// Runs every check against `target` and returns the report (call [`Report::finish`]).
///
/// In order: the provider builds; every required [`Category`] is covered by a scenario, or
/// its capability is declared false (and the call answers `Unsupported`), or it is declared
/// not applicable; every scenario (cases and code) passes; then the generic checks — the
/// credential header, the per-request key override, a re-targeted call sending the call's
/// model, the status → error → retryability table,
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
    report.push(
        "re-targeted call sends the call's model",
        crate::retarget::retargeted(&run).await,
    );
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

#[cfg(test)]
mod tests {
    use super::*;

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
