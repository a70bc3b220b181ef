//! Website tracking (SPEC M5): what a hit from the tracker script may hold,
//! how an address is cleaned before it is stored, how page views make visits,
//! and the address patterns scoring rules name. Nothing here knows about HTTP
//! or SQL.

/// A visit ends after this long without a page view (milliseconds).
pub const VISIT_GAP_MS: i64 = 30 * 60 * 1000;
/// A visit this long after the one before is a return visit (milliseconds).
pub const RETURN_GAP_MS: i64 = 30 * 86_400 * 1000;
/// The longest address kept; a longer one is refused.
pub const MAX_URL: usize = 2048;
/// A page title is cut to this many characters.
pub const MAX_TITLE: usize = 300;
/// A hit may say it happened this long ago at most (a page hidden, then sent).
pub const MAX_AGE_MS: i64 = 10 * 60 * 1000;
/// ... and this far in the future (clocks differ).
pub const MAX_AHEAD_MS: i64 = 2 * 60 * 1000;

/// Query parameters that only say where a click came from: dropped so that one
/// page stays one address.
const NOISE: &[&str] = &[
    "gclid", "fbclid", "msclkid", "dclid", "yclid", "mc_cid", "mc_eid", "_ga", "carnet_c", "carnet_v",
];

/// What a page view is within its visitor's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewKind {
    /// A view within a visit.
    Within = 0,
    /// The first view of a visit.
    Visit = 1,
    /// The first view of a visit 30 days or more after the one before.
    Return = 2,
}

impl ViewKind {
    /// The view at `at` after the visitor's last view at `last` (none: their first).
    pub fn of(last: Option<i64>, at: i64) -> ViewKind {
        match last {
            None => ViewKind::Visit,
            Some(l) if at - l >= RETURN_GAP_MS => ViewKind::Return,
            Some(l) if at - l > VISIT_GAP_MS => ViewKind::Visit,
            Some(_) => ViewKind::Within,
        }
    }
    pub fn from_i64(k: i64) -> ViewKind {
        match k {
            1 => ViewKind::Visit,
            2 => ViewKind::Return,
            _ => ViewKind::Within,
        }
    }
    pub fn starts_visit(self) -> bool {
        self != ViewKind::Within
    }
}

/// The origin (`https://host[:port]`, lower case) and the rest of an absolute
/// http(s) address; `None` for anything else.
pub fn split(url: &str) -> Option<(String, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let host = &rest[..end];
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    host_ok.then(|| {
        (
            format!("{}://{}", scheme.to_ascii_lowercase(), host.to_ascii_lowercase()),
            &rest[end..],
        )
    })
}

/// An address as stored: origin, path (at least `/`) and query without the
/// fragment, the campaign parameters (`utm_*`) and click ids.
pub fn clean(url: &str) -> Result<String, String> {
    let url = url.trim();
    if url.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    if url.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    let (origin, rest) = split(url).ok_or("is not an http(s) address")?;
    let rest = rest.split('#').next().unwrap_or("");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if path.is_empty() { "/" } else { path };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let name = p.split('=').next().unwrap_or("").to_ascii_lowercase();
            !name.starts_with("utm_") && !NOISE.contains(&name.as_str())
        })
        .collect();
    let mut out = format!("{origin}{path}");
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    Ok(out)
}

/// The part of a stored address a pattern without an origin is matched with.
pub fn path_of(url: &str) -> &str {
    split(url).map(|(_, rest)| rest).filter(|r| !r.is_empty()).unwrap_or("/")
}

/// Whether a stored address matches a rule's pattern: `*` stands for any
/// text; a pattern that starts with `http` is matched with the whole address,
/// any other with its path and query ("/pricing", "/services/*", "*webinar*").
pub fn matches(pattern: &str, url: &str) -> bool {
    let p = pattern.trim();
    let subject = if p.starts_with("http") { url } else { path_of(url) };
    glob(p.as_bytes(), subject.as_bytes())
}

/// `*` matches any run of bytes; everything else matches itself.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// A rule's address pattern as typed: trimmed, 1 to 500 characters, either a
/// path (`/…` or starting with `*`) or an http(s) address.
pub fn pattern(raw: &str) -> Result<String, String> {
    let p = raw.trim();
    if p.is_empty() || p.chars().count() > 500 {
        return Err("must be 1 to 500 characters".into());
    }
    if !(p.starts_with('/') || p.starts_with('*') || p.starts_with("http://") || p.starts_with("https://")) {
        return Err("must be a path such as /pricing or /services/*, or an address starting with https://".into());
    }
    Ok(p.to_string())
}

/// A visitor's anonymous id as the script makes it: 16 to 40 letters, digits, `-` or `_`.
pub fn anon_id(raw: &str) -> Result<&str, String> {
    let ok = (16..=40).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(raw)
    } else {
        Err("is not a visitor id (16 to 40 letters, digits, - or _)".into())
    }
}

/// A page title as kept: control characters dropped, cut to [`MAX_TITLE`] characters.
pub fn title(raw: &str) -> Option<String> {
    let t: String = raw.chars().filter(|c| !c.is_control()).take(MAX_TITLE).collect();
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The time a hit is stored at: the time it says (in milliseconds) when close
/// to the server's, else an error.
pub fn hit_time(said: Option<i64>, now_ms: i64) -> Result<i64, String> {
    match said {
        None => Ok(now_ms),
        Some(t) if t < now_ms - MAX_AGE_MS || t > now_ms + MAX_AHEAD_MS => {
            Err("is not a time of the last ten minutes (milliseconds since 1970)".into())
        }
        Some(t) => Ok(t.min(now_ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_are_cleaned() {
        assert_eq!(clean("HTTPS://WWW.Example.com").unwrap(), "https://www.example.com/");
        assert_eq!(
            clean("https://example.com/pricing?utm_source=x&plan=pro&gclid=1#top").unwrap(),
            "https://example.com/pricing?plan=pro"
        );
        assert_eq!(clean("https://example.com/a?carnet_c=12.ab").unwrap(), "https://example.com/a");
        assert!(clean("javascript:alert(1)").is_err());
        assert!(clean("https://exa mple.com/").is_err());
        assert!(clean(&format!("https://example.com/{}", "a".repeat(MAX_URL))).is_err());
        assert!(clean("https://example.com/\n").is_ok(), "trailing space is trimmed");
        assert!(clean("https://example.com/a\u{7}b").is_err());
    }

    #[test]
    fn patterns_match_paths_or_addresses() {
        let u = "https://example.com/services/audit?x=1";
        assert!(matches("/services/*", u));
        assert!(matches("*audit*", u));
        assert!(matches("https://example.com/services*", u));
        assert!(!matches("/pricing", u));
        assert!(!matches("/services", u));
        assert!(matches("/", "https://example.com"));
        assert!(pattern("pricing").is_err());
        assert_eq!(pattern(" /pricing ").unwrap(), "/pricing");
    }

    #[test]
    fn visits_split_after_thirty_minutes_and_return_after_thirty_days() {
        assert_eq!(ViewKind::of(None, 0), ViewKind::Visit);
        assert_eq!(ViewKind::of(Some(0), VISIT_GAP_MS), ViewKind::Within);
        assert_eq!(ViewKind::of(Some(0), VISIT_GAP_MS + 1), ViewKind::Visit);
        assert_eq!(ViewKind::of(Some(0), RETURN_GAP_MS), ViewKind::Return);
    }

    #[test]
    fn hit_times_near_the_servers_only() {
        let now = 1_800_000_000_000;
        assert_eq!(hit_time(None, now), Ok(now));
        assert_eq!(hit_time(Some(now - 1000), now), Ok(now - 1000));
        assert_eq!(hit_time(Some(now + 1000), now), Ok(now));
        assert!(hit_time(Some(0), now).is_err());
        assert!(hit_time(Some(now + 3_600_000), now).is_err());
    }

    proptest! {
        #[test]
        fn cleaning_is_idempotent(path in "(/[a-z0-9._~-]{0,8}){0,4}", query in "([a-z_]{1,6}=[a-z0-9]{0,4}&?){0,4}", frag in "[a-z]{0,5}") {
            let url = format!("https://example.com{path}?{query}#{frag}");
            let once = clean(&url).unwrap();
            prop_assert_eq!(clean(&once).unwrap(), once.clone());
            prop_assert!(!once.contains('#'));
            prop_assert!(!once.contains("utm_"));
        }

        #[test]
        fn a_star_matches_what_it_stands_for(prefix in "/[a-z/]{0,10}", middle in "[a-z/?=]{0,10}", suffix in "[a-z]{0,6}") {
            let url = format!("https://example.com{prefix}{middle}{suffix}");
            let pattern = format!("{prefix}*{suffix}");
            prop_assert!(matches(&pattern, &url));
            prop_assert!(matches("*", &url));
            let exact = format!("{prefix}{middle}{suffix}");
            prop_assert!(matches(&exact, &url));
        }

        #[test]
        fn each_view_is_in_one_visit(gaps in proptest::collection::vec(0i64..(40 * 86_400_000), 1..50)) {
            // Views at increasing times: a new visit exactly when the gap is over 30 minutes.
            let mut last = None;
            let mut at = 0;
            let mut visits = 0;
            for g in gaps {
                at += g;
                let k = ViewKind::of(last, at);
                prop_assert_eq!(k.starts_visit(), last.is_none() || g > VISIT_GAP_MS);
                prop_assert_eq!(k == ViewKind::Return, last.is_some() && g >= RETURN_GAP_MS);
                visits += k.starts_visit() as i32;
                last = Some(at);
            }
            prop_assert!(visits >= 1);
        }
    }
}
