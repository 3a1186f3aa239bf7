//! Case files: a scenario as data. See the crate docs for the format.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use runtime_core::{
    ChatRequest, Content, ContentPart, EmbeddingRequest, Error, FinishReason, Message,
};
use serde::Deserialize;
use serde_json::Value;

use crate::category::Category;
use crate::matching::matches;
use crate::scenario::{Call, MockReply, Scenario};
use crate::target::Target;

/// One case file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// A fixture base name: `<fixture>.request.json`,
    /// `<fixture>.response.{json,sse,ndjson,eventstream}`,
    /// `<fixture>.meta.json` in the fixtures folder.
    #[serde(default)]
    fixture: Option<String>,
    /// A core-shaped request, or the name of a recorded request file (read like a fixture's);
    /// either replaces the fixture's recorded request.
    #[serde(default)]
    request: Option<Value>,
    /// `chat`, `stream`, `embed`, `complete` or `list_models` (default: from the request).
    #[serde(default)]
    call: Option<String>,
    /// The reply file (fixtures folder, then the case folder).
    #[serde(default)]
    reply: Option<String>,
    /// The reply status (default: the fixture's meta, else 200).
    #[serde(default)]
    status: Option<u16>,
    /// More reply headers (of the whole answer too, with `equivalent`).
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    /// A whole answer (JSON reply file) the streamed reply must fold to.
    #[serde(default)]
    equivalent: Option<String>,
    /// What the upstream request body must contain (`"recorded"`: the fixture's request).
    #[serde(default)]
    sent: Option<Value>,
    /// What the answer must contain (core serde shape).
    #[serde(default)]
    answer: Option<Value>,
    /// The error the call must return.
    #[serde(default)]
    error: Option<ErrorExpectation>,
    /// Why the case exists (synthetic cases say what they stand for).
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

/// The error a case expects.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorExpectation {
    /// [`error_kind`] of the error.
    kind: String,
    /// The field an `invalid_request` names.
    #[serde(default)]
    param: Option<String>,
    /// Text the error's message contains.
    #[serde(default)]
    message: Option<String>,
    /// The HTTP status an `authentication` / `api` error carries.
    #[serde(default)]
    status: Option<u16>,
    /// Whether the error may be retried.
    #[serde(default)]
    retryable: Option<bool>,
    /// The wait the error asks for, in seconds.
    #[serde(default)]
    retry_after: Option<f64>,
}

/// The snake-case name of an error's kind, as case files write it.
pub fn error_kind(e: &Error) -> &'static str {
    match e {
        Error::ProviderNotFound { .. } => "provider_not_found",
        Error::ModelNotFound { .. } => "model_not_found",
        Error::InvalidConfig { .. } => "invalid_config",
        Error::InvalidRequest { .. } => "invalid_request",
        Error::Authentication { .. } => "authentication",
        Error::RateLimited { .. } => "rate_limited",
        Error::QuotaExhausted { .. } => "quota_exhausted",
        Error::ContextLengthExceeded { .. } => "context_length_exceeded",
        Error::ContentFiltered { .. } => "content_filtered",
        Error::Api { .. } => "api",
        Error::Timeout { .. } => "timeout",
        Error::Connect { .. } => "connect",
        Error::Decode { .. } => "decode",
        Error::Stream { .. } => "stream",
        Error::Unsupported { .. } => "unsupported",
        Error::Cancelled => "cancelled",
        _ => "other",
    }
}

fn error_status(e: &Error) -> Option<u16> {
    match e {
        Error::Authentication { status, .. } | Error::Api { status, .. } => Some(*status),
        _ => None,
    }
}

impl ErrorExpectation {
    fn check(&self, e: &Error) -> Result<(), String> {
        let kind = error_kind(e);
        if kind != self.kind {
            return Err(format!(
                "expected a `{}` error, got `{kind}`: {e}",
                self.kind
            ));
        }
        if let Some(p) = &self.param {
            match e {
                Error::InvalidRequest {
                    param: Some(got), ..
                } if got == p => {}
                _ => return Err(format!("expected the error to name `{p}`: {e:?}")),
            }
        }
        if let Some(m) = &self.message
            && !e.to_string().contains(m.as_str())
        {
            return Err(format!("expected the message to contain {m:?}: {e}"));
        }
        if let Some(s) = self.status
            && error_status(e) != Some(s)
        {
            return Err(format!("expected HTTP {s}: {e:?}"));
        }
        if let Some(r) = self.retryable
            && e.is_retryable() != r
        {
            return Err(format!("expected is_retryable() = {r}: {e}"));
        }
        if let Some(secs) = self.retry_after
            && e.retry_after().map(|d| d.as_secs_f64()) != Some(secs)
        {
            return Err(format!("expected a retry after {secs}s: {e:?}"));
        }
        Ok(())
    }
}

/// Where a case's files are looked up.
struct Dirs<'a> {
    fixtures: Option<&'a Path>,
    cases: &'a Path,
}

impl Dirs<'_> {
    fn find(&self, name: &str) -> Option<PathBuf> {
        self.fixtures
            .map(|d| d.join(name))
            .into_iter()
            .chain([self.cases.join(name)])
            .find(|p| p.is_file())
    }

    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        let p = self
            .find(name)
            .ok_or_else(|| format!("no file `{name}` in the fixtures or case folder"))?;
        std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
    }

    fn json(&self, name: &str) -> Result<Value, String> {
        serde_json::from_slice(&self.read(name)?).map_err(|e| format!("{name}: {e}"))
    }
}

/// Every case of `target`'s case folders, as scenarios; a case that cannot be read becomes a
/// scenario that fails saying why.
pub(crate) fn load(target: &Target) -> Vec<Scenario> {
    target
        .cases
        .iter()
        .flat_map(|dir| load_dir(target, dir))
        .collect()
}

fn load_dir(target: &Target, dir: &Path) -> Vec<Scenario> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) => return vec![broken(&dir.display().to_string(), e.to_string())],
    };
    files.sort();
    let dirs = Dirs {
        fixtures: target.fixtures.as_deref(),
        cases: dir,
    };
    files
        .iter()
        .map(|p| {
            let name = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            match scenario(target, &dirs, &name, p) {
                Ok(s) => s,
                Err(why) => broken(&name, why),
            }
        })
        .collect()
}

fn broken(name: &str, why: String) -> Scenario {
    Scenario::new(name, Vec::new(), Call::ListModels, MockReply::json("{}"))
        .expect_result(move |_| Err(format!("the case cannot be read: {why}")))
}

/// A reply file's bytes and content type, by its extension.
fn reply_file(target: &Target, dirs: &Dirs<'_>, name: &str) -> Result<MockReply, String> {
    let bytes = dirs.read(name)?;
    Ok(if name.ends_with(".sse") {
        MockReply::sse(bytes)
    } else if name.ends_with(".ndjson") {
        MockReply::ndjson(bytes)
    } else if name.ends_with(".chunks.jsonl") || name.ends_with(".chunks.json") {
        MockReply::sse((target.chunks)(&String::from_utf8_lossy(&bytes)))
    } else if name.ends_with(".eventstream") {
        MockReply::eventstream(bytes)
    } else {
        MockReply::json(bytes)
    })
}

/// Response headers of a recording that still hold for a replayed body.
fn replayable(header: &str) -> bool {
    !matches!(
        header.to_ascii_lowercase().as_str(),
        "content-type" | "content-length" | "transfer-encoding" | "content-encoding" | "connection"
    )
}

fn scenario(target: &Target, dirs: &Dirs<'_>, name: &str, path: &Path) -> Result<Scenario, String> {
    let text = std::fs::read(path).map_err(|e| e.to_string())?;
    let case: Case = serde_json::from_slice(&text).map_err(|e| e.to_string())?;
    let meta = match &case.fixture {
        Some(f) => dirs
            .find(&format!("{f}.meta.json"))
            .map(|_| dirs.json(&format!("{f}.meta.json")))
            .transpose()?,
        None => None,
    };

    // The request: inline (core-shaped), else the fixture's recording, else a greeting.
    let mut call = match (&case.request, &case.fixture) {
        (Some(Value::String(file)), _) => (target.read_request)(&dirs.json(file)?)?,
        (Some(v), _) => crate::target::core_call(v)?,
        (None, Some(f)) if dirs.find(&format!("{f}.request.json")).is_some() => {
            (target.read_request)(&dirs.json(&format!("{f}.request.json"))?)?
        }
        _ => Call::Chat(ChatRequest::new(
            target.model.clone().unwrap_or_else(|| "test-model".into()),
            vec![Message::user("hi")],
        )),
    };

    // The reply.
    let reply_name = match (&case.reply, &case.fixture) {
        (Some(r), _) => r.clone(),
        (None, Some(f)) => ["json", "sse", "ndjson", "eventstream"]
            .iter()
            .map(|x| format!("{f}.response.{x}"))
            .find(|n| dirs.find(n).is_some())
            .ok_or_else(|| {
                format!("fixture `{f}` has no .response.json/.sse/.ndjson/.eventstream")
            })?,
        (None, None) => return Err("a case needs a `fixture` or a `reply`".into()),
    };
    let mut reply = reply_file(target, dirs, &reply_name)?;
    if let Some(m) = &meta {
        if let Some(s) = m.get("status").and_then(Value::as_u64) {
            reply.status = u16::try_from(s).map_err(|e| e.to_string())?;
        }
        if let Some(Value::Object(h)) = m.get("response_headers") {
            for (k, v) in h {
                if let Some(v) = v.as_str().filter(|_| replayable(k)) {
                    reply.headers.push((k.clone(), v.to_owned()));
                }
            }
        }
    }
    if let Some(s) = case.status {
        reply.status = s;
    }
    for (k, v) in &case.headers {
        reply.headers.push((k.clone(), v.clone()));
    }

    // The call: told, else a stream for a streamed reply, else what the request is.
    call = match (case.call.as_deref(), call) {
        (Some("list_models"), _) => Call::ListModels,
        (Some("stream"), Call::Chat(r)) => Call::Stream(r),
        (Some("chat"), Call::Stream(r)) => Call::Chat(r),
        (Some(c @ ("embed" | "complete" | "chat" | "stream")), call) => {
            let ok = matches!(
                (c, &call),
                ("embed", Call::Embed(_))
                    | ("complete", Call::Complete(_))
                    | ("chat", Call::Chat(_))
                    | ("stream", Call::Stream(_))
            );
            if !ok {
                return Err(format!("`call: {c}` does not fit the request"));
            }
            call
        }
        (Some(other), _) => return Err(format!("unknown `call: {other}`")),
        (None, Call::Chat(r)) if reply.is_stream() => Call::Stream(r),
        (None, call) => call,
    };
    if let Some(eq) = &case.equivalent {
        let (Call::Stream(r) | Call::Chat(r)) = call else {
            return Err("`equivalent` needs a chat request".into());
        };
        let mut whole = reply_file(target, dirs, eq)?;
        whole
            .headers
            .extend(case.headers.iter().map(|(k, v)| (k.clone(), v.clone())));
        // The scenario's own reply is the whole answer; the stream goes in the call.
        call = Call::StreamEqualsChat(r, std::mem::replace(&mut reply, whole));
    }

    let mut case = case;
    if case.sent.as_ref().and_then(Value::as_str) == Some("recorded") {
        let f = case
            .fixture
            .as_ref()
            .ok_or("`sent: recorded` needs a `fixture`")?;
        case.sent = Some(dirs.json(&format!("{f}.request.json"))?);
    }
    let categories = categories(&call, &case);
    let mut s = Scenario::new(name, categories, call, reply);
    s.expect_body = case.sent.clone();
    s.endpoint = meta
        .as_ref()
        .and_then(|m| m.get("url").or_else(|| m.get("path")))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let answer = case.answer.clone();
    let error = case.error.clone();
    s.expect = Arc::new(move |r| match (r, &error) {
        (Err(e), Some(want)) => want.check(e),
        (Ok(got), Some(want)) => Err(format!(
            "expected a `{}` error, got an answer: {}",
            want.kind,
            got.to_json()
        )),
        (Err(e), None) => Err(format!("error: {e}")),
        (Ok(got), None) => match &answer {
            Some(want) => matches(&got.to_json(), want),
            None => Ok(()),
        },
    });
    Ok(s)
}

fn has_image(m: &Message) -> bool {
    match m {
        Message::User { content, .. } | Message::Tool { content, .. } => content.has_image(),
        _ => false,
    }
}

fn has_text(c: &Content) -> bool {
    match c {
        Content::Text(_) => true,
        Content::Parts(p) => p.iter().any(|p| matches!(p, ContentPart::Text { .. })),
    }
}

/// What a case covers: only what it verifies. A request feature counts when the case checks
/// the body the provider sent (`sent`); an answer feature when it checks the answer.
fn categories(call: &Call, case: &Case) -> Vec<Category> {
    let mut v = Vec::new();
    let answer = case.answer.as_ref();
    let has = |path: &[&str]| {
        let mut at = answer;
        for k in path {
            at = at.and_then(|a| a.get(*k));
        }
        at.is_some_and(|v| !v.is_null())
    };
    let sent = case.sent.is_some();
    let ok = case.error.is_none();
    let chat_req: Option<&ChatRequest> = match call {
        Call::Chat(r) | Call::Stream(r) | Call::StreamEqualsChat(r, _) => Some(r),
        _ => None,
    };
    if let Some(r) = chat_req {
        let plain = r.tools.is_empty()
            && !r
                .messages
                .iter()
                .any(|m| has_image(m) || matches!(m, Message::Tool { .. }));
        let user_text = r
            .messages
            .iter()
            .any(|m| matches!(m, Message::User { content, .. } if has_text(content)));
        if ok && plain && user_text && has(&["message", "content"]) {
            v.push(Category::PlainChat);
        }
        if sent
            && r.messages
                .iter()
                .any(|m| matches!(m, Message::System { .. }))
        {
            v.push(Category::SystemPrompt);
        }
        if sent && r.messages.iter().any(|m| matches!(m, Message::Tool { .. })) {
            v.push(Category::ToolResult);
        }
        if sent && r.messages.iter().any(has_image) {
            v.push(Category::ImageInput);
        }
        let calls = answer
            .and_then(|a| a.get("message"))
            .and_then(|m| m.get("tool_calls"));
        let some_calls = match calls {
            Some(Value::Array(c)) => !c.is_empty(),
            Some(Value::Object(o)) => o.get("$len").and_then(Value::as_u64) != Some(0),
            _ => false,
        };
        if ok && some_calls {
            v.push(Category::ToolCall);
        }
        if ok && answer.is_some() && matches!(call, Call::Stream(_) | Call::StreamEqualsChat(..)) {
            v.push(Category::Streaming);
        }
        if ok && matches!(call, Call::StreamEqualsChat(..)) {
            v.push(Category::StreamEqualsChat);
        }
        if let Some(f) = answer
            .and_then(|a| a.get("finish_reason"))
            .and_then(Value::as_str)
        {
            v.push(Category::Finish(FinishReason::from_openai(f)));
        }
    }
    if ok && has(&["usage"]) {
        v.push(Category::Usage);
    }
    match call {
        Call::Embed(_) if ok && answer.is_some() => v.push(Category::Embeddings),
        Call::Complete(_) if ok && answer.is_some() => {
            v.push(Category::Completion);
            if let Some(f) = answer
                .and_then(|a| a.get("finish_reason"))
                .and_then(Value::as_str)
            {
                v.push(Category::Finish(FinishReason::from_openai(f)));
            }
        }
        Call::ListModels if ok && answer.is_some() => v.push(Category::ModelListing),
        _ => {}
    }
    if v.is_empty() {
        v.push(Category::Extra);
    }
    v
}

/// An embedding request with one text (for probes of embeddings-only providers).
pub(crate) fn embed_probe(model: &str) -> EmbeddingRequest {
    EmbeddingRequest::new(model, vec!["hi".into()])
}
