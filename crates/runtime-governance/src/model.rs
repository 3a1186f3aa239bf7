//! Keys, teams, end users and their budgets and limits, as stored and as the admin API shows
//! them (never with a secret or a hash).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::period::Period;

/// Micro-dollars per dollar: money is counted in whole µUSD (i64), so sums are exact.
pub const MICROS: f64 = 1_000_000.0;

/// USD → µUSD, rounded up (a reservation never rounds down).
pub fn to_micros_ceil(usd: f64) -> i64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * MICROS).ceil().min(i64::MAX as f64) as i64
    } else {
        0
    }
}

/// USD → µUSD, nearest.
pub fn to_micros(usd: f64) -> i64 {
    if usd.is_finite() {
        (usd * MICROS)
            .round()
            .clamp(i64::MIN as f64, i64::MAX as f64) as i64
    } else {
        0
    }
}

/// µUSD → USD.
pub fn to_usd(micros: i64) -> f64 {
    micros as f64 / MICROS
}

/// A spend cap over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Budget {
    /// The cap, µUSD.
    pub max_micros: i64,
    /// When spend starts again from zero.
    pub period: Period,
}

/// Rate limits of a key or a team (absent: unlimited).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Requests per minute.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    /// Tokens per minute (prompt estimate + `max_tokens` at admission, corrected by usage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<u32>,
    /// Requests under way at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_parallel: Option<u32>,
}

/// A key's role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Calls models.
    #[default]
    User,
    /// Also uses the admin API.
    Admin,
}

/// A virtual key as stored (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// Its id (unique; shown in usage records).
    pub id: String,
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// The display form of the secret (`sk-mrt-…abcd`).
    pub prefix: String,
    /// The previous secret's hash, valid until `prev_valid_until_ms` (a rotation's grace).
    pub prev_hash: Option<String>,
    /// End of the previous secret's grace, Unix ms.
    pub prev_valid_until_ms: Option<i64>,
    /// Owner team.
    pub team_id: Option<String>,
    /// Owner user.
    pub user_id: Option<String>,
    /// Role.
    pub role: Role,
    /// Models it may use (exact, or prefix ending in `*`); empty: all.
    pub models: Vec<String>,
    /// Model aliases: a name the client sends → the model called.
    pub aliases: BTreeMap<String, String>,
    /// Rate limits.
    pub limits: Limits,
    /// Budget.
    pub budget: Option<Budget>,
    /// May call models without a known price although budgeted.
    pub allow_unpriced: bool,
    /// Expiry, Unix ms.
    pub expires_ms: Option<i64>,
    /// Free-form metadata.
    pub metadata: Value,
    /// When revoked, Unix ms.
    pub revoked_ms: Option<i64>,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Last change, Unix ms.
    pub updated_ms: i64,
    /// The change version that last wrote it.
    pub version: i64,
}

impl Key {
    /// Whether it may be used at `now_ms` (not revoked, not expired).
    pub fn active(&self, now_ms: i64) -> bool {
        self.revoked_ms.is_none() && self.expires_ms.is_none_or(|e| now_ms < e)
    }

    /// Whether it may use `model`.
    pub fn allows(&self, model: &str) -> bool {
        model_allowed(&self.models, model)
    }

    /// The admin API's view: no hash, no secret.
    pub fn view(&self, now_ms: i64) -> Value {
        serde_json::json!({
            "id": self.id,
            "object": "key",
            "display": self.prefix,
            "status": if self.revoked_ms.is_some() { "revoked" }
                else if !self.active(now_ms) { "expired" } else { "active" },
            "team_id": self.team_id,
            "user_id": self.user_id,
            "role": self.role,
            "models": self.models,
            "aliases": self.aliases,
            "rpm": self.limits.rpm,
            "tpm": self.limits.tpm,
            "max_parallel": self.limits.max_parallel,
            "budget": budget_view(self.budget),
            "allow_unpriced": self.allow_unpriced,
            "expires_at": self.expires_ms.map(|t| t / 1000),
            "rotation_grace_until": self.prev_valid_until_ms.filter(|t| *t > now_ms).map(|t| t / 1000),
            "revoked_at": self.revoked_ms.map(|t| t / 1000),
            "metadata": self.metadata,
            "created_at": self.created_ms / 1000,
            "updated_at": self.updated_ms / 1000,
        })
    }
}

/// A team: its budget and limits apply across all its keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Team {
    /// Its id.
    pub id: String,
    /// Budget across its keys.
    pub budget: Option<Budget>,
    /// Limits across its keys.
    pub limits: Limits,
    /// Models its keys may use (on top of each key's own list); empty: all.
    pub models: Vec<String>,
    /// Free-form metadata.
    pub metadata: Value,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Last change, Unix ms.
    pub updated_ms: i64,
    /// The change version that last wrote it.
    pub version: i64,
    /// Deleted (kept so replicas see the deletion).
    pub deleted: bool,
}

impl Team {
    /// The admin API's view.
    pub fn view(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "object": "team",
            "budget": budget_view(self.budget),
            "rpm": self.limits.rpm,
            "tpm": self.limits.tpm,
            "max_parallel": self.limits.max_parallel,
            "models": self.models,
            "metadata": self.metadata,
            "created_at": self.created_ms / 1000,
            "updated_at": self.updated_ms / 1000,
        })
    }
}

/// An end user (the request's `user` field or the `x-modelrt-end-user` header).
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Its id, as clients send it.
    pub id: String,
    /// Budget across every key it is called through.
    pub budget: Option<Budget>,
    /// Requests per minute across keys.
    pub rpm: Option<u32>,
    /// Free-form metadata.
    pub metadata: Value,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Last change, Unix ms.
    pub updated_ms: i64,
    /// The change version that last wrote it.
    pub version: i64,
    /// Deleted.
    pub deleted: bool,
}

impl User {
    /// The admin API's view.
    pub fn view(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "object": "user",
            "budget": budget_view(self.budget),
            "rpm": self.rpm,
            "metadata": self.metadata,
            "created_at": self.created_ms / 1000,
            "updated_at": self.updated_ms / 1000,
        })
    }
}

fn budget_view(b: Option<Budget>) -> Value {
    match b {
        Some(b) => serde_json::json!({"max_usd": to_usd(b.max_micros), "period": b.period}),
        None => Value::Null,
    }
}

/// Whether `model` matches one of `patterns` (exact, or a prefix before a trailing `*`); an
/// empty list allows everything.
pub fn model_allowed(patterns: &[String], model: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => model.starts_with(prefix),
            None => p == model,
        })
}

/// Ids of keys, teams and users: 1 to 64 of `A-Z a-z 0-9 _ . - @ :`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@' | b':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_is_exact_micros_and_reservations_round_up() {
        assert_eq!(to_micros_ceil(0.000_000_1), 1);
        assert_eq!(to_micros_ceil(1.5), 1_500_000);
        assert_eq!(to_micros_ceil(-1.0), 0);
        assert_eq!(to_micros_ceil(f64::NAN), 0);
        assert_eq!(to_micros(0.1 + 0.2), 300_000);
        assert_eq!(to_usd(2_500_000), 2.5);
    }

    #[test]
    fn ids() {
        assert!(valid_id("team-a_1.x@corp:eu"));
        for bad in ["", "has space", "slash/", &"x".repeat(65), "ünï"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
