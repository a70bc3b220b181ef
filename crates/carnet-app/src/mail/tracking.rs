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
use crate::platform::signing::Site;

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
    let msg = format!("{email_id}.{idx}");
    site.url(&format!("/t/c/{msg}.{}", site.sign("click", &msg)))
}

pub fn open_url(site: &Site, email_id: i64) -> String {
    let msg = email_id.to_string();
    site.url(&format!("/t/o/{msg}.{}.gif", site.sign("open", &msg)))
}

/// Reads `id.sig` (opens) or `id.idx.sig` (clicks); `None` when forged or for another purpose.
fn read_token(site: &Site, purpose: &str, token: &str, parts: usize) -> Option<Vec<i64>> {
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

#[derive(sqlx::FromRow)]
struct Sent {
    sent_at: Option<i64>,
    links: String,
    contact_id: Option<i64>,
    user_id: Option<i64>,
}

async fn sent(db: &Db, id: i64) -> Result<Sent> {
    q("SELECT sent_at, links, contact_id, user_id FROM emails WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)
}

/// Records an open from the pixel's token. A forged token is `NotFound`.
pub async fn open(db: &Db, token: &str, hit: &Hit<'_>) -> Result<()> {
    let site = crate::platform::signing::site(db.shared())?;
    let id = read_token(&site, "open", token, 1).ok_or(AppError::NotFound)?[0];
    let e = sent(db, id).await?;
    let now = db.now();
    let machine = classify_open(hit, e.sent_at.map(|s| now - s));
    let mut tx = db.begin().await?;
    insert(&mut tx, id, "open", None, hit, machine.as_deref()).await?;
    if machine.is_none() {
        q("UPDATE emails SET opens = opens + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        let data = serde_json::json!({"email_id": id, "contact_id": e.contact_id, "user_id": e.user_id});
        events::record(&mut tx, NewEvent::new(EventKind::EmailOpened, "email", id, None, data)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records a click from its token and returns where to send the person: the
/// link that was in the message. A forged token or an index beyond the
/// message's links is `NotFound`.
pub async fn click(db: &Db, token: &str, hit: &Hit<'_>) -> Result<String> {
    let site = crate::platform::signing::site(db.shared())?;
    let nums = read_token(&site, "click", token, 2).ok_or(AppError::NotFound)?;
    let (id, idx) = (nums[0], nums[1]);
    let e = sent(db, id).await?;
    let links: Vec<String> = serde_json::from_str(&e.links).map_err(AppError::internal)?;
    let url = usize::try_from(idx)
        .ok()
        .and_then(|i| links.get(i))
        .cloned()
        .ok_or(AppError::NotFound)?;
    let now = db.now();
    let mut tx = db.begin().await?;
    let others: i64 = q("SELECT COUNT(DISTINCT link_index) FROM email_events WHERE email_id = $1 AND kind = 'click' AND link_index <> $2 AND created_at >= $3")
        .bind(id)
        .bind(idx)
        .bind(now - BURST_SECS)
        .scalar(&mut tx)
        .await?;
    let machine = classify_click(hit, e.sent_at.map(|s| now - s), others);
    if machine.is_some() && others >= 2 {
        // The burst shows the earlier clicks were the scanner's too.
        let n = q(
            "UPDATE email_events SET human = FALSE, why = $1 WHERE email_id = $2 AND kind = 'click' AND human = TRUE AND created_at >= $3",
        )
        .bind(machine.clone())
        .bind(id)
        .bind(now - BURST_SECS)
        .execute(&mut tx)
        .await?;
        q("UPDATE emails SET clicks = clicks - $1 WHERE id = $2")
            .bind(n as i64)
            .bind(id)
            .execute(&mut tx)
            .await?;
    }
    insert(&mut tx, id, "click", Some(idx), hit, machine.as_deref()).await?;
    if machine.is_none() {
        q("UPDATE emails SET clicks = clicks + 1 WHERE id = $1")
            .bind(id)
            .execute(&mut tx)
            .await?;
        let data = serde_json::json!({"email_id": id, "link": url, "contact_id": e.contact_id, "user_id": e.user_id});
        events::record(&mut tx, NewEvent::new(EventKind::EmailClicked, "email", id, None, data)).await?;
    }
    tx.commit().await?;
    Ok(url)
}

async fn insert(tx: &mut crate::db::Tx, id: i64, kind: &str, idx: Option<i64>, hit: &Hit<'_>, machine: Option<&str>) -> Result<()> {
    let ua = hit.user_agent.map(|u| u.chars().take(300).collect::<String>());
    q("INSERT INTO email_events (email_id, kind, link_index, human, why, user_agent, address, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(id)
        .bind(kind)
        .bind(idx)
        .bind(machine.is_none())
        .bind(machine)
        .bind(ua)
        .bind(hit.address)
        .bind(tx.now())
        .execute(tx)
        .await?;
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
