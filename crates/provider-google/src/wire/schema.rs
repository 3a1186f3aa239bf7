//! JSON Schema checks for Gemini's `parametersJsonSchema` and `responseJsonSchema`.
//!
//! Gemini accepts a subset of JSON Schema there. Schemas are sent as written, except that
//! `const: v` becomes `enum: [v]`; a keyword outside the subset is an error naming the keyword
//! and where it is, instead of being ignored upstream.

use serde_json::{Map, Value};

/// Keywords Gemini's JSON Schema support reads, plus pure annotations that change nothing.
const ALLOWED: &[&str] = &[
    // structure and constraints
    "type",
    "properties",
    "required",
    "items",
    "prefixItems",
    "anyOf",
    "enum",
    "format",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
    "additionalProperties",
    "nullable",
    "propertyOrdering",
    "$ref",
    "$defs",
    "$id",
    "$anchor",
    // annotations
    "title",
    "description",
    "default",
    "examples",
    "example",
    "$schema",
    "$comment",
    "deprecated",
    "readOnly",
    "writeOnly",
];

/// A schema keyword Gemini cannot express: where it is and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON-pointer-like location of the offending keyword.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Checks `schema` against Gemini's subset and returns the schema to send.
pub fn to_gemini_schema(schema: &Value) -> Result<Value, SchemaError> {
    convert(schema, "#")
}

fn err(path: &str, message: impl Into<String>) -> SchemaError {
    SchemaError {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn convert(schema: &Value, path: &str) -> Result<Value, SchemaError> {
    let obj = match schema {
        Value::Object(o) => o,
        Value::Bool(true) => return Ok(Value::Object(Map::new())),
        Value::Bool(false) => {
            return Err(err(
                path,
                "the schema `false` (nothing allowed) is not supported",
            ));
        }
        other => {
            return Err(err(
                path,
                format!("a schema must be an object, got {other}"),
            ));
        }
    };
    let mut out = Map::new();
    for (k, v) in obj {
        let here = format!("{path}/{k}");
        match k.as_str() {
            "properties" | "$defs" => {
                let Value::Object(props) = v else {
                    return Err(err(&here, "must be an object of schemas"));
                };
                let mut conv = Map::new();
                for (name, s) in props {
                    conv.insert(name.clone(), convert(s, &format!("{here}/{name}"))?);
                }
                out.insert(k.clone(), Value::Object(conv));
            }
            "items" | "additionalProperties" => {
                let conv = match v {
                    Value::Bool(b) if k == "additionalProperties" => Value::Bool(*b),
                    Value::Array(_) if k == "items" => {
                        return Err(err(
                            &here,
                            "tuple `items` (an array) is not supported; use `prefixItems`",
                        ));
                    }
                    s => convert(s, &here)?,
                };
                out.insert(k.clone(), conv);
            }
            "anyOf" | "prefixItems" => {
                let Value::Array(list) = v else {
                    return Err(err(&here, "must be an array of schemas"));
                };
                let conv = list
                    .iter()
                    .enumerate()
                    .map(|(i, s)| convert(s, &format!("{here}/{i}")))
                    .collect::<Result<Vec<_>, _>>()?;
                out.insert(k.clone(), Value::Array(conv));
            }
            "const" => {
                if obj.contains_key("enum") {
                    return Err(err(&here, "`const` together with `enum` is not supported"));
                }
                if !(v.is_string() || v.is_number()) {
                    return Err(err(
                        &here,
                        "only string or number `const` values can be expressed (as a one-value enum)",
                    ));
                }
                out.insert("enum".into(), Value::Array(vec![v.clone()]));
            }
            "enum" => {
                let Value::Array(vals) = v else {
                    return Err(err(&here, "must be an array"));
                };
                if !vals.iter().all(|x| x.is_string() || x.is_number()) {
                    return Err(err(
                        &here,
                        "Gemini supports enums of strings and numbers only",
                    ));
                }
                out.insert(k.clone(), v.clone());
            }
            "definitions" => {
                return Err(err(&here, "`definitions` is not supported; use `$defs`"));
            }
            "oneOf" => {
                return Err(err(
                    &here,
                    "`oneOf` is not supported (Gemini would read it as `anyOf`); use `anyOf`",
                ));
            }
            key if ALLOWED.contains(&key) => {
                out.insert(k.clone(), v.clone());
            }
            key => {
                return Err(err(
                    &here,
                    format!(
                        "the keyword `{key}` is outside the JSON Schema subset Gemini supports"
                    ),
                ));
            }
        }
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn passes_the_subset_and_rewrites_const() {
        let s = json!({
            "type": "object",
            "properties": {
                "kind": {"const": "cat"},
                "allOf": {"type": "string", "description": "a property named like a keyword"},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "next": {"$ref": "#/$defs/Node"}
            },
            "$defs": {"Node": {"type": ["object", "null"], "additionalProperties": false}},
            "required": ["kind"],
            "additionalProperties": false
        });
        let got = to_gemini_schema(&s).unwrap();
        assert_eq!(got["properties"]["kind"], json!({"enum": ["cat"]}));
        assert_eq!(got["properties"]["tags"], s["properties"]["tags"]);
        assert_eq!(got["$defs"], s["$defs"]);
    }

    #[test]
    fn names_what_cannot_be_expressed() {
        let e = to_gemini_schema(
            &json!({"type": "object", "properties": {"a": {"allOf": [{"type": "string"}]}}}),
        )
        .unwrap_err();
        assert_eq!(e.path, "#/properties/a/allOf");
        let e = to_gemini_schema(&json!({"oneOf": [{"type": "string"}]})).unwrap_err();
        assert_eq!(e.path, "#/oneOf");
        let e = to_gemini_schema(&json!({"type": "integer", "multipleOf": 2})).unwrap_err();
        assert!(e.message.contains("multipleOf"), "{e:?}");
        let e = to_gemini_schema(&json!({"enum": [1, {"a": 1}]})).unwrap_err();
        assert_eq!(e.path, "#/enum");
    }
}
