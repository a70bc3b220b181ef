//! Instant search across accounts and contacts (R10) through the token index.

use crate::db::{dialect::bulk_insert, push_in_list, q, Db, Handle, Tx, Value};
use crate::error::Result;
use carnet_domain::fields::Entity;
use carnet_domain::search::{prefix_upper_bound, query_terms};
use serde::Serialize;

/// Replaces a record's tokens.
pub async fn index(tx: &mut Tx, entity: Entity, id: i64, tokens: &[String]) -> Result<()> {
    unindex(tx, entity, id).await?;
    let rows: Vec<Vec<Value>> = tokens
        .iter()
        .map(|t| vec![t.clone().into(), entity.as_str().into(), id.into()])
        .collect();
    bulk_insert(tx, "search_tokens", &["token", "entity", "record_id"], &rows).await?;
    Ok(())
}

pub async fn unindex(h: &mut impl Handle, entity: Entity, id: i64) -> Result<()> {
    q("DELETE FROM search_tokens WHERE entity = $1 AND record_id = $2")
        .bind(entity.as_str())
        .bind(id)
        .execute(h)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Hit {
    pub entity: Entity,
    pub id: i64,
    pub name: String,
    /// Email, city or account: what tells two hits of the same name apart.
    pub detail: Option<String>,
}

/// Records whose tokens start with every word of the query, at most `limit`.
pub async fn search(db: &Db, query: &str, limit: usize) -> Result<Vec<Hit>> {
    let terms = query_terms(query);
    let Some(first) = terms.first() else { return Ok(vec![]) };
    let mut sql = q("SELECT t.entity, t.record_id FROM search_tokens t WHERE t.token >= ");
    sql.push_bind(first.clone())
        .push(" AND t.token < ")
        .push_bind(prefix_upper_bound(first));
    for term in &terms[1..] {
        sql.push(" AND EXISTS (SELECT 1 FROM search_tokens t2 WHERE t2.entity = t.entity AND t2.record_id = t.record_id AND t2.token >= ")
            .push_bind(term.clone())
            .push(" AND t2.token < ")
            .push_bind(prefix_upper_bound(term))
            .push(")");
    }
    // A record matches through several tokens at most a few times: read a margin
    // and de-duplicate here rather than ask the database for DISTINCT over the range.
    sql.push(" LIMIT ").push_bind((limit * 4) as i64);
    let mut conn = db.conn().await?;
    let rows: Vec<(String, i64)> = sql.fetch_all(&mut conn).await?;
    let mut accounts = Vec::new();
    let mut contacts = Vec::new();
    let mut opportunities = Vec::new();
    let mut order = Vec::new();
    for (e, id) in rows {
        let key = (e.clone(), id);
        if order.contains(&key) {
            continue;
        }
        if order.len() >= limit {
            break;
        }
        order.push(key);
        if e == "account" {
            accounts.push(id);
        } else if e == "contact" {
            contacts.push(id);
        } else if e == "opportunity" {
            opportunities.push(id);
        }
    }
    let mut hits = Vec::new();
    if !accounts.is_empty() {
        let mut a = q("SELECT id, name, city FROM accounts WHERE id IN ");
        push_in_list(&mut a, &accounts);
        for (id, name, city) in a.fetch_all::<(i64, String, Option<String>)>(&mut conn).await? {
            hits.push(Hit {
                entity: Entity::Account,
                id,
                name,
                detail: city,
            });
        }
    }
    if !contacts.is_empty() {
        let mut c = q("SELECT id, first_name, last_name, email FROM contacts WHERE id IN ");
        push_in_list(&mut c, &contacts);
        for (id, first, last, email) in c.fetch_all::<(i64, Option<String>, String, Option<String>)>(&mut conn).await? {
            hits.push(Hit {
                entity: Entity::Contact,
                id,
                name: super::contacts::display_name(first.as_deref(), &last),
                detail: email,
            });
        }
    }
    if !opportunities.is_empty() {
        let mut o = q("SELECT o.id, o.name, a.name FROM opportunities o JOIN accounts a ON a.id = o.account_id WHERE o.id IN ");
        push_in_list(&mut o, &opportunities);
        for (id, name, account) in o.fetch_all::<(i64, String, String)>(&mut conn).await? {
            hits.push(Hit {
                entity: Entity::Opportunity,
                id,
                name,
                detail: Some(account),
            });
        }
    }
    // Accounts, contacts, then opportunities, each by name: a stable order.
    let rank = |e: Entity| match e {
        Entity::Account => 0,
        Entity::Contact => 1,
        Entity::Opportunity => 2,
    };
    hits.sort_by_key(|h| (rank(h.entity), h.name.to_lowercase()));
    Ok(hits)
}
