//! `/admin/users`: end users (the request's `user` field or the end-user header), with an
//! optional budget and rpm across every key they are called through.

use axum::http::StatusCode;
use runtime_governance::AdminError;
use runtime_governance::admin::{UserInput, decode};

use super::answer::{Answer, list, ok};
use crate::govern::Governor;

pub(super) async fn handle(
    g: &Governor,
    method: &str,
    id: &str,
    body: &[u8],
) -> Result<Answer, AdminError> {
    Ok(match (method, id.is_empty()) {
        ("GET", true) => list(g.gov.users().iter().map(|u| u.view()).collect()),
        ("POST", true) => (
            StatusCode::CREATED,
            g.gov.create_user(decode::<UserInput>(body)?).await?.view(),
        ),
        ("GET", false) => ok(g.gov.user(id).await?.view()),
        ("PATCH", false) => ok(g
            .gov
            .update_user(id, decode::<UserInput>(body)?, false)
            .await?
            .view()),
        ("DELETE", false) => {
            g.gov.update_user(id, UserInput::default(), true).await?;
            ok(serde_json::json!({"id": id, "object": "user", "deleted": true}))
        }
        _ => return Err(AdminError::not_found("route", id)),
    })
}
