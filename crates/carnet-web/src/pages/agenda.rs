//! The agenda (A2), week view: one's own diary and chosen colleagues' side by
//! side, coloured by action type, in the viewer's time zone; open tasks that are
//! overdue; planning an action for oneself or a colleague; closing one.

use super::view::{Field, Group};
use super::{checked_form, render, render_status, see_other, Layout, OrPage, PageError, PageResult};
use crate::auth::PageUser;
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Router};
use carnet_app::agenda::{self, actions};
use carnet_app::{settings, AppError};
use carnet_domain::access::Permission;
use carnet_domain::agenda::{ActionDraft, Outcome};
use carnet_domain::records::RawInput;
use carnet_domain::FieldErrors;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agenda", get(week))
        .route("/agenda/actions", post(create))
        .route("/agenda/actions/{id}/finish", post(finish))
}

pub struct Item {
    pub time: String,
    pub subject: String,
    pub kind: String,
    pub color: String,
    pub record: Option<(String, String)>,
    pub closed: Option<String>,
    pub finish_action: String,
    pub appointment: bool,
}

pub struct Row {
    pub user: String,
    pub days: Vec<Vec<Item>>,
}

#[derive(Template)]
#[template(path = "agenda.html")]
struct WeekPage {
    l: Layout,
    days: Vec<(String, bool)>,
    rows: Vec<Row>,
    overdue: Vec<Item>,
    prev: String,
    next: String,
    users: Vec<(i64, String, bool)>,
    form: Vec<Group>,
    back: String,
    has_errors: bool,
}

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

async fn week_page(
    s: &AppState,
    v: &crate::auth::Viewer,
    week: Option<&str>,
    users: &[i64],
    draft: RawInput,
    errors: FieldErrors,
) -> Result<axum::response::Response, PageError> {
    let fmt = v.user.fmt();
    let tz = v.user.tz;
    let today = Utc::now().with_timezone(&tz).date_naive();
    let start = monday_of(week.and_then(|w| NaiveDate::parse_from_str(w, "%Y-%m-%d").ok()).unwrap_or(today));
    let local_midnight = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap())
            .earliest()
            .map(|t| t.timestamp())
            .unwrap_or(0)
    };
    let cat = settings::catalog(&s.carnet.db).await.or_page(v)?;
    let types = agenda::types(&s.carnet.db).await.or_page(v)?;
    let chosen: Vec<i64> = if users.is_empty() { vec![v.user.id] } else { users.to_vec() };
    let db = &s.carnet.db;
    // Accounts' names for the record links.
    let mut rows = Vec::new();
    let item_of = |a: &actions::Action, names: &std::collections::HashMap<i64, String>| -> Item {
        let t = types.iter().find(|t| t.id == a.type_id);
        let time = match (a.starts_at, a.duration_min) {
            (Some(st), Some(d)) => {
                let from = Utc.timestamp_opt(st, 0).unwrap().with_timezone(&tz);
                let to = Utc.timestamp_opt(st + d * 60, 0).unwrap().with_timezone(&tz);
                format!("{} – {}", from.format("%H:%M"), to.format("%H:%M"))
            }
            _ => fmt.t("agenda.task").to_string(),
        };
        Item {
            time,
            subject: a.subject.clone(),
            kind: t.map(|t| t.name.clone()).unwrap_or_default(),
            color: t.map(|t| t.color.clone()).unwrap_or("#6b7785".into()),
            record: a
                .opportunity_id
                .map(|id| (format!("/opportunities/{id}"), names.get(&-id).cloned().unwrap_or_default()))
                .or(a
                    .account_id
                    .map(|id| (format!("/accounts/{id}"), names.get(&id).cloned().unwrap_or_default()))),
            closed: a.outcome.as_ref().map(|o| fmt.t(&format!("agenda.outcome_{o}")).to_string()),
            finish_action: format!("/agenda/actions/{}/finish", a.id),
            appointment: a.starts_at.is_some(),
        }
    };
    let mut all = Vec::new();
    for uid in &chosen {
        let f = actions::ActionFilter {
            assignee: Some(*uid),
            from: Some(local_midnight(start)),
            to: Some(local_midnight(start + Duration::days(7))),
            record: None,
            open_only: false,
            limit: 1000,
        };
        // Tasks are planned at 00:00 UTC of their day: widen the window by a day each side.
        let wide = actions::ActionFilter {
            from: f.from.map(|t| t - 86_400),
            to: f.to.map(|t| t + 86_400),
            ..f
        };
        all.push((*uid, actions::list(db, &wide).await.or_page(v)?));
    }
    let overdue_list: Vec<actions::Action> = actions::list(
        db,
        &actions::ActionFilter {
            assignee: Some(v.user.id),
            from: None,
            to: Some(local_midnight(today)),
            record: None,
            open_only: true,
            limit: 100,
        },
    )
    .await
    .or_page(v)?
    .into_iter()
    .filter(|a| {
        a.due_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map(|d| d < today)
            .unwrap_or(true)
    })
    .collect();
    // Names of the linked records: accounts by id, opportunities by -id.
    let linked = || all.iter().flat_map(|(_, l)| l.iter()).chain(overdue_list.iter());
    let account_ids: Vec<i64> = linked().filter_map(|a| a.account_id).collect();
    let opportunity_ids: Vec<i64> = linked().filter_map(|a| a.opportunity_id).collect();
    let mut names = carnet_app::records::names(db, "accounts", &account_ids).await.or_page(v)?;
    names.extend(
        carnet_app::records::names(db, "opportunities", &opportunity_ids)
            .await
            .or_page(v)?
            .into_iter()
            .map(|(id, n)| (-id, n)),
    );
    for (uid, list) in &all {
        let mut days: Vec<Vec<Item>> = (0..7).map(|_| Vec::new()).collect();
        for a in list {
            let day = match (a.starts_at, &a.due_date) {
                (Some(st), _) => Utc.timestamp_opt(st, 0).unwrap().with_timezone(&tz).date_naive(),
                (None, Some(d)) => NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap_or(start),
                _ => continue,
            };
            let i = (day - start).num_days();
            if (0..7).contains(&i) {
                days[i as usize].push(item_of(a, &names));
            }
        }
        rows.push(Row {
            user: cat.user(*uid).map(|u| u.name.clone()).unwrap_or_default(),
            days,
        });
    }
    let overdue = overdue_list.iter().map(|a| item_of(a, &names)).collect();
    let week_q = |d: NaiveDate| {
        let mut q = format!("/agenda?week={d}");
        for u in &chosen {
            q.push_str(&format!("&users={u}"));
        }
        q
    };
    let none_type = std::iter::once((String::new(), "—".to_string()));
    let mut draft = draft;
    if !draft.has("assignee") {
        draft.set("assignee", v.user.id.to_string());
    }
    let f = |n: &str, k: &str, kind: &'static str| Field::new(n, fmt.t(k), kind, &draft, &errors);
    let form = vec![Group {
        title: fmt.t("agenda.plan").into(),
        fields: vec![
            f("type", "field.kind", "select").options(
                none_type
                    .chain(types.iter().map(|t| {
                        (
                            t.id.to_string(),
                            format!("{} ({})", t.name, fmt.t(&format!("agenda.kind_{}", t.kind))),
                        )
                    }))
                    .collect(),
            ),
            f("subject", "agenda.subject", "text").required(true),
            f("assignee", "agenda.assignee", "select").options(
                cat.users
                    .iter()
                    .filter(|u| u.active)
                    .map(|u| (u.id.to_string(), u.name.clone()))
                    .collect(),
            ),
            f("starts_at", "agenda.starts_at", "datetime-local").hint(fmt.t("agenda.starts_hint")),
            f("duration", "agenda.duration", "number"),
            f("due_date", "agenda.due_date", "date"),
            f("account", "field.account", "text"),
        ],
    }];
    let page = WeekPage {
        days: (0..7)
            .map(|i| (fmt.date(start + Duration::days(i)), start + Duration::days(i) == today))
            .collect(),
        rows,
        overdue,
        prev: week_q(start - Duration::days(7)),
        next: week_q(start + Duration::days(7)),
        users: cat
            .users
            .iter()
            .filter(|u| u.active)
            .map(|u| (u.id, u.name.clone(), chosen.contains(&u.id)))
            .collect(),
        form,
        back: week_q(start),
        has_errors: !errors.is_empty(),
        l: Layout::new(v, fmt.t("nav.agenda"), "agenda"),
    };
    Ok(if errors.is_empty() {
        render(&page)
    } else {
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    })
}

async fn week(State(s): State<AppState>, PageUser(v): PageUser, Query(pairs): Query<Vec<(String, String)>>) -> PageResult {
    let week = pairs.iter().find(|(k, _)| k == "week").map(|(_, v)| v.as_str());
    let users: Vec<i64> = pairs
        .iter()
        .filter(|(k, _)| k == "users")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    week_page(&s, &v, week, &users, RawInput::default(), FieldErrors::new()).await
}

async fn create(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    let mut input = checked_form(&v, pairs)?;
    v.require(Permission::Comment).or_page(&v)?;
    let back = input.one("back").to_string();
    input.0.remove("back");
    let back = if back.starts_with("/agenda") { back } else { "/agenda".into() };
    // An appointment's start, or a task's due date: whichever the type needs.
    let types = agenda::types(&s.carnet.db).await.or_page(&v)?;
    let is_task = types.iter().any(|t| t.id.to_string() == input.one("type") && t.kind == "task");
    if is_task {
        input.0.remove("starts_at");
        input.0.remove("duration");
    } else {
        input.0.remove("due_date");
    }
    input.0.retain(|_, vals| vals.iter().any(|x| !x.trim().is_empty()));
    let cat = settings::catalog(&s.carnet.db).await.or_page(&v)?;
    match ActionDraft::parse(&input, &cat, &types, v.user.tz, &[]) {
        Ok(d) => match actions::create(&s.carnet.db, &v.user, &d).await {
            Ok(_) => Ok(see_other(&back)),
            Err(AppError::Invalid(e)) => week_page(&s, &v, None, &[], input, e).await,
            Err(e) => Err(PageError::new(super::app_error_page(e, Some(&v)))),
        },
        Err(e) => week_page(&s, &v, None, &[], input, e).await,
    }
}

async fn finish(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    v.require(Permission::Comment).or_page(&v)?;
    let outcome = Outcome::parse(input.one("outcome"))
        .map_err(|e| AppError::field("outcome", e))
        .or_page(&v)?;
    actions::finish(&s.carnet.db, &v.user, id, outcome, None).await.or_page(&v)?;
    let back = input.one("back");
    Ok(see_other(if back.starts_with("/agenda") { back } else { "/agenda" }))
}
