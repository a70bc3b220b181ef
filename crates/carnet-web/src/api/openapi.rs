//! The route table and the OpenAPI 3.1 document generated from it. Each API
//! module lists its operations as [`Op`]s: the handler, and the Rust types of
//! its body, its query parameters and its answer. The router is built from
//! the same list ([`super::router`]) and the schemas are derived from the types
//! (`schemars`), so the document cannot drift from the server; the test suite
//! also checks every answer against it ([`super::contract`]).

use crate::AppState;
use axum::handler::Handler;
use axum::routing::MethodRouter;
use axum::Json;
use carnet_domain::access::Permission;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::sync::OnceLock;

/// A schema of `T`, registered under `#/components/schemas`.
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// One operation of the API.
pub struct Op {
    pub method: &'static str,
    /// Under `/api/v1`, with `{name}` path parameters (ids).
    pub path: &'static str,
    pub summary: &'static str,
    pub tag: &'static str,
    pub handler: MethodRouter<AppState>,
    pub body: Option<SchemaFn>,
    /// A struct whose fields are the query parameters.
    pub query: Option<SchemaFn>,
    /// Takes free-form `key=value` pairs (list filters, metric parameters):
    /// their schema and what they are.
    pub free_query: Option<(SchemaFn, &'static str)>,
    pub status: u16,
    pub answer: Option<SchemaFn>,
    /// Error statuses beyond the ones every operation may answer.
    pub errors: &'static [u16],
    /// What the answer carries in headers (`ETag`, `Location`).
    pub headers: &'static [&'static str],
    /// Checked before the request is read (see [`super::guard::require`]).
    pub permission: Option<Permission>,
}

macro_rules! method {
    ($name:ident, $route:path) => {
        pub fn $name<H: Handler<T, AppState>, T: 'static>(path: &'static str, h: H) -> Op {
            Op {
                method: stringify!($name),
                path,
                summary: "",
                tag: "",
                handler: $route(h),
                body: None,
                query: None,
                free_query: None,
                status: 204,
                answer: None,
                errors: &[],
                headers: &[],
                permission: None,
            }
        }
    };
}

method!(get, axum::routing::get);
method!(post, axum::routing::post);
method!(put, axum::routing::put);
method!(patch, axum::routing::patch);
method!(delete, axum::routing::delete);

impl Op {
    pub fn doc(mut self, tag: &'static str, summary: &'static str) -> Self {
        self.tag = tag;
        self.summary = summary;
        self
    }
    pub fn body<T: JsonSchema>(mut self) -> Self {
        self.body = Some(schema::<T>);
        self
    }
    pub fn query<T: JsonSchema>(mut self) -> Self {
        self.query = Some(schema::<T>);
        self
    }
    /// Takes the list filters.
    pub fn filters(self) -> Self {
        self.free_query::<ListFilters>(LIST_FILTERS_HELP)
    }
    pub fn free_query<T: JsonSchema>(mut self, help: &'static str) -> Self {
        self.free_query = Some((schema::<T>, help));
        self
    }
    /// Answers `status` with a `T` in JSON.
    pub fn answers<T: JsonSchema>(mut self, status: u16) -> Self {
        self.status = status;
        self.answer = Some(schema::<T>);
        self
    }
    pub fn errors(mut self, errors: &'static [u16]) -> Self {
        self.errors = errors;
        self
    }
    pub fn requires(mut self, p: Permission) -> Self {
        self.permission = Some(p);
        self
    }
    pub fn headers(mut self, headers: &'static [&'static str]) -> Self {
        self.headers = headers;
        self
    }
}

/// The list filters, sent as `key=value` query pairs; keys may repeat.
#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(extend("additionalProperties" = {"type": "string", "maxLength": 500}))]
pub struct ListFilters {
    /// Name or any word of it starts with (accents and case ignored).
    q: Option<String>,
    /// Status id or name (accounts; repeat for several).
    status: Option<String>,
    /// Owner id or email, or `none` (repeat for several).
    owner: Option<String>,
    /// Tag id, name or Category/Name (repeat: all must match).
    tag: Option<String>,
    /// YYYY-MM-DD, in the caller's time zone.
    created_from: Option<String>,
    /// YYYY-MM-DD, inclusive.
    created_to: Option<String>,
    updated_from: Option<String>,
    updated_to: Option<String>,
    /// `name` (default), `created`, `updated` or `cf.{key}`; prefix `-` for descending.
    sort: Option<String>,
    /// The `next_cursor` of the previous page.
    after: Option<String>,
    /// 1–1000, default 50.
    #[schemars(range(min = 1, max = 1000))]
    limit: Option<u32>,
}

const LIST_FILTERS_HELP: &str = "Filters as query pairs. Accounts: q, status, owner, tag, created_from/to, updated_from/to, city, country, postal_code, source, email, company_id. Contacts: q, owner, tag, the dates, city, country, postal_code, source, email, job_title, account. Opportunities: q, owner, tag, the dates, pipeline, stage, status (open/won/lost), source, offer, account, currency. Custom fields: cf.KEY equals; cf.KEY.min / cf.KEY.max for numbers, amounts and dates. A filter the list does not know is refused (422).";

fn error_response(what: &str) -> Value {
    json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

/// The document, built once.
pub fn build() -> Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(generate).clone()
}

fn generate() -> Value {
    let mut settings = schemars::generate::SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    let mut g = settings.into_generator();
    let mut paths: Map<String, Value> = Map::new();
    g.subschema_for::<crate::error::ErrorBody>();
    for op in super::ops() {
        let full = format!("/api/v1{}", op.path);
        let mut params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| {
                let schema = if name == "metric" {
                    json!({"type": "string", "pattern": "^[a-z_]+$"})
                } else {
                    json!({"type": "integer", "format": "int64", "minimum": 1})
                };
                json!({"name": name, "in": "path", "required": true, "schema": schema})
            })
            .collect();
        if let Some(q) = op.query {
            let s = q(&mut g).to_value();
            let s = resolve(&g, &s);
            let required: Vec<&str> = s["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for (name, p) in s["properties"].as_object().into_iter().flatten() {
                let mut p = p.clone();
                let description = p.as_object_mut().and_then(|m| m.remove("description"));
                let mut param = json!({"name": name, "in": "query", "required": required.contains(&name.as_str()), "schema": p});
                if let Some(d) = description {
                    param["description"] = d;
                }
                params.push(param);
            }
        }
        if let Some((schema, help)) = op.free_query {
            params.push(
                json!({"name": "params", "in": "query", "required": false, "style": "form", "explode": true,
                               "description": help, "schema": schema(&mut g).to_value()}),
            );
        }
        let write = op.method != "get";
        if write {
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
                "description": "Any unique value (a UUID): the same request sent again with it within a day gets the first answer again (header Idempotent-Replayed: true) instead of writing twice. The same key with another method, path or body is refused (422); while the first request runs, 409."}));
        }
        let mut responses = Map::new();
        let mut ok = match op.answer {
            Some(a) => json!({"description": "Success", "content": {"application/json": {"schema": a(&mut g).to_value()}}}),
            None => json!({"description": "Done"}),
        };
        for h in op.headers {
            ok.as_object_mut().unwrap().entry("headers").or_insert(json!({}))[*h] = match *h {
                "ETag" => json!({"description": "The record's version, for If-Match", "schema": {"type": "string"}}),
                _ => json!({"description": "Where the new resource is read", "schema": {"type": "string"}}),
            };
        }
        responses.insert(op.status.to_string(), ok);
        let mut errors: Vec<(u16, &str)> = vec![
            (401, "No valid session or API key"),
            (403, "The role does not allow it"),
            (404, "Not found"),
            (422, "Invalid input: see error.fields"),
            (429, "Too many requests from this key or address: wait the Retry-After seconds"),
        ];
        if write {
            errors.push((409, "A conflicting change, or a request with this Idempotency-Key still running"));
        }
        if op.body.is_some() {
            errors.push((413, "The body is over 2 MiB"));
            errors.push((415, "The body is not sent as application/json"));
        }
        for code in op.errors {
            if !errors.iter().any(|(c, _)| c == code) {
                errors.push((*code, "See the message"));
            }
        }
        for (code, what) in errors {
            let mut r = error_response(what);
            if code == 429 {
                r["headers"] = json!({"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer", "minimum": 1}}});
            }
            responses.insert(code.to_string(), r);
        }
        let mut o = json!({
            "summary": op.summary,
            "description": match op.permission {
                Some(p) => format!("Needs a role with the {p:?} permission."),
                None => "Open to every signed-in user.".to_string(),
            },
            "tags": [op.tag],
            "operationId": format!("{}_{}", op.method, op.path.trim_start_matches('/').replace(['/', '-'], "_").replace(['{', '}'], "")),
            "parameters": params,
            "responses": responses,
        });
        if let Some(b) = op.body {
            o["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": b(&mut g).to_value()}}});
        }
        let entry = paths.entry(full).or_insert_with(|| json!({}));
        assert!(entry.get(op.method).is_none(), "{} {} listed twice", op.method, op.path);
        entry[op.method] = o;
    }
    let schemas: Map<String, Value> = g.take_definitions(true).into_iter().collect();
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Carnet API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Accounts, contacts, opportunities, the agenda, metrics and settings of a Carnet CRM. Authenticate with `Authorization: Bearer <API key>` (create one with `carnet api-key create` or on your profile page). Lists are paged by cursor: pass `next_cursor` as `after`. Each API key (or session) may send 600 requests a minute and each address 1,200 (the server's `--api-rate-limit` sets it); beyond, 429 with `Retry-After`. Writes accept an `Idempotency-Key` header to be retried safely."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
        },
        "security": [{"bearer": []}],
    })
}

/// A `$ref` to a definition, followed.
fn resolve(g: &SchemaGenerator, s: &Value) -> Value {
    match s.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
        Some(name) => g.definitions().get(name).cloned().unwrap_or(Value::Null),
        None => s.clone(),
    }
}

pub async fn document() -> Json<Value> {
    Json(build())
}
