//! Record pages, written once for accounts and contacts: list (filters, sort,
//! saved views, CSV export), card (details, links, timeline, comments,
//! attachments), and the create/edit form with the duplicate warning.

use super::view::{self, apply_rules, custom_fields, entry_view, human_size, tag_fields, Badge, EntryView, Field, Group};
use super::{checked_form, render, render_status, see_other, Layout, OrPage, PageError, PageResult};
use crate::auth::PageUser;
use crate::kinds::{parse_ref, Accounts, Contacts, Kind, Opportunities};
use crate::AppState;
use askama::Template;
use axum::body::Body;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use carnet_app::records::accounts::AccountCard;
use carnet_app::records::contacts::ContactCard;
use carnet_app::records::duplicates::Duplicate;
use carnet_app::records::lists::{self, ListQuery, Listed};
use carnet_app::records::{attachments, contacts, load_extras, timeline, views, Extras};
use carnet_app::sales::opportunities::{self, Opportunity, OpportunityCard};
use carnet_app::sales::orders;
use carnet_app::{settings, AppError, Carnet, Db};
use carnet_domain::access::Permission;
use carnet_domain::fields::Entity;
use carnet_domain::i18n::Fmt;
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::values::to_query_string;
use carnet_domain::FieldErrors;
use std::future::Future;

pub struct Cell {
    pub text: String,
    pub badges: Vec<Badge>,
}

impl Cell {
    fn text(t: impl Into<String>) -> Self {
        Cell {
            text: t.into(),
            badges: vec![],
        }
    }
}

pub struct Detail {
    pub label: String,
    pub value: String,
    pub href: Option<String>,
}

pub struct LinkRow {
    pub href: String,
    pub name: String,
    pub role: Option<String>,
    pub detail: Option<String>,
    pub unlink_action: Option<String>,
}

/// The small form that links another record (a contact to an account...).
pub struct LinkForm {
    pub action: String,
    pub field: String,
    pub placeholder: String,
    pub kind: &'static str,
    pub new_href: Option<String>,
}

pub struct HistoryRow {
    pub from: String,
    pub to: String,
    pub who: String,
    pub when: String,
}

/// Moving an opportunity from its card (the board's keyboard alternative too).
pub struct MoveForm {
    pub action: String,
    pub stages: Vec<(String, String, bool)>,
    pub lost_reasons: Vec<(String, String)>,
}

/// A list of related records on a card: an account's opportunities and orders.
pub struct Related {
    pub id: &'static str,
    pub title: String,
    pub rows: Vec<RelatedRow>,
    pub empty: String,
    pub summary: Option<String>,
    pub new_href: Option<(String, String)>,
    /// The order entry form: (action, offers).
    pub order_form: Option<(String, Vec<(String, String)>)>,
}

pub struct RelatedRow {
    pub href: Option<String>,
    pub name: String,
    pub detail: String,
    pub badge: Option<Badge>,
    pub amount: String,
}

/// What differs between an account card and a contact card.
pub struct CardParts {
    pub subtitle: String,
    pub badges: Vec<Badge>,
    pub details: Vec<Detail>,
    pub custom: Vec<Detail>,
    pub links_title: String,
    pub links_empty: String,
    pub links: Vec<LinkRow>,
    pub link_form: Option<LinkForm>,
    pub history: Vec<HistoryRow>,
    pub move_form: Option<MoveForm>,
}

/// The page-specific side of accounts and contacts.
pub trait PageKind: Kind {
    const TITLE: &'static str;
    const NEW: &'static str;
    const EMPTY: &'static str;
    fn form_groups(cat: &Catalog, input: &RawInput, errors: &FieldErrors, fmt: &Fmt, creating: bool) -> Vec<Group>;
    fn columns(fmt: &Fmt) -> Vec<String>;
    fn cells(row: &Self::Row, ex: &Extras, cat: &Catalog, fmt: &Fmt) -> Vec<Cell>;
    /// `now`: the application clock's, for ages and stalled deals.
    fn card_parts(card: &Self::Card, cat: &Catalog, fmt: &Fmt, now: i64) -> CardParts;
    fn csv_header() -> Vec<&'static str>;
    fn csv_row(row: &Self::Row, cat: &Catalog) -> Vec<String>;
    /// Lists of related records shown on the card.
    fn related(_db: &Db, _cat: &Catalog, _id: i64, _fmt: &Fmt) -> impl Future<Output = Result<Vec<Related>, AppError>> + Send {
        async { Ok(vec![]) }
    }
}

fn status_badge(status: &str, fmt: &Fmt) -> Badge {
    let color = match status {
        "won" => "#2e8b57",
        "lost" => "#c0504d",
        _ => "#2456a6",
    };
    Badge {
        text: fmt.t(&format!("opp.status_{status}")).to_string(),
        color: color.into(),
    }
}

fn opportunity_rows(list: &[Opportunity], cat: &Catalog, fmt: &Fmt, with_account: bool) -> Vec<RelatedRow> {
    list.iter()
        .map(|o| {
            let stage = cat.sales.stage(o.stage_id).map(|(_, s)| s.name.clone()).unwrap_or_default();
            RelatedRow {
                href: Some(format!("/opportunities/{}", o.id)),
                name: o.name.clone(),
                detail: if with_account {
                    format!("{} · {stage}", o.account_name)
                } else {
                    stage
                },
                badge: (o.status != "open").then(|| status_badge(&o.status, fmt)),
                amount: fmt.money(o.amount, &o.currency),
            }
        })
        .collect()
}

fn opportunities_section(list: Vec<Opportunity>, cat: &Catalog, fmt: &Fmt, new_href: Option<String>, with_account: bool) -> Related {
    let open: Vec<&Opportunity> = list.iter().filter(|o| o.status == "open").collect();
    let summary = (!open.is_empty()).then(|| {
        let currency = open[0].currency.clone();
        let total: i64 = open.iter().filter(|o| o.currency == currency).map(|o| o.amount).sum();
        format!("{} {} · {}", open.len(), fmt.t("opp.open_count"), fmt.money(total, &currency))
    });
    Related {
        id: "opportunities",
        title: fmt.t("opportunities.title").into(),
        rows: opportunity_rows(&list, cat, fmt, with_account),
        empty: fmt.t("opportunities.none").into(),
        summary,
        new_href: new_href.map(|h| (h, fmt.t("opportunities.new").to_string())),
        order_form: None,
    }
}

async fn account_related(db: &Db, cat: &Catalog, id: i64, fmt: &Fmt) -> Result<Vec<Related>, AppError> {
    let sales = carnet_app::sales::catalog(db).await?;
    let cat = Catalog { sales, ..cat.clone() };
    let opps = opportunities::for_account(db, id).await?;
    let list = orders::for_account(db, id).await?;
    let life = orders::lifetime(db, id).await?;
    let summary = (!life.is_empty()).then(|| {
        life.iter()
            .map(|l| {
                format!(
                    "{}: {} · {} {}",
                    fmt.t("orders.lifetime"),
                    fmt.money(l.revenue, &l.currency),
                    fmt.integer(l.orders),
                    fmt.t("orders.count")
                )
            })
            .collect::<Vec<_>>()
            .join(" — ")
    });
    let offers = cat
        .sales
        .offers
        .iter()
        .filter(|o| o.active)
        .map(|o| (o.id.to_string(), format!("{} ({})", o.name, o.code)))
        .collect();
    Ok(vec![
        opportunities_section(opps, &cat, fmt, Some(format!("/opportunities/new?account={id}")), false),
        Related {
            id: "orders",
            title: fmt.t("orders.title").into(),
            rows: list
                .iter()
                .map(|o| RelatedRow {
                    href: None,
                    name: o.number.clone(),
                    detail: chrono::NaiveDate::parse_from_str(&o.order_date, "%Y-%m-%d")
                        .map(|d| fmt.date(d))
                        .unwrap_or_default(),
                    badge: None,
                    amount: fmt.money(o.amount, &o.currency),
                })
                .collect(),
            empty: fmt.t("orders.empty").into(),
            summary,
            new_href: None,
            order_form: Some((format!("/accounts/{id}/orders"), offers)),
        },
    ])
}

/// Adds the custom fields and marks what mandatory rules require.
fn finish_groups(mut groups: Vec<Group>, cat: &Catalog, entity: Entity, input: &RawInput, e: &FieldErrors, fmt: &Fmt) -> Vec<Group> {
    let custom = custom_fields(cat, entity, input, e, fmt);
    if !custom.is_empty() {
        groups.push(Group {
            title: fmt.t("card.custom_fields").into(),
            fields: custom,
        });
    }
    apply_rules(&mut groups, cat, entity, fmt);
    groups
}

fn text_field(name: &str, key: &str, kind: &'static str, input: &RawInput, errors: &FieldErrors, fmt: &Fmt) -> Field {
    Field::new(name, fmt.t(key), kind, input, errors)
}

fn tag_badges(cat: &Catalog, ids: &[i64]) -> Vec<Badge> {
    ids.iter()
        .filter_map(|id| cat.tag(*id))
        .map(|(_, t)| Badge {
            text: t.name.clone(),
            color: t.color.clone(),
        })
        .collect()
}

fn owner_name(cat: &Catalog, id: Option<i64>) -> String {
    id.and_then(|i| cat.user(i)).map(|u| u.name.clone()).unwrap_or_default()
}

fn custom_details(cat: &Catalog, entity: Entity, ex: &Extras, fmt: &Fmt) -> Vec<Detail> {
    cat.fields_for(entity)
        .filter_map(|f| {
            let v = ex.custom.iter().find(|(id, _)| *id == f.id)?;
            let value = match &v.1 {
                carnet_domain::fields::FieldValue::Money(c) => fmt.money(*c, f.choices.first().map(String::as_str).unwrap_or("EUR")),
                carnet_domain::fields::FieldValue::Number(n) => fmt.number(*n, if n.fract() == 0.0 { 0 } else { 2 }),
                carnet_domain::fields::FieldValue::Date(d) => fmt.date(*d),
                carnet_domain::fields::FieldValue::Bool(b) => fmt.t(if *b { "yes" } else { "no" }).to_string(),
                other => lists::plain(other),
            };
            let href = match f.kind {
                carnet_domain::fields::FieldKind::Url => Some(value.clone()),
                carnet_domain::fields::FieldKind::Email => Some(format!("mailto:{value}")),
                _ => None,
            };
            Some(Detail {
                label: f.label.clone(),
                value,
                href,
            })
        })
        .collect()
}

fn detail(fmt: &Fmt, key: &str, v: &Option<String>, href: Option<String>) -> Option<Detail> {
    v.as_ref().filter(|s| !s.is_empty()).map(|s| Detail {
        label: fmt.t(key).into(),
        value: s.clone(),
        href,
    })
}

fn csv_tags(cat: &Catalog, ex: &Extras) -> String {
    ex.tag_ids
        .iter()
        .filter_map(|id| cat.tag(*id))
        .map(|(c, t)| format!("{}/{}", c.name, t.name))
        .collect::<Vec<_>>()
        .join("; ")
}

impl PageKind for Accounts {
    const TITLE: &'static str = "accounts.title";
    const NEW: &'static str = "accounts.new";
    const EMPTY: &'static str = "accounts.empty";

    fn form_groups(cat: &Catalog, input: &RawInput, e: &FieldErrors, fmt: &Fmt, _creating: bool) -> Vec<Group> {
        let f = |n, k, kind| text_field(n, k, kind, input, e, fmt);
        let mut identity = vec![
            f("name", "field.name", "text").required(true),
            f("status", "field.status", "select").options(view::status_options(cat)),
            f("owner", "field.owner", "select").options(view::user_options(cat, fmt.t("list.no_owner"))),
        ];
        identity.extend(tag_fields(cat, input, e, "tags"));
        let groups = vec![
            Group {
                title: fmt.t("card.details").into(),
                fields: identity,
            },
            Group {
                title: fmt.t("field.email").into(),
                fields: vec![
                    f("email", "field.email", "email"),
                    f("phone", "field.phone", "tel"),
                    f("website", "field.website", "url"),
                ],
            },
            Group {
                title: fmt.t("field.address").into(),
                fields: vec![
                    f("address", "field.address", "textarea"),
                    f("postal_code", "field.postal_code", "text"),
                    f("city", "field.city", "text"),
                    f("country", "field.country", "text"),
                ],
            },
            Group {
                title: fmt.t("field.company_id").into(),
                fields: vec![
                    f("company_id", "field.company_id", "text"),
                    f("vat_number", "field.vat_number", "text"),
                    f("source", "field.source", "text"),
                    f("description", "field.description", "textarea"),
                ],
            },
        ];
        finish_groups(groups, cat, Entity::Account, input, e, fmt)
    }
    fn columns(fmt: &Fmt) -> Vec<String> {
        [
            "field.name",
            "field.status",
            "field.owner",
            "field.city",
            "field.tags",
            "field.updated_at",
        ]
        .iter()
        .map(|k| fmt.t(k).to_string())
        .collect()
    }
    fn cells(a: &Self::Row, ex: &Extras, cat: &Catalog, fmt: &Fmt) -> Vec<Cell> {
        let status = cat.status(a.status_id);
        vec![
            Cell::text(a.name.clone()),
            Cell {
                text: String::new(),
                badges: status
                    .map(|s| {
                        vec![Badge {
                            text: s.name.clone(),
                            color: s.color.clone(),
                        }]
                    })
                    .unwrap_or_default(),
            },
            Cell::text(owner_name(cat, a.owner_id)),
            Cell::text(a.city.clone().unwrap_or_default()),
            Cell {
                text: String::new(),
                badges: tag_badges(cat, &ex.tag_ids),
            },
            Cell::text(fmt.date_of(a.updated_at)),
        ]
    }
    fn card_parts(card: &AccountCard, cat: &Catalog, fmt: &Fmt, _now: i64) -> CardParts {
        let a = &card.account;
        let mut badges: Vec<Badge> = cat
            .status(a.status_id)
            .map(|s| Badge {
                text: s.name.clone(),
                color: s.color.clone(),
            })
            .into_iter()
            .collect();
        badges.extend(tag_badges(cat, &card.extras.tag_ids));
        let address = [
            a.address.clone(),
            [a.postal_code.clone(), a.city.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ")
                .into(),
            a.country.clone(),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect::<Vec<_>>()
        .join(", ");
        let details = [
            Some(Detail {
                label: fmt.t("field.owner").into(),
                value: owner_name(cat, a.owner_id),
                href: None,
            })
            .filter(|d| !d.value.is_empty()),
            detail(fmt, "field.email", &a.email, a.email.as_ref().map(|e| format!("mailto:{e}"))),
            detail(fmt, "field.phone", &a.phone, a.phone.as_ref().map(|p| format!("tel:{p}"))),
            detail(fmt, "field.website", &a.website, a.website.clone()),
            detail(fmt, "field.address", &Some(address), None),
            detail(fmt, "field.company_id", &a.company_id, None),
            detail(fmt, "field.vat_number", &a.vat_number, None),
            detail(fmt, "field.source", &a.source, None),
            detail(fmt, "field.description", &a.description, None),
            Some(Detail {
                label: fmt.t("field.created_at").into(),
                value: fmt.datetime(a.created_at),
                href: None,
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        CardParts {
            subtitle: [a.city.clone(), a.country.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(", "),
            badges,
            details,
            custom: custom_details(cat, Entity::Account, &card.extras, fmt),
            links_title: fmt.t("contacts.on_account").into(),
            links_empty: fmt.t("card.no_contacts").into(),
            links: card
                .contacts
                .iter()
                .map(|c| LinkRow {
                    href: format!("/contacts/{}", c.contact_id),
                    name: c.name(),
                    role: c.role_name.clone(),
                    detail: c.job_title.clone().or(c.email.clone()),
                    unlink_action: Some(format!("/accounts/{}/contacts/{}/delete", a.id, c.contact_id)),
                })
                .collect(),
            link_form: Some(LinkForm {
                action: format!("/accounts/{}/contacts", a.id),
                field: "contact".into(),
                placeholder: fmt.t("card.add_contact").into(),
                kind: "contact",
                new_href: Some(format!("/contacts/new?account={}", a.id)),
            }),
            history: vec![],
            move_form: None,
        }
    }
    fn related(db: &Db, cat: &Catalog, id: i64, fmt: &Fmt) -> impl Future<Output = Result<Vec<Related>, AppError>> + Send {
        account_related(db, cat, id, fmt)
    }
    fn csv_header() -> Vec<&'static str> {
        vec![
            "id",
            "name",
            "status",
            "owner",
            "email",
            "phone",
            "website",
            "address",
            "postal_code",
            "city",
            "country",
            "company_id",
            "vat_number",
            "source",
            "tags",
            "created_at",
            "updated_at",
        ]
    }
    fn csv_row(a: &Self::Row, cat: &Catalog) -> Vec<String> {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            a.id.to_string(),
            a.name.clone(),
            cat.status(a.status_id).map(|s| s.name.clone()).unwrap_or_default(),
            owner_name(cat, a.owner_id),
            o(&a.email),
            o(&a.phone),
            o(&a.website),
            o(&a.address),
            o(&a.postal_code),
            o(&a.city),
            o(&a.country),
            o(&a.company_id),
            o(&a.vat_number),
            o(&a.source),
        ]
    }
}

impl PageKind for Contacts {
    const TITLE: &'static str = "contacts.title";
    const NEW: &'static str = "contacts.new";
    const EMPTY: &'static str = "contacts.empty";

    fn form_groups(cat: &Catalog, input: &RawInput, e: &FieldErrors, fmt: &Fmt, creating: bool) -> Vec<Group> {
        let f = |n, k, kind| text_field(n, k, kind, input, e, fmt);
        let mut identity = vec![
            f("first_name", "field.first_name", "text"),
            f("last_name", "field.last_name", "text").required(true),
            f("job_title", "field.job_title", "text"),
            f("owner", "field.owner", "select").options(view::user_options(cat, fmt.t("list.no_owner"))),
        ];
        identity.extend(tag_fields(cat, input, e, "tags"));
        let mut groups = vec![
            Group {
                title: fmt.t("card.details").into(),
                fields: identity,
            },
            Group {
                title: fmt.t("field.email").into(),
                fields: vec![
                    f("email", "field.email", "email"),
                    f("phone", "field.phone", "tel"),
                    f("mobile", "field.mobile", "tel"),
                ],
            },
        ];
        if creating {
            groups.push(Group {
                title: fmt.t("field.account").into(),
                fields: vec![
                    f("account", "field.account", "text").hint(fmt.t("search.placeholder")),
                    f("role", "field.role", "select").options(view::role_options(cat)),
                ],
            });
        }
        groups.push(Group {
            title: fmt.t("field.address").into(),
            fields: vec![
                f("address", "field.address", "textarea"),
                f("postal_code", "field.postal_code", "text"),
                f("city", "field.city", "text"),
                f("country", "field.country", "text"),
                f("source", "field.source", "text"),
                f("description", "field.description", "textarea"),
            ],
        });
        finish_groups(groups, cat, Entity::Contact, input, e, fmt)
    }
    fn columns(fmt: &Fmt) -> Vec<String> {
        [
            "field.name",
            "field.email",
            "field.phone",
            "field.job_title",
            "field.owner",
            "field.tags",
        ]
        .iter()
        .map(|k| fmt.t(k).to_string())
        .collect()
    }
    fn cells(c: &Self::Row, ex: &Extras, cat: &Catalog, _fmt: &Fmt) -> Vec<Cell> {
        vec![
            Cell::text(c.name()),
            Cell::text(c.email.clone().unwrap_or_default()),
            Cell::text(c.phone.clone().or(c.mobile.clone()).unwrap_or_default()),
            Cell::text(c.job_title.clone().unwrap_or_default()),
            Cell::text(owner_name(cat, c.owner_id)),
            Cell {
                text: String::new(),
                badges: tag_badges(cat, &ex.tag_ids),
            },
        ]
    }
    fn card_parts(card: &ContactCard, cat: &Catalog, fmt: &Fmt, _now: i64) -> CardParts {
        let c = &card.contact;
        let details = [
            Some(Detail {
                label: fmt.t("field.owner").into(),
                value: owner_name(cat, c.owner_id),
                href: None,
            })
            .filter(|d| !d.value.is_empty()),
            detail(fmt, "field.email", &c.email, c.email.as_ref().map(|e| format!("mailto:{e}"))),
            detail(fmt, "field.phone", &c.phone, c.phone.as_ref().map(|p| format!("tel:{p}"))),
            detail(fmt, "field.mobile", &c.mobile, c.mobile.as_ref().map(|p| format!("tel:{p}"))),
            detail(fmt, "field.address", &c.address, None),
            detail(
                fmt,
                "field.city",
                &[c.postal_code.clone(), c.city.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .into(),
                None,
            ),
            detail(fmt, "field.country", &c.country, None),
            detail(fmt, "field.source", &c.source, None),
            detail(fmt, "field.description", &c.description, None),
            Some(Detail {
                label: fmt.t("field.created_at").into(),
                value: fmt.datetime(c.created_at),
                href: None,
            }),
        ]
        .into_iter()
        .flatten()
        .collect();
        CardParts {
            subtitle: c.job_title.clone().unwrap_or_default(),
            badges: tag_badges(cat, &card.extras.tag_ids),
            details,
            custom: custom_details(cat, Entity::Contact, &card.extras, fmt),
            links_title: fmt.t("contacts.accounts").into(),
            links_empty: fmt.t("card.no_accounts").into(),
            links: card
                .accounts
                .iter()
                .map(|a| LinkRow {
                    href: format!("/accounts/{}", a.account_id),
                    name: a.account_name.clone(),
                    role: a.role_name.clone(),
                    detail: None,
                    unlink_action: Some(format!("/contacts/{}/accounts/{}/delete", c.id, a.account_id)),
                })
                .collect(),
            link_form: Some(LinkForm {
                action: format!("/contacts/{}/accounts", c.id),
                field: "account".into(),
                placeholder: fmt.t("field.account").into(),
                kind: "account",
                new_href: None,
            }),
            history: vec![],
            move_form: None,
        }
    }
    async fn related(db: &Db, cat: &Catalog, id: i64, fmt: &Fmt) -> Result<Vec<Related>, AppError> {
        let sales = carnet_app::sales::catalog(db).await?;
        let cat = Catalog { sales, ..cat.clone() };
        Ok(vec![opportunities_section(
            opportunities::for_contact(db, id).await?,
            &cat,
            fmt,
            None,
            true,
        )])
    }
    fn csv_header() -> Vec<&'static str> {
        vec![
            "id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "mobile",
            "job_title",
            "owner",
            "address",
            "postal_code",
            "city",
            "country",
            "source",
            "tags",
            "created_at",
            "updated_at",
        ]
    }
    fn csv_row(c: &Self::Row, cat: &Catalog) -> Vec<String> {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        vec![
            c.id.to_string(),
            o(&c.first_name),
            c.last_name.clone(),
            o(&c.email),
            o(&c.phone),
            o(&c.mobile),
            o(&c.job_title),
            owner_name(cat, c.owner_id),
            o(&c.address),
            o(&c.postal_code),
            o(&c.city),
            o(&c.country),
            o(&c.source),
        ]
    }
}

impl PageKind for Opportunities {
    const TITLE: &'static str = "opportunities.title";
    const NEW: &'static str = "opportunities.new";
    const EMPTY: &'static str = "opportunities.empty";

    fn form_groups(cat: &Catalog, input: &RawInput, e: &FieldErrors, fmt: &Fmt, creating: bool) -> Vec<Group> {
        let f = |n, k, kind| text_field(n, k, kind, input, e, fmt);
        let sales = &cat.sales;
        let pipeline_id: Option<i64> = input.one("pipeline").parse().ok();
        // A new opportunity picks its stage among every pipeline's (the stage
        // implies the pipeline); an existing one moves within its pipeline.
        let stages: Vec<(String, String)> = sales
            .pipelines
            .iter()
            .filter(|p| !p.archived && (creating || Some(p.id) == pipeline_id))
            .flat_map(|p| {
                let many = sales.pipelines.len() > 1 && creating;
                p.stages.iter().filter(|s| !s.archived).map(move |s| {
                    let label = if many {
                        format!("{} · {} ({} %)", p.name, s.name, s.probability)
                    } else {
                        format!("{} ({} %)", s.name, s.probability)
                    };
                    (s.id.to_string(), label)
                })
            })
            .collect();
        let none = || (String::new(), "—".to_string());
        let offers = std::iter::once(none())
            .chain(
                sales
                    .offers
                    .iter()
                    .filter(|o| o.active)
                    .map(|o| (o.id.to_string(), format!("{} ({})", o.name, o.code))),
            )
            .collect();
        let sources = std::iter::once(none())
            .chain(sales.sources.iter().map(|x| (x.id.to_string(), x.name.clone())))
            .collect();
        let reasons = std::iter::once(none())
            .chain(sales.lost_reasons.iter().map(|x| (x.id.to_string(), x.name.clone())))
            .collect();
        let mut deal = vec![
            f("name", "field.name", "text").required(true),
            f("account", "field.account", "text")
                .required(true)
                .hint(fmt.t("search.placeholder")),
            f("contacts", "opp.contact", "text"),
            f("owner", "field.owner", "select").options(view::user_options(cat, fmt.t("list.no_owner"))),
        ];
        if !creating {
            deal.push(f("pipeline", "opp.pipeline", "hidden"));
            deal.push(f("currency", "opp.currency", "hidden"));
        }
        // One input per contact already on the deal, and one more to add.
        let template = deal.remove(2);
        let mut contacts: Vec<Field> = input
            .all("contacts")
            .iter()
            .filter(|v| !v.trim().is_empty())
            .enumerate()
            .map(|(i, v)| Field {
                value: v.clone(),
                id: format!("f-contacts-{i}"),
                ..template.clone()
            })
            .collect();
        contacts.push(Field {
            value: String::new(),
            id: "f-contacts-new".into(),
            ..template
        });
        for (i, c) in contacts.into_iter().enumerate() {
            deal.insert(2 + i, c);
        }
        let groups = vec![
            Group {
                title: fmt.t("card.details").into(),
                fields: deal,
            },
            Group {
                title: fmt.t("opp.stage").into(),
                fields: vec![
                    f("stage", "opp.stage", "select").options(stages),
                    f("amount", "opp.amount", "text").hint("12500.00"),
                    f("margin", "opp.margin", "text"),
                    f("expected_close", "opp.expected_close", "date"),
                    f("lost_reason", "opp.lost_reason", "select").options(reasons),
                ],
            },
            Group {
                title: fmt.t("opp.offer").into(),
                fields: vec![
                    f("offer", "opp.offer", "select").options(offers),
                    f("source", "field.source", "select").options(sources),
                    f("description", "field.description", "textarea"),
                ],
            },
        ];
        finish_groups(groups, cat, Entity::Opportunity, input, e, fmt)
    }
    fn columns(fmt: &Fmt) -> Vec<String> {
        [
            "field.name",
            "field.account",
            "opp.stage",
            "opp.amount",
            "field.owner",
            "opp.expected_close",
        ]
        .iter()
        .map(|k| fmt.t(k).to_string())
        .collect()
    }
    fn cells(o: &Opportunity, _ex: &Extras, cat: &Catalog, fmt: &Fmt) -> Vec<Cell> {
        let stage = cat.sales.stage(o.stage_id).map(|(_, s)| s.name.clone()).unwrap_or_default();
        let mut stage_cell = Cell::text(stage);
        if o.status != "open" {
            stage_cell.badges.push(status_badge(&o.status, fmt));
        }
        vec![
            Cell::text(o.name.clone()),
            Cell::text(o.account_name.clone()),
            stage_cell,
            Cell::text(fmt.money(o.amount, &o.currency)),
            Cell::text(owner_name(cat, o.owner_id)),
            Cell::text(
                o.expected_close
                    .as_deref()
                    .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                    .map(|d| fmt.date(d))
                    .unwrap_or_default(),
            ),
        ]
    }
    fn card_parts(card: &OpportunityCard, cat: &Catalog, fmt: &Fmt, now: i64) -> CardParts {
        let o = &card.opportunity;
        let sales = &cat.sales;
        let (pipeline, stage) = sales.stage(o.stage_id).map(|(p, s)| (Some(p), Some(s))).unwrap_or((None, None));
        let mut badges = vec![status_badge(&o.status, fmt)];
        if o.is_stalled(sales, now) {
            badges.push(Badge {
                text: fmt.t("opp.stalled").into(),
                color: "#d9480f".into(),
            });
        }
        let name_of = |id: Option<i64>, list: Vec<(i64, String)>| id.and_then(|i| list.into_iter().find(|x| x.0 == i)).map(|x| x.1);
        let d = |k: &str, v: Option<String>| {
            v.filter(|s| !s.is_empty()).map(|value| Detail {
                label: fmt.t(k).into(),
                value,
                href: None,
            })
        };
        let details = [
            Some(Detail {
                label: fmt.t("field.account").into(),
                value: o.account_name.clone(),
                href: Some(format!("/accounts/{}", o.account_id)),
            }),
            d("field.owner", Some(owner_name(cat, o.owner_id))),
            d("opp.pipeline", pipeline.map(|p| p.name.clone())),
            d("opp.stage", stage.map(|s| format!("{} ({} %)", s.name, s.probability))),
            d("opp.amount", Some(fmt.money(o.amount, &o.currency))),
            d(
                "opp.weighted",
                stage.map(|s| fmt.money(o.amount * s.probability / 100, &o.currency)),
            ),
            d("opp.margin", o.margin.map(|m| fmt.money(m, &o.currency))),
            d(
                "opp.offer",
                name_of(o.offer_id, sales.offers.iter().map(|x| (x.id, x.name.clone())).collect()),
            ),
            d(
                "field.source",
                name_of(o.source_id, sales.sources.iter().map(|x| (x.id, x.name.clone())).collect()),
            ),
            d(
                "opp.expected_close",
                o.expected_close
                    .as_deref()
                    .and_then(|x| chrono::NaiveDate::parse_from_str(x, "%Y-%m-%d").ok())
                    .map(|x| fmt.date(x)),
            ),
            d("opp.days_in_stage", (o.status == "open").then(|| fmt.integer(o.days_in_stage(now)))),
            d(
                "opp.lost_reason",
                name_of(
                    o.lost_reason_id,
                    sales.lost_reasons.iter().map(|x| (x.id, x.name.clone())).collect(),
                ),
            ),
            d("opp.closed_at", o.closed_at.map(|t| fmt.datetime(t))),
            d("field.description", o.description.clone()),
            d("field.created_at", Some(fmt.datetime(o.created_at))),
        ]
        .into_iter()
        .flatten()
        .collect();
        let stage_name = |id: Option<i64>| id.and_then(|i| sales.stage(i)).map(|(_, s)| s.name.clone()).unwrap_or_default();
        CardParts {
            subtitle: format!("{} · {}", o.account_name, stage.map(|s| s.name.as_str()).unwrap_or("")),
            badges,
            details,
            custom: custom_details(cat, Entity::Opportunity, &card.extras, fmt),
            links_title: fmt.t("contacts.title").into(),
            links_empty: fmt.t("card.no_contacts").into(),
            links: card
                .contacts
                .iter()
                .map(|(id, name)| LinkRow {
                    href: format!("/contacts/{id}"),
                    name: name.clone(),
                    role: None,
                    detail: None,
                    unlink_action: None,
                })
                .collect(),
            link_form: None,
            history: card
                .history
                .iter()
                .rev()
                .map(|m| HistoryRow {
                    from: stage_name(m.from_stage_id),
                    to: stage_name(Some(m.to_stage_id)),
                    who: m.moved_by_name.clone().unwrap_or_default(),
                    when: fmt.datetime(m.moved_at),
                })
                .collect(),
            move_form: pipeline.map(|p| MoveForm {
                action: format!("/opportunities/{}/move", o.id),
                stages: p
                    .stages
                    .iter()
                    .filter(|s| !s.archived)
                    .map(|s| (s.id.to_string(), format!("{} ({} %)", s.name, s.probability), s.id == o.stage_id))
                    .collect(),
                lost_reasons: sales.lost_reasons.iter().map(|r| (r.id.to_string(), r.name.clone())).collect(),
            }),
        }
    }
    async fn related(db: &Db, _cat: &Catalog, id: i64, fmt: &Fmt) -> Result<Vec<Related>, AppError> {
        let f = carnet_app::agenda::actions::ActionFilter {
            assignee: None,
            from: None,
            to: None,
            record: Some((Entity::Opportunity, id)),
            open_only: false,
            limit: 100,
        };
        let mut list = carnet_app::agenda::actions::list(db, &f).await?;
        // Planned actions first (soonest first), then the ones done.
        list.sort_by_key(|a| (a.outcome.is_some(), a.planned_at));
        let types = carnet_app::agenda::types(db).await?;
        let next = list
            .iter()
            .find(|a| a.outcome.is_none())
            .map(|a| super::sales::describe_action(a, &types, fmt));
        Ok(vec![Related {
            id: "actions",
            title: fmt.t("agenda.actions").into(),
            rows: list
                .iter()
                .map(|a| RelatedRow {
                    href: None,
                    name: super::sales::describe_action(a, &types, fmt),
                    detail: String::new(),
                    badge: a.outcome.as_ref().map(|o| Badge {
                        text: fmt.t(&format!("agenda.outcome_{o}")).into(),
                        color: "#6b7785".into(),
                    }),
                    amount: String::new(),
                })
                .collect(),
            empty: fmt.t("agenda.none").into(),
            summary: next.map(|n| format!("{}: {n}", fmt.t("opp.next_action"))),
            new_href: None,
            order_form: None,
        }])
    }
    fn csv_header() -> Vec<&'static str> {
        vec![
            "id",
            "name",
            "account",
            "pipeline",
            "stage",
            "status",
            "amount",
            "currency",
            "margin",
            "owner",
            "expected_close",
            "tags",
            "created_at",
            "updated_at",
        ]
    }
    fn csv_row(o: &Opportunity, cat: &Catalog) -> Vec<String> {
        let (p, s) = cat
            .sales
            .stage(o.stage_id)
            .map(|(p, s)| (p.name.clone(), s.name.clone()))
            .unwrap_or_default();
        vec![
            o.id.to_string(),
            o.name.clone(),
            o.account_name.clone(),
            p,
            s,
            o.status.clone(),
            carnet_domain::values::Money(o.amount).to_plain(),
            o.currency.clone(),
            o.margin.map(|m| carnet_domain::values::Money(m).to_plain()).unwrap_or_default(),
            owner_name(cat, o.owner_id),
            o.expected_close.clone().unwrap_or_default(),
        ]
    }
}

pub fn routes<K: PageKind>() -> Router<AppState> {
    let p = K::PATH;
    Router::new()
        .route(&format!("/{p}"), get(list_page::<K>).post(create::<K>))
        .route(&format!("/{p}/new"), get(new_form::<K>))
        .route(&format!("/{p}/export.csv"), get(export::<K>))
        .route(&format!("/{p}/views"), post(save_view::<K>))
        .route(&format!("/{p}/views/{{id}}/delete"), post(delete_view::<K>))
        .route(&format!("/{p}/{{id}}"), get(card::<K>).post(update::<K>))
        .route(&format!("/{p}/{{id}}/edit"), get(edit_form::<K>))
        .route(&format!("/{p}/{{id}}/delete"), post(delete::<K>))
        .route(&format!("/{p}/{{id}}/comments"), post(comment::<K>))
        .route(&format!("/{p}/{{id}}/comments/{{entry}}/delete"), post(delete_comment::<K>))
}

// ---- list ----

pub struct ViewLink {
    pub name: String,
    pub href: String,
    pub delete_action: Option<String>,
    pub shared: bool,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "list.html")]
struct ListPage {
    l: Layout,
    path: &'static str,
    new_label: String,
    can_create: bool,
    columns: Vec<String>,
    rows: Vec<(String, Vec<Cell>)>,
    filters: Vec<Field>,
    sort: Field,
    next_href: Option<String>,
    first_href: Option<String>,
    export_href: String,
    views: Vec<ViewLink>,
    query: String,
    error: Option<String>,
    empty: String,
}

fn filter_fields<K: PageKind>(cat: &Catalog, input: &RawInput, fmt: &Fmt) -> Vec<Field> {
    let none = FieldErrors::new();
    let mut f = vec![Field::new("q", fmt.t("list.name_starts"), "text", input, &none)];
    if K::ENTITY == Entity::Account {
        let mut o = vec![(String::new(), fmt.t("list.any").to_string())];
        o.extend(view::status_options(cat));
        f.push(Field::new("status", fmt.t("field.status"), "select", input, &none).options(o));
    }
    let mut owners = vec![
        (String::new(), fmt.t("list.any").to_string()),
        ("none".into(), fmt.t("list.no_owner").to_string()),
    ];
    owners.extend(cat.users.iter().map(|u| (u.id.to_string(), u.name.clone())));
    f.push(Field::new("owner", fmt.t("field.owner"), "select", input, &none).options(owners));
    if K::ENTITY == Entity::Opportunity {
        let any = || (String::new(), fmt.t("list.any").to_string());
        let mut pipelines = vec![any()];
        pipelines.extend(cat.sales.pipelines.iter().map(|p| (p.id.to_string(), p.name.clone())));
        f.push(Field::new("pipeline", fmt.t("opp.pipeline"), "select", input, &none).options(pipelines));
        let mut stages = vec![any()];
        stages.extend(
            cat.sales
                .pipelines
                .iter()
                .flat_map(|p| p.stages.iter().map(move |s| (s.id.to_string(), format!("{} · {}", p.name, s.name)))),
        );
        f.push(Field::new("stage", fmt.t("opp.stage"), "select", input, &none).options(stages));
        let statuses = ["open", "won", "lost"]
            .iter()
            .map(|st| (st.to_string(), fmt.t(&format!("opp.status_{st}")).to_string()));
        f.push(Field::new("status", fmt.t("opp.status"), "select", input, &none).options(std::iter::once(any()).chain(statuses).collect()));
        f.push(Field::new("created_from", fmt.t("list.created_from"), "date", input, &none));
        f.push(Field::new("created_to", fmt.t("list.created_to"), "date", input, &none));
        return f;
    }
    for c in &cat.categories {
        let mut o = vec![(String::new(), fmt.t("list.any").to_string())];
        o.extend(c.tags.iter().map(|t| (t.id.to_string(), t.name.clone())));
        let mut field = Field::new("tag", &c.name, "select", input, &none).options(o);
        field.id = format!("f-tag-{}", c.id);
        // Several tag selects share the name `tag`: each shows the value among its own options.
        field.values = input
            .all("tag")
            .iter()
            .filter(|v| c.tags.iter().any(|t| t.id.to_string() == **v))
            .cloned()
            .collect();
        field.value = field.values.first().cloned().unwrap_or_default();
        f.push(field);
    }
    f.push(Field::new("city", fmt.t("field.city"), "text", input, &none));
    f.push(Field::new("created_from", fmt.t("list.created_from"), "date", input, &none));
    f.push(Field::new("created_to", fmt.t("list.created_to"), "date", input, &none));
    for def in cat.fields_for(K::ENTITY) {
        use carnet_domain::fields::FieldKind::*;
        let name = format!("cf.{}", def.key);
        let any = (String::new(), fmt.t("list.any").to_string());
        match def.kind {
            SingleChoice | MultipleChoice => {
                let mut o = vec![any];
                o.extend(def.choices.iter().map(|c| (c.clone(), c.clone())));
                f.push(Field::new(&name, &def.label, "select", input, &none).options(o));
            }
            Boolean => f.push(Field::new(&name, &def.label, "select", input, &none).options(vec![
                any,
                ("true".into(), fmt.t("yes").into()),
                ("false".into(), fmt.t("no").into()),
            ])),
            Number | Currency => {
                f.push(Field::new(
                    &format!("{name}.min"),
                    &format!("{} ≥", def.label),
                    "text",
                    input,
                    &none,
                ));
                f.push(Field::new(
                    &format!("{name}.max"),
                    &format!("{} ≤", def.label),
                    "text",
                    input,
                    &none,
                ));
            }
            _ => {}
        }
    }
    f
}

fn sort_field<K: PageKind>(cat: &Catalog, input: &RawInput, fmt: &Fmt) -> Field {
    let mut o = vec![
        ("name".to_string(), fmt.t("sort.name").to_string()),
        ("-created".into(), fmt.t("sort.created_desc").into()),
        ("-updated".into(), fmt.t("sort.updated_desc").into()),
    ];
    for def in cat.fields_for(K::ENTITY).filter(|d| {
        !matches!(
            d.kind,
            carnet_domain::fields::FieldKind::MultipleChoice | carnet_domain::fields::FieldKind::LongText
        )
    }) {
        o.push((format!("cf.{}", def.key), format!("{} ↑", def.label)));
        o.push((format!("-cf.{}", def.key), format!("{} ↓", def.label)));
    }
    Field::new("sort", fmt.t("list.sort"), "select", input, &FieldErrors::new()).options(o)
}

/// Drops empty parameters and the ones that do not describe the list itself.
fn list_pairs(pairs: &[(String, String)], drop: &[&str]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter(|(k, v)| !v.trim().is_empty() && !drop.contains(&k.as_str()))
        .cloned()
        .collect()
}

fn qs(pairs: &[(String, String)]) -> String {
    to_query_string(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

async fn list_page<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Query(mut pairs): Query<Vec<(String, String)>>,
) -> PageResult {
    let db = &s.carnet.db;
    let cat = K::catalog(db).await.or_page(&v)?;
    let fmt = v.user.fmt();
    // A saved view's filters apply when the view is opened on its own.
    let view_id = pairs.iter().find(|(k, _)| k == "view").and_then(|(_, v)| v.parse::<i64>().ok());
    if let Some(id) = view_id {
        if pairs.iter().all(|(k, _)| k == "view") {
            let saved = views::get(db, id, v.user.id).await.or_page(&v)?;
            pairs = carnet_domain::values::parse_query_string(&saved.query);
            pairs.push(("view".into(), id.to_string()));
        }
    }
    let pairs = list_pairs(&pairs, &[]);
    let input = RawInput::from_pairs(pairs.clone());
    let mut error = None;
    let mut rows = Vec::new();
    let mut next_href = None;
    match ListQuery::parse(K::ENTITY, &input, &cat, v.user.tz) {
        Ok(lq) => {
            let page: lists::Page<K::Row> = lists::run(db, &lq, K::COLS).await.or_page(&v)?;
            let ids: Vec<i64> = page.rows.iter().map(|r| r.id()).collect();
            let extras = load_extras(&mut db.conn().await.map_err(AppError::from).or_page(&v)?, &cat, K::ENTITY, &ids)
                .await
                .or_page(&v)?;
            rows = page
                .rows
                .iter()
                .map(|r| (format!("/{}/{}", K::PATH, r.id()), K::cells(r, &extras[&r.id()], &cat, &fmt)))
                .collect();
            if let Some(next) = page.next {
                let mut np = list_pairs(&pairs, &["after"]);
                np.push(("after".into(), next));
                next_href = Some(format!("/{}?{}", K::PATH, qs(&np)));
            }
        }
        Err(e) => error = Some(e.summary()),
    }
    let base_pairs = list_pairs(&pairs, &["after", "view"]);
    let visible = views::visible(db, v.user.id, K::ENTITY).await.or_page(&v)?;
    let admin = v.can(Permission::ManageSettings);
    let views = visible
        .into_iter()
        .map(|sv| ViewLink {
            href: format!("/{}?view={}", K::PATH, sv.id),
            delete_action: (sv.user_id == v.user.id || admin).then(|| format!("/{}/views/{}/delete", K::PATH, sv.id)),
            active: view_id == Some(sv.id),
            name: sv.name,
            shared: sv.shared,
        })
        .collect();
    Ok(render(&ListPage {
        path: K::PATH,
        new_label: fmt.t(K::NEW).into(),
        can_create: v.can(K::WRITE),
        columns: K::columns(&fmt),
        rows,
        filters: filter_fields::<K>(&cat, &input, &fmt),
        sort: sort_field::<K>(&cat, &input, &fmt),
        first_href: pairs
            .iter()
            .any(|(k, _)| k == "after")
            .then(|| format!("/{}?{}", K::PATH, qs(&list_pairs(&pairs, &["after"])))),
        next_href,
        export_href: format!("/{}/export.csv?{}", K::PATH, qs(&list_pairs(&base_pairs, &["limit"]))),
        views,
        query: qs(&list_pairs(&base_pairs, &["limit"])),
        error,
        empty: fmt.t(K::EMPTY).into(),
        l: Layout::new(&v, fmt.t(K::TITLE), K::PATH),
    }))
}

/// Spreadsheets run cells that start with these as formulas: neutralise them.
fn csv_safe(s: String) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s
    }
}

async fn export<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Query(pairs): Query<Vec<(String, String)>>) -> PageResult {
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let pairs = list_pairs(&pairs, &["after", "limit", "view"]);
    let lq = ListQuery::parse(K::ENTITY, &RawInput::from_pairs(pairs), &cat, v.user.tz)
        .map_err(AppError::Invalid)
        .or_page(&v)?
        .with_limit(1000);
    let name = format!("{}-{}.csv", K::PATH, s.carnet.db.clock().today_in(v.user.tz).format("%Y%m%d"));
    // Pages of 1,000 rows are fetched and written as the client reads.
    let state = Some((s.carnet.clone(), cat, lq, None::<String>, true));
    let stream = futures_util::stream::unfold(state, |st| async move {
        let (carnet, cat, lq, after, first): (Carnet, Catalog, ListQuery, Option<String>, bool) = st?;
        let mut out = csv::WriterBuilder::new().from_writer(Vec::new());
        if first {
            let mut header: Vec<String> = K::csv_header().into_iter().map(String::from).collect();
            header.extend(cat.fields_for(K::ENTITY).map(|f| format!("cf.{}", f.key)));
            let _ = out.write_record(&header);
        }
        let page_q = match &after {
            Some(a) => match lq.clone().with_after(a) {
                Ok(q) => q,
                Err(_) => return None,
            },
            None => lq.clone(),
        };
        let page: lists::Page<K::Row> = match lists::run(&carnet.db, &page_q, K::COLS).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "export failed");
                return Some((Err(std::io::Error::other("export failed")), None));
            }
        };
        let ids: Vec<i64> = page.rows.iter().map(|r| r.id()).collect();
        let extras = match carnet.db.conn().await {
            Ok(mut c) => load_extras(&mut c, &cat, K::ENTITY, &ids).await.unwrap_or_default(),
            Err(_) => Default::default(),
        };
        for r in &page.rows {
            let ex = extras.get(&r.id()).cloned().unwrap_or_default();
            let mut rec = K::csv_row(r, &cat);
            rec.push(csv_tags(&cat, &ex));
            rec.push(crate::kinds::iso(r.created_at()));
            rec.push(crate::kinds::iso(r.updated_at()));
            for f in cat.fields_for(K::ENTITY) {
                rec.push(
                    ex.custom
                        .iter()
                        .find(|(id, _)| *id == f.id)
                        .map(|(_, v)| lists::plain(v))
                        .unwrap_or_default(),
                );
            }
            let _ = out.write_record(rec.into_iter().map(csv_safe));
        }
        let bytes = out.into_inner().unwrap_or_default();
        let next = page.next.map(|n| (carnet, cat, lq, Some(n), false));
        Some((Ok::<_, std::io::Error>(bytes), next))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

async fn save_view<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    let input = checked_form(&v, pairs)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let query = input.one("query").to_string();
    lists::parse_query_string(K::ENTITY, &query, &cat, v.user.tz.name()).or_page(&v)?;
    let id = views::create(
        &s.carnet.db,
        v.user.id,
        K::ENTITY,
        input.one("name"),
        &query,
        !input.one("shared").is_empty(),
    )
    .await
    .or_page(&v)?;
    Ok(see_other(&format!("/{}?view={id}", K::PATH)))
}

async fn delete_view<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    views::delete(&s.carnet.db, id, v.user.id, v.can(Permission::ManageSettings))
        .await
        .or_page(&v)?;
    Ok(see_other(&format!("/{}", K::PATH)))
}

// ---- forms ----

pub struct DupView {
    pub href: String,
    pub name: String,
    pub reasons: String,
}

#[derive(Template)]
#[template(path = "form.html")]
struct FormPage {
    l: Layout,
    heading: String,
    action: String,
    cancel_href: String,
    groups: Vec<Group>,
    has_errors: bool,
    duplicates: Vec<DupView>,
    /// The version the form was read at (opportunities), sent back with it.
    version: String,
    /// Someone else saved the record since the form was read.
    conflict: Option<String>,
}

pub(super) fn form_page<K: PageKind>(
    v: &crate::auth::Viewer,
    cat: &Catalog,
    input: &RawInput,
    errors: &FieldErrors,
    id: Option<i64>,
    dups: &[Duplicate],
) -> Response {
    let fmt = v.user.fmt();
    let heading = match id {
        None => fmt.t(K::NEW).to_string(),
        Some(_) => format!(
            "{} — {}",
            fmt.t("action.edit"),
            input.one(if K::ENTITY == Entity::Account { "name" } else { "last_name" })
        ),
    };
    let page = FormPage {
        heading: heading.clone(),
        action: id.map(|i| format!("/{}/{i}", K::PATH)).unwrap_or(format!("/{}", K::PATH)),
        cancel_href: id.map(|i| format!("/{}/{i}", K::PATH)).unwrap_or(format!("/{}", K::PATH)),
        groups: K::form_groups(cat, input, errors, &fmt, id.is_none()),
        has_errors: !errors.is_empty() && errors.get("version").is_none(),
        duplicates: dups
            .iter()
            .map(|d| DupView {
                href: format!("/{}/{}", if d.entity == Entity::Account { "accounts" } else { "contacts" }, d.id),
                name: d.name.clone(),
                reasons: d.reasons.iter().map(|r| fmt.t(&format!("dup.{r}"))).collect::<Vec<_>>().join(", "),
            })
            .collect(),
        version: input.one("version").to_string(),
        conflict: errors.get("version").map(str::to_string),
        l: Layout::new(v, heading, K::PATH),
    };
    if errors.is_empty() && dups.is_empty() {
        render(&page)
    } else {
        render_status(
            if page.conflict.is_some() {
                StatusCode::CONFLICT
            } else if dups.is_empty() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            },
            &page,
        )
    }
}

async fn new_form<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Query(pairs): Query<Vec<(String, String)>>) -> PageResult {
    v.require(K::WRITE).or_page(&v)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let mut input = RawInput::default();
    input.set("owner", v.user.id.to_string());
    if let Some((_, a)) = pairs.iter().find(|(k, _)| k == "account") {
        if let Some(id) = parse_ref(a) {
            if let Ok(card) = Accounts::card(&s.carnet.db, &cat, id).await {
                input.set("account", format!("#{id} {}", card.account.name));
            }
        }
    }
    Ok(form_page::<K>(&v, &cat, &input, &FieldErrors::new(), None, &[]))
}

async fn create<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    v.require(K::WRITE).or_page(&v)?;
    let input = checked_form(&v, pairs)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let draft = match K::parse(&input, &cat) {
        Ok(d) => d,
        Err(e) => return Ok(form_page::<K>(&v, &cat, &input, &e, None, &[])),
    };
    if input.one("allow_duplicates").is_empty() {
        let dups = K::duplicates(&s.carnet.db, &draft).await.or_page(&v)?;
        if !dups.is_empty() {
            return Ok(form_page::<K>(&v, &cat, &input, &FieldErrors::new(), None, &dups));
        }
    }
    match K::create(&s.carnet, &cat, &v.user, &draft, &input).await {
        Ok(id) => Ok(see_other(&format!("/{}/{id}", K::PATH))),
        Err(AppError::Invalid(e)) => Ok(form_page::<K>(&v, &cat, &input, &e, None, &[])),
        Err(e) => Err(PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

async fn edit_form<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    v.require(K::WRITE).or_page(&v)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let card = K::card(&s.carnet.db, &cat, id).await.or_page(&v)?;
    let mut input = K::to_raw(&card, &cat);
    // Saved with the form: a save over someone else's change is refused (409).
    if let Some(version) = K::version(&card) {
        input.set("version", version.to_string());
    }
    Ok(form_page::<K>(&v, &cat, &input, &FieldErrors::new(), Some(id), &[]))
}

async fn update<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    v.require(K::WRITE).or_page(&v)?;
    let input = checked_form(&v, pairs)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    K::card(&s.carnet.db, &cat, id).await.or_page(&v)?;
    let mut fields = input.clone();
    let version = fields.0.remove("version").unwrap_or_default();
    let expected = crate::kinds::expected_version(None, version.first().map(String::as_str)).or_page(&v)?;
    let draft = match K::parse(&fields, &cat) {
        Ok(d) => d,
        Err(e) => return Ok(form_page::<K>(&v, &cat, &input, &e, Some(id), &[])),
    };
    match K::update(&s.carnet, &cat, &v.user, id, &draft, expected).await {
        Ok(()) => Ok(see_other(&format!("/{}/{id}", K::PATH))),
        Err(AppError::Invalid(e)) => Ok(form_page::<K>(&v, &cat, &input, &e, Some(id), &[])),
        // Someone else saved first: the form comes back with what was typed and
        // a notice; saving again (with the new version) overwrites knowingly.
        Err(AppError::Conflict(_)) => {
            let mut input = input;
            if let Some(card) = K::card(&s.carnet.db, &cat, id).await.ok().as_ref().and_then(K::version) {
                input.set("version", card.to_string());
            }
            let conflict = FieldErrors::single("version", v.user.fmt().t("form.conflict"));
            Ok(form_page::<K>(&v, &cat, &input, &conflict, Some(id), &[]))
        }
        Err(e) => Err(PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

async fn delete<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    v.require(Permission::DeleteRecords).or_page(&v)?;
    K::delete(&s.carnet, &v.user, id).await.or_page(&v)?;
    Ok(see_other(&format!("/{}", K::PATH)))
}

// ---- card ----

pub struct AttachmentView {
    pub name: String,
    pub href: String,
    pub size: String,
    pub when: String,
    pub delete_action: String,
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardPage {
    l: Layout,
    path: &'static str,
    id: i64,
    name: String,
    parts: CardParts,
    roles: Vec<(String, String)>,
    timeline: Vec<EntryView>,
    attachments: Vec<AttachmentView>,
    related: Vec<Related>,
    can_edit: bool,
    can_delete: bool,
    can_link: bool,
    max_upload_mb: usize,
}

async fn card<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    let db = &s.carnet.db;
    let cat = K::catalog(db).await.or_page(&v)?;
    let card = K::card(db, &cat, id).await.or_page(&v)?;
    let fmt = v.user.fmt();
    let entries = timeline::for_record(db, K::ENTITY, id, 200).await.or_page(&v)?;
    let files = attachments::for_record(db, K::ENTITY, id).await.or_page(&v)?;
    let related = K::related(db, &cat, id, &fmt).await.or_page(&v)?;
    let admin = v.can(Permission::ManageSettings);
    let name = K::card_name(&card);
    Ok(render(&CardPage {
        path: K::PATH,
        id,
        parts: K::card_parts(&card, &cat, &fmt, s.carnet.db.now()),
        roles: view::role_options(&cat),
        timeline: entries.iter().map(|e| entry_view(e, &fmt, v.user.id, admin)).collect(),
        attachments: files
            .iter()
            .map(|a| AttachmentView {
                name: a.file_name.clone(),
                href: format!("/attachments/{}", a.id),
                size: human_size(a.size_bytes, &fmt),
                when: fmt.datetime(a.created_at),
                delete_action: format!("/attachments/{}/delete", a.id),
            })
            .collect(),
        related,
        can_edit: v.can(K::WRITE),
        can_delete: v.can(Permission::DeleteRecords),
        can_link: v.can(Permission::WriteContacts),
        max_upload_mb: s.carnet.max_upload_bytes / (1024 * 1024),
        l: Layout::new(&v, name.clone(), K::PATH),
        name,
    }))
}

async fn comment<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    v.require(Permission::Comment).or_page(&v)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let card = K::card(&s.carnet.db, &cat, id).await.or_page(&v)?;
    timeline::comment(&s.carnet.db, K::ENTITY, id, v.user.id, &K::card_name(&card), input.one("body"))
        .await
        .or_page(&v)?;
    Ok(see_other(&format!("/{}/{id}#timeline", K::PATH)))
}

async fn delete_comment<K: PageKind>(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path((id, entry)): Path<(i64, i64)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    timeline::delete_comment(&s.carnet.db, entry, v.user.id, v.can(Permission::ManageSettings))
        .await
        .or_page(&v)?;
    Ok(see_other(&format!("/{}/{id}#timeline", K::PATH)))
}

pub async fn upload<K: PageKind>(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>, mut mp: Multipart) -> PageResult {
    let mut csrf = String::new();
    let mut file: Option<(String, String, Vec<u8>)> = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let msg = if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    format!("is larger than {} MB", s.carnet.max_upload_bytes / (1024 * 1024))
                } else {
                    "could not be read".to_string()
                };
                return Err(PageError::new(super::app_error_page(AppError::field("file", msg), Some(&v))));
            }
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_string();
                let ctype = field.content_type().unwrap_or("application/octet-stream").to_string();
                match field.bytes().await {
                    Ok(b) => file = Some((name, ctype, b.to_vec())),
                    Err(_) => {
                        let msg = format!("is larger than {} MB", s.carnet.max_upload_bytes / (1024 * 1024));
                        return Err(PageError::new(super::app_error_page(AppError::field("file", msg), Some(&v))));
                    }
                }
            }
            _ => {}
        }
    }
    checked_form(&v, vec![("csrf".into(), csrf)])?;
    v.require(Permission::Comment).or_page(&v)?;
    let cat = K::catalog(&s.carnet.db).await.or_page(&v)?;
    let card = K::card(&s.carnet.db, &cat, id).await.or_page(&v)?;
    let (name, ctype, bytes) = file.ok_or_else(|| AppError::field("file", "is required")).or_page(&v)?;
    attachments::save(
        &s.carnet,
        K::ENTITY,
        id,
        &K::card_name(&card),
        v.user.id,
        attachments::Upload {
            file_name: &name,
            content_type: &ctype,
            bytes: &bytes,
        },
    )
    .await
    .or_page(&v)?;
    Ok(see_other(&format!("/{}/{id}#attachments", K::PATH)))
}

/// Types a browser may show inline without risk; everything else downloads.
fn safe_type(t: &str) -> &str {
    match t {
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "application/pdf" | "text/plain" => t,
        _ => "application/octet-stream",
    }
}

pub async fn download(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    v.require(Permission::ReadRecords).or_page(&v)?;
    let a = attachments::get(&s.carnet.db, id).await.or_page(&v)?;
    let bytes = attachments::read(&s.carnet, &a).await.or_page(&v)?;
    let ascii: String = a
        .file_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' })
        .collect();
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        carnet_domain::values::url_encode(&a.file_name).replace('+', "%20")
    );
    Ok((
        [
            (header::CONTENT_TYPE, safe_type(&a.content_type).to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CONTENT_SECURITY_POLICY, "sandbox; default-src 'none'".to_string()),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

pub async fn delete_attachment(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    let a = attachments::get(&s.carnet.db, id).await.or_page(&v)?;
    if a.uploaded_by != Some(v.user.id) && !v.can(Permission::DeleteRecords) {
        return Err(PageError::new(super::app_error_page(AppError::Forbidden, Some(&v))));
    }
    attachments::delete(&s.carnet, id).await.or_page(&v)?;
    let path = if a.entity == "account" { "accounts" } else { "contacts" };
    Ok(see_other(&format!("/{path}/{}#attachments", a.record_id)))
}

// ---- links between accounts and contacts ----

async fn link(
    s: &AppState,
    v: &crate::auth::Viewer,
    account_id: i64,
    contact_id: Option<i64>,
    field: &str,
    role: &str,
) -> Result<(), PageError> {
    v.require(Permission::WriteContacts).or_page(v)?;
    let cat = settings::catalog(&s.carnet.db).await.or_page(v)?;
    let contact_id = contact_id
        .ok_or_else(|| AppError::field(field, "pick a record from the suggestions, or type its number"))
        .or_page(v)?;
    let role = match role.trim() {
        "" => None,
        r => Some(cat.resolve_role(r).map_err(|e| AppError::field("role", e)).or_page(v)?),
    };
    contacts::link(&s.carnet, &cat, &v.user, account_id, contact_id, role)
        .await
        .or_page(v)
}

pub async fn link_contact_to_account(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    link(&s, &v, id, parse_ref(input.one("contact")), "contact", input.one("role")).await?;
    Ok(see_other(&format!("/accounts/{id}")))
}

pub async fn link_account_to_contact(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    let account = parse_ref(input.one("account"))
        .ok_or_else(|| AppError::field("account", "pick an account from the suggestions, or type its number"))
        .or_page(&v)?;
    link(&s, &v, account, Some(id), "account", input.one("role")).await?;
    Ok(see_other(&format!("/contacts/{id}")))
}

pub async fn unlink_from_account(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path((id, other)): Path<(i64, i64)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    v.require(Permission::WriteContacts).or_page(&v)?;
    contacts::unlink(&s.carnet, id, other).await.or_page(&v)?;
    Ok(see_other(&format!("/accounts/{id}")))
}

pub async fn unlink_from_contact(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path((id, other)): Path<(i64, i64)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    v.require(Permission::WriteContacts).or_page(&v)?;
    contacts::unlink(&s.carnet, other, id).await.or_page(&v)?;
    Ok(see_other(&format!("/contacts/{id}")))
}
