//! What the admin API and the CLI send: create and update bodies (unknown fields refused),
//! checked field by field, and the error that names the field.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::model::{Budget, Limits, Role, to_micros_ceil, valid_id};
use crate::period::Period;

/// An admin request that cannot be done, with the HTTP status and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminError {
    /// 400, 404, 409, 503.
    pub status: u16,
    /// A stable code (`invalid_field`, `not_found`, `duplicate_id`, …).
    pub code: &'static str,
    /// The offending field.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl AdminError {
    /// 400 naming `field`.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: 400,
            code: "invalid_field",
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// 404.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self {
            status: 404,
            code: "not_found",
            field: Some("id".into()),
            message: format!("no {what} `{}`", runtime_core::error::excerpt(id)),
        }
    }

    /// 409 on a duplicate id.
    pub fn duplicate(what: &str, id: &str) -> Self {
        Self {
            status: 409,
            code: "duplicate_id",
            field: Some("id".into()),
            message: format!("a {what} `{id}` exists already"),
        }
    }

    /// 503: the database did not answer.
    pub fn unavailable(e: impl std::fmt::Display) -> Self {
        Self {
            status: 503,
            code: "governance_store_unavailable",
            field: None,
            message: e.to_string(),
        }
    }
}

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "`{field}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// `Some(None)` for an explicit `null` (clear), `None` when absent (keep).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A budget as sent: `{"max_usd": 25.0, "period": "monthly"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetInput {
    /// The cap in US dollars (≥ 0).
    pub max_usd: f64,
    /// `daily`, `weekly`, `monthly` or `lifetime`.
    pub period: Period,
}

impl BudgetInput {
    fn check(&self, field: &str) -> Result<Budget, AdminError> {
        if !self.max_usd.is_finite() || self.max_usd < 0.0 {
            return Err(AdminError::field(
                format!("{field}.max_usd"),
                "must be a number of US dollars, 0 or more",
            ));
        }
        if self.max_usd > 1e9 {
            return Err(AdminError::field(
                format!("{field}.max_usd"),
                "must be at most 1e9",
            ));
        }
        Ok(Budget {
            max_micros: to_micros_ceil(self.max_usd),
            period: self.period,
        })
    }
}

fn check_limit(field: &str, v: Option<u32>) -> Result<Option<u32>, AdminError> {
    match v {
        Some(0) => Err(AdminError::field(
            field,
            "must be at least 1 (null: no limit)",
        )),
        other => Ok(other),
    }
}

fn check_models(field: &str, models: &[String]) -> Result<(), AdminError> {
    for (i, m) in models.iter().enumerate() {
        if m.trim().is_empty() || m.len() > 256 {
            return Err(AdminError::field(
                format!("{field}.{i}"),
                "must be a model name or prefix*",
            ));
        }
    }
    Ok(())
}

fn check_metadata(v: &Value) -> Result<(), AdminError> {
    if !v.is_object() {
        return Err(AdminError::field("metadata", "must be a JSON object"));
    }
    if v.to_string().len() > 16 * 1024 {
        return Err(AdminError::field("metadata", "must be at most 16 KiB"));
    }
    Ok(())
}

fn check_id(field: &str, id: &str) -> Result<(), AdminError> {
    if valid_id(id) {
        Ok(())
    } else {
        Err(AdminError::field(
            field,
            "must be 1 to 64 of A-Z a-z 0-9 _ . - @ :",
        ))
    }
}

/// `POST /admin/keys`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    /// Its id (default: a new `key-…`).
    #[serde(default)]
    pub id: Option<String>,
    /// Owner team (must exist).
    #[serde(default)]
    pub team_id: Option<String>,
    /// Owner user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// `user` (default) or `admin`.
    #[serde(default)]
    pub role: Role,
    /// Models it may use; empty: all.
    #[serde(default)]
    pub models: Vec<String>,
    /// Model aliases.
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Requests per minute.
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Tokens per minute.
    #[serde(default)]
    pub tpm: Option<u32>,
    /// Requests under way at once.
    #[serde(default)]
    pub max_parallel: Option<u32>,
    /// Budget.
    #[serde(default)]
    pub budget: Option<BudgetInput>,
    /// May call models without a known price.
    #[serde(default)]
    pub allow_unpriced: bool,
    /// Expiry, Unix seconds.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Free-form metadata (an object).
    #[serde(default)]
    pub metadata: Option<Value>,
}

/// Checked key settings.
#[derive(Debug, Clone, PartialEq)]
pub struct KeySettings {
    /// Limits.
    pub limits: Limits,
    /// Budget.
    pub budget: Option<Budget>,
}

impl CreateKey {
    /// Checks every field; the first fault is named.
    pub fn check(&self, now_ms: i64) -> Result<KeySettings, AdminError> {
        if let Some(id) = &self.id {
            check_id("id", id)?;
        }
        if let Some(t) = &self.team_id {
            check_id("team_id", t)?;
        }
        if let Some(u) = &self.user_id {
            check_id("user_id", u)?;
        }
        check_models("models", &self.models)?;
        for (alias, target) in &self.aliases {
            if alias.trim().is_empty() || target.trim().is_empty() {
                return Err(AdminError::field(
                    format!("aliases.{alias}"),
                    "alias and model must not be empty",
                ));
            }
        }
        if let Some(e) = self.expires_at {
            if e.saturating_mul(1000) <= now_ms {
                return Err(AdminError::field(
                    "expires_at",
                    "must be in the future (Unix seconds)",
                ));
            }
        }
        if let Some(m) = &self.metadata {
            check_metadata(m)?;
        }
        Ok(KeySettings {
            limits: Limits {
                rpm: check_limit("rpm", self.rpm)?,
                tpm: check_limit("tpm", self.tpm)?,
                max_parallel: check_limit("max_parallel", self.max_parallel)?,
            },
            budget: self
                .budget
                .as_ref()
                .map(|b| b.check("budget"))
                .transpose()?,
        })
    }
}

/// `PATCH /admin/keys/{id}`: absent fields are kept, `null` clears.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateKey {
    /// Owner team.
    #[serde(default, deserialize_with = "nullable")]
    pub team_id: Option<Option<String>>,
    /// Owner user.
    #[serde(default, deserialize_with = "nullable")]
    pub user_id: Option<Option<String>>,
    /// Role.
    #[serde(default)]
    pub role: Option<Role>,
    /// Models.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Aliases.
    #[serde(default)]
    pub aliases: Option<BTreeMap<String, String>>,
    /// Requests per minute.
    #[serde(default, deserialize_with = "nullable")]
    pub rpm: Option<Option<u32>>,
    /// Tokens per minute.
    #[serde(default, deserialize_with = "nullable")]
    pub tpm: Option<Option<u32>>,
    /// Requests under way.
    #[serde(default, deserialize_with = "nullable")]
    pub max_parallel: Option<Option<u32>>,
    /// Budget.
    #[serde(default, deserialize_with = "nullable")]
    pub budget: Option<Option<BudgetInput>>,
    /// May call unpriced models.
    #[serde(default)]
    pub allow_unpriced: Option<bool>,
    /// Expiry, Unix seconds.
    #[serde(default, deserialize_with = "nullable")]
    pub expires_at: Option<Option<i64>>,
    /// Metadata (replaces the old).
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl UpdateKey {
    /// Applies the checked changes to `k`.
    pub fn apply(&self, k: &mut crate::model::Key, now_ms: i64) -> Result<(), AdminError> {
        if let Some(t) = &self.team_id {
            if let Some(t) = t {
                check_id("team_id", t)?;
            }
            k.team_id.clone_from(t);
        }
        if let Some(u) = &self.user_id {
            if let Some(u) = u {
                check_id("user_id", u)?;
            }
            k.user_id.clone_from(u);
        }
        if let Some(r) = self.role {
            k.role = r;
        }
        if let Some(m) = &self.models {
            check_models("models", m)?;
            k.models.clone_from(m);
        }
        if let Some(a) = &self.aliases {
            k.aliases.clone_from(a);
        }
        if let Some(v) = self.rpm {
            k.limits.rpm = check_limit("rpm", v)?;
        }
        if let Some(v) = self.tpm {
            k.limits.tpm = check_limit("tpm", v)?;
        }
        if let Some(v) = self.max_parallel {
            k.limits.max_parallel = check_limit("max_parallel", v)?;
        }
        if let Some(b) = &self.budget {
            k.budget = b.as_ref().map(|b| b.check("budget")).transpose()?;
        }
        if let Some(a) = self.allow_unpriced {
            k.allow_unpriced = a;
        }
        if let Some(e) = self.expires_at {
            if let Some(e) = e {
                if e.saturating_mul(1000) <= now_ms {
                    return Err(AdminError::field(
                        "expires_at",
                        "must be in the future (Unix seconds)",
                    ));
                }
            }
            k.expires_ms = e.map(|e| e.saturating_mul(1000));
        }
        if let Some(m) = &self.metadata {
            check_metadata(m)?;
            k.metadata = m.clone();
        }
        Ok(())
    }
}

/// `POST /admin/keys/{id}/rotate`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// Seconds the old secret stays valid (default 0: at once; at most 30 days).
    #[serde(default)]
    pub grace_seconds: Option<i64>,
}

impl RotateKey {
    /// The grace in ms.
    pub fn grace_ms(&self) -> Result<i64, AdminError> {
        match self.grace_seconds {
            None => Ok(0),
            Some(s) if (0..=30 * 86_400).contains(&s) => Ok(s * 1000),
            Some(_) => Err(AdminError::field(
                "grace_seconds",
                "must be 0 to 2592000 (30 days)",
            )),
        }
    }
}

/// `POST /admin/teams`, and `PATCH` (absent fields kept, `null` clears; `id` only on create).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamInput {
    /// Its id (create only).
    #[serde(default)]
    pub id: Option<String>,
    /// Budget across its keys.
    #[serde(default, deserialize_with = "nullable")]
    pub budget: Option<Option<BudgetInput>>,
    /// Requests per minute across its keys.
    #[serde(default, deserialize_with = "nullable")]
    pub rpm: Option<Option<u32>>,
    /// Tokens per minute across its keys.
    #[serde(default, deserialize_with = "nullable")]
    pub tpm: Option<Option<u32>>,
    /// Requests under way across its keys.
    #[serde(default, deserialize_with = "nullable")]
    pub max_parallel: Option<Option<u32>>,
    /// Models its keys may use.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Metadata.
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl TeamInput {
    /// Applies the checked fields to `t`.
    pub fn apply(&self, t: &mut crate::model::Team) -> Result<(), AdminError> {
        if let Some(b) = &self.budget {
            t.budget = b.as_ref().map(|b| b.check("budget")).transpose()?;
        }
        if let Some(v) = self.rpm {
            t.limits.rpm = check_limit("rpm", v)?;
        }
        if let Some(v) = self.tpm {
            t.limits.tpm = check_limit("tpm", v)?;
        }
        if let Some(v) = self.max_parallel {
            t.limits.max_parallel = check_limit("max_parallel", v)?;
        }
        if let Some(m) = &self.models {
            check_models("models", m)?;
            t.models.clone_from(m);
        }
        if let Some(m) = &self.metadata {
            check_metadata(m)?;
            t.metadata = m.clone();
        }
        Ok(())
    }

    /// The id of a create, checked.
    pub fn create_id(&self) -> Result<String, AdminError> {
        let id = self
            .id
            .clone()
            .ok_or_else(|| AdminError::field("id", "is required"))?;
        check_id("id", &id)?;
        Ok(id)
    }
}

/// `POST /admin/users`, and `PATCH`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// Its id, as clients send it in `user` (create only).
    #[serde(default)]
    pub id: Option<String>,
    /// Budget across every key.
    #[serde(default, deserialize_with = "nullable")]
    pub budget: Option<Option<BudgetInput>>,
    /// Requests per minute across keys.
    #[serde(default, deserialize_with = "nullable")]
    pub rpm: Option<Option<u32>>,
    /// Metadata.
    #[serde(default)]
    pub metadata: Option<Value>,
}

impl UserInput {
    /// Applies the checked fields to `u`.
    pub fn apply(&self, u: &mut crate::model::User) -> Result<(), AdminError> {
        if let Some(b) = &self.budget {
            u.budget = b.as_ref().map(|b| b.check("budget")).transpose()?;
        }
        if let Some(v) = self.rpm {
            u.rpm = check_limit("rpm", v)?;
        }
        if let Some(m) = &self.metadata {
            check_metadata(m)?;
            u.metadata = m.clone();
        }
        Ok(())
    }

    /// The id of a create, checked.
    pub fn create_id(&self) -> Result<String, AdminError> {
        let id = self
            .id
            .clone()
            .ok_or_else(|| AdminError::field("id", "is required"))?;
        check_id("id", &id)?;
        Ok(id)
    }
}

/// Decodes an admin body; the error names the field (`budget.period`, `rpm`, an unknown
/// field's name).
pub fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(AdminError::field("body", "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let r: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match r {
        Ok(v) => de
            .end()
            .map(|()| v)
            .map_err(|e| AdminError::field("body", format!("invalid JSON: {e}"))),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let msg = inner.to_string();
            // The path names the field, an unknown one included (`budget.x`).
            let field = if path == "." { "body".to_owned() } else { path };
            Err(AdminError::field(runtime_core::error::excerpt(&field), msg))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_bodies_name_their_field() {
        for (body, field) in [
            (r#"{"rpm": 10, "colour": "red"}"#, "colour"),
            (
                r#"{"budget": {"max_usd": -5, "period": "daily"}}"#,
                "budget.max_usd",
            ),
            (
                r#"{"budget": {"max_usd": 5, "period": "fortnightly"}}"#,
                "budget.period",
            ),
            (
                r#"{"budget": {"max_usd": 5, "period": "daily", "x": 1}}"#,
                "budget.x",
            ),
            (r#"{"rpm": -1}"#, "rpm"),
            (r#"{"rpm": 0}"#, "rpm"),
            (r#"{"id": "has space"}"#, "id"),
            (r#"{"expires_at": 1}"#, "expires_at"),
            (r#"{"metadata": [1]}"#, "metadata"),
            (r#"{"models": [""]}"#, "models.0"),
            (r#"[1,2]"#, "body"),
            (r#"{"rpm": 1} trailing"#, "body"),
        ] {
            let err = decode::<CreateKey>(body.as_bytes())
                .and_then(|c| c.check(1_000_000).map(|_| ()))
                .unwrap_err();
            assert_eq!(err.status, 400, "{body}");
            assert_eq!(err.field.as_deref(), Some(field), "{body}: {err}");
        }
        let ok: CreateKey =
            decode(br#"{"id": "k1", "budget": {"max_usd": 2.5, "period": "monthly"}, "rpm": 5}"#)
                .unwrap();
        let s = ok.check(0).unwrap();
        assert_eq!(s.budget.unwrap().max_micros, 2_500_000);
        assert_eq!(s.limits.rpm, Some(5));
        // Rotation grace bounds.
        assert!(
            RotateKey {
                grace_seconds: Some(-1)
            }
            .grace_ms()
            .is_err()
        );
        assert_eq!(
            RotateKey {
                grace_seconds: Some(60)
            }
            .grace_ms()
            .unwrap(),
            60_000
        );
    }

    #[test]
    fn patch_keeps_absent_fields_and_clears_nulls() {
        let u: UpdateKey = decode(br#"{"rpm": null, "tpm": 100}"#).unwrap();
        assert_eq!(u.rpm, Some(None));
        assert_eq!(u.tpm, Some(Some(100)));
        assert_eq!(u.max_parallel, None);
    }
}
