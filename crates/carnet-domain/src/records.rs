//! Accounts and contacts as users submit them (SPEC R1–R5): one parser for HTML
//! forms and JSON bodies, that resolves statuses, owners, tags and custom fields
//! against the catalogue and applies the mandatory rules.

use crate::error::FieldErrors;
use crate::fields::{parse_value, Entity, FieldValue};
use crate::values::{optional_text, required_name, EmailAddress, Phone, WebUrl, MAX_LONG_TEXT, MAX_SHORT_TEXT};
use serde::Serialize;

pub use crate::catalog::{Catalog, CategoryDef, RoleDef, RuleDef, StatusDef, TagDef, UserRef};
pub use crate::input::RawInput;

#[derive(Debug, Clone, Serialize)]
pub struct AccountDraft {
    pub name: String,
    pub status_id: i64,
    pub owner_id: Option<i64>,
    pub email: Option<EmailAddress>,
    pub phone: Option<Phone>,
    pub website: Option<WebUrl>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub company_id: Option<String>,
    pub vat_number: Option<String>,
    pub source: Option<String>,
    pub description: Option<String>,
    pub tag_ids: Vec<i64>,
    pub custom: Vec<(i64, FieldValue)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ContactDraft {
    pub first_name: Option<String>,
    pub last_name: String,
    pub email: Option<EmailAddress>,
    pub phone: Option<Phone>,
    pub mobile: Option<Phone>,
    pub job_title: Option<String>,
    pub owner_id: Option<i64>,
    pub source: Option<String>,
    pub address: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub description: Option<String>,
    pub tag_ids: Vec<i64>,
    pub custom: Vec<(i64, FieldValue)>,
}

/// Standard fields that mandatory rules may name, per entity.
pub const ACCOUNT_FIELDS: &[&str] = &[
    "owner",
    "email",
    "phone",
    "website",
    "address",
    "postal_code",
    "city",
    "country",
    "company_id",
    "vat_number",
    "source",
    "description",
    "tags",
];
pub const CONTACT_FIELDS: &[&str] = &[
    "first_name",
    "owner",
    "email",
    "phone",
    "mobile",
    "job_title",
    "source",
    "address",
    "postal_code",
    "city",
    "country",
    "description",
    "tags",
];

const KNOWN_ACCOUNT_KEYS: &[&str] = &["name", "status"];
const KNOWN_CONTACT_KEYS: &[&str] = &["last_name"];

fn short(errs: &mut FieldErrors, input: &RawInput, k: &str) -> Option<String> {
    errs.check(k, optional_text(input.one(k), MAX_SHORT_TEXT)).flatten()
}

fn long(errs: &mut FieldErrors, input: &RawInput, k: &str) -> Option<String> {
    errs.check(k, optional_text(input.one(k), MAX_LONG_TEXT)).flatten()
}

fn opt_parse<T>(errs: &mut FieldErrors, input: &RawInput, k: &str, f: impl Fn(&str) -> Result<T, String>) -> Option<T> {
    let raw = input.one(k);
    if raw.trim().is_empty() {
        return None;
    }
    errs.check(k, f(raw))
}

/// Unknown keys are refused so that a typo in an API call is not silently ignored.
fn refuse_unknown(
    errs: &mut FieldErrors,
    input: &RawInput,
    cat: &Catalog,
    entity: Entity,
    standard: &[&str],
    extra: &[&str],
    ignored: &[&str],
) {
    for k in input.0.keys() {
        if let Some(key) = k.strip_prefix("cf.") {
            if !cat.fields_for(entity).any(|f| f.key == key) {
                errs.add(k.clone(), "is not a custom field of this record type");
            }
        } else if !standard.contains(&k.as_str()) && !extra.contains(&k.as_str()) && !ignored.contains(&k.as_str()) {
            errs.add(k.clone(), "is not a known field");
        }
    }
}

fn parse_custom(errs: &mut FieldErrors, input: &RawInput, cat: &Catalog, entity: Entity) -> Vec<(i64, FieldValue)> {
    let mut out = Vec::new();
    for f in cat.fields_for(entity) {
        let k = format!("cf.{}", f.key);
        if let Some(Some(v)) = errs.check(&k, parse_value(f, input.all(&k))) {
            out.push((f.id, v));
        }
    }
    out
}

/// Applies mandatory rules. `present(field)` tells whether a field has a value.
fn apply_rules(errs: &mut FieldErrors, cat: &Catalog, entity: Entity, status_id: Option<i64>, present: impl Fn(&str) -> bool) {
    let position = status_id.and_then(|id| cat.status(id)).map(|s| s.position);
    for r in cat.rules.iter().filter(|r| r.entity == entity) {
        let applies = match r.from_status_id.and_then(|id| cat.status(id)) {
            None => true,
            Some(from) => position.is_some_and(|p| p >= from.position),
        };
        if applies && !present(&r.field) {
            let reason = match r.from_status_id.and_then(|id| cat.status(id)) {
                Some(from) => format!("is mandatory from status “{}” on", from.name),
                None => "is mandatory".to_string(),
            };
            errs.add(r.field.clone(), reason);
        }
    }
}

impl AccountDraft {
    /// `ignored` lists keys the caller handles itself (CSRF token, "create anyway").
    pub fn parse(input: &RawInput, cat: &Catalog, ignored: &[&str]) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        refuse_unknown(&mut e, input, cat, Entity::Account, ACCOUNT_FIELDS, KNOWN_ACCOUNT_KEYS, ignored);
        let name = e.check("name", required_name(input.one("name")));
        let status_id = if input.one("status").trim().is_empty() {
            cat.statuses.iter().find(|s| s.is_default).or(cat.statuses.first()).map(|s| s.id)
        } else {
            e.check("status", cat.resolve_status(input.one("status")))
        };
        if status_id.is_none() && !e.0.contains_key("status") {
            e.add("status", "is required");
        }
        let draft = AccountDraft {
            name: name.unwrap_or_default(),
            status_id: status_id.unwrap_or_default(),
            owner_id: opt_parse(&mut e, input, "owner", |s| cat.resolve_user(s)),
            email: opt_parse(&mut e, input, "email", EmailAddress::parse),
            phone: opt_parse(&mut e, input, "phone", Phone::parse),
            website: opt_parse(&mut e, input, "website", WebUrl::parse),
            address: long(&mut e, input, "address"),
            postal_code: short(&mut e, input, "postal_code"),
            city: short(&mut e, input, "city"),
            country: short(&mut e, input, "country"),
            company_id: short(&mut e, input, "company_id"),
            vat_number: short(&mut e, input, "vat_number"),
            source: short(&mut e, input, "source"),
            description: long(&mut e, input, "description"),
            tag_ids: e.check("tags", cat.resolve_tags(input.all("tags"))).unwrap_or_default(),
            custom: parse_custom(&mut e, input, cat, Entity::Account),
        };
        if e.is_empty() {
            apply_rules(&mut e, cat, Entity::Account, Some(draft.status_id), |f| draft.has(f, cat));
        }
        e.into_result().map(|_| draft)
    }

    fn has(&self, field: &str, cat: &Catalog) -> bool {
        match field {
            "owner" => self.owner_id.is_some(),
            "email" => self.email.is_some(),
            "phone" => self.phone.is_some(),
            "website" => self.website.is_some(),
            "address" => self.address.is_some(),
            "postal_code" => self.postal_code.is_some(),
            "city" => self.city.is_some(),
            "country" => self.country.is_some(),
            "company_id" => self.company_id.is_some(),
            "vat_number" => self.vat_number.is_some(),
            "source" => self.source.is_some(),
            "description" => self.description.is_some(),
            "tags" => !self.tag_ids.is_empty(),
            other => has_custom(other, &self.custom, cat),
        }
    }
}

fn has_custom(field: &str, custom: &[(i64, FieldValue)], cat: &Catalog) -> bool {
    let Some(key) = field.strip_prefix("cf.") else { return true };
    cat.fields.iter().find(|f| f.key == key).is_some_and(|f| {
        custom
            .iter()
            .any(|(id, v)| *id == f.id && !matches!(v, FieldValue::Choices(c) if c.is_empty()))
    })
}

impl ContactDraft {
    pub fn parse(input: &RawInput, cat: &Catalog, ignored: &[&str]) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        refuse_unknown(&mut e, input, cat, Entity::Contact, CONTACT_FIELDS, KNOWN_CONTACT_KEYS, ignored);
        let last_name = e.check("last_name", required_name(input.one("last_name")));
        let draft = ContactDraft {
            first_name: short(&mut e, input, "first_name"),
            last_name: last_name.unwrap_or_default(),
            email: opt_parse(&mut e, input, "email", EmailAddress::parse),
            phone: opt_parse(&mut e, input, "phone", Phone::parse),
            mobile: opt_parse(&mut e, input, "mobile", Phone::parse),
            job_title: short(&mut e, input, "job_title"),
            owner_id: opt_parse(&mut e, input, "owner", |s| cat.resolve_user(s)),
            source: short(&mut e, input, "source"),
            address: long(&mut e, input, "address"),
            postal_code: short(&mut e, input, "postal_code"),
            city: short(&mut e, input, "city"),
            country: short(&mut e, input, "country"),
            description: long(&mut e, input, "description"),
            tag_ids: e.check("tags", cat.resolve_tags(input.all("tags"))).unwrap_or_default(),
            custom: parse_custom(&mut e, input, cat, Entity::Contact),
        };
        if e.is_empty() {
            apply_rules(&mut e, cat, Entity::Contact, None, |f| draft.has(f, cat));
        }
        e.into_result().map(|_| draft)
    }

    pub fn full_name(&self) -> String {
        match &self.first_name {
            Some(f) => format!("{f} {}", self.last_name),
            None => self.last_name.clone(),
        }
    }

    fn has(&self, field: &str, cat: &Catalog) -> bool {
        match field {
            "first_name" => self.first_name.is_some(),
            "owner" => self.owner_id.is_some(),
            "email" => self.email.is_some(),
            "phone" => self.phone.is_some(),
            "mobile" => self.mobile.is_some(),
            "job_title" => self.job_title.is_some(),
            "source" => self.source.is_some(),
            "address" => self.address.is_some(),
            "postal_code" => self.postal_code.is_some(),
            "city" => self.city.is_some(),
            "country" => self.country.is_some(),
            "description" => self.description.is_some(),
            "tags" => !self.tag_ids.is_empty(),
            other => has_custom(other, &self.custom, cat),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::{FieldDef, FieldKind};

    fn catalog() -> Catalog {
        Catalog {
            statuses: vec![
                StatusDef {
                    id: 1,
                    name: "Prospect".into(),
                    position: 1,
                    color: "#888".into(),
                    is_default: true,
                },
                StatusDef {
                    id: 2,
                    name: "Customer".into(),
                    position: 2,
                    color: "#0a0".into(),
                    is_default: false,
                },
            ],
            categories: vec![CategoryDef {
                id: 1,
                name: "Potential".into(),
                multi: false,
                is_segment: true,
                tags: vec![
                    TagDef {
                        id: 10,
                        category_id: 1,
                        name: "Gold".into(),
                        color: "#d4a".into(),
                    },
                    TagDef {
                        id: 11,
                        category_id: 1,
                        name: "Silver".into(),
                        color: "#aaa".into(),
                    },
                ],
            }],
            fields: vec![FieldDef {
                id: 5,
                entity: Entity::Account,
                key: "printers".into(),
                label: "Printers".into(),
                kind: FieldKind::Number,
                choices: vec![],
            }],
            rules: vec![RuleDef {
                id: 1,
                entity: Entity::Account,
                field: "phone".into(),
                from_status_id: Some(2),
            }],
            users: vec![UserRef {
                id: 7,
                name: "Ana".into(),
                email: "ana@x.fr".into(),
                active: true,
            }],
            roles: vec![],
            sales: Default::default(),
        }
    }

    fn input(pairs: &[(&str, &str)]) -> RawInput {
        RawInput::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
    }

    #[test]
    fn account_parses_and_resolves() {
        let d = AccountDraft::parse(
            &input(&[("name", "Acme"), ("tags", "gold"), ("cf.printers", "12"), ("owner", "ana@x.fr")]),
            &catalog(),
            &[],
        )
        .unwrap();
        assert_eq!(d.status_id, 1);
        assert_eq!(d.tag_ids, vec![10]);
        assert_eq!(d.owner_id, Some(7));
        assert_eq!(d.custom, vec![(5, FieldValue::Number(12.0))]);
    }

    #[test]
    fn errors_name_the_field() {
        let e = AccountDraft::parse(
            &input(&[
                ("name", ""),
                ("email", "nope"),
                ("tags", "Gold"),
                ("tags", "Silver"),
                ("cf.printers", "x"),
                ("bogus", "1"),
            ]),
            &catalog(),
            &[],
        )
        .unwrap_err();
        for f in ["name", "email", "tags", "cf.printers", "bogus"] {
            assert!(e.get(f).is_some(), "{f} in {e:?}");
        }
    }

    #[test]
    fn mandatory_from_status() {
        let cat = catalog();
        assert!(AccountDraft::parse(&input(&[("name", "A"), ("status", "Prospect")]), &cat, &[]).is_ok());
        let e = AccountDraft::parse(&input(&[("name", "A"), ("status", "customer")]), &cat, &[]).unwrap_err();
        assert_eq!(e.get("phone"), Some("is mandatory from status “Customer” on"));
        assert!(AccountDraft::parse(&input(&[("name", "A"), ("status", "Customer"), ("phone", "0102030405")]), &cat, &[]).is_ok());
    }

    #[test]
    fn json_input() {
        let j = serde_json::json!({"name": "Acme", "tags": ["Potential/Gold"], "custom": {"printers": 3}});
        let d = AccountDraft::parse(&RawInput::from_json(&j).unwrap(), &catalog(), &[]).unwrap();
        assert_eq!(d.tag_ids, vec![10]);
        assert!(RawInput::from_json(&serde_json::json!({"name": {"a": 1}})).is_err());
    }
}
