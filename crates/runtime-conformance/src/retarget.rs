//! The re-targeting check: a call a layer re-targets (the router's deployment model, the
//! dispatcher's `provider/model`) reaches the upstream with the call's model, not the one its
//! body names.

use percent_encoding::percent_decode_str;
use runtime_core::RequestContext;

use crate::category::Category;
use crate::harness::{Run, TIMEOUT, key, mock, template, with_mock};
use crate::report::Outcome;
use crate::scenario::Call;

/// What the upstream saw of a request: its path (percent-decoded, where Bedrock and Google put
/// the model) and its body.
fn seen(req: &wiremock::Request) -> String {
    let path = percent_decode_str(req.url.path()).decode_utf8_lossy();
    format!("{path}\n{}", String::from_utf8_lossy(&req.body))
}

/// The model a re-targeted probe names: the run's model with a suffix, so a provider that picks
/// its wire format from the model id's prefix (Bedrock, Vertex) picks the same one.
pub(crate) fn retarget_model(model: &str) -> String {
    format!("{model}-retargeted")
}

/// A recorded plain chat (or embeddings) case, re-targeted to [`retarget_model`], must send
/// that model wherever the direct call sends the body's, and the body's nowhere.
pub(crate) async fn retargeted(run: &Run<'_>) -> Outcome {
    // A recorded whole answer and the call it answers, so both calls decode.
    let Some(case) = run.scenarios.iter().find(|s| {
        s.reply.status == 200
            && !s.reply.is_stream()
            && match &s.call {
                Call::Chat(_) => s.categories.contains(&Category::PlainChat),
                Call::Embed(_) => s.categories.contains(&Category::Embeddings),
                _ => false,
            }
    }) else {
        return Outcome::Fail(
            "no case gives a whole plain answer (chat, or embeddings) to re-target".into(),
        );
    };
    let (probe, reply) = (&case.call, &case.reply);
    let model = probe.model();
    let ctx = RequestContext::new();
    let direct = match with_mock(run, template(reply), &ctx, probe).await {
        Ok((Ok(_), reqs)) => reqs,
        Ok((Err(e), _)) => return Outcome::Fail(format!("the direct call failed: {e}")),
        Err(o) => return o,
    };
    let Some(direct) = direct.first().map(seen) else {
        return Outcome::Fail("no request reached the server".into());
    };
    if model.is_empty() || !direct.contains(model) {
        return Outcome::NotApplicable("the upstream request does not name the model".into());
    }
    let aimed = retarget_model(model);
    let call = match probe {
        Call::Chat(r) => runtime_core::Call::chat(r),
        Call::Embed(r) => runtime_core::Call::embed(r),
        _ => return Outcome::Fail("no probe call".into()),
    };
    let server = mock(reply).await;
    let provider = match run.target.build(&server.uri(), &key(), TIMEOUT) {
        Ok(p) => p,
        Err(e) => return Outcome::Fail(format!("build: {e}")),
    };
    if let Err(e) = runtime_core::call::serve(&*provider, call.with_model(&aimed), &ctx).await {
        return Outcome::Fail(format!("the re-targeted call failed: {e}"));
    }
    let reqs = server.received_requests().await.unwrap_or_default();
    let Some(sent) = reqs.first().map(seen) else {
        return Outcome::Fail("no request reached the server".into());
    };
    if !sent.contains(&aimed) {
        return Outcome::Fail(format!(
            "the request does not name the call's model `{aimed}`:\n{sent}"
        ));
    }
    if sent.replace(&aimed, "").contains(model) {
        return Outcome::Fail(format!(
            "the request still names the body's model `{model}` beside `{aimed}`:\n{sent}"
        ));
    }
    Outcome::Pass
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retarget_model_keeps_the_prefix_a_provider_may_read() {
        assert_eq!(
            retarget_model("anthropic.claude-3-haiku-20240307-v1:0"),
            "anthropic.claude-3-haiku-20240307-v1:0-retargeted"
        );
    }
}
