//! Booking pages (A4): a public page per user showing only free slots, computed
//! from working hours, buffers, notice, horizon and the agenda — never its
//! content. A booking re-checks its slot inside the write transaction after
//! taking the rep's booking row lock, so two prospects racing for one slot
//! cannot both get it.

use crate::access::{random_token, token_hash};
use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, EventKind, NewEvent};
use crate::records::timeline::{self, NewEntry};
use carnet_domain::fields::Entity;
use carnet_domain::i18n::parse_time_zone;
use carnet_domain::records::{Catalog, ContactDraft};
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

/// The slot rules of a page (personal or team), on a 15-minute step.
fn slot_rules(duration_min: i64, buffer_before_min: i64, buffer_after_min: i64, min_notice_min: i64, horizon_days: i64) -> SlotRules {
    SlotRules {
        duration_min,
        buffer_before_min,
        buffer_after_min,
        min_notice_min,
        horizon_days,
        step_min: 15,
    }
}

/// What a personal and a team page both check: the address (unused by the other
/// kind of page), the rules and the appointment type. Returns the address as stored.
async fn check_page(db: &Db, e: &mut FieldErrors, slug: &str, type_id: i64, r: &SlotRules, other_table: &str) -> Result<String> {
    let slug = slug.trim().to_lowercase();
    if slug.len() < 3 || slug.len() > 60 || !slug.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        e.add("slug", "must be 3 to 60 letters, digits or dashes");
    } else {
        let taken: Option<String> = q(format!("SELECT slug FROM {other_table} WHERE slug = $1"))
            .bind(slug.clone())
            .scalar_opt(&mut db.conn().await?)
            .await?;
        if taken.is_some() {
            e.add("slug", "is already used by another booking page");
        }
    }
    for (f, v, min, max) in [
        ("duration", r.duration_min, 1, 480),
        ("buffer_before", r.buffer_before_min, 0, 240),
        ("buffer_after", r.buffer_after_min, 0, 240),
        ("min_notice", r.min_notice_min, 0, 60 * 24 * 30),
        ("horizon_days", r.horizon_days, 1, 365),
    ] {
        if !(min..=max).contains(&v) {
            e.add(f, format!("must be between {min} and {max}"));
        }
    }
    if !super::types(db).await?.iter().any(|t| t.id == type_id && t.kind == "appointment") {
        e.add("type", "must be an appointment type");
    }
    Ok(slug)
}

const COLS: &str = "user_id, slug, type_id, duration_min, buffer_before_min, buffer_after_min, min_notice_min, horizon_days, active";

impl BookingPage {
    pub fn rules(&self) -> SlotRules {
        slot_rules(
            self.duration_min,
            self.buffer_before_min,
            self.buffer_after_min,
            self.min_notice_min,
            self.horizon_days,
        )
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
    let rules = slot_rules(
        p.duration_min,
        p.buffer_before_min,
        p.buffer_after_min,
        p.min_notice_min,
        p.horizon_days,
    );
    let slug = check_page(db, &mut e, p.slug, p.type_id, &rules, "booking_teams").await?;
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
    busy_except(h, user_id, from, to, 0).await
}

/// The same, leaving out one appointment (the one being rescheduled).
async fn busy_except(h: &mut impl Handle, user_id: i64, from: i64, to: i64, except: i64) -> Result<Vec<(i64, i64)>> {
    Ok(appointments(h, user_id, from, to)
        .await?
        .into_iter()
        .filter(|(id, ..)| *id != except)
        .map(|(_, s, e)| (s, e))
        .collect())
}

/// The appointments that occupy a user's diary in [from, to): (id, start, end),
/// all but the cancelled and rescheduled ones.
pub(crate) async fn appointments(h: &mut impl Handle, user_id: i64, from: i64, to: i64) -> Result<Vec<(i64, i64, i64)>> {
    Ok(q(
        "SELECT id, starts_at, starts_at + duration_min * 60 FROM actions WHERE assignee_id = $1 AND starts_at IS NOT NULL \
          AND (outcome IS NULL OR outcome NOT IN ('cancelled', 'rescheduled')) AND planned_at < $2 AND planned_at > $3",
    )
    .bind(user_id)
    .bind(to)
    .bind(from - carnet_domain::agenda::MAX_DURATION_MIN * 60)
    .fetch_all::<(i64, i64, i64)>(h)
    .await?
    .into_iter()
    .filter(|(_, s, e)| *s < to && *e > from)
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
    Ok(free_slots(tz, &hours, &busy, from, to, &rules, db.now()))
}

/// The next `n` free slots of a user from now (proposed after a no-show).
pub async fn propose(db: &Db, user_id: i64, n: usize) -> Result<Vec<i64>> {
    let t = db.now();
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

/// The booker's contact: the first with their email, or a new one written
/// through the one record writer (search tokens, timeline, events), owned by
/// the rep. Mandatory rules are not applied to a prospect's own booking: the
/// rep completes the record on its first edit, where they apply.
async fn find_or_create_contact(tx: &mut Tx, cat: &Catalog, b: &Booker, owner: i64) -> Result<i64> {
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
    let draft = ContactDraft {
        first_name: first,
        last_name: last,
        email: Some(b.email.clone()),
        phone: b.phone.clone(),
        mobile: None,
        job_title: None,
        owner_id: Some(owner),
        source: Some("Booking page".into()),
        address: None,
        postal_code: None,
        city: None,
        country: None,
        description: b.company.clone(),
        tag_ids: vec![],
        custom: vec![],
    };
    Ok(crate::records::write::insert(tx, cat, None, &[draft]).await?[0])
}

/// Locks a rep's diary for the rest of the transaction: every booking of the
/// rep (own page, team pages, reschedules) takes this lock before re-checking
/// the slot, so two of them cannot both take one slot.
async fn lock_diary(tx: &mut Tx, user_id: i64) -> Result<()> {
    let lock = crate::db::dialect::row_lock_clause(tx.dialect());
    q(format!("SELECT id FROM users WHERE id = $1{lock}"))
        .bind(user_id)
        .fetch_optional::<(i64,)>(tx)
        .await?;
    Ok(())
}

/// Whether a slot is free for a rep under some rules, read inside the
/// transaction (after [`lock_diary`]); `except` leaves out an appointment.
async fn slot_is_free(tx: &mut Tx, user_id: i64, slot: i64, rules: &SlotRules, except: i64) -> Result<bool> {
    let tz = zone(tx, user_id).await?;
    let hours = hours(tx, user_id).await?;
    let dur = rules.duration_min * 60;
    let busy = busy_except(tx, user_id, slot - 86_400, slot + dur + 86_400, except).await?;
    Ok(free_slots(tz, &hours, &busy, slot, slot + 1, rules, tx.now()).contains(&slot))
}

fn taken() -> AppError {
    AppError::Conflict("this slot is no longer available: please choose another".into())
}

/// Books a slot: returns the appointment's id and the token of its manage link.
pub async fn book(db: &Db, slug: &str, slot: i64, b: &Booker) -> Result<(i64, String)> {
    let cat = crate::settings::catalog(db).await?;
    let mut tx = db.begin().await?;
    let page: Option<BookingPage> = q(format!("SELECT {COLS} FROM booking_pages WHERE slug = $1 AND active = TRUE"))
        .bind(slug)
        .fetch_optional(&mut tx)
        .await?;
    let page = page.ok_or(AppError::NotFound)?;
    // The lock: concurrent bookings of this diary wait here, then see each other.
    lock_diary(&mut tx, page.user_id).await?;
    if !slot_is_free(&mut tx, page.user_id, slot, &page.rules(), 0).await? {
        return Err(taken());
    }
    let booked = insert_booking(&mut tx, &cat, page.user_id, page.type_id, page.duration_min, slot, b, None).await?;
    tx.commit().await?;
    Ok(booked)
}

/// Writes a booked appointment, its contact and its manage token.
#[allow(clippy::too_many_arguments)]
async fn insert_booking(
    tx: &mut Tx,
    cat: &Catalog,
    user_id: i64,
    type_id: i64,
    duration_min: i64,
    slot: i64,
    b: &Booker,
    team_id: Option<i64>,
) -> Result<(i64, String)> {
    let contact = find_or_create_contact(tx, cat, b, user_id).await?;
    let t = tx.now();
    let subject = match &b.company {
        Some(c) => format!("{} ({c})", b.name),
        None => b.name.clone(),
    };
    let id = q("INSERT INTO actions (type_id, subject, notes, contact_id, assignee_id, starts_at, duration_min, planned_at, sequence, created_at, updated_at) \
                VALUES ($1, $2, $3, $4, $5, $6, $7, $6, 0, $8, $8) RETURNING id")
        .bind(type_id)
        .bind(subject.clone())
        .bind(format!("Booked online by {} <{}>", b.name, b.email.as_str()))
        .bind(contact)
        .bind(user_id)
        .bind(slot)
        .bind(duration_min)
        .bind(t)
        .insert_id(&mut *tx)
        .await?;
    timeline::add(
        tx,
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
    q("INSERT INTO bookings (token_hash, action_id, created_at, team_id) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(&token))
        .bind(id)
        .bind(t)
        .bind(team_id)
        .execute(&mut *tx)
        .await?;
    let data = serde_json::json!({
        "type_id": type_id, "assignee_id": user_id, "contact_id": contact, "planned_at": slot, "team_id": team_id,
    });
    events::record_all(
        tx,
        vec![
            NewEvent::new(EventKind::ActionPlanned, "action", id, None, data.clone()),
            NewEvent::new(EventKind::BookingMade, "action", id, None, data),
        ],
    )
    .await?;
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
        .bind(tx.now())
        .bind(a.id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::Conflict("this booking is already closed".into()));
    }
    let data = serde_json::json!({"assignee_id": a.assignee_id, "contact_id": a.contact_id, "planned_at": a.planned_at});
    events::record(&mut tx, NewEvent::new(EventKind::BookingCancelled, "action", a.id, None, data)).await?;
    tx.commit().await?;
    Ok(())
}

/// A team booking page: one public page for several reps.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Team {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub type_id: i64,
    pub duration_min: i64,
    pub buffer_before_min: i64,
    pub buffer_after_min: i64,
    pub min_notice_min: i64,
    pub horizon_days: i64,
    pub strategy: String,
    pub time_zone: String,
    pub active: bool,
    pub last_user_id: Option<i64>,
}

const TEAM_COLS: &str = "id, slug, name, type_id, duration_min, buffer_before_min, buffer_after_min, min_notice_min, horizon_days, \
                         strategy, time_zone, active, last_user_id";

impl Team {
    pub fn rules(&self) -> SlotRules {
        slot_rules(
            self.duration_min,
            self.buffer_before_min,
            self.buffer_after_min,
            self.min_notice_min,
            self.horizon_days,
        )
    }
}

pub const STRATEGIES: &[&str] = &["round_robin", "least_busy"];

pub struct TeamInput<'a> {
    pub slug: &'a str,
    pub name: &'a str,
    pub type_id: i64,
    pub duration_min: i64,
    pub buffer_before_min: i64,
    pub buffer_after_min: i64,
    pub min_notice_min: i64,
    pub horizon_days: i64,
    pub strategy: &'a str,
    pub time_zone: &'a str,
    pub members: Vec<i64>,
    pub active: bool,
}

/// Creates (`id` None) or changes a team page and its members.
pub async fn save_team(db: &Db, id: Option<i64>, t: TeamInput<'_>) -> Result<i64> {
    let mut e = FieldErrors::new();
    let rules = slot_rules(
        t.duration_min,
        t.buffer_before_min,
        t.buffer_after_min,
        t.min_notice_min,
        t.horizon_days,
    );
    let slug = check_page(db, &mut e, t.slug, t.type_id, &rules, "booking_pages").await?;
    let name = e.check("name", required_name(t.name));
    if !STRATEGIES.contains(&t.strategy) {
        e.add("strategy", "must be round_robin or least_busy");
    }
    e.check("time_zone", parse_time_zone(t.time_zone));
    if t.members.is_empty() {
        e.add("members", "choose at least one member");
    }
    e.into_result()?;
    let mut tx = db.begin().await?;
    let mut query = match id {
        None => q(
            "INSERT INTO booking_teams (slug, name, type_id, duration_min, buffer_before_min, buffer_after_min, min_notice_min, horizon_days, \
             strategy, time_zone, active, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0) RETURNING id",
        ),
        Some(_) => q(
            "UPDATE booking_teams SET slug = $1, name = $2, type_id = $3, duration_min = $4, buffer_before_min = $5, buffer_after_min = $6, \
             min_notice_min = $7, horizon_days = $8, strategy = $9, time_zone = $10, active = $11 WHERE id = $12 RETURNING id",
        ),
    }
    .bind(slug)
    .bind(name.unwrap_or_default())
    .bind(t.type_id)
    .bind(t.duration_min)
    .bind(t.buffer_before_min)
    .bind(t.buffer_after_min)
    .bind(t.min_notice_min)
    .bind(t.horizon_days)
    .bind(t.strategy)
    .bind(t.time_zone.trim())
    .bind(t.active);
    if let Some(id) = id {
        query = query.bind(id);
    }
    let team_id = query.insert_id(&mut tx).await.map_err(|e| match &e {
        sqlx::Error::RowNotFound => AppError::NotFound,
        _ if crate::db::is_unique_violation(&e) => AppError::field("slug", "is already used by another booking page"),
        _ => e.into(),
    })?;
    q("DELETE FROM booking_team_members WHERE team_id = $1")
        .bind(team_id)
        .execute(&mut tx)
        .await?;
    for u in &t.members {
        if !crate::sales::exists(&mut tx, "users", *u).await? {
            return Err(AppError::field("members", format!("{u} is not a user")));
        }
        q("INSERT INTO booking_team_members (team_id, user_id) VALUES ($1, $2)")
            .bind(team_id)
            .bind(*u)
            .execute(&mut tx)
            .await?;
    }
    tx.commit().await?;
    Ok(team_id)
}

pub async fn teams(db: &Db) -> Result<Vec<(Team, Vec<i64>)>> {
    let mut c = db.conn().await?;
    let list: Vec<Team> = q(format!("SELECT {TEAM_COLS} FROM booking_teams ORDER BY name, id"))
        .fetch_all(&mut c)
        .await?;
    let members: Vec<(i64, i64)> = q("SELECT team_id, user_id FROM booking_team_members ORDER BY user_id")
        .fetch_all(&mut c)
        .await?;
    Ok(list
        .into_iter()
        .map(|t| {
            let m = members.iter().filter(|(tid, _)| *tid == t.id).map(|(_, u)| *u).collect();
            (t, m)
        })
        .collect())
}

pub async fn delete_team(db: &Db, id: i64) -> Result<()> {
    crate::db::delete_by_id(db, "booking_teams", id).await
}

/// An active team page and its active members, by slug.
pub async fn team_by_slug(db: &Db, slug: &str) -> Result<Option<(Team, Vec<i64>)>> {
    let mut c = db.conn().await?;
    let team: Option<Team> = q(format!("SELECT {TEAM_COLS} FROM booking_teams WHERE slug = $1 AND active = TRUE"))
        .bind(slug)
        .fetch_optional(&mut c)
        .await?;
    let Some(team) = team else { return Ok(None) };
    let members: Vec<(i64,)> = q(
        "SELECT m.user_id FROM booking_team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 AND u.active = TRUE ORDER BY m.user_id",
    )
    .bind(team.id)
    .fetch_all(&mut c)
    .await?;
    Ok(Some((team, members.into_iter().map(|(u,)| u).collect())))
}

/// A member's free slots under some rules.
async fn free_with(db: &Db, user_id: i64, rules: &SlotRules, from: i64, to: i64, except: i64) -> Result<Vec<i64>> {
    let mut c = db.conn().await?;
    let tz = zone(&mut c, user_id).await?;
    let hours = hours(&mut c, user_id).await?;
    let busy = busy_except(&mut c, user_id, from - 86_400, to + 86_400, except).await?;
    Ok(free_slots(tz, &hours, &busy, from, to, rules, db.now()))
}

/// A team's free slots: when at least one member is free.
pub async fn free_team(db: &Db, team: &Team, members: &[i64], from: i64, to: i64) -> Result<Vec<i64>> {
    let mut all = std::collections::BTreeSet::new();
    for m in members {
        all.extend(free_with(db, *m, &team.rules(), from, to, 0).await?);
    }
    Ok(all.into_iter().collect())
}

/// The order in which members are offered a booking: round robin starts after
/// the member who got the last one; least busy starts with the fewest
/// appointments in the week around the slot (ties in round-robin order).
fn member_order(team: &Team, members: &[i64], load: &[(i64, i64)]) -> Vec<i64> {
    let after = team.last_user_id.unwrap_or(i64::MIN);
    let mut order: Vec<i64> = members.iter().copied().filter(|m| *m > after).collect();
    order.extend(members.iter().copied().filter(|m| *m <= after));
    if team.strategy == "least_busy" {
        let count = |m: i64| load.iter().find(|(u, _)| *u == m).map(|(_, n)| *n).unwrap_or(0);
        order.sort_by_key(|m| count(*m)); // stable: ties keep the round-robin order
    }
    order
}

/// Books a slot on a team page: the first free member in the team's order.
/// Returns the appointment, its manage token and the member who got it.
pub async fn book_team(db: &Db, slug: &str, slot: i64, b: &Booker) -> Result<(i64, String, i64)> {
    let cat = crate::settings::catalog(db).await?;
    let mut tx = db.begin().await?;
    // Team bookings wait for each other here (the round-robin pointer), then
    // each takes the chosen member's diary lock like a personal booking.
    let team: Option<Team> = q(format!(
        "UPDATE booking_teams SET version = version + 1 WHERE slug = $1 AND active = TRUE RETURNING {TEAM_COLS}"
    ))
    .bind(slug)
    .fetch_optional(&mut tx)
    .await?;
    let team = team.ok_or(AppError::NotFound)?;
    let members: Vec<(i64,)> = q(
        "SELECT m.user_id FROM booking_team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1 AND u.active = TRUE ORDER BY m.user_id",
    )
    .bind(team.id)
    .fetch_all(&mut tx)
    .await?;
    let members: Vec<i64> = members.into_iter().map(|(u,)| u).collect();
    let mut load_q = q(
        "SELECT assignee_id, COUNT(*) FROM actions WHERE starts_at IS NOT NULL AND (outcome IS NULL OR outcome = 'done') \
                        AND planned_at >= $1 AND planned_at < $2 AND assignee_id IN ",
    )
    .bind(slot - 7 * 86_400)
    .bind(slot + 7 * 86_400);
    crate::db::push_in_list(&mut load_q, &members);
    load_q.push(" GROUP BY assignee_id");
    let load: Vec<(i64, i64)> = if members.is_empty() {
        vec![]
    } else {
        load_q.fetch_all(&mut tx).await?
    };
    for m in member_order(&team, &members, &load) {
        lock_diary(&mut tx, m).await?;
        if slot_is_free(&mut tx, m, slot, &team.rules(), 0).await? {
            let (id, token) = insert_booking(&mut tx, &cat, m, team.type_id, team.duration_min, slot, b, Some(team.id)).await?;
            q("UPDATE booking_teams SET last_user_id = $1 WHERE id = $2")
                .bind(m)
                .bind(team.id)
                .execute(&mut tx)
                .await?;
            tx.commit().await?;
            return Ok((id, token, m));
        }
    }
    Err(taken())
}

/// The rules a booking was made under: its team's, or its rep's page.
async fn rules_of_booking(db: &Db, token: &str, a: &super::actions::Action) -> Result<SlotRules> {
    let team: Option<Option<i64>> = q("SELECT team_id FROM bookings WHERE token_hash = $1")
        .bind(token_hash(token))
        .scalar_opt(&mut db.conn().await?)
        .await?;
    if let Some(Some(tid)) = team {
        let t: Option<Team> = q(format!("SELECT {TEAM_COLS} FROM booking_teams WHERE id = $1"))
            .bind(tid)
            .fetch_optional(&mut db.conn().await?)
            .await?;
        if let Some(t) = t {
            return Ok(t.rules());
        }
    }
    let user = a.assignee_id.ok_or(AppError::NotFound)?;
    let mut rules = for_user(db, user).await?.map(|p| p.rules()).ok_or(AppError::NotFound)?;
    rules.duration_min = a.duration_min.unwrap_or(rules.duration_min);
    Ok(rules)
}

/// Free slots to move a booking to (its rep's diary, its own time left out).
pub async fn reschedule_slots(db: &Db, token: &str) -> Result<Vec<i64>> {
    let a = by_token(db, token).await?;
    let rules = rules_of_booking(db, token, &a).await?;
    let user = a.assignee_id.ok_or(AppError::NotFound)?;
    let t = db.now();
    free_with(db, user, &rules, t, t + rules.horizon_days * 86_400, a.id).await
}

/// Moves a booking to another free slot of the same rep (the appointment keeps
/// its identity; calendar clients see a new SEQUENCE).
pub async fn reschedule(db: &Db, token: &str, slot: i64) -> Result<()> {
    let a = by_token(db, token).await?;
    if a.outcome.is_some() {
        return Err(AppError::Conflict("this booking is already closed".into()));
    }
    let rules = rules_of_booking(db, token, &a).await?;
    let user = a.assignee_id.ok_or(AppError::NotFound)?;
    let mut tx = db.begin().await?;
    lock_diary(&mut tx, user).await?;
    if !slot_is_free(&mut tx, user, slot, &rules, a.id).await? {
        return Err(taken());
    }
    let t = tx.now();
    q("UPDATE actions SET starts_at = $1, planned_at = $1, sequence = sequence + 1, updated_at = $2 WHERE id = $3 AND outcome IS NULL")
        .bind(slot)
        .bind(t)
        .bind(a.id)
        .execute(&mut tx)
        .await?;
    if let Some(contact) = a.contact_id {
        timeline::add(
            &mut tx,
            NewEntry {
                entity: Entity::Contact,
                record_id: contact,
                kind: "action_planned",
                actor_id: None,
                title: &a.subject,
                body: None,
                data: Some(serde_json::json!({"action_id": a.id, "subject": "Rescheduled online", "planned_at": slot})),
            },
        )
        .await?;
    }
    let data = serde_json::json!({"fields": ["starts_at"], "planned_at": slot, "rescheduled": true, "contact_id": a.contact_id});
    events::record(&mut tx, NewEvent::new(EventKind::RecordUpdated, "action", a.id, None, data)).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(strategy: &str, last: Option<i64>) -> Team {
        Team {
            id: 1,
            slug: "sales".into(),
            name: "Sales".into(),
            type_id: 1,
            duration_min: 30,
            buffer_before_min: 0,
            buffer_after_min: 0,
            min_notice_min: 0,
            horizon_days: 30,
            strategy: strategy.into(),
            time_zone: "Europe/Paris".into(),
            active: true,
            last_user_id: last,
        }
    }

    #[test]
    fn round_robin_starts_after_the_last_member_served() {
        assert_eq!(member_order(&team("round_robin", None), &[3, 5, 9], &[]), vec![3, 5, 9]);
        assert_eq!(member_order(&team("round_robin", Some(5)), &[3, 5, 9], &[]), vec![9, 3, 5]);
        assert_eq!(member_order(&team("round_robin", Some(9)), &[3, 5, 9], &[]), vec![3, 5, 9]);
    }

    #[test]
    fn least_busy_prefers_the_emptiest_diary() {
        let load = [(3, 4), (5, 1), (9, 1)];
        assert_eq!(member_order(&team("least_busy", Some(5)), &[3, 5, 9], &load), vec![9, 5, 3]);
    }
}
