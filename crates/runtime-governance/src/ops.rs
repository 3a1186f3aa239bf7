//! The admin operations of [`Governance`]: each one transaction in the database; the local
//! cache follows at once, the other replicas within a sync interval.

use std::sync::Arc;

use crate::admin::{AdminError, CreateKey, RotateKey, TeamInput, UpdateKey, UserInput};
use crate::db::Conflict;
use crate::governor::Governance;
use crate::model::{Key, Team, User};
use crate::secret;

impl Governance {
    // ---- admin operations: each one transaction; the local cache follows at once ----

    /// Every key (revoked ones too), sorted by id.
    pub fn keys(&self) -> Vec<Arc<Key>> {
        let mut v: Vec<_> = self.cache.read().keys.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Every team.
    pub fn teams(&self) -> Vec<Arc<Team>> {
        let mut v: Vec<_> = self.cache.read().teams.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Every user.
    pub fn users(&self) -> Vec<Arc<User>> {
        let mut v: Vec<_> = self.cache.read().users.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// One key from the database.
    pub async fn key(&self, id: &str) -> Result<Key, AdminError> {
        self.db
            .key(id)
            .await
            .map_err(AdminError::unavailable)?
            .ok_or_else(|| AdminError::not_found("key", id))
    }

    /// One team.
    pub async fn team(&self, id: &str) -> Result<Team, AdminError> {
        self.db
            .team(id)
            .await
            .map_err(AdminError::unavailable)?
            .ok_or_else(|| AdminError::not_found("team", id))
    }

    /// One user.
    pub async fn user(&self, id: &str) -> Result<User, AdminError> {
        self.db
            .user(id)
            .await
            .map_err(AdminError::unavailable)?
            .ok_or_else(|| AdminError::not_found("user", id))
    }

    async fn team_exists(&self, field: &str, id: &Option<String>) -> Result<(), AdminError> {
        if let Some(t) = id {
            if self
                .db
                .team(t)
                .await
                .map_err(AdminError::unavailable)?
                .is_none()
            {
                return Err(AdminError::field(field, format!("no team `{t}`")));
            }
        }
        Ok(())
    }

    /// Creates a key; returns it and its secret (shown this once).
    pub async fn create_key(&self, input: CreateKey) -> Result<(Key, String), AdminError> {
        let now = self.cfg.clock.now_ms();
        let settings = input.check(now)?;
        self.team_exists("team_id", &input.team_id).await?;
        let id = input
            .id
            .clone()
            .unwrap_or_else(|| format!("key-{:016x}", rand::random::<u64>()));
        if self.cfg.reserved_ids.contains(&id) {
            return Err(AdminError::duplicate("key", &id));
        }
        let secret = secret::new_secret();
        let key = Key {
            id: id.clone(),
            hash: secret::hash_hex(&secret),
            prefix: secret::display(&secret),
            prev_hash: None,
            prev_valid_until_ms: None,
            team_id: input.team_id,
            user_id: input.user_id,
            role: input.role,
            models: input.models,
            aliases: input.aliases,
            limits: settings.limits,
            budget: settings.budget,
            allow_unpriced: input.allow_unpriced,
            expires_ms: input.expires_at.map(|s| s.saturating_mul(1000)),
            metadata: input.metadata.unwrap_or_else(|| serde_json::json!({})),
            revoked_ms: None,
            created_ms: now,
            updated_ms: now,
            version: 0,
        };
        match self
            .db
            .insert_key(&key)
            .await
            .map_err(AdminError::unavailable)?
        {
            Ok(v) => {
                let mut key = key;
                key.version = v;
                self.cache.write().put_key(key.clone());
                Ok((key, secret))
            }
            Err(Conflict) => Err(AdminError::duplicate("key", &id)),
        }
    }

    async fn change_key<F>(&self, id: &str, f: F) -> Result<Key, AdminError>
    where
        F: FnOnce(&mut Key, i64) -> Result<(), String> + Send,
    {
        let now = self.cfg.clock.now_ms();
        let r = self
            .db
            .update_key(id, move |k, v| {
                k.updated_ms = now;
                f(k, v)
            })
            .await
            .map_err(AdminError::unavailable)?;
        match r {
            None => Err(AdminError::not_found("key", id)),
            Some(Err(msg)) => Err(match msg.split_once('\u{1f}') {
                Some((field, m)) => AdminError::field(field, m),
                None => AdminError {
                    status: 409,
                    code: "conflict",
                    field: None,
                    message: msg,
                },
            }),
            Some(Ok(k)) => {
                self.cache.write().put_key(k.clone());
                Ok(k)
            }
        }
    }

    /// Updates a key's settings.
    pub async fn update_key(&self, id: &str, patch: UpdateKey) -> Result<Key, AdminError> {
        if let Some(t) = &patch.team_id {
            self.team_exists("team_id", t).await?;
        }
        let now = self.cfg.clock.now_ms();
        self.change_key(id, move |k, _| {
            if k.revoked_ms.is_some() {
                return Err("status\u{1f}a revoked key cannot be changed".into());
            }
            patch
                .apply(k, now)
                .map_err(|e| format!("{}\u{1f}{}", e.field.unwrap_or_default(), e.message))
        })
        .await
    }

    /// Gives a key a new secret; the old one stays valid for the grace.
    pub async fn rotate_key(
        &self,
        id: &str,
        input: RotateKey,
    ) -> Result<(Key, String), AdminError> {
        let grace = input.grace_ms()?;
        let now = self.cfg.clock.now_ms();
        let secret = secret::new_secret();
        let (hash, prefix) = (secret::hash_hex(&secret), secret::display(&secret));
        let k = self
            .change_key(id, move |k, _| {
                if k.revoked_ms.is_some() {
                    return Err("status\u{1f}a revoked key cannot be rotated".into());
                }
                k.prev_hash = (grace > 0).then(|| k.hash.clone());
                k.prev_valid_until_ms = (grace > 0).then_some(now + grace);
                k.hash = hash;
                k.prefix = prefix;
                Ok(())
            })
            .await?;
        Ok((k, secret))
    }

    /// Revokes a key at once, on every replica within a sync interval.
    pub async fn revoke_key(&self, id: &str) -> Result<Key, AdminError> {
        let now = self.cfg.clock.now_ms();
        self.change_key(id, move |k, _| {
            if k.revoked_ms.is_none() {
                k.revoked_ms = Some(now);
            }
            k.prev_hash = None;
            k.prev_valid_until_ms = None;
            Ok(())
        })
        .await
    }

    /// Creates a team.
    pub async fn create_team(&self, input: TeamInput) -> Result<Team, AdminError> {
        let id = input.create_id()?;
        let now = self.cfg.clock.now_ms();
        let mut t = Team {
            id: id.clone(),
            budget: None,
            limits: Default::default(),
            models: Vec::new(),
            metadata: serde_json::json!({}),
            created_ms: now,
            updated_ms: now,
            version: 0,
            deleted: false,
        };
        input.apply(&mut t)?;
        match self
            .db
            .insert_team(&t)
            .await
            .map_err(AdminError::unavailable)?
        {
            Ok(v) => {
                t.version = v;
                self.cache.write().put_team(t.clone());
                Ok(t)
            }
            Err(Conflict) => Err(AdminError::duplicate("team", &id)),
        }
    }

    /// Updates (or, with `delete`, deletes) a team.
    pub async fn update_team(
        &self,
        id: &str,
        input: TeamInput,
        delete: bool,
    ) -> Result<Team, AdminError> {
        if input.id.is_some() {
            return Err(AdminError::field("id", "cannot be changed"));
        }
        let mut probe = Team {
            id: id.into(),
            budget: None,
            limits: Default::default(),
            models: Vec::new(),
            metadata: serde_json::json!({}),
            created_ms: 0,
            updated_ms: 0,
            version: 0,
            deleted: false,
        };
        input.apply(&mut probe)?;
        let now = self.cfg.clock.now_ms();
        let r = self
            .db
            .update_team(id, move |t, _| {
                t.updated_ms = now;
                t.deleted = delete;
                input.apply(t).map_err(|e| e.to_string())
            })
            .await
            .map_err(AdminError::unavailable)?;
        match r {
            None => Err(AdminError::not_found("team", id)),
            Some(Err(m)) => Err(AdminError {
                status: 409,
                code: "conflict",
                field: None,
                message: m,
            }),
            Some(Ok(t)) => {
                self.cache.write().put_team(t.clone());
                Ok(t)
            }
        }
    }

    /// Creates an end user.
    pub async fn create_user(&self, input: UserInput) -> Result<User, AdminError> {
        let id = input.create_id()?;
        let now = self.cfg.clock.now_ms();
        let mut u = User {
            id: id.clone(),
            budget: None,
            rpm: None,
            metadata: serde_json::json!({}),
            created_ms: now,
            updated_ms: now,
            version: 0,
            deleted: false,
        };
        input.apply(&mut u)?;
        match self
            .db
            .insert_user(&u)
            .await
            .map_err(AdminError::unavailable)?
        {
            Ok(v) => {
                u.version = v;
                self.cache.write().put_user(u.clone());
                Ok(u)
            }
            Err(Conflict) => Err(AdminError::duplicate("user", &id)),
        }
    }

    /// Updates (or deletes) an end user.
    pub async fn update_user(
        &self,
        id: &str,
        input: UserInput,
        delete: bool,
    ) -> Result<User, AdminError> {
        if input.id.is_some() {
            return Err(AdminError::field("id", "cannot be changed"));
        }
        let mut probe = User {
            id: id.into(),
            budget: None,
            rpm: None,
            metadata: serde_json::json!({}),
            created_ms: 0,
            updated_ms: 0,
            version: 0,
            deleted: false,
        };
        input.apply(&mut probe)?;
        let now = self.cfg.clock.now_ms();
        let r = self
            .db
            .update_user(id, move |u, _| {
                u.updated_ms = now;
                u.deleted = delete;
                input.apply(u).map_err(|e| e.to_string())
            })
            .await
            .map_err(AdminError::unavailable)?;
        match r {
            None => Err(AdminError::not_found("user", id)),
            Some(Err(m)) => Err(AdminError {
                status: 409,
                code: "conflict",
                field: None,
                message: m,
            }),
            Some(Ok(u)) => {
                self.cache.write().put_user(u.clone());
                Ok(u)
            }
        }
    }
}
