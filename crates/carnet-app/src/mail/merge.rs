//! The merge fields of a message about records: the owner (a rep, under their
//! sender name), the company, the contact and their first account, the
//! opportunity. Every email Carnet renders from a template fills them here.

use super::templates::Merge;
use crate::db::{q, Handle};
use crate::error::{AppError, Result};

#[derive(sqlx::FromRow)]
struct ContactRow {
    first_name: Option<String>,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    job_title: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    name: String,
    city: Option<String>,
    country: Option<String>,
    website: Option<String>,
}

/// The values of the records an email is about.
pub async fn merge_for(h: &mut impl Handle, user_id: i64, contact_id: Option<i64>, opportunity_id: Option<i64>) -> Result<Merge> {
    let mut m = Merge::default();
    let user: Option<(String, String, Option<String>)> = q("SELECT name, email, sender_name FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut *h)
        .await?;
    if let Some((name, email, sender)) = user {
        m.set("owner.first_name", name.split_whitespace().next().unwrap_or(""))
            .set("owner.name", sender.unwrap_or(name))
            .set("owner.email", email);
    }
    m.set("company.name", super::MailSettings::load(&mut *h).await?.sender_name);
    if let Some(cid) = contact_id {
        let c: Option<ContactRow> = q("SELECT first_name, last_name, email, phone, job_title FROM contacts WHERE id = $1")
            .bind(cid)
            .fetch_optional(&mut *h)
            .await?;
        let ContactRow {
            first_name: first,
            last_name: last,
            email,
            phone,
            job_title: title,
        } = c.ok_or_else(|| AppError::field("contact_id", format!("{cid} is not a known contact")))?;
        let name = first.as_ref().map_or(last.clone(), |f| format!("{f} {last}"));
        m.set("contact.first_name", first.unwrap_or_default())
            .set("contact.last_name", last)
            .set("contact.name", name)
            .set("contact.email", email.unwrap_or_default())
            .set("contact.phone", phone.unwrap_or_default())
            .set("contact.job_title", title.unwrap_or_default());
        let account: Option<AccountRow> = q(
            "SELECT a.name, a.city, a.country, a.website FROM account_contacts ac JOIN accounts a ON a.id = ac.account_id \
             WHERE ac.contact_id = $1 ORDER BY ac.account_id LIMIT 1",
        )
        .bind(cid)
        .fetch_optional(&mut *h)
        .await?;
        if let Some(a) = account {
            m.set("account.name", a.name)
                .set("account.city", a.city.unwrap_or_default())
                .set("account.country", a.country.unwrap_or_default())
                .set("account.website", a.website.unwrap_or_default());
        }
    }
    if let Some(oid) = opportunity_id {
        let o: Option<(String, i64, String, String)> =
            q("SELECT o.name, o.amount, o.currency, s.name FROM opportunities o JOIN stages s ON s.id = o.stage_id WHERE o.id = $1")
                .bind(oid)
                .fetch_optional(&mut *h)
                .await?;
        let (name, cents, currency, stage) =
            o.ok_or_else(|| AppError::field("opportunity_id", format!("{oid} is not a known opportunity")))?;
        m.set("opportunity.name", name)
            .set(
                "opportunity.amount",
                format!("{}.{:02} {currency}", cents / 100, (cents % 100).abs()),
            )
            .set("opportunity.stage", stage);
    }
    Ok(m)
}
