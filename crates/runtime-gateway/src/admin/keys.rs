//! `/admin/keys`: create (the secret is in this answer only), list, show, update, rotate,
//! revoke. No answer ever holds a hash or a secret other than the one just made.

use axum::http::StatusCode;
use runtime_governance::AdminError;
use runtime_governance::admin::{CreateKey, RotateKey, UpdateKey, decode};
use serde_json::Value;

use super::answer::{Answer, list, ok};
use crate::govern::Governor;

fn with_secret(mut view: Value, secret: String) -> Value {
    if let Some(m) = view.as_object_mut() {
        m.insert("secret".into(), Value::String(secret));
    }
    view
}

pub(super) async fn handle(
    g: &Governor,
    method: &str,
    template: &str,
    id: &str,
    body: &[u8],
) -> Result<Answer, AdminError> {
    let now = g.gov.clock().now_ms();
    Ok(match (method, template) {
        ("GET", "/admin/keys") => list(g.gov.keys().iter().map(|k| k.view(now)).collect()),
        ("POST", "/admin/keys") => {
            let (k, secret) = g.gov.create_key(decode::<CreateKey>(body)?).await?;
            (StatusCode::CREATED, with_secret(k.view(now), secret))
        }
        ("GET", _) => ok(g.gov.key(id).await?.view(now)),
        ("PATCH", _) => ok(g
            .gov
            .update_key(id, decode::<UpdateKey>(body)?)
            .await?
            .view(now)),
        ("POST", "/admin/keys/{id}/rotate") => {
            let (k, secret) = g.gov.rotate_key(id, decode::<RotateKey>(body)?).await?;
            ok(with_secret(k.view(now), secret))
        }
        ("POST", "/admin/keys/{id}/revoke") => {
            decode::<Empty>(body)?;
            ok(g.gov.revoke_key(id).await?.view(now))
        }
        _ => return Err(AdminError::not_found("route", template)),
    })
}

/// A body that must be empty (or `{}`).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}
