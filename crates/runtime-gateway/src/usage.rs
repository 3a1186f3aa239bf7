//! Usage reports: `GET /v1/usage` (JSON) and `modelrt usage` (a table), both over
//! `Runtime::usage_summary`.

use std::time::{SystemTime, UNIX_EPOCH};

use model_runtime::metrics::{GroupBy, SummaryRow};
use serde_json::{Value, json};

/// Parses a grouping column name.
pub fn parse_group(s: &str) -> Result<GroupBy, String> {
    match s.trim() {
        "provider" => Ok(GroupBy::Provider),
        "model" => Ok(GroupBy::Model),
        "deployment" => Ok(GroupBy::Deployment),
        "key" | "key_id" => Ok(GroupBy::Key),
        other => Err(format!(
            "unknown group `{other}`: use provider, model, deployment or key"
        )),
    }
}

/// Parses `model,key` into columns (empty: none, i.e. one total row).
pub fn parse_groups(s: &str) -> Result<Vec<GroupBy>, String> {
    let mut out = Vec::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let g = parse_group(part)?;
        if !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}

fn group_name(g: GroupBy) -> &'static str {
    match g {
        GroupBy::Provider => "provider",
        GroupBy::Model => "model",
        GroupBy::Deployment => "deployment",
        GroupBy::Key => "key",
    }
}

fn group_value(r: &SummaryRow, g: GroupBy) -> &str {
    match g {
        GroupBy::Provider => r.provider.as_deref(),
        GroupBy::Model => r.model.as_deref(),
        GroupBy::Deployment => r.deployment.as_deref(),
        GroupBy::Key => r.key_id.as_deref(),
    }
    .unwrap_or("")
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn avg_latency(r: &SummaryRow) -> f64 {
    if r.requests == 0 {
        0.0
    } else {
        r.latency_ms_sum / r.requests as f64
    }
}

fn row_json(r: &SummaryRow, groups: &[GroupBy]) -> Value {
    let mut v = json!({
        "requests": r.requests,
        "errors": r.errors,
        "cache_hits": r.cache_hits,
        "prompt_tokens": r.prompt_tokens,
        "completion_tokens": r.completion_tokens,
        "total_tokens": r.prompt_tokens + r.completion_tokens,
        "cached_tokens": r.cached_tokens,
        "cache_write_tokens": r.cache_write_tokens,
        "reasoning_tokens": r.reasoning_tokens,
        "cost_usd": r.cost_usd,
        "saved_usd": r.saved_usd,
        "unpriced_requests": r.unpriced_requests,
        "avg_latency_ms": avg_latency(r),
    });
    if let Some(map) = v.as_object_mut() {
        for g in groups {
            map.insert(group_name(*g).into(), json!(group_value(r, *g)));
        }
    }
    v
}

/// The `/v1/usage` body.
pub fn summary_json(
    rows: &[SummaryRow],
    groups: &[GroupBy],
    from: SystemTime,
    to: SystemTime,
) -> Value {
    let mut total = SummaryRow::default();
    for r in rows {
        total.requests += r.requests;
        total.errors += r.errors;
        total.cache_hits += r.cache_hits;
        total.unpriced_requests += r.unpriced_requests;
        total.prompt_tokens += r.prompt_tokens;
        total.completion_tokens += r.completion_tokens;
        total.cached_tokens += r.cached_tokens;
        total.cache_write_tokens += r.cache_write_tokens;
        total.reasoning_tokens += r.reasoning_tokens;
        total.cost_usd += r.cost_usd;
        total.saved_usd += r.saved_usd;
        total.latency_ms_sum += r.latency_ms_sum;
    }
    json!({
        "object": "usage",
        "from": unix(from),
        "to": unix(to),
        "group_by": groups.iter().map(|g| group_name(*g)).collect::<Vec<_>>(),
        "data": rows.iter().map(|r| row_json(r, groups)).collect::<Vec<_>>(),
        "total": row_json(&total, &[]),
    })
}

/// The `modelrt usage` table.
pub fn summary_table(rows: &[SummaryRow], group: GroupBy) -> String {
    let mut out: Vec<[String; 8]> = vec![[
        group_name(group).to_uppercase(),
        "REQUESTS".into(),
        "ERRORS".into(),
        "PROMPT".into(),
        "COMPLETION".into(),
        "COST_USD".into(),
        "SAVED_USD".into(),
        "AVG_MS".into(),
    ]];
    let mut sorted: Vec<&SummaryRow> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.requests.cmp(&a.requests))
    });
    for r in sorted {
        let name = group_value(r, group);
        out.push([
            if name.is_empty() {
                "-".into()
            } else {
                name.to_owned()
            },
            r.requests.to_string(),
            r.errors.to_string(),
            r.prompt_tokens.to_string(),
            r.completion_tokens.to_string(),
            format!("{:.6}", r.cost_usd),
            format!("{:.6}", r.saved_usd),
            format!("{:.0}", avg_latency(r)),
        ]);
    }
    crate::cli_common::table(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(model: &str, requests: u64, cost: f64) -> SummaryRow {
        SummaryRow {
            model: Some(model.into()),
            requests,
            prompt_tokens: 10 * requests,
            completion_tokens: requests,
            cost_usd: cost,
            latency_ms_sum: 100.0 * requests as f64,
            ..SummaryRow::default()
        }
    }

    #[test]
    fn groups_parse() {
        assert_eq!(
            parse_groups("model, key,model").unwrap(),
            vec![GroupBy::Model, GroupBy::Key]
        );
        assert!(parse_groups("team").is_err());
        assert!(parse_groups("").unwrap().is_empty());
    }

    #[test]
    fn json_and_table() {
        let rows = [row("a", 2, 0.5), row("b", 1, 1.0)];
        let v = summary_json(&rows, &[GroupBy::Model], UNIX_EPOCH, UNIX_EPOCH);
        assert_eq!(v["data"][0]["model"], "a");
        assert_eq!(v["data"][0]["total_tokens"], 22);
        assert_eq!(v["data"][0]["avg_latency_ms"], 100.0);
        assert_eq!(v["total"]["requests"], 3);
        assert_eq!(v["total"]["cost_usd"], 1.5);
        let t = summary_table(&rows, GroupBy::Model);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("MODEL"));
        assert!(lines[1].starts_with("b "), "{t}");
        assert!(lines[2].contains("0.500000"), "{t}");
    }
}
