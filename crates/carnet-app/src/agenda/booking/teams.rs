//! Team booking pages: one public page for several reps; a booking goes to a
//! free member, in turn (round robin) or to the least busy.

use super::*;

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

pub(super) const TEAM_COLS: &str =
    "id, slug, name, type_id, duration_min, buffer_before_min, buffer_after_min, min_notice_min, horizon_days, \
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
pub(super) async fn free_with(db: &Db, user_id: i64, rules: &SlotRules, from: i64, to: i64, except: i64) -> Result<Vec<i64>> {
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
pub(super) fn member_order(team: &Team, members: &[i64], load: &[(i64, i64)]) -> Vec<i64> {
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
