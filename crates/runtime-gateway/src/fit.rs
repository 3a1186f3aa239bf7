//! Whether a request fits its model, checked before anything is sent: the model exists (else
//! a `404` that lists only what the caller's key may use) and serves the kind of request (a
//! chat request on an embedding model, or the reverse, is a `400`).

use axum::http::StatusCode;
use model_runtime::error::excerpt;
use model_runtime::{ModelKind, Runtime};

use crate::auth::Principal;
use crate::error::ApiError;

/// Most model names an unknown-model error lists.
const MAX_LISTED: usize = 20;

/// The kind of request the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// Chat or text completion (`/v1/chat/completions`, `/v1/completions`, and the dialects).
    Chat,
    /// Embeddings (`/v1/embeddings`).
    Embedding,
}

impl Want {
    fn route(self) -> &'static str {
        match self {
            Want::Chat => "/v1/chat/completions",
            Want::Embedding => "/v1/embeddings",
        }
    }
}

/// `Ok` when `model` exists and serves `want`; otherwise the client's error.
///
/// A logical model's kind is its `type` in `[[models]]` (`chat` is the default; a model
/// without an explicit `type` accepts both kinds, as before); a `provider/model` is checked
/// against the provider's static catalog when the model is listed there.
pub fn check(runtime: &Runtime, who: &Principal, model: &str, want: Want) -> Result<(), ApiError> {
    if let Some(table) = runtime
        .config()
        .models
        .iter()
        .find(|t| t.get("name").and_then(|n| n.as_str()) == Some(model))
    {
        let declared = table.get("type").and_then(|t| t.as_str());
        return match (declared, want) {
            (Some("embedding"), Want::Chat) => Err(mismatch(model, "an embedding model", want)),
            (Some("chat"), Want::Embedding) => Err(mismatch(model, "a chat model", want)),
            _ => Ok(()),
        };
    }
    if runtime.logical_models().iter().any(|n| n == model) {
        return Ok(());
    }
    let registry = runtime.registry();
    let Some((instance, rest)) = model.split_once('/') else {
        return Err(unknown(runtime, who, model));
    };
    let Some(provider) = registry.get(instance) else {
        return if registry.factory(instance).is_ok() {
            Ok(())
        } else {
            Err(unknown(runtime, who, model))
        };
    };
    let kind = provider
        .models()
        .into_iter()
        .find(|m| m.id == rest)
        .map(|m| m.kind);
    match (kind, want) {
        (Some(ModelKind::Embedding), Want::Chat) => {
            Err(mismatch(model, "an embedding model", want))
        }
        (_, Want::Embedding) if !provider.capabilities().embeddings => Err(mismatch(
            model,
            "served by a provider without embeddings",
            want,
        )),
        _ => Ok(()),
    }
}

fn mismatch(model: &str, what: &str, want: Want) -> ApiError {
    let other = match want {
        Want::Chat => Want::Embedding,
        Want::Embedding => Want::Chat,
    };
    ApiError::bad_request(format!(
        "model `{}` is {what}; it cannot serve {}: use {} with it, or pick a model that serves this kind of request",
        excerpt(model),
        want.route(),
        if what.starts_with("served by") {
            "another model".to_owned()
        } else {
            other.route().to_owned()
        },
    ))
    .with_param("model")
    .with_code("model_kind_mismatch")
}

/// `404 model_not_found` naming at most [`MAX_LISTED`] models this key may use.
fn unknown(runtime: &Runtime, who: &Principal, model: &str) -> ApiError {
    let mut names: Vec<String> = runtime
        .logical_models()
        .into_iter()
        .filter(|n| who.allows(n))
        .collect();
    let registry = runtime.registry();
    for instance in registry.instances() {
        // A key limited by patterns sees the instances it may reach through them.
        let open = who.allows(&format!("{instance}/\u{0}"));
        let some = open
            || registry.get(&instance).is_some_and(|p| {
                p.models()
                    .iter()
                    .any(|m| who.allows(&format!("{instance}/{}", m.id)))
            });
        if some {
            names.push(format!("{instance}/<model>"));
        }
    }
    let total = names.len();
    let listed: Vec<String> = names
        .iter()
        .take(MAX_LISTED)
        .map(|n| excerpt(n).into_owned())
        .collect();
    let more = total.saturating_sub(MAX_LISTED);
    let hint = if listed.is_empty() {
        "this key may use no model".to_owned()
    } else {
        format!(
            "this key may use: {}{}",
            listed.join(", "),
            if more > 0 {
                format!(" and {more} more (GET /v1/models lists them)")
            } else {
                String::new()
            }
        )
    };
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        format!("model `{}` does not exist; {hint}", excerpt(model)),
    )
    .with_param("model")
    .with_code("model_not_found")
}

/// The embedding input is not empty: at least one text or token list, and no empty token
/// list (what OpenAI answers too).
pub fn check_input(req: &model_runtime::EmbeddingRequest) -> Result<(), ApiError> {
    if req.is_empty() {
        return Err(ApiError::bad_request("`input` must not be empty").with_param("input"));
    }
    if let Some(i) = req.tokens.iter().position(Vec::is_empty) {
        return Err(
            ApiError::bad_request(format!("`input[{i}]` is an empty list of token ids"))
                .with_param(format!("input[{i}]")),
        );
    }
    Ok(())
}
