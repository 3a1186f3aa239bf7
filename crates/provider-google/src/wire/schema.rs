//! Schemas for Gemini: JSON Schema checks for `parametersJsonSchema` / `responseJsonSchema`
//! (Gemini 2.5 and later), and the conversion to the OpenAPI subset of `parameters` /
//! `responseSchema` (older models).
//!
//! Gemini accepts a subset of JSON Schema. Schemas are sent as written, except that
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

/// Which schema fields a model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaDialect {
    /// `parametersJsonSchema` / `responseJsonSchema` (Gemini 2.5 and later).
    JsonSchema,
    /// `parameters` / `responseSchema`: Gemini's OpenAPI 3.0 subset (Gemini 1.5 and 2.0,
    /// Gemma, tuned models).
    OpenApi,
}

impl SchemaDialect {
    /// The dialect `model` understands.
    pub fn for_model(model: &str) -> Self {
        let id = model.strip_prefix("models/").unwrap_or(model);
        let legacy = [
            "gemini-1.",
            "gemini-2.0",
            "gemma",
            "tunedModels/",
            "learnlm",
        ];
        if legacy.iter().any(|p| id.starts_with(p)) {
            SchemaDialect::OpenApi
        } else {
            SchemaDialect::JsonSchema
        }
    }
}

/// Converts a JSON Schema to Gemini's OpenAPI subset: local `$ref`s are inlined, a `null` in a
/// type list becomes `nullable`, several types become `anyOf`, `const` a one-value enum, type
/// names upper case; `additionalProperties: false` is Gemini's behaviour anyway and is dropped;
/// annotations without an OpenAPI field (`$schema`, `$comment`, `examples`…) are dropped.
/// Anything else the subset lacks is an error naming where it is.
pub fn to_openapi_schema(schema: &Value) -> Result<Value, SchemaError> {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    openapi(schema, "#", &defs, &mut Vec::new())
}

const OPENAPI_KEEP: &[&str] = &[
    "format",
    "title",
    "description",
    "nullable",
    "required",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "minProperties",
    "maxProperties",
    "propertyOrdering",
    "default",
    "example",
];

const OPENAPI_DROP: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "$defs",
    "$anchor",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
];

fn openapi(
    schema: &Value,
    path: &str,
    defs: &Map<String, Value>,
    stack: &mut Vec<String>,
) -> Result<Value, SchemaError> {
    let obj = match schema {
        Value::Object(o) => o,
        Value::Bool(true) => return Ok(Value::Object(Map::new())),
        other => return Err(err(path, format!("the schema {other} is not supported"))),
    };
    if let Some(r) = obj.get("$ref") {
        let here = format!("{path}/$ref");
        let name = r
            .as_str()
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .ok_or_else(|| err(&here, "only local `#/$defs/…` references can be inlined"))?;
        if stack.iter().any(|s| s == name) {
            return Err(err(
                &here,
                format!("the recursive reference to `{name}` cannot be inlined"),
            ));
        }
        let target = defs
            .get(name)
            .ok_or_else(|| err(&here, format!("`$defs/{name}` does not exist")))?;
        stack.push(name.to_owned());
        let mut inlined = openapi(target, &format!("#/$defs/{name}"), defs, stack)?;
        stack.pop();
        // Siblings of `$ref` (e.g. a description) refine the referenced schema.
        let mut rest = obj.clone();
        rest.remove("$ref");
        if let (Value::Object(base), Value::Object(extra)) = (
            &mut inlined,
            openapi(&Value::Object(rest), path, defs, stack)?,
        ) {
            base.extend(extra);
        }
        return Ok(inlined);
    }
    let mut out = Map::new();
    for (k, v) in obj {
        let here = format!("{path}/{k}");
        match k.as_str() {
            "type" => match v {
                Value::String(t) => {
                    out.insert("type".into(), Value::String(t.to_ascii_uppercase()));
                }
                Value::Array(ts) => {
                    let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
                    if names.len() != ts.len() {
                        return Err(err(&here, "must be a string or a list of strings"));
                    }
                    let non_null: Vec<&str> =
                        names.iter().copied().filter(|t| *t != "null").collect();
                    if non_null.len() < names.len() {
                        out.insert("nullable".into(), Value::Bool(true));
                    }
                    match non_null.as_slice() {
                        [] => {
                            return Err(err(
                                &here,
                                "a schema that only allows null is not supported",
                            ));
                        }
                        [one] => {
                            out.insert("type".into(), Value::String(one.to_ascii_uppercase()));
                        }
                        many => {
                            let alts = many
                                .iter()
                                .map(|t| serde_json::json!({"type": t.to_ascii_uppercase()}))
                                .collect();
                            out.insert("anyOf".into(), Value::Array(alts));
                        }
                    }
                }
                _ => return Err(err(&here, "must be a string or a list of strings")),
            },
            "properties" => {
                let Value::Object(props) = v else {
                    return Err(err(&here, "must be an object of schemas"));
                };
                let mut conv = Map::new();
                for (name, s) in props {
                    conv.insert(
                        name.clone(),
                        openapi(s, &format!("{here}/{name}"), defs, stack)?,
                    );
                }
                out.insert(k.clone(), Value::Object(conv));
            }
            "items" => {
                if v.is_array() {
                    return Err(err(&here, "tuple `items` (an array) is not supported"));
                }
                out.insert(k.clone(), openapi(v, &here, defs, stack)?);
            }
            "anyOf" => {
                let Value::Array(list) = v else {
                    return Err(err(&here, "must be an array of schemas"));
                };
                let conv = list
                    .iter()
                    .enumerate()
                    .map(|(i, s)| openapi(s, &format!("{here}/{i}"), defs, stack))
                    .collect::<Result<Vec<_>, _>>()?;
                out.insert(k.clone(), Value::Array(conv));
            }
            "enum" | "const" => {
                let vals = match v {
                    Value::Array(a) if k == "enum" => a.clone(),
                    other if k == "const" => vec![other.clone()],
                    _ => return Err(err(&here, "must be an array")),
                };
                if !vals.iter().all(Value::is_string) {
                    return Err(err(
                        &here,
                        "Gemini's OpenAPI schema supports string enums only",
                    ));
                }
                out.insert("enum".into(), Value::Array(vals));
                out.entry("type")
                    .or_insert_with(|| Value::String("STRING".into()));
            }
            "additionalProperties" => {
                if v != &Value::Bool(false) {
                    return Err(err(
                        &here,
                        "only `additionalProperties: false` can be expressed in Gemini's OpenAPI schema",
                    ));
                }
            }
            key if OPENAPI_KEEP.contains(&key) => {
                out.insert(k.clone(), v.clone());
            }
            key if OPENAPI_DROP.contains(&key) => {}
            key => {
                return Err(err(
                    &here,
                    format!(
                        "the keyword `{key}` is outside the OpenAPI schema subset this model supports"
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

    #[test]
    fn dialect_by_model() {
        assert_eq!(
            SchemaDialect::for_model("gemini-2.0-flash"),
            SchemaDialect::OpenApi
        );
        assert_eq!(
            SchemaDialect::for_model("models/gemini-1.5-pro"),
            SchemaDialect::OpenApi
        );
        assert_eq!(
            SchemaDialect::for_model("gemini-2.5-flash"),
            SchemaDialect::JsonSchema
        );
        assert_eq!(
            SchemaDialect::for_model("gemini-3-pro-preview"),
            SchemaDialect::JsonSchema
        );
    }

    #[test]
    fn openapi_conversion() {
        let s = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "pet": {"$ref": "#/$defs/Pet", "description": "the pet"},
                "age": {"type": ["integer", "null"], "minimum": 0},
                "id": {"type": ["string", "integer"]},
                "kind": {"const": "cat"}
            },
            "required": ["pet"],
            "additionalProperties": false,
            "$defs": {"Pet": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 9}}}}
        });
        assert_eq!(
            to_openapi_schema(&s).unwrap(),
            json!({
                "type": "OBJECT",
                "properties": {
                    "pet": {"type": "OBJECT", "properties": {"name": {"type": "STRING", "maxLength": 9}}, "description": "the pet"},
                    "age": {"type": "INTEGER", "nullable": true, "minimum": 0},
                    "id": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]},
                    "kind": {"enum": ["cat"], "type": "STRING"}
                },
                "required": ["pet"]
            })
        );
        let rec = json!({"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}}, "$ref": "#/$defs/N"});
        assert!(
            to_openapi_schema(&rec)
                .unwrap_err()
                .message
                .contains("recursive")
        );
        let e = to_openapi_schema(
            &json!({"type": "object", "additionalProperties": {"type": "string"}}),
        )
        .unwrap_err();
        assert_eq!(e.path, "#/additionalProperties");
        let e = to_openapi_schema(&json!({"enum": [1, 2]})).unwrap_err();
        assert_eq!(e.path, "#/enum");
        let e = to_openapi_schema(&json!({"prefixItems": []})).unwrap_err();
        assert_eq!(e.path, "#/prefixItems");
    }
}
