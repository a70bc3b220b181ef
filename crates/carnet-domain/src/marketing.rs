//! Marketing (SPEC M1–M3): campaigns and their costs, forms as a company
//! builds them (fields, questions with points, result bands), and what a
//! visitor's submission is parsed into. Nothing here knows about HTTP or SQL.

use crate::catalog::Catalog;
use crate::error::FieldErrors;
use crate::fields::Entity;
use crate::input::RawInput;
use crate::values::{optional_text, required_name, Money, MAX_LONG_TEXT, MAX_SHORT_TEXT};
use chrono::NaiveDate;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a campaign reaches people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Emailing,
    LinkedinAds,
    TradeShow,
    Conference,
    Webinar,
    Blog,
    Other,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Emailing,
        Channel::LinkedinAds,
        Channel::TradeShow,
        Channel::Conference,
        Channel::Webinar,
        Channel::Blog,
        Channel::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Emailing => "emailing",
            Channel::LinkedinAds => "linkedin_ads",
            Channel::TradeShow => "trade_show",
            Channel::Conference => "conference",
            Channel::Webinar => "webinar",
            Channel::Blog => "blog",
            Channel::Other => "other",
        }
    }
    pub fn parse(raw: &str) -> Result<Channel, String> {
        let r = raw.trim();
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == r)
            .ok_or_else(|| "must be emailing, linkedin_ads, trade_show, conference, webinar, blog or other".into())
    }
}

fn date(raw: &str) -> Result<Option<NaiveDate>, String> {
    let r = raw.trim();
    if r.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(r, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| "must be a date (YYYY-MM-DD)".to_string())
}

/// A campaign as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignDraft {
    pub name: String,
    pub channel: Channel,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub segment_tag_id: Option<i64>,
    pub description: Option<String>,
}

impl CampaignDraft {
    pub fn parse(input: &RawInput, cat: &Catalog) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        for k in input.0.keys() {
            if !["name", "channel", "starts_on", "ends_on", "segment", "description"].contains(&k.as_str()) {
                e.add(k.clone(), "is not a field of campaigns");
            }
        }
        let name = e.check("name", required_name(input.one("name")));
        let channel = e.check("channel", Channel::parse(input.one("channel")));
        let starts_on = e.check("starts_on", date(input.one("starts_on"))).flatten();
        let ends_on = e.check("ends_on", date(input.one("ends_on"))).flatten();
        if let (Some(s), Some(t)) = (starts_on, ends_on) {
            if t < s {
                e.add("ends_on", "must not be before the start");
            }
        }
        let segment_tag_id = match input.one("segment").trim() {
            "" => None,
            raw => e.check("segment", cat.resolve_tag(raw)),
        };
        let description = e
            .check("description", optional_text(input.one("description"), MAX_LONG_TEXT))
            .flatten();
        e.into_result()?;
        Ok(CampaignDraft {
            name: name.unwrap(),
            channel: channel.unwrap(),
            starts_on,
            ends_on,
            segment_tag_id,
            description,
        })
    }
}

/// A cost entry of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct CostDraft {
    pub day: NaiveDate,
    pub amount: Money,
    pub currency: String,
    pub label: String,
}

impl CostDraft {
    /// `currency` defaults to the company's.
    pub fn parse(input: &RawInput, company_currency: &str) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        for k in input.0.keys() {
            if !["day", "amount", "currency", "label"].contains(&k.as_str()) {
                e.add(k.clone(), "is not a field of costs");
            }
        }
        let day = match e.check("day", date(input.one("day"))) {
            Some(None) => {
                e.add("day", "is required");
                None
            }
            d => d.flatten(),
        };
        let amount = e.check("amount", Money::parse(input.one("amount")));
        if let Some(a) = amount {
            if a.0 < 0 {
                e.add("amount", "must not be negative");
            }
        }
        let currency = match input.one("currency").trim() {
            "" => Some(company_currency.to_string()),
            c => e.check("currency", crate::sales::currency(c)),
        };
        let label = e.check("label", required_name(input.one("label")));
        e.into_result()?;
        Ok(CostDraft {
            day: day.unwrap(),
            amount: amount.unwrap(),
            currency: currency.unwrap(),
            label: label.unwrap(),
        })
    }
}

/// A field of a form: a contact or company field, mandatory or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    /// `first_name`, `last_name`, `email`, `phone`, `mobile`, `job_title`,
    /// `address`, `postal_code`, `city`, `country`, `cf.<key>` (a contact's
    /// custom field); `company`, `account.website`, `account.company_id`,
    /// `account.vat_number`, `account.cf.<key>` (the company's); `call_me` (a
    /// "please call me" box).
    pub key: String,
    /// Shown instead of the field's usual name.
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub required: bool,
}

/// A choice of a question and the points it gives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub label: String,
    #[serde(default)]
    pub points: i64,
}

/// A question of a self-assessment questionnaire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub label: String,
    /// Several choices may be ticked (their points add up).
    #[serde(default)]
    pub multiple: bool,
    #[serde(default)]
    pub required: bool,
    pub choices: Vec<Choice>,
}

/// A result band: from `min` points (inclusive) to the next band's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub min: i64,
    pub label: String,
    /// What the respondent reads on the result page and in the results email.
    #[serde(default)]
    pub text: String,
}

/// What a form asks: its fields, and for a questionnaire its questions and bands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormSpec {
    pub fields: Vec<FormField>,
    #[serde(default)]
    pub questions: Vec<Question>,
    #[serde(default)]
    pub bands: Vec<Band>,
}

pub const CONTACT_FORM_KEYS: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile",
    "job_title",
    "address",
    "postal_code",
    "city",
    "country",
];
pub const ACCOUNT_FORM_KEYS: &[&str] = &["company", "account.website", "account.company_id", "account.vat_number"];
/// "Please call me": an interest shown (a qualified lead once email and phone are known).
pub const CALL_ME: &str = "call_me";

const MAX_FIELDS: usize = 40;
const MAX_QUESTIONS: usize = 60;
const MAX_CHOICES: usize = 20;
const MAX_POINTS: i64 = 1_000_000;

impl FormSpec {
    /// Name and email mandatory; position, company and phone optional.
    pub fn default_fields() -> FormSpec {
        let f = |key: &str, required: bool| FormField {
            key: key.into(),
            label: None,
            required,
        };
        FormSpec {
            fields: vec![
                f("first_name", true),
                f("last_name", true),
                f("email", true),
                f("job_title", false),
                f("company", false),
                f("phone", false),
            ],
            questions: vec![],
            bands: vec![],
        }
    }

    /// Every key known, none twice; the email and last name always asked and
    /// mandatory (a submission is matched by email, a contact needs a name);
    /// questions with two choices or more; bands with distinct thresholds.
    pub fn check(&self, cat: &Catalog) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        if self.fields.len() > MAX_FIELDS {
            e.add("fields", format!("must be at most {MAX_FIELDS}"));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, f) in self.fields.iter().enumerate() {
            let at = format!("fields.{i}");
            if !seen.insert(f.key.as_str()) {
                e.add(format!("{at}.key"), format!("“{}” is asked twice", f.key));
            }
            if !known_key(&f.key, cat) {
                e.add(format!("{at}.key"), format!("“{}” is not a field of contacts or companies", f.key));
            }
            if let Some(l) = &f.label {
                if let Err(r) = required_name(l) {
                    e.add(format!("{at}.label"), r);
                }
            }
        }
        for must in ["email", "last_name"] {
            match self.fields.iter().find(|f| f.key == must) {
                Some(f) if f.required => {}
                _ => e.add("fields", format!("must ask for {must}, as mandatory")),
            }
        }
        if self.questions.len() > MAX_QUESTIONS {
            e.add("questions", format!("must be at most {MAX_QUESTIONS}"));
        }
        for (i, q) in self.questions.iter().enumerate() {
            let at = format!("questions.{i}");
            if let Err(r) = required_name(&q.label) {
                e.add(format!("{at}.label"), r);
            }
            if q.choices.len() < 2 || q.choices.len() > MAX_CHOICES {
                e.add(format!("{at}.choices"), format!("must be 2 to {MAX_CHOICES}"));
            }
            for (j, c) in q.choices.iter().enumerate() {
                if let Err(r) = required_name(&c.label) {
                    e.add(format!("{at}.choices.{j}.label"), r);
                }
                if c.points.abs() > MAX_POINTS {
                    e.add(
                        format!("{at}.choices.{j}.points"),
                        format!("must be from -{MAX_POINTS} to {MAX_POINTS}"),
                    );
                }
            }
        }
        let mut mins = std::collections::BTreeSet::new();
        for (i, b) in self.bands.iter().enumerate() {
            let at = format!("bands.{i}");
            if !mins.insert(b.min) {
                e.add(format!("{at}.min"), "is the threshold of another band");
            }
            if let Err(r) = required_name(&b.label) {
                e.add(format!("{at}.label"), r);
            }
            if let Err(r) = optional_text(&b.text, MAX_LONG_TEXT) {
                e.add(format!("{at}.text"), r);
            }
        }
        if !self.bands.is_empty() && self.questions.is_empty() {
            e.add("bands", "need questions to score");
        }
        e.into_result()
    }

    pub fn is_questionnaire(&self) -> bool {
        !self.questions.is_empty()
    }

    /// The band a score falls in: the one with the highest threshold at or
    /// below it (none when the score is under every threshold).
    pub fn band(&self, score: i64) -> Option<&Band> {
        self.bands.iter().filter(|b| b.min <= score).max_by_key(|b| b.min)
    }
}

fn known_key(key: &str, cat: &Catalog) -> bool {
    if CONTACT_FORM_KEYS.contains(&key) || ACCOUNT_FORM_KEYS.contains(&key) || key == CALL_ME {
        return true;
    }
    let custom = |entity: Entity, k: &str| cat.fields_for(entity).any(|f| f.key == k);
    match (key.strip_prefix("account.cf."), key.strip_prefix("cf.")) {
        (Some(k), _) => custom(Entity::Account, k),
        (None, Some(k)) => custom(Entity::Contact, k),
        _ => false,
    }
}

/// The answers of a questionnaire: per question, the indexes of the choices ticked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers(pub BTreeMap<usize, Vec<usize>>);

impl Answers {
    /// Reads `q.<n>` values (choice indexes) from a submission.
    pub fn parse(spec: &FormSpec, input: &RawInput) -> Result<Answers, FieldErrors> {
        let mut e = FieldErrors::new();
        let mut out = BTreeMap::new();
        for (i, q) in spec.questions.iter().enumerate() {
            let key = format!("q.{i}");
            let mut picked: Vec<usize> = Vec::new();
            for raw in input.all(&key).iter().filter(|v| !v.trim().is_empty()) {
                match raw.trim().parse::<usize>() {
                    Ok(n) if n < q.choices.len() => {
                        if !picked.contains(&n) {
                            picked.push(n);
                        }
                    }
                    _ => e.add(key.clone(), "is not one of the choices"),
                }
            }
            if !q.multiple && picked.len() > 1 {
                e.add(key.clone(), "takes one choice");
            }
            if q.required && picked.is_empty() {
                e.add(key.clone(), "is required");
            }
            picked.sort_unstable();
            if !picked.is_empty() {
                out.insert(i, picked);
            }
        }
        e.into_result()?;
        Ok(Answers(out))
    }

    /// The total of the points of the choices ticked.
    pub fn score(&self, spec: &FormSpec) -> i64 {
        self.0
            .iter()
            .flat_map(|(q, cs)| cs.iter().map(move |c| spec.questions[*q].choices[*c].points))
            .sum()
    }
}

/// The part of an address Carnet keeps: the IPv4 /24 or the IPv6 /48, never
/// the whole address.
pub fn network(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => network(std::net::IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    }
}

/// A slug as typed (lowercase letters, digits and dashes, 2 to 60).
pub fn slug(raw: &str) -> Result<String, String> {
    let s = raw.trim().to_ascii_lowercase();
    let ok = (2..=60).contains(&s.len())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s)
    } else {
        Err("must be 2 to 60 lowercase letters, digits or dashes".into())
    }
}

/// The origins (`https://host[:port]`) allowed to embed a form, space- or
/// line-separated.
pub fn origins(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for o in raw.split_whitespace() {
        let o = o.trim_end_matches('/');
        let rest = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
        let ok = match rest {
            Some(host) => {
                !host.is_empty()
                    && host.len() <= 253
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            }
            None => false,
        };
        if !ok {
            return Err(format!("“{o}” is not an origin such as https://www.example.com"));
        }
        let o = o.to_ascii_lowercase();
        if !out.contains(&o) {
            out.push(o);
        }
    }
    if out.len() > 20 {
        return Err("must be at most 20 origins".into());
    }
    Ok(out)
}

/// A short text a form shows (title, thank-you message).
pub fn form_text(raw: &str, required: bool) -> Result<Option<String>, String> {
    match optional_text(raw, MAX_LONG_TEXT)? {
        None if required => Err("is required".into()),
        t => Ok(t),
    }
}

/// A form's name or title: one line.
pub fn form_name(raw: &str) -> Result<String, String> {
    required_name(raw).and_then(|n| {
        if n.chars().count() > MAX_SHORT_TEXT {
            Err(format!("must be at most {MAX_SHORT_TEXT} characters"))
        } else {
            Ok(n)
        }
    })
}

/// Questions as a marketer types them in the form builder: a question per
/// line, its choices below it as `- label = points`; `[multiple]` and
/// `[required]` after a question's text.
pub fn questions_from_text(raw: &str) -> Result<Vec<Question>, String> {
    let mut out: Vec<Question> = Vec::new();
    for (n, line) in raw.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(choice) = line.strip_prefix('-') {
            let q = out
                .last_mut()
                .ok_or_else(|| format!("line {}: a choice must follow its question", n + 1))?;
            let (label, points) = match choice.rsplit_once('=') {
                Some((l, p)) => (
                    l.trim(),
                    p.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("line {}: “{}” is not a number of points", n + 1, p.trim()))?,
                ),
                None => (choice.trim(), 0),
            };
            q.choices.push(Choice {
                label: label.to_string(),
                points,
            });
        } else {
            let mut label = line.to_string();
            let mut flag = |tag: &str| {
                let found = label.contains(tag);
                label = label.replace(tag, "").trim().to_string();
                found
            };
            let multiple = flag("[multiple]");
            let required = flag("[required]");
            out.push(Question {
                label,
                multiple,
                required,
                choices: vec![],
            });
        }
    }
    Ok(out)
}

pub fn questions_to_text(qs: &[Question]) -> String {
    let mut s = String::new();
    for q in qs {
        s.push_str(&q.label);
        if q.multiple {
            s.push_str(" [multiple]");
        }
        if q.required {
            s.push_str(" [required]");
        }
        s.push('\n');
        for c in &q.choices {
            s.push_str(&format!("- {} = {}\n", c.label, c.points));
        }
    }
    s
}

/// Result bands as typed: `min | label | text` per line.
pub fn bands_from_text(raw: &str) -> Result<Vec<Band>, String> {
    raw.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| {
            let mut parts = l.splitn(3, '|');
            let min = parts.next().unwrap_or("").trim();
            let min = min
                .parse::<i64>()
                .map_err(|_| format!("line {}: “{min}” is not a number of points", n + 1))?;
            let label = parts.next().unwrap_or("").trim().to_string();
            let text = parts.next().unwrap_or("").trim().to_string();
            Ok(Band { min, label, text })
        })
        .collect()
}

pub fn bands_to_text(bands: &[Band]) -> String {
    bands.iter().map(|b| format!("{} | {} | {}\n", b.min, b.label, b.text)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn quiz(points: &[Vec<i64>], bands: &[i64]) -> FormSpec {
        let mut s = FormSpec::default_fields();
        s.questions = points
            .iter()
            .enumerate()
            .map(|(i, ps)| Question {
                label: format!("Q{i}"),
                multiple: true,
                required: false,
                choices: ps
                    .iter()
                    .enumerate()
                    .map(|(j, p)| Choice {
                        label: format!("C{j}"),
                        points: *p,
                    })
                    .collect(),
            })
            .collect();
        s.bands = bands
            .iter()
            .map(|m| Band {
                min: *m,
                label: format!("from {m}"),
                text: String::new(),
            })
            .collect();
        s
    }

    #[test]
    fn the_default_form_asks_name_and_email() {
        let s = FormSpec::default_fields();
        assert!(s.check(&Catalog::default()).is_ok());
        let mut no_email = s.clone();
        no_email.fields.retain(|f| f.key != "email");
        let e = no_email.check(&Catalog::default()).unwrap_err();
        assert!(e.get("fields").unwrap().contains("email"));
        let mut twice = s.clone();
        twice.fields.push(twice.fields[0].clone());
        assert!(twice.check(&Catalog::default()).unwrap_err().get("fields.6.key").is_some());
        let mut unknown = s;
        unknown.fields.push(FormField {
            key: "cf.nope".into(),
            label: None,
            required: false,
        });
        assert!(unknown.check(&Catalog::default()).is_err());
    }

    #[test]
    fn answers_are_checked_against_the_choices() {
        let mut s = quiz(&[vec![0, 5, 10], vec![1, 2]], &[0, 10]);
        s.questions[0].multiple = false;
        s.questions[0].required = true;
        let input = |pairs: &[(&str, &str)]| RawInput::from_pairs(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(Answers::parse(&s, &input(&[])).unwrap_err().get("q.0"), Some("is required"));
        assert_eq!(
            Answers::parse(&s, &input(&[("q.0", "1"), ("q.0", "2")])).unwrap_err().get("q.0"),
            Some("takes one choice")
        );
        assert!(Answers::parse(&s, &input(&[("q.0", "9")])).is_err());
        let a = Answers::parse(&s, &input(&[("q.0", "2"), ("q.1", "0"), ("q.1", "1")])).unwrap();
        assert_eq!(a.score(&s), 13);
        assert_eq!(s.band(13).unwrap().min, 10);
        assert_eq!(s.band(9).unwrap().min, 0);
    }

    #[test]
    fn networks_keep_no_whole_address() {
        assert_eq!(network("203.0.113.77".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(network("2001:db8:abcd:12::1".parse().unwrap()), "2001:db8:abcd::/48");
        assert_eq!(network("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.0/24");
    }

    #[test]
    fn origins_and_slugs() {
        assert_eq!(
            origins("https://www.example.com/ http://localhost:8080").unwrap(),
            vec!["https://www.example.com", "http://localhost:8080"]
        );
        assert!(origins("www.example.com").is_err());
        assert!(origins("https://evil.com/path").is_err());
        assert_eq!(slug(" Livre-Blanc ").unwrap(), "livre-blanc");
        assert!(slug("a b").is_err());
        assert!(slug("-x").is_err());
    }

    #[test]
    fn questions_and_bands_as_typed() {
        let text = "How do you measure satisfaction? [required]\n- We do not = 0\n- A yearly survey = 5\n\nChannels you answer on [multiple]\n- Phone = 1\n- Chat = 2\n";
        let qs = questions_from_text(text).unwrap();
        assert_eq!(qs.len(), 2);
        assert!(qs[0].required && !qs[0].multiple);
        assert_eq!(
            qs[0].choices[1],
            Choice {
                label: "A yearly survey".into(),
                points: 5
            }
        );
        assert!(qs[1].multiple);
        assert_eq!(questions_from_text(&questions_to_text(&qs)).unwrap(), qs);
        assert!(questions_from_text("- orphan = 1").is_err());
        assert!(questions_from_text("Q\n- a = lots").unwrap_err().contains("lots"));
        let bands = bands_from_text("0 | To rebuild | Start with the basics\n10 | Improvable |\n").unwrap();
        assert_eq!(bands[1].min, 10);
        assert_eq!(bands_from_text(&bands_to_text(&bands)).unwrap(), bands);
        assert!(bands_from_text("x | y").is_err());
    }

    proptest! {
        /// The score is the sum of the ticked choices' points, and its band is
        /// the highest threshold at or below it.
        #[test]
        fn score_and_band(
            points in prop::collection::vec(prop::collection::vec(-50i64..50, 2..5), 1..6),
            bands in prop::collection::btree_set(-100i64..100, 0..5),
            seed in any::<u64>(),
        ) {
            let bands: Vec<i64> = bands.into_iter().collect();
            let s = quiz(&points, &bands);
            let mut pairs = Vec::new();
            let mut expect = 0;
            for (i, ps) in points.iter().enumerate() {
                for (j, p) in ps.iter().enumerate() {
                    if (seed >> ((i * 5 + j) % 64)) & 1 == 1 {
                        pairs.push((format!("q.{i}"), j.to_string()));
                        expect += p;
                    }
                }
            }
            let a = Answers::parse(&s, &RawInput::from_pairs(pairs)).unwrap();
            prop_assert_eq!(a.score(&s), expect);
            let band = s.band(expect).map(|b| b.min);
            let want = bands.iter().copied().filter(|m| *m <= expect).max();
            prop_assert_eq!(band, want);
        }
    }
}
