//! What a person browses: the most recent requests, and per-bucket time series (requests,
//! errors, latency and time-to-first-token percentiles, tokens, cost) for the admin UI's charts.
//!
//! Counts, tokens and cost are sums over the records; percentiles need the individual
//! latencies, so a series reads at most [`SERIES_ROW_CAP`] records of its window (the most
//! recent) and says when it was cut ([`Series::truncated`]).

use sqlx::{QueryBuilder, Row};

use crate::store::{StoreError, UsageStore};

/// The most records a time series reads for its percentiles.
pub const SERIES_ROW_CAP: i64 = 200_000;

/// One request, as the recent-requests table shows it (no bodies: they are never stored).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecentRow {
    /// The request id.
    pub request_id: String,
    /// When it was recorded, Unix milliseconds.
    pub time_ms: i64,
    /// The gateway key's id (never the secret).
    pub key_id: Option<String>,
    /// The model the client asked for.
    pub model: String,
    /// The provider instance that answered (or failed last).
    pub provider: String,
    /// The router deployment, when routed.
    pub deployment: Option<String>,
    /// `chat`, `embeddings`, …
    pub operation: String,
    /// `ok`, `error`, `aborted`.
    pub status: String,
    /// The error kind of a failed request.
    pub error_kind: Option<String>,
    /// Latency, milliseconds.
    pub latency_ms: f64,
    /// Time to first token of a stream, milliseconds.
    pub ttft_ms: Option<f64>,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Cost, USD (`None`: unpriced).
    pub cost_usd: Option<f64>,
    /// Served from the cache.
    pub cache_hit: bool,
    /// Upstream attempts.
    pub attempts: u32,
    /// Rerank search units billed (0 for other operations).
    pub search_units: u64,
}

/// One bucket of a time series.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SeriesPoint {
    /// Start of the bucket, Unix milliseconds.
    pub bucket_ms: i64,
    /// Requests.
    pub requests: u64,
    /// Requests that did not end `ok`.
    pub errors: u64,
    /// Median latency, milliseconds (`None`: no request).
    pub latency_p50_ms: Option<f64>,
    /// 95th percentile latency, milliseconds.
    pub latency_p95_ms: Option<f64>,
    /// Median time to first token of streams, milliseconds.
    pub ttft_p50_ms: Option<f64>,
    /// 95th percentile time to first token, milliseconds.
    pub ttft_p95_ms: Option<f64>,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Cost of the priced requests, USD.
    pub cost_usd: f64,
}

/// A time series over a window.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Series {
    /// Bucket width, milliseconds.
    pub bucket_ms: i64,
    /// Every bucket of the window, oldest first (empty buckets included, so charts have a
    /// true time axis).
    pub points: Vec<SeriesPoint>,
    /// More than [`SERIES_ROW_CAP`] records fell in the window: only the most recent were
    /// read, and the older buckets are incomplete.
    pub truncated: bool,
}

fn u(n: Option<i64>) -> u64 {
    n.unwrap_or(0).max(0) as u64
}

macro_rules! recent_query {
    ($db:ty, $pool:expr, $limit:expr, $before:expr) => {{
        let mut q = QueryBuilder::<$db>::new(
            "SELECT request_id, time_ms, key_id, logical_model, provider, deployment, operation, \
             status, error_kind, latency_ms, ttft_ms, CAST(prompt_tokens AS BIGINT), \
             CAST(completion_tokens AS BIGINT), cost_usd, CAST(cache_hit AS BIGINT), \
             CAST(attempts AS BIGINT), CAST(search_units AS BIGINT) FROM usage_records \
             WHERE time_ms < ",
        );
        q.push_bind($before)
            .push(" ORDER BY time_ms DESC, request_id DESC LIMIT ")
            .push_bind($limit);
        let rows = q.build().fetch_all($pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(RecentRow {
                request_id: row.try_get(0)?,
                time_ms: row.try_get(1)?,
                key_id: row.try_get(2)?,
                model: row.try_get(3)?,
                provider: row.try_get(4)?,
                deployment: row.try_get(5)?,
                operation: row.try_get(6)?,
                status: row.try_get(7)?,
                error_kind: row.try_get(8)?,
                latency_ms: row.try_get(9)?,
                ttft_ms: row.try_get(10)?,
                prompt_tokens: u(row.try_get(11)?),
                completion_tokens: u(row.try_get(12)?),
                cost_usd: row.try_get(13)?,
                cache_hit: u(row.try_get(14)?) != 0,
                attempts: u(row.try_get(15)?).min(u64::from(u32::MAX)) as u32,
                search_units: u(row.try_get(16)?),
            });
        }
        Ok::<_, StoreError>(out)
    }};
}

/// One record's share of a series.
struct Sample {
    time_ms: i64,
    ok: bool,
    latency_ms: f64,
    ttft_ms: Option<f64>,
    prompt: u64,
    completion: u64,
    cost: f64,
}

macro_rules! series_query {
    ($db:ty, $pool:expr, $from:expr, $to:expr) => {{
        let mut q = QueryBuilder::<$db>::new(
            "SELECT time_ms, status, latency_ms, ttft_ms, CAST(prompt_tokens AS BIGINT), \
             CAST(completion_tokens AS BIGINT), cost_usd FROM usage_records WHERE time_ms >= ",
        );
        q.push_bind($from)
            .push(" AND time_ms < ")
            .push_bind($to)
            .push(" ORDER BY time_ms DESC LIMIT ")
            .push_bind(SERIES_ROW_CAP + 1);
        let rows = q.build().fetch_all($pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let status: String = row.try_get(1)?;
            out.push(Sample {
                time_ms: row.try_get(0)?,
                ok: status == "ok",
                latency_ms: row.try_get(2)?,
                ttft_ms: row.try_get(3)?,
                prompt: u(row.try_get(4)?),
                completion: u(row.try_get(5)?),
                cost: row.try_get::<Option<f64>, _>(6)?.unwrap_or(0.0),
            });
        }
        Ok::<_, StoreError>(out)
    }};
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Buckets `samples` over `[from_ms, to_ms)`; at most 1000 buckets (wider ones when asked for
/// more).
fn bucketize(samples: &[Sample], from_ms: i64, to_ms: i64, bucket_ms: i64) -> Vec<SeriesPoint> {
    let span = (to_ms - from_ms).max(1);
    let width = bucket_ms.max(1).max((span + 999) / 1000);
    let start = from_ms.div_euclid(width) * width;
    let n = ((to_ms - start).max(1) as u64).div_ceil(width as u64) as usize;
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut ttft: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut points: Vec<SeriesPoint> = (0..n)
        .map(|i| SeriesPoint {
            bucket_ms: start + i as i64 * width,
            ..SeriesPoint::default()
        })
        .collect();
    for s in samples {
        let i = ((s.time_ms - start) / width) as usize;
        let Some(p) = points.get_mut(i) else { continue };
        p.requests += 1;
        p.errors += u64::from(!s.ok);
        p.prompt_tokens += s.prompt;
        p.completion_tokens += s.completion;
        p.cost_usd += s.cost;
        if s.latency_ms.is_finite() {
            lat[i].push(s.latency_ms);
        }
        if let Some(t) = s.ttft_ms.filter(|t| t.is_finite()) {
            ttft[i].push(t);
        }
    }
    for (i, p) in points.iter_mut().enumerate() {
        lat[i].sort_by(f64::total_cmp);
        ttft[i].sort_by(f64::total_cmp);
        p.latency_p50_ms = quantile(&lat[i], 0.5);
        p.latency_p95_ms = quantile(&lat[i], 0.95);
        p.ttft_p50_ms = quantile(&ttft[i], 0.5);
        p.ttft_p95_ms = quantile(&ttft[i], 0.95);
    }
    points
}

impl UsageStore {
    /// The `limit` (at most 500) most recent requests recorded before `before_ms`, newest first.
    pub async fn recent(&self, limit: u32, before_ms: i64) -> Result<Vec<RecentRow>, StoreError> {
        let limit = i64::from(limit.clamp(1, 500));
        match self {
            UsageStore::Sqlite(s) => {
                let pool = s.checked().await.0;
                recent_query!(sqlx::Sqlite, &pool, limit, before_ms)
            }
            UsageStore::Postgres(p) => recent_query!(sqlx::Postgres, p, limit, before_ms),
        }
    }

    /// The time series of `[from_ms, to_ms)` in buckets of `bucket_ms` (widened so that there
    /// are at most 1000).
    pub async fn series(
        &self,
        from_ms: i64,
        to_ms: i64,
        bucket_ms: i64,
    ) -> Result<Series, StoreError> {
        if from_ms >= to_ms {
            return Ok(Series::default());
        }
        let mut samples = match self {
            UsageStore::Sqlite(s) => {
                let pool = s.checked().await.0;
                series_query!(sqlx::Sqlite, &pool, from_ms, to_ms)?
            }
            UsageStore::Postgres(p) => series_query!(sqlx::Postgres, p, from_ms, to_ms)?,
        };
        let truncated = samples.len() as i64 > SERIES_ROW_CAP;
        samples.truncate(SERIES_ROW_CAP as usize);
        let points = bucketize(&samples, from_ms, to_ms, bucket_ms);
        let width = points
            .get(1)
            .zip(points.first())
            .map_or(bucket_ms, |(b, a)| b.bucket_ms - a.bucket_ms);
        Ok(Series {
            bucket_ms: width,
            points,
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Status, UsageRecord};

    fn rec(i: usize, t: i64, ok: bool, latency: f64, cost: Option<f64>) -> UsageRecord {
        let mut r = UsageRecord::new(format!("r{i:03}"), t, "openai", "gpt-4o");
        r.status = if ok { Status::Ok } else { Status::Error };
        r.latency_ms = latency;
        r.prompt_tokens = 10;
        r.completion_tokens = 5;
        r.total_tokens = 15;
        r.cost_usd = cost;
        r
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), Some(50.0));
        assert_eq!(quantile(&v, 0.95), Some(95.0));
        assert_eq!(quantile(&[7.0], 0.95), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[tokio::test]
    async fn series_buckets_counts_percentiles_and_empty_buckets() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("u.sqlite").display());
        let store = UsageStore::connect(&url).await.unwrap();
        let min = 60_000;
        let mut recs = Vec::new();
        // Bucket 0: 20 requests, latencies 1..=20 ms, 2 errors; bucket 1 empty; bucket 2: 1.
        for i in 0..20 {
            recs.push(rec(i, 1_000 + i as i64, i >= 2, (i + 1) as f64, Some(0.5)));
        }
        recs.push(rec(20, 2 * min + 5, true, 100.0, None));
        store.insert_batch(&recs).await.unwrap();
        let s = store.series(0, 3 * min, min).await.unwrap();
        assert!(!s.truncated);
        assert_eq!(s.bucket_ms, min);
        assert_eq!(s.points.len(), 3);
        let p0 = &s.points[0];
        assert_eq!((p0.requests, p0.errors), (20, 2));
        assert_eq!(p0.latency_p50_ms, Some(10.0));
        assert_eq!(p0.latency_p95_ms, Some(19.0));
        assert_eq!((p0.prompt_tokens, p0.completion_tokens), (200, 100));
        assert!((p0.cost_usd - 10.0).abs() < 1e-9);
        assert_eq!(s.points[1].requests, 0);
        assert_eq!(s.points[1].latency_p50_ms, None);
        assert_eq!(s.points[2].requests, 1);
        assert_eq!(s.points[2].cost_usd, 0.0);
    }

    #[tokio::test]
    async fn recent_is_newest_first_and_pages_by_time() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("u.sqlite").display());
        let store = UsageStore::connect(&url).await.unwrap();
        let recs: Vec<_> = (0..30)
            .map(|i| rec(i, 1_000 * i as i64, i % 3 != 0, 5.0, Some(0.1)))
            .collect();
        store.insert_batch(&recs).await.unwrap();
        let first = store.recent(10, i64::MAX).await.unwrap();
        assert_eq!(first.len(), 10);
        assert_eq!(first[0].request_id, "r029");
        assert_eq!(first[9].request_id, "r020");
        let next = store.recent(10, first[9].time_ms).await.unwrap();
        assert_eq!(next[0].request_id, "r019");
        assert_eq!(first[0].status, "ok");
        assert_eq!(store.recent(10, 1_000).await.unwrap()[0].status, "error");
    }

    #[test]
    fn a_wide_window_gets_at_most_a_thousand_buckets() {
        let pts = bucketize(&[], 0, 7 * 86_400_000, 1_000);
        assert!(pts.len() <= 1000, "{}", pts.len());
        assert!(pts.len() >= 999);
    }
}
