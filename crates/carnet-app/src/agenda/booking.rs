//! Booking pages (A4): a public page per user showing only free slots, computed
//! from working hours, buffers, notice, horizon and the agenda — never its
//! content. A booking re-checks its slot inside the write transaction after
//! taking the rep's booking row lock, so two prospects racing for one slot
//! cannot both get it.

use crate::access::{random_token, token_hash};
use crate::db::{now, q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::records::timeline::{self, NewEntry};
use carnet_domain::fields::Entity;
use carnet_domain::i18n::parse_time_zone;
use carnet_domain::search::TokenSet;
use carnet_domain::slots::{default_hours, free_slots, SlotRules, WorkInterval};
use carnet_domain::values::{optional_text, required_name, EmailAddress, Phone, MAX_SHORT_TEXT};
use carnet_domain::FieldErrors;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct BookingPage {
    pub user_id: i64,
    pub slug: String,
    pub type_id: i64,
    pub duration_min: i64,
    pub buffer_before_min: i64,
    pub buffer_after_min: i64,
    pub min_notice_min: i64,
    pub horizon_days: i64,
    pub active: bool,
}

const COLS: &str = "user_id, slug, type_id, duration_min, buffer_before_min, buffer_after_min, min_notice_min, horizon_days, active";

impl BookingPage {
    pub fn rules(&self) -> SlotRules {
        SlotRules {
            duration_min: self.duration_min,
            buffer_before_min: self.buffer_before_min,
            buffer_after_min: self.buffer_after_min,
            min_notice_min: self.min_notice_min,
            horizon_days: self.horizon_days,
            step_min: 15,
        }
    }
}

pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<BookingPage>> {
    Ok(q(format!("SELECT {COLS} FROM booking_pages WHERE slug = $1 AND active = TRUE"))
        .bind(slug)
        .fetch_optional(&mut db.conn().await?)
        .await?)
}

pub async fn for_user(db: &Db, user_id: i64) -> Result<Option<BookingPage>> {
    Ok(q(format!("SELECT {COLS} FROM booking_pages WHERE user_id = $1"))
        .bind(user_id)
        .fetch_optional(&mut db.conn().await?)
        .await?)
}

pub struct PageInput<'a> {
    pub slug: &'a str,
    pub type_id: i64,
    pub duration_min: i64,
    pub buffer_before_min: i64,
    pub buffer_after_min: i64,
    pub min_notice_min: i64,
    pub horizon_days: i64,
    pub active: bool,
}

pub async fn save_page(db: &Db, user_id: i64, p: PageInput<'_>) -> Result<()> {
    let mut e = FieldErrors::new();
    let slug = p.slug.trim().to_lowercase();
    if slug.len() < 3 || slug.len() > 60 || !slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        e.add("slug", "must be 3 to 60 letters, digits or dashes");
    }
    for (f, v, max) in [
        ("duration", p.duration_min, 480),
        ("buffer_before", p.buffer_before_min, 240),
        ("buffer_after", p.buffer_after_min, 240),
        ("min_notice", p.min_notice_min, 60 * 24 * 30),
        ("horizon_days", p.horizon_days, 365),
    ] {
        let min = if f == "duration" || f == "horizon_days" { 1 } else { 0 };
        if !(min..=max).contains(&v) {
            e.add(f, format!("must be between {min} and {max}"));
        }
    }
    let types = super::types(db).await?;
    if !types.iter().any(|t| t.id == p.type_id && t.kind == "appointment") {
        e.add("type", "must be an appointment type");
    }
    e.into_result()?;
    let mut tx = db.begin().await?;
    q(format!(
        "INSERT INTO booking_pages ({COLS}, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0) \
         ON CONFLICT (user_id) DO UPDATE SET slug = excluded.slug, type_id = excluded.type_id, duration_min = excluded.duration_min, \
         buffer_before_min = excluded.buffer_before_min, buffer_after_min = excluded.buffer_after_min, min_notice_min = excluded.min_notice_min, \
         horizon_days = excluded.horizon_days, active = excluded.active"
    ))
    .bind(user_id)
    .bind(slug)
    .bind(p.type_id)
    .bind(p.duration_min)
    .bind(p.buffer_before_min)
    .bind(p.buffer_after_min)
    .bind(p.min_notice_min)
    .bind(p.horizon_days)
    .bind(p.active)
    .execute(&mut tx)
    .await
    .map_err(|e| if crate::db::is_unique_violation(&e) { AppError::field("slug", "is already used by another booking page") } else { e.into() })?;
    tx.commit().await?;
    Ok(())
}

pub async fn hours(h: &mut impl Handle, user_id: i64) -> Result<Vec<WorkInterval>> {
    let rows: Vec<(i64, i64, i64)> =
        q("SELECT weekday, start_min, end_min FROM working_hours WHERE user_id = $1 ORDER BY weekday, start_min")
            .bind(user_id)
            .fetch_all(h)
            .await?;
    if rows.is_empty() {
        return Ok(default_hours());
    }
    Ok(rows
        .into_iter()
        .map(|(w, s, e)| WorkInterval {
            weekday: w as u32,
            start_min: s as u32,
            end_min: e as u32,
        })
        .collect())
}

/// Replaces a user's working hours: intervals per weekday (0 = Monday).
pub async fn set_hours(db: &Db, user_id: i64, week: &[(u32, Vec<(u32, u32)>)]) -> Result<()> {
    let mut tx = db.begin().await?;
    q("DELETE FROM working_hours WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut tx)
        .await?;
    for (day, intervals) in week {
        for (s, e) in intervals {
            q("INSERT INTO working_hours (user_id, weekday, start_min, end_min) VALUES ($1, $2, $3, $4)")
                .bind(user_id)
                .bind(*day as i64)
                .bind(*s as i64)
                .bind(*e as i64)
                .execute(&mut tx)
                .await
                .map_err(|e| {
                    if crate::db::is_unique_violation(&e) {
                        AppError::field("hours", "two intervals start at the same time")
                    } else {
                        e.into()
                    }
                })?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The user's occupied intervals overlapping [from, to): appointments not
/// cancelled or rescheduled.
async fn busy(h: &mut impl Handle, user_id: i64, from: i64, to: i64) -> Result<Vec<(i64, i64)>> {
    Ok(q(
        "SELECT starts_at, starts_at + duration_min * 60 FROM actions WHERE assignee_id = $1 AND starts_at IS NOT NULL \
          AND (outcome IS NULL OR outcome NOT IN ('cancelled', 'rescheduled')) AND planned_at < $2 AND planned_at > $3",
    )
    .bind(user_id)
    .bind(to)
    .bind(from - carnet_domain::agenda::MAX_DURATION_MIN * 60)
    .fetch_all::<(i64, i64)>(h)
    .await?
    .into_iter()
    .filter(|(s, e)| *s < to && *e > from)
    .collect())
}

async fn zone(h: &mut impl Handle, user_id: i64) -> Result<chrono_tz::Tz> {
    let tz: String = q("SELECT time_zone FROM users WHERE id = $1").bind(user_id).scalar(h).await?;
    Ok(parse_time_zone(&tz).unwrap_or(chrono_tz::Europe::Paris))
}

/// Free slots of a user in [from, to), with the booking page's rules (or a
/// default 30-minute meeting when the user has no page).
pub async fn free(db: &Db, user_id: i64, from: i64, to: i64, duration: Option<i64>) -> Result<Vec<i64>> {
    let mut c = db.conn().await?;
    let page = for_user(db, user_id).await?;
    let mut rules = page.as_ref().map(BookingPage::rules).unwrap_or(SlotRules {
        duration_min: 30,
        buffer_before_min: 0,
        buffer_after_min: 0,
        min_notice_min: 0,
        horizon_days: 365,
        step_min: 15,
    });
    if let Some(d) = duration {
        rules.duration_min = d;
    }
    let tz = zone(&mut c, user_id).await?;
    let hours = hours(&mut c, user_id).await?;
    let busy = busy(&mut c, user_id, from - 86_400, to + 86_400).await?;
    Ok(free_slots(tz, &hours, &busy, from, to, &rules, now()))
}

/// The next `n` free slots of a user from now (proposed after a no-show).
pub async fn propose(db: &Db, user_id: i64, n: usize) -> Result<Vec<i64>> {
    let t = now();
    let mut slots = free(db, user_id, t, t + 30 * 86_400, None).await?;
    slots.truncate(n);
    Ok(slots)
}

/// What a prospect gives on the booking page, parsed.
pub struct Booker {
    pub name: String,
    pub email: EmailAddress,
    pub phone: Option<Phone>,
    pub company: Option<String>,
}

impl Booker {
    pub fn parse(name: &str, email: &str, phone: &str, company: &str) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let name = e.check("name", required_name(name));
        let email = e.check("email", EmailAddress::parse(email));
        let phone = if phone.trim().is_empty() {
            None
        } else {
            e.check("phone", Phone::parse(phone))
        };
        let company = e.check("company", optional_text(company, MAX_SHORT_TEXT)).flatten();
        e.into_result()?;
        Ok(Booker {
            name: name.unwrap(),
            email: email.unwrap(),
            phone,
            company,
        })
    }
}

async fn find_or_create_contact(tx: &mut Tx, b: &Booker, owner: i64) -> Result<i64> {
    let found: Option<i64> = q("SELECT id FROM contacts WHERE email_key = $1 ORDER BY id LIMIT 1")
        .bind(b.email.normalized())
        .scalar_opt(&mut *tx)
        .await?;
    if let Some(id) = found {
        return Ok(id);
    }
    let (first, last) = match b.name.rsplit_once(' ') {
        Some((f, l)) => (Some(f.to_string()), l.to_string()),
        None => (None, b.name.clone()),
    };
    let t = now();
    let id = q("INSERT INTO contacts (first_name, last_name, name_key, email, email_key, phone, phone_key, job_title, owner_id, source, description, created_at, updated_at) \
                VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, 'Booking page', $9, $10, $10) RETURNING id")
        .bind(first.clone())
        .bind(last.clone())
        .bind(crate::records::contacts::name_key(first.as_deref(), &last))
        .bind(b.email.as_str())
        .bind(b.email.normalized())
        .bind(b.phone.as_ref().map(|p| p.display.clone()))
        .bind(b.phone.as_ref().map(|p| p.digits.clone()))
        .bind(owner)
        .bind(b.company.clone())
        .bind(t)
        .insert_id(&mut *tx)
        .await?;
    let mut tokens = TokenSet::new();
    tokens.words(&b.name).email(b.email.as_str());
    if let Some(p) = &b.phone {
        tokens.digits(&p.digits);
    }
    crate::records::search::index(tx, Entity::Contact, id, &tokens.into_vec()).await?;
    timeline::add(
        tx,
        NewEntry {
            entity: Entity::Contact,
            record_id: id,
            kind: "created",
            actor_id: None,
            title: &b.name,
            body: None,
            data: Some(serde_json::json!({"source": "booking"})),
        },
    )
    .await?;
    Ok(id)
}

/// Books a slot: returns the appointment's id and the token of its manage link.
pub async fn book(db: &Db, slug: &str, slot: i64, b: &Booker) -> Result<(i64, String)> {
    let mut tx = db.begin().await?;
    // The lock: concurrent bookings of this diary wait here, then see each other.
    let page: Option<BookingPage> = q(format!(
        "UPDATE booking_pages SET version = version + 1 WHERE slug = $1 AND active = TRUE RETURNING {COLS}"
    ))
    .bind(slug)
    .fetch_optional(&mut tx)
    .await?;
    let page = page.ok_or(AppError::NotFound)?;
    let tz = zone(&mut tx, page.user_id).await?;
    let hours = hours(&mut tx, page.user_id).await?;
    let dur = page.duration_min * 60;
    let busy = busy(&mut tx, page.user_id, slot - 86_400, slot + dur + 86_400).await?;
    if !free_slots(tz, &hours, &busy, slot, slot + 1, &page.rules(), now()).contains(&slot) {
        return Err(AppError::Conflict("this slot is no longer available: please choose another".into()));
    }
    let contact = find_or_create_contact(&mut tx, b, page.user_id).await?;
    let t = now();
    let subject = match &b.company {
        Some(c) => format!("{} ({c})", b.name),
        None => b.name.clone(),
    };
    let id = q("INSERT INTO actions (type_id, subject, notes, contact_id, assignee_id, starts_at, duration_min, planned_at, sequence, created_at, updated_at) \
                VALUES ($1, $2, $3, $4, $5, $6, $7, $6, 0, $8, $8) RETURNING id")
        .bind(page.type_id)
        .bind(subject.clone())
        .bind(format!("Booked online by {} <{}>", b.name, b.email.as_str()))
        .bind(contact)
        .bind(page.user_id)
        .bind(slot)
        .bind(page.duration_min)
        .bind(t)
        .insert_id(&mut tx)
        .await?;
    timeline::add(
        &mut tx,
        NewEntry {
            entity: Entity::Contact,
            record_id: contact,
            kind: "action_planned",
            actor_id: None,
            title: &subject,
            body: None,
            data: Some(serde_json::json!({"action_id": id, "subject": "Booked online", "planned_at": slot})),
        },
    )
    .await?;
    let token = random_token();
    q("INSERT INTO bookings (token_hash, action_id, created_at) VALUES ($1, $2, $3)")
        .bind(token_hash(&token))
        .bind(id)
        .bind(t)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok((id, token))
}

/// The appointment behind a manage link.
pub async fn by_token(db: &Db, token: &str) -> Result<super::actions::Action> {
    let id: Option<i64> = q("SELECT action_id FROM bookings WHERE token_hash = $1")
        .bind(token_hash(token))
        .scalar_opt(&mut db.conn().await?)
        .await?;
    super::actions::get(db, id.ok_or(AppError::NotFound)?).await
}

/// Cancels a booking from its manage link (no account needed).
pub async fn cancel(db: &Db, token: &str) -> Result<()> {
    let a = by_token(db, token).await?;
    let mut tx = db.begin().await?;
    let n = q("UPDATE actions SET outcome = 'cancelled', done_at = $1, sequence = sequence + 1, updated_at = $1 WHERE id = $2 AND outcome IS NULL")
        .bind(now())
        .bind(a.id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::Conflict("this booking is already closed".into()));
    }
    tx.commit().await?;
    Ok(())
}
