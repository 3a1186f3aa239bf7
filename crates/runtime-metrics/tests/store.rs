//! The usage store on SQLite and PostgreSQL: migrations, idempotent inserts, rollups, and
//! grouped cost queries checked against totals computed here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use runtime_metrics::{GroupBy, Status, SummaryRow, UsageRecord, UsageStore};

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_790_000_000_000 - 1_790_000_000_000 % HOUR; // an hour boundary

fn records(n: u64) -> Vec<UsageRecord> {
    // Spread over ~5 hours, not aligned to hours.
    (0..n)
        .map(|i| record(i, T0 + (i as i64 * 7_919_000) % (5 * HOUR)))
        .collect()
}

fn expected(recs: &[UsageRecord], from: i64, to: i64, group_by: &[GroupBy]) -> Vec<SummaryRow> {
    let mut m: BTreeMap<[Option<String>; 4], SummaryRow> = BTreeMap::new();
    for r in recs.iter().filter(|r| r.time_ms >= from && r.time_ms < to) {
        let has = |g| group_by.contains(&g);
        let key = [
            has(GroupBy::Provider).then(|| r.provider.clone()),
            has(GroupBy::Model).then(|| r.logical_model.clone()),
            has(GroupBy::Deployment).then(|| r.deployment.clone().unwrap_or_default()),
            has(GroupBy::Key).then(|| r.key_id.clone().unwrap_or_default()),
        ];
        let e = m.entry(key.clone()).or_insert_with(|| SummaryRow {
            provider: key[0].clone(),
            model: key[1].clone(),
            deployment: key[2].clone(),
            key_id: key[3].clone(),
            ..SummaryRow::default()
        });
        e.requests += 1;
        e.errors += u64::from(r.status != Status::Ok);
        e.cache_hits += u64::from(r.cache_hit);
        e.unpriced_requests += u64::from(r.cost_usd.is_none() && r.total_tokens > 0);
        e.prompt_tokens += r.prompt_tokens;
        e.completion_tokens += r.completion_tokens;
        e.cached_tokens += r.cached_tokens;
        e.cache_write_tokens += r.cache_write_tokens;
        e.reasoning_tokens += r.reasoning_tokens;
        e.cost_usd += r.cost_usd.unwrap_or(0.0);
        e.saved_usd += r.saved_usd.unwrap_or(0.0);
        e.latency_ms_sum += r.latency_ms;
    }
    m.into_values().collect()
}

fn assert_same(mut got: Vec<SummaryRow>, want: Vec<SummaryRow>, what: &str) {
    got.sort_by(|a, b| {
        (&a.provider, &a.model, &a.deployment, &a.key_id).cmp(&(
            &b.provider,
            &b.model,
            &b.deployment,
            &b.key_id,
        ))
    });
    assert_eq!(got.len(), want.len(), "{what}: {got:#?}\nwant {want:#?}");
    for (g, w) in got.iter().zip(want.iter()) {
        assert!(
            (g.cost_usd - w.cost_usd).abs() < 1e-9,
            "{what}: {g:?} vs {w:?}"
        );
        assert!((g.saved_usd - w.saved_usd).abs() < 1e-9, "{what}");
        assert!((g.latency_ms_sum - w.latency_ms_sum).abs() < 1e-6, "{what}");
        let strip = |r: &SummaryRow| SummaryRow {
            cost_usd: 0.0,
            saved_usd: 0.0,
            latency_ms_sum: 0.0,
            ..r.clone()
        };
        assert_eq!(strip(g), strip(w), "{what}");
    }
}

async fn idempotent_inserts_and_rollups(store: UsageStore) {
    let recs = records(1_000);
    assert_eq!(store.insert_batch(&recs[..600]).await.unwrap(), 600);
    // Overlapping redelivery plus an in-batch duplicate: only the new ones count.
    let mut again = recs[500..].to_vec();
    again.push(recs[999].clone());
    assert_eq!(store.insert_batch(&again).await.unwrap(), 400);
    assert_eq!(store.insert_batch(&recs).await.unwrap(), 0);
    assert_eq!(store.count().await.unwrap(), 1_000);
    // The rollups counted each record once.
    let all = store.usage_summary(T0, T0 + 5 * HOUR, &[]).await.unwrap();
    assert_same(all, expected(&recs, T0, T0 + 5 * HOUR, &[]), "total");
    // Migrations are idempotent.
    store.migrate().await.unwrap();
    assert_eq!(store.count().await.unwrap(), 1_000);
}

async fn group_by_queries(store: UsageStore) {
    let recs = records(3_000);
    store.insert_batch(&recs).await.unwrap();
    let groupings: [&[GroupBy]; 6] = [
        &[],
        &[GroupBy::Provider],
        &[GroupBy::Model],
        &[GroupBy::Deployment],
        &[GroupBy::Key],
        &[GroupBy::Provider, GroupBy::Model, GroupBy::Key],
    ];
    let ranges = [
        (T0, T0 + 5 * HOUR),                        // whole hours: rollups only
        (T0 + 1_234_567, T0 + 4 * HOUR + 99_000),   // partial edges + rollups
        (T0 + HOUR + 5_000, T0 + HOUR + 2_000_000), // inside one hour: records only
        (T0 - 10 * HOUR, T0 - 9 * HOUR),            // empty
    ];
    for g in groupings {
        for (from, to) in ranges {
            let got = store.usage_summary(from, to, g).await.unwrap();
            assert_same(
                got,
                expected(&recs, from, to, g),
                &format!("{g:?} {from}..{to}"),
            );
        }
    }
    // Rows come most expensive first.
    let by_model = store
        .usage_summary(T0, T0 + 5 * HOUR, &[GroupBy::Model])
        .await
        .unwrap();
    assert!(by_model.windows(2).all(|w| w[0].cost_usd >= w[1].cost_usd));
    assert!(by_model.iter().all(|r| r.provider.is_none()));
}

/// Whole hours are answered from the rollups alone: with the records gone, the totals of
/// whole hours remain (and the partial edges, read from records, are empty).
async fn whole_hours_come_from_rollups(store: UsageStore) {
    let recs = records(500);
    store.insert_batch(&recs).await.unwrap();
    let sql = "DELETE FROM usage_records";
    match &store {
        UsageStore::Sqlite(s) => {
            sqlx::query(sql).execute(&s.pool()).await.unwrap();
        }
        UsageStore::Postgres(p) => {
            sqlx::query(sql).execute(p).await.unwrap();
        }
    }
    let got = store
        .usage_summary(T0, T0 + 5 * HOUR, &[GroupBy::Provider])
        .await
        .unwrap();
    assert_same(
        got,
        expected(&recs, T0, T0 + 5 * HOUR, &[GroupBy::Provider]),
        "rollups",
    );
    let partial = store
        .usage_summary(T0 + 1, T0 + HOUR - 1, &[])
        .await
        .unwrap();
    assert!(partial.is_empty(), "{partial:?}");
}

#[tokio::test]
async fn sqlite_whole_hours_come_from_rollups() {
    let dir = tempfile::tempdir().unwrap();
    whole_hours_come_from_rollups(open(&sqlite_url(dir.path())).await).await;
}

#[tokio::test]
async fn postgres_whole_hours_come_from_rollups() {
    whole_hours_come_from_rollups(open(&pg_schema_url().await).await).await;
}

#[tokio::test]
async fn sqlite_idempotent_inserts_and_rollups() {
    let dir = tempfile::tempdir().unwrap();
    idempotent_inserts_and_rollups(open(&sqlite_url(dir.path())).await).await;
}

#[tokio::test]
async fn sqlite_group_by_queries() {
    let dir = tempfile::tempdir().unwrap();
    group_by_queries(open(&sqlite_url(dir.path())).await).await;
}

#[tokio::test]
async fn postgres_idempotent_inserts_and_rollups() {
    idempotent_inserts_and_rollups(open(&pg_schema_url().await).await).await;
}

#[tokio::test]
async fn postgres_group_by_queries() {
    group_by_queries(open(&pg_schema_url().await).await).await;
}

#[tokio::test]
async fn concurrent_migrations_on_postgres() {
    let url = pg_schema_url().await;
    let (a, b) = tokio::join!(UsageStore::connect(&url), UsageStore::connect(&url));
    a.unwrap();
    b.unwrap();
}

#[tokio::test]
async fn bad_urls_are_rejected() {
    let e = UsageStore::open(
        "mysql://u:secret@h/db",
        1,
        std::time::Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(!e.to_string().contains("secret"), "{e}");
}

/// Admin UI sessions (migration 5): found until they end, ended one by one or by key, purged.
async fn ui_sessions(store: UsageStore) {
    use runtime_metrics::UiSession;
    let s = |id: &str, key_id: Option<&str>, expires_ms: i64| UiSession {
        id_hash: id.into(),
        key_hash: format!("hash-of-key-{id}"),
        key_id: key_id.map(Into::into),
        created_ms: 1,
        expires_ms,
    };
    store.put_ui_session(&s("a", None, 100)).await.unwrap();
    store
        .put_ui_session(&s("b", Some("ops"), 100))
        .await
        .unwrap();
    store.put_ui_session(&s("c", None, 50)).await.unwrap();
    assert!(store.put_ui_session(&s("a", None, 100)).await.is_err());
    assert_eq!(
        store.get_ui_session("a", 10).await.unwrap(),
        Some(s("a", None, 100))
    );
    assert_eq!(store.get_ui_session("c", 50).await.unwrap(), None);
    assert_eq!(store.purge_ui_sessions(50).await.unwrap(), 1);
    assert_eq!(store.delete_ui_sessions_of_key("ops").await.unwrap(), 1);
    assert_eq!(store.get_ui_session("b", 10).await.unwrap(), None);
    assert!(store.delete_ui_session("a").await.unwrap());
    assert_eq!(store.get_ui_session("a", 10).await.unwrap(), None);
}

#[tokio::test]
async fn postgres_ui_sessions() {
    ui_sessions(open(&pg_schema_url().await).await).await;
}

#[tokio::test]
async fn sqlite_ui_sessions() {
    let dir = tempfile::tempdir().unwrap();
    ui_sessions(open(&sqlite_url(dir.path())).await).await;
}
