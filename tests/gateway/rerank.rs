//! `POST /v1/rerank` through the real `modelrt` binary over HTTP, with a Cohere upstream
//! (wiremock serving the Cohere API reference's recorded rerank answer): the call writes
//! exactly one usage row carrying the billed search units and a cost from the pricing table
//! (`[cohere] "rerank-v3.5"`, per 1,000 searches), and `/v1/usage` reports it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use model_runtime::metrics::{PriceCatalog, UsageStore};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MASTER: &str = "sk-master-rerank-usage";

/// The price of `units` search units of `model` in the shipped catalog.
fn catalog_cost(provider: &str, model: &str, units: u64) -> f64 {
    let catalog = PriceCatalog::builtin();
    let price = catalog
        .get(provider, model)
        .unwrap_or_else(|| panic!("no price for {provider}/{model}"));
    price
        .pricing
        .search_cost(units)
        .unwrap_or_else(|| panic!("{provider}/{model} has no search price"))
}

#[tokio::test]
async fn a_rerank_call_writes_one_usage_row_with_search_units_and_its_cost() {
    let upstream = MockServer::start().await;
    let recorded: Value = runtime_testkit::fixtures::json("cohere", "rerank-v2.request.json");
    Mock::given(method("POST"))
        .and(path("/v2/rerank"))
        .and(header("authorization", format!("Bearer {UPSTREAM_KEY}")))
        .and(body_partial_json(
            json!({"model": "rerank-v3.5", "top_n": 3}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(runtime_testkit::fixtures::bytes(
                    "cohere",
                    "rerank-v2.response.json",
                ))
                .insert_header("content-type", "application/json"),
        )
        .expect(1)
        .mount(&upstream)
        .await;
    let config = format!(
        "[providers.cohere]\ntype = \"cohere\"\nbase_url = \"{}\"\napi_key = \"{UPSTREAM_KEY}\"\n\
         \n{STORAGE}\n[gateway]\nmaster_key = \"{MASTER}\"\n",
        upstream.uri()
    );
    let gw = Gw::start(Some(&config)).await;

    let mut body = recorded.clone();
    body["model"] = json!("cohere/rerank-v3.5");
    let resp = client()
        .post(gw.at("/v1/rerank"))
        .bearer_auth(MASTER)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{v}\n{}", gw.logs());
    assert_eq!(v["results"][0]["index"], 3, "{v}");
    assert_eq!(v["meta"]["billed_units"]["search_units"], 1, "{v}");

    let want = catalog_cost("cohere", "rerank-v3.5", 1);
    assert!(want > 0.0);
    // `/v1/usage` reports the call and its cost.
    let usage = wait_usage(&gw, Some(MASTER), "since=24h&group_by=model", |u| {
        u["total"]["requests"] == 1
    })
    .await;
    assert_eq!(usage["total"]["errors"], 0, "{usage}");
    assert_eq!(usage["total"]["unpriced_requests"], 0, "{usage}");
    let cost = usage["total"]["cost_usd"].as_f64().unwrap();
    assert!((cost - want).abs() < 1e-12, "{cost} != {want}: {usage}");
    let rows = usage["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{usage}");
    assert_eq!(rows[0]["model"], "cohere/rerank-v3.5", "{usage}");

    // Exactly one row in the usage file, with the search units and the same cost.
    let db = gw.dir().join("usage.sqlite");
    let store = UsageStore::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    assert_eq!(store.count().await.unwrap(), 1, "rows in the usage file");
    let recent = store.recent(10, i64::MAX).await.unwrap();
    assert_eq!(recent.len(), 1, "{recent:?}");
    let row = &recent[0];
    assert_eq!(row.operation, "rerank", "{row:?}");
    assert_eq!(row.status, "ok", "{row:?}");
    assert_eq!(row.provider, "cohere", "{row:?}");
    assert_eq!(row.search_units, 1, "{row:?}");
    let row_cost = row.cost_usd.expect("a priced row");
    assert!((row_cost - want).abs() < 1e-12, "{row_cost} != {want}");
    store.close().await;
}
