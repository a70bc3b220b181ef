//! Likely duplicates of a record being created (R11): same email, phone,
//! company identifier, normalised name or web domain.

use crate::db::{q, Db};
use crate::error::Result;
use carnet_domain::fields::Entity;
use carnet_domain::records::{AccountDraft, ContactDraft};
use carnet_domain::values::{company_id_key, company_key};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    pub entity: Entity,
    pub id: i64,
    pub name: String,
    /// Why it matched: `same_email`, `same_phone`, `same_company_id`, `same_name`, `same_domain`.
    pub reasons: Vec<&'static str>,
}

fn add(out: &mut Vec<Duplicate>, entity: Entity, id: i64, name: String, reason: &'static str) {
    match out.iter_mut().find(|d| d.id == id && d.entity == entity) {
        Some(d) if !d.reasons.contains(&reason) => d.reasons.push(reason),
        Some(_) => {}
        None => out.push(Duplicate {
            entity,
            id,
            name,
            reasons: vec![reason],
        }),
    }
}

const LIMIT: &str = " LIMIT 10";

pub async fn for_account(db: &Db, d: &AccountDraft) -> Result<Vec<Duplicate>> {
    let mut c = db.conn().await?;
    let mut out = Vec::new();
    let mut checks: Vec<(&str, String, &'static str)> = vec![("company_key", company_key(&d.name), "same_name")];
    if let Some(e) = &d.email {
        checks.push(("email", e.normalized(), "same_email"));
    }
    if let Some(p) = &d.phone {
        checks.push(("phone_key", p.digits.clone(), "same_phone"));
    }
    if let Some(id) = &d.company_id {
        checks.push(("company_id_key", company_id_key(id), "same_company_id"));
    }
    if let Some(w) = &d.website {
        checks.push(("domain", w.domain.clone(), "same_domain"));
    }
    for (col, value, reason) in checks {
        if value.is_empty() {
            continue;
        }
        let rows: Vec<(i64, String)> = q(format!("SELECT id, name FROM accounts WHERE {col} = $1 ORDER BY id{LIMIT}"))
            .bind(value)
            .fetch_all(&mut c)
            .await?;
        for (id, name) in rows {
            add(&mut out, Entity::Account, id, name, reason);
        }
    }
    Ok(out)
}

pub async fn for_contact(db: &Db, d: &ContactDraft) -> Result<Vec<Duplicate>> {
    let mut c = db.conn().await?;
    let mut out = Vec::new();
    let mut checks: Vec<(&str, String, &'static str)> = vec![(
        "name_key",
        super::contacts::name_key(d.first_name.as_deref(), &d.last_name),
        "same_name",
    )];
    if let Some(e) = &d.email {
        checks.push(("email_key", e.normalized(), "same_email"));
    }
    for p in [&d.phone, &d.mobile].into_iter().flatten() {
        checks.push(("phone_key", p.digits.clone(), "same_phone"));
        checks.push(("mobile_key", p.digits.clone(), "same_phone"));
    }
    for (col, value, reason) in checks {
        let rows: Vec<(i64, Option<String>, String)> = q(format!(
            "SELECT id, first_name, last_name FROM contacts WHERE {col} = $1 ORDER BY id{LIMIT}"
        ))
        .bind(value)
        .fetch_all(&mut c)
        .await?;
        for (id, first, last) in rows {
            add(
                &mut out,
                Entity::Contact,
                id,
                super::contacts::display_name(first.as_deref(), &last),
                reason,
            );
        }
    }
    Ok(out)
}
