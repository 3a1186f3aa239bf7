//! Spend reports: cost and tokens per hour or day, by key, team, end user, model, provider or
//! deployment, read from the usage records (the admin API's `/admin/spend` and `modelrt
//! spend`).

use sqlx::{QueryBuilder, Row};

use crate::store::{StoreError, UsageStore};

/// The column a spend report is grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpendBy {
    /// Gateway key.
    Key,
    /// The key's team.
    Team,
    /// End user.
    User,
    /// Requested (logical) model.
    Model,
    /// Provider instance.
    Provider,
    /// Router deployment.
    Deployment,
}

impl SpendBy {
    /// Parses `key`, `team`, `user`, `model`, `provider`, `deployment`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim() {
            "key" | "key_id" => SpendBy::Key,
            "team" | "team_id" => SpendBy::Team,
            "user" | "end_user" => SpendBy::User,
            "model" => SpendBy::Model,
            "provider" => SpendBy::Provider,
            "deployment" => SpendBy::Deployment,
            _ => return None,
        })
    }

    /// The name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            SpendBy::Key => "key",
            SpendBy::Team => "team",
            SpendBy::User => "user",
            SpendBy::Model => "model",
            SpendBy::Provider => "provider",
            SpendBy::Deployment => "deployment",
        }
    }

    fn column(self) -> &'static str {
        match self {
            SpendBy::Key => "COALESCE(key_id, '')",
            SpendBy::Team => "COALESCE(team_id, '')",
            SpendBy::User => "COALESCE(end_user, '')",
            SpendBy::Model => "logical_model",
            SpendBy::Provider => "provider",
            SpendBy::Deployment => "COALESCE(deployment, '')",
        }
    }
}

/// The time bucket of a spend report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// UTC hours.
    Hour,
    /// UTC days.
    Day,
}

impl Bucket {
    /// Parses `hour` or `day`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "hour" | "hourly" | "1h" => Some(Bucket::Hour),
            "day" | "daily" | "1d" => Some(Bucket::Day),
            _ => None,
        }
    }

    /// The bucket's length in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Bucket::Hour => 3_600_000,
            Bucket::Day => 86_400_000,
        }
    }
}

/// One row of a spend report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpendRow {
    /// Start of the bucket, Unix milliseconds (UTC hour or day).
    pub bucket_ms: i64,
    /// The group's value (empty: none, e.g. a request without a team).
    pub group: String,
    /// Requests.
    pub requests: u64,
    /// Requests that did not end `ok`.
    pub errors: u64,
    /// Requests with tokens but no known price: their cost is NOT in `cost_usd`.
    pub unpriced_requests: u64,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Cost of the priced requests, USD.
    pub cost_usd: f64,
}

const SPEND_SUMS: &str = "CAST(COUNT(*) AS BIGINT), \
    CAST(SUM(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END) AS BIGINT), \
    CAST(SUM(CASE WHEN cost_usd IS NULL AND total_tokens > 0 THEN 1 ELSE 0 END) AS BIGINT), \
    CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT), \
    CAST(SUM(COALESCE(cost_usd, 0)) AS DOUBLE PRECISION)";

fn u(n: Option<i64>) -> u64 {
    n.unwrap_or(0).max(0) as u64
}

macro_rules! spend_query {
    ($db:ty, $pool:expr, $by:expr, $bucket:expr, $from:expr, $to:expr) => {{
        let width = $bucket.millis();
        let mut q = QueryBuilder::<$db>::new(format!(
            "SELECT CAST((time_ms / {width}) * {width} AS BIGINT) AS b, {} AS g, {SPEND_SUMS} \
             FROM usage_records WHERE time_ms >= ",
            $by.column()
        ));
        q.push_bind($from)
            .push(" AND time_ms < ")
            .push_bind($to)
            .push(" GROUP BY b, g ORDER BY b, g");
        let rows = q.build().fetch_all($pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(SpendRow {
                bucket_ms: row.try_get(0)?,
                group: row.try_get::<Option<String>, _>(1)?.unwrap_or_default(),
                requests: u(row.try_get(2)?),
                errors: u(row.try_get(3)?),
                unpriced_requests: u(row.try_get(4)?),
                prompt_tokens: u(row.try_get(5)?),
                completion_tokens: u(row.try_get(6)?),
                cost_usd: row.try_get::<Option<f64>, _>(7)?.unwrap_or(0.0),
            });
        }
        Ok(out)
    }};
}

impl UsageStore {
    /// Spend over `[from_ms, to_ms)` per `bucket` and per value of `by`, oldest bucket first.
    /// Read from the records themselves (teams and end users are not in the hourly rollups).
    pub async fn spend(
        &self,
        from_ms: i64,
        to_ms: i64,
        by: SpendBy,
        bucket: Bucket,
    ) -> Result<Vec<SpendRow>, StoreError> {
        if from_ms >= to_ms {
            return Ok(Vec::new());
        }
        match self {
            UsageStore::Sqlite(s) => {
                let pool = s.checked().await.0;
                spend_query!(sqlx::Sqlite, &pool, by, bucket, from_ms, to_ms)
            }
            UsageStore::Postgres(p) => spend_query!(sqlx::Postgres, p, by, bucket, from_ms, to_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::UsageRecord;

    #[tokio::test]
    async fn spend_by_team_and_user_per_hour_and_day() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("u.sqlite").display());
        let store = UsageStore::connect(&url).await.unwrap();
        let hour = 3_600_000;
        let mut recs = Vec::new();
        for (i, (t, team, user, cost)) in [
            (0, Some("a"), Some("u1"), Some(1.0)),
            (10, Some("a"), Some("u2"), Some(2.0)),
            (hour + 5, Some("b"), None, Some(4.0)),
            (hour + 6, Some("b"), Some("u1"), None),
        ]
        .into_iter()
        .enumerate()
        {
            let mut r = UsageRecord::new(format!("r{i}"), t, "openai", "gpt-4o");
            r.team_id = team.map(str::to_owned);
            r.end_user = user.map(str::to_owned);
            r.cost_usd = cost;
            r.prompt_tokens = 10;
            r.total_tokens = 10;
            recs.push(r);
        }
        assert_eq!(store.insert_batch(&recs).await.unwrap(), 4);
        let rows = store
            .spend(0, 2 * hour, SpendBy::Team, Bucket::Hour)
            .await
            .unwrap();
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!((rows[0].bucket_ms, rows[0].group.as_str()), (0, "a"));
        assert_eq!(rows[0].cost_usd, 3.0);
        assert_eq!((rows[1].bucket_ms, rows[1].group.as_str()), (hour, "b"));
        assert_eq!(rows[1].cost_usd, 4.0);
        assert_eq!(rows[1].unpriced_requests, 1);
        let rows = store
            .spend(0, 2 * hour, SpendBy::User, Bucket::Day)
            .await
            .unwrap();
        let u1 = rows.iter().find(|r| r.group == "u1").unwrap();
        assert_eq!(
            (u1.requests, u1.cost_usd, u1.unpriced_requests),
            (2, 1.0, 1)
        );
        assert!(rows.iter().any(|r| r.group.is_empty() && r.cost_usd == 4.0));
        store.close().await;
    }
}
