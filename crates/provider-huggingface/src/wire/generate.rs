//! `POST /generate` and `/generate_stream` bodies: chat and completion requests → TGI parameters.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use runtime_core::{
    ChatRequest, CompletionRequest, Content, ContentPart, Error, Message, ResponseFormat,
    ToolChoice,
};

/// Request fields other than `inputs` that the `/generate` mapping reads. Built from a chat
/// request ([`GenerateInput::from_chat`]) or a completion request
/// ([`GenerateInput::from_completion`]).
#[derive(Debug, Clone)]
pub struct GenerateInput<'a> {
    /// The model (only for error messages: a TGI server serves one model).
    pub model: &'a str,
    /// The prompt text.
    pub inputs: Cow<'a, str>,
    /// `max_tokens` → `max_new_tokens`.
    pub max_tokens: Option<u32>,
    /// `temperature` (0 → greedy: `do_sample: false`).
    pub temperature: Option<f64>,
    /// `top_p` (1.0 → omitted: TGI requires it below 1).
    pub top_p: Option<f64>,
    /// Stop sequences.
    pub stop: &'a [String],
    /// Seed (must be non-negative).
    pub seed: Option<i64>,
    /// Frequency penalty (TGI has it).
    pub frequency_penalty: Option<f64>,
    /// Presence penalty (TGI has none: rejected).
    pub presence_penalty: Option<f64>,
    /// End-user id (TGI has nowhere to put it: rejected).
    pub user: Option<&'a str>,
    /// JSON output → `grammar`.
    pub response_format: Option<&'a ResponseFormat>,
    /// Provider-specific fields: TGI `parameters` from [`EXTRA_PARAMETERS`].
    pub extra: &'a Map<String, Value>,
}

/// The `parameters` of `/generate` a request may pass through its extra fields. (`top_n_tokens`
/// is not among them: the alternatives it adds to the answer have no place in a chat response.)
pub const EXTRA_PARAMETERS: &[&str] = &[
    "top_k",
    "repetition_penalty",
    "typical_p",
    "truncate",
    "watermark",
    "decoder_input_details",
    "adapter_id",
    "do_sample",
    "best_of",
];

fn invalid(provider: &str, model: &str, param: &str, msg: impl Into<String>) -> Error {
    Error::invalid_request(provider, model, Some(param), msg)
}

impl<'a> GenerateInput<'a> {
    /// The prompt of a chat request. `/generate` takes one prompt and applies no chat template,
    /// so only a conversation of exactly one user message (text only) can be expressed; anything
    /// else is an `InvalidRequest` naming `messages` (use `api = "messages"` for those).
    ///
    /// `model` is the one asked for (the body's or a re-targeted call's).
    pub fn from_chat(req: &'a ChatRequest, model: &'a str, provider: &str) -> Result<Self, Error> {
        let text = match req.messages.as_slice() {
            [Message::User { content, name }] => {
                if name.is_some() {
                    return Err(invalid(
                        provider,
                        model,
                        "messages[0].name",
                        "api = \"generate\" sends a bare prompt; a participant name cannot be expressed",
                    ));
                }
                match content {
                    Content::Text(t) => Cow::Borrowed(t.as_str()),
                    Content::Parts(parts) => {
                        let mut t = String::new();
                        for p in parts {
                            match p {
                                ContentPart::Text { text } => t.push_str(text),
                                ContentPart::ImageUrl { .. } => {
                                    return Err(Error::unsupported(
                                        provider,
                                        "image input (api = \"generate\"; use api = \"messages\")",
                                    ));
                                }
                                _ => {
                                    return Err(invalid(
                                        provider,
                                        model,
                                        "messages[0].content",
                                        "api = \"generate\" sends a text prompt; this content part cannot be expressed",
                                    ));
                                }
                            }
                        }
                        Cow::Owned(t)
                    }
                }
            }
            _ => {
                return Err(invalid(
                    provider,
                    model,
                    "messages",
                    format!(
                        "api = \"generate\" sends one prompt without a chat template, so only a \
                         single user message can be expressed (got {} messages: {}); use \
                         api = \"messages\" for system prompts and conversations",
                        req.messages.len(),
                        req.messages
                            .iter()
                            .map(Message::role)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
        };
        if !req.tools.is_empty() {
            return Err(Error::unsupported(
                provider,
                "tools (api = \"generate\"; use api = \"messages\")",
            ));
        }
        if matches!(
            req.tool_choice,
            Some(ToolChoice::Required | ToolChoice::Function(_))
        ) {
            return Err(invalid(
                provider,
                model,
                "tool_choice",
                "a tool call cannot be required without tools",
            ));
        }
        Ok(Self {
            model,
            inputs: text,
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop: &req.stop,
            seed: req.seed,
            frequency_penalty: req.frequency_penalty,
            presence_penalty: req.presence_penalty,
            user: req.user.as_deref(),
            response_format: req.response_format.as_ref(),
            extra: &req.extra,
        })
    }

    /// A completion request for `model` (the body's or a re-targeted call's): its prompt is sent
    /// as is.
    pub fn from_completion(
        req: &'a CompletionRequest,
        model: &'a str,
        provider: &str,
    ) -> Result<Self, Error> {
        if req.suffix.is_some() {
            return Err(invalid(
                provider,
                model,
                "suffix",
                "TGI /generate has no fill-in-the-middle suffix",
            ));
        }
        Ok(Self {
            model,
            inputs: Cow::Borrowed(req.prompt.as_str()),
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop: &req.stop,
            seed: req.seed,
            frequency_penalty: req.frequency_penalty,
            presence_penalty: req.presence_penalty,
            user: req.user.as_deref(),
            response_format: None,
            extra: &req.extra,
        })
    }
}

/// The body of `POST /generate` and `POST /generate_stream`:
/// `{inputs, parameters{max_new_tokens, temperature, top_p, stop, seed, details: true,
/// return_full_text: false, do_sample, grammar, …}}`.
///
/// OpenAI semantics are kept: temperature 0 is greedy decoding (`do_sample: false`, no
/// temperature, since TGI rejects 0), any other request samples (`do_sample: true`, as TGI's own
/// Messages API does), `top_p: 1` is "no nucleus cut" and is omitted (TGI requires < 1).
pub fn generate_request<'a>(
    input: &'a GenerateInput<'_>,
    provider: &str,
) -> Result<GenerateRequest<'a>, Error> {
    let model = input.model;
    if input.presence_penalty.is_some() {
        return Err(invalid(
            provider,
            model,
            "presence_penalty",
            "TGI /generate has no presence penalty (it has frequency_penalty and repetition_penalty)",
        ));
    }
    if input.user.is_some() {
        return Err(invalid(
            provider,
            model,
            "user",
            "TGI /generate has no end-user field",
        ));
    }
    let mut p = GenerateParameters {
        max_new_tokens: input.max_tokens,
        do_sample: Some(true),
        temperature: None,
        top_p: None,
        stop: input.stop,
        seed: None,
        frequency_penalty: input.frequency_penalty,
        grammar: None,
        extra: BTreeMap::new(),
        details: true,
        return_full_text: false,
    };
    match input.temperature {
        Some(t) if t < 0.0 || !t.is_finite() => {
            return Err(invalid(
                provider,
                model,
                "temperature",
                "must be a non-negative number",
            ));
        }
        Some(0.0) => p.do_sample = Some(false),
        Some(t) => p.temperature = Some(t),
        None => {}
    }
    match input.top_p {
        Some(t) if !(t > 0.0 && t <= 1.0) => {
            return Err(invalid(provider, model, "top_p", "must be in (0, 1]"));
        }
        Some(t) if t < 1.0 => p.top_p = Some(t),
        _ => {}
    }
    if let Some(seed) = input.seed {
        let Ok(seed) = u64::try_from(seed) else {
            return Err(invalid(provider, model, "seed", "TGI seeds are unsigned"));
        };
        p.seed = Some(seed);
    }
    p.grammar = match input.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => {
            Some(Grammar::json(Cow::Owned(json!({"type": "object"}))))
        }
        Some(ResponseFormat::JsonSchema { json_schema }) => {
            let Some(schema) = &json_schema.schema else {
                return Err(invalid(
                    provider,
                    model,
                    "response_format.json_schema.schema",
                    "TGI grammar needs the schema itself",
                ));
            };
            Some(Grammar::json(Cow::Borrowed(schema)))
        }
        Some(_) => {
            return Err(invalid(
                provider,
                model,
                "response_format",
                "this response format cannot be expressed as a TGI grammar",
            ));
        }
    };
    for (k, v) in input.extra {
        if !EXTRA_PARAMETERS.contains(&k.as_str()) {
            return Err(invalid(
                provider,
                model,
                k,
                format!(
                    "not a TGI /generate parameter; known extra parameters: {}",
                    EXTRA_PARAMETERS.join(", ")
                ),
            ));
        }
        if k == "do_sample" {
            // The caller's own `do_sample` wins over the one temperature implies.
            p.do_sample = None;
        }
        p.extra.insert(k, v);
    }
    Ok(GenerateRequest {
        inputs: &input.inputs,
        parameters: p,
    })
}

/// The body of `POST /generate` and `POST /generate_stream`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateRequest<'a> {
    /// The prompt.
    pub inputs: &'a str,
    /// Generation parameters.
    pub parameters: GenerateParameters<'a>,
}

/// `parameters` of a `/generate` request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateParameters<'a> {
    /// Most new tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_new_tokens: Option<u32>,
    /// Sample (else greedy decoding).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub do_sample: Option<bool>,
    /// Temperature (never 0: TGI rejects it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus cut (below 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub stop: &'a [String],
    /// Seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Constrained output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grammar: Option<Grammar<'a>>,
    /// Parameters from [`EXTRA_PARAMETERS`], passed through.
    #[serde(flatten)]
    pub extra: BTreeMap<&'a str, &'a Value>,
    /// Always true: the answer's token counts and finish reason.
    pub details: bool,
    /// Always false: only the generated text.
    pub return_full_text: bool,
}

/// A TGI `grammar`: `{"type": "json", "value": <schema>}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Grammar<'a> {
    /// Always `json` here.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The JSON schema.
    pub value: Cow<'a, Value>,
}

impl<'a> Grammar<'a> {
    /// A JSON grammar for `schema`.
    pub fn json(schema: Cow<'a, Value>) -> Self {
        Self {
            kind: "json",
            value: schema,
        }
    }
}
