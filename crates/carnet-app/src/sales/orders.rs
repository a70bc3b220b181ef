//! Orders and invoices (S6): entered by hand or pushed by an invoicing tool; they
//! feed revenue, average basket and customer lifetime value.

use crate::access::User;
use crate::db::{q, Db};
use crate::error::{AppError, Result};
use carnet_domain::sales::OrderDraft;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Order {
    pub id: i64,
    pub account_id: i64,
    pub number: String,
    pub order_date: String,
    pub amount: i64,
    pub margin: Option<i64>,
    pub currency: String,
    pub offer_id: Option<i64>,
    pub created_at: i64,
}

const COLS: &str = "id, account_id, number, order_date, amount, margin, currency, offer_id, created_at";

/// A customer's orders over its lifetime.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Lifetime {
    pub currency: String,
    pub orders: i64,
    pub revenue: i64,
    pub margin: i64,
}

async fn write(db: &Db, actor: &User, id: Option<i64>, d: &OrderDraft) -> Result<i64> {
    let mut tx = db.begin().await?;
    if !super::exists(&mut tx, "accounts", d.account_id).await? {
        return Err(AppError::field("account", "is not a known account"));
    }
    let r = match id {
        None => q(
            "INSERT INTO orders (account_id, number, order_date, amount, margin, currency, offer_id, created_by, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(d.account_id)
        .bind(d.number.clone())
        .bind(d.order_date.to_string())
        .bind(d.amount)
        .bind(d.margin)
        .bind(d.currency.clone())
        .bind(d.offer_id)
        .bind(actor.id)
        .bind(tx.now()),
        Some(id) => q(
            "UPDATE orders SET account_id = $1, number = $2, order_date = $3, amount = $4, margin = $5, currency = $6, offer_id = $7 \
                       WHERE id = $8 RETURNING id",
        )
        .bind(d.account_id)
        .bind(d.number.clone())
        .bind(d.order_date.to_string())
        .bind(d.amount)
        .bind(d.margin)
        .bind(d.currency.clone())
        .bind(d.offer_id)
        .bind(id),
    };
    let id = match r.scalar_opt::<i64>(&mut tx).await {
        Ok(Some(id)) => id,
        Ok(None) => return Err(AppError::NotFound),
        Err(e) if crate::db::is_unique_violation(&e) => return Err(AppError::field("number", "is already used by another order")),
        Err(e) => return Err(e.into()),
    };
    tx.commit().await?;
    Ok(id)
}

pub async fn create(db: &Db, actor: &User, d: &OrderDraft) -> Result<i64> {
    write(db, actor, None, d).await
}

pub async fn update(db: &Db, actor: &User, id: i64, d: &OrderDraft) -> Result<()> {
    write(db, actor, Some(id), d).await.map(drop)
}

pub async fn get(db: &Db, id: i64) -> Result<Order> {
    q(format!("SELECT {COLS} FROM orders WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn delete(db: &Db, id: i64) -> Result<()> {
    crate::db::delete_by_id(db, "orders", id).await
}

pub async fn for_account(db: &Db, account_id: i64) -> Result<Vec<Order>> {
    Ok(q(format!(
        "SELECT {COLS} FROM orders WHERE account_id = $1 ORDER BY order_date DESC, id DESC LIMIT 500"
    ))
    .bind(account_id)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

pub async fn lifetime(db: &Db, account_id: i64) -> Result<Vec<Lifetime>> {
    let rows: Vec<(String, i64, i64, i64)> = q(
        "SELECT currency, COUNT(*), CAST(SUM(amount) AS BIGINT), CAST(COALESCE(SUM(margin), 0) AS BIGINT) \
                                                FROM orders WHERE account_id = $1 GROUP BY currency ORDER BY currency",
    )
    .bind(account_id)
    .fetch_all(&mut db.conn().await?)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(currency, orders, revenue, margin)| Lifetime {
            currency,
            orders,
            revenue,
            margin,
        })
        .collect())
}
