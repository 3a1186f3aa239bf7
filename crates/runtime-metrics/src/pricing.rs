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
mod tests {
    use super::*;
    use crate::config::PriceConfig;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn compared_entries_carry_the_corrected_prices() {
        let c = PriceCatalog::parse(CATALOG_TOML).unwrap();
        let p = |prov: &str, m: &str| c.get(prov, m).unwrap().pricing;
        // Mistral Medium latest is Medium 3.5; the 2508 snapshot keeps its price.
        assert!(close(
            p("mistral", "mistral-medium-latest").input_per_mtok,
            1.5
        ));
        assert!(close(
            p("mistral", "mistral-medium-2508").output_per_mtok,
            2.0
        ));
        assert!(close(
            p("mistral", "mistral-small-latest").input_per_mtok,
            0.06
        ));
        // Claude 3.5 Haiku on Vertex is not Anthropic's price.
        assert!(close(
            p("vertex", "claude-3-5-haiku@20241022").input_per_mtok,
            1.0
        ));
        // Bedrock rerank per query (1,000 queries: $1 and $2).
        assert_eq!(
            p("bedrock", "amazon.rerank-v1:0").search_cost(1000),
            Some(1.0)
        );
        assert_eq!(
            p("bedrock", "cohere.rerank-v3-5:0").search_cost(1000),
            Some(2.0)
        );
    }

    #[test]
    fn shipped_catalog_parses_and_has_dates() {
        let c = PriceCatalog::parse(CATALOG_TOML).unwrap();
        let n = c.entries().count();
        assert!(n >= 30, "{n}");
        for (_, _, e) in c.entries() {
            assert!(e.pricing.input_per_mtok >= 0.0);
        }
        // Only entries read from a price page carry a source; the rest say they are not.
        let read: Vec<_> = c
            .entries()
            .filter(|(_, _, e)| matches!(e.provenance, Provenance::Read { .. }))
            .collect();
        // Entries read from a page: Anthropic's and DeepSeek's (their own pages); Bedrock's,
        // Vertex's, Groq's, Mistral's, Cohere's and Perplexity's compared with LiteLLM's price table.
        assert!(
            read.iter().all(|(p, _, _)| [
                "anthropic",
                "deepseek",
                "bedrock",
                "vertex",
                "groq",
                "mistral",
                "cohere",
                "perplexity"
            ]
            .contains(p)),
            "{read:?}"
        );
        for (p, _, e) in &read {
            let Provenance::Read { source, .. } = &e.provenance else {
                unreachable!()
            };
            if !["anthropic", "deepseek"].contains(p) {
                assert!(source.contains("BerriAI/litellm/blob/"), "{p}: {source}");
            }
        }
        for (_, _, e) in &read {
            let Provenance::Read { source, .. } = &e.provenance else {
                unreachable!()
            };
            assert!(source.starts_with("https://"), "{source}");
        }
        assert!(
            c.entries()
                .any(|(_, _, e)| e.provenance == Provenance::Unverified)
        );
        for p in ["openai", "anthropic", "google"] {
            assert!(c.entries().any(|(cp, _, _)| cp == p), "{p}");
        }
    }

    #[test]
    fn every_entry_says_where_its_price_was_read_or_that_nobody_checked() {
        let ok = "[p]\n\"m\" = { input = 1.0, output = 2.0, source = \"https://x.example/pricing\", read = \"2026-12-05\" }\n";
        assert!(PriceCatalog::parse(ok).is_ok());
        for bad in [
            // The old unsourced claim is refused.
            "[p]\n\"m\" = { input = 1.0, output = 2.0, checked = \"2026-11-26\" }\n",
            "[p]\n\"m\" = { input = 1.0, output = 2.0 }\n",
            "[p]\n\"m\" = { input = 1.0, output = 2.0, source = \"https://x\" }\n",
            "[p]\n\"m\" = { input = 1.0, output = 2.0, source = \"https://x\", read = \"yesterday\" }\n",
            "[p]\n\"m\" = { input = 1.0, output = 2.0, source = \"https://x\", read = \"2026-12-05\", unverified = true }\n",
        ] {
            assert!(PriceCatalog::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn preset_prices_resolve_by_provider_type() {
        let c = PriceCatalog::parse(CATALOG_TOML).unwrap();
        let groq = c.get("groq", "openai/gpt-oss-120b").unwrap();
        assert_eq!(groq.pricing.cached_input_per_mtok, Some(0.075));
        let ds = c.get("deepseek", "deepseek-reasoner").unwrap();
        assert_eq!(
            (ds.pricing.input_per_mtok, ds.pricing.output_per_mtok),
            (0.28, 0.42)
        );
        let research = c.get("perplexity", "sonar-deep-research").unwrap();
        assert_eq!(research.pricing.reasoning_per_mtok, Some(3.0));
        assert!(c.get("xai", "grok-4").is_some());
        // No checked source: unpriced rather than guessed.
        assert!(
            c.get("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo")
                .is_none()
        );
    }

    #[test]
    fn bedrock_profiles_and_arns_price_as_their_foundation_model() {
        let c = PriceCatalog::parse(CATALOG_TOML).unwrap();
        for id in [
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ] {
            let e = c.get("bedrock", id).unwrap_or_else(|| panic!("{id}"));
            assert_eq!(e.pricing.input_per_mtok, 3.0, "{id}");
            assert_eq!(e.pricing.cache_write_per_mtok, Some(3.75), "{id}");
        }
        assert!(c.get("bedrock", "apac.amazon.nova-micro-v1:0").is_some());
        assert!(
            c.get("bedrock", "us.meta.llama4-maverick-17b-instruct-v1:0")
                .is_none()
        );
    }

    #[test]
    fn snapshot_names_fall_back_to_base() {
        let c = PriceCatalog::builtin();
        for (p, m, base) in [
            ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
            ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
            ("azure-openai", "gpt-4o", "gpt-4o"),
            ("openai", "gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
            ("anthropic", "claude-3-5-haiku-20241022", "claude-3-5-haiku"),
            (
                "anthropic",
                "claude-sonnet-4-5-20250929",
                "claude-sonnet-4-5",
            ),
            ("anthropic", "claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
            ("google", "models/gemini-1.5-pro-002", "gemini-1.5-pro"),
            ("vertex", "claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),
            ("vertex", "claude-haiku-4-5@20251001", "claude-haiku-4-5"),
            ("vertex", "gemini-2.5-flash", "gemini-2.5-flash"),
            (
                "google",
                "gemini-2.5-flash-preview-05-20",
                "gemini-2.5-flash",
            ),
        ] {
            let got = c.get(p, m).unwrap_or_else(|| panic!("{p}/{m}"));
            let want = c.get(catalog_provider(p), base).unwrap();
            assert_eq!(got, want, "{p}/{m}");
        }
        assert!(c.get("openai", "gpt-9-ultra").is_none());
        assert!(c.get("local", "llama3").is_none());
        // A base name never matches a different model.
        assert_ne!(
            c.get("openai", "gpt-4o-mini").unwrap(),
            c.get("openai", "gpt-4o").unwrap()
        );
    }

    #[test]
    fn cached_and_reasoning_tokens_priced_once() {
        let pricing = Pricing::default();
        // gpt-4o: input 2.50, cached 1.25, output 10.
        let u = Usage {
            prompt_tokens: 10_000,
            completion_tokens: 2_000,
            total_tokens: 12_000,
            cached_prompt_tokens: 8_000,
            cache_creation_tokens: 0,
            reasoning_tokens: 1_500,
        };
        let c = pricing.cost("openai", None, "gpt-4o-2024-08-06", &u, false);
        let want = (2_000.0 * 2.5 + 8_000.0 * 1.25 + 2_000.0 * 10.0) / 1e6;
        assert!(close(c.cost_usd.unwrap(), want), "{c:?} {want}");
        assert_eq!(c.saved_usd, None);
    }

    #[test]
    fn cache_write_tokens_at_their_rate() {
        let pricing = Pricing::default();
        // claude-sonnet-4: input 3, cache read 0.30, cache write 3.75, output 15.
        let u = Usage {
            prompt_tokens: 5_000,
            completion_tokens: 100,
            total_tokens: 5_100,
            cached_prompt_tokens: 3_000,
            cache_creation_tokens: 1_000,
            reasoning_tokens: 0,
        };
        let c = pricing.cost("anthropic", None, "claude-sonnet-4-20250514", &u, false);
        let want = (1_000.0 * 3.0 + 3_000.0 * 0.30 + 1_000.0 * 3.75 + 100.0 * 15.0) / 1e6;
        assert!(close(c.cost_usd.unwrap(), want), "{c:?} {want}");
    }

    #[test]
    fn own_cache_hit_costs_nothing_and_records_the_saving() {
        let pricing = Pricing::default();
        let u = Usage::new(1_000_000, 1_000_000);
        let c = pricing.cost("openai", None, "gpt-4o-mini", &u, true);
        assert_eq!(c.cost_usd, Some(0.0));
        assert!(close(c.saved_usd.unwrap(), 0.15 + 0.60));
    }

    #[test]
    fn unknown_model_is_unknown_not_zero() {
        let pricing = Pricing::default();
        let u = Usage::new(100, 100);
        let c = pricing.cost("local", None, "llama3:8b", &u, false);
        assert_eq!(c.cost_usd, None);
        // Asked again: still unknown (and answered from the cache, without a second warning).
        assert_eq!(pricing.price("local", None, "llama3:8b"), None);
        assert_eq!(pricing.resolved.len(), 1);
        // An unknown model served from our cache: no provider cost, saving unknown.
        let c = pricing.cost("local", None, "llama3:8b", &u, true);
        assert_eq!(c.cost_usd, Some(0.0));
        assert_eq!(c.saved_usd, None);
    }

    #[test]
    fn unknown_model_warns_once_per_model() {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<parking_lot::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || out.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let pricing = Pricing::default();
            for _ in 0..3 {
                assert!(pricing.price("local", None, "llama3").is_none());
            }
            assert!(pricing.price("local", None, "qwen").is_none());
            // The same model through other deployments: no second warning.
            assert!(pricing.price("local", Some("d1"), "llama3").is_none());
            assert!(pricing.price("local", Some("d2"), "llama3").is_none());
            assert!(pricing.price("openai", None, "gpt-4o").is_some());
        });
        let text = String::from_utf8(buf.0.lock().clone()).unwrap();
        assert_eq!(text.matches("no price known").count(), 2, "{text}");
        assert!(text.contains("llama3") && text.contains("qwen"));
    }

    #[test]
    fn rerank_is_priced_per_search_unit() {
        let c = PriceCatalog::parse(
            "[cohere]\n\"rerank-v3.5\" = { input = 0.0, output = 0.0, per_1k_searches = 2.0, unverified = true }\n",
        )
        .unwrap();
        let e = c.get("cohere", "rerank-v3.5").unwrap();
        assert!(close(e.pricing.per_search_unit.unwrap(), 0.002));
        let pricing = Pricing::new(&PricingConfig::default());
        let cost = pricing.search_cost("cohere", None, "rerank-v3.5", 3, None, false);
        assert!(close(cost.cost_usd.unwrap(), 0.006), "{cost:?}");
        let hit = pricing.search_cost("cohere", None, "rerank-v3.5", 1, None, true);
        assert_eq!(hit.cost_usd, Some(0.0));
        assert!(close(hit.saved_usd.unwrap(), 0.002));
        // A model without a search price costs nothing known for its search units.
        let unknown = pricing.search_cost("cohere", None, "command-a-03-2025", 1, None, false);
        assert_eq!(unknown.cost_usd, None);
    }

    #[test]
    fn free_providers_and_overrides() {
        let mut cfg = PricingConfig {
            free_providers: vec!["local".into()],
            ..Default::default()
        };
        cfg.overrides.insert(
            "openai/gpt-4o-mini".into(),
            PriceConfig {
                input_per_mtok: 1.0,
                output_per_mtok: 2.0,
                cached_input_per_mtok: None,
                cache_write_per_mtok: None,
                reasoning_per_mtok: None,
                per_search_unit: None,
            },
        );
        cfg.overrides.insert(
            "eu-deployment".into(),
            PriceConfig {
                input_per_mtok: 5.0,
                output_per_mtok: 5.0,
                cached_input_per_mtok: None,
                cache_write_per_mtok: None,
                reasoning_per_mtok: None,
                per_search_unit: None,
            },
        );
        let pricing = Pricing::new(&cfg).with_provider_type("my-azure", "azure-openai");
        let u = Usage::new(1_000_000, 1_000_000);
        let free = pricing.price("local", None, "llama3").unwrap();
        assert_eq!(free.1, PriceSource::Free);
        assert_eq!(
            pricing.cost("local", None, "llama3", &u, false).cost_usd,
            Some(0.0)
        );
        // provider/model override, also for a dated snapshot of it
        let o = pricing
            .price("openai", None, "gpt-4o-mini-2024-07-18")
            .unwrap();
        assert_eq!((o.0.input_per_mtok, o.1), (1.0, PriceSource::Override));
        // deployment override wins
        let d = pricing
            .price("openai", Some("eu-deployment"), "gpt-4o")
            .unwrap();
        assert_eq!(d.0.input_per_mtok, 5.0);
        // an Azure instance uses the OpenAI catalog
        let a = pricing.price("my-azure", Some("prod"), "gpt-4o").unwrap();
        assert_eq!((a.0.input_per_mtok, a.1), (2.5, PriceSource::Catalog));
    }
}
