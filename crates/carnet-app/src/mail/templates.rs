//! Email templates (M6): a subject and an HTML body with merge fields, written
//! in minijinja — sandboxed: no file access, no includes, bounded work — in
//! English and French. User-written HTML is sanitised (ammonia) before it is
//! stored and again once rendered; the plain-text part is derived from the HTML.
//!
//! A template may only name the merge fields listed in [`FIELDS`]: a name that
//! is not there is refused when the template is saved, so a sent email never
//! has a silent blank where a field was meant to be. Every field is always
//! present when a template renders (empty when the record has no value).

use crate::error::{AppError, Result};
use minijinja::{Environment, UndefinedBehavior, Value};
use std::collections::BTreeMap;

/// Every merge field a template may name, as `object.field`.
pub const FIELDS: &[&str] = &[
    "contact.first_name",
    "contact.last_name",
    "contact.name",
    "contact.email",
    "contact.phone",
    "contact.job_title",
    "account.name",
    "account.city",
    "account.country",
    "account.website",
    "owner.name",
    "owner.first_name",
    "owner.email",
    "opportunity.name",
    "opportunity.amount",
    "opportunity.stage",
    "company.name",
    "appointment.subject",
    "appointment.when",
    "appointment.duration",
    "action.subject",
    "action.when",
    "links.unsubscribe",
    "links.booking",
    "links.manage",
    "links.record",
    "links.action",
    "links.password",
    "links.confirm",
    "links.download",
    "form.title",
    "results.score",
    "results.band",
    "results.text",
];

/// The values a template renders with: `object → field → text`. Built with
/// every field of [`FIELDS`] present (empty), then filled from the records.
#[derive(Debug, Clone)]
pub struct Merge(BTreeMap<&'static str, BTreeMap<&'static str, String>>);

/// Stands for a message's unsubscribe link until the outbox knows the
/// message's id (it signs the link): `{{ links.unsubscribe }}` renders to it.
pub const UNSUBSCRIBE_PLACEHOLDER: &str = "https://carnet.invalid/unsubscribe";

impl Default for Merge {
    fn default() -> Self {
        let mut m: BTreeMap<&'static str, BTreeMap<&'static str, String>> = BTreeMap::new();
        for f in FIELDS {
            let (o, k) = f.split_once('.').expect("fields are object.field");
            m.entry(o).or_default().insert(k, String::new());
        }
        let mut m = Merge(m);
        m.set("links.unsubscribe", UNSUBSCRIBE_PLACEHOLDER);
        m
    }
}

impl Merge {
    /// Sets a field (one of [`FIELDS`]; others are a programming error, refused in debug builds).
    pub fn set(&mut self, field: &str, value: impl Into<String>) -> &mut Self {
        let (o, k) = field.split_once('.').unwrap_or(("", field));
        match self.0.get_mut(o).and_then(|fields| fields.get_mut(k)) {
            Some(slot) => *slot = value.into(),
            None => debug_assert!(false, "unknown merge field {field}"),
        }
        self
    }

    pub fn get(&self, field: &str) -> &str {
        let (o, k) = field.split_once('.').unwrap_or(("", field));
        self.0.get(o).and_then(|f| f.get(k)).map(String::as_str).unwrap_or("")
    }

    /// Sample values: what a preview without a record shows, and what a template is test-rendered with on save.
    pub fn sample(fr: bool) -> Merge {
        let mut m = Merge::default();
        for f in FIELDS {
            m.set(f, format!("[{f}]"));
        }
        m.set("contact.first_name", if fr { "Camille" } else { "Alex" })
            .set("contact.name", if fr { "Camille Martin" } else { "Alex Morgan" })
            .set("links.unsubscribe", "https://crm.example.com/u/sample")
            .set("links.booking", "https://crm.example.com/book/sample")
            .set("links.manage", "https://crm.example.com/booking/sample");
        m
    }

    fn value(&self) -> Value {
        Value::from_pairs(
            self.0
                .iter()
                .map(|(o, fields)| (*o, Value::from_pairs(fields.iter().map(|(k, v)| (*k, Value::from(v.as_str())))))),
        )
    }
}

/// A template as written (subject and HTML body).
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub subject: &'a str,
    pub html: &'a str,
}

/// A rendered message's subject, HTML and text.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub html: String,
}

/// The largest template body and rendered message accepted.
pub const MAX_BODY: usize = 256 * 1024;
const MAX_SUBJECT: usize = 500;

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Bounded work: a template cannot loop for ever or nest without end.
    env.set_fuel(Some(50_000));
    env.set_recursion_limit(50);
    env
}

/// Checks a template before it is saved: it compiles, names only known merge
/// fields and renders; returns its sanitised form. Errors name `subject` or `html`.
pub fn check(src: &Source<'_>) -> Result<(String, String)> {
    let subject = src.subject.trim();
    if subject.is_empty() {
        return Err(AppError::field("subject", "is required"));
    }
    if subject.chars().count() > MAX_SUBJECT || subject.contains(['\r', '\n']) {
        return Err(AppError::field("subject", "must be one line of at most 500 characters"));
    }
    if src.html.trim().is_empty() {
        return Err(AppError::field("html", "is required"));
    }
    if src.html.len() > MAX_BODY {
        return Err(AppError::field("html", "is longer than 256 KB"));
    }
    let html = sanitize(src.html);
    let env = env();
    for (field, name, text) in [("subject", "subject.txt", subject), ("html", "body.html", html.as_str())] {
        let t = env
            .template_from_named_str(name, text)
            .map_err(|e| AppError::field(field, format!("does not compile: {}", describe(&e))))?;
        let mut unknown: Vec<String> = t
            .undeclared_variables(true)
            .into_iter()
            .filter(|v| !FIELDS.contains(&v.as_str()))
            .collect();
        unknown.sort();
        if let Some(first) = unknown.first() {
            return Err(AppError::field(
                field,
                format!("names {first:?}, which is not a merge field (known: contact.first_name, owner.name, links.unsubscribe…)"),
            ));
        }
    }
    render(&Source { subject, html: &html }, &Merge::sample(false))?;
    Ok((subject.to_string(), html))
}

/// Renders a checked template with a record's values.
pub fn render(src: &Source<'_>, merge: &Merge) -> Result<Rendered> {
    let env = env();
    let ctx = merge.value();
    let subject = env
        .template_from_named_str("subject.txt", src.subject)
        .and_then(|t| t.render(&ctx))
        .map_err(|e| AppError::field("subject", format!("does not render: {}", describe(&e))))?;
    let html = env
        .template_from_named_str("body.html", src.html)
        .and_then(|t| t.render(&ctx))
        .map_err(|e| AppError::field("html", format!("does not render: {}", describe(&e))))?;
    let subject: String = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok(Rendered {
        subject,
        html: sanitize(&html),
    })
}

fn describe(e: &minijinja::Error) -> String {
    match (e.detail(), e.line()) {
        (Some(d), Some(l)) => format!("{d} (line {l})"),
        (Some(d), None) => d.to_string(),
        (None, Some(l)) => format!("{} (line {l})", e.kind()),
        (None, None) => e.kind().to_string(),
    }
}

/// User-written HTML made safe: no scripts, styles sheets, event handlers or
/// `javascript:` links; links open with `rel="noopener noreferrer"`.
pub fn sanitize(html: &str) -> String {
    ammonia::Builder::default()
        .add_generic_attributes(["style"])
        .add_tag_attributes("img", ["width", "height"])
        .clean(html)
        .to_string()
}

/// Escapes text for HTML (one-off emails typed as plain text).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Plain text typed by a person as HTML paragraphs; web addresses become links.
pub fn paragraphs(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", linked(p.trim()).replace('\n', "<br>")))
        .collect()
}

/// Escapes text and turns the `http(s)://` addresses in it into links (a
/// final full stop, comma or closing bracket stays outside the link).
fn linked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("http://").into_iter().chain(rest.find("https://")).min() {
        out.push_str(&escape(&rest[..i]));
        let tail = &rest[i..];
        let mut end = tail.find(|c: char| c.is_whitespace() || c == '<' || c == '"').unwrap_or(tail.len());
        while end > 0 && tail[..end].ends_with(['.', ',', ';', ':', ')', '!', '?']) {
            end -= 1;
        }
        let url = &tail[..end];
        if url.len() <= "https://".len() {
            out.push_str(&escape(&tail[..end.max(1)]));
            rest = &tail[end.max(1)..];
            continue;
        }
        out.push_str(&format!("<a href=\"{0}\">{0}</a>", escape(url)));
        rest = &tail[end..];
    }
    out.push_str(&escape(rest));
    out
}

/// The plain-text part of an HTML message: paragraphs and line breaks kept,
/// list items as "- ", links as "text (address)", tags dropped, entities decoded.
pub fn text_of(html: &str) -> String {
    let mut out = String::new();
    let mut href: Option<String> = None;
    let mut link_text = String::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        let text = decode_entities(&rest[..lt]);
        if href.is_some() {
            link_text.push_str(&text);
        } else {
            push_text(&mut out, &text);
        }
        let Some(gt) = rest[lt..].find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let closing = tag.starts_with('/');
        match (name.as_str(), closing) {
            ("br", _) => out.push('\n'),
            ("p" | "div" | "h1" | "h2" | "h3" | "h4" | "table" | "tr" | "ul" | "ol" | "blockquote", _) => paragraph_break(&mut out),
            ("li", false) => {
                if !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                }
                out.push_str("- ");
            }
            ("a", false) => {
                href = attribute(tag, "href").map(|h| decode_entities(&h));
                link_text.clear();
            }
            ("a", true) => {
                if let Some(h) = href.take() {
                    let t = link_text.split_whitespace().collect::<Vec<_>>().join(" ");
                    if t.is_empty() || t == h {
                        push_text(&mut out, &h);
                    } else {
                        push_text(&mut out, &format!("{t} ({h})"));
                    }
                }
            }
            _ => {}
        }
    }
    push_text(&mut out, &decode_entities(rest));
    let lines: Vec<&str> = out.lines().map(str::trim_end).collect();
    let mut text = lines.join("\n");
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text.trim().to_string() + "\n"
}

fn push_text(out: &mut String, text: &str) {
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.is_empty() {
        if text.contains(char::is_whitespace) && !out.ends_with([' ', '\n']) && !out.is_empty() {
            out.push(' ');
        }
        return;
    }
    if text.starts_with(char::is_whitespace) && !out.ends_with([' ', '\n']) && !out.is_empty() {
        out.push(' ');
    }
    out.push_str(&collapsed);
    if text.ends_with(char::is_whitespace) {
        out.push(' ');
    }
}

fn paragraph_break(out: &mut String) {
    while out.ends_with(' ') {
        out.pop();
    }
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
    }
}

/// An attribute's value in a tag written by the sanitiser (double-quoted).
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_string())
}

pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest[..rest.len().min(12)].find(';') else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let ent = &rest[1..end];
        let c = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some(' '),
            _ if ent.starts_with("#x") || ent.starts_with("#X") => u32::from_str_radix(&ent[2..], 16).ok().and_then(char::from_u32),
            _ if ent.starts_with('#') => ent[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn unknown_fields_are_refused_at_save() {
        let e = check(&Source {
            subject: "Hello {{ contact.first_name }}",
            html: "<p>{{ contact.favourite_colour }}</p>",
        })
        .unwrap_err();
        assert!(e.to_string().contains("contact.favourite_colour"), "{e}");
        let e = check(&Source {
            subject: "Hi {{ contact.nickname }}",
            html: "<p>x</p>",
        })
        .unwrap_err();
        assert!(e.to_string().contains("subject"), "{e}");
        // Even in a branch that the sample would not take.
        let e = check(&Source {
            subject: "Hi",
            html: "{% if contact.first_name == 'zzz' %}{{ owner.shoe_size }}{% endif %}",
        })
        .unwrap_err();
        assert!(e.to_string().contains("owner.shoe_size"), "{e}");
        let e = check(&Source {
            subject: "Hi",
            html: "{% if %}",
        })
        .unwrap_err();
        assert!(e.to_string().contains("does not compile"), "{e}");
    }

    #[test]
    fn rendering_escapes_values_and_sanitises() {
        let (subject, html) = check(&Source {
            subject: "Hello {{ contact.first_name }}",
            html: "<p onclick=\"x()\">Hi {{ contact.first_name }}</p><script>alert(1)</script><a href=\"javascript:alert(1)\">x</a>",
        })
        .unwrap();
        assert!(
            !html.contains("script") && !html.contains("onclick") && !html.contains("javascript"),
            "{html}"
        );
        let mut m = Merge::default();
        m.set("contact.first_name", "<b>Zoé</b> & co");
        let r = render(
            &Source {
                subject: &subject,
                html: &html,
            },
            &m,
        )
        .unwrap();
        assert_eq!(r.subject, "Hello <b>Zoé</b> & co");
        assert!(r.html.contains("Hi &lt;b&gt;Zoé&lt;/b&gt; &amp; co"), "{}", r.html);
    }

    #[test]
    fn endless_templates_stop() {
        let e = render(
            &Source {
                subject: "x",
                html: "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            },
            &Merge::default(),
        );
        assert!(e.is_err());
    }

    #[test]
    fn typed_addresses_become_links() {
        assert_eq!(
            paragraphs("See https://x.fr/a?b=1&c=2.\nBye <3"),
            "<p>See <a href=\"https://x.fr/a?b=1&amp;c=2\">https://x.fr/a?b=1&amp;c=2</a>.<br>Bye &lt;3</p>"
        );
        assert_eq!(paragraphs("http:// alone"), "<p>http:// alone</p>");
    }

    #[test]
    fn text_part() {
        let t = text_of("<p>Hello&nbsp;Zoé,</p><p>See <a href=\"https://x.fr/a?b=1&amp;c=2\">the prices</a>.<br>Bye</p><ul><li>one</li><li>two</li></ul>");
        assert_eq!(t, "Hello Zoé,\n\nSee the prices (https://x.fr/a?b=1&c=2).\nBye\n\n- one\n- two\n");
    }

    proptest! {
        #[test]
        fn text_never_keeps_tags(words in proptest::collection::vec("[a-zA-Z<>&;/\" ]{0,12}", 0..8)) {
            let html = sanitize(&words.join("<br>"));
            let text = text_of(&html);
            prop_assert!(!text.contains("<br"));
        }
    }
}
