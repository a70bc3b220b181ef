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
