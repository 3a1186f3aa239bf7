//! The price catalog shipped with the crate, config overrides, and cost of a usage.
//!
//! Cost itself is computed by [`runtime_core::ModelPricing::cost`], the one place that prices
//! a usage; this module only finds which prices apply.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use dashmap::DashMap;
use runtime_core::{ModelPricing, Usage};
use serde::Deserialize;

use crate::config::PricingConfig;
use crate::keybuf::{FastBuild, with_key};

/// Most (provider, deployment, model) answers remembered.
const MAX_RESOLVED: usize = 10_000;

/// The catalog file shipped in the crate.
pub const CATALOG_TOML: &str = include_str!("../pricing.toml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    input: f64,
    output: f64,
    #[serde(default)]
    cached_input: Option<f64>,
    #[serde(default)]
    cache_write: Option<f64>,
    #[serde(default)]
    reasoning: Option<f64>,
    /// USD per search unit (rerank).
    #[serde(default)]
    search_unit: Option<f64>,
    /// USD per 1000 searches (rerank), the way Cohere's price page states it.
    #[serde(default)]
    per_1k_searches: Option<f64>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    read: Option<String>,
    #[serde(default)]
    unverified: bool,
}

/// Where a catalog price comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provenance {
    /// Read from the provider's public price page at `source` on `read` (`YYYY-MM-DD`).
    Read {
        /// The price page's URL.
        source: String,
        /// The date it was read.
        read: String,
    },
    /// Nobody compared this entry with a price page yet.
    Unverified,
}

/// One priced model of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    /// Its prices.
    pub pricing: ModelPricing,
    /// Where the prices were read, or that nobody checked them.
    pub provenance: Provenance,
}

/// A catalog entry's provenance from its fields: `source` and `read` together, or
/// `unverified = true`, never both nor neither.
fn provenance(
    at: &str,
    source: Option<String>,
    read: Option<String>,
    unverified: bool,
) -> Result<Provenance, String> {
    match (source, read, unverified) {
        (Some(source), Some(read), false) => {
            let date_ok = read.len() == 10
                && read.bytes().enumerate().all(|(i, b)| {
                    if i == 4 || i == 7 {
                        b == b'-'
                    } else {
                        b.is_ascii_digit()
                    }
                });
            if !source.starts_with("https://") {
                return Err(format!(
                    "{at}: `source` must be the https URL of a price page"
                ));
            }
            if !date_ok {
                return Err(format!("{at}: `read` must be a date YYYY-MM-DD"));
            }
            Ok(Provenance::Read { source, read })
        }
        (None, None, true) => Ok(Provenance::Unverified),
        _ => Err(format!(
            "{at}: set `source` and `read` (where and when the price was read), or \
             `unverified = true`"
        )),
    }
}

/// Prices per provider type and model.
#[derive(Debug, Clone, Default)]
pub struct PriceCatalog {
    providers: BTreeMap<String, BTreeMap<String, CatalogEntry>>,
}

/// The catalog provider whose prices a provider type uses.
fn catalog_provider(provider_type: &str) -> &str {
    match provider_type {
        "azure-openai" | "azure" | "azure_openai" => "openai",
        "gemini" | "google-genai" => "google",
        "vertexai" | "google-vertex" => "vertex",
        other => other,
    }
}

/// Bedrock prices the foundation model: an ARN's resource name, without a cross-region
/// inference profile prefix (`us.anthropic.claude-…` → `anthropic.claude-…`).
fn bedrock_base_model(model: &str) -> &str {
    let id = if model.starts_with("arn:") {
        model.rsplit('/').next().unwrap_or(model)
    } else {
        model
    };
    [
        "global.", "us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.",
    ]
    .iter()
    .find_map(|p| id.strip_prefix(p))
    .unwrap_or(id)
}

fn all_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// Strips one snapshot suffix (`-2024-08-06`, `-20241022`, `@20240620`, `-latest`, `-002`,
/// `-0613`, `-preview-05-20`, `-preview`), or `None` when there is none.
fn strip_snapshot(model: &str) -> Option<&str> {
    for marker in ["-latest", "@latest", "-preview", "-exp"] {
        if let Some(base) = model.strip_suffix(marker) {
            return Some(base);
        }
    }
    // -YYYY-MM-DD, and -preview-MM-DD / -exp-MM-DD
    if model.len() > 11 {
        let (base, tail) = model.split_at(model.len() - 11);
        let t = tail.as_bytes();
        if t[0] == b'-'
            && all_digits(&tail[1..5], 4)
            && t[5] == b'-'
            && all_digits(&tail[6..8], 2)
            && t[8] == b'-'
            && all_digits(&tail[9..11], 2)
        {
            return Some(base);
        }
    }
    if model.len() > 6 {
        let (base, tail) = model.split_at(model.len() - 6);
        let t = tail.as_bytes();
        if t[0] == b'-' && all_digits(&tail[1..3], 2) && t[3] == b'-' && all_digits(&tail[4..6], 2)
        {
            for marker in ["-preview", "-exp"] {
                if let Some(b) = base.strip_suffix(marker) {
                    return Some(b);
                }
            }
        }
    }
    // -YYYYMMDD / @YYYYMMDD, -0613, -002
    if let Some(pos) = model.rfind(['-', '@']) {
        let tail = &model[pos + 1..];
        if pos > 0 && (all_digits(tail, 8) || all_digits(tail, 4) || all_digits(tail, 3)) {
            return Some(&model[..pos]);
        }
    }
    None
}

impl PriceCatalog {
    /// The catalog shipped in the crate (parsed once).
    pub fn builtin() -> &'static PriceCatalog {
        static CATALOG: OnceLock<PriceCatalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            PriceCatalog::parse(CATALOG_TOML).unwrap_or_else(|e| {
                tracing::error!(error = %e, "the shipped pricing catalog does not parse");
                PriceCatalog::default()
            })
        })
    }

    /// Parses a catalog: one table per provider, one inline table per model with `input`,
    /// `output`, optional `cached_input`, `cache_write`, `reasoning` (USD per million tokens)
    /// and its provenance: `source` (URL) and `read` (date), or `unverified = true`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: BTreeMap<String, BTreeMap<String, RawEntry>> =
            toml::from_str(text).map_err(|e| e.to_string())?;
        let providers = raw
            .into_iter()
            .map(|(provider, models)| {
                let models = models
                    .into_iter()
                    .map(|(model, e)| {
                        let provenance = provenance(
                            &format!("{provider}.{model}"),
                            e.source,
                            e.read,
                            e.unverified,
                        )?;
                        let entry = CatalogEntry {
                            pricing: ModelPricing {
                                input_per_mtok: e.input,
                                output_per_mtok: e.output,
                                cached_input_per_mtok: e.cached_input,
                                cache_write_per_mtok: e.cache_write,
                                reasoning_per_mtok: e.reasoning,
                                per_search_unit: e
                                    .search_unit
                                    .or(e.per_1k_searches.map(|p| p / 1000.0)),
                            },
                            provenance,
                        };
                        Ok((model, entry))
                    })
                    .collect::<Result<_, String>>()?;
                Ok((provider, models))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { providers })
    }

    /// Every entry: (catalog provider, model, entry).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str, &CatalogEntry)> {
        self.providers
            .iter()
            .flat_map(|(p, models)| models.iter().map(move |(m, e)| (p.as_str(), m.as_str(), e)))
    }

    /// The entry for `model` of `provider_type`, trying the exact name first and then the name
    /// without its snapshot suffixes (`gpt-4o-2024-08-06` → `gpt-4o`).
    pub fn get(&self, provider_type: &str, model: &str) -> Option<&CatalogEntry> {
        let provider = catalog_provider(provider_type);
        let models = self.providers.get(provider)?;
        let mut name = model.strip_prefix("models/").unwrap_or(model);
        if provider == "bedrock" {
            name = bedrock_base_model(name);
        }
        if let Some(rest) = name
            .strip_prefix(provider)
            .and_then(|r| r.strip_prefix('/'))
        {
            name = rest;
        }
        loop {
            if let Some(e) = models.get(name) {
                return Some(e);
            }
            name = strip_snapshot(name)?;
        }
    }
}

/// Where a price came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceSource {
    /// A config override.
    Override,
    /// The shipped catalog.
    Catalog,
    /// A provider configured as free.
    Free,
}

/// The cost outcome of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    /// What the provider charges, in US dollars; `None` when the model has no known price.
    pub cost_usd: Option<f64>,
    /// What a response served from our own cache saved (the provider cost it did not incur).
    pub saved_usd: Option<f64>,
}

/// Resolves prices: config overrides, then the catalog, then free providers; caches the
/// answer per (provider, deployment, model) and warns once per unpriced model.
#[derive(Debug)]
pub struct Pricing {
    catalog: &'static PriceCatalog,
    overrides: HashMap<String, ModelPricing>,
    free: HashSet<String>,
    provider_types: HashMap<String, String>,
    resolved: DashMap<Box<str>, Option<(ModelPricing, PriceSource)>, FastBuild>,
    /// The `provider_type/model` pairs already warned about as unpriced: one warning per
    /// model, however many deployments or instances serve it.
    warned: parking_lot::Mutex<HashSet<String>>,
}

impl Default for Pricing {
    fn default() -> Self {
        Self::new(&PricingConfig::default())
    }
}

impl Pricing {
    /// Prices from the shipped catalog with `config`'s overrides.
    pub fn new(config: &PricingConfig) -> Self {
        Self {
            catalog: PriceCatalog::builtin(),
            overrides: config
                .overrides
                .iter()
                .map(|(k, v)| (k.clone(), ModelPricing::from(*v)))
                .collect(),
            free: config.free_providers.iter().cloned().collect(),
            provider_types: HashMap::new(),
            resolved: DashMap::default(),
            warned: parking_lot::Mutex::new(HashSet::new()),
        }
    }

    /// Declares that provider instance `instance` is of type `provider_type` (e.g. `my-azure`
    /// is `azure-openai`), so the catalog is searched under the right provider. Instances not
    /// declared are looked up under their own name.
    pub fn with_provider_type(
        mut self,
        instance: impl Into<String>,
        provider_type: impl Into<String>,
    ) -> Self {
        self.provider_types
            .insert(instance.into(), provider_type.into());
        self
    }

    /// Adds or replaces an override, keyed by deployment name or `provider/model`.
    pub fn with_override(mut self, key: impl Into<String>, pricing: ModelPricing) -> Self {
        self.overrides.insert(key.into(), pricing);
        self
    }

    fn type_of<'a>(&'a self, instance: &'a str) -> &'a str {
        self.provider_types
            .get(instance)
            .map(String::as_str)
            .unwrap_or(instance)
    }

    fn resolve_uncached(
        &self,
        provider: &str,
        deployment: Option<&str>,
        model: &str,
    ) -> Option<(ModelPricing, PriceSource)> {
        let found = self.resolve_quiet(provider, deployment, model);
        let ptype = self.type_of(provider);
        if found.is_none() && self.warned.lock().insert(format!("{ptype}/{model}")) {
            tracing::warn!(
                provider,
                provider_type = ptype,
                deployment = deployment.unwrap_or(""),
                model,
                "no price known for this model: its cost is recorded as unknown; add \
                 [pricing.overrides.\"{ptype}/{model}\"] to the config"
            );
        }
        found
    }

    fn resolve_quiet(
        &self,
        provider: &str,
        deployment: Option<&str>,
        model: &str,
    ) -> Option<(ModelPricing, PriceSource)> {
        let ptype = self.type_of(provider);
        if let Some(p) = deployment.and_then(|d| self.overrides.get(d)) {
            return Some((*p, PriceSource::Override));
        }
        let mut name = model;
        loop {
            for key in [format!("{provider}/{name}"), format!("{ptype}/{name}")] {
                if let Some(p) = self.overrides.get(&key) {
                    return Some((*p, PriceSource::Override));
                }
            }
            match strip_snapshot(name) {
                Some(n) => name = n,
                None => break,
            }
        }
        if let Some(e) = self.catalog.get(ptype, model) {
            return Some((e.pricing, PriceSource::Catalog));
        }
        if self.free.contains(provider) || self.free.contains(ptype) {
            return Some((ModelPricing::default(), PriceSource::Free));
        }
        None
    }

    /// The prices for `model` served by provider instance `provider` (and `deployment`), or
    /// `None` when unknown. The first miss per model (`provider_type/model`, whatever the
    /// instance or deployment) logs a warning.
    pub fn price(
        &self,
        provider: &str,
        deployment: Option<&str>,
        model: &str,
    ) -> Option<(ModelPricing, PriceSource)> {
        let dep = deployment.unwrap_or("");
        if let Some(hit) = with_key(&[provider, dep, model], |k| {
            self.resolved.get(k).map(|r| *r.value())
        }) {
            return hit;
        }
        if self.resolved.len() >= MAX_RESOLVED {
            // Model names can come from clients: past the cap, resolve without remembering
            // (and without a warning per request).
            return self.resolve_quiet(provider, deployment, model);
        }
        let key: Box<str> = crate::keybuf::join(&[provider, dep, model]).into();
        *self
            .resolved
            .entry(key)
            .or_insert_with(|| self.resolve_uncached(provider, deployment, model))
            .value()
    }

    /// The cost of `units` search units of a rerank call (plus its `usage`, where the model
    /// is priced by token): zero provider cost plus the saving when `cache_hit`.
    pub fn search_cost(
        &self,
        provider: &str,
        deployment: Option<&str>,
        model: &str,
        units: u64,
        usage: Option<&Usage>,
        cache_hit: bool,
    ) -> Cost {
        let priced = self.price(provider, deployment, model).and_then(|(p, _)| {
            let tokens = usage.map_or(0.0, |u| p.cost(u));
            match p.search_cost(units) {
                Some(c) => Some(c + tokens),
                None if units == 0 => Some(tokens),
                None => None,
            }
        });
        if cache_hit {
            Cost {
                cost_usd: Some(0.0),
                saved_usd: priced,
            }
        } else {
            Cost {
                cost_usd: priced,
                saved_usd: None,
            }
        }
    }

    /// The cost of `usage`: zero provider cost plus the saving when `cache_hit`.
    pub fn cost(
        &self,
        provider: &str,
        deployment: Option<&str>,
        model: &str,
        usage: &Usage,
        cache_hit: bool,
    ) -> Cost {
        let priced = self
            .price(provider, deployment, model)
            .map(|(p, _)| p.cost(usage));
        if cache_hit {
            Cost {
                cost_usd: Some(0.0),
                saved_usd: priced,
            }
        } else {
            Cost {
                cost_usd: priced,
                saved_usd: None,
            }
        }
    }
}

#[cfg(test)]
mod tests;
