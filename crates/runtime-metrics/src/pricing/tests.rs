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
