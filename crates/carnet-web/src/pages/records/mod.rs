//! Record pages, written once for accounts, contacts and opportunities through
//! [`PageKind`]: the list (filters, sort, saved views, CSV export: `list`), the
//! card (details, links, timeline, comments, attachments: `card`), the create
//! and edit form with the duplicate warning and the version check (`form`), and
//! links between accounts and contacts (`links`). Each kind's page parts live
//! with it: `account_kind`, `contact_kind`, and the opportunities' with the sales
//! pages (`sales::opportunity_kind`).

mod account_kind;
mod card;
mod contact_kind;
mod form;
mod links;
mod list;

use card::*;
pub use card::{delete_attachment, download, upload};
pub(crate) use form::form_page;
use form::*;
pub use links::{link_account_to_contact, link_contact_to_account, unlink_from_account, unlink_from_contact};
use list::*;

use crate::auth::PageUser;
use crate::kinds::{parse_ref, Accounts, Contacts, Kind};
use crate::pages::view::{self, apply_rules, custom_fields, entry_view, human_size, tag_fields, Badge, EntryView, Field, Group};
use crate::pages::{checked_form, render, render_status, see_other, Layout, OrPage, PageError, PageResult};
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
use carnet_app::sales::opportunities::{self};
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
    pub(crate) fn text(t: impl Into<String>) -> Self {
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

/// Adds the custom fields and marks what mandatory rules require.
pub(crate) fn finish_groups(
    mut groups: Vec<Group>,
    cat: &Catalog,
    entity: Entity,
    input: &RawInput,
    e: &FieldErrors,
    fmt: &Fmt,
) -> Vec<Group> {
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

pub(crate) fn text_field(name: &str, key: &str, kind: &'static str, input: &RawInput, errors: &FieldErrors, fmt: &Fmt) -> Field {
    Field::new(name, fmt.t(key), kind, input, errors)
}

pub(crate) fn tag_badges(cat: &Catalog, ids: &[i64]) -> Vec<Badge> {
    ids.iter()
        .filter_map(|id| cat.tag(*id))
        .map(|(_, t)| Badge {
            text: t.name.clone(),
            color: t.color.clone(),
        })
        .collect()
}

pub(crate) fn owner_name(cat: &Catalog, id: Option<i64>) -> String {
    id.and_then(|i| cat.user(i)).map(|u| u.name.clone()).unwrap_or_default()
}

pub(crate) fn custom_details(cat: &Catalog, entity: Entity, ex: &Extras, fmt: &Fmt) -> Vec<Detail> {
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

pub(crate) fn detail(fmt: &Fmt, key: &str, v: &Option<String>, href: Option<String>) -> Option<Detail> {
    v.as_ref().filter(|s| !s.is_empty()).map(|s| Detail {
        label: fmt.t(key).into(),
        value: s.clone(),
        href,
    })
}

pub(crate) fn csv_tags(cat: &Catalog, ex: &Extras) -> String {
    ex.tag_ids
        .iter()
        .filter_map(|id| cat.tag(*id))
        .map(|(c, t)| format!("{}/{}", c.name, t.name))
        .collect::<Vec<_>>()
        .join("; ")
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
        .route(&format!("/{p}/{{id}}/email"), post(card::send_email::<K>))
        .route(&format!("/{p}/{{id}}/comments/{{entry}}/delete"), post(delete_comment::<K>))
}
