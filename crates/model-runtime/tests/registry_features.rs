//! The registry lists exactly the providers whose features are enabled — no more (nothing else
//! is linked) and no fewer (the linker dropped none). `cargo xtask test` also runs this with
//! `--no-default-features --features anthropic`, where the registry must list only anthropic.
#![allow(clippy::unwrap_used)]

#[test]
fn registry_lists_exactly_the_enabled_providers() {
    let mut want: Vec<&str> = Vec::new();
    for (enabled, name) in [
        (cfg!(feature = "anthropic"), "anthropic"),
        (cfg!(feature = "azure-openai"), "azure-openai"),
        (cfg!(feature = "local"), "local"),
        (cfg!(feature = "local"), "vllm"),
        (cfg!(feature = "local"), "sglang"),
        (cfg!(feature = "local"), "lmstudio"),
        (cfg!(feature = "local"), "llamacpp"),
        (cfg!(feature = "google"), "google"),
        (cfg!(feature = "vertex"), "vertex"),
        (cfg!(feature = "huggingface"), "huggingface"),
        (cfg!(feature = "bedrock"), "bedrock"),
        (cfg!(feature = "openai"), "openai"),
        (cfg!(feature = "groq"), "groq"),
        (cfg!(feature = "deepseek"), "deepseek"),
        (cfg!(feature = "xai"), "xai"),
        (cfg!(feature = "openrouter"), "openrouter"),
        (cfg!(feature = "together"), "together"),
        (cfg!(feature = "fireworks"), "fireworks"),
        (cfg!(feature = "cerebras"), "cerebras"),
        (cfg!(feature = "perplexity"), "perplexity"),
        (cfg!(feature = "mistral"), "mistral"),
        (cfg!(feature = "cohere"), "cohere"),
        (cfg!(feature = "jina"), "jina"),
    ] {
        if enabled {
            want.push(name);
        }
    }
    want.sort_unstable();
    let reg = model_runtime::registry().unwrap();
    assert_eq!(reg.names(), want);
    assert_eq!(model_runtime::builtin_factories().len(), want.len());
}
