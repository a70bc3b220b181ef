//! Open and click tracking (M6): a message's links go through signed redirects
//! and it carries a one-pixel image; each hit is recorded and classified as a
//! person's or a machine's. Only a person's opens and clicks count in figures
//! and on the timeline; machine hits are kept apart, with the reason.
//!
//! A redirect only ever goes to a link that was in the message (its index is
//! signed): there is no open redirect.

use super::outbox;
use crate::db::{q, Db};
use crate::error::{AppError, Result};
use crate::platform::events::{self, EventKind, NewEvent};
use crate::platform::group::Group;
use crate::platform::signing::Site;
use crate::Carnet;

/// The links of a message after tracking: the HTML with links rewritten, and the
/// original addresses in order (a click token names an index).
pub fn instrument(html: &str, email_id: i64, site: &Site, tracking: bool) -> (String, Vec<String>) {
    let mut links = Vec::new();
    let mut out = String::with_capacity(html.len() + 256);
    let mut rest = html;
    let unsubscribe_prefix = site.url("/u/");
    while let Some(i) = rest.find("href=\"") {
        let start = i + 6;
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find('"').unwrap_or(rest.len());
        let raw = &rest[..end];
        let url = super::templates::decode_entities(raw);
        let trackable = tracking && (url.starts_with("http://") || url.starts_with("https://")) && !url.starts_with(&unsubscribe_prefix);
        if trackable {
            let idx = links.len();
            links.push(url);
            out.push_str(&click_url(site, email_id, idx));
        } else {
            out.push_str(raw);
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    if tracking {
        out.push_str(&format!(
            "<img src=\"{}\" width=\"1\" height=\"1\" alt=\"\" style=\"display:block;border:0\">",
            open_url(site, email_id)
        ));
    }
    (out, links)
}

pub fn click_url(site: &Site, email_id: i64, idx: usize) -> String {
    site.url(&format!("/t/c/{}", token(site, "click", &[email_id, idx as i64])))
}

pub fn open_url(site: &Site, email_id: i64) -> String {
    site.url(&format!("/t/o/{}.gif", token(site, "open", &[email_id])))
}

/// The token of a signed link: its numbers, then their signature for `purpose`.
pub(crate) fn token(site: &Site, purpose: &str, nums: &[i64]) -> String {
    let msg = nums.iter().map(i64::to_string).collect::<Vec<_>>().join(".");
    format!("{msg}.{}", site.sign(purpose, &msg))
}

/// Reads a token of [`token`] (`id.sig` for opens, `id.idx.sig` for clicks);
/// `None` when forged or signed for another purpose.
pub(crate) fn read_token(site: &Site, purpose: &str, token: &str, parts: usize) -> Option<Vec<i64>> {
    let token = token.strip_suffix(".gif").unwrap_or(token);
    let (msg, sig) = token.rsplit_once('.')?;
    let nums: Vec<i64> = msg.split('.').map(|n| n.parse().ok()).collect::<Option<_>>()?;
    (nums.len() == parts && site.verify(purpose, msg, sig)).then_some(nums)
}

/// What a hit looked like.
#[derive(Debug, Clone, Default)]
pub struct Hit<'a> {
    pub user_agent: Option<&'a str>,
    pub address: Option<&'a str>,
    /// A HEAD request (scanners check links without following them).
    pub head: bool,
}

/// User agents of image proxies and security scanners: not a person reading.
const MACHINE_AGENTS: &[(&str, &str)] = &[
    ("googleimageproxy", "Gmail image proxy"),
    ("yahoomailproxy", "Yahoo image proxy"),
    ("proofpoint", "security scanner (Proofpoint)"),
    ("mimecast", "security scanner (Mimecast)"),
    ("barracuda", "security scanner (Barracuda)"),
    ("symantec", "security scanner (Symantec)"),
    ("safelinks", "security scanner (Microsoft Safe Links)"),
    ("bingpreview", "link preview (Bing)"),
    ("python-requests", "script"),
    ("curl/", "script"),
    ("wget/", "script"),
    ("go-http-client", "script"),
    ("headlesschrome", "headless browser"),
    ("bot", "robot"),
    ("crawler", "robot"),
    ("spider", "robot"),
    ("scanner", "security scanner"),
];

/// Seconds after delivery within which an open is a proxy's prefetch.
pub const OPEN_TOO_SOON: i64 = 3;
/// Seconds after delivery within which a click is a scanner's.
pub const CLICK_TOO_SOON: i64 = 10;
/// Distinct links of one message clicked within this many seconds: a scanner following them all.
pub const BURST_SECS: i64 = 5;

fn agent_verdict(ua: Option<&str>) -> Option<&'static str> {
    let ua = ua.map(str::trim).unwrap_or("");
    if ua.is_empty() {
        return Some("no user agent");
    }
    // Apple Mail Privacy Protection fetches through Apple's proxy with a bare agent.
    if ua == "Mozilla/5.0" {
        return Some("Apple Mail Privacy Protection or another proxy (bare user agent)");
    }
    let lower = ua.to_ascii_lowercase();
    MACHINE_AGENTS.iter().find(|(k, _)| lower.contains(k)).map(|(_, why)| *why)
}

/// Whether an open is a person's: `None` if so, else why not.
pub fn classify_open(hit: &Hit<'_>, secs_after_delivery: Option<i64>) -> Option<String> {
    if hit.head {
        return Some("HEAD request".into());
    }
    if let Some(why) = agent_verdict(hit.user_agent) {
        return Some(why.into());
    }
    match secs_after_delivery {
        Some(s) if s < OPEN_TOO_SOON => Some(format!("opened {s} s after delivery (prefetch)")),
        _ => None,
    }
}

/// Whether a click is a person's: `None` if so, else why not. `others_in_burst`:
/// distinct other links of the message clicked in the last [`BURST_SECS`].
pub fn classify_click(hit: &Hit<'_>, secs_after_delivery: Option<i64>, others_in_burst: i64) -> Option<String> {
    if hit.head {
        return Some("HEAD request".into());
    }
    if let Some(why) = agent_verdict(hit.user_agent) {
        return Some(why.into());
    }
    if let Some(s) = secs_after_delivery.filter(|s| *s < CLICK_TOO_SOON) {
        return Some(format!("clicked {s} s after delivery (scanner)"));
    }
    if others_in_burst >= 2 {
        return Some(format!("{} links clicked within {BURST_SECS} s (scanner)", others_in_burst + 1));
    }
    None
}

#[derive(sqlx::FromRow, Clone)]
struct Sent {
    sent_at: Option<i64>,
    links: String,
    contact_id: Option<i64>,
    user_id: Option<i64>,
}

/// What a hit needs of its message, from the recorder's cache of sent
/// messages (what a sent message holds here does not change) or the database.
async fn sent(c: &Carnet, id: i64) -> Result<std::sync::Arc<Sent>> {
    let recorder = c.mailer.recorder(&c.db);
    if let Some(e) = recorder.cached(id) {
        return Ok(e);
    }
    let e: Sent = q("SELECT sent_at, links, contact_id, user_id FROM emails WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut c.db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)?;
    let e = std::sync::Arc::new(e);
    if e.sent_at.is_some() {
        recorder.cache(id, e.clone());
    }
    Ok(e)
}

/// Records an open from the pixel's token. A forged token is `NotFound`.
pub async fn open(c: &Carnet, token: &str, hit: &Hit<'_>) -> Result<()> {
    let site = crate::platform::signing::site(c.db.shared())?;
    let id = read_token(&site, "open", token, 1).ok_or(AppError::NotFound)?[0];
    let e = sent(c, id).await?;
    c.mailer.recorder(&c.db).record(Pending::new(id, None, hit, &e)).await
}

/// Records a click from its token and returns where to send the person: the
/// link that was in the message. A forged token or an index beyond the
/// message's links is `NotFound`.
pub async fn click(c: &Carnet, token: &str, hit: &Hit<'_>) -> Result<String> {
    let site = crate::platform::signing::site(c.db.shared())?;
    let nums = read_token(&site, "click", token, 2).ok_or(AppError::NotFound)?;
    let (id, idx) = (nums[0], nums[1]);
    let e = sent(c, id).await?;
    let links: Vec<String> = serde_json::from_str(&e.links).map_err(AppError::internal)?;
    let url = usize::try_from(idx)
        .ok()
        .and_then(|i| links.get(i))
        .cloned()
        .ok_or(AppError::NotFound)?;
    c.mailer
        .recorder(&c.db)
        .record(Pending::new(id, Some((idx, url.clone())), hit, &e))
        .await?;
    // A page of the company's own site learns who followed the link.
    crate::marketing::tracking::decorate(c, &site, &url, e.contact_id).await
}

/// A hit waiting to be written.
struct Pending {
    email_id: i64,
    /// A click: the link's index and address.
    click: Option<(i64, String)>,
    user_agent: Option<String>,
    address: Option<String>,
    head: bool,
    sent_at: Option<i64>,
    contact_id: Option<i64>,
    user_id: Option<i64>,
}

impl Pending {
    fn new(email_id: i64, click: Option<(i64, String)>, hit: &Hit<'_>, e: &Sent) -> Pending {
        Pending {
            email_id,
            click,
            user_agent: hit.user_agent.map(|u| u.chars().take(300).collect()),
            address: hit.address.map(str::to_string),
            head: hit.head,
            sent_at: e.sent_at,
            contact_id: e.contact_id,
            user_id: e.user_id,
        }
    }

    fn hit(&self) -> Hit<'_> {
        Hit {
            user_agent: self.user_agent.as_deref(),
            address: self.address.as_deref(),
            head: self.head,
        }
    }
}

/// Writes hits by group commit ([`Group`]): a pixel or a redirect is
/// answered as soon as its hit is queued — a person's mail client does not
/// wait for the database. Hits go to lanes by message, so that a message's
/// clicks stay in order for the burst check.
pub struct Recorder {
    group: Group<Pending>,
    /// Sent messages recently hit (emptied when full): a pixel costs no read.
    recent: std::sync::Mutex<std::collections::HashMap<i64, std::sync::Arc<Sent>>>,
}

/// Messages the cache holds at most.
const CACHED: usize = 20_000;

/// Hits written in one transaction at most.
const GROUP: usize = 512;

impl Recorder {
    pub fn start(db: &Db) -> Recorder {
        Recorder {
            group: Group::start(db, "opens and clicks", GROUP, |db, hits| Box::pin(write(db, hits))),
            recent: Default::default(),
        }
    }

    fn cached(&self, id: i64) -> Option<std::sync::Arc<Sent>> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner()).get(&id).cloned()
    }

    fn cache(&self, id: i64, e: std::sync::Arc<Sent>) {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent.len() >= CACHED {
            recent.clear();
        }
        recent.insert(id, e);
    }

    async fn record(&self, p: Pending) -> Result<()> {
        self.group.send(p.email_id, p).await
    }

    /// Waits until every hit queued so far is committed (tests, shutdown).
    pub async fn settled(&self) {
        self.group.settled().await
    }
}

/// Writes a group of hits in one transaction, set-based: the recent clicks of
/// the group's messages read once; each hit classified in order (a click
/// against the clicks of its message just before it, in the table or earlier
/// in the group); the hits inserted in one statement, the counters moved once
/// per message, and a person's hits recorded as events.
async fn write(db: &Db, group: &[Pending]) -> Result<()> {
    use std::collections::HashMap;
    let mut tx = db.begin().await?;
    let now = tx.now();
    // Recent clicks per message: (link index, human).
    let mut recent: HashMap<i64, Vec<(i64, bool)>> = HashMap::new();
    let clicked: Vec<i64> = group.iter().filter(|p| p.click.is_some()).map(|p| p.email_id).collect();
    if !clicked.is_empty() {
        let mut query = q("SELECT email_id, link_index, human FROM email_events WHERE kind = 'click' AND created_at >= ");
        query.push_bind(now - BURST_SECS).push(" AND email_id IN ");
        crate::db::push_in_list(&mut query, &clicked);
        for (email, idx, human) in query.fetch_all::<(i64, Option<i64>, bool)>(&mut tx).await? {
            recent.entry(email).or_default().push((idx.unwrap_or(-1), human));
        }
    }
    let mut rows = Vec::with_capacity(group.len());
    let mut counts: HashMap<i64, (i64, i64)> = HashMap::new();
    let mut evs = Vec::new();
    let mut bursts: Vec<(i64, String)> = Vec::new();
    for p in group {
        let id = p.email_id;
        let since = p.sent_at.map(|s| now - s);
        let data = serde_json::json!({"email_id": id, "contact_id": p.contact_id, "user_id": p.user_id});
        let (machine, idx) = match &p.click {
            None => (classify_open(&p.hit(), since), None),
            Some((idx, url)) => {
                let seen = recent.entry(id).or_default();
                let mut others: Vec<i64> = seen.iter().map(|(i, _)| *i).filter(|i| i != idx).collect();
                others.sort_unstable();
                others.dedup();
                let machine = classify_click(&p.hit(), since, others.len() as i64);
                if let Some(why) = machine.as_ref().filter(|_| others.len() >= 2) {
                    // The burst shows the earlier clicks were the scanner's too.
                    let earlier_human = seen.iter().filter(|(_, h)| *h).count() as i64;
                    counts.entry(id).or_default().1 -= earlier_human;
                    for s in seen.iter_mut() {
                        s.1 = false;
                    }
                    bursts.push((id, why.clone()));
                }
                seen.push((*idx, machine.is_none()));
                if machine.is_none() {
                    let mut data = data.clone();
                    data["link"] = url.clone().into();
                    evs.push(NewEvent::new(EventKind::EmailClicked, "email", id, None, data));
                }
                (machine, Some(*idx))
            }
        };
        if machine.is_none() {
            let c = counts.entry(id).or_default();
            if p.click.is_some() {
                c.1 += 1;
            } else {
                c.0 += 1;
                evs.push(NewEvent::new(EventKind::EmailOpened, "email", id, None, data));
            }
        }
        rows.push(vec![
            id.into(),
            (if p.click.is_some() { "click" } else { "open" }).into(),
            idx.into(),
            machine.is_none().into(),
            machine.into(),
            p.user_agent.clone().into(),
            p.address.clone().into(),
            now.into(),
        ]);
    }
    crate::db::dialect::bulk_insert(
        &mut tx,
        "email_events",
        &[
            "email_id",
            "kind",
            "link_index",
            "human",
            "why",
            "user_agent",
            "address",
            "created_at",
        ],
        &rows,
    )
    .await?;
    // After the insert, so that the group's own earlier clicks are caught too.
    for (id, why) in bursts {
        q("UPDATE email_events SET human = FALSE, why = $1 WHERE email_id = $2 AND kind = 'click' AND human = TRUE AND created_at >= $3")
            .bind(why)
            .bind(id)
            .bind(now - BURST_SECS)
            .execute(&mut tx)
            .await?;
    }
    for (id, (opens, clicks)) in counts.into_iter().filter(|(_, c)| *c != (0, 0)) {
        q("UPDATE emails SET opens = opens + $1, clicks = clicks + $2 WHERE id = $3")
            .bind(opens)
            .bind(clicks)
            .bind(id)
            .execute(&mut tx)
            .await?;
    }
    if !evs.is_empty() {
        events::record_many(&mut tx, evs).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A message's recorded hits, newest first (the API and the outbox page).
pub async fn hits(db: &Db, email_id: i64) -> Result<Vec<outbox::Hit>> {
    Ok(q(
        "SELECT id, kind, link_index, human, why, user_agent, created_at FROM email_events WHERE email_id = $1 ORDER BY id DESC LIMIT 500",
    )
    .bind(email_id)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUMAN: &str =
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15";

    fn hit(ua: &str) -> Hit<'_> {
        Hit {
            user_agent: Some(ua),
            ..Hit::default()
        }
    }

    #[test]
    fn recorded_request_patterns() {
        // Apple Mail Privacy Protection: bare agent, right at delivery.
        assert!(classify_open(&hit("Mozilla/5.0"), Some(1)).is_some());
        assert!(classify_open(&hit("Mozilla/5.0"), Some(7200)).is_some());
        // Gmail's proxy.
        assert!(classify_open(
            &hit("Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"),
            Some(600)
        )
        .is_some());
        // A person, an hour later.
        assert!(classify_open(&hit(HUMAN), Some(3600)).is_none());
        // Any agent, within a second of delivery: prefetch.
        assert!(classify_open(&hit(HUMAN), Some(0)).is_some());
        // HEAD requests never count.
        let head = Hit { head: true, ..hit(HUMAN) };
        assert!(classify_open(&head, Some(3600)).is_some());
        assert!(classify_click(&head, Some(3600), 0).is_some());
        // A scanner clicking every link at once, seconds after delivery.
        assert!(classify_click(&hit(HUMAN), Some(4), 0).is_some());
        assert!(classify_click(&hit(HUMAN), Some(900), 2).is_some());
        assert!(classify_click(&hit("Mozilla/5.0 (compatible; Proofpoint URL Defense)"), Some(900), 0).is_some());
        // A person clicking one link, later.
        assert!(classify_click(&hit(HUMAN), Some(900), 0).is_none());
        assert!(classify_click(&hit(HUMAN), Some(900), 1).is_none());
    }
}
