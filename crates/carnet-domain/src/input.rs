//! Raw submitted values, as forms and JSON bodies send them: what every parser
//! of the domain reads.

use crate::error::FieldErrors;
use serde::Serialize;
use std::collections::BTreeMap;

/// Raw submitted values: field name → values (several for tags, multiple choice).
/// Custom fields are named `cf.<key>`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RawInput(pub BTreeMap<String, Vec<String>>);

impl RawInput {
    pub fn from_pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            m.entry(k).or_default().push(v);
        }
        Self(m)
    }
    pub fn one(&self, k: &str) -> &str {
        self.0
            .get(k)
            .and_then(|v| v.iter().rev().find(|s| !s.trim().is_empty()))
            .map(String::as_str)
            .unwrap_or("")
    }
    pub fn all(&self, k: &str) -> &[String] {
        self.0.get(k).map(Vec::as_slice).unwrap_or(&[])
    }
    pub fn has(&self, k: &str) -> bool {
        self.0.contains_key(k)
    }
    pub fn set(&mut self, k: &str, v: impl Into<String>) {
        self.0.insert(k.to_string(), vec![v.into()]);
    }
    pub fn set_all(&mut self, k: &str, v: Vec<String>) {
        self.0.insert(k.to_string(), v);
    }
    /// Values from `other` replace ours key by key (a PATCH).
    pub fn overlay(&mut self, other: RawInput) {
        for (k, v) in other.0 {
            self.0.insert(k, v);
        }
    }
    /// Converts a JSON object (API body) to raw input: `custom` entries become
    /// `cf.<key>`, arrays become several values, `null` clears a field.
    pub fn from_json(v: &serde_json::Value) -> Result<Self, FieldErrors> {
        let obj = v.as_object().ok_or_else(|| FieldErrors::single("body", "must be a JSON object"))?;
        let mut out = RawInput::default();
        let mut errs = FieldErrors::new();
        for (k, v) in obj {
            if k == "custom" {
                match v {
                    serde_json::Value::Object(cf) => {
                        for (ck, cv) in cf {
                            match json_values(cv) {
                                Ok(vals) => out.set_all(&format!("cf.{ck}"), vals),
                                Err(e) => errs.add(format!("custom.{ck}"), e),
                            }
                        }
                    }
                    serde_json::Value::Null => {}
                    _ => errs.add("custom", "must be an object"),
                }
                continue;
            }
            match json_values(v) {
                Ok(vals) => out.set_all(k, vals),
                Err(e) => errs.add(k.clone(), e),
            }
        }
        errs.into_result().map(|_| out)
    }
}

fn json_values(v: &serde_json::Value) -> Result<Vec<String>, String> {
    use serde_json::Value::*;
    Ok(match v {
        Null => vec![],
        Bool(b) => vec![b.to_string()],
        Number(n) => vec![n.to_string()],
        String(s) => vec![s.clone()],
        Array(items) => {
            let mut out = Vec::new();
            for i in items {
                match i {
                    String(s) => out.push(s.clone()),
                    Number(n) => out.push(n.to_string()),
                    Bool(b) => out.push(b.to_string()),
                    _ => return Err("must be a list of plain values".into()),
                }
            }
            out
        }
        Object(_) => return Err("must be a plain value, not an object".into()),
    })
}

/// The JSON type a field of an API body must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A string (or null).
    Text,
    /// A reference: an id (a whole number) or a name or email (a string).
    Ref,
    /// A number, or a string holding one (money in decimal text keeps its cents).
    Number,
    /// true or false.
    Flag,
    /// A list of ids or names.
    List,
}

impl Shape {
    fn check(self, v: &serde_json::Value) -> Result<(), &'static str> {
        use serde_json::Value::*;
        match (self, v) {
            (_, Null) => Ok(()),
            (Shape::Text, String(_)) => Ok(()),
            (Shape::Text, _) => Err("must be a string"),
            (Shape::Ref, String(_)) => Ok(()),
            (Shape::Ref, Number(n)) if n.is_i64() => Ok(()),
            (Shape::Ref, _) => Err("must be an id (a whole number) or a name (a string)"),
            (Shape::Number, Number(_) | String(_)) => Ok(()),
            (Shape::Number, _) => Err("must be a number"),
            (Shape::Flag, Bool(_)) => Ok(()),
            (Shape::Flag, _) => Err("must be true or false"),
            (Shape::List, Array(items)) if items.iter().all(|i| i.is_string() || i.is_i64()) => Ok(()),
            (Shape::List, _) => Err("must be a list of ids or names"),
        }
    }
}

impl RawInput {
    /// Like [`RawInput::from_json`], but each field must have the JSON type its
    /// shape says (`custom` entries are looked up as `cf.<key>`): a string field
    /// given `true`, `42` or `["x", "y"]` is refused, naming the field, instead of
    /// being turned into text. Fields without a shape are left to the parser
    /// (which refuses unknown ones).
    pub fn from_json_shaped(v: &serde_json::Value, shape_of: impl Fn(&str) -> Option<Shape>) -> Result<Self, FieldErrors> {
        let mut errs = FieldErrors::new();
        if let Some(obj) = v.as_object() {
            for (k, val) in obj {
                if k == "custom" {
                    if !(val.is_object() || val.is_null()) {
                        errs.add("custom", "must be an object of custom field values by key");
                    }
                    for (ck, cv) in val.as_object().into_iter().flatten() {
                        let key = format!("cf.{ck}");
                        if let Some(Err(e)) = shape_of(&key).map(|s| s.check(cv)) {
                            errs.add(key, e);
                        }
                    }
                } else if let Some(Err(e)) = shape_of(k).map(|s| s.check(val)) {
                    errs.add(k.clone(), e);
                }
            }
        }
        errs.into_result()?;
        RawInput::from_json(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape(k: &str) -> Option<Shape> {
        match k {
            "name" => Some(Shape::Text),
            "owner" => Some(Shape::Ref),
            "amount" => Some(Shape::Number),
            "tags" => Some(Shape::List),
            "cf.vip" => Some(Shape::Flag),
            _ => None,
        }
    }

    #[test]
    fn each_field_must_have_its_json_type() {
        for (body, field) in [
            (json!({"name": true}), "name"),
            (json!({"name": 42}), "name"),
            (json!({"name": ["x", "y"]}), "name"),
            (json!({"owner": 1.5}), "owner"),
            (json!({"owner": {"id": 1}}), "owner"),
            (json!({"amount": false}), "amount"),
            (json!({"tags": [{"a": 1}]}), "tags"),
            (json!({"custom": {"vip": "yes"}}), "cf.vip"),
        ] {
            let e = RawInput::from_json_shaped(&body, shape).unwrap_err();
            assert!(e.get(field).is_some(), "{body} → {e:?}");
        }
        let ok = RawInput::from_json_shaped(
            &json!({"name": "Acme", "owner": 3, "amount": "12.50", "tags": ["Gold", 4], "custom": {"vip": true}, "other": 1}),
            shape,
        )
        .unwrap();
        assert_eq!(ok.one("name"), "Acme");
        assert_eq!(ok.all("tags"), ["Gold", "4"]);
        assert_eq!(ok.one("cf.vip"), "true");
        let ok = RawInput::from_json_shaped(&json!({"name": null, "owner": "ana@x.example"}), shape).unwrap();
        assert_eq!(ok.one("owner"), "ana@x.example");
    }
}
