//! Several `Governance` instances (replicas) over one private redis-server and one private
//! PostgreSQL (started here on free ports; never the shared 6379/5432), under concurrent
//! load: the budget bound, Redis killed mid-run, revocation reaching every replica, period
//! boundaries, migrations next to an existing usage database. Fails (never skips) when the
//! servers are not installed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use runtime_governance::admin::{CreateKey, UpdateKey, decode};
use runtime_governance::db::Db;
use runtime_governance::{Clock, Governance, GovernanceConfig, Plan};
use runtime_redis::{Redis, RedisConfig};
use runtime_testkit::services;

fn redis_handle(url: &str) -> Redis {
    let mut cfg = RedisConfig::standalone(url);
    cfg.timeout = Duration::from_millis(200);
    cfg.probe_interval = Duration::from_millis(50);
    cfg.probe_max_interval = Duration::from_millis(200);
    Redis::new(&cfg).unwrap()
}

async fn replica(db: &str, redis: Option<&str>, clock: Clock) -> Arc<Governance> {
    Governance::start(GovernanceConfig {
        database_url: db.to_owned(),
        redis: redis.map(redis_handle),
        prefix: "t".into(),
        sync_interval: Duration::from_millis(100),
        lease_ttl: Duration::from_secs(60),
        clock,
        ..GovernanceConfig::default()
    })
    .await
    .unwrap()
}

fn plan(i: u64, cost: i64) -> Plan {
    Plan {
        request_id: format!("r{i}"),
        model: "m".into(),
        end_user: None,
        tokens: 10,
        cost_micros: Some(cost),
    }
}

/// Runs `workers` tasks per replica, each admitting and settling calls of `W` µUSD until it
/// is refused for the budget; returns (admitted, settled µUSD as the clients saw it).
async fn load(
    reps: &[Arc<Governance>],
    secret: &str,
    workers: usize,
    w: i64,
    kill: Option<(u64, Box<dyn FnOnce() + Send>)>,
) -> (u64, i64) {
    let n = Arc::new(AtomicU64::new(0));
    let spent = Arc::new(AtomicI64::new(0));
    let mut kill = kill;
    let mut tasks = Vec::new();
    for (ri, r) in reps.iter().enumerate() {
        for wi in 0..workers {
            let r = r.clone();
            let (n, spent) = (n.clone(), spent.clone());
            let secret = secret.to_owned();
            tasks.push(tokio::spawn(async move {
                let deadline = Instant::now() + Duration::from_secs(60);
                let mut refusals = 0;
                let mut i = 0u64;
                while Instant::now() < deadline && refusals < 3 {
                    i += 1;
                    let who = r.identify(&secret).unwrap();
                    match r
                        .admit(&who, &plan(((ri * 1000 + wi) as u64) * 100_000 + i, w))
                        .await
                    {
                        Ok(t) => {
                            n.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            spent.fetch_add(w, Ordering::Relaxed);
                            t.settle(Some(w), Some(10)).await;
                        }
                        Err(e) => {
                            assert!(
                                matches!(e.code, "budget_exceeded"),
                                "{}: {}",
                                e.code,
                                e.message
                            );
                            refusals += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
            }));
        }
    }
    if let Some((after, f)) = kill.take() {
        while n.load(Ordering::Relaxed) < after {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::task::spawn_blocking(f).await.unwrap();
    }
    for t in tasks {
        t.await.unwrap();
    }
    (n.load(Ordering::Relaxed), spent.load(Ordering::Relaxed))
}

async fn db_spent(db: &str, counter_prefix: &str) -> i64 {
    let d = Db::open(db, 1, Duration::from_secs(5)).unwrap();
    let Db::Postgres(p) = &d else { panic!() };
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(SUM(amount) AS BIGINT) FROM gov_ledger WHERE counter LIKE $1",
    )
    .bind(format!("{counter_prefix}%"))
    .fetch_one(p)
    .await
    .unwrap();
    d.close().await;
    v.unwrap_or(0)
}

fn start_services() -> (services::Redis, services::Postgres) {
    (
        services::Redis::start().expect("redis-server (cargo xtask services installs it)"),
        services::Postgres::start().expect("PostgreSQL (cargo xtask services installs it)"),
    )
}

async fn budget_key(gov: &Governance, id: &str, usd: f64) -> String {
    let body = format!(r#"{{"id": "{id}", "budget": {{"max_usd": {usd}, "period": "daily"}}}}"#);
    gov.create_key(decode::<CreateKey>(body.as_bytes()).unwrap())
        .await
        .unwrap()
        .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_spend_within_one_reservation_each_of_the_budget_even_when_redis_dies() {
    let (mut redis, pg) = start_services();
    let (db, rurl) = (pg.url(), redis.url());
    let reps = vec![
        replica(&db, Some(&rurl), Clock::system()).await,
        replica(&db, Some(&rurl), Clock::system()).await,
        replica(&db, Some(&rurl), Clock::system()).await,
    ];
    let w = 10_000; // $0.01 per call
    let limit = 1_000_000; // $1.00
    let secret = budget_key(&reps[0], "fleet", 1.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // every replica has the key

    // Redis up: the budget is never passed, and is used up to within one reservation.
    let (n, spent) = load(&reps, &secret, 6, w, None).await;
    for r in &reps {
        r.sync().await;
    }
    let stored = db_spent(&db, "k:fleet:").await;
    assert_eq!(stored, spent, "every settlement is durable in the ledger");
    assert!(spent <= limit, "spent {spent} µUSD of {limit} in {n} calls");
    assert!(spent > limit - 3 * w, "the budget was used: {spent}");
    assert_eq!(n as i64 * w, spent);

    // A second key; Redis is killed after 30 calls: the fleet goes to the database and the
    // bound holds (the documented bound: one in-flight reservation per replica).
    let secret2 = budget_key(&reps[1], "fleet2", 1.0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let killer: Box<dyn FnOnce() + Send> = Box::new(move || {
        redis.kill().unwrap();
        // Kept alive (dead) until the end of the test.
        std::mem::forget(redis);
    });
    let started = Instant::now();
    let (n2, spent2) = load(&reps, &secret2, 6, w, Some((30, killer))).await;
    for r in &reps {
        r.sync().await;
    }
    let stored2 = db_spent(&db, "k:fleet2:").await;
    assert_eq!(
        stored2, spent2,
        "settlements from Redis and database mode are all durable"
    );
    assert!(
        spent2 <= limit + 3 * w,
        "Redis killed mid-run: spent {spent2} of {limit} (+3×{w} allowed) in {n2} calls"
    );
    assert!(spent2 > limit - 3 * w, "the budget was used: {spent2}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        reps[0].db().state().await.unwrap().generation >= 1,
        "the fleet did enforce from the database while Redis was dead"
    );
    for r in reps {
        r.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_one_replica_is_in_force_on_the_others_within_a_second() {
    let (redis, pg) = start_services();
    let a = replica(&pg.url(), Some(&redis.url()), Clock::system()).await;
    let b = replica(&pg.url(), Some(&redis.url()), Clock::system()).await;
    let (_, secret) = a
        .create_key(decode::<CreateKey>(br#"{"id": "k1", "rpm": 1000}"#).unwrap())
        .await
        .unwrap();
    let t = Instant::now();
    while b.identify(&secret).is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "a new key reaches B within a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.revoke_key("k1").await.unwrap();
    assert!(
        a.identify(&secret).is_none(),
        "refused at once where it was revoked"
    );
    let t = Instant::now();
    while b.identify(&secret).is_some() {
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "revocation reaches B within a second"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // A budget change reaches B too.
    let (_, s2) = a
        .create_key(decode::<CreateKey>(br#"{"id": "k2"}"#).unwrap())
        .await
        .unwrap();
    a.update_key(
        "k2",
        decode::<UpdateKey>(br#"{"budget": {"max_usd": 0, "period": "monthly"}}"#).unwrap(),
    )
    .await
    .unwrap();
    let t = Instant::now();
    loop {
        let who = b.identify(&s2);
        if who.as_ref().is_some_and(|w| w.key.budget.is_some()) {
            let e = b.admit(&who.unwrap(), &plan(1, 1)).await.unwrap_err();
            assert_eq!((e.status, e.code), (429, "budget_exceeded"));
            assert!(
                e.retry_after.is_some(),
                "a monthly budget knows when it resets"
            );
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn a_daily_budget_starts_again_at_midnight_utc() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("g.sqlite").display());
    // 2026-12-05 23:59:00 UTC.
    let t0 = runtime_governance::period::days_from_civil(2026, 12, 5) * 86_400_000 + 86_340_000;
    let clock = Clock::manual(t0);
    let gov = replica(&db, None, clock.clone()).await;
    let secret = budget_key(&gov, "daily", 0.02).await;
    let who = gov.identify(&secret).unwrap();
    for i in 0..2 {
        gov.admit(&who, &plan(i, 10_000))
            .await
            .unwrap()
            .settle(Some(10_000), None)
            .await;
    }
    let e = gov.admit(&who, &plan(9, 10_000)).await.unwrap_err();
    assert_eq!(e.code, "budget_exceeded");
    assert_eq!(
        e.retry_after,
        Some(Duration::from_secs(60)),
        "resets at 00:00 UTC"
    );
    clock.advance(60_000);
    gov.admit(&who, &plan(10, 10_000))
        .await
        .unwrap()
        .settle(Some(10_000), None)
        .await;
    gov.shutdown().await;
}

#[tokio::test]
async fn a_dropped_ticket_is_charged_its_reservation_never_free() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("g.sqlite").display());
    let gov = replica(&db, None, Clock::system()).await;
    let secret = budget_key(&gov, "drop", 0.05).await;
    let who = gov.identify(&secret).unwrap();
    drop(gov.admit(&who, &plan(1, 30_000)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = gov.admit(&who, &plan(2, 30_000)).await.unwrap_err();
    assert_eq!(e.code, "budget_exceeded", "{}", e.message);
    // An unpriced model is refused for a budgeted key.
    let mut p = plan(3, 0);
    p.cost_micros = None;
    assert_eq!(
        gov.admit(&who, &p).await.unwrap_err().code,
        "unpriced_model"
    );
    gov.shutdown().await;
}

#[tokio::test]
async fn governance_migrates_beside_an_existing_usage_database_on_both_backends() {
    let pg = services::Postgres::start().expect("PostgreSQL");
    let dir = tempfile::tempdir().unwrap();
    for url in [
        format!("sqlite://{}", dir.path().join("u.sqlite").display()),
        pg.url(),
    ] {
        // A usage database as runtime-metrics leaves it: its own migration table and rows.
        let d = Db::open(&url, 1, Duration::from_secs(5)).unwrap();
        let usage = "CREATE TABLE modelrt_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL); \
                     INSERT INTO modelrt_migrations VALUES (1, 'usage', 0), (2, 'attribution', 0); \
                     CREATE TABLE usage_records (request_id TEXT PRIMARY KEY); INSERT INTO usage_records VALUES ('r1');";
        match &d {
            Db::Sqlite(p) => {
                sqlx::raw_sql(usage).execute(p).await.unwrap();
            }
            Db::Postgres(p) => {
                sqlx::raw_sql(usage).execute(p).await.unwrap();
            }
        }
        // Twice, and concurrently: idempotent.
        let (a, b) = tokio::join!(d.migrate(), d.migrate());
        a.unwrap();
        b.unwrap();
        d.migrate().await.unwrap();
        let count = |sql: &'static str| {
            let d = d.clone();
            async move {
                match &d {
                    Db::Sqlite(p) => sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(p)
                        .await
                        .unwrap(),
                    Db::Postgres(p) => sqlx::query_scalar::<_, i64>(sql)
                        .fetch_one(p)
                        .await
                        .unwrap(),
                }
            }
        };
        assert_eq!(
            count("SELECT COUNT(*) FROM modelrt_migrations").await,
            2,
            "{url}"
        );
        assert_eq!(count("SELECT COUNT(*) FROM usage_records").await, 1);
        assert_eq!(
            count("SELECT COUNT(*) FROM modelrt_governance_migrations").await,
            1
        );
        assert_eq!(d.state().await.unwrap().version, 0);
        d.close().await;
    }
}
