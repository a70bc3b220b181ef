//! Settings pages (administrators) and the user's own profile: language, time
//! zone, password and API keys.

use super::{checked_form, render, render_status, see_other, Layout, OrPage, PageResult};
use crate::auth::{PageUser, Viewer};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use carnet_app::access::users::{self, NewUser, UserUpdate};
use carnet_app::access::{keys, User};
use carnet_app::{settings, AppError};
use carnet_domain::access::{Permission, Role};
use carnet_domain::agenda::ActionTypeDef;
use carnet_domain::fields::FieldKind;
use carnet_domain::i18n::{parse_time_zone, Locale};
use carnet_domain::records::{Catalog, RawInput, ACCOUNT_FIELDS, CONTACT_FIELDS};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(|| async { see_other("/settings/statuses") }))
        .route("/settings/{section}", get(section_page).post(section_post))
        .route("/profile", get(profile).post(profile_post))
}

pub const SECTIONS: &[&str] = &[
    "statuses",
    "tags",
    "fields",
    "rules",
    "roles",
    "pipelines",
    "offers",
    "sales_lists",
    "agenda",
    "analysis",
    "email",
    "users",
    "jobs",
];

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    l: Layout,
    section: String,
    sections: Vec<(String, String)>,
    cat: Catalog,
    sales: carnet_domain::sales::SalesCatalog,
    users: Vec<User>,
    failed_jobs: Vec<(i64, String, String, i64, String)>,
    /// Users' hourly costs, as typed (users section).
    costs: std::collections::HashMap<i64, String>,
    kinds: Vec<(String, String)>,
    rule_fields: Vec<(String, String)>,
    rules: Vec<(i64, String, String, String)>,
    agenda: AgendaSettings,
    /// The reporting zone (analysis section) and the zones to choose from.
    report_zone: String,
    zones: Vec<&'static str>,
    /// The email section: settings, sending status, messages to decide, templates, suppressions.
    email: Option<EmailSection>,
    error: Option<String>,
    draft: RawInput,
    saved: bool,
}

impl SettingsPage {
    fn d(&self, k: &str) -> &str {
        self.draft.one(k)
    }
}

fn field_label(fmt: &carnet_domain::i18n::Fmt, cat: &Catalog, entity: &str, field: &str) -> String {
    match field.strip_prefix("cf.") {
        Some(k) => cat
            .fields
            .iter()
            .find(|f| f.key == k && f.entity.as_str() == entity)
            .map(|f| f.label.clone())
            .unwrap_or(k.to_string()),
        None => fmt.t(&format!("field.{field}")).to_string(),
    }
}

async fn settings_page(
    s: &AppState,
    v: &Viewer,
    section: &str,
    error: Option<String>,
    draft: RawInput,
    saved: bool,
) -> Result<Response, super::PageError> {
    let need = if section == "users" {
        Permission::ManageUsers
    } else {
        Permission::ManageSettings
    };
    v.require(need).or_page(v)?;
    if !SECTIONS.contains(&section) {
        return Err(super::PageError::new(super::app_error_page(AppError::NotFound, Some(v))));
    }
    let cat = settings::catalog(&s.carnet.db).await.or_page(v)?;
    let fmt = v.user.fmt();
    let users = if section == "users" {
        users::list(&s.carnet.db).await.or_page(v)?
    } else {
        vec![]
    };
    let mut rule_fields = Vec::new();
    for (entity, standard, label) in [
        ("account", ACCOUNT_FIELDS, fmt.t("nav.accounts")),
        ("contact", CONTACT_FIELDS, fmt.t("nav.contacts")),
    ] {
        for f in standard {
            rule_fields.push((format!("{entity}|{f}"), format!("{label} — {}", fmt.t(&format!("field.{f}")))));
        }
        for f in cat.fields.iter().filter(|f| f.entity.as_str() == entity) {
            rule_fields.push((format!("{entity}|cf.{}", f.key), format!("{label} — {}", f.label)));
        }
    }
    let rules = cat
        .rules
        .iter()
        .map(|r| {
            let entity = if r.entity.as_str() == "account" {
                fmt.t("nav.accounts")
            } else {
                fmt.t("nav.contacts")
            };
            let from = r
                .from_status_id
                .and_then(|id| cat.status(id))
                .map(|s| format!("{} {}", fmt.t("field.from_status"), s.name))
                .unwrap_or(fmt.t("field.always").into());
            (r.id, entity.to_string(), field_label(&fmt, &cat, r.entity.as_str(), &r.field), from)
        })
        .collect();
    let page = SettingsPage {
        section: section.to_string(),
        sections: SECTIONS
            .iter()
            .map(|s| (s.to_string(), fmt.t(&format!("settings.{s}")).to_string()))
            .collect(),
        kinds: FieldKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), k.as_str().replace('_', " ")))
            .collect(),
        rule_fields,
        rules,
        users,
        sales: carnet_app::sales::catalog(&s.carnet.db).await.or_page(v)?,
        failed_jobs: if section == "jobs" {
            carnet_app::platform::jobs::failed(&s.carnet.db, 200)
                .await
                .or_page(v)?
                .into_iter()
                .map(|j| {
                    (
                        j.id,
                        j.kind,
                        j.last_error.unwrap_or_default(),
                        j.attempts,
                        j.finished_at.map(|t| fmt.datetime(t)).unwrap_or_default(),
                    )
                })
                .collect()
        } else {
            vec![]
        },
        costs: if section == "users" {
            users::hourly_costs(&s.carnet.db)
                .await
                .or_page(v)?
                .into_iter()
                .map(|(id, c)| (id, carnet_domain::values::Money(c).to_plain()))
                .collect()
        } else {
            Default::default()
        },
        agenda: if section == "agenda" {
            agenda_settings(s, v, &cat).await.or_page(v)?
        } else {
            AgendaSettings::default()
        },
        report_zone: if section == "analysis" {
            carnet_app::analytics::report_zone(&s.carnet.db)
                .await
                .or_page(v)?
                .name()
                .to_string()
        } else {
            String::new()
        },
        zones: if section == "analysis" {
            chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect()
        } else {
            vec![]
        },
        email: if section == "email" {
            Some(email_section(s, &fmt).await.or_page(v)?)
        } else {
            None
        },
        cat,
        saved,
        l: Layout::new(v, fmt.t("settings.title"), "settings"),
        error: error.clone(),
        draft,
    };
    Ok(if error.is_some() {
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    } else {
        render(&page)
    })
}

/// The email section's view.
struct EmailSection {
    settings: carnet_app::mail::MailSettings,
    relay: Option<String>,
    counts: Vec<(String, i64)>,
    last_error: Option<(String, String)>,
    /// Messages whose delivery is unknown, then failed ones: (id, to, subject, when, error).
    unknown: Vec<(i64, String, String, String, String)>,
    failed: Vec<(i64, String, String, String, String)>,
    /// (id, key, language, name, category, subject, html, preview subject, preview html, built-in)
    templates: Vec<TemplateView>,
    /// (address, reason, source, when)
    suppressions: Vec<(String, String, String, String)>,
}

struct TemplateView {
    id: i64,
    key: String,
    locale: String,
    name: String,
    category: String,
    subject: String,
    html: String,
    preview_subject: String,
    preview_html: String,
    builtin: bool,
}

async fn email_section(s: &AppState, fmt: &carnet_domain::i18n::Fmt) -> Result<EmailSection, AppError> {
    use carnet_app::mail::{self, library, outbox, suppression, templates};
    let db = &s.carnet.db;
    let status = mail::status(&s.carnet).await?;
    let rows = |list: Vec<outbox::Email>| {
        list.into_iter()
            .map(|e| {
                (
                    e.id,
                    e.to_address,
                    e.subject,
                    fmt.datetime(e.sending_at.unwrap_or(e.queued_at)),
                    e.last_error.unwrap_or_default(),
                )
            })
            .collect::<Vec<_>>()
    };
    let templates = library::list(db)
        .await?
        .into_iter()
        .map(|t| {
            let sample = templates::Merge::sample(t.locale == "fr");
            let (preview_subject, preview_html) = match library::render(&t, &sample) {
                Ok(r) => (r.subject, r.html),
                Err(e) => (e.to_string(), String::new()),
            };
            TemplateView {
                id: t.id,
                key: t.template_key,
                locale: t.locale,
                name: t.name,
                category: t.category,
                subject: t.subject,
                html: t.html,
                preview_subject,
                preview_html,
                builtin: t.builtin,
            }
        })
        .collect();
    Ok(EmailSection {
        settings: mail::MailSettings::load(&mut db.conn().await?).await?,
        relay: status.relay,
        counts: status.counts.into_iter().collect(),
        last_error: status
            .last_error
            .map(|e| (e, status.last_error_at.map(|t| fmt.datetime(t)).unwrap_or_default())),
        unknown: rows(outbox::list(db, Some("unknown"), None, None, 100).await?),
        failed: rows(outbox::list(db, Some("failed"), None, None, 20).await?),
        templates,
        suppressions: suppression::list(db, 200)
            .await?
            .into_iter()
            .map(|x| (x.address, x.reason, x.source, fmt.datetime(x.created_at)))
            .collect(),
    })
}

/// Email: the sender and pace, the test email, decisions on messages, templates, suppressions.
async fn post_email(s: &AppState, v: &Viewer, i: &RawInput) -> Result<(), AppError> {
    use carnet_app::mail::{self, library, outbox, suppression};
    let db = &s.carnet.db;
    let template_input = || -> Result<library::TemplateInput, AppError> {
        Ok(library::TemplateInput {
            template_key: i.one("template_key").to_string(),
            locale: i.one("locale").to_string(),
            name: i.one("name").to_string(),
            category: match i.one("category") {
                "marketing" => outbox::Category::Marketing,
                "transactional" => outbox::Category::Transactional,
                _ => return Err(AppError::field("category", "must be transactional or marketing")),
            },
            subject: i.one("subject").to_string(),
            html: i.one("html").to_string(),
        })
    };
    match i.one("op") {
        "settings" => {
            let per_minute = i
                .one("per_minute")
                .trim()
                .parse()
                .map_err(|_| AppError::field("per_minute", "must be a whole number from 0 to 100000"))?;
            mail::MailSettings::save(
                db,
                &mail::MailSettingsInput {
                    sender_name: i.one("sender_name").to_string(),
                    sender_address: i.one("sender_address").to_string(),
                    tracking: checked(i, "tracking"),
                    per_minute,
                },
            )
            .await
            .map(drop)
        }
        "test" => mail::owed::test_email(db, v.user.id).await.map(drop),
        "delivered" => outbox::decide(db, v.user.id, id_of(i, "id")?, true).await,
        "again" => outbox::decide(db, v.user.id, id_of(i, "id")?, false).await,
        "template_create" => library::create(db, &template_input()?).await.map(drop),
        "template_update" => library::update(db, id_of(i, "id")?, &template_input()?).await,
        "template_delete" => library::delete(db, id_of(i, "id")?).await,
        "suppress" => {
            let source = format!("user {}", v.user.id);
            suppression::add_manual(db, i.one("address"), suppression::Reason::Manual, &source, None).await
        }
        "unsuppress" => suppression::remove(db, i.one("address")).await,
        _ => Err(AppError::NotFound),
    }
}

/// The agenda section: action types, follow-up and recurring rules, each rule
/// described in a sentence.
#[derive(Default)]
struct AgendaSettings {
    types: Vec<ActionTypeDef>,
    followups: Vec<(i64, String)>,
    recurring: Vec<(i64, String, bool)>,
    views: Vec<(i64, String)>,
    /// Team booking pages: (id, slug, name, strategy, member names).
    teams: Vec<(i64, String, String, String, String)>,
}

async fn agenda_settings(s: &AppState, v: &Viewer, cat: &Catalog) -> Result<AgendaSettings, AppError> {
    let db = &s.carnet.db;
    let fmt = v.user.fmt();
    let types = carnet_app::agenda::types(db).await?;
    let type_name = |id: i64| types.iter().find(|t| t.id == id).map(|t| t.name.clone()).unwrap_or_default();
    let tag_name = |id: Option<i64>| id.and_then(|t| cat.tag(t)).map(|(_, t)| t.name.clone());
    let followups = carnet_app::agenda::rules::list(db)
        .await?
        .into_iter()
        .map(|r| {
            let days = if r.business_days {
                fmt.t("rules.business_days")
            } else {
                fmt.t("rules.days")
            };
            let segment = tag_name(r.segment_tag_id)
                .map(|t| format!(" ({} {t})", fmt.t("rules.for_segment")))
                .unwrap_or_default();
            (
                r.id,
                format!(
                    "{} “{}”{segment} → {} “{}”, {} {} {days}",
                    fmt.t("rules.when_done"),
                    type_name(r.when_type_id),
                    type_name(r.then_type_id),
                    r.subject,
                    fmt.t("rules.due_in"),
                    r.due_days
                ),
            )
        })
        .collect();
    let views = carnet_app::records::views::visible(db, v.user.id, carnet_domain::fields::Entity::Account)
        .await?
        .into_iter()
        .map(|sv| (sv.id, sv.name))
        .collect::<Vec<_>>();
    let recurring = carnet_app::agenda::recurring::list(db)
        .await?
        .into_iter()
        .map(|r| {
            let segment = tag_name(r.segment_tag_id)
                .or_else(|| {
                    r.view_id
                        .and_then(|id| views.iter().find(|(v, _)| *v == id))
                        .map(|(_, n)| n.clone())
                })
                .unwrap_or_default();
            (
                r.id,
                format!(
                    "{} — “{}” {} “{segment}” {} {} {}",
                    r.name,
                    type_name(r.type_id),
                    fmt.t("rules.for_segment"),
                    fmt.t("rules.every"),
                    r.every_months,
                    fmt.t("rules.months")
                ),
                r.active,
            )
        })
        .collect();
    let teams = carnet_app::agenda::booking::teams(db)
        .await?
        .into_iter()
        .map(|(t, members)| {
            let names = members
                .iter()
                .filter_map(|m| cat.user(*m).map(|u| u.name.clone()))
                .collect::<Vec<_>>()
                .join(", ");
            (
                t.id,
                t.slug,
                t.name,
                fmt.t(&format!("book.strategy_{}", t.strategy)).to_string(),
                names,
            )
        })
        .collect();
    Ok(AgendaSettings {
        types,
        followups,
        recurring,
        views,
        teams,
    })
}

#[derive(serde::Deserialize)]
pub struct Saved {
    saved: Option<String>,
}

async fn section_page(State(s): State<AppState>, PageUser(v): PageUser, Path(section): Path<String>, Query(q): Query<Saved>) -> PageResult {
    settings_page(&s, &v, &section, None, RawInput::default(), q.saved.is_some()).await
}

fn id_of(input: &RawInput, k: &str) -> Result<i64, AppError> {
    input.one(k).trim().parse().map_err(|_| AppError::field(k, "is missing"))
}

/// The fields of a form meant for one parser (not the csrf token and `op`).
fn only(input: &RawInput, keys: &[&str]) -> RawInput {
    RawInput(
        input
            .0
            .iter()
            .filter(|(k, _)| keys.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    )
}

fn checked(input: &RawInput, k: &str) -> bool {
    !input.one(k).is_empty()
}

/// A settings form: its section's handler, and the form's `op` says what to do.
async fn section_post(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(section): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    let need = if section == "users" {
        Permission::ManageUsers
    } else {
        Permission::ManageSettings
    };
    v.require(need).or_page(&v)?;
    let db = &s.carnet.db;
    let i = &input;
    let result = match section.as_str() {
        "statuses" => post_statuses(db, i).await,
        "tags" => post_tags(db, i).await,
        "fields" => post_fields(db, i).await,
        "rules" => post_rules(db, i).await,
        "roles" => post_roles(db, i).await,
        "users" => post_users(db, i).await,
        "jobs" => post_jobs(db, i).await,
        "pipelines" => post_pipelines(db, i).await,
        "offers" => post_offers(db, i).await,
        "sales_lists" => post_sales_lists(db, i).await,
        "agenda" => post_agenda(db, i).await,
        "analysis" => post_analysis(db, i).await,
        "email" => post_email(&s, &v, i).await,
        _ => Err(AppError::NotFound),
    };
    match result {
        Ok(()) => Ok(see_other(&format!("/settings/{section}?saved=1"))),
        Err(AppError::Invalid(e)) => {
            let mut draft = input.clone();
            draft.0.remove("password");
            settings_page(&s, &v, &section, Some(e.summary()), draft, false).await
        }
        Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

/// Statuses: create, rename and recolour, reorder, delete (with a replacement).
async fn post_statuses(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "create" => settings::create_status(db, i.one("name"), i.one("color")).await.map(drop),
        "update" => settings::update_status(db, id_of(i, "id")?, i.one("name"), i.one("color"), checked(i, "is_default")).await,
        "up" => settings::move_status(db, id_of(i, "id")?, -1).await,
        "down" => settings::move_status(db, id_of(i, "id")?, 1).await,
        "delete" => settings::delete_status(db, id_of(i, "id")?, i.one("replacement").parse().ok()).await,
        _ => Err(AppError::NotFound),
    }
}

/// Tag categories and their tags.
async fn post_tags(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "create_category" => settings::create_category(db, i.one("name"), checked(i, "multi"), checked(i, "is_segment"))
            .await
            .map(drop),
        "update_category" => {
            settings::update_category(db, id_of(i, "id")?, i.one("name"), checked(i, "multi"), checked(i, "is_segment")).await
        }
        "delete_category" => settings::delete_category(db, id_of(i, "id")?).await,
        "create_tag" => settings::create_tag(db, id_of(i, "category_id")?, i.one("tag_name"), i.one("color"))
            .await
            .map(drop),
        "update_tag" => settings::update_tag(db, id_of(i, "id")?, i.one("tag_name"), i.one("color")).await,
        "delete_tag" => settings::delete_tag(db, id_of(i, "id")?).await,
        _ => Err(AppError::NotFound),
    }
}

/// Custom fields.
async fn post_fields(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "create" => settings::create_field(
            db,
            settings::NewField {
                entity: i.one("entity"),
                key: i.one("key"),
                label: i.one("label"),
                kind: i.one("kind"),
                choices: i.one("choices"),
            },
        )
        .await
        .map(drop),
        "update" => settings::update_field(db, id_of(i, "id")?, i.one("label"), i.one("choices")).await,
        "delete" => settings::delete_field(db, id_of(i, "id")?).await,
        _ => Err(AppError::NotFound),
    }
}

/// Mandatory rules.
async fn post_rules(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "create" => {
            let (entity, field) = i
                .one("field")
                .split_once('|')
                .ok_or_else(|| AppError::field("field", "is required"))?;
            settings::create_rule(db, entity, field, i.one("from_status").parse().ok(), None)
                .await
                .map(drop)
        }
        "delete" => settings::delete_rule(db, id_of(i, "id")?).await,
        _ => Err(AppError::NotFound),
    }
}

/// Contact roles.
async fn post_roles(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "create" => settings::create_role(db, i.one("name")).await.map(drop),
        "update" => settings::rename_role(db, id_of(i, "id")?, i.one("name")).await,
        "delete" => settings::delete_role(db, id_of(i, "id")?).await,
        _ => Err(AppError::NotFound),
    }
}

/// Users: create, role and activity, hourly cost, password.
async fn post_users(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "invite" => carnet_app::access::links::invite(
            db,
            i.one("email"),
            i.one("name"),
            i.one("role"),
            i.one("locale"),
            i.one("time_zone"),
        )
        .await
        .map(drop),
        "create" => {
            let nu = NewUser::parse(
                i.one("email"),
                i.one("name"),
                i.one("role"),
                i.one("password"),
                i.one("locale"),
                i.one("time_zone"),
            )
            .map_err(AppError::Invalid)?;
            users::create(db, nu).await.map(drop)
        }
        "update" => {
            let id = id_of(i, "id")?;
            let cur = users::get(db, id).await?;
            let role = Role::parse(i.one("role")).map_err(|e| AppError::field("role", e))?;
            users::update(
                db,
                id,
                UserUpdate {
                    name: cur.name,
                    role: Some(role),
                    locale: cur.locale,
                    tz: cur.tz,
                    active: Some(checked(i, "active")),
                },
            )
            .await
            .map(drop)
        }
        "cost" => users::set_hourly_cost(db, id_of(i, "id")?, i.one("hourly_cost")).await.map(drop),
        "password" => users::set_password(db, id_of(i, "id")?, i.one("password")).await,
        _ => Err(AppError::NotFound),
    }
}

/// Background jobs: retry a failed one.
/// The reporting zone: the company's days in every figure. Changing it
/// recomputes the figures (past snapshots keep the days they were taken for).
async fn post_analysis(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "zone" => carnet_app::analytics::rebuild(db, Some(i.one("time_zone"))).await,
        _ => Err(AppError::NotFound),
    }
}

async fn post_jobs(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "retry" => carnet_app::platform::jobs::retry(db, id_of(i, "id")?).await,
        _ => Err(AppError::NotFound),
    }
}

/// Pipelines and their stages.
async fn post_pipelines(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "create" => {
            let p = carnet_app::sales::PipelineInput {
                name: i.one("name"),
                currency: i.one("currency"),
                segment_tag_ids: None,
                offer_ids: None,
                archived: None,
            };
            carnet_app::sales::create_pipeline(db, p).await.map(drop)
        }
        "update" => {
            let segments = i.all("segments").iter().filter_map(|t| t.parse().ok()).collect();
            let p = carnet_app::sales::PipelineInput {
                name: i.one("name"),
                currency: "",
                segment_tag_ids: Some(segments),
                offer_ids: None,
                archived: Some(checked(i, "archived")),
            };
            carnet_app::sales::update_pipeline(db, id_of(i, "id")?, p).await
        }
        "create_stage" => {
            let st = carnet_app::sales::StageInput {
                name: i.one("name"),
                probability: i.one("probability"),
                stall_days: i.one("stall_days"),
                outcome: i.one("outcome"),
            };
            carnet_app::sales::create_stage(db, id_of(i, "pipeline_id")?, st).await.map(drop)
        }
        "update_stage" => {
            let st = carnet_app::sales::StageInput {
                name: i.one("name"),
                probability: i.one("probability"),
                stall_days: i.one("stall_days"),
                outcome: "",
            };
            carnet_app::sales::update_stage(db, id_of(i, "id")?, st).await
        }
        "stage_up" => carnet_app::sales::move_stage_position(db, id_of(i, "id")?, -1).await,
        "stage_down" => carnet_app::sales::move_stage_position(db, id_of(i, "id")?, 1).await,
        "delete_stage" => carnet_app::sales::delete_stage(db, id_of(i, "id")?, i.one("move_to").parse().ok()).await,
        _ => Err(AppError::NotFound),
    }
}

/// Offers.
async fn post_offers(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "create" => carnet_app::sales::create_offer(db, i.one("name"), i.one("code"), i.one("list_price"), i.one("currency"))
            .await
            .map(drop),
        "update" => carnet_app::sales::update_offer(db, id_of(i, "id")?, i.one("name"), i.one("list_price"), checked(i, "active")).await,
        _ => Err(AppError::NotFound),
    }
}

/// Opportunity sources and lost reasons.
async fn post_sales_lists(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "add_source" => carnet_app::sales::add_to_list(db, carnet_app::sales::ListTable::Sources, i.one("name"), i.one("kind"))
            .await
            .map(drop),
        "add_reason" => carnet_app::sales::add_to_list(db, carnet_app::sales::ListTable::LostReasons, i.one("name"), "")
            .await
            .map(drop),
        _ => Err(AppError::NotFound),
    }
}

/// Action types, follow-up rules, recurring rules, team booking pages.
async fn post_agenda(db: &carnet_app::Db, i: &RawInput) -> Result<(), AppError> {
    match i.one("op") {
        "create_type" => carnet_app::agenda::create_type(db, i.one("name"), i.one("color"), i.one("icon"), i.one("kind"))
            .await
            .map(drop),
        "update_type" => carnet_app::agenda::update_type(db, id_of(i, "id")?, i.one("name"), i.one("color"), i.one("icon")).await,
        "create_followup" => {
            let cat = settings::catalog(db).await?;
            let types = carnet_app::agenda::types(db).await?;
            let raw = only(i, &["when_type", "segment", "then_type", "subject", "due_days", "business_days"]);
            let d = carnet_app::agenda::rules::FollowupDraft::parse(&raw, &cat, &types).map_err(AppError::Invalid)?;
            carnet_app::agenda::rules::create(db, &d).await.map(drop)
        }
        "delete_followup" => carnet_app::agenda::rules::delete(db, id_of(i, "id")?).await,
        "create_recurring" => {
            let cat = settings::catalog(db).await?;
            let types = carnet_app::agenda::types(db).await?;
            let raw = only(
                i,
                &[
                    "name",
                    "type",
                    "segment",
                    "view",
                    "every_months",
                    "horizon_months",
                    "start_time",
                    "duration",
                ],
            );
            let d = carnet_app::agenda::recurring::RecurringDraft::parse(&raw, &cat, &types).map_err(AppError::Invalid)?;
            carnet_app::agenda::recurring::create(db, &d).await.map(drop)
        }
        "toggle_recurring" => {
            let id = id_of(i, "id")?;
            let mut d = carnet_app::agenda::recurring::RecurringDraft::parse(
                &carnet_app::agenda::recurring::to_raw(&carnet_app::agenda::recurring::get(db, id).await?),
                &settings::catalog(db).await?,
                &carnet_app::agenda::types(db).await?,
            )
            .map_err(AppError::Invalid)?;
            d.active = !d.active;
            carnet_app::agenda::recurring::update(db, id, &d).await
        }
        "create_team" => {
            let members = i.all("members").iter().filter_map(|m| m.parse().ok()).collect();
            let num = |k: &str, d: i64| -> Result<i64, AppError> {
                match i.one(k).trim() {
                    "" => Ok(d),
                    x => x.parse().map_err(|_| AppError::field(k, "must be a whole number")),
                }
            };
            carnet_app::agenda::booking::save_team(
                db,
                None,
                carnet_app::agenda::booking::TeamInput {
                    slug: i.one("slug"),
                    name: i.one("name"),
                    type_id: num("type", 0)?,
                    duration_min: num("duration", 30)?,
                    buffer_before_min: num("buffer_before", 0)?,
                    buffer_after_min: num("buffer_after", 0)?,
                    min_notice_min: num("min_notice", 120)?,
                    horizon_days: num("horizon_days", 30)?,
                    strategy: i.one("strategy"),
                    time_zone: i.one("time_zone"),
                    members,
                    active: true,
                },
            )
            .await
            .map(drop)
        }
        "delete_team" => carnet_app::agenda::booking::delete_team(db, id_of(i, "id")?).await,
        "delete_recurring" => carnet_app::agenda::recurring::delete(db, id_of(i, "id")?).await,
        _ => Err(AppError::NotFound),
    }
}

#[derive(Template)]
#[template(path = "profile.html")]
struct ProfilePage {
    l: Layout,
    booking: Option<carnet_app::agenda::booking::BookingPage>,
    hours: Vec<(String, String, String)>,
    appointment_types: Vec<(i64, String)>,
    name: String,
    /// The name the user's emails go out under (empty: their name).
    sender_name: String,
    email: String,
    locale: String,
    tz: String,
    zones: Vec<&'static str>,
    keys: Vec<keys::ApiKey>,
    new_key: Option<String>,
    error: Option<String>,
    saved: bool,
}

async fn profile_page(
    s: &AppState,
    v: &Viewer,
    error: Option<String>,
    new_key: Option<String>,
    saved: bool,
) -> Result<Response, super::PageError> {
    let fmt = v.user.fmt();
    let db = &s.carnet.db;
    let wh = carnet_app::agenda::booking::hours(&mut db.conn().await.map_err(AppError::from).or_page(v)?, v.user.id)
        .await
        .or_page(v)?;
    const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
    let hours = DAYS
        .iter()
        .enumerate()
        .map(|(d, day)| {
            let text = wh
                .iter()
                .filter(|w| w.weekday == d as u32)
                .map(|w| {
                    format!(
                        "{:02}:{:02}-{:02}:{:02}",
                        w.start_min / 60,
                        w.start_min % 60,
                        w.end_min / 60,
                        w.end_min % 60
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            (day.to_string(), fmt.t(&format!("day.{day}")).to_string(), text)
        })
        .collect();
    let page = ProfilePage {
        booking: carnet_app::agenda::booking::for_user(db, v.user.id).await.or_page(v)?,
        hours,
        appointment_types: carnet_app::agenda::types(db)
            .await
            .or_page(v)?
            .into_iter()
            .filter(|t| t.kind == "appointment")
            .map(|t| (t.id, t.name))
            .collect(),
        name: v.user.name.clone(),
        sender_name: carnet_app::mail::sender_name(db, v.user.id).await.or_page(v)?.unwrap_or_default(),
        email: v.user.email.clone(),
        locale: v.user.locale.as_str().into(),
        tz: v.user.tz.name().into(),
        zones: chrono_tz::TZ_VARIANTS.iter().map(|z| z.name()).collect(),
        keys: keys::list_for(&s.carnet.db, v.user.id).await.or_page(v)?,
        new_key,
        saved,
        l: Layout::new(v, fmt.t("nav.profile"), "profile"),
        error: error.clone(),
    };
    Ok(if error.is_some() {
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    } else {
        render(&page)
    })
}

async fn profile(State(s): State<AppState>, PageUser(v): PageUser, Query(q): Query<Saved>) -> PageResult {
    profile_page(&s, &v, None, None, q.saved.is_some()).await
}

async fn profile_post(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    let i = checked_form(&v, pairs)?;
    let db = &s.carnet.db;
    let result: Result<Option<String>, AppError> = async {
        match i.one("op") {
            "update" => {
                let mut e = carnet_domain::FieldErrors::new();
                let name = e.check("name", carnet_domain::values::required_name(i.one("name")));
                let locale = e.check("locale", Locale::parse(i.one("locale")));
                let tz = e.check("time_zone", parse_time_zone(i.one("time_zone")));
                e.into_result().map_err(AppError::Invalid)?;
                users::update(
                    db,
                    v.user.id,
                    UserUpdate {
                        name: name.unwrap(),
                        role: None,
                        locale: locale.unwrap(),
                        tz: tz.unwrap(),
                        active: None,
                    },
                )
                .await?;
                carnet_app::mail::set_sender_name(db, v.user.id, Some(i.one("sender_name"))).await?;
                Ok(None)
            }
            "password" => {
                if users::verify_login(db, &v.user.email, i.one("current")).await?.is_none() {
                    return Err(AppError::field("current", "is not your current password"));
                }
                users::set_password(db, v.user.id, i.one("password")).await?;
                Ok(None)
            }
            "create_key" => Ok(Some(keys::create(db, v.user.id, i.one("name")).await?.1)),
            "calendar" => Ok(Some(super::calendar::feed_url(
                &s,
                &carnet_app::agenda::calendar::new_token(db, v.user.id).await?,
            )?)),
            "revoke_calendar" => carnet_app::agenda::calendar::revoke(db, v.user.id).await.map(|_| None),
            "booking" => {
                let num = |k: &str, default: i64| -> Result<i64, AppError> {
                    match i.one(k).trim() {
                        "" => Ok(default),
                        x => x.parse().map_err(|_| AppError::field(k, "must be a whole number")),
                    }
                };
                const DAYS: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
                let mut week = Vec::new();
                for (d, day) in DAYS.iter().enumerate() {
                    let iv = carnet_domain::slots::parse_intervals(i.one(&format!("hours_{day}")))
                        .map_err(|e| AppError::field(&format!("hours_{day}"), e))?;
                    week.push((d as u32, iv));
                }
                let page = carnet_app::agenda::booking::PageInput {
                    slug: i.one("slug"),
                    type_id: num("type", 0)?,
                    duration_min: num("duration", 30)?,
                    buffer_before_min: num("buffer_before", 0)?,
                    buffer_after_min: num("buffer_after", 0)?,
                    min_notice_min: num("min_notice", 120)?,
                    horizon_days: num("horizon_days", 30)?,
                    active: checked(&i, "active"),
                };
                carnet_app::agenda::booking::save_page(db, v.user.id, page).await?;
                carnet_app::agenda::booking::set_hours(db, v.user.id, &week).await?;
                Ok(None)
            }
            "revoke_key" => keys::revoke(db, v.user.id, id_of(&i, "id")?).await.map(|_| None),
            _ => Err(AppError::NotFound),
        }
    }
    .await;
    match result {
        // A new password ends every session, this one included.
        Ok(None) if i.one("op") == "password" => Ok(see_other("/login")),
        Ok(None) => Ok(see_other("/profile?saved=1#booking")),
        Ok(Some(key)) => profile_page(&s, &v, None, Some(key), false).await,
        Err(AppError::Invalid(e)) => profile_page(&s, &v, Some(e.summary()), None, false).await,
        Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
    }
}
