//! Demo data (SPEC P6): a lived-in company for newcomers, made through the same
//! services users go through, then back-dated over the past year (this file);
//! large deterministic data sets for benchmarks, bulk-loaded (`scale`); the
//! seeded random data both draw from (`random`).

mod random;
mod scale;

pub use random::Rng;
use random::*;
pub use scale::{generate_actions, generate_scale, BulkContacts, ACTIONS_PER_CONTACT};

use crate::access::users::{self, NewUser};
use crate::db::q;
use crate::error::{AppError, Result};
use crate::records::{accounts, contacts, timeline};
use crate::{settings, Carnet};
use carnet_domain::fields::Entity;
use carnet_domain::records::{AccountDraft, ContactDraft, RawInput};
use carnet_domain::values::fold;

pub const DEMO_PASSWORD: &str = "carnet-demo";
pub const DEMO_ADMIN: &str = "claire@carnet.example";

fn raw(pairs: &[(&str, String)]) -> RawInput {
    RawInput::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())))
}

pub async fn has_demo(c: &Carnet) -> Result<bool> {
    let v: Option<String> = q("SELECT value FROM app_settings WHERE key = 'demo'")
        .scalar_opt(&mut c.db.conn().await?)
        .await?;
    Ok(v.is_some())
}

/// Whether the database holds anything a user made (users or records).
pub async fn has_data(c: &Carnet) -> Result<bool> {
    let mut conn = c.db.conn().await?;
    let users: i64 = q("SELECT COUNT(*) FROM users").scalar(&mut conn).await?;
    let accounts: i64 = q("SELECT COUNT(*) FROM accounts").scalar(&mut conn).await?;
    let contacts: i64 = q("SELECT COUNT(*) FROM contacts").scalar(&mut conn).await?;
    Ok(users + accounts + contacts > 0)
}

/// Fills an empty database with the demo company. Refuses a database with data.
pub async fn fill(c: &Carnet, seed: u64) -> Result<()> {
    if has_demo(c).await? {
        return Ok(());
    }
    if has_data(c).await? {
        return Err(AppError::Conflict(
            "this database already holds data that is not the demo: use an empty database for `carnet demo`".into(),
        ));
    }
    let db = &c.db;
    let mut rng = Rng::new(seed);
    let people = [
        ("Claire Martin", DEMO_ADMIN, "admin", "fr"),
        ("Hugo Bernard", "hugo@carnet.example", "manager", "fr"),
        ("Léa Dubois", "lea@carnet.example", "sales", "fr"),
        ("Tom Wilson", "tom@carnet.example", "sales", "en"),
        ("Sofia Rossi", "sofia@carnet.example", "marketing", "en"),
    ];
    let mut reps = Vec::new();
    for (name, email, role, locale) in people {
        let u = users::create(
            db,
            NewUser::parse(email, name, role, DEMO_PASSWORD, locale, "Europe/Paris").map_err(AppError::Invalid)?,
        )
        .await?;
        reps.push(u);
    }
    settings::create_status(db, "Hot prospect", "#d9480f").await?;
    settings::create_status(db, "Cold prospect", "#74a9cf").await?;
    let sector = settings::create_category(db, "Business sector", false, false).await?;
    for (n, col) in [
        ("Industry", "#495057"),
        ("Retail", "#e67700"),
        ("Services", "#1971c2"),
        ("Healthcare", "#2b8a3e"),
        ("Public sector", "#862e9c"),
    ] {
        settings::create_tag(db, sector, n, col).await?;
    }
    let size = settings::create_category(db, "Company size", false, false).await?;
    for n in ["1-9", "10-49", "50-249", "250+"] {
        settings::create_tag(db, size, n, "#6b7785").await?;
    }
    let interests = settings::create_category(db, "Interests", true, false).await?;
    for n in ["Printing", "Scanning", "Managed services"] {
        settings::create_tag(db, interests, n, "#0b7285").await?;
    }
    use settings::NewField;
    let nf = |entity, key, label, kind, choices| NewField {
        entity,
        key,
        label,
        kind,
        choices,
    };
    settings::create_field(
        db,
        nf("account", "printers_installed", "Number of printers installed", "number", ""),
    )
    .await?;
    settings::create_field(db, nf("account", "contract_end", "Contract end", "date", "")).await?;
    settings::create_field(db, nf("account", "annual_budget", "Annual budget", "currency", "EUR")).await?;
    settings::create_field(db, nf("contact", "newsletter", "Newsletter", "boolean", "")).await?;
    settings::create_field(
        db,
        nf(
            "contact",
            "preferred_channel",
            "Preferred channel",
            "single_choice",
            "Phone\nEmail\nVisit",
        ),
    )
    .await?;
    let cat = settings::catalog(db).await?;
    let customer = cat.resolve_status("Customer").map_err(AppError::internal)?;
    settings::create_rule(db, "account", "phone", Some(customer), None).await?;
    let cat = settings::catalog(db).await?;
    let statuses = [
        "Prospect",
        "Prospect",
        "Hot prospect",
        "Cold prospect",
        "Customer",
        "Customer",
        "Customer",
        "Partner",
        "Competitor",
        "Former customer",
    ];
    let tags_of = |cat_name: &str| -> Vec<String> {
        cat.categories
            .iter()
            .find(|c| c.name == cat_name)
            .map(|c| c.tags.iter().map(|t| format!("{}/{}", c.name, t.name)).collect())
            .unwrap_or_default()
    };
    let (potential, sectors, sizes, interest_tags) = (
        tags_of("Potential"),
        tags_of("Business sector"),
        tags_of("Company size"),
        tags_of("Interests"),
    );
    let t0 = c.db.now();
    let year = 365 * 86_400;
    for i in 0..60 {
        let name = format!("{} {}", rng.pick(COMPANY_A), rng.pick(COMPANY_B));
        let name = if i % 7 == 3 { format!("{name} SAS") } else { name };
        let (city, postal, country) = *rng.pick(CITIES);
        let slug = fold(&name).replace(' ', "-");
        let status = statuses[rng.below(statuses.len() as u64) as usize];
        let owner = &reps[[1usize, 2, 2, 3, 3][rng.below(5) as usize]];
        let mut pairs = vec![
            ("name", name.clone()),
            ("status", status.to_string()),
            ("owner", owner.id.to_string()),
            (
                "phone",
                format!(
                    "+33 1 {:02} {:02} {:02} {:02}",
                    10 + rng.below(89),
                    rng.below(99),
                    rng.below(99),
                    rng.below(99)
                ),
            ),
            ("website", format!("https://www.{slug}-{i}.example")),
            ("email", format!("contact@{slug}-{i}.example")),
            (
                "address",
                format!(
                    "{} rue {}",
                    1 + rng.below(120),
                    rng.pick(&["de la République", "Victor Hugo", "du Commerce", "des Lilas", "Pasteur"])
                ),
            ),
            ("postal_code", postal.to_string()),
            ("city", city.to_string()),
            ("country", country.to_string()),
            ("company_id", format!("{:09}", 300_000_000 + rng.below(600_000_000))),
            (
                "source",
                rng.pick(&["Trade show", "Website", "Referral", "Cold call", "Partner"]).to_string(),
            ),
            ("tags", rng.pick(&potential).clone()),
            ("tags", rng.pick(&sectors).clone()),
            ("tags", rng.pick(&sizes).clone()),
            ("cf.printers_installed", rng.below(40).to_string()),
        ];
        if rng.chance(50) {
            pairs.push(("tags", rng.pick(&interest_tags).clone()));
        }
        if status == "Customer" {
            pairs.push(("cf.contract_end", format!("2027-{:02}-{:02}", 1 + rng.below(12), 1 + rng.below(28))));
            pairs.push(("cf.annual_budget", format!("{}000", 5 + rng.below(120))));
        }
        let draft = AccountDraft::parse(&raw(&pairs), &cat, &[]).map_err(AppError::Invalid)?;
        let id = accounts::create(c, &cat, owner, &draft).await?;
        let created = t0 - year + (rng.below(300) as i64) * 86_400 + rng.below(36_000) as i64;
        let mut timeline_at = created;
        // A later status change, as a rep would make it.
        if status == "Customer" && rng.chance(70) {
            let mut earlier = raw(&pairs);
            earlier.set("status", "Hot prospect");
            let d0 = AccountDraft::parse(&earlier, &cat, &[]).map_err(AppError::Invalid)?;
            accounts::update(c, &cat, owner, id, &d0).await?;
            accounts::update(c, &cat, owner, id, &draft).await?;
        }
        let n_contacts = 1 + rng.below(3);
        for k in 0..n_contacts {
            let first = rng.pick(FIRST).to_string();
            let last = rng.pick(LAST).to_string();
            let email = format!(
                "{}.{}@{slug}-{i}.example",
                fold(&first).replace(' ', ""),
                fold(&last).replace(' ', "")
            );
            let cpairs = vec![
                ("first_name", first),
                ("last_name", last),
                ("email", email),
                (
                    "phone",
                    format!(
                        "06 {:02} {:02} {:02} {:02}",
                        rng.below(99),
                        rng.below(99),
                        rng.below(99),
                        rng.below(99)
                    ),
                ),
                ("job_title", rng.pick(JOBS).to_string()),
                ("owner", owner.id.to_string()),
                ("city", city.to_string()),
                ("country", country.to_string()),
                ("cf.newsletter", if rng.chance(60) { "true" } else { "false" }.to_string()),
                ("cf.preferred_channel", rng.pick(&["Phone", "Email", "Visit"]).to_string()),
            ];
            let cd = ContactDraft::parse(&raw(&cpairs), &cat, &[]).map_err(AppError::Invalid)?;
            let role = cat.roles.get(((k + rng.below(2)) % cat.roles.len() as u64) as usize).map(|r| r.id);
            contacts::create(c, &cat, owner, &cd, Some((id, role))).await?;
        }
        if rng.chance(60) {
            let author = &reps[rng.below(reps.len() as u64) as usize];
            timeline::comment(db, Entity::Account, id, author.id, &name, rng.pick::<&str>(COMMENTS)).await?;
        }
        // Spread the account's history over the past year.
        let mut tx = db.begin().await?;
        q("UPDATE accounts SET created_at = $1, updated_at = $2 WHERE id = $3")
            .bind(created)
            .bind(created + 86_400 * rng.below(60) as i64)
            .bind(id)
            .execute(&mut tx)
            .await?;
        let entries: Vec<(i64,)> = q("SELECT id FROM timeline WHERE (entity = 'account' AND record_id = $1) OR (entity = 'contact' AND record_id IN (SELECT contact_id FROM account_contacts WHERE account_id = $1)) ORDER BY id")
            .bind(id)
            .fetch_all(&mut tx)
            .await?;
        for (eid,) in entries {
            q("UPDATE timeline SET created_at = $1 WHERE id = $2")
                .bind(timeline_at)
                .bind(eid)
                .execute(&mut tx)
                .await?;
            timeline_at += 3_600 + rng.below(20 * 86_400) as i64;
            timeline_at = timeline_at.min(t0);
        }
        q("UPDATE contacts SET created_at = $1, updated_at = $1 WHERE id IN (SELECT contact_id FROM account_contacts WHERE account_id = $2)")
            .bind(created)
            .bind(id)
            .execute(&mut tx)
            .await?;
        tx.commit().await?;
    }
    fill_sales(c, &reps, &mut rng).await?;
    fill_marketing(c, &cat, reps[0].id, &mut rng).await?;
    let mut tx = db.begin().await?;
    // What an hour of each rep costs (opportunity cost): 40 to 55 €.
    q("UPDATE users SET hourly_cost = 4000 + (id % 4) * 500").execute(&mut tx).await?;
    // The history was back-dated in place: the analysis facts are recomputed
    // (and the users, written in bulk, read again by the catalogue).
    crate::analytics::facts::rebuild(&mut tx).await?;
    crate::platform::events::settings_changed(&mut tx, "users", false).await?;
    tx.commit().await?;
    // A year of pipeline history from the stage moves.
    let today = db.clock().today_utc();
    crate::analytics::snapshots::backfill(db, today - chrono::Duration::days(365), today - chrono::Duration::days(1)).await?;
    let mut tx = db.begin().await?;
    q("INSERT INTO app_settings (key, value) VALUES ('demo', $1)")
        .bind(seed.to_string())
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A year of sales: a pipeline per segment, offers, opportunities from several
/// sources moved through their stages over time (won, lost with a reason, or
/// still open), and orders for the deals won.
async fn fill_sales(c: &Carnet, reps: &[crate::access::User], rng: &mut Rng) -> Result<()> {
    use crate::sales::{self, opportunities, orders, PipelineInput};
    use carnet_domain::sales::{OpportunityDraft, OrderDraft, Outcome};
    let db = &c.db;
    let cat = settings::catalog(db).await?;
    let tag = |name: &str| {
        cat.categories
            .iter()
            .flat_map(|c| c.tags.iter())
            .find(|t| t.name == name)
            .map(|t| t.id)
    };
    let sales_cat = sales::catalog(db).await?;
    let first = sales_cat
        .pipelines
        .first()
        .map(|p| p.id)
        .ok_or_else(|| AppError::internal("no default pipeline"))?;
    sales::update_pipeline(
        db,
        first,
        PipelineInput {
            name: "Key accounts (Gold)",
            currency: "",
            segment_tag_ids: Some(tag("Gold").into_iter().collect()),
            offer_ids: None,
            archived: None,
        },
    )
    .await?;
    let smb = sales::create_pipeline(
        db,
        PipelineInput {
            name: "SMB (Silver & Bronze)",
            currency: "EUR",
            segment_tag_ids: Some([tag("Silver"), tag("Bronze")].into_iter().flatten().collect()),
            offer_ids: None,
            archived: None,
        },
    )
    .await?;
    for (name, code, price) in [
        ("Managed print services", "MPS", "4900"),
        ("Printer fleet renewal", "FLEET", "12000"),
        ("Document scanning", "SCAN", "2500"),
        ("Maintenance contract", "MAINT", "1800"),
    ] {
        sales::create_offer(db, name, code, price, "EUR").await?;
    }
    let cat = sales::full_catalog(db).await?;
    let gold = tag("Gold");
    let accounts: Vec<(i64, String, Option<i64>)> = q("SELECT a.id, a.name, a.owner_id FROM accounts a ORDER BY a.id")
        .fetch_all(&mut db.conn().await?)
        .await?;
    let t_end = c.db.now();
    let year = 365 * 86_400;
    let mut order_no = 1000;
    for (account_id, account_name, owner) in accounts {
        let is_gold: bool = match gold {
            Some(g) => {
                q("SELECT COUNT(*) FROM record_tags WHERE entity = 'account' AND record_id = $1 AND tag_id = $2")
                    .bind(account_id)
                    .bind(g)
                    .scalar::<i64>(&mut db.conn().await?)
                    .await?
                    > 0
            }
            None => false,
        };
        let pipeline = cat
            .sales
            .pipeline(if is_gold { first } else { smb })
            .cloned()
            .ok_or_else(|| AppError::internal("pipeline"))?;
        let contacts: Vec<(i64,)> = q("SELECT contact_id FROM account_contacts WHERE account_id = $1 LIMIT 2")
            .bind(account_id)
            .fetch_all(&mut db.conn().await?)
            .await?;
        let actor = reps.iter().find(|u| Some(u.id) == owner).unwrap_or(&reps[2]).clone();
        for n in 0..rng.below(4) {
            let offer = rng.pick(&cat.sales.offers).clone();
            let amount = offer.list_price * (1 + rng.below(if is_gold { 8 } else { 3 }) as i64) + (rng.below(50) as i64) * 10_000;
            let created = t_end - year + rng.below(330) as i64 * 86_400 + rng.below(30_000) as i64;
            let source = rng
                .pick(&[
                    "Marketing campaign",
                    "Marketing campaign",
                    "Sales prospecting",
                    "Existing customer",
                    "Referral / word of mouth",
                    "Partner",
                ])
                .to_string();
            let open_stages: Vec<_> = pipeline.stages.iter().filter(|s| s.outcome == Outcome::Open).cloned().collect();
            // How far it went: won, lost after some stages, or still open.
            let fate = rng.below(100);
            let (steps, outcome) = if fate < 35 {
                (open_stages.len(), Outcome::Won)
            } else if fate < 65 {
                (1 + rng.below(open_stages.len() as u64 - 1) as usize, Outcome::Lost)
            } else {
                (rng.below(open_stages.len() as u64) as usize, Outcome::Open)
            };
            let close_in = created + (30 + rng.below(150) as i64) * 86_400;
            let expected = chrono::DateTime::from_timestamp(close_in.max(t_end - 200 * 86_400), 0)
                .map(|d| d.date_naive().to_string())
                .unwrap_or_default();
            let mut pairs = vec![
                ("name", format!("{} — {}", offer.name, account_name)),
                ("account", account_id.to_string()),
                ("owner", actor.id.to_string()),
                ("pipeline", pipeline.id.to_string()),
                ("amount", carnet_domain::values::Money(amount).to_plain()),
                (
                    "margin",
                    carnet_domain::values::Money(amount * (15 + rng.below(25) as i64) / 100).to_plain(),
                ),
                ("offer", offer.id.to_string()),
                ("source", source),
                ("expected_close", expected),
            ];
            if let Some((cid,)) = contacts.first() {
                pairs.push(("contacts", cid.to_string()));
            }
            let d = OpportunityDraft::parse(&raw(&pairs), &cat, &cat.sales, &[]).map_err(AppError::Invalid)?;
            let before: i64 = q("SELECT COALESCE(MAX(id), 0) FROM timeline").scalar(&mut db.conn().await?).await?;
            let id = opportunities::create(c, &cat, &cat.sales, &actor, &d).await?;
            for s in open_stages.iter().take(steps).skip(1) {
                opportunities::move_to(c, &cat, &cat.sales, &actor, id, &s.id.to_string(), "", None).await?;
            }
            let closing = pipeline.stages.iter().find(|s| s.outcome == outcome && outcome != Outcome::Open);
            if let Some(s) = closing {
                let reason = if outcome == Outcome::Lost {
                    rng.pick(&cat.sales.lost_reasons).name.clone()
                } else {
                    String::new()
                };
                opportunities::move_to(c, &cat, &cat.sales, &actor, id, &s.id.to_string(), &reason, None).await?;
            }
            // Spread the story over time: each move some days after the last.
            let moves: Vec<(i64,)> = q("SELECT id FROM stage_history WHERE opportunity_id = $1 ORDER BY id")
                .bind(id)
                .fetch_all(&mut db.conn().await?)
                .await?;
            let mut times = Vec::new();
            let mut t = created;
            for _ in &moves {
                times.push(t);
                t = (t + (3 + rng.below(25) as i64) * 86_400).min(t_end - 3600);
            }
            let last = *times.last().unwrap_or(&created);
            let mut tx = db.begin().await?;
            for ((mid,), at) in moves.iter().zip(&times) {
                q("UPDATE stage_history SET moved_at = $1 WHERE id = $2")
                    .bind(*at)
                    .bind(*mid)
                    .execute(&mut tx)
                    .await?;
            }
            q("UPDATE opportunities SET created_at = $1, stage_entered_at = $2, updated_at = $2, closed_at = CASE WHEN status = 'open' THEN NULL ELSE $2 END WHERE id = $3")
                .bind(created)
                .bind(last)
                .bind(id)
                .execute(&mut tx)
                .await?;
            // Timeline entries written for this opportunity follow its moves.
            let entries: Vec<(i64, String, i64)> = q("SELECT id, entity, record_id FROM timeline WHERE id > $1 ORDER BY id")
                .bind(before)
                .fetch_all(&mut tx)
                .await?;
            let mut k = 0usize;
            let mut started = false;
            for (eid, entity, rid) in entries {
                if entity == "opportunity" && rid == id {
                    if started {
                        k = (k + 1).min(times.len().saturating_sub(1));
                    }
                    started = true;
                }
                q("UPDATE timeline SET created_at = $1 WHERE id = $2")
                    .bind(times.get(k).copied().unwrap_or(created))
                    .bind(eid)
                    .execute(&mut tx)
                    .await?;
            }
            tx.commit().await?;
            // Its actions: a few done along the way, and the next one planned if still open.
            let types = crate::agenda::types(db).await?;
            let ty = |name: &str| types.iter().find(|t| t.name == name).map(|t| t.id.to_string()).unwrap_or_default();
            for (k, at) in times.iter().enumerate().take(3) {
                let kind = ["Phone call", "Physical appointment", "Demo"][k % 3];
                let d = carnet_domain::agenda::ActionDraft::parse(
                    &raw(&[
                        ("type", ty(kind)),
                        ("subject", ["Discovery call", "On-site meeting", "Product demo"][k % 3].to_string()),
                        (
                            "starts_at",
                            chrono::DateTime::from_timestamp(*at, 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
                        ),
                        (
                            "due_date",
                            chrono::DateTime::from_timestamp(*at, 0)
                                .map(|t| t.date_naive().to_string())
                                .unwrap_or_default(),
                        ),
                        ("duration", ["30", "90", "60"][k % 3].to_string()),
                        ("account", account_id.to_string()),
                        ("opportunity", id.to_string()),
                        ("assignee", actor.id.to_string()),
                    ]),
                    &cat,
                    &types,
                    chrono_tz::Europe::Paris,
                    db.now(),
                    &[],
                )
                .map_err(AppError::Invalid)?;
                let aid = crate::agenda::actions::create(db, &actor, &d).await?;
                let mut tx = db.begin().await?;
                q("UPDATE actions SET outcome = 'done', done_at = $1, spent_min = duration_min, created_at = $1, updated_at = $1 WHERE id = $2").bind(*at).bind(aid).execute(&mut tx).await?;
                q("UPDATE timeline SET created_at = $1 WHERE kind = 'action_planned' AND data LIKE $2")
                    .bind(*at)
                    .bind(format!("%\"action_id\":{aid},%"))
                    .execute(&mut tx)
                    .await?;
                tx.commit().await?;
            }
            if outcome == Outcome::Open {
                let due = c.db.clock().today_utc() + chrono::Duration::days(rng.below(20) as i64 - 5);
                let d = carnet_domain::agenda::ActionDraft::parse(
                    &raw(&[
                        ("type", ty(["Email", "Phone call", "Task"][rng.below(3) as usize])),
                        (
                            "subject",
                            rng.pick(&[
                                "Send the proposal",
                                "Follow up on the quote",
                                "Check the budget",
                                "Plan the roll-out",
                            ])
                            .to_string(),
                        ),
                        ("due_date", due.to_string()),
                        ("account", account_id.to_string()),
                        ("opportunity", id.to_string()),
                        ("assignee", actor.id.to_string()),
                    ]),
                    &cat,
                    &types,
                    chrono_tz::Europe::Paris,
                    db.now(),
                    &[],
                )
                .map_err(AppError::Invalid)?;
                crate::agenda::actions::create(db, &actor, &d).await?;
            }
            if outcome == Outcome::Won {
                order_no += 1;
                let date = chrono::DateTime::from_timestamp(last, 0)
                    .map(|d| d.date_naive().to_string())
                    .unwrap_or_default();
                let od = OrderDraft::parse(
                    &raw(&[
                        ("account", account_id.to_string()),
                        ("number", format!("F-2026-{order_no}-{n}")),
                        ("order_date", date),
                        ("amount", carnet_domain::values::Money(amount).to_plain()),
                        ("margin", carnet_domain::values::Money(amount / 4).to_plain()),
                        ("offer", offer.id.to_string()),
                    ]),
                    &cat.sales,
                    "EUR",
                    &[],
                )
                .map_err(AppError::Invalid)?;
                orders::create(db, &actor, &od).await?;
            }
        }
    }
    Ok(())
}

/// Campaigns with their costs, the contacts and deals they brought, a
/// white-paper form with consent and a self-assessment questionnaire.
async fn fill_marketing(c: &Carnet, cat: &carnet_domain::records::Catalog, admin: i64, rng: &mut Rng) -> Result<()> {
    use crate::marketing::{campaigns, forms};
    use carnet_domain::marketing::{Band, CampaignDraft, Choice, CostDraft, FormSpec, Question};
    let db = &c.db;
    let today = db.clock().today_utc();
    let day = |back: i64| (today - chrono::Duration::days(back)).to_string();
    let mut ids = Vec::new();
    for (name, channel, start, end, costs) in [
        (
            "Webinar: cut your printing costs",
            "webinar",
            200,
            199,
            vec![(200, "1500", "Webinar platform"), (210, "800", "Promotion")],
        ),
        (
            "Trade show Lyon",
            "trade_show",
            120,
            118,
            vec![(150, "6500", "Stand"), (120, "1200", "Travel")],
        ),
        (
            "LinkedIn Ads — managed services",
            "linkedin_ads",
            90,
            30,
            vec![(90, "2000", "Ads, first month"), (60, "2000", "Ads, second month")],
        ),
        ("Blog: document workflow", "blog", 300, 0, vec![(300, "900", "Articles")]),
    ] {
        let mut input = raw(&[
            ("name", name.to_string()),
            ("channel", channel.to_string()),
            ("starts_on", day(start)),
            ("ends_on", day(end)),
        ]);
        // The trade show aims at the biggest accounts.
        if channel == "trade_show" && cat.resolve_tag("Potential/Gold").is_ok() {
            input.set("segment", "Potential/Gold");
        }
        let d = CampaignDraft::parse(&input, cat).map_err(AppError::Invalid)?;
        let id = campaigns::create(db, &d).await?;
        for (back, amount, label) in costs {
            let k = CostDraft::parse(
                &raw(&[("day", day(back)), ("amount", amount.to_string()), ("label", label.to_string())]),
                "EUR",
            )
            .map_err(AppError::Invalid)?;
            campaigns::add_cost(db, id, admin, &k).await?;
        }
        ids.push(id);
    }
    // About a third of the contacts came through a campaign; their deals follow.
    let contacts: Vec<(i64,)> = q("SELECT id FROM contacts ORDER BY id").fetch_all(&mut db.conn().await?).await?;
    let mut tx = db.begin().await?;
    for (cid,) in contacts {
        if rng.chance(33) {
            let campaign = ids[rng.below(ids.len() as u64) as usize];
            campaigns::touch(&mut tx, cid, campaign, "form").await?;
        }
    }
    q("UPDATE opportunities SET campaign_id = (SELECT MIN(c.last_campaign_id) FROM opportunity_contacts oc JOIN contacts c ON c.id = oc.contact_id WHERE oc.opportunity_id = opportunities.id), \
       first_campaign_id = (SELECT MIN(c.first_campaign_id) FROM opportunity_contacts oc JOIN contacts c ON c.id = oc.contact_id WHERE oc.opportunity_id = opportunities.id)")
    .execute(&mut tx)
    .await?;
    tx.commit().await?;
    let mut white_paper = forms::FormInput {
        slug: "livre-blanc".into(),
        name: "White paper: managed print services".into(),
        locale: Some("fr".into()),
        campaign_id: Some(ids[3]),
        spec: Some(FormSpec::default_fields()),
        title: "Livre blanc : réduire ses coûts d'impression".into(),
        intro: Some("Recevez notre guide de 20 pages : audit, leviers d'économie, retours d'expérience.".into()),
        thank_you: None,
        redirect_url: None,
        allowed_origins: None,
        consent_text: Some(
            "J'accepte de recevoir le livre blanc et les actualités de Carnet Demo. Je peux me désinscrire à tout moment.".into(),
        ),
        consent_required: true,
        double_opt_in: true,
        results_email: false,
        active: true,
    };
    forms::create(db, cat, &white_paper).await?;
    let choice = |label: &str, points: i64| Choice {
        label: label.into(),
        points,
    };
    white_paper.slug = "evaluation-impression".into();
    white_paper.name = "Self-assessment: your document workflow".into();
    white_paper.title = "Évaluez la maturité de votre gestion documentaire".into();
    white_paper.intro = Some("Cinq questions, deux minutes : votre score et nos conseils.".into());
    white_paper.double_opt_in = false;
    white_paper.results_email = true;
    white_paper.campaign_id = Some(ids[0]);
    white_paper.spec = Some(FormSpec {
        fields: FormSpec::default_fields().fields,
        questions: vec![
            Question {
                label: "Savez-vous combien vous coûte l'impression par an ?".into(),
                multiple: false,
                required: true,
                choices: vec![choice("Non", 0), choice("À peu près", 5), choice("Oui, au centime près", 10)],
            },
            Question {
                label: "Vos documents sont-ils numérisés ?".into(),
                multiple: false,
                required: true,
                choices: vec![choice("Rarement", 0), choice("Une partie", 5), choice("Tous, dès réception", 10)],
            },
            Question {
                label: "Quels outils utilisez-vous ?".into(),
                multiple: true,
                required: false,
                choices: vec![
                    choice("GED", 5),
                    choice("Signature électronique", 5),
                    choice("Impression sécurisée", 5),
                ],
            },
        ],
        bands: vec![
            Band {
                min: 0,
                label: "À reconstruire".into(),
                text: "Commencez par un audit de votre parc et de vos volumes.".into(),
            },
            Band {
                min: 15,
                label: "Perfectible".into(),
                text: "Les bases sont là : la numérisation à la source vous fera gagner du temps.".into(),
            },
            Band {
                min: 30,
                label: "Structurée".into(),
                text: "Votre gestion est mûre : regardons ensemble les services managés.".into(),
            },
        ],
    });
    forms::create(db, cat, &white_paper).await?;
    fill_website(c, rng).await
}

/// The company's website, tracked: the visits of some contacts who came
/// through a campaign (known), and of anonymous visitors.
async fn fill_website(c: &Carnet, rng: &mut Rng) -> Result<()> {
    use crate::marketing::tracking;
    let db = &c.db;
    let origin = "https://www.acme-print.example";
    let site = tracking::save_site(
        db,
        None,
        &tracking::SiteInput {
            name: "acme-print.example".into(),
            origins: origin.into(),
            consent_required: false,
            retention_days: 395,
            active: true,
        },
    )
    .await?;
    let known: Vec<(i64,)> = q("SELECT id FROM contacts WHERE first_campaign_id IS NOT NULL ORDER BY id LIMIT 60")
        .fetch_all(&mut db.conn().await?)
        .await?;
    let mut tx = db.begin().await?;
    for (cid,) in &known {
        q(
            "INSERT INTO track_visitors (site_id, anon, contact_id, identified_at, first_at, last_at, visit_at, visits, views) \
           VALUES ($1, $2, $3, $4, 0, 0, 0, 0, 0)",
        )
        .bind(site)
        .bind(format!("demo-visitor-{cid:08}"))
        .bind(*cid)
        .bind(tx.now())
        .execute(&mut tx)
        .await?;
    }
    tx.commit().await?;
    let pages = [
        ("/", "Acme Print — managed print services"),
        ("/services/managed-print", "Managed print services"),
        ("/pricing", "Pricing"),
        ("/blog/cut-printing-costs", "Cut your printing costs"),
        ("/case-studies/lyon-hospital", "Case study: a hospital in Lyon"),
        ("/contact", "Contact us"),
    ];
    let now_ms = db.now() * 1000;
    let visitors: Vec<String> = known
        .iter()
        .map(|(cid,)| format!("demo-visitor-{cid:08}"))
        .chain((0..240).map(|i| format!("demo-anonymous-{i:06}")))
        .collect();
    let mut hits = Vec::new();
    for anon in &visitors {
        for _ in 0..1 + rng.below(5) {
            let start = now_ms - rng.below(90 * 86_400) as i64 * 1000;
            let referrer = rng.chance(40).then(|| "https://www.search.example/".to_string());
            for n in 0..1 + rng.below(4) as i64 {
                let (path, title) = pages[rng.below(pages.len() as u64) as usize];
                hits.push(tracking::Hit {
                    site_id: site,
                    anon: anon.clone(),
                    url: format!("{origin}{path}"),
                    title: Some(title.into()),
                    referrer: referrer.clone().filter(|_| n == 0),
                    at_ms: start + n * 90_000,
                    contact: None,
                });
            }
        }
    }
    hits.sort_by_key(|h| h.at_ms);
    tracking::write(db, &hits).await
}
