//! The configuration used when no file is given.

use crate::config::Config;

impl Config {
    /// The embedded default: every linked provider whose credentials are in the environment
    /// (or, for one that needs no key, whose base URL is), the local provider at Ollama's
    /// default address, and — each when its feature is compiled in, so the default starts
    /// with any set of features — the in-memory cache (`cache`), and usage records in a SQLite
    /// file (`metrics`; `modelrt-usage.sqlite` in the working directory, or
    /// `$MODELRT_DATA_DIR/modelrt-usage.sqlite`).
    pub fn embedded_default() -> Config {
        Self::embedded_default_with_env(&|k| std::env::var(k).ok())
    }

    /// [`Config::embedded_default`] with a custom environment.
    pub fn embedded_default_with_env(env: &dyn Fn(&str) -> Option<String>) -> Config {
        let mut cfg = Config {
            source: "<embedded default config>".into(),
            optional_providers: true,
            ..Config::default()
        };
        let set = |var: &str| env(var).is_some_and(|v| !v.is_empty());
        // Every linked provider: the built-in ones and any third-party crate linked in.
        for f in runtime_core::registry::linked(&crate::builtin_factories()) {
            let has_credentials = f
                .settings
                .iter()
                .any(|s| s.is_secret() && s.env.is_some_and(set));
            let required_ok = f
                .settings
                .iter()
                .filter(|s| s.required)
                .all(|s| s.default.is_some() || s.env.is_some_and(set));
            let keyless_local = f.name == "local";
            // A server that needs no key (vLLM, LM Studio, …) is picked when its address is
            // set in the environment.
            let keyless_server = !f.settings.iter().any(|s| s.is_secret() && s.required)
                && f.settings
                    .iter()
                    .any(|s| s.key == runtime_core::registry::BASE_URL && s.env.is_some_and(set));
            if keyless_local || keyless_server || (has_credentials && required_ok) {
                cfg.providers.insert(f.name.to_owned(), toml::Table::new());
            }
        }
        let dir = env("MODELRT_DATA_DIR").filter(|d| !d.is_empty());
        let file = |name: &str| match &dir {
            Some(d) => format!("{}/{name}", d.trim_end_matches('/')),
            None => name.to_owned(),
        };
        let mut storage = toml::Table::new();
        storage.insert(
            "database_url".into(),
            toml::Value::String(format!("sqlite://{}", file("modelrt-usage.sqlite"))),
        );
        storage.insert(
            "spill_path".into(),
            toml::Value::String(file("modelrt-usage.spill.jsonl")),
        );
        if cfg!(feature = "metrics") {
            cfg.storage = Some(storage);
        }
        if cfg!(feature = "cache") {
            let mut cache = toml::Table::new();
            cache.insert("backend".into(), toml::Value::String("memory".into()));
            cfg.cache = Some(cache);
        }
        cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_core::{
        BuildContext, Error, Provider, ProviderConfig, ProviderFactory, SettingSpec,
    };
    use std::sync::Arc;

    // A third-party provider, linked into this test binary only.
    fn build(cfg: ProviderConfig, _: &BuildContext) -> runtime_core::Result<Arc<dyn Provider>> {
        Err(Error::unsupported(cfg.instance(), "building (a test)"))
    }
    static THIRD_PARTY_SETTINGS: &[SettingSpec] = &[SettingSpec::api_key("THIRD_PARTY_TEST_KEY")];
    static THIRD_PARTY: ProviderFactory =
        ProviderFactory::new("third-party-test", build).settings(THIRD_PARTY_SETTINGS);
    runtime_core::register_provider!(THIRD_PARTY);

    #[test]
    fn linked_third_party_providers_with_credentials_are_included() {
        let none = Config::embedded_default_with_env(&|_| None);
        assert!(!none.providers.contains_key("third-party-test"));
        let with = Config::embedded_default_with_env(&|k| {
            (k == "THIRD_PARTY_TEST_KEY").then(|| "k".to_owned())
        });
        assert!(
            with.providers.contains_key("third-party-test"),
            "{:?}",
            with.providers.keys().collect::<Vec<_>>()
        );
    }

    #[tokio::test]
    async fn a_provider_the_environment_configures_only_partly_does_not_stop_the_start() {
        // The test factory's build always fails, as a provider with half its settings would.
        let env = |k: &str| match k {
            "THIRD_PARTY_TEST_KEY" => Some("k".to_owned()),
            "MODELRT_DATA_DIR" => Some(std::env::temp_dir().display().to_string()),
            _ => None,
        };
        let mut cfg = Config::embedded_default_with_env(&env);
        cfg.storage = None;
        assert!(cfg.providers.contains_key("third-party-test"));
        let rt = crate::Runtime::check(cfg.clone()).await.unwrap();
        assert!(!rt.config().providers.contains_key("third-party-test"));
        rt.shutdown().await;
        // A file's providers are required: the same failure stops the start, naming it.
        cfg.optional_providers = false;
        let err = crate::Runtime::check(cfg).await.err().unwrap();
        assert!(err.to_string().contains("third-party-test"), "{err}");
    }

    #[cfg(feature = "local")]
    #[test]
    fn a_keyless_server_is_included_when_its_address_is_in_the_environment() {
        let none = Config::embedded_default_with_env(&|_| None);
        assert!(!none.providers.contains_key("vllm"));
        assert!(none.providers.contains_key("local"));
        let with = Config::embedded_default_with_env(&|k| {
            (k == "VLLM_BASE_URL").then(|| "http://127.0.0.1:8000/v1".to_owned())
        });
        assert!(with.providers.contains_key("vllm"));
        assert!(!with.providers.contains_key("lmstudio"));
        // Its key alone (the server's own `VLLM_API_KEY`) is enough too.
        let key = Config::embedded_default_with_env(&|k| (k == "VLLM_API_KEY").then(|| "k".into()));
        assert!(key.providers.contains_key("vllm"));
    }

    #[cfg(feature = "vertex")]
    #[test]
    fn vertex_is_included_with_google_credentials_in_the_environment() {
        let none = Config::embedded_default_with_env(&|_| None);
        assert!(!none.providers.contains_key("vertex"));
        for var in [
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_OAUTH_ACCESS_TOKEN",
        ] {
            let with = Config::embedded_default_with_env(&|k| (k == var).then(|| "x".to_owned()));
            assert!(with.providers.contains_key("vertex"), "{var}");
        }
    }

    #[cfg(feature = "bedrock")]
    #[test]
    fn bedrock_is_included_with_aws_credentials_in_the_environment() {
        let none = Config::embedded_default_with_env(&|_| None);
        assert!(!none.providers.contains_key("bedrock"));
        for vars in [
            &["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"][..],
            &["AWS_BEARER_TOKEN_BEDROCK"][..],
        ] {
            let with =
                Config::embedded_default_with_env(&|k| vars.contains(&k).then(|| "x".to_owned()));
            assert!(with.providers.contains_key("bedrock"), "{vars:?}");
        }
    }

    #[test]
    fn providers_with_credentials_are_included() {
        let none = Config::embedded_default_with_env(&|_| None);
        assert!(!none.providers.contains_key("openai"));
        let with = Config::embedded_default_with_env(&|k| {
            (k == "OPENAI_API_KEY").then(|| "sk-x".to_owned())
        });
        #[cfg(feature = "openai")]
        assert!(with.providers.contains_key("openai"));
        // The cache and usage records when their features are compiled in, so the default
        // starts with any set of features.
        assert_eq!(with.storage.is_some(), cfg!(feature = "metrics"));
        assert_eq!(with.cache.is_some(), cfg!(feature = "cache"));
        if !cfg!(feature = "metrics") {
            return;
        }
        let dir = Config::embedded_default_with_env(&|k| {
            (k == "MODELRT_DATA_DIR").then(|| "/var/lib/modelrt/".to_owned())
        });
        let url = dir
            .storage
            .as_ref()
            .and_then(|s| s.get("database_url"))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
        assert_eq!(
            url.as_deref(),
            Some("sqlite:///var/lib/modelrt/modelrt-usage.sqlite")
        );
    }
}
