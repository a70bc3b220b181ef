//! Value types parsed from user input. Each `parse` returns a reason on failure;
//! the caller files it under the field name.

use serde::Serialize;

pub const MAX_SHORT_TEXT: usize = 200;
pub const MAX_LONG_TEXT: usize = 20_000;

/// Trims and bounds a free-text value. Empty input is `None`.
pub fn optional_text(raw: &str, max: usize) -> Result<Option<String>, String> {
    let t = raw.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if t.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err("contains control characters".into());
    }
    Ok(Some(t.to_string()))
}

/// A required one-line text (a name): non-empty, bounded, no line breaks.
pub fn required_name(raw: &str) -> Result<String, String> {
    match optional_text(raw, MAX_SHORT_TEXT)? {
        None => Err("is required".into()),
        Some(t) if t.contains('\n') => Err("must be on one line".into()),
        Some(t) => Ok(t),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.len() > 254 {
            return Err("must be at most 254 characters".into());
        }
        let (local, domain) = s
            .rsplit_once('@')
            .ok_or_else(|| "is not a valid email address (missing @)".to_string())?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.chars().all(char::is_alphabetic) && tld.len() >= 2);
        if !local_ok || !domain_ok {
            return Err("is not a valid email address".into());
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Lower-cased form used for duplicate detection and lookups.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
    }
}

/// A phone number as typed, with its digits-only form for matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phone {
    pub display: String,
    pub digits: String,
}

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.len() > 40 {
            return Err("must be at most 40 characters".into());
        }
        let mut digits = String::new();
        for (i, c) in s.chars().enumerate() {
            match c {
                '0'..='9' => digits.push(c),
                '+' if i == 0 => digits.push('+'),
                ' ' | '.' | '-' | '(' | ')' | '/' => {}
                _ => return Err(format!("is not a valid phone number (unexpected '{c}')")),
            }
        }
        let n = digits.trim_start_matches('+').len();
        if !(6..=17).contains(&n) {
            return Err("is not a valid phone number (6 to 17 digits expected)".into());
        }
        Ok(Self {
            display: s.to_string(),
            digits: normalize_phone_digits(&digits),
        })
    }
}

/// French national numbers (0X XX XX XX XX) and their +33 form match each other.
fn normalize_phone_digits(d: &str) -> String {
    if let Some(rest) = d.strip_prefix("+33") {
        return format!("0{rest}");
    }
    if let Some(rest) = d.strip_prefix("0033") {
        return format!("0{rest}");
    }
    d.to_string()
}

/// An http(s) URL, and the registrable-looking host for duplicate detection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebUrl {
    pub url: String,
    pub domain: String,
}

impl WebUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if s.len() > 500 {
            return Err("must be at most 500 characters".into());
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("is not a valid web address (contains spaces)".into());
        }
        let lower = s.to_lowercase();
        let (with_scheme, rest) = if let Some(r) = lower.strip_prefix("https://") {
            (s.to_string(), r.to_string())
        } else if let Some(r) = lower.strip_prefix("http://") {
            (s.to_string(), r.to_string())
        } else if lower.contains("://") {
            return Err("must start with http:// or https://".into());
        } else {
            (format!("https://{s}"), lower.clone())
        };
        let host = rest.split(['/', '?', '#']).next().unwrap_or("").rsplit('@').next().unwrap_or("");
        let host = host.split(':').next().unwrap_or("");
        let labels: Vec<&str> = host.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || !l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        {
            return Err("is not a valid web address".into());
        }
        let domain = host.strip_prefix("www.").unwrap_or(host).to_string();
        Ok(Self { url: with_scheme, domain })
    }
}

/// Folds a name for matching and sorting: lower case, accents removed, punctuation
/// as spaces, runs of spaces collapsed.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = true;
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = strip_accent(c);
        if c.is_alphanumeric() {
            out.push(c);
            last_space = false;
        } else if !last_space {
            out.push(' ');
            last_space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

fn strip_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        'œ' => 'o',
        'æ' => 'a',
        _ => c,
    }
}

/// A company name reduced for duplicate detection: folded, legal forms dropped
/// ("Dupont SAS" and "DUPONT" match).
pub fn company_key(name: &str) -> String {
    const LEGAL: &[&str] = &[
        "sa", "sas", "sasu", "sarl", "eurl", "sci", "snc", "inc", "ltd", "llc", "gmbh", "plc", "co", "corp", "company", "limited", "the",
        "et", "and", "cie",
    ];
    fold(name).split(' ').filter(|w| !LEGAL.contains(w)).collect::<Vec<_>>().join(" ")
}

/// A company identifier (SIREN, SIRET, VAT...): letters and digits only, upper case.
pub fn company_id_key(raw: &str) -> String {
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// An amount of money in minor units (cents). Accepts "1234.5", "1 234,50", "-3".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Money(pub i64);

impl Money {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '\u{202f}' && *c != '\u{a0}')
            .collect();
        if s.is_empty() {
            return Err("is not an amount".into());
        }
        let (neg, body) = match s.strip_prefix('-') {
            Some(b) => (true, b),
            None => (false, s.as_str()),
        };
        // The last '.' or ',' followed by 1–2 digits is the decimal separator;
        // any other separators group thousands.
        let sep = body.rfind(['.', ',']);
        let (int_part, frac_part) = match sep {
            Some(i) if body.len() - i - 1 <= 2 && body.len() - i > 1 => (&body[..i], &body[i + 1..]),
            _ => (body, ""),
        };
        let int_digits: String = int_part.chars().filter(|c| *c != '.' && *c != ',').collect();
        if int_digits.is_empty() && frac_part.is_empty() {
            return Err("is not an amount".into());
        }
        if !int_digits.chars().all(|c| c.is_ascii_digit()) || !frac_part.chars().all(|c| c.is_ascii_digit()) {
            return Err("is not an amount".into());
        }
        if int_digits.len() > 13 {
            return Err("is too large".into());
        }
        let units: i64 = if int_digits.is_empty() {
            0
        } else {
            int_digits.parse().map_err(|_| "is not an amount")?
        };
        let cents: i64 = match frac_part.len() {
            0 => 0,
            1 => frac_part.parse::<i64>().unwrap() * 10,
            _ => frac_part.parse::<i64>().unwrap(),
        };
        let v = units * 100 + cents;
        Ok(Money(if neg { -v } else { v }))
    }

    /// Plain machine form: "1234.50".
    pub fn to_plain(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// Percent-encodes a query-string component.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                Ok(v) => {
                    out.push(v);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a query string into decoded pairs.
pub fn parse_query_string(qs: &str) -> Vec<(String, String)> {
    qs.trim_start_matches('?')
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (url_decode(k), url_decode(v))
        })
        .collect()
}

/// Joins pairs into a query string.
pub fn to_query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs
        .into_iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert!(EmailAddress::parse("jean.dupont@Example.FR").is_ok());
        assert_eq!(EmailAddress::parse("a@B.com").unwrap().as_str(), "a@b.com");
        for bad in ["", "no-at", "a@b", "a@@b.com", ".a@b.com", "a..b@c.com", "a@-b.com", "a b@c.com"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones() {
        assert_eq!(Phone::parse("+33 6 12 34 56 78").unwrap().digits, "0612345678");
        assert_eq!(Phone::parse("06.12.34.56.78").unwrap().digits, "0612345678");
        assert!(Phone::parse("12345").is_err());
        assert!(Phone::parse("06 12 ab").is_err());
    }

    #[test]
    fn urls() {
        assert_eq!(WebUrl::parse("www.acme.fr").unwrap().domain, "acme.fr");
        assert_eq!(WebUrl::parse("https://Shop.Acme.com/x?y").unwrap().domain, "shop.acme.com");
        assert!(WebUrl::parse("javascript:alert(1)").is_err());
        assert!(WebUrl::parse("ftp://x.com").is_err());
        assert!(WebUrl::parse("not a url").is_err());
    }

    #[test]
    fn names_fold() {
        assert_eq!(fold("  Société   Générale, SA "), "societe generale sa");
        assert_eq!(company_key("Dupont & Fils SARL"), "dupont fils");
        assert_eq!(company_id_key("552 100 554"), "552100554");
    }

    #[test]
    fn money_examples() {
        assert_eq!(Money::parse("1 234,56").unwrap(), Money(123456));
        assert_eq!(Money::parse("1,234.5").unwrap(), Money(123450));
        assert_eq!(Money::parse("1.234.567").unwrap(), Money(123456700));
        assert_eq!(Money::parse("-3").unwrap(), Money(-300));
        assert!(Money::parse("12a").is_err());
        assert!(Money::parse("").is_err());
    }

    proptest! {
        #[test]
        fn money_round_trips(c in -10_000_000_000i64..10_000_000_000i64) {
            let m = Money(c);
            prop_assert_eq!(Money::parse(&m.to_plain()).unwrap(), m);
            prop_assert_eq!(Money::parse(&m.to_plain().replace('.', ",")).unwrap(), m);
        }

        #[test]
        fn query_string_round_trips(pairs in proptest::collection::vec(("\\PC{0,12}", "\\PC{0,12}"), 0..5)) {
            let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(k, _)| !k.is_empty()).collect();
            let qs = to_query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            prop_assert_eq!(parse_query_string(&qs), pairs);
        }

        #[test]
        fn fold_is_idempotent(s in "\\PC{0,40}") {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once);
        }

        #[test]
        fn email_parse_never_panics(s in "\\PC{0,80}") {
            let _ = EmailAddress::parse(&s);
            let _ = Phone::parse(&s);
            let _ = WebUrl::parse(&s);
        }
    }
}
