//! Typed custom fields (SPEC R4): the kinds, and parsing a raw value for a kind.

use crate::values::{optional_text, EmailAddress, Money, Phone, WebUrl, MAX_LONG_TEXT, MAX_SHORT_TEXT};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The record types that carry tags, custom fields and a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Entity {
    Account,
    Contact,
    Opportunity,
}

impl Entity {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "account" => Ok(Entity::Account),
            "contact" => Ok(Entity::Contact),
            "opportunity" => Ok(Entity::Opportunity),
            _ => Err("must be account, contact or opportunity".into()),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Account => "account",
            Entity::Contact => "contact",
            Entity::Opportunity => "opportunity",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    LongText,
    Number,
    Currency,
    Date,
    Boolean,
    SingleChoice,
    MultipleChoice,
    Url,
    Email,
    Phone,
}

impl FieldKind {
    pub const ALL: [FieldKind; 11] = [
        FieldKind::Text,
        FieldKind::LongText,
        FieldKind::Number,
        FieldKind::Currency,
        FieldKind::Date,
        FieldKind::Boolean,
        FieldKind::SingleChoice,
        FieldKind::MultipleChoice,
        FieldKind::Url,
        FieldKind::Email,
        FieldKind::Phone,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            FieldKind::Text => "text",
            FieldKind::LongText => "long_text",
            FieldKind::Number => "number",
            FieldKind::Currency => "currency",
            FieldKind::Date => "date",
            FieldKind::Boolean => "boolean",
            FieldKind::SingleChoice => "single_choice",
            FieldKind::MultipleChoice => "multiple_choice",
            FieldKind::Url => "url",
            FieldKind::Email => "email",
            FieldKind::Phone => "phone",
        }
    }
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| "is not a known field type".to_string())
    }
    pub fn has_choices(self) -> bool {
        matches!(self, FieldKind::SingleChoice | FieldKind::MultipleChoice)
    }
    /// Whether list filters and sorting compare the numeric column.
    pub fn is_numeric(self) -> bool {
        matches!(self, FieldKind::Number | FieldKind::Currency | FieldKind::Boolean)
    }
}

/// A custom field's definition as the parser needs it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct FieldDef {
    pub id: i64,
    pub entity: Entity,
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub choices: Vec<String>,
}

/// One stored row of a value: (text column, numeric column).
pub type StoredValue = (Option<String>, Option<f64>);

/// A parsed custom-field value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    Text(String),
    Number(f64),
    /// Minor units (cents).
    Money(i64),
    Date(NaiveDate),
    Bool(bool),
    Choices(Vec<String>),
}

impl FieldValue {
    /// The rows stored for this value: (text column, numeric column). Multiple choice
    /// stores one row per choice so that filters use an index.
    pub fn storage_rows(&self) -> Vec<StoredValue> {
        match self {
            FieldValue::Text(s) => vec![(Some(s.clone()), None)],
            FieldValue::Number(n) => vec![(None, Some(*n))],
            FieldValue::Money(c) => vec![(None, Some(*c as f64))],
            FieldValue::Date(d) => vec![(Some(d.format("%Y-%m-%d").to_string()), None)],
            FieldValue::Bool(b) => vec![(None, Some(if *b { 1.0 } else { 0.0 }))],
            FieldValue::Choices(cs) => cs.iter().map(|c| (Some(c.clone()), None)).collect(),
        }
    }

    /// Rebuilds a value from its stored rows.
    pub fn from_rows(kind: FieldKind, rows: &[StoredValue]) -> Option<Self> {
        let first = rows.first()?;
        Some(match kind {
            FieldKind::Number => FieldValue::Number(first.1?),
            FieldKind::Currency => FieldValue::Money(first.1? as i64),
            FieldKind::Boolean => FieldValue::Bool(first.1? != 0.0),
            FieldKind::Date => FieldValue::Date(NaiveDate::parse_from_str(first.0.as_deref()?, "%Y-%m-%d").ok()?),
            FieldKind::MultipleChoice => FieldValue::Choices(rows.iter().filter_map(|r| r.0.clone()).collect()),
            _ => FieldValue::Text(first.0.clone()?),
        })
    }

    /// The plain form used in forms, CSV and for re-parsing.
    pub fn to_plain(&self) -> Vec<String> {
        match self {
            FieldValue::Text(s) => vec![s.clone()],
            FieldValue::Number(n) => vec![format_number_plain(*n)],
            FieldValue::Money(c) => vec![Money(*c).to_plain()],
            FieldValue::Date(d) => vec![d.format("%Y-%m-%d").to_string()],
            FieldValue::Bool(b) => vec![if *b { "true" } else { "false" }.into()],
            FieldValue::Choices(cs) => cs.clone(),
        }
    }

    /// JSON form for the API.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            FieldValue::Money(c) => serde_json::Value::String(Money(*c).to_plain()),
            FieldValue::Date(d) => serde_json::Value::String(d.format("%Y-%m-%d").to_string()),
            other => serde_json::to_value(other).unwrap_or(serde_json::Value::Null),
        }
    }
}

pub fn format_number_plain(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Parses the raw values typed for a field. Empty input is `Ok(None)`.
pub fn parse_value(def: &FieldDef, raws: &[String]) -> Result<Option<FieldValue>, String> {
    let nonempty: Vec<&str> = raws.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect();
    if nonempty.is_empty() {
        // An unchecked box is an explicit "false" only when the form says so.
        return Ok(None);
    }
    if def.kind != FieldKind::MultipleChoice && nonempty.len() > 1 {
        return Err("takes a single value".into());
    }
    let one = nonempty[0];
    let v = match def.kind {
        FieldKind::Text => FieldValue::Text(one_line(optional_text(one, MAX_SHORT_TEXT)?)?),
        FieldKind::LongText => FieldValue::Text(optional_text(one, MAX_LONG_TEXT)?.unwrap_or_default()),
        FieldKind::Number => {
            let n: f64 = one.replace(',', ".").parse().map_err(|_| "must be a number".to_string())?;
            if !n.is_finite() || n.abs() > 1e15 {
                return Err("must be a finite number".into());
            }
            FieldValue::Number(n)
        }
        FieldKind::Currency => FieldValue::Money(Money::parse(one)?.0),
        FieldKind::Date => FieldValue::Date(
            NaiveDate::parse_from_str(one, "%Y-%m-%d")
                .or_else(|_| NaiveDate::parse_from_str(one, "%d/%m/%Y"))
                .map_err(|_| "must be a date (YYYY-MM-DD)".to_string())?,
        ),
        FieldKind::Boolean => match one.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" | "oui" => FieldValue::Bool(true),
            "false" | "0" | "no" | "off" | "non" => FieldValue::Bool(false),
            _ => return Err("must be true or false".into()),
        },
        FieldKind::SingleChoice => FieldValue::Text(choice(def, one)?),
        FieldKind::MultipleChoice => {
            let mut out = Vec::new();
            for v in nonempty {
                let c = choice(def, v)?;
                if !out.contains(&c) {
                    out.push(c);
                }
            }
            FieldValue::Choices(out)
        }
        FieldKind::Url => FieldValue::Text(WebUrl::parse(one)?.url),
        FieldKind::Email => FieldValue::Text(EmailAddress::parse(one)?.as_str().to_string()),
        FieldKind::Phone => FieldValue::Text(Phone::parse(one)?.display),
    };
    Ok(Some(v))
}

fn one_line(t: Option<String>) -> Result<String, String> {
    let t = t.unwrap_or_default();
    if t.contains('\n') {
        return Err("must be on one line".into());
    }
    Ok(t)
}

fn choice(def: &FieldDef, v: &str) -> Result<String, String> {
    def.choices
        .iter()
        .find(|c| c.eq_ignore_ascii_case(v))
        .cloned()
        .ok_or_else(|| format!("“{v}” is not one of the choices: {}", def.choices.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: FieldKind) -> FieldDef {
        FieldDef {
            id: 1,
            entity: Entity::Account,
            key: "f".into(),
            label: "F".into(),
            kind,
            choices: vec!["Red".into(), "Blue".into()],
        }
    }

    #[test]
    fn parses_each_kind() {
        let p = |k, v: &[&str]| parse_value(&def(k), &v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(p(FieldKind::Number, &["12,5"]).unwrap(), Some(FieldValue::Number(12.5)));
        assert!(p(FieldKind::Number, &["abc"]).is_err());
        assert_eq!(p(FieldKind::Currency, &["10,50"]).unwrap(), Some(FieldValue::Money(1050)));
        assert!(p(FieldKind::Date, &["2026-02-30"]).is_err());
        assert_eq!(p(FieldKind::Boolean, &["on"]).unwrap(), Some(FieldValue::Bool(true)));
        assert_eq!(p(FieldKind::SingleChoice, &["red"]).unwrap(), Some(FieldValue::Text("Red".into())));
        assert!(p(FieldKind::SingleChoice, &["Green"]).is_err());
        assert!(p(FieldKind::SingleChoice, &["Red", "Blue"]).is_err());
        assert_eq!(
            p(FieldKind::MultipleChoice, &["Red", "blue"]).unwrap(),
            Some(FieldValue::Choices(vec!["Red".into(), "Blue".into()]))
        );
        assert!(p(FieldKind::Email, &["x"]).is_err());
        assert_eq!(p(FieldKind::Text, &["  "]).unwrap(), None);
    }

    #[test]
    fn storage_round_trip() {
        for (k, v) in [
            (FieldKind::Number, FieldValue::Number(3.25)),
            (FieldKind::Currency, FieldValue::Money(-1999)),
            (FieldKind::Boolean, FieldValue::Bool(false)),
            (FieldKind::Date, FieldValue::Date(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())),
            (FieldKind::MultipleChoice, FieldValue::Choices(vec!["Red".into(), "Blue".into()])),
        ] {
            assert_eq!(FieldValue::from_rows(k, &v.storage_rows()), Some(v));
        }
    }
}
