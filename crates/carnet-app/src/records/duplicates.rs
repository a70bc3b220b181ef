//! Likely duplicates of a record being created (R11): same email, phone,
//! company identifier, normalised name or web domain.

use crate::db::{q, Db};
use crate::error::Result;
use carnet_domain::fields::Entity;
use carnet_domain::records::{AccountDraft, ContactDraft};
use carnet_domain::values::{company_id_key, company_key};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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

/// Matches kept per record and reason.
const LIMIT: usize = 10;

/// A check: the column, each record's value in it (if any), the reason.
type Check = (&'static str, Vec<Option<String>>, &'static str);

/// Runs checks for a batch of records: one query per column, whatever the
/// number of records (`col IN (…)`); each record gets its matches.
async fn run(db: &Db, entity: Entity, n: usize, checks: Vec<Check>) -> Result<Vec<Vec<Duplicate>>> {
    let mut out: Vec<Vec<Duplicate>> = vec![Vec::new(); n];
    let mut c = db.conn().await?;
    let (table, name) = match entity {
        Entity::Contact => ("contacts", "first_name, last_name"),
        _ => ("accounts", "NULL AS first_name, name AS last_name"),
    };
    for (col, values, reason) in checks {
        let mut wanted: Vec<String> = values.iter().flatten().filter(|v| !v.is_empty()).cloned().collect();
        wanted.sort();
        wanted.dedup();
        let mut found: std::collections::HashMap<String, Vec<(i64, String)>> = std::collections::HashMap::new();
        for chunk in wanted.chunks(500) {
            let mut query = q(format!("SELECT id, {name}, {col} FROM {table} WHERE {col} IN "));
            crate::db::push_in_list(&mut query, chunk);
            query.push(" ORDER BY id");
            let rows: Vec<(i64, Option<String>, String, String)> = query.fetch_all(&mut c).await?;
            for (id, first, last, key) in rows {
                let hits = found.entry(key).or_default();
                if hits.len() < LIMIT {
                    hits.push((id, super::contacts::display_name(first.as_deref(), &last)));
                }
            }
        }
        for (i, v) in values.iter().enumerate() {
            for (id, name) in v.as_ref().and_then(|v| found.get(v)).into_iter().flatten() {
                add(&mut out[i], entity, *id, name.clone(), reason);
            }
        }
    }
    Ok(out)
}

/// Likely duplicates of accounts being created, for each of them.
pub async fn for_accounts(db: &Db, drafts: &[&AccountDraft]) -> Result<Vec<Vec<Duplicate>>> {
    let col = |f: &dyn Fn(&AccountDraft) -> Option<String>| drafts.iter().map(|d| f(d)).collect::<Vec<_>>();
    let checks: Vec<Check> = vec![
        ("company_key", col(&|d| Some(company_key(&d.name))), "same_name"),
        ("email", col(&|d| d.email.as_ref().map(|e| e.normalized())), "same_email"),
        ("phone_key", col(&|d| d.phone.as_ref().map(|p| p.digits.clone())), "same_phone"),
        (
            "company_id_key",
            col(&|d| d.company_id.as_deref().map(company_id_key)),
            "same_company_id",
        ),
        ("domain", col(&|d| d.website.as_ref().map(|w| w.domain.clone())), "same_domain"),
    ];
    run(db, Entity::Account, drafts.len(), checks).await
}

pub async fn for_account(db: &Db, d: &AccountDraft) -> Result<Vec<Duplicate>> {
    Ok(for_accounts(db, &[d]).await?.remove(0))
}

/// Likely duplicates of contacts being created, for each of them.
pub async fn for_contacts(db: &Db, drafts: &[&ContactDraft]) -> Result<Vec<Vec<Duplicate>>> {
    let col = |f: &dyn Fn(&ContactDraft) -> Option<String>| drafts.iter().map(|d| f(d)).collect::<Vec<_>>();
    let mut checks: Vec<Check> = vec![
        (
            "name_key",
            col(&|d| Some(super::contacts::name_key(d.first_name.as_deref(), &d.last_name))),
            "same_name",
        ),
        ("email_key", col(&|d| d.email.as_ref().map(|e| e.normalized())), "same_email"),
    ];
    for number in [
        |d: &ContactDraft| d.phone.as_ref().map(|p| p.digits.clone()),
        |d: &ContactDraft| d.mobile.as_ref().map(|p| p.digits.clone()),
    ] {
        checks.push(("phone_key", col(&number), "same_phone"));
        checks.push(("mobile_key", col(&number), "same_phone"));
    }
    run(db, Entity::Contact, drafts.len(), checks).await
}

pub async fn for_contact(db: &Db, d: &ContactDraft) -> Result<Vec<Duplicate>> {
    Ok(for_contacts(db, &[d]).await?.remove(0))
}
