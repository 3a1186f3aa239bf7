//! Chat request bodies: the OpenAI body of `provider_openai::wire`, with each preset's quirks
//! applied — fields refused or dropped by model, model ids prefixed, earlier reasoning sent
//! back the way the API reads it, OpenRouter's routing preferences added.

use provider_openai::wire::{self, RequestOptions};
use runtime_core::{ChatRequest, Error, Message, Result};
use serde_json::{Map, Value, json};

use crate::preset::{Action, EchoScope, Preset, ReasoningEcho};

/// Settings of one instance that shape its requests.
#[derive(Debug, Clone, Default)]
pub struct RequestSettings {
    /// Request mapping options (token field, usage chunk).
    pub options: RequestOptions,
    /// The `{account}` of a model prefix (Fireworks).
    pub account: Option<String>,
    /// Fields added to every body unless the request sets them (OpenRouter's `provider`).
    pub defaults: Map<String, Value>,
}

/// Where `field` is set in `req` (its wire path, e.g. `messages[2].name`), if it is set.
pub fn field_set(req: &ChatRequest, field: &str) -> Option<String> {
    let set = match field {
        "temperature" => req.temperature.is_some(),
        "top_p" => req.top_p.is_some(),
        "presence_penalty" => req.presence_penalty.is_some(),
        "frequency_penalty" => req.frequency_penalty.is_some(),
        "seed" => req.seed.is_some(),
        "stop" => !req.stop.is_empty(),
        "user" => req.user.is_some(),
        "tools" => !req.tools.is_empty(),
        "tool_choice" => req.tool_choice.is_some(),
        "parallel_tool_calls" => req.parallel_tool_calls.is_some(),
        "response_format" => req.response_format.is_some(),
        "n" => req
            .extra
            .get("n")
            .is_some_and(|n| n.as_u64() != Some(1) && !n.is_null()),
        "messages[].name" => {
            return req.messages.iter().enumerate().find_map(|(i, m)| {
                let named = match m {
                    Message::System { name, .. } | Message::User { name, .. } => name.is_some(),
                    Message::Assistant(a) => a.name.is_some(),
                    _ => false,
                };
                named.then(|| format!("messages[{i}].name"))
            });
        }
        other => req.extra.get(other).is_some_and(|v| !v.is_null()),
    };
    set.then(|| field.to_owned())
}

/// The model id to send: ids without a `/` get the preset's prefix.
pub fn wire_model(preset: &Preset, settings: &RequestSettings, model: &str) -> String {
    match preset.model_prefix {
        Some(prefix) if !model.contains('/') => {
            let account = settings.account.as_deref().unwrap_or("fireworks");
            format!("{}{model}", prefix.replace("{account}", account))
        }
        _ => model.to_owned(),
    }
}

/// Refuses the fields the API rejects for `model` (naming the field) and lists those it
/// ignores, to be left out.
pub fn check_fields(
    preset: &Preset,
    provider: &str,
    req: &ChatRequest,
    model: &str,
) -> Result<Vec<&'static str>> {
    let mut dropped = Vec::new();
    for rule in preset.fields.iter().filter(|r| r.applies_to(model)) {
        let Some(path) = field_set(req, rule.field) else {
            continue;
        };
        match rule.action {
            Action::Reject => {
                return Err(Error::invalid_request(
                    provider,
                    model,
                    Some(&path),
                    format!("{} does not accept `{path}`: {}", preset.name, rule.why),
                ));
            }
            Action::Drop => dropped.push(rule.field),
        }
    }
    Ok(dropped)
}

/// The `POST /chat/completions` body for `req`, sent to `model` (the body's or a re-targeted
/// call's).
pub fn chat_body(
    preset: &Preset,
    settings: &RequestSettings,
    provider: &str,
    req: &ChatRequest,
    model: &str,
    stream: bool,
) -> Result<Value> {
    let dropped = check_fields(preset, provider, req, model)?;
    let wire = wire_model(preset, settings, model);
    let mut extra = req.extra.clone();
    for (k, v) in &settings.defaults {
        extra.entry(k.clone()).or_insert_with(|| v.clone());
    }
    for f in &dropped {
        extra.remove(*f);
    }
    let mut body = wire::chat_request(req, &wire, stream, settings.options);
    body.extra = &extra;
    for f in &dropped {
        match *f {
            "temperature" => body.temperature = None,
            "top_p" => body.top_p = None,
            "presence_penalty" => body.presence_penalty = None,
            "frequency_penalty" => body.frequency_penalty = None,
            "seed" => body.seed = None,
            _ => {}
        }
    }
    let mut value = serde_json::to_value(&body)
        .map_err(|e| Error::invalid_request(provider, model, None, e.to_string()))?;
    echo_reasoning(preset, req, model, &mut value);
    Ok(value)
}

/// Writes earlier reasoning onto the assistant messages of `body` (whose `messages` are
/// `req.messages` one to one) the way the preset's API reads it for `model`.
fn echo_reasoning(preset: &Preset, req: &ChatRequest, model: &str, body: &mut Value) {
    let Some(messages) = body.get_mut("messages").and_then(Value::as_array_mut) else {
        return;
    };
    let last_user = req
        .messages
        .iter()
        .rposition(|m| matches!(m, Message::User { .. }));
    for (i, (m, wire)) in req.messages.iter().zip(messages.iter_mut()).enumerate() {
        let (Message::Assistant(a), Some(obj)) = (m, wire.as_object_mut()) else {
            continue;
        };
        match preset.reasoning_echo {
            ReasoningEcho::Never => {}
            ReasoningEcho::Field {
                name,
                scope,
                every_turn_for,
            } => {
                let every_turn = every_turn_for.iter().any(|p| model.contains(p));
                let in_scope = match scope {
                    EchoScope::All => true,
                    EchoScope::AfterLastUser => last_user.is_none_or(|u| i > u),
                };
                match a.reasoning_text() {
                    Some(text) if in_scope || every_turn => {
                        obj.insert(name.into(), Value::String(text));
                    }
                    _ if every_turn => {
                        obj.insert(name.into(), Value::String(String::new()));
                    }
                    _ => {}
                }
            }
            ReasoningEcho::OpenRouterDetails => {
                let details: Vec<Value> = a
                    .reasoning
                    .iter()
                    .enumerate()
                    .map(|(index, b)| {
                        if b.is_redacted() {
                            json!({"type": "reasoning.encrypted",
                                   "data": b.data.clone().unwrap_or_default(), "index": index})
                        } else {
                            let mut d = json!({"type": "reasoning.text",
                                               "text": b.text.clone().unwrap_or_default(),
                                               "index": index});
                            if let Some(s) = &b.signature {
                                d["signature"] = Value::String(s.clone());
                            }
                            d
                        }
                    })
                    .collect();
                if !details.is_empty() {
                    obj.insert("reasoning_details".into(), Value::Array(details));
                }
            }
        }
    }
}
