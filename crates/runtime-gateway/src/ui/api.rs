//! The UI's JSON API: `/ui/api/session` (sign in, who am I, sign out), the overview's time
//! series, recent requests, providers and models, a CSV export of spend, and `/ui/api/admin/…`,
//! which is the admin API (`crate::admin::dispatch`) behind the session.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::session::{self, csrf_ok, set_cookie};
use super::shared::{Ui, authorize, body, changes, error, json_response, not_found};
use crate::admin::{AdminCtx, AdminRequest, dispatch};
use crate::config::hash_key;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// `POST` signs in (`{"key": "…"}`), `GET` says who is signed in, `DELETE` signs out.
pub(super) async fn session(State(ui): State<Arc<Ui>>, req: Request) -> Response {
    match *req.method() {
        Method::POST => sign_in(&ui, req).await,
        // Not signed in is an answer, not an error (the page asks on every load).
        Method::GET => match authorize(&ui, req.headers()).await {
            Ok((_, s)) => json_response(StatusCode::OK, &who(&ui, &s)),
            Err(r) if r.status() == StatusCode::SERVICE_UNAVAILABLE => r,
            Err(_) => json_response(StatusCode::OK, &json!({"signed_in": false})),
        },
        Method::DELETE => {
            let (id, s) = match authorize(&ui, req.headers()).await {
                Ok(v) => v,
                Err(r) => return r,
            };
            if !csrf_ok(req.headers(), &s) {
                return csrf_refused();
            }
            if let Err(e) = ui.sessions.close(&id).await {
                return unavailable(&e);
            }
            let mut r = json_response(StatusCode::OK, &json!({"signed_in": false}));
            r.headers_mut().insert(header::SET_COOKIE, set_cookie(None));
            r
        }
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use GET, POST or DELETE",
        ),
    }
}

fn unavailable(e: &model_runtime::metrics::StoreError) -> Response {
    tracing::warn!(error = %e, "ui session store");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "sessions_unavailable",
        "the session store (usage database) did not answer: try again",
    )
}

fn who(ui: &Ui, s: &session::Session) -> Value {
    let p = ui.gw.auth().identify_hash(&s.key_hash);
    json!({
        "signed_in": true,
        "csrf": s.csrf,
        "key_id": p.as_ref().and_then(|p| p.key_id.clone()),
        "master": p.as_ref().is_some_and(|p| p.admin),
        "governance": ui.gw.governor().is_some(),
        "usage": ui.gw.runtime().metering().and_then(|m| m.store()).is_some(),
        "shared_sessions": ui.sessions.shared(),
    })
}

fn csrf_refused() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "csrf",
        "missing or wrong x-csrf-token, or a cross-origin request",
    )
}

async fn sign_in(ui: &Ui, req: Request) -> Response {
    if !ui.gw.auth().enabled() {
        return error(
            StatusCode::FORBIDDEN,
            "no_keys",
            "this gateway has no keys: set a master key to use the UI",
        );
    }
    // A cross-site form cannot sign a browser in (login CSRF): same origin only.
    if let (Some(o), Some(h)) = (
        req.headers().get(header::ORIGIN),
        req.headers().get(header::HOST),
    ) {
        let o = o.to_str().unwrap_or("");
        let host = h.to_str().unwrap_or("-");
        let same = o
            .strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
            .is_some_and(|r| r == host);
        if !same {
            return csrf_refused();
        }
    }
    let raw = match body(ui, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct SignIn {
        key: String,
    }
    let key = match serde_json::from_slice::<SignIn>(&raw) {
        Ok(s) => s.key.trim().to_owned(),
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "key",
                "send {\"key\": \"<master key or admin key>\"}",
            );
        }
    };
    let principal = ui.gw.auth().identify_hash(&hash_key(&key));
    match principal {
        Some(p) if p.admin_api() => {
            let (id, s) = match ui.sessions.open(hash_key(&key), p.key_id.clone()).await {
                Ok(v) => v,
                Err(e) => return unavailable(&e),
            };
            tracing::info!(
                key_id = p.key_id.as_deref().unwrap_or("master"),
                "ui sign-in"
            );
            let mut r = json_response(StatusCode::OK, &who(ui, &s));
            r.headers_mut()
                .insert(header::SET_COOKIE, set_cookie(Some(&id)));
            r
        }
        Some(_) => error(
            StatusCode::FORBIDDEN,
            "admin_only",
            "this key may not use the admin UI: sign in with the master key or an admin key",
        ),
        None => error(
            StatusCode::UNAUTHORIZED,
            "invalid_key",
            "unknown, revoked or expired key",
        ),
    }
}

/// Every other `/ui/api/…` call: the session is checked, changes need the CSRF token.
pub(super) async fn call(State(ui): State<Arc<Ui>>, req: Request) -> Response {
    let (_, s) = match authorize(&ui, req.headers()).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let method = req.method().clone();
    if changes(&method) && !csrf_ok(req.headers(), &s) {
        return csrf_refused();
    }
    let path = req
        .uri()
        .path()
        .trim_start_matches("/api")
        .trim_start_matches("/ui/api")
        .to_owned();
    let query = req.uri().query().map(str::to_owned);
    match (method.as_str(), path.as_str()) {
        ("GET", "/overview") => overview(&ui, query.as_deref()).await,
        ("GET", "/requests") => recent(&ui, query.as_deref()).await,
        ("GET", "/providers") => providers(&ui).await,
        ("GET", "/spend.csv") => spend_csv(&ui, query.as_deref()).await,
        (_, p) if p.starts_with("/admin") => {
            let raw = match body(&ui, req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let ctx = AdminCtx {
                gov: ui.gw.governor().map(|g| &**g),
                runtime: ui.gw.runtime(),
            };
            let (status, v) = dispatch(
                &ctx,
                &AdminRequest {
                    method: method.as_str(),
                    path: p,
                    query: query.as_deref(),
                    body: &raw,
                },
            )
            .await;
            if status.is_success() && changes(&method) {
                tracing::info!(method = %method, path = p, "admin change (ui)");
                // A revoked key's sessions end now (every call checks the key too).
                if let Some(id) = p
                    .strip_prefix("/admin/keys/")
                    .and_then(|r| r.strip_suffix("/revoke"))
                    && let Err(e) = ui.sessions.close_key(id).await
                {
                    tracing::warn!(error = %e, "cannot end the sessions of a revoked key");
                }
            }
            json_response(status, &v)
        }
        _ => not_found(),
    }
}

fn param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn store(ui: &Ui) -> Result<&model_runtime::metrics::UsageStore, Response> {
    ui.gw
        .runtime()
        .metering()
        .and_then(|m| m.store())
        .ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "usage_disabled",
                "usage records are off ([storage] enabled = false): nothing to chart",
            )
        })
}

/// `range=hour|day|week`: the window and its bucket width.
fn window(range: &str) -> Option<(i64, i64)> {
    const MIN: i64 = 60_000;
    Some(match range {
        "hour" => (3_600_000, MIN),
        "day" => (86_400_000, 30 * MIN),
        "week" => (7 * 86_400_000, 6 * 60 * MIN),
        _ => return None,
    })
}

async fn overview(ui: &Ui, query: Option<&str>) -> Response {
    let range = param(query, "range").unwrap_or("hour");
    let Some((span, bucket)) = window(range) else {
        return error(
            StatusCode::BAD_REQUEST,
            "range",
            "range: use hour, day or week",
        );
    };
    let store = match store(ui) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let to = now_ms();
    let to = (to / bucket + 1) * bucket;
    match store.series(to - span, to, bucket).await {
        Ok(s) => json_response(
            StatusCode::OK,
            &json!({"range": range, "bucket_ms": s.bucket_ms, "truncated": s.truncated,
                    "points": s.points}),
        ),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "usage_unavailable",
            &e.to_string(),
        ),
    }
}

async fn recent(ui: &Ui, query: Option<&str>) -> Response {
    let limit = param(query, "limit")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(100);
    let before = param(query, "before")
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(i64::MAX);
    let store = match store(ui) {
        Ok(s) => s,
        Err(r) => return r,
    };
    match store.recent(limit, before).await {
        Ok(rows) => json_response(StatusCode::OK, &json!({"data": rows})),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "usage_unavailable",
            &e.to_string(),
        ),
    }
}

async fn providers(ui: &Ui) -> Response {
    let rt = ui.gw.runtime();
    let types: Vec<Value> = rt
        .registry()
        .factories()
        .map(|f| {
            json!({"type": f.name, "name": f.display_name, "description": f.description,
                        "crate": format!("{} {}", f.crate_name, f.crate_version)})
        })
        .collect();
    // Instance names and types only: settings may hold secrets.
    let instances: Vec<Value> = rt
        .config()
        .providers
        .iter()
        .map(|(name, t)| {
            json!({"name": name,
                   "type": t.get("type").and_then(|v| v.as_str()).unwrap_or(name.as_str())})
        })
        .collect();
    let models = rt.list_models().await.unwrap_or_default();
    let pricing = rt.metering().map(|m| m.pricing().clone());
    let models: Vec<Value> = models
        .iter()
        .map(|m| {
            let price = pricing
                .as_ref()
                .and_then(|p| p.price(&m.provider, None, &m.id))
                .map(|(p, _)| json!({"input_per_mtok": p.input_per_mtok,
                                     "output_per_mtok": p.output_per_mtok}));
            json!({"id": m.id, "provider": m.provider, "kind": format!("{:?}", m.kind).to_lowercase(),
                   "context_window": m.context_window, "streaming": m.supports_streaming,
                   "tools": m.supports_tools, "vision": m.supports_vision,
                   "json_schema": m.supports_json_schema, "price": price})
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"types": types, "instances": instances,
                "logical_models": rt.logical_models(), "models": models}),
    )
}

/// A CSV field: quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-`
/// or `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

async fn spend_csv(ui: &Ui, query: Option<&str>) -> Response {
    let ctx = AdminCtx {
        gov: ui.gw.governor().map(|g| &**g),
        runtime: ui.gw.runtime(),
    };
    let (status, v) = dispatch(
        &ctx,
        &AdminRequest {
            method: "GET",
            path: "/admin/spend",
            query,
            body: b"",
        },
    )
    .await;
    if !status.is_success() {
        return json_response(status, &v);
    }
    let by = v["by"].as_str().unwrap_or("key").to_owned();
    let mut out = format!(
        "bucket_start,{by},requests,errors,prompt_tokens,completion_tokens,cost_usd,unpriced_requests\n"
    );
    for r in v["data"].as_array().into_iter().flatten() {
        let start = r["bucket_start"].as_i64().unwrap_or(0);
        let when = jiff::Timestamp::from_second(start)
            .map(|t| t.to_string())
            .unwrap_or_default();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            when,
            csv_field(r[by.as_str()].as_str().unwrap_or("")),
            r["requests"],
            r["errors"],
            r["prompt_tokens"],
            r["completion_tokens"],
            r["cost_usd"],
            r["unpriced_requests"],
        ));
    }
    let mut resp = Response::new(Body::from(out));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"spend.csv\""),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("k1"), "k1");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }

    #[test]
    fn windows_are_hour_day_week() {
        assert_eq!(window("hour"), Some((3_600_000, 60_000)));
        assert!(window("day").is_some() && window("week").is_some());
        assert_eq!(window("year"), None);
    }
}
