//! The OpenAPI document as a contract: it is well formed, and the server keeps
//! it on the way in — every field of every write refuses a value of the wrong
//! JSON type, naming the field and saving nothing. (Every answer of the suite
//! is checked against it on the way out: see `api::contract`.)

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn doc() -> Value {
    carnet_web::api::openapi::build()
}

fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    match s.get("$ref").and_then(Value::as_str) {
        Some(r) => r.trim_start_matches("#/").split('/').fold(doc, |v, k| &v[k]),
        None => s,
    }
}

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// The JSON types a schema allows (all of them when it does not say).
fn allowed(doc: &Value, s: &Value) -> Vec<String> {
    let s = resolve(doc, s);
    if let Some(alts) = s.get("oneOf").or_else(|| s.get("anyOf")).and_then(Value::as_array) {
        return alts.iter().flat_map(|a| allowed(doc, a)).collect();
    }
    if s.get("enum").is_some() && s.get("type").is_none() {
        return vec!["string".into()];
    }
    match s.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts.iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
        _ => ["null", "boolean", "integer", "number", "string", "array", "object"]
            .map(String::from)
            .to_vec(),
    }
}

/// Values of every JSON type `allowed` leaves out.
fn wrong_values(allowed: &[String]) -> Vec<Value> {
    let has = |t: &str| allowed.iter().any(|a| a == t || (t == "integer" && a == "number"));
    let mut out = Vec::new();
    if !has("boolean") {
        out.push(json!(true));
    }
    if !has("integer") {
        out.push(json!(42));
    }
    if !has("string") {
        out.push(json!("x"));
    }
    if !has("array") {
        out.push(json!(["x", "y"]));
    }
    if !has("object") {
        out.push(json!({"a": 1}));
    }
    out
}

#[test]
fn the_document_is_well_formed() {
    let doc = doc();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let target = r.trim_start_matches("#/").split('/').fold(&doc, |v, k| &v[k]);
        assert!(!target.is_null(), "{r} points nowhere");
    }
    let mut ids = std::collections::HashSet::new();
    let mut operations = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let in_path: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .collect();
        for (method, op) in ops.as_object().unwrap() {
            operations += 1;
            let what = format!("{method} {path}");
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_string()),
                "{what}: operationId twice"
            );
            assert!(!op["summary"].as_str().unwrap().is_empty(), "{what}: no summary");
            let params = op["parameters"].as_array().unwrap();
            for name in &in_path {
                let p = params.iter().find(|p| p["name"] == *name && p["in"] == "path");
                assert!(p.is_some(), "{what}: path parameter {name} undeclared");
                let p = p.unwrap();
                if *name != "metric" {
                    assert_eq!(p["schema"], json!({"type": "integer", "format": "int64", "minimum": 1}), "{what}");
                }
            }
            let responses = op["responses"].as_object().unwrap();
            let ok: Vec<&String> = responses.keys().filter(|c| c.starts_with('2')).collect();
            assert_eq!(ok.len(), 1, "{what}: one success status");
            let success = &responses[ok[0]];
            if ok[0] == "204" {
                assert!(success.get("content").is_none(), "{what}: 204 with a body");
            } else {
                let schema = &success["content"]["application/json"]["schema"];
                assert!(schema.is_object(), "{what}: {} without a schema", ok[0]);
                let resolved = resolve(&doc, schema);
                assert!(
                    resolved.get("properties").is_some() || resolved.get("items").is_some(),
                    "{what}: an untyped answer: {resolved}"
                );
            }
            for code in ["401", "422", "429"] {
                assert!(responses.contains_key(code), "{what}: {code} undocumented");
            }
            if method == "post" || method == "put" || method == "patch" {
                if let Some(body) = op.get("requestBody") {
                    let s = resolve(&doc, &body["content"]["application/json"]["schema"]);
                    assert_eq!(s["type"], "object", "{what}: body is not an object schema");
                    assert!(responses.contains_key("413") && responses.contains_key("415"), "{what}");
                }
            }
        }
    }
    assert!(operations >= 80, "{operations} operations");
    // Two types never share a name (schemars would number the second).
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(!name.ends_with(|c: char| c.is_ascii_digit()), "schema {name}: a name taken twice");
    }
    // Inputs list only what each operation takes.
    let schemas = &doc["components"]["schemas"];
    let props = |name: &str| -> Vec<String> { schemas[name]["properties"].as_object().unwrap().keys().cloned().collect() };
    assert!(!props("StatusPatch").is_empty() && !props("NewStatus").contains(&"is_default".to_string()));
    assert!(!props("UserPatch").contains(&"email".to_string()));
    assert!(!props("OfferPatch").contains(&"code".to_string()) && !props("OfferPatch").contains(&"currency".to_string()));
    assert!(!props("NewPipeline").contains(&"archived".to_string()));
    assert!(!props("FieldPatch").contains(&"key".to_string()));
    assert!(!props("StagePatch").contains(&"outcome".to_string()));
    assert_eq!(schemas["NewStage"]["properties"]["probability"]["maximum"], 100);
    assert_eq!(schemas["NewStatus"]["additionalProperties"], false);
}

/// The path of an operation with ids of the demo company's records.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{contact_id}", "1")
        .replace("{wid}", "1")
        .replace("{metric}", "opportunities_won")
}

async fn events(app: &TestApp) -> i64 {
    let mut c = app.carnet.db.conn().await.unwrap();
    carnet_app::db::q("SELECT COUNT(*) FROM events").scalar(&mut c).await.unwrap()
}

/// Every field of every write, given a value of each JSON type it does not
/// take, is refused with 422 naming it; an unknown field is refused where the
/// document says so; and nothing is written.
#[tokio::test]
async fn every_write_refuses_wrong_types_naming_the_field() {
    let app = spawn_demo().await;
    let doc = doc();
    let before = events(&app).await;
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let Some(body) = op.get("requestBody") else { continue };
            let schema = resolve(&doc, &body["content"]["application/json"]["schema"]);
            let url = concrete(path);
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut send = Vec::new();
            for (field, s) in schema["properties"].as_object().unwrap() {
                for wrong in wrong_values(&allowed(&doc, s)) {
                    send.push((field.clone(), json!({ field.clone(): wrong })));
                }
            }
            if schema["additionalProperties"] == false {
                send.push(("zz_unknown".into(), json!({"zz_unknown": 1})));
            }
            for (field, body) in send {
                let (s, e) = app.api(m.clone(), &url, Some(body.clone())).await;
                assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{method} {url} {body}: {e}");
                let fields = e["error"]["fields"].as_object().unwrap();
                let named = fields.contains_key(&field)
                    || fields.contains_key(&format!("cf.{field}"))
                    || fields
                        .keys()
                        .any(|k| k.starts_with(&format!("{field}[")) || k.starts_with(&format!("{field}.")));
                assert!(named, "{method} {url} {body}: {e}");
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "{checked} bodies");
    assert_eq!(events(&app).await, before, "a refused write left an event");
}
