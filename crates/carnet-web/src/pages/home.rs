//! The home page (the company news feed, R9) and global search (R10).

use super::view::{entry_view, EntryView};
use super::{render, Layout, OrPage, PageResult};
use crate::auth::PageUser;
use crate::AppState;
use askama::Template;
use axum::extract::{Query, State};
use carnet_app::records::search::{self, Hit};
use carnet_app::records::timeline;
use carnet_domain::access::Permission;
use carnet_domain::fields::Entity;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    l: Layout,
    entries: Vec<EntryView>,
    kinds: Vec<(String, String, bool)>,
    kind: String,
    older_href: Option<String>,
    strip: super::analysis::Strip,
    rep: Option<i64>,
}

#[derive(serde::Deserialize)]
pub struct FeedParams {
    kind: Option<String>,
    before: Option<i64>,
    period: Option<String>,
    rep: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

const PAGE: i64 = 40;

pub async fn home(State(s): State<AppState>, PageUser(v): PageUser, Query(p): Query<FeedParams>) -> PageResult {
    let kind = p.kind.filter(|k| timeline::KINDS.contains(&k.as_str())).unwrap_or_default();
    let kinds = if kind.is_empty() { vec![] } else { vec![kind.clone()] };
    let entries = timeline::feed(&s.carnet.db, &kinds, p.before, PAGE).await.or_page(&v)?;
    let fmt = v.user.fmt();
    let older_href = (entries.len() as i64 == PAGE).then(|| {
        let last = entries.last().map(|e| e.id).unwrap_or(0);
        if kind.is_empty() {
            format!("/?before={last}")
        } else {
            format!("/?kind={kind}&before={last}")
        }
    });
    let admin = v.can(Permission::ManageSettings);
    let l = Layout::new(&v, fmt.t("home.title"), "home");
    let kinds = timeline::KINDS
        .iter()
        .map(|k| (k.to_string(), fmt.t(&format!("kind.{k}")).to_string(), *k == kind))
        .collect();
    let mut pairs = Vec::new();
    if let Some(p) = &p.period {
        pairs.push(("period".to_string(), p.clone()));
    }
    for (k, val) in [("rep", &p.rep), ("from", &p.from), ("to", &p.to)] {
        if let Some(x) = val {
            pairs.push((k.to_string(), x.clone()));
        }
    }
    let strip = super::analysis::strip(&s, &v, &pairs).await.or_page(&v)?;
    Ok(render(&HomePage {
        rep: strip.reps.iter().find(|x| x.2).map(|x| x.0),
        strip,
        entries: entries.iter().map(|e| entry_view(e, &fmt, v.user.id, admin)).collect(),
        kinds,
        kind,
        older_href,
        l,
    }))
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    l: Layout,
    q: String,
    hits: Vec<(String, String, Option<String>, &'static str)>,
}

#[derive(serde::Deserialize)]
pub struct SearchParams {
    q: Option<String>,
}

pub async fn search(State(s): State<AppState>, PageUser(v): PageUser, Query(p): Query<SearchParams>) -> PageResult {
    let q: String = p.q.unwrap_or_default().chars().take(200).collect();
    let hits: Vec<Hit> = if q.trim().is_empty() {
        vec![]
    } else {
        search::search(&s.carnet.db, &q, 50).await.or_page(&v)?
    };
    let fmt = v.user.fmt();
    let hits = hits
        .into_iter()
        .map(|h| match h.entity {
            Entity::Account => (format!("/accounts/{}", h.id), h.name, h.detail, "nav.accounts"),
            Entity::Contact => (format!("/contacts/{}", h.id), h.name, h.detail, "nav.contacts"),
            Entity::Opportunity => (format!("/opportunities/{}", h.id), h.name, h.detail, "nav.opportunities"),
        })
        .collect();
    Ok(render(&SearchPage {
        l: Layout::new(&v, fmt.t("search.title"), "search"),
        q,
        hits,
    }))
}
