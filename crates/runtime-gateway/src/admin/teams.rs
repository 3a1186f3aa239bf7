//! `/admin/teams`: a team's budget and limits apply across all its keys.

use axum::http::StatusCode;
use runtime_governance::AdminError;
use runtime_governance::admin::{TeamInput, decode};

use super::answer::{Answer, list, ok};
use crate::govern::Governor;

pub(super) async fn handle(
    g: &Governor,
    method: &str,
    id: &str,
    body: &[u8],
) -> Result<Answer, AdminError> {
    Ok(match (method, id.is_empty()) {
        ("GET", true) => list(g.gov.teams().iter().map(|t| t.view()).collect()),
        ("POST", true) => (
            StatusCode::CREATED,
            g.gov.create_team(decode::<TeamInput>(body)?).await?.view(),
        ),
        ("GET", false) => ok(g.gov.team(id).await?.view()),
        ("PATCH", false) => ok(g
            .gov
            .update_team(id, decode::<TeamInput>(body)?, false)
            .await?
            .view()),
        ("DELETE", false) => {
            g.gov.update_team(id, TeamInput::default(), true).await?;
            ok(serde_json::json!({"id": id, "object": "team", "deleted": true}))
        }
        _ => return Err(AdminError::not_found("route", id)),
    })
}
