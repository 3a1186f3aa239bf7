//! `/admin/spend?by=key&bucket=day&since=7d`: cost per hour or day by key, team, end user,
//! model, provider or deployment, from the usage records.

use runtime_governance::AdminError;
use serde_json::json;

use super::answer::{AdminCtx, Answer, ok};
use model_runtime::metrics::{Bucket, SpendBy};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    #[serde(default)]
    by: Option<String>,
    #[serde(default)]
    bucket: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
}

fn ms(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub(super) async fn spend(ctx: &AdminCtx<'_>, query: Option<&str>) -> Result<Answer, AdminError> {
    let q: Query = serde_urlencoded_like(query.unwrap_or(""))?;
    let by_s = q.by.unwrap_or_else(|| "key".into());
    let by = SpendBy::parse(&by_s).ok_or_else(|| {
        AdminError::field("by", "use key, team, user, model, provider or deployment")
    })?;
    let bucket = Bucket::parse(q.bucket.as_deref().unwrap_or("day"))
        .ok_or_else(|| AdminError::field("bucket", "use hour or day"))?;
    let since = if q.since.is_none() && q.from.is_none() {
        Some("7d")
    } else {
        q.since.as_deref()
    };
    let (from, to) = crate::timeq::range(since, q.from.as_deref(), q.to.as_deref())
        .map_err(|e| AdminError::field("since", e))?;
    let store = ctx
        .runtime
        .metering()
        .and_then(|m| m.store())
        .ok_or(AdminError {
            status: 404,
            code: "usage_disabled",
            field: None,
            message: "usage records are off ([storage] enabled = false)".into(),
        })?;
    let rows = store
        .spend(ms(from), ms(to), by, bucket)
        .await
        .map_err(AdminError::unavailable)?;
    let total: f64 = rows.iter().map(|r| r.cost_usd).sum();
    let unpriced: u64 = rows.iter().map(|r| r.unpriced_requests).sum();
    Ok(ok(json!({
        "object": "spend",
        "by": by.as_str(),
        "bucket": if bucket == Bucket::Hour { "hour" } else { "day" },
        "from": ms(from) / 1000,
        "to": ms(to) / 1000,
        "data": rows.iter().map(|r| json!({
            "bucket_start": r.bucket_ms / 1000,
            by.as_str(): r.group,
            "requests": r.requests,
            "errors": r.errors,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "cost_usd": r.cost_usd,
            "unpriced_requests": r.unpriced_requests,
        })).collect::<Vec<_>>(),
        "total_cost_usd": total,
        "unpriced_requests": unpriced,
    })))
}

/// `a=b&c=d` into `T`, refusing unknown keys (no percent-decoding is needed for these values
/// beyond `+` and `%3A`-style escapes, which are decoded).
fn serde_urlencoded_like<T: serde::de::DeserializeOwned>(q: &str) -> Result<T, AdminError> {
    let mut map = serde_json::Map::new();
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(decode_pct(k), serde_json::Value::String(decode_pct(v)));
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| {
        let m = e.to_string();
        let field = m
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .unwrap_or("query")
            .to_owned();
        AdminError::field(field, m)
    })
}

fn decode_pct(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
