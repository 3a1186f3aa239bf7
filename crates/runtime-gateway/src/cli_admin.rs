//! `modelrt keys|teams|users|spend|pricing`: the admin API from the command line, against a
//! running gateway (`--url` and `MODELRT_ADMIN_KEY`) or the database directly (`--config`).

use clap::{Args, Subcommand};
use model_runtime::Config;
use serde_json::{Value, json};

use crate::admin::{AdminCtx, AdminRequest, dispatch};
use crate::cli_common::CliError;

/// Where admin commands go.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// A running gateway (else the database of `--config`).
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// The master key or an admin key (for `--url`).
    #[arg(long, global = true, env = "MODELRT_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
}

/// Settings of a key, team or user given as flags (or a whole JSON body).
#[derive(Debug, Clone, Default, Args)]
pub struct Fields {
    /// Budget in US dollars (with --period).
    #[arg(long)]
    pub budget_usd: Option<f64>,
    /// Budget period: daily, weekly, monthly, lifetime.
    #[arg(long, default_value = "monthly")]
    pub period: String,
    /// Requests per minute.
    #[arg(long)]
    pub rpm: Option<u32>,
    /// Tokens per minute.
    #[arg(long)]
    pub tpm: Option<u32>,
    /// Requests under way at once.
    #[arg(long)]
    pub max_parallel: Option<u32>,
    /// Allowed models (comma-separated; `prefix*` allowed).
    #[arg(long, value_delimiter = ',')]
    pub models: Vec<String>,
    /// Owner team (keys).
    #[arg(long)]
    pub team: Option<String>,
    /// Admin role (keys).
    #[arg(long)]
    pub admin: bool,
    /// The whole request body as JSON (flags are added to it).
    #[arg(long)]
    pub body: Option<String>,
}

impl Fields {
    fn to_json(&self, kind: &str) -> Result<Value, CliError> {
        let mut v: Value = match &self.body {
            Some(b) => serde_json::from_str(b)
                .map_err(|e| CliError::new(format!("--body is not JSON: {e}")))?,
            None => json!({}),
        };
        let Some(m) = v.as_object_mut() else {
            return Err(CliError::new("--body must be a JSON object"));
        };
        if let Some(usd) = self.budget_usd {
            m.insert(
                "budget".into(),
                json!({"max_usd": usd, "period": self.period}),
            );
        }
        if let Some(n) = self.rpm {
            m.insert("rpm".into(), json!(n));
        }
        if kind != "user" {
            if let Some(n) = self.tpm {
                m.insert("tpm".into(), json!(n));
            }
            if let Some(n) = self.max_parallel {
                m.insert("max_parallel".into(), json!(n));
            }
            if !self.models.is_empty() {
                m.insert("models".into(), json!(self.models));
            }
        }
        if kind == "key" {
            if let Some(t) = &self.team {
                m.insert("team_id".into(), json!(t));
            }
            if self.admin {
                m.insert("role".into(), json!("admin"));
            }
        }
        Ok(v)
    }
}

/// `modelrt keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; prints its secret once.
    Create {
        /// Its id (default: generated).
        #[arg(long)]
        id: Option<String>,
        /// Settings.
        #[command(flatten)]
        fields: Fields,
    },
    /// List keys.
    List,
    /// Show a key.
    Show {
        /// The key id.
        id: String,
    },
    /// Change a key.
    Update {
        /// The key id.
        id: String,
        /// Settings.
        #[command(flatten)]
        fields: Fields,
    },
    /// New secret; the old one stays valid for `--grace` seconds.
    Rotate {
        /// The key id.
        id: String,
        /// Seconds the old secret keeps working.
        #[arg(long, default_value_t = 0)]
        grace: i64,
    },
    /// Revoke a key.
    Revoke {
        /// The key id.
        id: String,
    },
}

/// `modelrt teams …` and `modelrt users …`.
#[derive(Debug, Subcommand)]
pub enum EntityCommand {
    /// Create one.
    Create {
        /// Its id.
        id: String,
        /// Settings.
        #[command(flatten)]
        fields: Fields,
    },
    /// List them.
    List,
    /// Show one.
    Show {
        /// Its id.
        id: String,
    },
    /// Change one.
    Update {
        /// Its id.
        id: String,
        /// Settings.
        #[command(flatten)]
        fields: Fields,
    },
    /// Delete one.
    Delete {
        /// Its id.
        id: String,
    },
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The request of a keys command.
pub fn keys_request(c: &KeysCommand) -> Result<(&'static str, String, Value), CliError> {
    Ok(match c {
        KeysCommand::Create { id, fields } => {
            let mut body = fields.to_json("key")?;
            if let (Some(id), Some(m)) = (id, body.as_object_mut()) {
                m.insert("id".into(), json!(id));
            }
            ("POST", "/admin/keys".into(), body)
        }
        KeysCommand::List => ("GET", "/admin/keys".into(), Value::Null),
        KeysCommand::Show { id } => ("GET", format!("/admin/keys/{}", pct(id)), Value::Null),
        KeysCommand::Update { id, fields } => (
            "PATCH",
            format!("/admin/keys/{}", pct(id)),
            fields.to_json("key")?,
        ),
        KeysCommand::Rotate { id, grace } => (
            "POST",
            format!("/admin/keys/{}/rotate", pct(id)),
            json!({"grace_seconds": grace}),
        ),
        KeysCommand::Revoke { id } => (
            "POST",
            format!("/admin/keys/{}/revoke", pct(id)),
            Value::Null,
        ),
    })
}

/// The request of a teams or users command.
pub fn entity_request(
    kind: &str,
    c: &EntityCommand,
) -> Result<(&'static str, String, Value), CliError> {
    let base = format!("/admin/{kind}s");
    Ok(match c {
        EntityCommand::Create { id, fields } => {
            let mut body = fields.to_json(kind)?;
            if let Some(m) = body.as_object_mut() {
                m.insert("id".into(), json!(id));
            }
            ("POST", base, body)
        }
        EntityCommand::List => ("GET", base, Value::Null),
        EntityCommand::Show { id } => ("GET", format!("{base}/{}", pct(id)), Value::Null),
        EntityCommand::Update { id, fields } => (
            "PATCH",
            format!("{base}/{}", pct(id)),
            fields.to_json(kind)?,
        ),
        EntityCommand::Delete { id } => ("DELETE", format!("{base}/{}", pct(id)), Value::Null),
    })
}

/// Sends one admin request to `target` (or runs it on the database of `config`) and prints
/// the answer; a non-2xx answer is an error.
pub async fn run(
    target: &Target,
    config: Option<&std::path::Path>,
    method: &str,
    path: &str,
    query: Option<String>,
    body: Value,
) -> Result<(), CliError> {
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).unwrap_or_default()
    };
    let (status, value) = match &target.url {
        Some(url) => {
            let key = target
                .admin_key
                .as_deref()
                .ok_or_else(|| CliError::new("--url needs MODELRT_ADMIN_KEY or --admin-key"))?;
            let mut full = format!("{}{path}", url.trim_end_matches('/'));
            if let Some(q) = &query {
                full.push('?');
                full.push_str(q);
            }
            let m = reqwest::Method::from_bytes(method.as_bytes())
                .map_err(|e| CliError::new(e.to_string()))?;
            let resp = reqwest::Client::new()
                .request(m, &full)
                .bearer_auth(key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| CliError::new(format!("cannot reach {url}: {e}")))?;
            let status = resp.status().as_u16();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            (status, v)
        }
        None => {
            let config = crate::cli_common::load_config(config)?;
            let gateway = crate::config::GatewayConfig::from_config(&config)?;
            let settings = match gateway.governance {
                Some(s) => Some(s),
                None => local_settings(&config)?,
            };
            let runtime = model_runtime::Runtime::start(config).await?;
            let gov = match settings {
                Some(s) => Some(
                    crate::govern::Governor::start(&runtime, s, None, Vec::new())
                        .await
                        .map_err(CliError::new)?,
                ),
                None => None,
            };
            let ctx = AdminCtx {
                gov: gov.as_ref(),
                runtime: &runtime,
            };
            let (status, v) = dispatch(
                &ctx,
                &AdminRequest {
                    method,
                    path,
                    query: query.as_deref(),
                    body: &body,
                },
            )
            .await;
            if let Some(g) = &gov {
                g.gov.shutdown().await;
            }
            runtime.shutdown().await;
            (status.as_u16(), v)
        }
    };
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    if (200..300).contains(&status) {
        println!("{text}");
        Ok(())
    } else {
        Err(CliError::new(format!("{status}: {text}")))
    }
}

/// Governance on the `[storage]` database when the config does not turn it on (the CLI
/// manages keys before any gateway runs).
fn local_settings(config: &Config) -> Result<Option<crate::govern::GovSettings>, CliError> {
    let table: toml::Value =
        toml::from_str("enabled = true").map_err(|e| CliError::new(e.to_string()))?;
    Ok(crate::govern::config::parse(config, Some(&table))?)
}

/// `modelrt pricing check`: every deployment in use without a price.
pub async fn pricing_check(config: Option<&std::path::Path>) -> Result<(), CliError> {
    let config = crate::cli_common::load_config(config)?;
    let runtime = model_runtime::Runtime::check(config).await?;
    let book = crate::govern::price::PriceBook::new(&runtime);
    let pricing = runtime.metering().map(|m| m.pricing().clone());
    let mut missing = Vec::new();
    for d in book.in_use() {
        let priced = pricing
            .as_ref()
            .and_then(|p| p.price(&d.provider, d.deployment.as_deref(), &d.provider_model))
            .is_some();
        if !priced {
            missing.push(d);
        }
    }
    runtime.shutdown().await;
    if missing.is_empty() {
        println!("every model in use has a price");
        return Ok(());
    }
    for d in &missing {
        println!(
            "{}: deployment {} ({}/{}) has no price: add [pricing.overrides.\"{}/{}\"]",
            d.model,
            d.deployment.as_deref().unwrap_or("-"),
            d.provider,
            d.provider_model,
            d.provider,
            d.provider_model
        );
    }
    Err(CliError::new(format!(
        "{} deployment(s) in use have no price: their calls are reported as unpriced, and budgeted keys are refused on them",
        missing.len()
    )))
}
