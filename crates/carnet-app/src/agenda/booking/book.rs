//! A booking: the slot re-checked under the rep's diary lock, the contact found
//! or created, the appointment, its manage link; cancelling and rescheduling
//! from that link.

use super::*;

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
pub(super) async fn find_or_create_contact(tx: &mut Tx, cat: &Catalog, b: &Booker, owner: i64) -> Result<i64> {
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
pub(super) async fn lock_diary(tx: &mut Tx, user_id: i64) -> Result<()> {
    let lock = crate::db::dialect::row_lock_clause(tx.dialect());
    q(format!("SELECT id FROM users WHERE id = $1{lock}"))
        .bind(user_id)
        .fetch_optional::<(i64,)>(tx)
        .await?;
    Ok(())
}

/// Whether a slot is free for a rep under some rules, read inside the
/// transaction (after [`lock_diary`]); `except` leaves out an appointment.
pub(super) async fn slot_is_free(tx: &mut Tx, user_id: i64, slot: i64, rules: &SlotRules, except: i64) -> Result<bool> {
    let tz = zone(tx, user_id).await?;
    let hours = hours(tx, user_id).await?;
    let dur = rules.duration_min * 60;
    let busy = busy_except(tx, user_id, slot - 86_400, slot + dur + 86_400, except).await?;
    Ok(free_slots(tz, &hours, &busy, slot, slot + 1, rules, tx.now()).contains(&slot))
}

pub(super) fn taken() -> AppError {
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
pub(super) async fn insert_booking(
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
    let nonce = random_token();
    let token = crate::platform::signing::site(tx.shared())?.sign("booking", &format!("{id}.{nonce}"));
    q("INSERT INTO bookings (token_hash, action_id, created_at, team_id, nonce) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_hash(&token))
        .bind(id)
        .bind(t)
        .bind(team_id)
        .bind(nonce)
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

/// The manage-link token of a booked appointment, derived again from its
/// nonce with the installation's key (so its emails can carry the link while
/// the table keeps only the token's hash); `None` for an appointment that was
/// not booked online, or booked before tokens were derived.
pub async fn manage_token(tx: &mut Tx, action_id: i64) -> Result<Option<String>> {
    let nonce: Option<Option<String>> = q("SELECT nonce FROM bookings WHERE action_id = $1")
        .bind(action_id)
        .scalar_opt(&mut *tx)
        .await?;
    let site = crate::platform::signing::site(tx.shared())?;
    Ok(nonce.flatten().map(|n| site.sign("booking", &format!("{action_id}.{n}"))))
}

/// The appointment behind a manage link.
pub async fn by_token(db: &Db, token: &str) -> Result<crate::agenda::actions::Action> {
    let id: Option<i64> = q("SELECT action_id FROM bookings WHERE token_hash = $1")
        .bind(token_hash(token))
        .scalar_opt(&mut db.conn().await?)
        .await?;
    crate::agenda::actions::get(db, id.ok_or(AppError::NotFound)?).await
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

/// The rules a booking was made under: its team's, or its rep's page.
pub(super) async fn rules_of_booking(db: &Db, token: &str, a: &crate::agenda::actions::Action) -> Result<SlotRules> {
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
