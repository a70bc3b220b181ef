//! Large deterministic data sets for benchmarks (`carnet demo --scale N`):
//! accounts, contacts, opportunities with their stage history, and actions,
//! bulk-loaded with `COPY` (PostgreSQL) or multi-row inserts (SQLite). It writes
//! no timeline or events, and recomputes the derived sums at the end; the record
//! writer (`records::write`) is measured against it.

use super::random::*;
use super::DEMO_PASSWORD;
use crate::access::users::{self, NewUser};
use crate::db::dialect::bulk_insert;
use crate::db::{q, Value};
use crate::error::{AppError, Result};
use crate::records::contacts;
use crate::{settings, Carnet};
use carnet_domain::search::TokenSet;
use carnet_domain::values::{company_key, fold};

/// Bulk-loads a large synthetic data set for benchmarks: `contacts` contacts,
/// 30 % as many accounts, tags (the Potential segment and a sector), a custom
/// field, account links and search tokens. Deterministic for a seed.
pub async fn generate_scale(c: &Carnet, contacts: u64, seed: u64, progress: impl Fn(&str)) -> Result<()> {
    let db = &c.db;
    // One rep for every 2,500 contacts (400 at a million), so that diaries and
    // portfolios have a realistic size.
    ensure_reps(db, (contacts / 2_500).clamp(8, 400) as i64).await?;
    let cat = settings::catalog(db).await?;
    if cat.fields.iter().all(|f| f.key != "printers_installed") {
        settings::create_field(
            db,
            settings::NewField {
                entity: "account",
                key: "printers_installed",
                label: "Number of printers installed",
                kind: "number",
                choices: "",
            },
        )
        .await?;
    }
    let sector = match cat.categories.iter().find(|c| c.name == "Business sector") {
        Some(c) => c.id,
        None => {
            let id = settings::create_category(db, "Business sector", false, false).await?;
            for n in ["Industry", "Retail", "Services", "Healthcare", "Public sector"] {
                settings::create_tag(db, id, n, "#495057").await?;
            }
            id
        }
    };
    let cat = settings::catalog(db).await?;
    let potential: Vec<i64> = cat
        .categories
        .iter()
        .find(|c| c.name == "Potential")
        .map(|c| c.tags.iter().map(|t| t.id).collect())
        .unwrap_or_default();
    let sectors: Vec<i64> = cat
        .categories
        .iter()
        .find(|c| c.id == sector)
        .map(|c| c.tags.iter().map(|t| t.id).collect())
        .unwrap_or_default();
    let printers = cat.fields.iter().find(|f| f.key == "printers_installed").map(|f| f.id).unwrap_or(0);
    let status_ids: Vec<i64> = cat.statuses.iter().map(|s| s.id).collect();
    let owners: Vec<i64> = cat.users.iter().map(|u| u.id).collect();
    let mut conn = db.conn().await?;
    let base_account: i64 = q("SELECT COALESCE(MAX(id), 0) FROM accounts").scalar(&mut conn).await?;
    let base_contact: i64 = q("SELECT COALESCE(MAX(id), 0) FROM contacts").scalar(&mut conn).await?;
    drop(conn);
    let n_accounts = (contacts * 3 / 10).max(1);
    let mut rng = Rng::new(seed);
    let t0 = c.db.now() - 2 * 365 * 86_400;
    const BATCH: u64 = 20_000;
    let owner_of = |rng: &mut Rng| -> Value {
        if owners.is_empty() {
            Value::Int(None)
        } else {
            Value::Int(Some(*rng.pick(&owners)))
        }
    };

    let mut done = 0;
    while done < n_accounts {
        let end = (done + BATCH).min(n_accounts);
        let (mut rows, mut tags, mut values, mut tokens) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in done..end {
            let id = base_account + 1 + i as i64;
            let name = format!("{} {} {}", rng.pick(COMPANY_A), rng.pick(COMPANY_B), i);
            let (city, postal, country) = *rng.pick(CITIES);
            let created = t0 + rng.below(2 * 365 * 86_400) as i64;
            let company_id = format!("{:09}", 100_000_000 + i);
            rows.push(vec![
                id.into(),
                name.clone().into(),
                fold(&name).into(),
                company_key(&name).into(),
                (*rng.pick(&status_ids)).into(),
                owner_of(&mut rng),
                city.into(),
                postal.into(),
                country.into(),
                company_id.clone().into(),
                company_id.clone().into(),
                created.into(),
                created.into(),
            ]);
            let mut ts = TokenSet::new();
            ts.words(&name).code(&company_id);
            if !potential.is_empty() && rng.chance(60) {
                let t = *rng.pick(&potential);
                tags.push(vec!["account".into(), id.into(), t.into()]);
                ts.words(&cat.tag(t).map(|x| x.1.name.clone()).unwrap_or_default());
            }
            if !sectors.is_empty() {
                tags.push(vec!["account".into(), id.into(), (*rng.pick(&sectors)).into()]);
            }
            values.push(vec![
                printers.into(),
                id.into(),
                Value::Text(None),
                Value::Float(Some(rng.below(50) as f64)),
            ]);
            for t in ts.into_vec() {
                tokens.push(vec![t.into(), "account".into(), id.into()]);
            }
        }
        let mut tx = db.begin().await?;
        bulk_insert(
            &mut tx,
            "accounts",
            &[
                "id",
                "name",
                "name_key",
                "company_key",
                "status_id",
                "owner_id",
                "city",
                "postal_code",
                "country",
                "company_id",
                "company_id_key",
                "created_at",
                "updated_at",
            ],
            &rows,
        )
        .await?;
        bulk_insert(&mut tx, "record_tags", &["entity", "record_id", "tag_id"], &tags).await?;
        bulk_insert(
            &mut tx,
            "field_values",
            &["field_id", "record_id", "value_text", "value_num"],
            &values,
        )
        .await?;
        bulk_insert(&mut tx, "search_tokens", &["token", "entity", "record_id"], &tokens).await?;
        tx.commit().await?;
        done = end;
        progress(&format!("accounts {done}/{n_accounts}"));
    }
    let mut done = 0;
    while done < contacts {
        let end = (done + BATCH).min(contacts);
        let (mut bulk, mut links) = (BulkContacts::default(), Vec::new());
        for i in done..end {
            let id = base_contact + 1 + i as i64;
            let first = rng.pick(FIRST).to_string();
            let last = format!(
                "{}{}",
                rng.pick(LAST),
                if i % 3 == 0 { String::new() } else { format!("-{}", i % 997) }
            );
            let email = format!(
                "{}.{}{}@mail{}.example",
                fold(&first).replace(' ', ""),
                fold(&last).replace(' ', ""),
                i,
                i % 50
            );
            let phone = format!("06{:08}", i);
            let created = t0 + rng.below(2 * 365 * 86_400) as i64;
            let owner = owner_of(&mut rng);
            let tag = (!potential.is_empty() && rng.chance(60)).then(|| *rng.pick(&potential));
            let tag = tag.map(|t| (t, cat.tag(t).map(|x| x.1.name.clone()).unwrap_or_default()));
            bulk.push(
                id,
                &first,
                &last,
                &email,
                &phone,
                owner,
                created,
                tag.as_ref().map(|(t, n)| (*t, n.as_str())),
            );
            links.push(vec![
                (base_account + 1 + rng.below(n_accounts) as i64).into(),
                id.into(),
                Value::Int(None),
                created.into(),
            ]);
        }
        let mut tx = db.begin().await?;
        bulk.insert(&mut tx).await?;
        bulk_insert(
            &mut tx,
            "account_contacts",
            &["account_id", "contact_id", "role_id", "created_at"],
            &links,
        )
        .await?;
        tx.commit().await?;
        done = end;
        progress(&format!("contacts {done}/{contacts}"));
    }
    generate_opportunities(c, contacts, base_account, n_accounts, &mut rng, &progress).await?;
    generate_actions(c, contacts * ACTIONS_PER_CONTACT, seed, &progress).await?;
    let mut tx = db.begin().await?;
    // Loaded in bulk: every deal's segment, the open-pipeline totals and the
    // facts are recomputed by the subscribers of a change of segments.
    crate::platform::events::settings_changed(&mut tx, "demo", true).await?;
    tx.commit().await?;
    crate::db::dialect::after_bulk_load(db).await?;
    Ok(())
}

/// Reps until there are `n` users (one password hash for all: the demo one).
async fn ensure_reps(db: &crate::Db, n: i64) -> Result<()> {
    let have: i64 = q("SELECT COUNT(*) FROM users").scalar(&mut db.conn().await?).await?;
    if have >= n {
        return Ok(());
    }
    let hash = users::hash_password(DEMO_PASSWORD.to_string()).await?;
    let t = db.now();
    let rows: Vec<Vec<Value>> = (have..n)
        .map(|i| {
            vec![
                format!("rep{i}@scale.example").into(),
                format!("Rep {i}").into(),
                "sales".into(),
                hash.clone().into(),
                "en".into(),
                "Europe/Paris".into(),
                true.into(),
                t.into(),
            ]
        })
        .collect();
    let mut tx = db.begin().await?;
    bulk_insert(
        &mut tx,
        "users",
        &[
            "email",
            "name",
            "role",
            "password_hash",
            "locale",
            "time_zone",
            "active",
            "created_at",
        ],
        &rows,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Actions per contact in the scale data set (10 million for a million contacts).
pub const ACTIONS_PER_CONTACT: u64 = 10;

/// Bulk-loads `n` actions: four in ten follow an opportunity (its owner, during
/// its life: calls, demos, visits, with the time spent), the rest are account
/// work (prospecting calls, emails, customer visits, tasks) over five years and
/// the next three months; past ones are closed (mostly done, some no-shows and
/// cancellations), future ones open. Deterministic for a seed.
pub async fn generate_actions(c: &Carnet, n: u64, seed: u64, progress: &impl Fn(&str)) -> Result<()> {
    let db = &c.db;
    let types = crate::agenda::types(db).await?;
    let mut conn = db.conn().await?;
    let (acc_lo, acc_hi): (i64, i64) = q("SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM accounts")
        .fetch_one(&mut conn)
        .await?;
    let (con_lo, con_hi): (i64, i64) = q("SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM contacts")
        .fetch_one(&mut conn)
        .await?;
    let (opp_lo, opp_hi): (i64, i64) = q("SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM opportunities")
        .fetch_one(&mut conn)
        .await?;
    let reps: Vec<(i64,)> = q("SELECT id FROM users WHERE role = 'sales' ORDER BY id")
        .fetch_all(&mut conn)
        .await?;
    drop(conn);
    let reps: Vec<i64> = reps.into_iter().map(|(u,)| u).collect();
    if acc_hi == 0 || reps.is_empty() || types.is_empty() {
        return Ok(());
    }
    let mut rng = Rng::new(seed ^ 0xAC71_0115);
    let t_end = c.db.now();
    let t_start = t_end - 5 * 365 * 86_400;
    let horizon = t_end + 90 * 86_400;
    let appointment: Vec<i64> = types.iter().filter(|t| t.kind == "appointment").map(|t| t.id).collect();
    let task: Vec<i64> = types.iter().filter(|t| t.kind == "task").map(|t| t.id).collect();
    const BATCH: u64 = 20_000;
    let mut done = 0;
    while done < n {
        let end = (done + BATCH).min(n);
        // The opportunities this batch follows, read once.
        let follow = (end - done) * 4 / 10;
        let mut picks: Vec<i64> = (0..follow)
            .map(|_| opp_lo + rng.below((opp_hi - opp_lo + 1) as u64) as i64)
            .collect();
        picks.sort_unstable();
        picks.dedup();
        // id, account, owner, created, closed
        type Followed = (i64, i64, Option<i64>, i64, Option<i64>);
        let mut opps: Vec<Followed> = Vec::new();
        for chunk in picks.chunks(1000) {
            let mut query = q("SELECT id, account_id, owner_id, created_at, closed_at FROM opportunities WHERE id IN ");
            crate::db::push_in_list(&mut query, chunk);
            opps.extend(
                query
                    .fetch_all::<(i64, i64, Option<i64>, i64, Option<i64>)>(&mut db.conn().await?)
                    .await?,
            );
        }
        let mut rows = Vec::with_capacity((end - done) as usize);
        for i in done..end {
            let follows = !opps.is_empty() && i % 10 < 4;
            let (account, opportunity, assignee, from, to) = if follows {
                let (id, acc, owner, created, closed) = *rng.pick(&opps);
                let owner = owner.unwrap_or(*rng.pick(&reps));
                (acc, Some(id), owner, created, closed.unwrap_or(horizon).max(created + 3600))
            } else {
                let acc = acc_lo + rng.below((acc_hi - acc_lo + 1) as u64) as i64;
                (acc, None, *rng.pick(&reps), t_start, horizon)
            };
            let contact = if con_hi > 0 && rng.chance(70) {
                Some(con_lo + rng.below((con_hi - con_lo + 1) as u64) as i64)
            } else {
                None
            };
            let at = from + rng.below((to - from).max(1) as u64) as i64;
            let is_appointment = !appointment.is_empty() && rng.chance(if follows { 60 } else { 35 });
            let (type_id, starts, duration, due, planned) = if is_appointment {
                // On the quarter hour, between 08:00 and 18:00 UTC.
                let day = at - at.rem_euclid(86_400);
                let start = day + 8 * 3600 + rng.below(40) as i64 * 900;
                let d = [30i64, 45, 60, 90][rng.below(4) as usize];
                (*rng.pick(&appointment), Some(start), Some(d), None, start)
            } else {
                let day = at - at.rem_euclid(86_400);
                let date = chrono::DateTime::from_timestamp(day, 0).unwrap_or_default().date_naive();
                (*rng.pick(&task), None, None, Some(date.to_string()), day)
            };
            let past = planned < t_end;
            let outcome = if !past {
                None
            } else {
                match rng.below(100) {
                    0..=84 => Some("done"),
                    85..=91 if is_appointment => Some("no_show"),
                    85..=94 => Some("cancelled"),
                    _ => Some("rescheduled"),
                }
            };
            let spent = match (outcome, duration) {
                (Some("done"), Some(d)) => Some(d + rng.below(30) as i64 - 10),
                (Some("done"), None) => Some(5 + rng.below(40) as i64),
                _ => None,
            };
            let done_at = outcome.map(|_| planned + duration.unwrap_or(0) * 60);
            let subject = if is_appointment { "Meeting" } else { "Follow-up" };
            rows.push(vec![
                type_id.into(),
                subject.into(),
                account.into(),
                Value::Int(contact),
                Value::Int(opportunity),
                assignee.into(),
                assignee.into(),
                Value::Int(starts),
                Value::Int(duration),
                Value::Text(due),
                Value::Int(done_at),
                Value::Int(spent),
                Value::Text(outcome.map(str::to_string)),
                planned.into(),
                0i64.into(),
                (planned - 86_400 * rng.below(20) as i64).into(),
                done_at.unwrap_or(planned).into(),
            ]);
        }
        let mut tx = db.begin().await?;
        bulk_insert(
            &mut tx,
            "actions",
            &[
                "type_id",
                "subject",
                "account_id",
                "contact_id",
                "opportunity_id",
                "assignee_id",
                "created_by",
                "starts_at",
                "duration_min",
                "due_date",
                "done_at",
                "spent_min",
                "outcome",
                "planned_at",
                "sequence",
                "created_at",
                "updated_at",
            ],
            &rows,
        )
        .await?;
        tx.commit().await?;
        done = end;
        if done % 500_000 == 0 || done == n {
            progress(&format!("actions {done}/{n}"));
        }
    }
    Ok(())
}

/// Bulk-loads `n` opportunities over the accounts just generated: three years of
/// history in three pipelines, 15 % still open, the rest won or lost, each with
/// its creation (and closing) move in the stage history.
async fn generate_opportunities(
    c: &Carnet,
    n: u64,
    base_account: i64,
    n_accounts: u64,
    rng: &mut Rng,
    progress: &impl Fn(&str),
) -> Result<()> {
    use carnet_domain::sales::Outcome;
    let db = &c.db;
    let mut sales_cat = crate::sales::catalog(db).await?;
    while sales_cat.pipelines.len() < 3 {
        let name = format!("Segment pipeline {}", sales_cat.pipelines.len() + 1);
        crate::sales::create_pipeline(
            db,
            crate::sales::PipelineInput {
                name: &name,
                currency: "EUR",
                segment_tag_ids: None,
                offer_ids: None,
                archived: None,
            },
        )
        .await?;
        sales_cat = crate::sales::catalog(db).await?;
    }
    let cat = settings::catalog(db).await?;
    let mut owners: Vec<i64> = cat.users.iter().map(|u| u.id).collect();
    if owners.len() < 8 {
        for i in owners.len()..8 {
            let email = format!("rep{i}@scale.example");
            if users::find_by_email(db, &email).await?.is_none() {
                let u = users::create(
                    db,
                    NewUser::parse(&email, &format!("Rep {i}"), "sales", DEMO_PASSWORD, "en", "Europe/Paris").map_err(AppError::Invalid)?,
                )
                .await?;
                owners.push(u.id);
            }
        }
    }
    let sources: Vec<i64> = sales_cat.sources.iter().map(|s| s.id).collect();
    let reasons: Vec<i64> = sales_cat.lost_reasons.iter().map(|s| s.id).collect();
    let base: i64 = q("SELECT COALESCE(MAX(id), 0) FROM opportunities")
        .scalar(&mut db.conn().await?)
        .await?;
    let t_end = c.db.now();
    const BATCH: u64 = 20_000;
    let mut done = 0;
    while done < n {
        let end = (done + BATCH).min(n);
        let (mut rows, mut history) = (Vec::new(), Vec::new());
        for i in done..end {
            let id = base + 1 + i as i64;
            let p = &sales_cat.pipelines[rng.below(3) as usize];
            let open: Vec<_> = p.stages.iter().filter(|s| s.outcome == Outcome::Open).collect();
            let fate = rng.below(100);
            let outcome = if fate < 15 {
                Outcome::Open
            } else if fate < 60 {
                Outcome::Won
            } else {
                Outcome::Lost
            };
            let stage = match outcome {
                Outcome::Open => open[rng.below(open.len() as u64) as usize],
                o => p.stages.iter().find(|s| s.outcome == o).unwrap(),
            };
            let created = t_end - 3 * 365 * 86_400 + rng.below(3 * 365 * 86_400 - 86_400) as i64;
            let entered = (created + rng.below(90 * 86_400) as i64).min(t_end);
            let expected = if outcome == Outcome::Open {
                t_end - 30 * 86_400 + rng.below(395 * 86_400) as i64
            } else {
                entered
            };
            let expected = chrono::DateTime::from_timestamp(expected, 0).map(|d| d.date_naive().to_string());
            let name = format!("{} {}", rng.pick(COMPANY_B), i);
            let amount = (500 + rng.below(100_000)) as i64 * 100;
            let closed = (outcome != Outcome::Open).then_some(entered);
            rows.push(vec![
                id.into(),
                name.clone().into(),
                fold(&name).into(),
                (base_account + 1 + rng.below(n_accounts) as i64).into(),
                Value::Int(Some(*rng.pick(&owners))),
                p.id.into(),
                stage.id.into(),
                outcome.as_str().into(),
                amount.into(),
                "EUR".into(),
                Value::Int(Some(amount / 4)),
                Value::Int(if sources.is_empty() { None } else { Some(*rng.pick(&sources)) }),
                Value::Text(expected),
                Value::Int(if outcome == Outcome::Lost && !reasons.is_empty() {
                    Some(*rng.pick(&reasons))
                } else {
                    None
                }),
                Value::Int(closed),
                entered.into(),
                created.into(),
                entered.into(),
            ]);
            history.push(vec![id.into(), Value::Int(None), open[0].id.into(), created.into()]);
            if stage.id != open[0].id {
                history.push(vec![id.into(), open[0].id.into(), stage.id.into(), entered.into()]);
            }
        }
        let mut tx = db.begin().await?;
        bulk_insert(
            &mut tx,
            "opportunities",
            &[
                "id",
                "name",
                "name_key",
                "account_id",
                "owner_id",
                "pipeline_id",
                "stage_id",
                "status",
                "amount",
                "currency",
                "margin",
                "source_id",
                "expected_close",
                "lost_reason_id",
                "closed_at",
                "stage_entered_at",
                "created_at",
                "updated_at",
            ],
            &rows,
        )
        .await?;
        bulk_insert(
            &mut tx,
            "stage_history",
            &["opportunity_id", "from_stage_id", "to_stage_id", "moved_at"],
            &history,
        )
        .await?;
        tx.commit().await?;
        done = end;
        progress(&format!("opportunities {done}/{n}"));
    }
    Ok(())
}

/// Contacts as the bulk path writes them: rows with explicit ids, their tag and
/// their search tokens — no timeline, no events (the record writer's baseline).
#[derive(Default)]
pub struct BulkContacts {
    rows: Vec<Vec<Value>>,
    tags: Vec<Vec<Value>>,
    tokens: Vec<Vec<Value>>,
}

impl BulkContacts {
    /// One contact; `tag` is a tag's id and name (a search token).
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        id: i64,
        first: &str,
        last: &str,
        email: &str,
        phone: &str,
        owner: Value,
        created: i64,
        tag: Option<(i64, &str)>,
    ) {
        self.rows.push(vec![
            id.into(),
            first.into(),
            last.into(),
            contacts::name_key(Some(first), last).into(),
            email.into(),
            email.to_lowercase().into(),
            phone.into(),
            phone.into(),
            owner,
            created.into(),
            created.into(),
        ]);
        let mut ts = TokenSet::new();
        ts.words(first).words(last).email(email).digits(phone);
        if let Some((t, name)) = tag {
            self.tags.push(vec!["contact".into(), id.into(), t.into()]);
            ts.words(name);
        }
        for t in ts.into_vec() {
            self.tokens.push(vec![t.into(), "contact".into(), id.into()]);
        }
    }

    pub async fn insert(self, tx: &mut crate::db::Tx) -> Result<()> {
        bulk_insert(
            tx,
            "contacts",
            &[
                "id",
                "first_name",
                "last_name",
                "name_key",
                "email",
                "email_key",
                "phone",
                "phone_key",
                "owner_id",
                "created_at",
                "updated_at",
            ],
            &self.rows,
        )
        .await?;
        bulk_insert(tx, "record_tags", &["entity", "record_id", "tag_id"], &self.tags).await?;
        bulk_insert(tx, "search_tokens", &["token", "entity", "record_id"], &self.tokens).await?;
        Ok(())
    }
}
