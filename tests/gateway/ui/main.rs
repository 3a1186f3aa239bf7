//! The admin UI in a real headless Chromium over WebDriver, against a live `modelrt` with
//! two mock upstreams: sign in; requests fill the overview and usage; a key created in the UI
//! works with plain HTTP and stops working when revoked in the UI; a failing upstream turns
//! its deployment to "cooling down" on the routing page; no console errors; every page
//! screenshotted to `target/ui-screenshots/`; labels, keyboard focus and contrast checked;
//! nothing reachable without signing in. Fails, never skips, when Chromium is missing.
//!
//! Also: a key's rpm edited in the UI is enforced over HTTP, and a bad value shows the API's
//! field-named error in the form; every page walked with Tab and Shift+Tab (order, reach,
//! visible focus), Enter and Space activate, dialogs keep and give back focus
//! ([`keyboard`]); sessions shared by two gateway processes on one database ([`replicas`]).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
mod keyboard;
mod replicas;
mod webdriver;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use webdriver::{Browser, ENTER, ESCAPE};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

const MASTER: &str = "sk-master-ui-e2e";

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots")
}

fn config(a: &str, b: &str) -> String {
    let alpha = openai_provider("alpha", a);
    let beta = openai_provider("beta", b);
    format!(
        r#"
{alpha}
{beta}
[router]
backoff_base = "1ms"
backoff_max = "2ms"
cooldown_failures = 1
cooldown = "30s"

[[models]]
name = "chat"
max_attempts = 3

[[models.deployments]]
provider = "alpha"
model = "gpt-4o-mini"
name = "alpha-mini"
priority = 0

[[models.deployments]]
provider = "beta"
model = "gpt-4o-mini"
name = "beta-mini"
priority = 1

{STORAGE}

[pricing.overrides."alpha/gpt-4o-mini"]
input_per_mtok = 1.0
output_per_mtok = 2.0

[pricing.overrides."beta/gpt-4o-mini"]
input_per_mtok = 1.0
output_per_mtok = 2.0

[gateway]
master_key = "{MASTER}"

[gateway.governance]
enabled = true
sync_interval = "100ms"
"#
    )
}

async fn chat(gw: &Gw, key: &str, stream: bool) -> u16 {
    let r = client()
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "chat", "stream": stream,
                      "messages": [{"role": "user", "content": "Say hi"}]}))
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let _ = r.bytes().await;
    s
}

/// WCAG contrast of the page's text colours against their backgrounds, in the current theme.
const CONTRAST_JS: &str = r#"
function lum(c) {
  const m = c.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
  return 0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2];
}
function ratio(a, b) { const x = lum(a), y = lum(b); return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05); }
function bg(e) { while (e) { const c = getComputedStyle(e).backgroundColor; if (c && !c.startsWith("rgba(0, 0, 0, 0)") && c !== "transparent") return c; e = e.parentElement; } return "rgb(255, 255, 255)"; }
const worst = [];
for (const e of document.querySelectorAll("h2, h3, td, th, label, nav a, .muted, button, .pill")) {
  if (!e.offsetParent || !e.innerText.trim()) continue;
  const r = ratio(getComputedStyle(e).color, bg(e));
  if (r < 4.5) worst.push(e.tagName + "." + e.className + " '" + e.innerText.slice(0, 20) + "' " + r.toFixed(2));
}
return worst;
"#;

/// Inputs and selects without a label, and interactive elements the keyboard cannot reach.
const A11Y_JS: &str = r#"
const bad = [];
for (const e of document.querySelectorAll("input, select, textarea")) {
  if (e.type === "hidden") continue;
  if (!(e.labels && e.labels.length) && !e.getAttribute("aria-label")) bad.push("no label: " + (e.id || e.name));
}
for (const e of document.querySelectorAll("a[href], button, input, select")) {
  if (e.offsetParent && e.tabIndex < 0) bad.push("not focusable: " + e.outerHTML.slice(0, 60));
}
return bad;
"#;

async fn check_page(b: &Browser, name: &str) {
    let bad = b.js(A11Y_JS, json!([])).await;
    assert_eq!(bad, json!([]), "{name}: accessibility");
    for theme in ["light", "dark"] {
        b.js(
            "document.documentElement.dataset.theme = arguments[0]; return 1;",
            json!([theme]),
        )
        .await;
        let low = b.js(CONTRAST_JS, json!([])).await;
        assert_eq!(
            low,
            json!([]),
            "{name} ({theme}): text below 4.5:1 contrast"
        );
    }
    b.js(
        "document.documentElement.dataset.theme = 'light'; return 1;",
        json!([]),
    )
    .await;
    keyboard::walk(b, name).await;
    b.screenshot(&shots().join(format!("{name}.png"))).await;
    let errors: Vec<Value> = b
        .console()
        .await
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: browser console errors: {errors:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_ui_in_a_real_browser() {
    let (a, b_up) = (openai_upstream().await, openai_upstream().await);
    let gw = Gw::start(Some(&config(&a.uri(), &b_up.uri()))).await;

    // Nothing without signing in; the page itself carries a strict CSP.
    let page = client().get(gw.at("/ui")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    for p in [
        "/ui/api/overview",
        "/ui/api/requests",
        "/ui/api/providers",
        "/ui/api/admin/keys",
        "/ui/api/spend.csv",
    ] {
        let r = client().get(gw.at(p)).send().await.unwrap();
        assert_eq!(r.status(), 401, "{p}");
    }
    // A session cookie alone cannot change anything: the CSRF token is needed.
    let login = client()
        .post(gw.at("/ui/api/session"))
        .json(&json!({"key": MASTER}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = login.json::<Value>().await.unwrap()["csrf"]
        .as_str()
        .unwrap()
        .to_owned();
    let forged = client()
        .post(gw.at("/ui/api/admin/keys"))
        .header("cookie", &cookie)
        .json(&json!({"id": "forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let cross = client()
        .post(gw.at("/ui/api/admin/keys"))
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", "http://evil.example")
        .json(&json!({"id": "forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let wrong = client()
        .post(gw.at("/ui/api/session"))
        .json(&json!({"key": "sk-wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    // Traffic for the charts: plain and streamed.
    for i in 0..12 {
        assert_eq!(chat(&gw, MASTER, i % 3 == 0).await, 200);
    }
    wait_usage(&gw, Some(MASTER), "since=1h", |v| {
        v["total"]["requests"] == 12
    })
    .await;

    let b = Browser::start().await;
    b.goto(&gw.at("/ui")).await;
    b.find("#signin-key").await;
    check_page(&b, "signin").await;
    b.type_into("#signin-key", "sk-not-a-key").await;
    b.click("#signin-submit").await;
    b.wait_text("#signin-error", "unknown", 10).await;
    // The refused sign-in is a 401 the browser logs: expected, so drained here.
    let refused: Vec<Value> = b.console().await;
    assert!(
        refused.iter().all(|e| e["message"]
            .as_str()
            .unwrap_or("")
            .contains("/ui/api/session")),
        "{refused:?}"
    );
    b.type_into("#signin-key", MASTER).await;
    b.click("#signin-submit").await;
    b.wait_text("#who", "master", 10).await;
    // The key is in no storage and no URL.
    let stored = b
        .js("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + location.href + document.cookie;", json!([]))
        .await;
    assert!(!stored.to_string().contains(MASTER), "{stored}");

    // Overview: the tiles and charts show the 12 requests.
    b.goto(&gw.at("/ui#/overview")).await;
    let tiles = b.wait_text("#tiles", "12", 20).await;
    assert!(tiles.contains("Requests"), "{tiles}");
    b.find("#c-lat svg path").await;
    check_page(&b, "overview").await;

    // Usage by model, and its CSV export.
    b.js("sessionStorage.setItem('usage', JSON.stringify({by: 'model', bucket: 'day', since: '7d'})); return 1;", json!([])).await;
    b.goto(&gw.at("/ui#/usage")).await;
    b.wait_text("main", "chat", 15).await;
    let csv = b
        .js(
            "return fetch('/ui/api/spend.csv?by=model&bucket=day&since=7d').then((r) => r.text());",
            json!([]),
        )
        .await;
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("bucket_start,model,requests"), "{csv}");
    assert!(csv.contains(",chat,12,"), "{csv}");
    check_page(&b, "usage").await;

    // Keys: create one in the UI, use it, revoke it in the UI, see it refused.
    b.goto(&gw.at("/ui#/keys")).await;
    b.type_into("#k-id", "ui-made").await;
    b.type_into("#k-budget", "5").await;
    b.click("#k-create").await;
    let secret = b
        .wait_text("#new-secret", "sk-", 15)
        .await
        .trim()
        .to_owned();
    // The secret is shown once, in a dialog that holds focus until it is dismissed (Enter on
    // its button); focus then goes back to the button that created the key.
    keyboard::dialog_keeps_focus(&b, "secret dialog").await;
    b.screenshot(&shots().join("keys-secret.png")).await;
    assert!(keyboard::focused(&b, "#dialog-close").await);
    b.press(&[ENTER]).await;
    keyboard::focus_returned(&b, "#k-create", "secret dialog").await;
    for _ in 0..3 {
        assert_eq!(chat(&gw, &secret, false).await, 200, "no rpm limit yet");
    }
    b.wait_text("#key-table", "ui-made", 10).await;
    check_page(&b, "keys").await;

    // Editing the key: Enter on its Edit button opens the form with focus inside; Escape
    // closes it and focus goes back; Space opens it again.
    let edit = "[data-edit='ui-made']";
    b.js(
        "document.querySelector(arguments[0]).focus(); return 1;",
        json!([edit]),
    )
    .await;
    b.press(&[ENTER]).await;
    b.find("#e-rpm").await;
    assert!(keyboard::focused(&b, "#e-rpm").await, "focus into the form");
    keyboard::dialog_keeps_focus(&b, "edit dialog").await;
    b.press(&[ESCAPE]).await;
    keyboard::focus_returned(&b, edit, "edit dialog").await;
    b.press(&[" "]).await;
    b.find("#e-rpm").await;
    // A bad value: the API's error, naming the field, shows in the form and marks the field.
    b.type_into("#e-rpm", "0").await;
    b.click("#e-save").await;
    let err = b.wait_text("#e-error", "at least 1", 10).await;
    assert!(err.contains("rpm"), "{err}");
    assert_eq!(
        b.js(
            "return document.querySelector('#e-rpm').getAttribute('aria-invalid');",
            json!([])
        )
        .await,
        json!("true")
    );
    b.screenshot(&shots().join("keys-edit.png")).await;
    let refused: Vec<Value> = b.console().await;
    assert!(
        refused.iter().all(|e| e["message"]
            .as_str()
            .unwrap_or("")
            .contains("/ui/api/admin/keys/ui-made")),
        "{refused:?}"
    );
    // rpm 2, saved: the table says so, and the third call within the minute gets a 429.
    b.type_into("#e-rpm", "2").await;
    b.click("#e-save").await;
    b.wait_text("#key-table", "2 rpm", 10).await;
    keyboard::focus_returned(&b, edit, "saved edit dialog").await;
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let s = chat(&gw, &secret, false).await;
        statuses.push(s);
        if s == 429 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        statuses.ends_with(&[429])
            && statuses.iter().filter(|s| **s == 200).count() <= 2
            && statuses.iter().all(|s| *s == 200 || *s == 429),
        "after the rpm edit to 2: {statuses:?}"
    );
    let k: Value = client()
        .get(gw.at("/admin/keys/ui-made"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["rpm"], 2, "{k}");
    // A team's budget, edited the same way.
    b.type_into("#t-id", "ui-team").await;
    b.click("#team-form button[type=submit]").await;
    let edit_team = "[data-edit-team='ui-team']";
    b.find(edit_team).await;
    b.js(
        "document.querySelector(arguments[0]).focus(); return 1;",
        json!([edit_team]),
    )
    .await;
    b.press(&[ENTER]).await;
    b.find("#e-budget").await;
    assert!(
        b.js("return !document.querySelector('#e-expires');", json!([]))
            .await
            == json!(true),
        "a team has no expiry"
    );
    b.type_into("#e-budget", "3").await;
    b.type_into("#e-rpm", "50").await;
    b.click("#e-save").await;
    let teams = b.wait_text("#team-table", "50 rpm", 10).await;
    assert!(teams.contains("$3"), "{teams}");
    keyboard::focus_returned(&b, edit_team, "team edit dialog").await;
    let t: Value = client()
        .get(gw.at("/admin/teams/ui-team"))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (t["rpm"].clone(), t["budget"]["max_usd"].clone()),
        (json!(50), json!(3.0)),
        "{t}"
    );
    b.click("button[data-revoke='ui-made']").await;
    b.accept_alert().await;
    b.wait_text("#key-table", "revoked", 10).await;
    let mut refused = false;
    for _ in 0..50 {
        if chat(&gw, &secret, false).await == 401 {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "a key revoked in the UI still works");

    // Routing: alpha starts failing; its deployment turns to cooling down.
    b.goto(&gw.at("/ui#/routing")).await;
    b.wait_text("#routing", "alpha-mini", 10).await;
    assert!(
        b.text("tr[data-deployment='alpha-mini'] .state")
            .await
            .contains("healthy")
    );
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"message": "boom", "type": "server_error"}})),
        )
        .with_priority(1)
        .mount(&a)
        .await;
    for _ in 0..3 {
        assert_eq!(chat(&gw, MASTER, false).await, 200, "fails over to beta");
    }
    b.wait_text(
        "tr[data-deployment='alpha-mini'] .state",
        "cooling down",
        10,
    )
    .await;
    check_page(&b, "routing").await;

    // Enter on a page link follows it; Space on a button presses it.
    b.js(
        "document.querySelector(\"nav a[data-page='providers']\").focus(); return 1;",
        json!([]),
    )
    .await;
    b.press(&[ENTER]).await;
    b.wait_text("main", "alpha", 10).await;
    assert!(b.js("return location.hash;", json!([])).await == json!("#/providers"));
    b.js(
        "document.querySelector('#theme').focus(); return 1;",
        json!([]),
    )
    .await;
    let theme = "return document.documentElement.dataset.theme;";
    let before = b.js(theme, json!([])).await;
    b.press(&[" "]).await;
    assert_ne!(
        b.js(theme, json!([])).await,
        before,
        "Space on the theme button"
    );
    b.press(&[" "]).await;
    assert_eq!(b.js(theme, json!([])).await, before);
    check_page(&b, "providers").await;

    b.goto(&gw.at("/ui#/requests")).await;
    b.wait_text("#requests", "chat", 10).await;
    check_page(&b, "requests").await;

    // Keyboard: from the skip link, Tab reaches the first page link.
    let focus = b
        .js(
            "document.querySelector('.skip').focus(); return document.activeElement.className;",
            json!([]),
        )
        .await;
    assert_eq!(focus, json!("skip"));

    // Signing out ends the session on the server too.
    b.click("#signout").await;
    b.find("#signin-key").await;
    let after = b
        .js(
            "return fetch('/ui/api/overview').then((r) => r.status);",
            json!([]),
        )
        .await;
    assert_eq!(after, json!(401));
    b.quit().await;
    let logs = gw.logs();
    assert!(
        !logs.contains(MASTER) && !logs.contains(&secret),
        "a secret reached the log"
    );
}
