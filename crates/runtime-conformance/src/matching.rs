//! How a case's expectations are compared with what a provider produced.

use serde_json::Value;

/// A JSON subset match: every key of `want` is in `got` with a matching value (recursively;
/// arrays match element-wise and must have the same length).
pub fn json_contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w
            .iter()
            .all(|(k, wv)| g.get(k).is_some_and(|gv| json_contains(gv, wv))),
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(a, b)| json_contains(a, b))
        }
        (g, w) => g == w,
    }
}

/// [`json_contains`] with the conveniences expectations need, returning where it differs:
///
/// - numbers compare with a relative tolerance of 1e-6 (vectors are `f32`s on the way);
/// - a string in `got` that holds JSON (tool-call arguments) matches an object or array in
///   `want` by its parsed value;
/// - `{"$len": n}` matches an array of `n` elements;
/// - `{"$prefix": [..]}` matches an array that starts with those elements, and
///   `{"$prefix": "text"}` a string that starts with that text;
/// - `{"$contains": [..]}` matches an array holding, for each of those, a matching element;
/// - `{"$any": true}` matches any value but `null`;
/// - `null` matches a missing key (empty lists are left out of the serialized answer).
pub fn matches(got: &Value, want: &Value) -> Result<(), String> {
    at(got, want, "$")
}

fn at(got: &Value, want: &Value, path: &str) -> Result<(), String> {
    let differs = || format!("{path}: got {}, want {}", short(got), short(want));
    if want
        .as_object()
        .is_some_and(|w| w.len() == 1 && w.contains_key("$any"))
    {
        return if got.is_null() {
            Err(differs())
        } else {
            Ok(())
        };
    }
    match (got, want) {
        (Value::String(g), Value::Object(w)) if w.len() == 1 && w.contains_key("$prefix") => {
            match w.get("$prefix") {
                Some(Value::String(p)) if g.starts_with(p.as_str()) => Ok(()),
                _ => Err(differs()),
            }
        }
        (Value::Array(g), Value::Object(w)) if w.len() == 1 => {
            if let Some(n) = w.get("$len") {
                return if n.as_u64() == Some(g.len() as u64) {
                    Ok(())
                } else {
                    Err(format!("{path}: {} elements, want {n}", g.len()))
                };
            }
            if let Some(Value::Array(prefix)) = w.get("$prefix") {
                if g.len() < prefix.len() {
                    return Err(format!(
                        "{path}: {} elements, want at least {}",
                        g.len(),
                        prefix.len()
                    ));
                }
                for (i, (a, b)) in g.iter().zip(prefix).enumerate() {
                    at(a, b, &format!("{path}[{i}]"))?;
                }
                return Ok(());
            }
            if let Some(Value::Array(items)) = w.get("$contains") {
                for (i, item) in items.iter().enumerate() {
                    if !g.iter().any(|e| at(e, item, path).is_ok()) {
                        return Err(format!(
                            "{path}: no element matches $contains[{i}] = {}",
                            short(item)
                        ));
                    }
                }
                return Ok(());
            }
            Err(differs())
        }
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                match g.get(k) {
                    Some(gv) => at(gv, wv, &format!("{path}.{k}"))?,
                    // `null` stands for "absent" too (empty lists are not serialized).
                    None if wv.is_null() => {}
                    None => return Err(format!("{path}: no `{k}`")),
                }
            }
            Ok(())
        }
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                return Err(format!("{path}: {} elements, want {}", g.len(), w.len()));
            }
            for (i, (a, b)) in g.iter().zip(w).enumerate() {
                at(a, b, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::String(s), Value::Object(_) | Value::Array(_)) => {
            match serde_json::from_str::<Value>(s) {
                Ok(parsed) => at(&parsed, want, path),
                Err(_) => Err(differs()),
            }
        }
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) if (x - y).abs() <= 1e-6 * x.abs().max(y.abs()).max(1e-30) => Ok(()),
            _ if a == b => Ok(()),
            _ => Err(differs()),
        },
        (g, w) if g == w => Ok(()),
        _ => Err(differs()),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        let cut: String = s.chars().take(117).collect();
        format!("{cut}...")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_match() {
        assert!(json_contains(
            &json!({"a": 1, "b": {"c": [1, {"d": 2, "e": 3}]}}),
            &json!({"b": {"c": [1, {"d": 2}]}})
        ));
        assert!(!json_contains(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!json_contains(&json!({"a": [1, 2]}), &json!({"a": [1]})));
    }

    #[test]
    fn operators_and_tolerances() {
        let got = json!({
            "args": "{\"city\": \"Paris\"}",
            "v": [0.005729320086538792, 0.1, 0.2],
            "models": [{"id": "a", "x": 1}, {"id": "b"}]
        });
        assert_eq!(
            matches(
                &got,
                &json!({
                    "args": {"city": "Paris"},
                    "v": {"$prefix": [0.00572932]},
                    "models": {"$contains": [{"id": "b"}]}
                })
            ),
            Ok(())
        );
        assert_eq!(matches(&got, &json!({"v": {"$len": 3}})), Ok(()));
        assert_eq!(
            matches(&json!("EpwICpkI..."), &json!({"$prefix": "EpwI"})),
            Ok(())
        );
        assert!(matches(&json!("xyz"), &json!({"$prefix": "EpwI"})).is_err());
        let e = matches(&got, &json!({"v": {"$len": 2}})).unwrap_err();
        assert!(e.contains("$.v"), "{e}");
        let e = matches(&got, &json!({"models": {"$contains": [{"id": "c"}]}})).unwrap_err();
        assert!(e.contains("$contains[0]"), "{e}");
        let e = matches(&got, &json!({"args": {"city": "Rome"}})).unwrap_err();
        assert!(e.contains("$.args.city"), "{e}");
        assert!(matches(&json!(1.0), &json!(1.1)).is_err());
        assert!(matches(&json!({"a": 1}), &json!({"b": 1})).is_err());
        assert!(matches(&json!({"a": 1}), &json!({"b": null})).is_ok());
        assert!(matches(&json!({"a": {"x": 1}}), &json!({"a": {"$any": true}})).is_ok());
        assert!(matches(&json!({"a": 1}), &json!({"b": {"$any": true}})).is_err());
    }
}
