//! View models the templates render: form fields, badges, timeline lines.
//! Built here from services' data so templates stay plain.

use carnet_app::records::timeline::Entry;
use carnet_domain::fields::{Entity, FieldKind};
use carnet_domain::i18n::Fmt;
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::FieldErrors;

/// One input of a form.
#[derive(Debug, Clone, Default)]
pub struct Field {
    pub name: String,
    pub label: String,
    /// text, email, tel, url, number, date, password, textarea, select, checkboxes, checkbox
    pub kind: &'static str,
    pub value: String,
    pub values: Vec<String>,
    pub options: Vec<(String, String)>,
    pub error: Option<String>,
    pub required: bool,
    pub hint: String,
    /// Used as the element id.
    pub id: String,
}

impl Field {
    pub fn new(name: &str, label: &str, kind: &'static str, input: &RawInput, errors: &FieldErrors) -> Self {
        Field {
            name: name.to_string(),
            label: label.to_string(),
            kind,
            value: input.one(name).to_string(),
            values: input.all(name).to_vec(),
            options: vec![],
            error: errors.get(name).map(str::to_string),
            required: false,
            hint: String::new(),
            id: format!("f-{}", name.replace('.', "-")),
        }
    }
    pub fn options(mut self, o: Vec<(String, String)>) -> Self {
        self.options = o;
        self
    }
    pub fn required(mut self, r: bool) -> Self {
        self.required = r;
        self
    }
    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = h.into();
        self
    }
    pub fn selected(&self, v: &str) -> bool {
        self.values.iter().any(|x| x == v)
    }
}

pub struct Group {
    pub title: String,
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone)]
pub struct Badge {
    pub text: String,
    pub color: String,
}

/// Status choices, for forms and filters.
pub fn status_options(cat: &Catalog) -> Vec<(String, String)> {
    cat.statuses.iter().map(|s| (s.id.to_string(), s.name.clone())).collect()
}

pub fn user_options(cat: &Catalog, none_label: &str) -> Vec<(String, String)> {
    let mut o = vec![(String::new(), none_label.to_string())];
    o.extend(cat.users.iter().filter(|u| u.active).map(|u| (u.id.to_string(), u.name.clone())));
    o
}

pub fn role_options(cat: &Catalog) -> Vec<(String, String)> {
    let mut o = vec![(String::new(), "—".to_string())];
    o.extend(cat.roles.iter().map(|r| (r.id.to_string(), r.name.clone())));
    o
}

/// One field per tag category, all named `tags` (a select for single-valued
/// categories, checkboxes for multi-valued ones).
pub fn tag_fields(cat: &Catalog, input: &RawInput, errors: &FieldErrors, name: &str) -> Vec<Field> {
    let mut first = true;
    cat.categories
        .iter()
        .map(|c| {
            let mut f = Field::new(name, &c.name, if c.multi { "checkboxes" } else { "select" }, input, errors);
            if !first {
                f.error = None;
            }
            first = false;
            f.id = format!("f-{name}-{}", c.id);
            let mut opts = if c.multi {
                vec![]
            } else {
                vec![(String::new(), "—".to_string())]
            };
            opts.extend(c.tags.iter().map(|t| (t.id.to_string(), t.name.clone())));
            f.options(opts)
        })
        .collect()
}

/// Inputs for the custom fields of a record type.
pub fn custom_fields(cat: &Catalog, entity: Entity, input: &RawInput, errors: &FieldErrors, fmt: &Fmt) -> Vec<Field> {
    cat.fields_for(entity)
        .map(|def| {
            let name = format!("cf.{}", def.key);
            let kind = match def.kind {
                FieldKind::Text => "text",
                FieldKind::LongText => "textarea",
                FieldKind::Number => "number",
                FieldKind::Currency => "text",
                FieldKind::Date => "date",
                FieldKind::Boolean | FieldKind::SingleChoice => "select",
                FieldKind::MultipleChoice => "checkboxes",
                FieldKind::Url => "url",
                FieldKind::Email => "email",
                FieldKind::Phone => "tel",
            };
            let f = Field::new(&name, &def.label, kind, input, errors);
            let f = match def.kind {
                FieldKind::Boolean => f.options(vec![
                    (String::new(), "—".into()),
                    ("true".into(), fmt.t("yes").into()),
                    ("false".into(), fmt.t("no").into()),
                ]),
                FieldKind::SingleChoice => {
                    let mut o = vec![(String::new(), "—".to_string())];
                    o.extend(def.choices.iter().map(|c| (c.clone(), c.clone())));
                    f.options(o)
                }
                FieldKind::MultipleChoice => f.options(def.choices.iter().map(|c| (c.clone(), c.clone())).collect()),
                _ => f,
            };
            match def.kind {
                FieldKind::Currency => f.hint("1234.56"),
                _ => f,
            }
        })
        .collect()
}

/// Marks fields that mandatory rules require, with the rule as a hint.
pub fn apply_rules(groups: &mut [Group], cat: &Catalog, entity: Entity, fmt: &Fmt) {
    for rule in cat.rules.iter().filter(|r| r.entity == entity) {
        for g in groups.iter_mut() {
            for f in g.fields.iter_mut().filter(|f| f.name == rule.field) {
                match rule.from_status_id.and_then(|s| cat.status(s)) {
                    None => f.required = true,
                    Some(s) => f.hint = format!("{} ≥ {}", fmt.t("field.status"), s.name),
                }
            }
        }
    }
}

/// A timeline entry in the viewer's words.
pub struct EntryView {
    pub who: String,
    pub text: String,
    pub when: String,
    pub body: Option<String>,
    pub kind: String,
    pub record_href: String,
    pub record_name: String,
    pub delete_action: Option<String>,
}

pub fn describe(e: &Entry, fmt: &Fmt) -> String {
    let d = e.data_json();
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    match e.kind.as_str() {
        "created" => fmt.t("feed.created").to_string(),
        "updated" => {
            let fields: Vec<String> = d
                .get("fields")
                .and_then(|f| f.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str())
                        .map(|f| {
                            let key = format!("field.{f}");
                            if carnet_domain::i18n::has_key(&key) {
                                fmt.t(&key).to_string()
                            } else {
                                f.to_string()
                            }
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!("{} ({})", fmt.t("feed.updated"), fields.join(", "))
        }
        "status_changed" => format!("{}: {} → {}", fmt.t("feed.status_changed"), s("from"), s("to")),
        "comment" => fmt.t("feed.comment").to_string(),
        "attachment" => format!("{} ({})", fmt.t("feed.attachment"), s("file")),
        "linked" => {
            let role = s("role");
            if role.is_empty() {
                format!("{}: {}", fmt.t("feed.linked"), s("contact"))
            } else {
                format!("{}: {} ({role})", fmt.t("feed.linked"), s("contact"))
            }
        }
        "action_planned" => format!("{} “{}”", fmt.t("feed.action_planned"), s("subject")),
        "action_done" => {
            let outcome = s("outcome");
            format!(
                "{} “{}” ({})",
                fmt.t("feed.action_done"),
                s("subject"),
                fmt.t(&format!("agenda.outcome_{outcome}"))
            )
        }
        "opportunity" => format!("{} “{}” → {}", fmt.t("feed.opportunity"), s("opportunity"), s("stage")),
        "stage_changed" => {
            let reason = s("lost_reason");
            if reason.is_empty() {
                format!("{}: {} → {}", fmt.t("feed.stage_changed"), s("from"), s("to"))
            } else {
                format!("{}: {} → {} ({reason})", fmt.t("feed.stage_changed"), s("from"), s("to"))
            }
        }
        "email" => format!("{} “{}” {} {}", fmt.t("feed.email"), s("subject"), fmt.t("email.to"), s("to")),
        "unsubscribed" => fmt.t("feed.unsubscribed").to_string(),
        "form_submitted" => {
            let mut text = format!("{} “{}”", fmt.t("feed.form_submitted"), e.title);
            if let Some(score) = d.get("score").and_then(|v| v.as_i64()) {
                text.push_str(&format!(" — {} {score}", fmt.t("form.score")));
                if !s("band").is_empty() {
                    text.push_str(&format!(" ({})", s("band")));
                }
            }
            let answers: Vec<String> = d
                .get("answers")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            let choices: Vec<&str> = x["choices"]
                                .as_array()
                                .map(|c| c.iter().filter_map(|v| v.as_str()).collect())
                                .unwrap_or_default();
                            format!("{} {}", x["question"].as_str().unwrap_or(""), choices.join(", "))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if !answers.is_empty() {
                text.push_str(&format!(" · {}", answers.join(" · ")));
            }
            if d.get("consent") == Some(&serde_json::Value::Bool(true)) {
                text.push_str(&format!(" · {}", fmt.t("form.consent_given")));
            }
            text
        }
        "form_conflict" => {
            let fields: Vec<String> = d
                .get("fields")
                .and_then(|a| a.as_array())
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            let f = x["field"].as_str().unwrap_or("");
                            let key = format!("field.{f}");
                            let label = if carnet_domain::i18n::has_key(&key) {
                                fmt.t(&key).to_string()
                            } else {
                                f.to_string()
                            };
                            format!(
                                "{label}: {} “{}”, {} “{}”",
                                fmt.t("form.kept"),
                                x["kept"].as_str().unwrap_or(""),
                                fmt.t("form.given"),
                                x["given"].as_str().unwrap_or("")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            format!("{} “{}”: {}", fmt.t("feed.form_conflict"), e.title, fields.join("; "))
        }
        "opt_in_confirmed" => fmt.t("feed.opt_in_confirmed").to_string(),
        "lead_qualified" => match s("interest").as_str() {
            "" => fmt.t("feed.lead_qualified").to_string(),
            why => format!("{} ({})", fmt.t("feed.lead_qualified"), fmt.t(&format!("leads.why_{why}"))),
        },
        "score_changed" | "score_expired" => {
            let n = |k: &str| d.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
            format!(
                "{} {:+} ({}) → {}",
                fmt.t(&format!("feed.{}", e.kind)),
                n("points"),
                e.title,
                n("score")
            )
        }
        "lead_handed_over" => format!(
            "{} “{}” ({} {})",
            fmt.t("feed.lead_handed_over"),
            e.title,
            fmt.t("form.score"),
            d.get("score").and_then(|v| v.as_i64()).unwrap_or(0)
        ),
        "file_downloaded" => format!("{} “{}” ({})", fmt.t("feed.file_downloaded"), s("file"), e.title),
        "visits_joined" => {
            let n = |k: &str| d.get(k).and_then(|v| v.as_i64()).unwrap_or(0) as f64;
            format!(
                "{} — {} ({} {}, {} {})",
                fmt.t("feed.visits_joined"),
                e.title,
                fmt.number(n("visits"), 0),
                fmt.t("card.visits_n"),
                fmt.number(n("views"), 0),
                fmt.t("card.pages_n")
            )
        }
        other => other.to_string(),
    }
}

/// Adds to the email entries of a timeline what became of each message: its
/// state, and a person's opens and clicks ("opened twice, clicked …").
pub async fn describe_emails(
    db: &carnet_app::Db,
    entries: &[Entry],
    views: &mut [EntryView],
    fmt: &Fmt,
) -> Result<(), carnet_app::AppError> {
    let ids: Vec<i64> = entries
        .iter()
        .filter(|e| e.kind == "email")
        .filter_map(|e| e.data_json()["email_id"].as_i64())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let summaries = carnet_app::mail::outbox::summaries(db, &ids).await?;
    for (e, v) in entries.iter().zip(views.iter_mut()) {
        let Some(sum) = e.data_json()["email_id"].as_i64().and_then(|id| summaries.get(&id)) else {
            continue;
        };
        let mut parts = vec![fmt.t(&format!("email.status_{}", sum.status)).to_string()];
        if sum.status == "sent" {
            parts.push(match sum.opens {
                0 => fmt.t("email.not_opened").to_string(),
                1 => format!("{} {}", fmt.t("email.opened"), fmt.t("email.once")),
                n => format!("{} {n} {}", fmt.t("email.opened"), fmt.t("email.times")),
            });
        }
        if !sum.clicked.is_empty() {
            parts.push(format!("{} {}", fmt.t("email.clicked"), sum.clicked.join(", ")));
        }
        v.text = format!("{} — {}", v.text, parts.join(", "));
    }
    Ok(())
}

pub fn entry_view(e: &Entry, fmt: &Fmt, viewer_id: i64, is_admin: bool) -> EntryView {
    let path = match e.entity.as_str() {
        "account" => "accounts",
        "opportunity" => "opportunities",
        _ => "contacts",
    };
    EntryView {
        who: e.actor_name.clone().unwrap_or_else(|| "Carnet".into()),
        text: describe(e, fmt),
        when: fmt.datetime(e.created_at),
        body: e.body.clone(),
        kind: e.kind.clone(),
        record_href: format!("/{path}/{}", e.record_id),
        record_name: e.title.clone(),
        delete_action: (e.kind == "comment" && (e.actor_id == Some(viewer_id) || is_admin))
            .then(|| format!("/{path}/{}/comments/{}/delete", e.record_id, e.id)),
    }
}

pub fn human_size(bytes: i64, fmt: &Fmt) -> String {
    if bytes >= 1024 * 1024 {
        format!("{} MB", fmt.number(bytes as f64 / (1024.0 * 1024.0), 1))
    } else {
        format!("{} KB", fmt.number((bytes as f64 / 1024.0).max(1.0), 0))
    }
}
