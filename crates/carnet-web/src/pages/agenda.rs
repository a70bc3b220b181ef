//! The agenda (A2): day, week and month views of one's own diary and chosen
//! colleagues', coloured by action type, in the viewer's time zone; open tasks
//! that are overdue; planning an action for oneself or a colleague; moving and
//! resizing by drag and drop (`assets/app.js` posts the same move form a
//! keyboard user reaches through the action's edit page); closing an action;
//! in-app reminders.

use super::view::{Field, Group};
use super::{checked_form, render, render_status, see_other, Layout, OrPage, PageError, PageResult};
use crate::auth::{PageUser, Viewer};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Form, Router};
use carnet_app::agenda::{self, actions};
use carnet_app::{settings, AppError};
use carnet_domain::access::Permission;
use carnet_domain::agenda::{ActionDraft, ActionTypeDef, Outcome};
use carnet_domain::records::RawInput;
use carnet_domain::FieldErrors;
use chrono::{Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/agenda", get(agenda_page))
        .route("/agenda/actions", post(create))
        .route("/agenda/actions/{id}", get(edit).post(update))
        .route("/agenda/actions/{id}/move", post(move_action))
        .route("/agenda/actions/{id}/finish", post(finish))
        .route("/agenda/actions/{id}/delete", post(delete))
        .route("/reminders", get(reminders))
        .route("/reminders/{id}/dismiss", post(dismiss))
}

/// One action as the views show it.
pub struct Item {
    pub id: i64,
    pub time: String,
    pub subject: String,
    pub kind: String,
    pub color: String,
    pub record: Option<(String, String)>,
    pub closed: Option<String>,
    pub appointment: bool,
    /// Day view: minutes after local midnight, and length in minutes.
    pub start_min: i64,
    pub duration_min: i64,
    pub who: String,
}

impl Item {
    pub fn open(&self) -> bool {
        self.closed.is_none()
    }
}

pub struct Column {
    pub user_id: i64,
    pub user: String,
    /// Week: one list per day; day: one list (appointments) and the tasks.
    pub days: Vec<Vec<Item>>,
    pub tasks: Vec<Item>,
}

pub struct MonthCell {
    pub day: String,
    pub label: u32,
    pub in_month: bool,
    pub today: bool,
    pub items: Vec<Item>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Day,
    Week,
    Month,
}

impl View {
    fn parse(s: &str) -> Self {
        match s {
            "day" => View::Day,
            "month" => View::Month,
            _ => View::Week,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            View::Day => "day",
            View::Week => "week",
            View::Month => "month",
        }
    }
}

#[derive(Template)]
#[template(path = "agenda.html")]
struct AgendaPage {
    l: Layout,
    view: &'static str,
    period: String,
    date: String,
    days: Vec<(String, String, bool)>,
    columns: Vec<Column>,
    month: Vec<Vec<MonthCell>>,
    hours: Vec<String>,
    first_hour: i64,
    hour_px: i64,
    overdue: Vec<Item>,
    prev: String,
    next: String,
    today_link: String,
    view_links: Vec<(String, String, bool)>,
    users: Vec<(i64, String, bool)>,
    form: Vec<Group>,
    back: String,
    has_errors: bool,
}

/// Pixels per hour in the day view (the script uses the same figure).
pub const HOUR_PX: i64 = 48;

fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

fn local_midnight(tz: Tz, d: NaiveDate) -> i64 {
    carnet_domain::time::day_start(tz, d)
}

/// The local day an action falls on: an appointment's start, a task's due day.
fn day_of(a: &actions::Entry, tz: Tz) -> Option<NaiveDate> {
    match (a.starts_at, &a.due_date) {
        (Some(st), _) => Some(Utc.timestamp_opt(st, 0).unwrap().with_timezone(&tz).date_naive()),
        (None, Some(d)) => NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
        _ => None,
    }
}

fn item_of(a: &actions::Entry, types: &[ActionTypeDef], v: &Viewer) -> Item {
    let fmt = v.user.fmt();
    let tz = v.user.tz;
    let t = types.iter().find(|t| t.id == a.type_id);
    let (time, start_min) = match (a.starts_at, a.duration_min) {
        (Some(st), Some(d)) => {
            let from = Utc.timestamp_opt(st, 0).unwrap().with_timezone(&tz);
            let to = Utc.timestamp_opt(st + d * 60, 0).unwrap().with_timezone(&tz);
            (
                format!("{} – {}", from.format("%H:%M"), to.format("%H:%M")),
                (from.hour() * 60 + from.minute()) as i64,
            )
        }
        _ => (fmt.t("agenda.task").to_string(), 0),
    };
    Item {
        id: a.id,
        time,
        subject: a.subject.clone(),
        kind: t.map(|t| t.name.clone()).unwrap_or_default(),
        color: t.map(|t| t.color.clone()).unwrap_or("#6b7785".into()),
        record: a
            .opportunity_id
            .map(|id| format!("/opportunities/{id}"))
            .or(a.account_id.map(|id| format!("/accounts/{id}")))
            .map(|href| (href, a.record_name.clone().unwrap_or_default())),
        closed: a.outcome.as_ref().map(|o| fmt.t(&format!("agenda.outcome_{o}")).to_string()),
        appointment: a.starts_at.is_some(),
        start_min,
        duration_min: a.duration_min.unwrap_or(0),
        who: String::new(),
    }
}

struct Request<'a> {
    view: View,
    date: Option<&'a str>,
    users: &'a [i64],
}

fn parse_request(pairs: &[(String, String)]) -> (View, Option<&str>, Vec<i64>) {
    let get = |k: &str| pairs.iter().find(|(x, _)| x == k).map(|(_, v)| v.as_str());
    let users = pairs
        .iter()
        .filter(|(k, _)| k == "users")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    (View::parse(get("view").unwrap_or("week")), get("date").or(get("week")), users)
}

async fn agenda_view(s: &AppState, v: &Viewer, r: Request<'_>, draft: RawInput, errors: FieldErrors) -> PageResult {
    let fmt = v.user.fmt();
    let tz = v.user.tz;
    let db = &s.carnet.db;
    let today = db.clock().today_in(tz);
    // A date the calendar arithmetic below could overflow (chrono's limits) is
    // read like an unreadable one: today.
    let date = r
        .date
        .and_then(|w| NaiveDate::parse_from_str(w, "%Y-%m-%d").ok())
        .filter(|d| (1900..=9998).contains(&d.year()))
        .unwrap_or(today);
    // The days shown: one, a week from Monday, or the month's full weeks.
    let (start, n_days) = match r.view {
        View::Day => (date, 1),
        View::Week => (monday_of(date), 7),
        View::Month => {
            let first = date.with_day(1).unwrap();
            let next_month = first.checked_add_months(chrono::Months::new(1)).unwrap();
            let from = monday_of(first);
            let to = monday_of(next_month - Duration::days(1)) + Duration::days(7);
            (from, (to - from).num_days())
        }
    };
    let end = start + Duration::days(n_days);
    let cat = settings::catalog(db).await.or_page(v)?;
    let types = agenda::types(db).await.or_page(v)?;
    // At most 50 diaries side by side, each once.
    let mut chosen: Vec<i64> = Vec::new();
    for u in r.users {
        if !chosen.contains(u) && chosen.len() < 50 {
            chosen.push(*u);
        }
    }
    if chosen.is_empty() {
        chosen.push(v.user.id);
    }
    // Appointments from the first local midnight to the last; tasks are planned
    // at 00:00 UTC of their due day.
    let utc_midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
    let from = local_midnight(tz, start).min(utc_midnight(start));
    let to = local_midnight(tz, end).max(utc_midnight(end));
    let found = actions::diaries(db, &chosen, from, to, 20_000).await.or_page(v)?;
    let mut by_user: HashMap<i64, Vec<actions::Entry>> = HashMap::new();
    for a in found {
        if let Some(uid) = a.assignee_id {
            by_user.entry(uid).or_default().push(a);
        }
    }
    let all: Vec<(i64, Vec<actions::Entry>)> = chosen.iter().map(|uid| (*uid, by_user.remove(uid).unwrap_or_default())).collect();
    let overdue_list: Vec<actions::Entry> = actions::overdue(db, v.user.id, local_midnight(tz, today), 100)
        .await
        .or_page(v)?
        .into_iter()
        .filter(|a| day_of(a, tz).is_none_or(|d| d < today))
        .collect();
    let user_name = |uid: i64| cat.user(uid).map(|u| u.name.clone()).unwrap_or_default();
    let mut columns = Vec::new();
    let mut month_items: HashMap<NaiveDate, Vec<Item>> = HashMap::new();
    let (mut first_hour, mut last_hour) = (7, 20);
    for (uid, list) in &all {
        // Whose an item is, in a month of several diaries: the initials.
        let who: String = user_name(*uid).split_whitespace().filter_map(|w| w.chars().next()).collect();
        let mut days: Vec<Vec<Item>> = (0..n_days).map(|_| Vec::new()).collect();
        let mut tasks = Vec::new();
        for a in list {
            let Some(day) = day_of(a, tz) else { continue };
            let i = (day - start).num_days();
            if !(0..n_days).contains(&i) {
                continue;
            }
            let mut it = item_of(a, &types, v);
            match r.view {
                View::Month => {
                    it.who = who.clone();
                    month_items.entry(day).or_default().push(it)
                }
                View::Day if !it.appointment => tasks.push(it),
                _ => {
                    if it.appointment {
                        first_hour = first_hour.min(it.start_min / 60);
                        last_hour = last_hour.max(((it.start_min + it.duration_min + 59) / 60).min(24));
                    }
                    days[i as usize].push(it)
                }
            }
        }
        columns.push(Column {
            user_id: *uid,
            user: user_name(*uid),
            days,
            tasks,
        });
    }
    let month = if r.view == View::Month {
        (0..n_days / 7)
            .map(|w| {
                (0..7)
                    .map(|d| {
                        let day = start + Duration::days(w * 7 + d);
                        MonthCell {
                            day: day.to_string(),
                            label: day.day(),
                            in_month: day.month() == date.month(),
                            today: day == today,
                            items: month_items.remove(&day).unwrap_or_default(),
                        }
                    })
                    .collect()
            })
            .collect()
    } else {
        vec![]
    };
    let overdue = overdue_list.iter().map(|a| item_of(a, &types, v)).collect();
    let link = |view: View, d: NaiveDate| {
        let mut q = format!("/agenda?view={}&date={d}", view.as_str());
        for u in &chosen {
            q.push_str(&format!("&users={u}"));
        }
        q
    };
    let (prev, next) = match r.view {
        View::Day => (date - Duration::days(1), date + Duration::days(1)),
        View::Week => (date - Duration::days(7), date + Duration::days(7)),
        View::Month => {
            let first = date.with_day(1).unwrap();
            (
                first.checked_sub_months(chrono::Months::new(1)).unwrap(),
                first.checked_add_months(chrono::Months::new(1)).unwrap(),
            )
        }
    };
    let period = match r.view {
        View::Day => fmt.date(date),
        View::Week => format!("{} – {}", fmt.date(start), fmt.date(end - Duration::days(1))),
        View::Month => format!("{} {}", fmt.t(&format!("month.{}", date.month())), date.year()),
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
            f("type", "field.kind", "select").options(none_type.chain(type_options(&types, &fmt)).collect()),
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
            f("remind", "agenda.remind", "select").options(remind_options(&fmt)),
            f("account", "field.account", "text"),
        ],
    }];
    let page = AgendaPage {
        view: r.view.as_str(),
        period,
        date: date.to_string(),
        days: (0..n_days.min(7))
            .map(|i| {
                let d = start + Duration::days(i);
                (fmt.date(d), d.to_string(), d == today)
            })
            .collect(),
        columns,
        month,
        hours: (first_hour..last_hour).map(|h| format!("{h:02}:00")).collect(),
        first_hour,
        hour_px: HOUR_PX,
        overdue,
        prev: link(r.view, prev),
        next: link(r.view, next),
        today_link: link(r.view, today),
        view_links: [View::Day, View::Week, View::Month]
            .into_iter()
            .map(|x| {
                (
                    link(x, date),
                    fmt.t(&format!("agenda.view_{}", x.as_str())).to_string(),
                    x == r.view,
                )
            })
            .collect(),
        users: cat
            .users
            .iter()
            .filter(|u| u.active)
            .map(|u| (u.id, u.name.clone(), chosen.contains(&u.id)))
            .collect(),
        form,
        back: link(r.view, date),
        has_errors: !errors.is_empty(),
        l: Layout::new(v, fmt.t("nav.agenda"), "agenda"),
    };
    Ok(if errors.is_empty() {
        render(&page)
    } else {
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    })
}

fn type_options<'a>(types: &'a [ActionTypeDef], fmt: &'a carnet_domain::i18n::Fmt) -> impl Iterator<Item = (String, String)> + 'a {
    types.iter().map(|t| {
        (
            t.id.to_string(),
            format!("{} ({})", t.name, fmt.t(&format!("agenda.kind_{}", t.kind))),
        )
    })
}

fn remind_options(fmt: &carnet_domain::i18n::Fmt) -> Vec<(String, String)> {
    [
        ("", "agenda.remind_none"),
        ("0", "agenda.remind_0"),
        ("10", "agenda.remind_10"),
        ("30", "agenda.remind_30"),
        ("60", "agenda.remind_60"),
        ("1440", "agenda.remind_1440"),
    ]
    .iter()
    .map(|(v, k)| (v.to_string(), fmt.t(k).to_string()))
    .collect()
}

async fn agenda_page(State(s): State<AppState>, PageUser(v): PageUser, Query(pairs): Query<Vec<(String, String)>>) -> PageResult {
    let (view, date, users) = parse_request(&pairs);
    let r = Request { view, date, users: &users };
    agenda_view(&s, &v, r, RawInput::default(), FieldErrors::new()).await
}

/// Where to go back to after a form: an agenda page, or the agenda.
fn back_of(input: &mut RawInput) -> String {
    let back = input.one("back").to_string();
    input.0.remove("back");
    input.0.remove("csrf");
    if (back.starts_with("/agenda") || back.starts_with("/reminders")) && super::local_path(&back).is_some() {
        back
    } else {
        "/agenda".into()
    }
}

/// Keeps only what the action's type needs: a start for an appointment, a due
/// date for a task.
fn fit_to_type(input: &mut RawInput, types: &[ActionTypeDef]) {
    let is_task = types.iter().any(|t| t.id.to_string() == input.one("type") && t.kind == "task");
    if is_task {
        input.0.remove("starts_at");
        input.0.remove("duration");
    } else {
        input.0.remove("due_date");
    }
    input.0.retain(|_, vals| vals.iter().any(|x| !x.trim().is_empty()));
}

async fn create(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    let mut input = checked_form(&v, pairs)?;
    v.require(Permission::Comment).or_page(&v)?;
    let back = back_of(&mut input);
    let types = agenda::types(&s.carnet.db).await.or_page(&v)?;
    fit_to_type(&mut input, &types);
    let cat = settings::catalog(&s.carnet.db).await.or_page(&v)?;
    let r = Request {
        view: View::Week,
        date: None,
        users: &[],
    };
    match ActionDraft::parse(&input, &cat, &types, v.user.tz, s.carnet.db.now(), &[]) {
        Ok(d) => match actions::create(&s.carnet.db, &v.user, &d).await {
            Ok(_) => Ok(see_other(&back)),
            Err(AppError::Invalid(e)) => agenda_view(&s, &v, r, input, e).await,
            Err(e) => Err(PageError::new(super::app_error_page(e, Some(&v)))),
        },
        Err(e) => agenda_view(&s, &v, r, input, e).await,
    }
}

#[derive(Template)]
#[template(path = "action.html")]
struct ActionPage {
    l: Layout,
    id: i64,
    open: bool,
    appointment: bool,
    closed: Option<String>,
    form: Vec<Group>,
    has_errors: bool,
    back: String,
    ics: String,
}

async fn edit_page(s: &AppState, v: &Viewer, id: i64, input: Option<RawInput>, errors: FieldErrors, back: &str) -> PageResult {
    let db = &s.carnet.db;
    let fmt = v.user.fmt();
    let a = actions::get(db, id).await.or_page(v)?;
    let cat = settings::catalog(db).await.or_page(v)?;
    let types = agenda::types(db).await.or_page(v)?;
    let input = input.unwrap_or_else(|| actions::to_raw(&a, v.user.tz));
    let f = |n: &str, k: &str, kind: &'static str| Field::new(n, fmt.t(k), kind, &input, &errors);
    let mut fields = vec![
        f("type", "field.kind", "select").options(type_options(&types, &fmt).collect()),
        f("subject", "agenda.subject", "text").required(true),
        f("assignee", "agenda.assignee", "select").options(
            cat.users
                .iter()
                .filter(|u| u.active || Some(u.id) == a.assignee_id)
                .map(|u| (u.id.to_string(), u.name.clone()))
                .collect(),
        ),
    ];
    if a.starts_at.is_some() {
        fields.push(f("starts_at", "agenda.starts_at", "datetime-local").hint(fmt.t("agenda.starts_hint")));
        fields.push(f("duration", "agenda.duration", "number"));
    } else {
        fields.push(f("due_date", "agenda.due_date", "date"));
    }
    fields.extend([
        f("remind", "agenda.remind", "select").options(remind_options(&fmt)),
        f("invite", "agenda.invite", "checkbox"),
        f("notes", "field.notes", "textarea"),
        f("account", "field.account", "text"),
        f("contact", "field.contact", "text"),
        f("opportunity", "field.opportunity", "text"),
    ]);
    let page = ActionPage {
        id,
        open: a.outcome.is_none(),
        appointment: a.starts_at.is_some(),
        closed: a.outcome.as_ref().map(|o| fmt.t(&format!("agenda.outcome_{o}")).to_string()),
        form: vec![Group {
            title: a.subject.clone(),
            fields,
        }],
        has_errors: !errors.is_empty(),
        back: back.to_string(),
        ics: format!("/agenda/actions/{id}/event.ics"),
        l: Layout::new(v, a.subject.clone(), "agenda"),
    };
    Ok(if errors.is_empty() {
        render(&page)
    } else {
        render_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
    })
}

#[derive(serde::Deserialize)]
struct Back {
    back: Option<String>,
}

async fn edit(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Query(b): Query<Back>,
    headers: axum::http::HeaderMap,
) -> PageResult {
    // Back to the agenda page it was opened from (given, or the referring page).
    let referer = headers
        .get(axum::http::header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.find("/agenda").map(|i| r[i..].to_string()));
    let back = b
        .back
        .or(referer)
        .filter(|x| x.starts_with("/agenda") && !x.starts_with("/agenda/actions"))
        .unwrap_or("/agenda".into());
    edit_page(&s, &v, id, None, FieldErrors::new(), &back).await
}

/// Saves an action from its edit form, or from a drag and drop (only the
/// fields that changed). A closed action cannot be changed.
async fn save(s: &AppState, v: &Viewer, id: i64, mut input: RawInput) -> PageResult {
    v.require(Permission::Comment).or_page(v)?;
    let back = back_of(&mut input);
    let db = &s.carnet.db;
    let cur = actions::get(db, id).await.or_page(v)?;
    if cur.outcome.is_some() {
        return Err(AppError::field("outcome", "a closed action cannot be changed")).or_page(v);
    }
    let types = agenda::types(db).await.or_page(v)?;
    let cat = settings::catalog(db).await.or_page(v)?;
    fit_to_type(&mut input, &types);
    match ActionDraft::parse(&input, &cat, &types, v.user.tz, s.carnet.db.now(), &[]) {
        Ok(d) => match actions::update(db, &v.user, id, &d).await {
            Ok(()) => Ok(see_other(&back)),
            Err(AppError::Invalid(e)) => edit_page(s, v, id, Some(input), e, &back).await,
            Err(e) => Err(PageError::new(super::app_error_page(e, Some(v)))),
        },
        Err(e) => edit_page(s, v, id, Some(input), e, &back).await,
    }
}

async fn update(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    save(&s, &v, id, input).await
}

/// A drag and drop: a new day (same time of day), a new start or length, or a
/// colleague's diary. Overlaid on the action as it is.
async fn move_action(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let input = checked_form(&v, pairs)?;
    let a = actions::get(&s.carnet.db, id).await.or_page(&v)?;
    let mut raw = actions::to_raw(&a, v.user.tz);
    raw.set("back", input.one("back"));
    let day = input.one("day").trim();
    if !day.is_empty() {
        match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(d) if a.starts_at.is_some() => {
                let time = raw.one("starts_at").get(11..).unwrap_or("09:00").to_string();
                raw.set("starts_at", format!("{d}T{time}"));
            }
            Ok(d) => raw.set("due_date", d.to_string()),
            Err(_) => return Err(AppError::field("day", "must be a date (YYYY-MM-DD)")).or_page(&v),
        }
    }
    for k in ["starts_at", "duration", "assignee"] {
        if !input.one(k).trim().is_empty() {
            raw.set(k, input.one(k));
        }
    }
    save(&s, &v, id, raw).await
}

async fn finish(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let mut input = checked_form(&v, pairs)?;
    v.require(Permission::Comment).or_page(&v)?;
    let outcome = Outcome::parse(input.one("outcome"))
        .map_err(|e| AppError::field("outcome", e))
        .or_page(&v)?;
    actions::finish(&s.carnet.db, &v.user, id, outcome, None).await.or_page(&v)?;
    Ok(see_other(&back_of(&mut input)))
}

async fn delete(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    let mut input = checked_form(&v, pairs)?;
    v.require(Permission::Comment).or_page(&v)?;
    actions::delete(&s.carnet.db, &v.user, id).await.or_page(&v)?;
    Ok(see_other(&back_of(&mut input)))
}

#[derive(Template)]
#[template(path = "reminders.html")]
struct RemindersPage {
    l: Layout,
    items: Vec<(Item, String)>,
}

async fn reminders(State(s): State<AppState>, PageUser(v): PageUser) -> PageResult {
    let db = &s.carnet.db;
    let due = actions::due_reminder_entries(db, v.user.id, s.carnet.db.now()).await.or_page(&v)?;
    let types = agenda::types(db).await.or_page(&v)?;
    let fmt = v.user.fmt();
    let items = due
        .iter()
        .map(|a| {
            let when = match (a.starts_at, &a.due_date) {
                (Some(t), _) => fmt.datetime(t),
                (None, Some(d)) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map(|d| fmt.date(d)).unwrap_or_default(),
                _ => String::new(),
            };
            (item_of(a, &types, &v), when)
        })
        .collect();
    Ok(render(&RemindersPage {
        items,
        l: Layout::new(&v, fmt.t("agenda.reminders"), "agenda"),
    }))
}

async fn dismiss(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    checked_form(&v, pairs)?;
    actions::dismiss_reminder(&s.carnet.db, v.user.id, id).await.or_page(&v)?;
    Ok(see_other("/reminders"))
}
