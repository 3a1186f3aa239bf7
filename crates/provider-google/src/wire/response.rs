//! Gemini responses and streamed chunks → core events and responses.
//!
//! One decoder serves both: a non-streamed answer is decoded as a single chunk and folded with
//! the core [`StreamAccumulator`], so a streamed answer and a non-streamed one can never
//! disagree.

use serde_json::{Map, Value, json};

use runtime_core::{
    ChatResponse, Error, FinishReason, ResponseMeta, StreamAccumulator, StreamEvent, Usage,
};

use super::types::{GenerateContentResponse, PartialArg, UsageMetadata, WirePart};

/// Gemini's usage in the core vocabulary: prompt = `promptTokenCount` (cached included) +
/// `toolUsePromptTokenCount`; completion = `candidatesTokenCount` + `thoughtsTokenCount`;
/// cached = `cachedContentTokenCount`; reasoning = `thoughtsTokenCount`; total =
/// `totalTokenCount` (computed when absent).
pub fn map_usage(u: &UsageMetadata) -> Usage {
    let prompt = u.prompt_token_count.unwrap_or(0) + u.tool_use_prompt_token_count.unwrap_or(0);
    let thoughts = u.thoughts_token_count.unwrap_or(0);
    let completion = u.candidates_token_count.unwrap_or(0) + thoughts;
    Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: u.total_token_count.unwrap_or(prompt + completion),
        cached_prompt_tokens: u.cached_content_token_count.unwrap_or(0),
        cache_creation_tokens: 0,
        reasoning_tokens: thoughts,
    }
}

/// What a Gemini finish reason means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// A normal finish reason.
    Reason(FinishReason),
    /// The model failed to produce a usable call (`MALFORMED_FUNCTION_CALL`,
    /// `UNEXPECTED_TOOL_CALL`): an error, never a silent `stop`.
    Failed(String),
}

/// Maps `finishReason`. `STOP` becomes `tool_calls` when the answer holds a function call.
pub fn map_finish(raw: &str, has_tool_calls: bool) -> Finish {
    Finish::Reason(match raw {
        "STOP" if has_tool_calls => FinishReason::ToolCalls,
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" => {
            return Finish::Failed(raw.to_owned());
        }
        other => FinishReason::Other(other.to_ascii_lowercase()),
    })
}

/// A function call whose arguments are still streaming in.
#[derive(Debug)]
struct OpenCall {
    index: usize,
    args: Value,
}

/// Turns Gemini responses (whole or streamed chunks) into core stream events.
///
/// Ids: Gemini function calls usually have no id; the decoder names them `call_<n>` by their
/// position in the answer (the same in streams and whole answers), and keeps an id Gemini does
/// send.
#[derive(Debug)]
pub struct StreamDecoder {
    provider: String,
    model: String,
    started: bool,
    finished: bool,
    content_sent: bool,
    calls: usize,
    open: Option<OpenCall>,
    usage: Option<Usage>,
    usage_sent: Option<Usage>,
    /// Safety ratings, citations, grounding, finish message and prompt feedback, latest
    /// value per key; sent as [`StreamEvent::Annotation`]s when the answer ends.
    annotations: Map<String, Value>,
}

impl StreamDecoder {
    /// A decoder for a call to `model` on provider instance `provider`.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            started: false,
            finished: false,
            content_sent: false,
            calls: 0,
            open: None,
            usage: None,
            usage_sent: None,
            annotations: Map::new(),
        }
    }

    /// Decodes one SSE `data:` payload.
    pub fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let chunk: GenerateContentResponse = match serde_json::from_str(data) {
            Ok(c) => c,
            // The connection ended inside an event: a cut stream, not a bad one.
            Err(e) if e.is_eof() => {
                return Err(Error::Stream {
                    provider: self.provider.clone(),
                    model: self.model.clone(),
                    error_type: None,
                    message: format!("the stream was cut inside an event: {e}"),
                    transient: true,
                    content_sent: self.content_sent,
                });
            }
            Err(e) => {
                return Err(Error::decode(
                    &self.provider,
                    &self.model,
                    "stream chunk",
                    e,
                    data,
                ));
            }
        };
        self.push(chunk, out)
    }

    /// Decodes one parsed response or chunk.
    pub fn push(
        &mut self,
        chunk: GenerateContentResponse,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        if let Some(err) = &chunk.error {
            return Err(self.stream_error(err));
        }
        if chunk.candidates.is_empty() {
            if let Some(fb) = &chunk.prompt_feedback {
                if let Some(reason) = &fb.block_reason {
                    let detail = fb
                        .block_reason_message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default();
                    return Err(Error::ContentFiltered {
                        provider: self.provider.clone(),
                        model: self.model.clone(),
                        message: format!("prompt blocked ({reason}){detail}"),
                    });
                }
            }
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: chunk.response_id.clone().unwrap_or_default(),
                model: chunk
                    .model_version
                    .clone()
                    .unwrap_or_else(|| self.model.clone()),
                created: chunk
                    .create_time
                    .as_deref()
                    .and_then(runtime_core::time::rfc3339_unix_seconds)
                    .unwrap_or(0),
            });
        }
        if let Some(u) = &chunk.usage_metadata {
            self.usage = Some(map_usage(u));
        }
        if let Some(r) = chunk.prompt_feedback.and_then(|f| f.safety_ratings) {
            self.annotations.insert("prompt_safety_ratings".into(), r);
        }
        let candidate = chunk
            .candidates
            .into_iter()
            .find(|c| c.index.unwrap_or(0) == 0);
        if let Some(mut c) = candidate {
            for (k, v) in [
                ("safety_ratings", c.safety_ratings.take()),
                ("citation_metadata", c.citation_metadata.take()),
                ("grounding_metadata", c.grounding_metadata.take()),
                (
                    "finish_message",
                    c.finish_message.clone().map(Value::String),
                ),
            ] {
                if let Some(v) = v {
                    self.annotations.insert(k.into(), v);
                }
            }
            if !self.finished {
                for part in c.content.map(|c| c.parts).unwrap_or_default() {
                    self.part(part, out)?;
                }
            }
            if let Some(raw) = c.finish_reason.as_deref() {
                self.finish(raw, c.finish_message.as_deref(), out)?;
            }
        }
        self.flush_usage(out);
        Ok(())
    }

    fn content(&mut self, out: &mut Vec<StreamEvent>, ev: StreamEvent) {
        self.content_sent = true;
        out.push(ev);
    }

    fn part(&mut self, part: WirePart, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        for (present, what) in [
            (
                part.inline_data.is_some(),
                "inlineData (image or audio output)",
            ),
            (part.file_data.is_some(), "fileData output"),
            (part.executable_code.is_some(), "executableCode output"),
            (
                part.code_execution_result.is_some(),
                "codeExecutionResult output",
            ),
        ] {
            if present {
                return Err(Error::unsupported(
                    &self.provider,
                    format!("Gemini {what} parts (the core answer cannot carry them)"),
                ));
            }
        }
        if let Some(fc) = part.function_call {
            let continues = fc.will_continue == Some(true);
            let unnamed = fc.name.as_deref().is_none_or(str::is_empty);
            if unnamed && self.open.is_some() {
                if let Some(open) = self.open.as_mut() {
                    for p in fc.partial_args.iter().flatten() {
                        apply_partial(&mut open.args, p);
                    }
                    if let Some(sig) = part.thought_signature {
                        let index = open.index;
                        self.content(
                            out,
                            StreamEvent::ToolCallStart {
                                index,
                                id: String::new(),
                                name: String::new(),
                                thought_signature: Some(sig),
                            },
                        );
                    }
                }
                if !continues {
                    self.close_open(out);
                }
                return Ok(());
            }
            self.close_open(out);
            let index = self.calls;
            self.calls += 1;
            let id = fc
                .id
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| format!("call_{index}"));
            self.content(
                out,
                StreamEvent::ToolCallStart {
                    index,
                    id,
                    name: fc.name.unwrap_or_default(),
                    thought_signature: part.thought_signature,
                },
            );
            let mut args = fc.args.unwrap_or_else(|| json!({}));
            for p in fc.partial_args.iter().flatten() {
                apply_partial(&mut args, p);
            }
            self.open = Some(OpenCall { index, args });
            if !continues {
                self.close_open(out);
            }
            return Ok(());
        }
        if let Some(text) = part.text {
            if !text.is_empty() {
                let ev = if part.thought == Some(true) {
                    StreamEvent::ReasoningDelta { text }
                } else {
                    StreamEvent::TextDelta { text }
                };
                self.content(out, ev);
            }
        }
        if let Some(signature) = part.thought_signature {
            self.content(out, StreamEvent::ReasoningSignature { signature });
        }
        Ok(())
    }

    fn close_open(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some(open) = self.open.take() {
            out.push(StreamEvent::ToolCallDelta {
                index: open.index,
                arguments: open.args.to_string(),
            });
            out.push(StreamEvent::ToolCallEnd { index: open.index });
        }
    }

    fn finish(
        &mut self,
        raw: &str,
        message: Option<&str>,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        self.close_open(out);
        match map_finish(raw, self.calls > 0) {
            Finish::Reason(reason) => {
                self.finished = true;
                out.push(StreamEvent::Finish { reason });
                Ok(())
            }
            Finish::Failed(kind) => Err(Error::Stream {
                provider: self.provider.clone(),
                model: self.model.clone(),
                error_type: Some(kind.clone()),
                message: format!(
                    "Gemini stopped with {kind}: the model did not produce a valid function call{}",
                    message.map(|m| format!(" ({m})")).unwrap_or_default()
                ),
                transient: false,
                content_sent: self.content_sent,
            }),
        }
    }

    fn flush_usage(&mut self, out: &mut Vec<StreamEvent>) {
        if self.finished && self.usage.is_some() && self.usage != self.usage_sent {
            self.usage_sent = self.usage;
            if let Some(u) = self.usage {
                out.push(StreamEvent::Usage(u));
            }
        }
    }

    /// True once the finish reason was seen.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Called when the byte stream ends: a stream that never finished is an error.
    pub fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        self.close_open(out);
        if self.finished {
            self.flush_usage(out);
            for (key, value) in std::mem::take(&mut self.annotations) {
                out.push(StreamEvent::Annotation { key, value });
            }
            return Ok(());
        }
        Err(Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream ended before a finish reason".into(),
            transient: true,
            content_sent: self.content_sent,
        })
    }

    fn stream_error(&self, err: &Value) -> Error {
        let body =
            runtime_core::http::parse_error_body(json!({ "error": err }).to_string().as_bytes());
        let status = body.error_type.clone().unwrap_or_default();
        let code = body.code.clone().unwrap_or_default();
        let transient = matches!(
            status.as_str(),
            "UNAVAILABLE" | "INTERNAL" | "RESOURCE_EXHAUSTED" | "DEADLINE_EXCEEDED" | "ABORTED"
        ) || matches!(code.as_str(), "429" | "500" | "502" | "503" | "504");
        Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: body.error_type.or(body.code),
            message: body.message,
            transient,
            content_sent: self.content_sent,
        }
    }
}

/// Sets the value of a streamed argument at its JSON path (`$.a[0].b`); string pieces are
/// appended to the string already there.
fn apply_partial(root: &mut Value, p: &PartialArg) {
    let value = if let Some(s) = &p.string_value {
        Value::String(s.clone())
    } else if let Some(n) = p.number_value {
        number(n)
    } else if let Some(b) = p.bool_value {
        Value::Bool(b)
    } else {
        Value::Null
    };
    let Some(slot) = slot_at(root, &p.json_path) else {
        return;
    };
    match (slot, value) {
        (Value::String(existing), Value::String(piece)) => existing.push_str(&piece),
        (slot, v) => *slot = v,
    }
}

fn number(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        // Whole numbers in the safe integer range are integers in JSON.
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

enum Seg {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Option<Vec<Seg>> {
    let rest = path.strip_prefix('$')?;
    let mut segs = Vec::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                let mut key = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '.' || n == '[' {
                        break;
                    }
                    key.push(n);
                    chars.next();
                }
                segs.push(Seg::Key(key));
            }
            '[' => {
                let mut inner = String::new();
                for n in chars.by_ref() {
                    if n == ']' {
                        break;
                    }
                    inner.push(n);
                }
                let quoted = inner
                    .strip_prefix('\'')
                    .and_then(|s| s.strip_suffix('\''))
                    .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')));
                match quoted {
                    Some(k) => segs.push(Seg::Key(k.to_owned())),
                    None => segs.push(Seg::Index(inner.trim().parse().ok()?)),
                }
            }
            _ => return None,
        }
    }
    Some(segs)
}

fn slot_at<'a>(root: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    let mut cur = root;
    for seg in parse_path(path)? {
        cur = match seg {
            Seg::Key(k) => {
                if !cur.is_object() {
                    *cur = Value::Object(Map::new());
                }
                cur.as_object_mut()?.entry(k).or_insert(Value::Null)
            }
            Seg::Index(i) => {
                if !cur.is_array() {
                    *cur = Value::Array(Vec::new());
                }
                let arr = cur.as_array_mut()?;
                if arr.len() <= i {
                    arr.resize(i + 1, Value::Null);
                }
                arr.get_mut(i)?
            }
        };
    }
    Some(cur)
}

/// Maps a whole (non-streamed) `generateContent` answer, through the same decoder as a
/// stream: safety ratings, citations, grounding and prompt feedback are kept in
/// `meta.annotations` either way.
pub fn parse_generate(
    body: GenerateContentResponse,
    provider: &str,
    model: &str,
) -> Result<ChatResponse, Error> {
    if body.candidates.is_empty()
        && body.error.is_none()
        && body
            .prompt_feedback
            .as_ref()
            .is_none_or(|f| f.block_reason.is_none())
    {
        return Err(Error::decode(
            provider,
            model,
            "generateContent response",
            "the response has no candidates",
            "",
        ));
    }
    let mut dec = StreamDecoder::new(provider, model);
    let mut events = Vec::new();
    let done = dec.push(body, &mut events).and_then(|()| {
        if dec.is_finished() {
            dec.end(&mut events)
        } else {
            Err(Error::decode(
                provider,
                model,
                "generateContent response",
                "the candidate has no finishReason",
                "",
            ))
        }
    });
    if let Err(mut e) = done {
        // Nothing reached the caller of a non-streamed call.
        if let Error::Stream { content_sent, .. } = &mut e {
            *content_sent = false;
        }
        return Err(e);
    }
    let mut acc = StreamAccumulator::default();
    for ev in events {
        acc.push(ev);
    }
    Ok(acc.finish_with_meta(ResponseMeta {
        provider: Some(provider.to_owned()),
        ..ResponseMeta::default()
    }))
}

impl runtime_core::FrameDecoder for StreamDecoder {
    fn decode(&mut self, frame: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        StreamDecoder::decode(self, frame, out)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        StreamDecoder::end(self, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn created_of(create_time: &str) -> i64 {
        let mut d = StreamDecoder::new("g", "m");
        let mut out = Vec::new();
        let chunk = serde_json::json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}],
            "createTime": create_time
        });
        d.decode(&chunk.to_string(), &mut out).unwrap();
        match out.first() {
            Some(StreamEvent::Start { created, .. }) => *created,
            other => panic!("expected a start event, got {other:?}"),
        }
    }

    #[test]
    fn create_time_applies_its_utc_offset() {
        assert_eq!(created_of("2026-05-19T14:59:42.780296Z"), 1_779_202_782);
        // The same instant with a +02:00 offset: the hand-written parser this replaced read
        // it two hours late.
        assert_eq!(
            created_of("2026-05-19T16:59:42.780296+02:00"),
            1_779_202_782
        );
        assert_eq!(created_of("garbage"), 0);
    }

    #[test]
    fn partial_paths() {
        let mut v = json!({});
        for (path, val) in [
            ("$.ops[1].name", "b"),
            ("$.ops[0].name", "a"),
            ("$.ops[0].name", "c"),
            ("$['weird key']", "w"),
        ] {
            apply_partial(
                &mut v,
                &PartialArg {
                    json_path: path.into(),
                    string_value: Some(val.into()),
                    ..PartialArg::default()
                },
            );
        }
        apply_partial(
            &mut v,
            &PartialArg {
                json_path: "$.n".into(),
                number_value: Some(3.0),
                ..PartialArg::default()
            },
        );
        assert_eq!(
            v,
            json!({"ops": [{"name": "ac"}, {"name": "b"}], "weird key": "w", "n": 3})
        );
    }

    #[test]
    fn finish_mapping() {
        assert_eq!(
            map_finish("STOP", true),
            Finish::Reason(FinishReason::ToolCalls)
        );
        assert_eq!(
            map_finish("RECITATION", false),
            Finish::Reason(FinishReason::ContentFilter)
        );
        assert_eq!(
            map_finish("OTHER", false),
            Finish::Reason(FinishReason::Other("other".into()))
        );
        assert!(matches!(
            map_finish("MALFORMED_FUNCTION_CALL", false),
            Finish::Failed(_)
        ));
    }

    #[test]
    fn usage_mapping() {
        let u = map_usage(&UsageMetadata {
            prompt_token_count: Some(100),
            candidates_token_count: None,
            thoughts_token_count: Some(7),
            cached_content_token_count: Some(60),
            tool_use_prompt_token_count: Some(5),
            total_token_count: Some(112),
        });
        assert_eq!(
            u,
            Usage {
                prompt_tokens: 105,
                completion_tokens: 7,
                total_tokens: 112,
                cached_prompt_tokens: 60,
                cache_creation_tokens: 0,
                reasoning_tokens: 7,
            }
        );
    }
}
