//! `POST /v2/chat` bodies from core chat requests.

use runtime_core::{
    ChatRequest, Content, ContentPart, Error, Message, ResponseFormat, Result, ToolChoice,
    ToolDefinition,
};
use serde::Serialize;
use serde_json::{Map, Value};

/// Request fields Cohere's chat takes that the core does not model; passed through.
pub const PASSED_EXTRA: &[&str] = &[
    "documents",
    "citation_options",
    "safety_mode",
    "k",
    "strict_tools",
    "thinking",
    "logprobs",
    "priority",
];

/// The body of `POST /v2/chat`.
#[derive(Debug, Serialize)]
pub struct CohereChatRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Messages.
    pub messages: Vec<CohereMessage<'a>>,
    /// Tools (OpenAI's function shape).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tools: &'a [ToolDefinition],
    /// `REQUIRED` or `NONE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<&'static str>,
    /// JSON output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<CohereResponseFormat<'a>>,
    /// Temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Top-p, named `p`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    /// Most output tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop_sequences: &'a [String],
    /// Seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Streaming.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Cohere fields the core does not model ([`PASSED_EXTRA`]).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One message.
#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum CohereMessage<'a> {
    /// System.
    System {
        /// Text.
        content: String,
    },
    /// User.
    User {
        /// Text, or text and image parts.
        content: UserContent<'a>,
    },
    /// Assistant.
    Assistant {
        /// Text.
        #[serde(skip_serializing_if = "Option::is_none")]
        content: Option<String>,
        /// Tool calls.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<CohereToolCallOut<'a>>,
    },
    /// A tool result.
    Tool {
        /// The call it answers.
        tool_call_id: &'a str,
        /// The result.
        content: String,
    },
}

/// User content.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum UserContent<'a> {
    /// Plain text.
    Text(&'a str),
    /// Parts.
    Parts(Vec<CoherePart<'a>>),
}

/// A content part.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoherePart<'a> {
    /// Text.
    Text {
        /// Text.
        text: &'a str,
    },
    /// An image (URL or data URL).
    ImageUrl {
        /// The image.
        image_url: CohereImage<'a>,
    },
}

/// An image reference.
#[derive(Debug, Serialize)]
pub struct CohereImage<'a> {
    /// URL or `data:` URL.
    pub url: &'a str,
}

/// A tool call sent back.
#[derive(Debug, Serialize)]
pub struct CohereToolCallOut<'a> {
    /// Id.
    pub id: &'a str,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name and arguments.
    pub function: CohereFunctionOut<'a>,
}

/// Name and arguments of a call sent back.
#[derive(Debug, Serialize)]
pub struct CohereFunctionOut<'a> {
    /// Name.
    pub name: &'a str,
    /// Arguments (JSON text).
    pub arguments: &'a str,
}

/// `response_format`.
#[derive(Debug, Serialize)]
pub struct CohereResponseFormat<'a> {
    /// Always `json_object`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The schema, when one is given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_schema: Option<&'a Value>,
}

/// Maps a core chat request for `model` (the body's or a re-targeted call's); what Cohere cannot express is refused naming the field. `user`
/// is not sent: Cohere's chat has no end-user field (the gateway keeps it for attribution).
pub fn chat_request<'a>(
    req: &'a ChatRequest,
    model: &'a str,
    provider: &str,
    stream: bool,
) -> Result<CohereChatRequest<'a>> {
    let invalid =
        |field: &str, why: &str| Error::invalid_request(provider, model, Some(field), why);
    let mut messages = Vec::with_capacity(req.messages.len());
    for (i, m) in req.messages.iter().enumerate() {
        messages.push(match m {
            Message::System { content, .. } => CohereMessage::System {
                content: content.to_text(),
            },
            Message::User { content, .. } => CohereMessage::User {
                content: user_content(content, &format!("messages[{i}].content"), &invalid)?,
            },
            Message::Assistant(a) => {
                if !a.reasoning.is_empty() && a.content.is_none() && a.tool_calls.is_empty() {
                    return Err(invalid(
                        &format!("messages[{i}]"),
                        "Cohere takes no reasoning-only assistant turn",
                    ));
                }
                CohereMessage::Assistant {
                    content: a.content.as_ref().map(Content::to_text),
                    tool_calls: a
                        .tool_calls
                        .iter()
                        .map(|c| CohereToolCallOut {
                            id: &c.id,
                            kind: "function",
                            function: CohereFunctionOut {
                                name: &c.function.name,
                                arguments: &c.function.arguments,
                            },
                        })
                        .collect(),
                }
            }
            Message::Tool {
                content,
                tool_call_id,
                ..
            } => CohereMessage::Tool {
                tool_call_id,
                content: content.to_text(),
            },
            _ => {
                return Err(invalid(
                    &format!("messages[{i}]"),
                    "a message role Cohere does not take",
                ));
            }
        });
    }
    let tool_choice = match &req.tool_choice {
        None | Some(ToolChoice::Auto) => None,
        Some(ToolChoice::Required) => Some("REQUIRED"),
        Some(ToolChoice::None) => Some("NONE"),
        Some(_) => {
            return Err(invalid(
                "tool_choice",
                "Cohere cannot force one named tool (only `required` or `none`)",
            ));
        }
    };
    if req.parallel_tool_calls == Some(false) {
        return Err(invalid(
            "parallel_tool_calls",
            "Cohere cannot turn parallel tool calls off",
        ));
    }
    let response_format = match &req.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(CohereResponseFormat {
            kind: "json_object",
            json_schema: None,
        }),
        Some(ResponseFormat::JsonSchema { json_schema }) => Some(CohereResponseFormat {
            kind: "json_object",
            json_schema: json_schema.schema.as_ref(),
        }),
        Some(_) => return Err(invalid("response_format", "not a format Cohere takes")),
    };
    let mut extra = Map::new();
    for (k, v) in &req.extra {
        match k.as_str() {
            "n" if v.as_u64() == Some(1) || v.is_null() => {}
            k if PASSED_EXTRA.contains(&k) => {
                extra.insert(k.to_owned(), v.clone());
            }
            other => return Err(invalid(other, "not a field of Cohere's chat")),
        }
    }
    Ok(CohereChatRequest {
        model,
        messages,
        tools: &req.tools,
        tool_choice,
        response_format,
        temperature: req.temperature,
        p: req.top_p,
        max_tokens: req.max_tokens,
        stop_sequences: &req.stop,
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        stream,
        extra,
    })
}

fn user_content<'a>(
    content: &'a Content,
    field: &str,
    invalid: &dyn Fn(&str, &str) -> Error,
) -> Result<UserContent<'a>> {
    match content {
        Content::Text(t) => Ok(UserContent::Text(t)),
        Content::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Text { text } => Ok(CoherePart::Text { text }),
                ContentPart::ImageUrl { image_url } => Ok(CoherePart::ImageUrl {
                    image_url: CohereImage {
                        url: &image_url.url,
                    },
                }),
                _ => Err(invalid(field, "a content part Cohere does not take")),
            })
            .collect::<Result<Vec<_>>>()
            .map(UserContent::Parts),
    }
}
