//! The OpenAPI 3.1 description of the admin API, served at `/admin/openapi.json`. Every
//! route of [`super::ROUTES`] is described (a test checks it), and every request example
//! decodes with the very types the handlers use.

use serde_json::{Value, json};

/// One operation: (method, path, summary, request schema, request example).
pub type Operation = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
);

/// Every operation.
pub const OPERATIONS: &[Operation] = &[
    (
        "GET",
        "/admin/keys",
        "List keys (never secrets or hashes)",
        None,
        None,
    ),
    (
        "POST",
        "/admin/keys",
        "Create a key; the answer holds its secret, shown this once",
        Some("CreateKey"),
        Some(
            r#"{"id": "team-a-ci", "team_id": "team-a", "models": ["fast", "openai/*"], "aliases": {"gpt-4": "fast"}, "rpm": 600, "tpm": 200000, "max_parallel": 20, "budget": {"max_usd": 50.0, "period": "monthly"}, "expires_at": 4102444800, "metadata": {"owner": "ci"}}"#,
        ),
    ),
    ("GET", "/admin/keys/{id}", "Show a key", None, None),
    (
        "PATCH",
        "/admin/keys/{id}",
        "Change a key (absent fields kept, null clears)",
        Some("UpdateKey"),
        Some(r#"{"rpm": null, "budget": {"max_usd": 10.0, "period": "daily"}}"#),
    ),
    (
        "POST",
        "/admin/keys/{id}/rotate",
        "New secret; the old one stays valid for the grace",
        Some("RotateKey"),
        Some(r#"{"grace_seconds": 3600}"#),
    ),
    (
        "POST",
        "/admin/keys/{id}/revoke",
        "Revoke a key (every replica within a second)",
        None,
        None,
    ),
    ("GET", "/admin/teams", "List teams", None, None),
    (
        "POST",
        "/admin/teams",
        "Create a team",
        Some("TeamInput"),
        Some(
            r#"{"id": "team-a", "budget": {"max_usd": 500.0, "period": "monthly"}, "rpm": 3000, "models": ["fast"]}"#,
        ),
    ),
    ("GET", "/admin/teams/{id}", "Show a team", None, None),
    (
        "PATCH",
        "/admin/teams/{id}",
        "Change a team",
        Some("TeamInput"),
        Some(r#"{"tpm": 1000000}"#),
    ),
    (
        "DELETE",
        "/admin/teams/{id}",
        "Delete a team (it must have no active keys)",
        None,
        None,
    ),
    ("GET", "/admin/users", "List end users", None, None),
    (
        "POST",
        "/admin/users",
        "Create an end user (budget across keys)",
        Some("UserInput"),
        Some(r#"{"id": "customer-42", "budget": {"max_usd": 5.0, "period": "daily"}, "rpm": 30}"#),
    ),
    ("GET", "/admin/users/{id}", "Show an end user", None, None),
    (
        "PATCH",
        "/admin/users/{id}",
        "Change an end user",
        Some("UserInput"),
        Some(r#"{"budget": null}"#),
    ),
    (
        "DELETE",
        "/admin/users/{id}",
        "Delete an end user",
        None,
        None,
    ),
    (
        "GET",
        "/admin/budgets",
        "Spend and holds of every budget in its current period",
        None,
        None,
    ),
    (
        "GET",
        "/admin/spend",
        "Spend per hour or day by key, team, user, model, provider or deployment",
        None,
        None,
    ),
    (
        "GET",
        "/admin/routing",
        "Live routing state of every logical model's deployments",
        None,
        None,
    ),
    ("GET", "/admin/openapi.json", "This document", None, None),
];

fn budget() -> Value {
    json!({"type": ["object", "null"], "additionalProperties": false, "required": ["max_usd", "period"],
        "properties": {"max_usd": {"type": "number", "minimum": 0},
            "period": {"type": "string", "enum": ["daily", "weekly", "monthly", "lifetime"]}}})
}

fn limit() -> Value {
    json!({"type": ["integer", "null"], "minimum": 1})
}

fn schemas() -> Value {
    let key_fields = json!({
        "id": {"type": "string", "pattern": "^[A-Za-z0-9_.@:-]{1,64}$"},
        "team_id": {"type": ["string", "null"]}, "user_id": {"type": ["string", "null"]},
        "role": {"type": "string", "enum": ["user", "admin"]},
        "models": {"type": "array", "items": {"type": "string"}},
        "aliases": {"type": "object", "additionalProperties": {"type": "string"}},
        "rpm": limit(), "tpm": limit(), "max_parallel": limit(), "budget": budget(),
        "allow_unpriced": {"type": "boolean"},
        "expires_at": {"type": ["integer", "null"], "description": "Unix seconds"},
        "metadata": {"type": "object"},
    });
    let mut update = key_fields.clone();
    if let Some(m) = update.as_object_mut() {
        m.remove("id");
    }
    json!({
        "Budget": budget(),
        "CreateKey": {"type": "object", "additionalProperties": false, "properties": key_fields},
        "UpdateKey": {"type": "object", "additionalProperties": false, "properties": update},
        "RotateKey": {"type": "object", "additionalProperties": false,
            "properties": {"grace_seconds": {"type": "integer", "minimum": 0, "maximum": 2592000}}},
        "TeamInput": {"type": "object", "additionalProperties": false, "properties": {
            "id": {"type": "string"}, "budget": budget(), "rpm": limit(), "tpm": limit(),
            "max_parallel": limit(), "models": {"type": "array", "items": {"type": "string"}},
            "metadata": {"type": "object"}}},
        "UserInput": {"type": "object", "additionalProperties": false, "properties": {
            "id": {"type": "string"}, "budget": budget(), "rpm": limit(), "metadata": {"type": "object"}}},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
            "required": ["message", "type", "param", "code"], "properties": {
                "message": {"type": "string"}, "type": {"type": "string"},
                "param": {"type": ["string", "null"], "description": "the field at fault"},
                "code": {"type": ["string", "null"]}}}}},
        "Object": {"type": "object"},
    })
}

fn parameters(path: &str) -> Value {
    let mut params = Vec::new();
    if path.contains("{id}") {
        params.push(
            json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}),
        );
    }
    if path == "/admin/spend" {
        for (name, desc) in [
            (
                "by",
                "key, team, user, model, provider or deployment (default key)",
            ),
            ("bucket", "hour or day (default day)"),
            ("since", "how far back: 24h, 7d, 30m (default 7d)"),
            ("from", "start, Unix seconds or RFC 3339"),
            ("to", "end, Unix seconds or RFC 3339"),
        ] {
            params.push(json!({"name": name, "in": "query", "required": false, "description": desc, "schema": {"type": "string"}}));
        }
    }
    Value::Array(params)
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, summary, schema, example) in OPERATIONS {
        let mut op = json!({
            "summary": summary,
            "parameters": parameters(path),
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Object"}}}},
                "400": {"description": "Bad input; `param` names the field", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "No or wrong key"},
                "403": {"description": "Not the master key nor an admin key"},
                "404": {"description": "No such object"},
                "409": {"description": "Duplicate id, or a change that conflicts"},
                "503": {"description": "The database did not answer"},
            },
            "security": [{"bearer": []}],
        });
        if let (Some(schema), Some(o)) = (schema, op.as_object_mut()) {
            let ex: Value = example
                .and_then(|e| serde_json::from_str(e).ok())
                .unwrap_or(Value::Null);
            o.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {
                "schema": {"$ref": format!("#/components/schemas/{schema}")}, "example": ex}}}),
            );
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        if let Some(m) = entry.as_object_mut() {
            m.insert(method.to_ascii_lowercase(), op);
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "modelrt admin API", "version": env!("CARGO_PKG_VERSION"),
            "description": "Keys, teams, end users, budgets, spend and routing state of a modelrt gateway. Authenticate with the master key or a key with the admin role (`Authorization: Bearer …`)."},
        "paths": paths,
        "components": {"schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_governance::admin::{
        CreateKey, RotateKey, TeamInput, UpdateKey, UserInput, decode,
    };

    #[test]
    fn every_registered_route_is_described_and_nothing_else() {
        let doc = document();
        for (method, path) in super::super::ROUTES {
            let op = &doc["paths"][*path][method.to_ascii_lowercase()];
            assert!(
                op.is_object(),
                "{method} {path} is missing from openapi.json"
            );
        }
        let described: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(described, super::super::ROUTES.len());
    }

    #[test]
    fn every_example_body_is_accepted_by_its_handler_type_and_schema_refs_resolve() {
        let doc = document();
        for (_, path, _, schema, example) in OPERATIONS {
            let (Some(schema), Some(ex)) = (schema, example) else {
                assert!(schema.is_none() && example.is_none(), "{path}");
                continue;
            };
            assert!(
                doc["components"]["schemas"][*schema].is_object(),
                "{schema}"
            );
            let b = ex.as_bytes();
            let r = match *schema {
                "CreateKey" => decode::<CreateKey>(b).and_then(|c| c.check(0).map(|_| ())),
                "UpdateKey" => decode::<UpdateKey>(b).map(|_| ()),
                "RotateKey" => decode::<RotateKey>(b).and_then(|r| r.grace_ms().map(|_| ())),
                "TeamInput" => decode::<TeamInput>(b).map(|_| ()),
                "UserInput" => decode::<UserInput>(b).map(|_| ()),
                other => panic!("no handler type for {other}"),
            };
            assert!(r.is_ok(), "{path}: {r:?}");
            // The schema lists every property of the example (additionalProperties: false).
            let props = &doc["components"]["schemas"][*schema]["properties"];
            for k in serde_json::from_str::<Value>(ex)
                .unwrap()
                .as_object()
                .unwrap()
                .keys()
            {
                assert!(props[k].is_object(), "{schema}.{k} is not in the schema");
            }
        }
    }
}
