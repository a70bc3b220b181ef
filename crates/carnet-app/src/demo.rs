//! Demo data (SPEC P6): a lived-in company for newcomers, made through the same
//! services users go through, then back-dated over the past year; and large
//! deterministic data sets for benchmarks, bulk-loaded.

use crate::access::users::{self, NewUser};
use crate::db::dialect::bulk_insert;
use crate::db::{q, Value};
use crate::error::{AppError, Result};
use crate::records::{accounts, contacts, timeline};
use crate::{settings, Carnet};
use carnet_domain::fields::Entity;
use carnet_domain::records::{AccountDraft, ContactDraft, RawInput};
use carnet_domain::search::TokenSet;
use carnet_domain::values::{company_key, fold};

pub const DEMO_PASSWORD: &str = "carnet-demo";
pub const DEMO_ADMIN: &str = "claire@carnet.example";

/// A small deterministic generator (splitmix64): the same seed, the same data.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const FIRST: &[&str] = &[
    "Camille",
    "Julien",
    "Élodie",
    "Thomas",
    "Sophie",
    "Nicolas",
    "Chloé",
    "Antoine",
    "Manon",
    "Lucas",
    "Inès",
    "Hugo",
    "Emma",
    "Louis",
    "Sarah",
    "James",
    "Olivia",
    "William",
    "Charlotte",
    "Oliver",
    "Amelia",
    "Harry",
    "Isabelle",
    "Mathieu",
    "Aurélie",
    "Pierre",
    "Claire",
    "David",
    "Laura",
    "Benoît",
];
const LAST: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre",
    "Michel", "Garcia", "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Roux", "Fournier", "Girard", "Bonnet",
    "Faure", "Mercier", "Blanc", "Guérin",
];
const COMPANY_A: &[&str] = &[
    "Atelier",
    "Groupe",
    "Imprimerie",
    "Cabinet",
    "Laboratoires",
    "Transports",
    "Boulangerie",
    "Clinique",
    "Northwind",
    "Bluebird",
    "Harbor",
    "Summit",
    "Maison",
    "Ateliers",
    "Société",
    "Pioneer",
    "Granite",
    "Riverside",
    "Alpine",
    "Horizon",
];
const COMPANY_B: &[&str] = &[
    "Dupuis",
    "Lumière",
    "Beaumont",
    "Vauban",
    "Colbert",
    "Mistral",
    "Garonne",
    "Rhône",
    "Logistics",
    "Print Works",
    "Dental",
    "Solutions",
    "Foods",
    "Consulting",
    "Médical",
    "Bâtiment",
    "Energy",
    "Analytics",
    "Textiles",
    "Bretagne",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("Paris", "75008", "France"),
    ("Lyon", "69002", "France"),
    ("Bordeaux", "33000", "France"),
    ("Nantes", "44000", "France"),
    ("Lille", "59000", "France"),
    ("Toulouse", "31000", "France"),
    ("Rennes", "35000", "France"),
    ("Marseille", "13001", "France"),
    ("London", "EC1A 1BB", "United Kingdom"),
    ("Manchester", "M1 1AE", "United Kingdom"),
    ("Bruxelles", "1000", "Belgique"),
    ("Genève", "1201", "Suisse"),
];
const JOBS: &[&str] = &[
    "CEO",
    "Directeur général",
    "Office manager",
    "Responsable achats",
    "Comptable",
    "IT manager",
    "Head of operations",
    "Assistante de direction",
    "CFO",
    "Responsable informatique",
];
const COMMENTS: &[&str] = &[
    "Met at the trade show in Lyon; interested in a fleet renewal next spring.",
    "Client très satisfait du dernier contrat, à relancer pour l'extension au site de Nantes.",
    "Decision expected after their board meeting. Budget confirmed by the CFO.",
    "Attention : le comptable gère les factures, pas les devis. Passer par le directeur.",
    "Asked for a comparison with their current supplier. Sent the product sheet.",
    "Visite sur site prévue, 12 imprimantes à remplacer.",
    "Holiday cover: Tom follows this account until the 20th.",
];

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
        let (mut rows, mut tags, mut links, mut tokens) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
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
            rows.push(vec![
                id.into(),
                first.clone().into(),
                last.clone().into(),
                contacts::name_key(Some(&first), &last).into(),
                email.clone().into(),
                email.clone().into(),
                phone.clone().into(),
                phone.clone().into(),
                owner_of(&mut rng),
                created.into(),
                created.into(),
            ]);
            let mut ts = TokenSet::new();
            ts.words(&first).words(&last).email(&email).digits(&phone);
            if !potential.is_empty() && rng.chance(60) {
                let t = *rng.pick(&potential);
                tags.push(vec!["contact".into(), id.into(), t.into()]);
                ts.words(&cat.tag(t).map(|x| x.1.name.clone()).unwrap_or_default());
            }
            links.push(vec![
                (base_account + 1 + rng.below(n_accounts) as i64).into(),
                id.into(),
                Value::Int(None),
                created.into(),
            ]);
            for t in ts.into_vec() {
                tokens.push(vec![t.into(), "contact".into(), id.into()]);
            }
        }
        let mut tx = db.begin().await?;
        bulk_insert(
            &mut tx,
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
            &rows,
        )
        .await?;
        bulk_insert(&mut tx, "record_tags", &["entity", "record_id", "tag_id"], &tags).await?;
        bulk_insert(
            &mut tx,
            "account_contacts",
            &["account_id", "contact_id", "role_id", "created_at"],
            &links,
        )
        .await?;
        bulk_insert(&mut tx, "search_tokens", &["token", "entity", "record_id"], &tokens).await?;
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
