//! Keyboard checks, driven by real key presses (WebDriver actions): Tab from the top of a page
//! reaches every control, in visual order (left to right, then down), each with a visible
//! focus ring; Shift+Tab walks the same way back; an open dialog keeps focus inside.

use serde_json::{Value, json};

use crate::webdriver::{Browser, SHIFT, TAB};

/// The controls a keyboard must reach (visible, enabled, not taken out of the tab order),
/// each tagged with a stable `data-kb` number.
const CONTROLS_JS: &str = r##"
const sel = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]";
window.__kb = window.__kb || 0;
return [...document.querySelectorAll(sel)]
  .filter((e) => !e.disabled && e.tabIndex >= 0 && e.offsetParent !== null && !e.closest("[hidden], dialog:not([open])"))
  .map((e) => { if (!e.dataset.kb) e.dataset.kb = String(++window.__kb); return { kb: e.dataset.kb, name: e.tagName + "#" + e.id + " " + (e.getAttribute("aria-label") || e.innerText || e.name || "").trim().slice(0, 30) }; });
"##;

/// The focused element: its tag, its box in page coordinates, whether its focus is visible.
const ACTIVE_JS: &str = r##"
const e = document.activeElement;
if (!e || e === document.body || e === document.documentElement) return null;
window.__kb = window.__kb || 0;
if (!e.dataset.kb) e.dataset.kb = String(++window.__kb);
const r = e.getBoundingClientRect(), cs = getComputedStyle(e);
return { kb: e.dataset.kb, name: e.tagName + "#" + e.id + " " + (e.getAttribute("aria-label") || e.innerText || e.name || "").trim().slice(0, 30),
  top: r.top + scrollY, bottom: r.bottom + scrollY, left: r.left,
  ring: cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2 };
"##;

/// Whether `b` comes after `a` in reading order: on the same line (their boxes overlap
/// vertically) and not to its left, or further down.
fn follows(a: &Value, b: &Value) -> bool {
    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let same_line = f(b, "top") < f(a, "bottom") && f(a, "top") < f(b, "bottom");
    if same_line {
        f(b, "left") >= f(a, "left") - 1.0
    } else {
        f(b, "top") >= f(a, "top")
    }
}

/// Walks `page` with Tab and Shift+Tab and checks reach, order, focus ring.
pub async fn walk(b: &Browser, page: &str) {
    // Start where a fresh page starts: nothing focused, scrolled to the top.
    b.js(
        "window.scrollTo(0, 0); document.body.tabIndex = -1; document.body.focus(); \
         document.body.removeAttribute('tabindex'); return 1;",
        json!([]),
    )
    .await;
    let controls = b.js(CONTROLS_JS, json!([])).await;
    let controls = controls.as_array().cloned().unwrap_or_default();
    assert!(!controls.is_empty(), "{page}: no controls");
    let mut forward: Vec<Value> = Vec::new();
    for _ in 0..300 {
        b.press(&[TAB]).await;
        let a = b.js(ACTIVE_JS, json!([])).await;
        if a.is_null() || forward.first().is_some_and(|f| f["kb"] == a["kb"]) {
            break; // past the last control, or round again
        }
        assert!(
            forward.iter().all(|f| f["kb"] != a["kb"]),
            "{page}: Tab reached {} twice",
            a["name"]
        );
        forward.push(a);
    }
    let names = |v: &[Value]| {
        v.iter()
            .map(|x| x["name"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    let missed: Vec<&Value> = controls
        .iter()
        .filter(|c| forward.iter().all(|f| f["kb"] != c["kb"]))
        .collect();
    assert!(
        missed.is_empty(),
        "{page}: Tab never reaches {missed:?}; it went {:?}",
        names(&forward)
    );
    assert_eq!(
        forward[0]["kb"], controls[0]["kb"],
        "{page}: Tab from the top starts at {} (expected the first control)",
        forward[0]["name"]
    );
    for w in forward.windows(2) {
        assert!(
            follows(&w[0], &w[1]),
            "{page}: focus jumps back from {} to {} ({:?})",
            w[0]["name"],
            w[1]["name"],
            w
        );
    }
    for f in &forward {
        assert_eq!(f["ring"], json!(true), "{page}: no visible focus on {f}");
    }
    // Shift+Tab from the last control goes back through the same controls.
    let last = &forward[forward.len() - 1];
    b.js(
        "document.querySelector('[data-kb=\"' + arguments[0] + '\"]').focus(); return 1;",
        json!([last["kb"]]),
    )
    .await;
    let mut back = vec![last.clone()];
    for _ in 1..forward.len() {
        b.press(&[SHIFT, TAB]).await;
        back.push(b.js(ACTIVE_JS, json!([])).await);
    }
    back.reverse();
    let kbs = |v: &[Value]| v.iter().map(|x| x["kb"].clone()).collect::<Vec<_>>();
    assert_eq!(
        kbs(&back),
        kbs(&forward),
        "{page}: Shift+Tab order {:?} is not Tab's {:?} reversed",
        names(&back),
        names(&forward)
    );
}

/// Whether focus is on something inside the open dialog.
async fn in_dialog(b: &Browser) -> bool {
    b.js(
        "const d = document.querySelector('dialog[open]'); const a = document.activeElement; \
         return !!d && a !== d && d.contains(a);",
        json!([]),
    )
    .await
        == json!(true)
}

/// An open dialog has focus and keeps it: Tab and Shift+Tab past its ends wrap around inside.
pub async fn dialog_keeps_focus(b: &Browser, what: &str) {
    assert!(
        in_dialog(b).await,
        "{what}: focus did not move into the dialog"
    );
    let n = b
        .js(
            "return document.querySelectorAll('dialog[open] button, dialog[open] input, dialog[open] select').length;",
            json!([]),
        )
        .await
        .as_u64()
        .unwrap_or(0);
    assert!(n > 0, "{what}: a dialog without controls");
    for keys in [&[TAB][..], &[SHIFT, TAB][..]] {
        for _ in 0..n + 2 {
            b.press(keys).await;
            assert!(
                in_dialog(b).await,
                "{what}: {keys:?} took focus out of the dialog"
            );
        }
    }
}

/// Waits until no dialog is open and focus is on `css`.
pub async fn focus_returned(b: &Browser, css: &str, what: &str) {
    for _ in 0..50 {
        let v = b
            .js(
                "return !document.querySelector('dialog[open]') && document.activeElement.matches(arguments[0]);",
                json!([css]),
            )
            .await;
        if v == json!(true) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let at = b
        .js(
            "return document.activeElement.outerHTML.slice(0, 80);",
            json!([]),
        )
        .await;
    panic!("{what}: focus did not return to {css}; it is on {at}");
}

/// Whether the focused element matches `css`.
pub async fn focused(b: &Browser, css: &str) -> bool {
    b.js(
        "return document.activeElement.matches(arguments[0]);",
        json!([css]),
    )
    .await
        == json!(true)
}
