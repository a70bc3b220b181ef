//! Checks answers against the OpenAPI document. The integration suite turns it
//! on ([`crate::AppState::with_contract`]): every API answer any test causes is
//! checked — its status is documented for the operation, its content type and
//! its body match the documented schema — so the document cannot drift from the
//! server without failing the suite. A violation replaces the answer with a 500
//! naming it, and is kept for the test harness to report.
//!
//! The schema checker covers the JSON Schema the document uses: `$ref`, `type`
//! (one or a list, `null` included), `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `const`, `anyOf`, `oneOf`,
//! `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`, and the `date`,
//! `date-time` and `int64` formats.

use crate::error::json_error;
use crate::AppState;
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{json, Value};
use std::sync::Mutex;

pub struct Contract {
    doc: Value,
    violations: Mutex<Vec<String>>,
    /// Keep the answer as it was (only record the violation).
    pub report_only: bool,
}

impl Contract {
    pub fn new(doc: Value) -> Contract {
        Contract {
            doc,
            violations: Mutex::new(Vec::new()),
            report_only: false,
        }
    }

    /// The violations seen so far.
    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }

    /// The documented operation for a concrete path (`/api/v1/accounts/7`).
    fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        let paths = self.doc["paths"].as_object()?;
        let segs: Vec<&str> = path.split('/').collect();
        paths
            .iter()
            .filter(|(template, _)| {
                let t: Vec<&str> = template.split('/').collect();
                t.len() == segs.len() && t.iter().zip(&segs).all(|(t, s)| t == s || (t.starts_with('{') && t.ends_with('}')))
            })
            // A literal segment wins over a parameter (`/me/figures` over `/users/{id}`).
            .min_by_key(|(template, _)| template.matches('{').count())
            .and_then(|(_, ops)| ops.get(method.to_lowercase()))
    }

    /// Whether one answer keeps the document's promise; the reason when not.
    pub fn check(&self, method: &str, path: &str, status: u16, content_type: Option<&str>, body: &[u8]) -> Result<(), String> {
        let Some(op) = self.operation(method, path) else {
            // Unknown routes and methods answer the fallback's 404 or the router's 405.
            return if status == 404 || status == 405 {
                Ok(())
            } else {
                Err(format!("{method} {path}: no such operation, answered {status}"))
            };
        };
        let Some(resp) = op["responses"].get(status.to_string()).or_else(|| op["responses"].get("default")) else {
            return Err(format!("{method} {path}: status {status} is not documented"));
        };
        let resp = self.resolve(resp);
        match resp.get("content").and_then(|c| c.get("application/json")) {
            None => {
                if body.is_empty() {
                    Ok(())
                } else {
                    Err(format!("{method} {path} {status}: a body where none is documented"))
                }
            }
            Some(media) => {
                if content_type != Some("application/json") {
                    return Err(format!(
                        "{method} {path} {status}: content type {content_type:?}, not application/json"
                    ));
                }
                let value: Value =
                    serde_json::from_slice(body).map_err(|e| format!("{method} {path} {status}: the body is not JSON: {e}"))?;
                self.validate(&media["schema"], &value, "$")
                    .map_err(|e| format!("{method} {path} {status}: {e}"))
            }
        }
    }

    fn resolve<'a>(&'a self, s: &'a Value) -> &'a Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix("#/")
                .map(|p| p.split('/').fold(&self.doc, |v, k| &v[k]))
                .unwrap_or(&Value::Null),
            None => s,
        }
    }

    pub fn validate(&self, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
        let schema = self.resolve(schema);
        if let Some(types) = schema.get("type") {
            let allowed: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !allowed.iter().any(|t| type_matches(t, v)) {
                return Err(format!("{at}: {} where the document says {}", kind(v), allowed.join(" or ")));
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.contains(v) {
                return Err(format!("{at}: {v} is not one of {}", Value::Array(options.clone())));
            }
        }
        if let Some(c) = schema.get("const") {
            if c != v {
                return Err(format!("{at}: {v} is not {c}"));
            }
        }
        if let Some(any) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array) {
            let errors: Vec<String> = any.iter().filter_map(|s| self.validate(s, v, at).err()).collect();
            if errors.len() == any.len() {
                return Err(format!("{at}: matches none of its alternatives ({})", errors.join("; ")));
            }
        }
        match v {
            Value::Object(map) => {
                let props = schema.get("properties").and_then(Value::as_object);
                for req in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                    let k = req.as_str().unwrap_or_default();
                    if !map.contains_key(k) {
                        return Err(format!("{at}: the required {k} is missing"));
                    }
                }
                for (k, item) in map {
                    let here = format!("{at}.{k}");
                    match props.and_then(|p| p.get(k)) {
                        Some(s) => self.validate(s, item, &here)?,
                        None => match schema.get("additionalProperties") {
                            Some(Value::Bool(false)) => return Err(format!("{here}: not in the document")),
                            Some(s @ Value::Object(_)) => self.validate(s, item, &here)?,
                            _ => {}
                        },
                    }
                }
            }
            Value::Array(items) => {
                if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                    if (items.len() as u64) < min {
                        return Err(format!("{at}: fewer than {min} items"));
                    }
                }
                if let Some(s) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.validate(s, item, &format!("{at}[{i}]"))?;
                    }
                }
            }
            Value::String(text) => {
                let n = text.chars().count() as u64;
                if schema.get("minLength").and_then(Value::as_u64).is_some_and(|m| n < m) {
                    return Err(format!("{at}: shorter than its minLength"));
                }
                if schema.get("maxLength").and_then(Value::as_u64).is_some_and(|m| n > m) {
                    return Err(format!("{at}: longer than its maxLength"));
                }
                let ok = match schema.get("format").and_then(Value::as_str) {
                    Some("date") => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
                    Some("date-time") => chrono::DateTime::parse_from_rfc3339(text).is_ok(),
                    _ => true,
                };
                if !ok {
                    return Err(format!("{at}: {text:?} is not a {}", schema["format"]));
                }
            }
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if schema.get("minimum").and_then(Value::as_f64).is_some_and(|m| x < m) {
                    return Err(format!("{at}: {n} is below its minimum"));
                }
                if schema.get("maximum").and_then(Value::as_f64).is_some_and(|m| x > m) {
                    return Err(format!("{at}: {n} is above its maximum"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn violated(&self, what: String) -> Response {
        tracing::error!(violation = %what, "an answer breaks the API document");
        self.violations.lock().unwrap().push(what.clone());
        json_error(StatusCode::INTERNAL_SERVER_ERROR, "contract_violation", &what, json!({}))
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The layer: checks every `/api/v1` answer when a contract is set.
pub async fn check_answers(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let Some(contract) = s.contract.clone() else {
        return next.run(req).await;
    };
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let res = next.run(req).await;
    if !path.starts_with("/api/v1/") {
        return res;
    }
    let (parts, body) = res.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return contract.violated(format!("{method} {path}: the body could not be read"));
    };
    let ct = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    match contract.check(&method, &path, parts.status.as_u16(), ct, &bytes) {
        Ok(()) => Response::from_parts(parts, Body::from(bytes)),
        Err(what) if contract.report_only => {
            contract.violated(what);
            Response::from_parts(parts, Body::from(bytes))
        }
        Err(what) => contract.violated(what),
    }
}

#[cfg(test)]
mod tests {
    use super::Contract;
    use serde_json::json;

    fn contract() -> Contract {
        Contract::new(json!({
            "paths": {"/api/v1/things/{id}": {"get": {"responses": {
                "200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
                "404": {"content": {"application/json": {"schema": {"type": "object"}}}}
            }}, "delete": {"responses": {"204": {"description": "Done"}}}}},
            "components": {"schemas": {"Thing": {"type": "object", "required": ["id"], "additionalProperties": false,
                "properties": {"id": {"type": "integer", "minimum": 1}, "name": {"type": ["string", "null"], "maxLength": 3},
                               "on": {"type": "string", "format": "date"}, "kind": {"enum": ["a", "b"]},
                               "tags": {"type": "array", "items": {"type": "string"}}}}}}
        }))
    }

    fn check(status: u16, body: serde_json::Value) -> Result<(), String> {
        contract().check(
            "GET",
            "/api/v1/things/7",
            status,
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    }

    #[test]
    fn answers_that_keep_the_document_pass() {
        assert_eq!(
            check(200, json!({"id": 1, "name": null, "on": "2026-11-30", "kind": "a", "tags": ["x"]})),
            Ok(())
        );
        assert_eq!(check(404, json!({})), Ok(()));
        let c = contract();
        assert_eq!(c.check("DELETE", "/api/v1/things/7", 204, None, b""), Ok(()));
        // Unknown routes answer 404.
        assert_eq!(c.check("GET", "/api/v1/nothing", 404, Some("application/json"), b"{}"), Ok(()));
    }

    #[test]
    fn answers_that_break_it_are_caught() {
        for (status, body) in [
            (200, json!({"name": "abc"})),
            (200, json!({"id": "1"})),
            (200, json!({"id": 0})),
            (200, json!({"id": 1, "name": "abcd"})),
            (200, json!({"id": 1, "on": "30/11/2026"})),
            (200, json!({"id": 1, "kind": "c"})),
            (200, json!({"id": 1, "tags": [1]})),
            (200, json!({"id": 1, "extra": true})),
            (201, json!({"id": 1})),
        ] {
            assert!(check(status, body.clone()).is_err(), "{status} {body}");
        }
        let c = contract();
        assert!(c.check("GET", "/api/v1/things/7", 200, Some("text/plain"), b"{\"id\": 1}").is_err());
        assert!(c.check("DELETE", "/api/v1/things/7", 204, None, b"{}").is_err());
        assert!(c.check("PUT", "/api/v1/things/7", 200, None, b"").is_err());
    }
}
