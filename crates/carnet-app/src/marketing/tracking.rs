//! Website tracking (M5): the company's sites, the hits of the tracker script
//! they serve, and what the hits become — visitors (a first-party anonymous
//! id), their visits (30-minute sessions, return visits after 30 days) and one
//! compact row per page view, the addresses interned once per site. Nothing
//! about the visitor's network is stored.
//!
//! A hit is checked when it arrives ([`collect`]) and answered at once; the
//! group writer ([`write`]) stores the hits that wait together, set-based. An
//! anonymous visitor becomes known when they send a form or follow a tracked
//! email link: [`join_in`] then replays their earlier visits as events, so
//! scoring counts them and the contact's timeline shows them. Known visitors'
//! page views and return visits are events for scoring as they happen.

use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events::{self, EventKind, NewEvent};
use crate::platform::group::Group;
use crate::platform::registry::BoxFut;
use crate::records::timeline::{self, NewEntry};
use crate::Carnet;
use carnet_domain::fields::Entity;
use carnet_domain::tracking::{self as t, ViewKind};
use carnet_domain::FieldErrors;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(rename = "TrackedSite")]
pub struct Site {
    pub id: i64,
    pub name: String,
    /// The key the tracker script names: public, it only says which site.
    pub site_key: String,
    /// The origins whose pages are tracked.
    pub origins: Vec<String>,
    /// Hits are kept only when the page says the visitor consented.
    pub consent_required: bool,
    /// Page views older than this many days are deleted.
    pub retention_days: i64,
    pub active: bool,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
struct SiteRow {
    id: i64,
    name: String,
    site_key: String,
    origins: String,
    consent_required: bool,
    retention_days: i64,
    active: bool,
    created_at: i64,
}

impl SiteRow {
    fn out(self) -> Site {
        Site {
            id: self.id,
            name: self.name,
            site_key: self.site_key,
            origins: self.origins.split_whitespace().map(String::from).collect(),
            consent_required: self.consent_required,
            retention_days: self.retention_days,
            active: self.active,
            created_at: self.created_at,
        }
    }
}

const SITE_COLS: &str = "id, name, site_key, origins, consent_required, retention_days, active, created_at";

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "TrackedSiteInput")]
pub struct SiteInput {
    pub name: String,
    /// The origins whose pages are tracked, separated by spaces (https://www.example.com).
    pub origins: String,
    #[serde(default)]
    pub consent_required: bool,
    /// 30 to 1095 days (395 by default: 13 months).
    #[serde(default = "default_retention")]
    pub retention_days: i64,
    #[serde(default = "yes")]
    pub active: bool,
}

fn default_retention() -> i64 {
    395
}

fn yes() -> bool {
    true
}

fn check_site(i: &SiteInput) -> Result<(String, Vec<String>)> {
    let mut e = FieldErrors::new();
    let name = e.check("name", carnet_domain::values::required_name(&i.name));
    let origins = e.check("origins", carnet_domain::marketing::origins(&i.origins));
    if origins.as_ref().is_some_and(|o| o.is_empty()) {
        e.add("origins", "must name the site's origin, such as https://www.example.com");
    }
    if !(30..=1095).contains(&i.retention_days) {
        e.add("retention_days", "must be from 30 to 1095 days");
    }
    e.into_result().map_err(AppError::Invalid)?;
    Ok((name.unwrap(), origins.unwrap()))
}

pub async fn sites(db: &Db) -> Result<Vec<Site>> {
    let rows: Vec<SiteRow> = q(format!("SELECT {SITE_COLS} FROM track_sites ORDER BY name, id"))
        .fetch_all(&mut db.conn().await?)
        .await?;
    Ok(rows.into_iter().map(SiteRow::out).collect())
}

pub async fn site(db: &Db, id: i64) -> Result<Site> {
    let row: Option<SiteRow> = q(format!("SELECT {SITE_COLS} FROM track_sites WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut db.conn().await?)
        .await?;
    row.map(SiteRow::out).ok_or(AppError::NotFound)
}

/// Saves a site (new when `id` is `None`, with a new key).
pub async fn save_site(db: &Db, id: Option<i64>, i: &SiteInput) -> Result<i64> {
    let (name, origins) = check_site(i)?;
    let mut tx = db.begin().await?;
    let id = match id {
        None => {
            let key: String = crate::access::random_token().chars().take(24).collect();
            q(
                "INSERT INTO track_sites (name, site_key, origins, consent_required, retention_days, active, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(name)
            .bind(key)
            .bind(origins.join(" "))
            .bind(i.consent_required)
            .bind(i.retention_days)
            .bind(i.active)
            .bind(tx.now())
            .insert_id(&mut tx)
            .await?
        }
        Some(id) => {
            let n =
                q("UPDATE track_sites SET name = $1, origins = $2, consent_required = $3, retention_days = $4, active = $5 WHERE id = $6")
                    .bind(name)
                    .bind(origins.join(" "))
                    .bind(i.consent_required)
                    .bind(i.retention_days)
                    .bind(i.active)
                    .bind(id)
                    .execute(&mut tx)
                    .await?;
            if n == 0 {
                return Err(AppError::NotFound);
            }
            id
        }
    };
    events::settings_changed(&mut tx, "tracking", false).await?;
    tx.commit().await?;
    Ok(id)
}

/// Deletes a site with its visitors and their page views.
pub async fn delete_site(db: &Db, id: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    q("DELETE FROM page_views WHERE visitor_id IN (SELECT id FROM track_visitors WHERE site_id = $1)")
        .bind(id)
        .execute(&mut tx)
        .await?;
    let n = q("DELETE FROM track_sites WHERE id = $1").bind(id).execute(&mut tx).await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "tracking", false).await?;
    tx.commit().await?;
    Ok(())
}

/// A hit as the tracker script sends it.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawHit {
    /// The site's key.
    pub site: String,
    /// The visitor's anonymous id (16 to 40 letters, digits, `-` or `_`).
    pub vid: String,
    /// The page's address.
    pub url: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Where the visitor came from.
    #[serde(default, rename = "ref")]
    pub referrer: Option<String>,
    /// When the page was seen, for a hit sent late (milliseconds since 1970;
    /// the last ten minutes). The tracker script leaves it out: the server dates
    /// each hit, so a visitor's wrong clock loses nothing.
    #[serde(default)]
    pub t: Option<i64>,
    /// The visitor consented to be tracked (required by sites that ask for it).
    #[serde(default)]
    pub consent: Option<bool>,
    /// The signed token a tracked email link added to the address.
    #[serde(default)]
    pub known: Option<String>,
}

/// What became of a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Queued,
    /// Left out on purpose (Do Not Track, no consent, an inactive site).
    Dropped(&'static str),
    /// The writer is behind: the hit was not kept.
    Busy,
}

/// A checked hit waiting to be written.
#[derive(Debug, Clone)]
pub struct Hit {
    pub site_id: i64,
    pub anon: String,
    pub url: String,
    pub title: Option<String>,
    pub referrer: Option<String>,
    pub at_ms: i64,
    /// The contact a tracked email link named.
    pub contact: Option<i64>,
}

/// The sites by their key, as read at one moment.
type SitesByKey = Arc<HashMap<String, Arc<Site>>>;

/// This node's tracker: the group writer (started on the first hit) and the
/// sites by key, read again every few seconds.
#[derive(Default)]
pub struct Tracker {
    group: OnceLock<Group<Hit>>,
    sites: Mutex<Option<(Instant, SitesByKey)>>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker").finish()
    }
}

/// How long the sites read stay trusted (a change reaches every node within it).
const SITES_FOR: Duration = Duration::from_secs(5);
/// Hits written in one transaction at most.
const GROUP: usize = 2_000;

impl Tracker {
    fn group(&self, db: &Db) -> &Group<Hit> {
        self.group
            .get_or_init(|| Group::start(db, "page views", GROUP, |db, hits| Box::pin(write(db, hits))))
    }

    async fn site(&self, db: &Db, key: &str) -> Result<Option<Arc<Site>>> {
        Ok(self.sites(db).await?.get(key).cloned())
    }

    /// Every site by its key, read again when older than [`SITES_FOR`].
    async fn sites(&self, db: &Db) -> Result<SitesByKey> {
        let fresh = {
            let cached = self.sites.lock().unwrap_or_else(|e| e.into_inner());
            cached.as_ref().filter(|(at, _)| at.elapsed() < SITES_FOR).map(|(_, m)| m.clone())
        };
        let map = match fresh {
            Some(m) => m,
            None => {
                let m: SitesByKey = Arc::new(sites(db).await?.into_iter().map(|s| (s.site_key.clone(), Arc::new(s))).collect());
                *self.sites.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), m.clone()));
                m
            }
        };
        Ok(map)
    }

    /// Forgets the sites read (after a change on this node).
    pub fn forget_sites(&self) {
        *self.sites.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Waits until every hit queued so far is written (tests, benchmarks, shutdown).
    pub async fn settled(&self, db: &Db) {
        self.group(db).settled().await
    }

    /// Queues checked hits, waiting while the writer is behind (benchmarks, imports).
    pub async fn send(&self, db: &Db, hit: Hit) -> Result<()> {
        let key = lane_key(&hit.anon);
        self.group(db).send(key, hit).await
    }
}

fn lane_key(anon: &str) -> i64 {
    anon.bytes().fold(0i64, |h, b| h.wrapping_mul(31).wrapping_add(b as i64))
}

/// Checks a hit and queues it. `origin` is the request's `Origin` header;
/// `private` says the browser asked not to be tracked (`DNT: 1`, `Sec-GPC: 1`).
/// A hit that cannot be right is refused with its field and reason; one the
/// visitor did not agree to is dropped without a trace.
pub async fn collect(c: &Carnet, raw: &RawHit, origin: Option<&str>, private: bool) -> Result<Outcome> {
    if private {
        return Ok(Outcome::Dropped("do not track"));
    }
    let tracker = &c.tracker;
    let site = tracker
        .site(&c.db, raw.site.trim())
        .await?
        .ok_or_else(|| AppError::field("site", "is not a known site key"))?;
    if let Some(o) = origin {
        if !site.origins.iter().any(|s| s.eq_ignore_ascii_case(o)) {
            return Err(AppError::Forbidden);
        }
    }
    if !site.active {
        return Ok(Outcome::Dropped("site inactive"));
    }
    if site.consent_required && raw.consent != Some(true) {
        return Ok(Outcome::Dropped("no consent"));
    }
    let mut e = FieldErrors::new();
    let url = e.check(
        "url",
        t::clean(&raw.url).and_then(|u| {
            let own = t::split(&u).is_some_and(|(o, _)| site.origins.contains(&o));
            if own {
                Ok(u)
            } else {
                Err("is not a page of this site's origins".to_string())
            }
        }),
    );
    let anon = e.check("vid", t::anon_id(raw.vid.trim()).map(String::from));
    let now_ms = c.db.now() * 1000 + i64::from(chrono::Utc::now().timestamp_subsec_millis());
    let at_ms = e.check("t", t::hit_time(raw.t, now_ms));
    e.into_result().map_err(AppError::Invalid)?;
    // A referrer is kept only when it is another site's address.
    let referrer = raw
        .referrer
        .as_deref()
        .and_then(|r| t::clean(r).ok())
        .filter(|r| t::split(r).is_some_and(|(o, _)| !site.origins.contains(&o)));
    let contact = match raw.known.as_deref() {
        Some(token) => read_link_token(&*c.site()?, token),
        None => None,
    };
    let hit = Hit {
        site_id: site.id,
        anon: anon.unwrap(),
        url: url.unwrap(),
        title: raw.title.as_deref().and_then(t::title),
        referrer,
        at_ms: at_ms.unwrap(),
        contact,
    };
    let key = lane_key(&hit.anon);
    Ok(if tracker.group(&c.db).offer(key, hit) {
        Outcome::Queued
    } else {
        Outcome::Busy
    })
}

/// The token a tracked email link adds to an address on one of the company's
/// sites: the contact's id, signed.
pub fn link_token(site: &crate::platform::signing::Site, contact: i64) -> String {
    crate::mail::tracking::token(site, "visitor", &[contact])
}

fn read_link_token(site: &crate::platform::signing::Site, token: &str) -> Option<i64> {
    crate::mail::tracking::read_token(site, "visitor", token.trim(), 1).map(|n| n[0])
}

/// A tracked email link's destination with the contact's token added when it
/// is a page of one of the company's tracked sites (never for other sites).
pub async fn decorate(c: &Carnet, signing: &crate::platform::signing::Site, url: &str, contact: Option<i64>) -> Result<String> {
    let Some(contact) = contact else {
        return Ok(url.to_string());
    };
    let Some((origin, _)) = t::split(url) else {
        return Ok(url.to_string());
    };
    // The sites this node read a moment ago: a click costs no query.
    let sites = c.tracker.sites(&c.db).await?;
    if !sites.values().any(|s| s.active && s.origins.contains(&origin)) {
        return Ok(url.to_string());
    }
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (url, None),
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut out = format!("{base}{sep}carnet_c={}", link_token(signing, contact));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Ok(out)
}

/// A visitor as the writer sees it.
#[derive(Debug, Clone)]
struct Visitor {
    id: i64,
    contact: Option<i64>,
    last_at: i64,
    visit_at: i64,
    visits: i64,
    views: i64,
    /// The counts read, to add only the difference (another node may write too).
    read: (i64, i64),
    /// The addresses seen in the current visit (events once per page and visit).
    seen: HashSet<i64>,
    /// A contact a tracked link named, to join after the views are written.
    join: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct VisitorRow {
    id: i64,
    site_id: i64,
    anon: String,
    contact_id: Option<i64>,
    last_at: i64,
    visit_at: i64,
    visits: i64,
    views: i64,
}

async fn load_visitors(tx: &mut Tx, anons: &[&str], out: &mut HashMap<(i64, String), Visitor>) -> Result<()> {
    for chunk in anons.chunks(500) {
        let mut query = q("SELECT id, site_id, anon, contact_id, last_at, visit_at, visits, views FROM track_visitors WHERE anon IN ");
        crate::db::push_in_list(&mut query, chunk);
        for r in query.fetch_all::<VisitorRow>(&mut *tx).await? {
            out.insert(
                (r.site_id, r.anon),
                Visitor {
                    id: r.id,
                    contact: r.contact_id,
                    last_at: r.last_at,
                    visit_at: r.visit_at,
                    visits: r.visits,
                    views: r.views,
                    read: (r.visits, r.views),
                    seen: HashSet::new(),
                    join: None,
                },
            );
        }
    }
    Ok(())
}

/// The ids of addresses, inserting those not seen before (in a stable order,
/// so that two writers never wait on each other in a cycle).
async fn intern(tx: &mut Tx, wanted: &HashMap<(i64, String), Option<String>>) -> Result<HashMap<(i64, String), i64>> {
    let mut ids = HashMap::new();
    let mut by_site: HashMap<i64, Vec<&str>> = HashMap::new();
    for (site, url) in wanted.keys() {
        by_site.entry(*site).or_default().push(url);
    }
    for (site, mut urls) in by_site {
        urls.sort_unstable();
        read_urls(tx, site, &urls, &mut ids).await?;
        let new: Vec<&str> = urls.into_iter().filter(|u| !ids.contains_key(&(site, u.to_string()))).collect();
        if new.is_empty() {
            continue;
        }
        for chunk in new.chunks(300) {
            let mut query = q("INSERT INTO track_urls (site_id, url, title) VALUES ");
            for (i, u) in chunk.iter().enumerate() {
                if i > 0 {
                    query.push(", ");
                }
                let title = wanted.get(&(site, u.to_string())).cloned().flatten();
                query
                    .push("(")
                    .push_bind(site)
                    .push(", ")
                    .push_bind(*u)
                    .push(", ")
                    .push_bind(title)
                    .push(")");
            }
            query.push(" ON CONFLICT (site_id, url) DO NOTHING");
            query.execute(&mut *tx).await?;
        }
        read_urls(tx, site, &new, &mut ids).await?;
    }
    Ok(ids)
}

/// Adds the ids of the stored addresses among `urls` to `ids`.
async fn read_urls(tx: &mut Tx, site: i64, urls: &[&str], ids: &mut HashMap<(i64, String), i64>) -> Result<()> {
    for chunk in urls.chunks(500) {
        let mut query = q("SELECT id, url FROM track_urls WHERE site_id = ");
        query.push_bind(site).push(" AND url IN ");
        crate::db::push_in_list(&mut query, chunk);
        for (id, url) in query.fetch_all::<(i64, String)>(&mut *tx).await? {
            ids.insert((site, url), id);
        }
    }
    Ok(())
}

/// Writes a group of hits in one transaction, set-based: the group's
/// visitors read at once (the new ones inserted), its addresses interned, the
/// views inserted in one statement, each visitor's counters moved once, and
/// known visitors' page views and return visits recorded as events.
pub fn write<'a>(db: &'a Db, hits: &'a [Hit]) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let mut tx = db.begin().await?;
        let mut anons: Vec<&str> = hits.iter().map(|h| h.anon.as_str()).collect();
        anons.sort_unstable();
        anons.dedup();
        let mut visitors = HashMap::new();
        load_visitors(&mut tx, &anons, &mut visitors).await?;
        let mut new: Vec<&Hit> = Vec::new();
        let mut planned = HashSet::new();
        for h in hits {
            let k = (h.site_id, h.anon.clone());
            if !visitors.contains_key(&k) && planned.insert(k) {
                new.push(h);
            }
        }
        if !new.is_empty() {
            for chunk in new.chunks(500) {
                let mut query = q("INSERT INTO track_visitors (site_id, anon, first_at, last_at, visit_at, visits, views) VALUES ");
                for (i, h) in chunk.iter().enumerate() {
                    if i > 0 {
                        query.push(", ");
                    }
                    query
                        .push("(")
                        .push_bind(h.site_id)
                        .push(", ")
                        .push_bind(h.anon.as_str())
                        .push(", ")
                        .push_bind(h.at_ms)
                        .push(", 0, 0, 0, 0)");
                }
                query.push(" ON CONFLICT (anon, site_id) DO NOTHING");
                query.execute(&mut tx).await?;
            }
            let again: Vec<&str> = new.iter().map(|h| h.anon.as_str()).collect();
            load_visitors(&mut tx, &again, &mut visitors).await?;
        }
        let mut wanted: HashMap<(i64, String), Option<String>> = HashMap::new();
        for h in hits {
            let title = wanted.entry((h.site_id, h.url.clone())).or_default();
            if title.is_none() {
                title.clone_from(&h.title);
            }
            if let Some(r) = &h.referrer {
                wanted.entry((h.site_id, r.clone())).or_default();
            }
        }
        let urls = intern(&mut tx, &wanted).await?;
        let mut rows = Vec::with_capacity(hits.len());
        let mut evs = Vec::new();
        for h in hits {
            let Some(v) = visitors.get_mut(&(h.site_id, h.anon.clone())) else {
                continue;
            };
            let Some(url_id) = urls.get(&(h.site_id, h.url.clone())).copied() else {
                continue;
            };
            // A visitor's views are strictly ordered (one key per view on SQLite).
            let at = h.at_ms.max(v.last_at + 1);
            let kind = ViewKind::of((v.views > 0).then_some(v.last_at), at);
            if kind.starts_visit() {
                v.visits += 1;
                v.visit_at = at;
                v.seen.clear();
            }
            if let (Some(c), None) = (h.contact, v.contact) {
                v.join.get_or_insert(c);
            }
            let gap_days = (at - v.last_at) / 86_400_000;
            v.views += 1;
            v.last_at = at;
            let referrer = if kind.starts_visit() {
                h.referrer.as_ref().and_then(|r| urls.get(&(h.site_id, r.clone())).copied())
            } else {
                None
            };
            rows.push(vec![at.into(), v.id.into(), url_id.into(), referrer.into(), (kind as i64).into()]);
            if let Some(contact) = v.contact {
                if kind == ViewKind::Return {
                    evs.push(return_event(contact, v.id, h.site_id, at, gap_days));
                }
                if v.seen.insert(url_id) {
                    evs.push(page_event(contact, v.id, h.site_id, &h.url, at, v.visit_at));
                }
            }
        }
        crate::db::dialect::bulk_insert(
            &mut tx,
            "page_views",
            &["at_ms", "visitor_id", "url_id", "referrer_id", "kind"],
            &rows,
        )
        .await?;
        update_visitors(&mut tx, visitors.values().filter(|v| v.views != v.read.1)).await?;
        if !evs.is_empty() {
            events::record_many(&mut tx, evs).await?;
        }
        for v in visitors.values() {
            if let Some(c) = v.join {
                join_in(&mut tx, v.id, c, "email").await?;
            }
        }
        tx.commit().await?;
        Ok(())
    })
}

fn page_event(contact: i64, visitor: i64, site: i64, url: &str, at_ms: i64, visit_ms: i64) -> NewEvent {
    NewEvent::new(
        EventKind::PageVisited,
        "contact",
        contact,
        None,
        serde_json::json!({"site_id": site, "visitor_id": visitor, "url": url, "at": at_ms / 1000, "visit_at": visit_ms / 1000}),
    )
}

fn return_event(contact: i64, visitor: i64, site: i64, at_ms: i64, gap_days: i64) -> NewEvent {
    NewEvent::new(
        EventKind::ReturnVisit,
        "contact",
        contact,
        None,
        serde_json::json!({"site_id": site, "visitor_id": visitor, "at": at_ms / 1000, "after_days": gap_days}),
    )
}

/// Moves the visitors' counters in one statement: the times to the latest,
/// the counts by what this group added.
async fn update_visitors<'v>(tx: &mut Tx, changed: impl Iterator<Item = &'v Visitor>) -> Result<()> {
    let changed: Vec<&Visitor> = changed.collect();
    let pg = matches!(tx.dialect(), crate::db::dialect::Dialect::Postgres);
    for chunk in changed.chunks(1000) {
        let mut query = q(if pg {
            "UPDATE track_visitors SET last_at = GREATEST(track_visitors.last_at, v.last_at), \
             visit_at = CASE WHEN v.last_at >= track_visitors.last_at THEN v.visit_at ELSE track_visitors.visit_at END, \
             visits = track_visitors.visits + v.visits, views = track_visitors.views + v.views \
             FROM (VALUES "
        } else {
            "UPDATE track_visitors SET last_at = MAX(track_visitors.last_at, v.column2), \
             visit_at = CASE WHEN v.column2 >= track_visitors.last_at THEN v.column3 ELSE track_visitors.visit_at END, \
             visits = track_visitors.visits + v.column4, views = track_visitors.views + v.column5 \
             FROM (VALUES "
        });
        for (i, v) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            let cast = if pg { "::bigint" } else { "" };
            query.push("(").push_bind(v.id).push(cast);
            for n in [v.last_at, v.visit_at, v.visits - v.read.0, v.views - v.read.1] {
                query.push(", ").push_bind(n).push(cast);
            }
            query.push(")");
        }
        query.push(if pg {
            ") AS v(id, last_at, visit_at, visits, views) WHERE track_visitors.id = v.id"
        } else {
            ") AS v WHERE track_visitors.id = v.column1"
        });
        query.execute(&mut *tx).await?;
    }
    Ok(())
}

/// Views replayed as events when a visitor becomes known, the latest first, at most.
const REPLAYED: usize = 500;

/// Joins a visitor to a contact once: their earlier page views (once per page
/// and visit) and return visits become events — so scoring counts them, at the
/// time they happened — and the contact's timeline says what joined. A
/// visitor already known stays with their contact. Returns whether it joined.
pub async fn join_in(tx: &mut Tx, visitor: i64, contact: i64, via: &str) -> Result<bool> {
    let exists: Option<i64> = q("SELECT id FROM contacts WHERE id = $1")
        .bind(contact)
        .scalar_opt(&mut *tx)
        .await?;
    if exists.is_none() {
        return Ok(false);
    }
    let n = q("UPDATE track_visitors SET contact_id = $1, identified_at = $2 WHERE id = $3 AND contact_id IS NULL")
        .bind(contact)
        .bind(tx.now())
        .bind(visitor)
        .execute(&mut *tx)
        .await?;
    if n == 0 {
        return Ok(false);
    }
    let (site, visits, views): (i64, i64, i64) = q("SELECT site_id, visits, views FROM track_visitors WHERE id = $1")
        .bind(visitor)
        .fetch_one(&mut *tx)
        .await?;
    let history: Vec<(i64, i64, String)> = q(
        "SELECT p.at_ms, CAST(p.kind AS BIGINT), u.url FROM page_views p JOIN track_urls u ON u.id = p.url_id WHERE p.visitor_id = $1 ORDER BY p.at_ms",
    )
    .bind(visitor)
    .fetch_all(&mut *tx)
    .await?;
    let mut evs = Vec::new();
    let (mut last, mut visit_at, mut seen) = (None::<i64>, 0, HashSet::new());
    for (at, kind, url) in &history {
        let kind = ViewKind::from_i64(*kind);
        if kind.starts_visit() {
            visit_at = *at;
            seen.clear();
            if kind == ViewKind::Return {
                let gap = last.map(|l| (at - l) / 86_400_000).unwrap_or(0);
                evs.push(return_event(contact, visitor, site, *at, gap));
            }
        }
        if seen.insert(url.as_str()) {
            evs.push(page_event(contact, visitor, site, url, *at, visit_at));
        }
        last = Some(*at);
    }
    let skip = evs.len().saturating_sub(REPLAYED);
    let evs: Vec<NewEvent> = evs.into_iter().skip(skip).collect();
    let data = serde_json::json!({"visitor_id": visitor, "site_id": site, "visits": visits, "views": views, "via": via});
    if !evs.is_empty() {
        events::record_many(&mut *tx, evs).await?;
    }
    events::record(
        &mut *tx,
        NewEvent::new(EventKind::VisitorIdentified, "contact", contact, None, data.clone()),
    )
    .await?;
    let name: String = q("SELECT name FROM track_sites WHERE id = $1").bind(site).scalar(&mut *tx).await?;
    timeline::add(
        &mut *tx,
        NewEntry {
            entity: Entity::Contact,
            record_id: contact,
            kind: "visits_joined",
            actor_id: None,
            title: &name,
            body: None,
            data: Some(data),
        },
    )
    .await?;
    Ok(true)
}

/// Joins the visitors with this anonymous id (on every site) to a contact.
pub async fn join_anon(tx: &mut Tx, anon: &str, contact: i64, via: &str) -> Result<()> {
    let Ok(anon) = t::anon_id(anon.trim()) else {
        return Ok(());
    };
    let ids: Vec<i64> = q("SELECT id FROM track_visitors WHERE anon = $1 AND contact_id IS NULL")
        .bind(anon)
        .fetch_all::<(i64,)>(&mut *tx)
        .await?
        .into_iter()
        .map(|r| r.0)
        .collect();
    for id in ids {
        join_in(tx, id, contact, via).await?;
    }
    Ok(())
}

/// One page seen in a visit.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PageSeen {
    pub url: String,
    pub title: Option<String>,
    /// Seconds since 1970.
    pub at: i64,
}

/// A visit: its pages in order, where it came from.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Visit {
    pub site_id: i64,
    pub started_at: i64,
    pub ended_at: i64,
    /// 30 days or more after the visit before.
    pub return_visit: bool,
    pub referrer: Option<String>,
    pub pages: Vec<PageSeen>,
}

/// A contact's visits to the company's sites.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Visits {
    pub visits: i64,
    pub views: i64,
    pub first_at: Option<i64>,
    pub last_at: Option<i64>,
    /// The latest visits, newest first.
    pub latest: Vec<Visit>,
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    at_ms: i64,
    site_id: i64,
    kind: i64,
    url: String,
    title: Option<String>,
    referrer: Option<String>,
}

/// A contact's visit counts and their `limit` latest visits (pages in order),
/// read through the visitor index whatever the number of visits.
pub async fn visits(db: &Db, contact: i64, limit: usize) -> Result<Visits> {
    let mut c = db.conn().await?;
    let (visits, views, first, last): (Option<i64>, Option<i64>, Option<i64>, Option<i64>) = q(
        "SELECT CAST(SUM(visits) AS BIGINT), CAST(SUM(views) AS BIGINT), MIN(first_at), MAX(last_at) FROM track_visitors WHERE contact_id = $1 AND views > 0",
    )
    .bind(contact)
    .fetch_one(&mut c)
    .await?;
    let ids: Vec<(i64,)> = q("SELECT id FROM track_visitors WHERE contact_id = $1 AND views > 0")
        .bind(contact)
        .fetch_all(&mut c)
        .await?;
    let mut latest = Vec::new();
    if !ids.is_empty() {
        let ids: Vec<i64> = ids.into_iter().map(|r| r.0).collect();
        // Enough views for `limit` visits of ordinary length; a visit cut by the
        // window is left out rather than shown half.
        let window = (limit * 25).max(50) as i64;
        let mut query = q(
            "SELECT p.at_ms, v.site_id, CAST(p.kind AS BIGINT) AS kind, u.url, u.title, r.url AS referrer FROM page_views p \
             JOIN track_visitors v ON v.id = p.visitor_id JOIN track_urls u ON u.id = p.url_id \
             LEFT JOIN track_urls r ON r.id = p.referrer_id WHERE p.visitor_id IN ",
        );
        crate::db::push_in_list(&mut query, &ids);
        query.push(" ORDER BY p.at_ms DESC LIMIT ").push_bind(window);
        let rows: Vec<ViewRow> = query.fetch_all(&mut c).await?;
        // Newest first: a visit's pages gather until the view that started it.
        let mut pages: Vec<PageSeen> = Vec::new();
        for r in rows {
            pages.push(PageSeen {
                url: r.url,
                title: r.title,
                at: r.at_ms / 1000,
            });
            let kind = ViewKind::from_i64(r.kind);
            if kind.starts_visit() {
                pages.reverse();
                latest.push(Visit {
                    site_id: r.site_id,
                    started_at: r.at_ms / 1000,
                    ended_at: pages.last().map(|p| p.at).unwrap_or(r.at_ms / 1000),
                    return_visit: kind == ViewKind::Return,
                    referrer: r.referrer,
                    pages: std::mem::take(&mut pages),
                });
                if latest.len() >= limit {
                    break;
                }
            }
        }
    }
    Ok(Visits {
        visits: visits.unwrap_or(0),
        views: views.unwrap_or(0),
        first_at: first.map(|f| f / 1000),
        last_at: last.map(|l| l / 1000),
        latest,
    })
}

/// The daily job: page views older than each site's retention are deleted,
/// and anonymous visitors not seen since with them.
pub fn daily<'a>(tx: &'a mut Tx, _day: chrono::NaiveDate) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let sites: Vec<(i64, i64)> = q("SELECT id, retention_days FROM track_sites").fetch_all(&mut *tx).await?;
        for (site, days) in sites {
            let cutoff = (tx.now() - days * 86_400) * 1000;
            q("DELETE FROM page_views WHERE at_ms < $1 AND visitor_id IN (SELECT id FROM track_visitors WHERE site_id = $2)")
                .bind(cutoff)
                .bind(site)
                .execute(&mut *tx)
                .await?;
            q("DELETE FROM track_visitors WHERE site_id = $1 AND last_at < $2 AND contact_id IS NULL")
                .bind(site)
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
        }
        Ok(())
    })
}

/// Per site: the visitors seen over the last 30 days, and the known ones among them.
pub async fn site_stats(db: &Db) -> Result<HashMap<i64, (i64, i64)>> {
    let since = (db.now() - 30 * 86_400) * 1000;
    let rows: Vec<(i64, i64, Option<i64>)> = q(
        "SELECT site_id, COUNT(*), CAST(SUM(CASE WHEN contact_id IS NULL THEN 0 ELSE 1 END) AS BIGINT) FROM track_visitors \
         WHERE last_at >= $1 GROUP BY site_id",
    )
    .bind(since)
    .fetch_all(&mut db.conn().await?)
    .await?;
    Ok(rows.into_iter().map(|(s, n, k)| (s, (n, k.unwrap_or(0)))).collect())
}
