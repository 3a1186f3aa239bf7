//! A provider crate registers itself through `inventory` only by being linked: this test names
//! no factory and passes no builtin list, yet the registry finds `openai`. `cargo xtask test`
//! runs it in debug and in release mode.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_openai as _;
use runtime_core::ProviderRegistry;
use runtime_core::http::HttpClient;

#[test]
fn a_linked_provider_registers_through_inventory_alone() {
    let reg = ProviderRegistry::new(&[], HttpClient::new(&Default::default()).unwrap()).unwrap();
    assert!(
        reg.names().contains(&"openai"),
        "registered: {:?}",
        reg.names()
    );
    let f = reg.factory("openai").unwrap();
    assert_eq!(f.crate_name, "provider-openai");
    assert!(
        f.settings
            .iter()
            .any(|s| s.key == "api_key" && s.required && s.is_secret())
    );
}

#[test]
fn an_unlinked_provider_is_not_found_and_the_error_says_how_to_link_one() {
    let reg = ProviderRegistry::new(&[], HttpClient::new(&Default::default()).unwrap()).unwrap();
    let e = reg.factory("no-such-provider").unwrap_err().to_string();
    assert!(
        e.contains("openai") && e.contains("use their_provider as _;"),
        "{e}"
    );
}
