//! The outbox (M6): every email is a row written in the transaction of what
//! caused it ([`queue`]), then sent by a [`Send`] job. A booking's
//! confirmation, a reminder, a rep's one-off email and (later) a scenario's step
//! are all the same thing here.
//!
//! States: `queued` → `sending` → `sent`; or `failed` (with the relay's answer),
//! `suppressed` (the address is on the suppression list at send time), or
//! `unknown`. Delivery is **at most once**: `sending` is committed before the
//! SMTP conversation starts, and a job that finds its message already `sending`
//! (its node died mid-conversation) marks it `unknown` for a person to decide
//! ([`decide`]) instead of sending it again.

use super::smtp::Delivery;
use super::{compose, suppression, templates, tracking, MailSettings};
use crate::db::{q, Db, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, EventKind, NewEvent};
use crate::platform::jobs::{self, When};
use crate::platform::registry::{BoxFut, JobKind, Mode, Retry};
use crate::records::timeline::{self, NewEntry};
use crate::Carnet;
use carnet_domain::fields::Entity;
use carnet_domain::values::EmailAddress;
use serde::{Deserialize, Serialize};

/// Transactional messages (bookings, reminders, a rep's own email) skip
/// unsubscribes; marketing messages carry List-Unsubscribe and are not sent to
/// anyone on the suppression list. Neither is sent to a bounced address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Transactional,
    Marketing,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Transactional => "transactional",
            Category::Marketing => "marketing",
        }
    }
}

/// An email to queue. The subject and HTML are final (rendered); links are
/// instrumented for tracking when the row is written.
#[derive(Debug, Clone)]
pub struct NewEmail {
    pub category: Category,
    pub template_key: Option<String>,
    pub to: EmailAddress,
    pub to_name: Option<String>,
    /// The name the message is from (a rep's sender name); the company's when `None`.
    pub from_name: Option<String>,
    pub reply_to: Option<EmailAddress>,
    pub subject: String,
    pub html: String,
    /// An iCalendar attachment: its METHOD (REQUEST, CANCEL) and text.
    pub ics: Option<(String, String)>,
    pub user_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub opportunity_id: Option<i64>,
    pub action_id: Option<i64>,
    /// Track opens and clicks (also needs the company setting on).
    pub tracking: bool,
    /// The language of the message (the unsubscribe footer a marketing message gets).
    pub locale: carnet_domain::i18n::Locale,
}

impl NewEmail {
    pub fn new(category: Category, to: EmailAddress, subject: String, html: String) -> Self {
        NewEmail {
            category,
            template_key: None,
            to,
            to_name: None,
            from_name: None,
            reply_to: None,
            subject,
            html,
            ics: None,
            user_id: None,
            contact_id: None,
            account_id: None,
            opportunity_id: None,
            action_id: None,
            tracking: true,
            locale: carnet_domain::i18n::Locale::En,
        }
    }
}

/// A message in the outbox.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Email {
    pub id: i64,
    pub message_id: String,
    /// `transactional` or `marketing`.
    pub category: String,
    pub template_key: Option<String>,
    /// `queued`, `sending`, `sent`, `failed`, `suppressed` or `unknown`.
    pub status: String,
    pub to_address: String,
    pub to_name: Option<String>,
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub subject: String,
    pub html: String,
    pub text_body: String,
    #[serde(skip)]
    #[schemars(skip)]
    pub ics: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub ics_method: Option<String>,
    #[serde(skip)]
    #[schemars(skip)]
    pub links: String,
    pub tracking: bool,
    pub user_id: Option<i64>,
    pub contact_id: Option<i64>,
    pub account_id: Option<i64>,
    pub opportunity_id: Option<i64>,
    pub action_id: Option<i64>,
    /// Opens and clicks by a person (machine fetches are not counted).
    pub opens: i64,
    pub clicks: i64,
    pub attempts: i64,
    /// Why the last attempt failed (the relay's answer).
    pub last_error: Option<String>,
    pub smtp_response: Option<String>,
    pub queued_at: i64,
    pub sending_at: Option<i64>,
    pub sent_at: Option<i64>,
}

/// A recorded open, click or other hit.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
#[schemars(rename = "EmailHit")]
pub struct Hit {
    pub id: i64,
    pub kind: String,
    pub link_index: Option<i64>,
    /// False for proxies and scanners; `why` says what gave them away.
    pub human: bool,
    pub why: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: i64,
}

pub const COLS: &str = "id, message_id, category, template_key, status, to_address, to_name, from_name, from_address, reply_to, subject, html, \
    text_body, ics, ics_method, links, tracking, user_id, contact_id, account_id, opportunity_id, action_id, opens, clicks, attempts, last_error, \
    smtp_response, queued_at, sending_at, sent_at";

/// Attempts of a message before a temporary failure becomes `failed`.
pub const MAX_ATTEMPTS: i64 = 6;

/// Queues an email in the caller's transaction: the row (links instrumented,
/// text part derived), its timeline entries, and the job that sends it.
pub async fn queue(tx: &mut Tx, e: NewEmail) -> Result<i64> {
    if e.html.len() > templates::MAX_BODY {
        return Err(AppError::field("html", "is longer than 256 KB"));
    }
    if e.subject.trim().is_empty() || e.subject.contains(['\r', '\n']) {
        return Err(AppError::field("subject", "must be one line of text"));
    }
    let settings = MailSettings::load(tx).await?;
    let site = crate::platform::signing::site(tx.shared())?;
    let t = tx.now();
    let message_id = format!("<{}@{}>", crate::access::random_token(), site.host());
    let from_name = e.from_name.clone().unwrap_or_else(|| settings.sender_name.clone());
    let tracking = e.tracking && settings.tracking;
    let id = q("INSERT INTO emails (message_id, category, template_key, status, to_address, to_key, to_name, from_name, from_address, reply_to, \
                subject, html, text_body, ics, ics_method, links, tracking, user_id, contact_id, account_id, opportunity_id, action_id, queued_at, updated_at) \
                VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, '', '', $11, $12, '[]', $13, $14, $15, $16, $17, $18, $19, $19) RETURNING id")
        .bind(message_id)
        .bind(e.category.as_str())
        .bind(e.template_key.clone())
        .bind(e.to.as_str())
        .bind(e.to.normalized())
        .bind(e.to_name.clone())
        .bind(from_name)
        .bind(settings.sender_address.clone())
        .bind(e.reply_to.as_ref().map(|r| r.as_str().to_string()))
        .bind(e.subject.trim())
        .bind(e.ics.as_ref().map(|i| i.1.clone()))
        .bind(e.ics.as_ref().map(|i| i.0.clone()))
        .bind(tracking)
        .bind(e.user_id)
        .bind(e.contact_id)
        .bind(e.account_id)
        .bind(e.opportunity_id)
        .bind(e.action_id)
        .bind(t)
        .insert_id(&mut *tx)
        .await?;
    let mut html = templates::sanitize(&e.html);
    // A marketing message always says how to unsubscribe.
    if e.category == Category::Marketing && !html.contains(templates::UNSUBSCRIBE_PLACEHOLDER) {
        let words = match e.locale {
            carnet_domain::i18n::Locale::Fr => "Vous ne souhaitez plus recevoir ces e-mails ? Se désinscrire",
            carnet_domain::i18n::Locale::En => "No longer want these emails? Unsubscribe",
        };
        html.push_str(&format!(
            "<p style=\"font-size:12px;color:#5f6b7a\"><a href=\"{}\">{words}</a></p>",
            templates::UNSUBSCRIBE_PLACEHOLDER
        ));
    }
    let html = html.replace(templates::UNSUBSCRIBE_PLACEHOLDER, &super::compose::unsubscribe_url(&site, id));
    let (html, links) = tracking::instrument(&html, id, &site, tracking);
    let text = templates::text_of(&html);
    q("UPDATE emails SET html = $1, text_body = $2, links = $3 WHERE id = $4")
        .bind(html)
        .bind(text)
        .bind(serde_json::to_string(&links).map_err(AppError::internal)?)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let data = serde_json::json!({"email_id": id, "subject": e.subject.trim(), "to": e.to.as_str()});
    for (entity, rid) in [
        (Entity::Contact, e.contact_id),
        (Entity::Account, e.account_id),
        (Entity::Opportunity, e.opportunity_id),
    ] {
        if let Some(rid) = rid {
            timeline::add(
                tx,
                NewEntry {
                    entity,
                    record_id: rid,
                    kind: "email",
                    actor_id: e.user_id,
                    title: e.subject.trim(),
                    body: None,
                    data: Some(data.clone()),
                },
            )
            .await?;
        }
    }
    jobs::enqueue::<Send>(tx, &SendPayload { email_id: id }, When::Now, Some(format!("email:{id}"))).await?;
    Ok(id)
}

/// Sends one message of the outbox.
pub struct Send;

#[derive(Debug, Serialize, Deserialize)]
pub struct SendPayload {
    pub email_id: i64,
}

impl JobKind for Send {
    const NAME: &'static str = "mail.send";
    const MODE: Mode = Mode::Alone;
    const RETRY: Retry = Retry {
        max_attempts: MAX_ATTEMPTS,
        first_delay_secs: 30,
        max_delay_secs: 3600,
    };
    type Payload = SendPayload;

    fn run_alone(c: &Carnet, p: SendPayload) -> BoxFut<'_, Result<()>> {
        Box::pin(send(c, p.email_id))
    }
}

/// What the send job decided before talking to the relay.
enum Claim {
    Go(Box<Email>),
    Done,
}

/// Marks the message `sending` (committed) unless it is not `queued` any more,
/// its address is suppressed, or an earlier attempt died mid-conversation.
async fn claim(db: &Db, id: i64) -> Result<Claim> {
    let mut tx = db.begin().await?;
    let e: Option<Email> = q(format!("SELECT {COLS} FROM emails WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut tx)
        .await?;
    let Some(e) = e else {
        return Ok(Claim::Done);
    };
    let t = tx.now();
    match e.status.as_str() {
        "queued" => {}
        "sending" => {
            q("UPDATE emails SET status = 'unknown', last_error = $1, updated_at = $2 WHERE id = $3 AND status = 'sending'")
                .bind("the node sending it stopped during the SMTP conversation: it may or may not have been delivered")
                .bind(t)
                .bind(id)
                .execute(&mut tx)
                .await?;
            tx.commit().await?;
            return Ok(Claim::Done);
        }
        _ => return Ok(Claim::Done),
    }
    let category = if e.category == "marketing" {
        Category::Marketing
    } else {
        Category::Transactional
    };
    if let Some(reason) = suppression::blocks(&mut tx, &e.to_address, category).await? {
        q("UPDATE emails SET status = 'suppressed', last_error = $1, updated_at = $2 WHERE id = $3")
            .bind(format!("{} is on the suppression list ({reason})", e.to_address))
            .bind(t)
            .bind(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
        return Ok(Claim::Done);
    }
    let n = q("UPDATE emails SET status = 'sending', sending_at = $1, attempts = attempts + 1, updated_at = $1 WHERE id = $2 AND status = 'queued'")
        .bind(t)
        .bind(id)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    // Another job took it between the read and the update (PostgreSQL re-checks
    // the condition after waiting for its lock): that one sends it.
    if n == 0 {
        return Ok(Claim::Done);
    }
    Ok(Claim::Go(Box::new(e)))
}

async fn send(c: &Carnet, id: i64) -> Result<()> {
    // Without a relay the message waits in the outbox, `queued` (Settings →
    // Email says so); when Carnet starts with one, [`resume`] queues it again.
    let Some(pool) = c.mailer.pool() else {
        tracing::info!(
            email = id,
            "no SMTP relay is configured (CARNET_SMTP_URL): the message waits in the outbox"
        );
        return Ok(());
    };
    let settings = MailSettings::load(&mut c.db.conn().await?).await?;
    c.mailer.pace(settings.per_minute).await;
    let e = match claim(&c.db, id).await? {
        Claim::Go(e) => e,
        Claim::Done => return Ok(()),
    };
    let site = crate::platform::signing::site(c.db.shared())?;
    let delivery = match compose::message(&e, &site) {
        Ok((envelope, bytes)) => pool.send(&envelope, &bytes).await,
        Err(why) => Delivery::Permanent { code: 0, answer: why },
    };
    settle(c, &e, delivery).await
}

/// Records how the conversation ended.
async fn settle(c: &Carnet, e: &Email, delivery: Delivery) -> Result<()> {
    let mut tx = c.db.begin().await?;
    let t = tx.now();
    let data = serde_json::json!({"email_id": e.id, "contact_id": e.contact_id, "user_id": e.user_id, "template": e.template_key});
    let retry = match &delivery {
        Delivery::Sent(answer) => {
            q("UPDATE emails SET status = 'sent', sent_at = $1, smtp_response = $2, last_error = NULL, updated_at = $1 WHERE id = $3")
                .bind(t)
                .bind(answer.clone())
                .bind(e.id)
                .execute(&mut tx)
                .await?;
            events::record(&mut tx, NewEvent::new(EventKind::EmailSent, "email", e.id, e.user_id, data)).await?;
            None
        }
        Delivery::Temporary(why) => {
            let last = e.attempts + 1 >= MAX_ATTEMPTS;
            q("UPDATE emails SET status = $1, last_error = $2, updated_at = $3 WHERE id = $4")
                .bind(if last { "failed" } else { "queued" })
                .bind(why.clone())
                .bind(t)
                .bind(e.id)
                .execute(&mut tx)
                .await?;
            (!last).then(|| why.clone())
        }
        Delivery::Permanent { code, answer } => {
            q("UPDATE emails SET status = 'failed', last_error = $1, smtp_response = $1, updated_at = $2 WHERE id = $3")
                .bind(answer.clone())
                .bind(t)
                .bind(e.id)
                .execute(&mut tx)
                .await?;
            // 550/551/553: the mailbox does not exist or is refused; 552/554 too when said of the recipient.
            if matches!(code, 550 | 551 | 553) {
                suppression::bounce(&mut tx, &e.to_address, "smtp", answer, Some(e.id)).await?;
            }
            None
        }
        Delivery::Unknown(why) => {
            q("UPDATE emails SET status = 'unknown', last_error = $1, updated_at = $2 WHERE id = $3")
                .bind(format!(
                    "the connection broke during the conversation ({why}): it may or may not have been delivered"
                ))
                .bind(t)
                .bind(e.id)
                .execute(&mut tx)
                .await?;
            None
        }
    };
    tx.commit().await?;
    // Settings → Email reads the last failure from the rows; the log keeps each.
    if let Delivery::Temporary(why) | Delivery::Unknown(why) = &delivery {
        tracing::warn!(email = e.id, error = %why, "sending an email");
    }
    match retry {
        Some(why) => Err(AppError::Unavailable(why)),
        None => Ok(()),
    }
}

/// Queues a send job for every `queued` message that has none waiting: the
/// messages queued while no relay was configured, whose jobs gave up. Run at
/// start when a relay is set; returns how many were queued again.
pub async fn resume(db: &Db) -> Result<usize> {
    let mut tx = db.begin().await?;
    let ids: Vec<(i64,)> = q(
        "SELECT e.id FROM emails e WHERE e.status = 'queued' AND NOT EXISTS (SELECT 1 FROM jobs j \
                              WHERE j.kind = 'mail.send' AND j.status IN ('queued', 'running') \
                              AND (j.idempotency_key = 'email:' || e.id OR j.idempotency_key LIKE 'email:' || e.id || ':%'))",
    )
    .fetch_all(&mut tx)
    .await?;
    let t = tx.now();
    for (id,) in &ids {
        jobs::enqueue::<Send>(
            &mut tx,
            &SendPayload { email_id: *id },
            When::Now,
            Some(format!("email:{id}:resume:{t}")),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(ids.len())
}

/// A person's decision on an `unknown` message: it was delivered (`sent`,
/// recorded as the send it was), or send it again.
pub async fn decide(db: &Db, actor: i64, id: i64, delivered: bool) -> Result<()> {
    let mut tx = db.begin().await?;
    let t = tx.now();
    let n = if delivered {
        q("UPDATE emails SET status = 'sent', sent_at = COALESCE(sending_at, $1), updated_at = $1 WHERE id = $2 AND status = 'unknown'")
            .bind(t)
            .bind(id)
            .execute(&mut tx)
            .await?
    } else {
        q("UPDATE emails SET status = 'queued', attempts = 0, updated_at = $1 WHERE id = $2 AND status IN ('unknown', 'failed')")
            .bind(t)
            .bind(id)
            .execute(&mut tx)
            .await?
    };
    if n == 0 {
        return Err(AppError::Conflict(
            "only a message whose delivery is unknown (or failed, to send again) can be decided".into(),
        ));
    }
    if delivered {
        let (contact, user, template): (Option<i64>, Option<i64>, Option<String>) =
            q("SELECT contact_id, user_id, template_key FROM emails WHERE id = $1")
                .bind(id)
                .fetch_one(&mut tx)
                .await?;
        let data = serde_json::json!({"email_id": id, "contact_id": contact, "user_id": user, "template": template, "decided": true});
        events::record(&mut tx, NewEvent::new(EventKind::EmailSent, "email", id, Some(actor), data)).await?;
    } else {
        jobs::enqueue::<Send>(
            &mut tx,
            &SendPayload { email_id: id },
            When::Now,
            Some(format!("email:{id}:again:{t}")),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn get(db: &Db, id: i64) -> Result<Email> {
    q(format!("SELECT {COLS} FROM emails WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)
}

/// The outbox, newest first, optionally of one status or one contact.
pub async fn list(db: &Db, status: Option<&str>, contact_id: Option<i64>, before: Option<i64>, limit: i64) -> Result<Vec<Email>> {
    let mut query = q(format!("SELECT {COLS} FROM emails WHERE 1 = 1"));
    if let Some(s) = status {
        query.push(" AND status = ").push_bind(s.to_string());
    }
    if let Some(cid) = contact_id {
        query.push(" AND contact_id = ").push_bind(cid);
    }
    if let Some(b) = before {
        query.push(" AND id < ").push_bind(b);
    }
    query.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
    Ok(query.fetch_all(&mut db.conn().await?).await?)
}

/// How many messages are in each state.
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>> {
    Ok(q("SELECT status, COUNT(*) FROM emails GROUP BY status ORDER BY status")
        .fetch_all(&mut db.conn().await?)
        .await?)
}

/// What became of a message, as a timeline says it.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub status: String,
    pub opens: i64,
    /// The links a person clicked (distinct, in order of first click).
    pub clicked: Vec<String>,
}

pub async fn summaries(db: &Db, ids: &[i64]) -> Result<std::collections::HashMap<i64, Summary>> {
    let mut conn = db.conn().await?;
    let mut query = q("SELECT id, status, opens, links FROM emails WHERE id IN ");
    crate::db::push_in_list(&mut query, ids);
    let rows: Vec<(i64, String, i64, String)> = query.fetch_all(&mut conn).await?;
    // A person's clicks on these messages, in order.
    let mut query = q("SELECT email_id, link_index FROM email_events WHERE kind = 'click' AND human = TRUE AND email_id IN ");
    crate::db::push_in_list(&mut query, ids);
    query.push(" ORDER BY id");
    let clicks: Vec<(i64, Option<i64>)> = query.fetch_all(&mut conn).await?;
    let mut out = std::collections::HashMap::new();
    for (id, status, opens, links) in rows {
        let links: Vec<String> = serde_json::from_str(&links).unwrap_or_default();
        let mut clicked: Vec<String> = Vec::new();
        for (_, i) in clicks.iter().filter(|(e, _)| *e == id) {
            if let Some(l) = i.and_then(|i| usize::try_from(i).ok()).and_then(|i| links.get(i)) {
                let shown = l.split_once("://").map_or(l.as_str(), |(_, r)| r).trim_end_matches('/').to_string();
                if !clicked.contains(&shown) {
                    clicked.push(shown);
                }
            }
        }
        out.insert(id, Summary { status, opens, clicked });
    }
    Ok(out)
}

pub const STATUSES: &[&str] = &["queued", "sending", "sent", "failed", "suppressed", "unknown"];
