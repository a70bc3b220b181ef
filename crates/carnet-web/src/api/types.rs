//! Shapes the API modules share: the typed body extractor, references by id
//! or name, money, pages and lists.

use crate::error::ApiError;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use carnet_app::AppError;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Serialize;
use serde_json::Value;
use std::borrow::Cow;

/// A JSON request body read into `T`. Malformed JSON, a body that is not an
/// object, a wrong content type or size get the standard error body; a field
/// of the wrong type, a missing one or an unknown one (types refuse unknown
/// keys) answers 422 naming that field.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match axum::Json::<Value>::from_request(req, state).await {
            Ok(axum::Json(v @ Value::Object(_))) => v,
            Ok(_) => return Err(AppError::field("body", "must be a JSON object").into()),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                return Err(AppError::UnsupportedMediaType("Send JSON with Content-Type: application/json.".into()).into())
            }
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => return Err(AppError::PayloadTooLarge.into()),
            Err(e) => return Err(AppError::field("body", format!("is not valid JSON: {}", e.body_text())).into()),
        };
        from_value(value).map(Body).map_err(ApiError)
    }
}

/// A body checked against `T` (types, required and unknown fields) and kept as
/// the JSON object it was, for the services that read fields by name (the
/// action, rule and record parsers, which tell a field left out from one
/// cleared).
pub struct Checked<T>(pub T, pub serde_json::Map<String, Value>);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Checked<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Body(map) = Body::<serde_json::Map<String, Value>>::from_request(req, state).await?;
        let typed = from_value(Value::Object(map.clone())).map_err(ApiError)?;
        Ok(Checked(typed, map))
    }
}

/// Reads `T` from JSON, naming the field at fault.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, AppError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let (field, reason) = explain(&path, &message);
        AppError::field(&field, reason)
    })
}

/// A field name and a reason from serde's message.
fn explain(path: &str, message: &str) -> (String, String) {
    let at = |name: &str| {
        if path == "." || path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |m: &str| m.split('`').nth(1).unwrap_or("").to_string();
    if let Some(rest) = message.strip_prefix("unknown field ") {
        // The path already ends with the unknown key.
        let field = if path == "." || path.is_empty() {
            quoted(rest)
        } else {
            path.to_string()
        };
        return (field, "is not a known field".into());
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return (at(&quoted(rest)), "is required".into());
    }
    let field = if path == "." { "body".to_string() } else { path.to_string() };
    let expected = message.rsplit("expected ").next().unwrap_or(message);
    let reason = if message.starts_with("invalid type") || message.starts_with("invalid value") {
        match expected {
            e if e.starts_with("a string") => "must be a string".to_string(),
            e if e.starts_with("a boolean") => "must be true or false".to_string(),
            e if e.starts_with("i64") || e.starts_with("u32") || e.starts_with("i32") || e.starts_with("u16") || e.starts_with("u64") => {
                "must be a whole number".to_string()
            }
            e if e.starts_with("a sequence") => "must be a list".to_string(),
            e if e.starts_with("a map") || e.starts_with("struct") => "must be an object".to_string(),
            e => format!("must be {e}"),
        }
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        let options = rest
            .split("expected ")
            .nth(1)
            .unwrap_or("")
            .trim_start_matches("one of ")
            .replace('`', "");
        let given = quoted(rest);
        format!("“{given}” is not one of {options}")
    } else {
        message.to_string()
    };
    (field, reason)
}

/// A reference to a settings object or a user: its id, or its name (a user's email).
#[derive(Debug, Clone, PartialEq)]
pub struct Ref(pub String);

impl Ref {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Ref {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Ref;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an id or a name")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ref, E> {
                Ok(Ref(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ref, E> {
                Ok(Ref(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ref, E> {
                Ok(Ref(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Ref {
    fn schema_name() -> Cow<'static, str> {
        "Ref".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An id, or a name (for users: an email)",
            "oneOf": [{"type": "integer", "format": "int64", "minimum": 1}, {"type": "string", "minLength": 1, "maxLength": 200}]
        })
    }
}

/// A decimal amount given as a string ("1234.50") or a number (1234.5).
#[derive(Debug, Clone, PartialEq)]
pub struct Decimal(pub String);

impl<'de> serde::Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Decimal;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a decimal string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
                Ok(Decimal(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
                Ok(Decimal(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
                Ok(Decimal(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Decimal, E> {
                Ok(Decimal(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Decimal {
    fn schema_name() -> Cow<'static, str> {
        "Decimal".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A decimal number, as a number or a string (\"1234.50\")",
            "oneOf": [{"type": "number"}, {"type": "string", "maxLength": 40}]
        })
    }
}

/// For a field where `null` means something (clear it) and absence means
/// "keep": `Some(None)` is null, `None` absent (with `#[serde(default)]`).
pub fn nullable<'de, D: Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// An amount in an answer: a decimal string with two places ("1234.50").
pub type Money = String;

/// `{"id": …}`: what a create answers when it answers no more.
#[derive(Serialize, JsonSchema)]
pub struct Created {
    pub id: i64,
}

/// `{"data": […]}`: a list without pages.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "{T}List")]
pub struct List<T> {
    pub data: Vec<T>,
}

impl<T> From<Vec<T>> for List<T> {
    fn from(data: Vec<T>) -> Self {
        List { data }
    }
}

/// A page of a list; `next_cursor` is passed as `after` for the next page.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "{T}Page")]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A reference in an answer: an id and a name.
#[derive(Serialize, JsonSchema, Clone)]
pub struct Named {
    pub id: i64,
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct T {
        name: String,
        n: Option<i64>,
        on: Option<bool>,
        list: Option<Vec<String>>,
        r: Option<Ref>,
    }

    fn err(v: Value) -> (String, String) {
        match from_value::<T>(v) {
            Err(AppError::Invalid(f)) => f.0.into_iter().next().map(|(k, v)| (k, v.to_string())).unwrap(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_types_name_their_field() {
        use serde_json::json;
        assert_eq!(err(json!({"name": true})), ("name".into(), "must be a string".into()));
        assert_eq!(err(json!({"name": ["x", "y"]})), ("name".into(), "must be a string".into()));
        assert_eq!(err(json!({"name": "a", "n": "3"})), ("n".into(), "must be a whole number".into()));
        assert_eq!(err(json!({"name": "a", "on": 1})), ("on".into(), "must be true or false".into()));
        assert_eq!(err(json!({"name": "a", "list": "x"})), ("list".into(), "must be a list".into()));
        assert_eq!(
            err(json!({"name": "a", "list": [1]})),
            ("list[0]".into(), "must be a string".into())
        );
        assert_eq!(err(json!({"name": "a", "r": true})), ("r".into(), "must be an id or a name".into()));
        assert_eq!(err(json!({"name": "a", "nope": 1})), ("nope".into(), "is not a known field".into()));
        assert_eq!(err(json!({})), ("name".into(), "is required".into()));
        let ok: T = from_value(json!({"name": "a", "r": 7, "n": null})).unwrap();
        assert_eq!(ok.r, Some(Ref("7".into())));
    }
}
