//! List views (R10): filters on standard and custom fields, tags, status, owner
//! and dates; sorting; keyset pagination with an opaque cursor, so the tenth
//! page costs what the first does.

use crate::db::{q, Db, Rec, Q};
use crate::error::{AppError, Result};
use base64::Engine;
use carnet_domain::fields::{parse_value, Entity, FieldKind, FieldValue};
use carnet_domain::i18n::parse_time_zone;
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::search::prefix_upper_bound;
use carnet_domain::FieldErrors;
use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortKey {
    Name,
    Created,
    Updated,
    Custom { field_id: i64, numeric: bool },
}

#[derive(Debug, Clone, PartialEq)]
enum CustomOp {
    Eq,
    Min,
    Max,
}

#[derive(Debug, Clone)]
struct CustomFilter {
    field_id: i64,
    op: CustomOp,
    text: Option<String>,
    num: Option<f64>,
    case_insensitive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(untagged)]
enum CursorValue {
    Int(i64),
    Float(f64),
    Text(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cursor {
    v: CursorValue,
    id: i64,
}

/// A parsed list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub entity: Entity,
    /// Words of `q`: each must start a token of the record (a word of its
    /// name, its email, phone, identifiers, tags), as in the global search.
    words: Vec<String>,
    statuses: Vec<i64>,
    owners: Vec<Option<i64>>,
    tags: Vec<i64>,
    created: (Option<i64>, Option<i64>),
    updated: (Option<i64>, Option<i64>),
    equals: Vec<(&'static str, String)>,
    refs: Vec<(&'static str, Vec<i64>)>,
    custom: Vec<CustomFilter>,
    pub sort: SortKey,
    pub desc: bool,
    after: Option<Cursor>,
    pub limit: i64,
}

/// Standard text fields a list can filter on by equality, per entity.
fn text_filters(e: Entity) -> &'static [&'static str] {
    match e {
        Entity::Account => &["city", "country", "postal_code", "source", "email", "company_id"],
        Entity::Contact => &["city", "country", "postal_code", "source", "email", "job_title"],
        Entity::Opportunity => &["status"],
    }
}

/// Reference filters of opportunities: parameter → column (ids, several allowed).
const OPPORTUNITY_REFS: &[(&str, &str)] = &[
    ("pipeline", "pipeline_id"),
    ("stage", "stage_id"),
    ("account", "account_id"),
    ("source", "source_id"),
    ("offer", "offer_id"),
];

/// The keys a list request may carry besides `cf.*` filters.
pub const LIST_KEYS: &[&str] = &[
    "q",
    "status",
    "owner",
    "tag",
    "created_from",
    "created_to",
    "updated_from",
    "updated_to",
    "sort",
    "after",
    "limit",
    "view",
];

fn day_start(d: NaiveDate, tz: Tz) -> i64 {
    carnet_domain::time::day_start(tz, d)
}

fn date(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| "must be a date (YYYY-MM-DD)".to_string())
}

impl ListQuery {
    /// Parses list parameters; dates are days in the viewer's time zone.
    pub fn parse(entity: Entity, input: &RawInput, cat: &Catalog, tz: Tz) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        // What reaches SQL is checked as the write paths check it: no NUL or
        // other control characters, no values longer than a long text.
        for (k, values) in &input.0 {
            if values.iter().any(|v| v.chars().any(char::is_control)) {
                e.add(k.clone(), "must not contain control characters");
            } else if values.iter().any(|v| v.chars().count() > carnet_domain::values::MAX_LONG_TEXT) {
                e.add(
                    k.clone(),
                    format!("must be at most {} characters", carnet_domain::values::MAX_LONG_TEXT),
                );
            }
        }
        if !e.is_empty() {
            return Err(e);
        }
        let text_keys = text_filters(entity);
        for k in input.0.keys() {
            let known = LIST_KEYS.contains(&k.as_str())
                || text_keys.contains(&k.as_str())
                || (entity == Entity::Opportunity && OPPORTUNITY_REFS.iter().any(|(p, _)| p == k))
                || k.strip_prefix("cf.").is_some_and(|rest| {
                    let key = rest.trim_end_matches(".min").trim_end_matches(".max");
                    cat.fields_for(entity).any(|f| f.key == key)
                });
            if !known {
                e.add(k.clone(), "is not a filter of this list");
            }
        }
        let words = carnet_domain::search::query_terms(input.one("q"));
        let mut statuses = Vec::new();
        if entity == Entity::Account {
            for s in input.all("status").iter().filter(|s| !s.trim().is_empty()) {
                if let Some(id) = e.check("status", cat.resolve_status(s)) {
                    statuses.push(id);
                }
            }
        } else if entity == Entity::Contact && !input.all("status").iter().all(|s| s.trim().is_empty()) {
            e.add("status", "only accounts have a status");
        } else if entity == Entity::Opportunity && !["", "open", "won", "lost"].contains(&input.one("status")) {
            e.add("status", "must be open, won or lost");
        }
        let mut refs = Vec::new();
        if entity == Entity::Opportunity {
            for (param, col) in OPPORTUNITY_REFS {
                let ids: Vec<i64> = input
                    .all(param)
                    .iter()
                    .filter(|v| !v.trim().is_empty())
                    .filter_map(|v| e.check(param, v.trim().parse::<i64>().map_err(|_| "must be an id".to_string())))
                    .collect();
                if !ids.is_empty() {
                    refs.push((*col, ids));
                }
            }
        }
        let mut owners = Vec::new();
        for o in input.all("owner").iter().filter(|s| !s.trim().is_empty()) {
            if o == "none" {
                owners.push(None);
            } else if let Some(id) = e.check("owner", cat.resolve_user(o)) {
                owners.push(Some(id));
            }
        }
        let mut tags = Vec::new();
        for t in input.all("tag").iter().filter(|s| !s.trim().is_empty()) {
            if let Some(id) = e.check("tag", cat.resolve_tag(t)) {
                tags.push(id);
            }
        }
        let mut range = |from: &str, to: &str| {
            let f = Some(input.one(from))
                .filter(|s| !s.is_empty())
                .and_then(|s| e.check(from, date(s)))
                .map(|d| day_start(d, tz));
            let t = Some(input.one(to))
                .filter(|s| !s.is_empty())
                .and_then(|s| e.check(to, date(s)))
                .map(|d| day_start(d.succ_opt().unwrap_or(d), tz));
            if let (Some(a), Some(b)) = (f, t) {
                if b <= a {
                    e.add(to, "must not be before the start date");
                }
            }
            (f, t)
        };
        let created = range("created_from", "created_to");
        let updated = range("updated_from", "updated_to");
        let equals: Vec<(&'static str, String)> = text_keys
            .iter()
            .filter(|k| !input.one(k).trim().is_empty())
            .map(|k| (*k, input.one(k).trim().to_string()))
            .collect();
        let mut custom = Vec::new();
        for f in cat.fields_for(entity) {
            for (suffix, op) in [("", CustomOp::Eq), (".min", CustomOp::Min), (".max", CustomOp::Max)] {
                let key = format!("cf.{}{suffix}", f.key);
                let raw = input.one(&key);
                if raw.trim().is_empty() {
                    continue;
                }
                if op != CustomOp::Eq && !matches!(f.kind, FieldKind::Number | FieldKind::Currency | FieldKind::Date) {
                    e.add(key, "ranges apply to numbers, amounts and dates");
                    continue;
                }
                // A multiple-choice filter matches one choice.
                let def = carnet_domain::fields::FieldDef {
                    kind: if f.kind == FieldKind::MultipleChoice {
                        FieldKind::SingleChoice
                    } else {
                        f.kind
                    },
                    ..f.clone()
                };
                let Some(Some(v)) = e.check(&key, parse_value(&def, &[raw.to_string()])) else {
                    continue;
                };
                let rows = v.storage_rows();
                let (text, num) = rows.into_iter().next().unwrap_or((None, None));
                custom.push(CustomFilter {
                    field_id: f.id,
                    op,
                    text,
                    num,
                    case_insensitive: matches!(
                        f.kind,
                        FieldKind::Text | FieldKind::LongText | FieldKind::Email | FieldKind::Url | FieldKind::Phone
                    ),
                });
            }
        }
        let sort_raw = input.one("sort");
        let (desc, sort_name) = match sort_raw.strip_prefix('-') {
            Some(s) => (true, s),
            None => (false, sort_raw),
        };
        let sort = match sort_name {
            "" | "name" => SortKey::Name,
            "created" => SortKey::Created,
            "updated" => SortKey::Updated,
            other => match other.strip_prefix("cf.").and_then(|k| cat.fields_for(entity).find(|f| f.key == k)) {
                Some(f) => SortKey::Custom {
                    field_id: f.id,
                    numeric: f.kind.is_numeric(),
                },
                None => {
                    e.add("sort", "must be name, created, updated or cf.<field>, with - for descending");
                    SortKey::Name
                }
            },
        };
        let after = Some(input.one("after"))
            .filter(|s| !s.is_empty())
            .and_then(|s| e.check("after", decode_cursor(s)));
        let limit = match input.one("limit") {
            "" => DEFAULT_LIMIT,
            s => e
                .check(
                    "limit",
                    s.parse::<i64>()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or(format!("must be between 1 and {MAX_LIMIT}")),
                )
                .unwrap_or(DEFAULT_LIMIT),
        };
        e.into_result()?;
        Ok(ListQuery {
            entity,
            words,
            statuses,
            owners,
            tags,
            created,
            updated,
            equals,
            refs,
            custom,
            sort,
            desc,
            after,
            limit,
        })
    }

    /// The same query, continuing after a page cursor.
    pub fn with_after(mut self, cursor: &str) -> Result<Self, String> {
        self.after = Some(decode_cursor(cursor)?);
        Ok(self)
    }

    /// The same query, restricted to some records (is this account in the view?).
    pub fn only_ids(mut self, ids: Vec<i64>) -> Self {
        self.refs.push(("id", ids));
        self
    }

    pub fn with_limit(mut self, limit: i64) -> Self {
        self.limit = limit.clamp(1, MAX_LIMIT);
        self
    }

    fn table(&self) -> &'static str {
        match self.entity {
            Entity::Account => "accounts",
            Entity::Contact => "contacts",
            Entity::Opportunity => "opportunities",
        }
    }

    fn sort_expr(&self) -> String {
        match self.sort {
            SortKey::Name => "r.name_key".into(),
            SortKey::Created => "r.created_at".into(),
            SortKey::Updated => "r.updated_at".into(),
            // Field ids come from the catalogue, never from input: safe to inline.
            SortKey::Custom { field_id, numeric: true } => format!(
                "COALESCE((SELECT MIN(fv.value_num) FROM field_values fv WHERE fv.field_id = {field_id} AND fv.record_id = r.id), -1e300)"
            ),
            SortKey::Custom { field_id, numeric: false } => format!(
                "COALESCE((SELECT MIN(fv.value_text) FROM field_values fv WHERE fv.field_id = {field_id} AND fv.record_id = r.id), '')"
            ),
        }
    }

    fn where_clause(&self, query: &mut Q) {
        query.push(" WHERE 1 = 1");
        for w in &self.words {
            query
                .push(" AND r.id IN (SELECT st.record_id FROM search_tokens st WHERE st.entity = ")
                .push_bind(self.entity.as_str())
                .push(" AND st.token >= ")
                .push_bind(w.clone())
                .push(" AND st.token < ")
                .push_bind(prefix_upper_bound(w))
                .push(")");
        }
        if !self.statuses.is_empty() {
            query.push(" AND r.status_id IN ");
            crate::db::push_in_list(query, &self.statuses);
        }
        if !self.owners.is_empty() {
            let ids: Vec<i64> = self.owners.iter().flatten().copied().collect();
            query.push(" AND (");
            if !ids.is_empty() {
                query.push("r.owner_id IN ");
                crate::db::push_in_list(query, &ids);
            } else {
                query.push("1 = 0");
            }
            if self.owners.contains(&None) {
                query.push(" OR r.owner_id IS NULL");
            }
            query.push(")");
        }
        for t in &self.tags {
            query
                .push(" AND EXISTS (SELECT 1 FROM record_tags rt WHERE rt.entity = ")
                .push_bind(self.entity.as_str())
                .push(" AND rt.record_id = r.id AND rt.tag_id = ")
                .push_bind(*t)
                .push(")");
        }
        for (col, (from, to)) in [("r.created_at", self.created), ("r.updated_at", self.updated)] {
            if let Some(f) = from {
                query.push(&format!(" AND {col} >= ")).push_bind(f);
            }
            if let Some(t) = to {
                query.push(&format!(" AND {col} < ")).push_bind(t);
            }
        }
        for (col, v) in &self.equals {
            match *col {
                "email" if self.entity == Entity::Contact => query.push(" AND r.email_key = ").push_bind(v.to_lowercase()),
                "email" => query.push(" AND r.email = ").push_bind(v.to_lowercase()),
                "company_id" => query
                    .push(" AND r.company_id_key = ")
                    .push_bind(carnet_domain::values::company_id_key(v)),
                c => query.push(&format!(" AND LOWER(r.{c}) = ")).push_bind(v.to_lowercase()),
            };
        }
        for (col, ids) in &self.refs {
            query.push(&format!(" AND r.{col} IN "));
            crate::db::push_in_list(query, ids);
        }
        for f in &self.custom {
            query
                .push(" AND EXISTS (SELECT 1 FROM field_values fv WHERE fv.field_id = ")
                .push_bind(f.field_id)
                .push(" AND fv.record_id = r.id AND ");
            let op = match f.op {
                CustomOp::Eq => "=",
                CustomOp::Min => ">=",
                CustomOp::Max => "<=",
            };
            match (&f.text, f.num) {
                (Some(t), _) if f.case_insensitive => query.push(&format!("LOWER(fv.value_text) {op} ")).push_bind(t.to_lowercase()),
                (Some(t), _) => query.push(&format!("fv.value_text {op} ")).push_bind(t.clone()),
                (None, Some(n)) => query.push(&format!("fv.value_num {op} ")).push_bind(n),
                (None, None) => query.push("1 = 1"),
            };
            query.push(")");
        }
        if let Some(c) = &self.after {
            let cmp = if self.desc { "<" } else { ">" };
            let expr = self.sort_expr();
            let bind = |query: &mut Q| {
                match &c.v {
                    CursorValue::Int(i) => query.push_bind(*i),
                    CursorValue::Float(f) => query.push_bind(*f),
                    CursorValue::Text(t) => query.push_bind(t.clone()),
                };
            };
            query.push(&format!(" AND ({expr} {cmp} "));
            bind(query);
            query.push(&format!(" OR ({expr} = "));
            bind(query);
            query.push(&format!(" AND r.id {cmp} ")).push_bind(c.id).push("))");
        }
    }

    /// The SQL of this list: `cols` from the entity table aliased `r`.
    fn build(&self, cols: &str) -> Q {
        let mut query = q(format!("SELECT {cols} FROM {} r", self.table()));
        self.where_clause(&mut query);
        let dir = if self.desc { "DESC" } else { "ASC" };
        query
            .push(&format!(" ORDER BY {} {dir}, r.id {dir} LIMIT ", self.sort_expr()))
            .push_bind(self.limit + 1);
        query
    }
}

/// A row that lists can page through.
pub trait Listed: Rec {
    fn id(&self) -> i64;
    fn name_key(&self) -> &str;
    fn created_at(&self) -> i64;
    fn updated_at(&self) -> i64;
}

/// The rows lists page through all carry `id`, `name_key`, `created_at` and `updated_at`.
macro_rules! listed {
    ($($t:ty),*) => {$(
        impl Listed for $t {
            fn id(&self) -> i64 {
                self.id
            }
            fn name_key(&self) -> &str {
                &self.name_key
            }
            fn created_at(&self) -> i64 {
                self.created_at
            }
            fn updated_at(&self) -> i64 {
                self.updated_at
            }
        }
    )*};
}

listed!(
    super::accounts::Account,
    super::contacts::Contact,
    crate::sales::opportunities::Opportunity
);

#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub rows: Vec<T>,
    /// The cursor of the next page, if there is one.
    pub next: Option<String>,
}

fn encode_cursor(c: &Cursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

fn decode_cursor(s: &str) -> Result<Cursor, String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| "is not a valid page cursor".to_string())
}

/// Runs a list query: one page of rows and the cursor after it.
pub async fn run<T: Listed>(db: &Db, lq: &ListQuery, cols: &str) -> Result<Page<T>> {
    let mut conn = db.conn().await?;
    let mut rows: Vec<T> = lq.build(cols).fetch_all(&mut conn).await?;
    let more = rows.len() as i64 > lq.limit;
    rows.truncate(lq.limit as usize);
    let next = match (more, rows.last()) {
        (true, Some(last)) => {
            let v = match lq.sort {
                SortKey::Name => CursorValue::Text(last.name_key().to_string()),
                SortKey::Created => CursorValue::Int(last.created_at()),
                SortKey::Updated => CursorValue::Int(last.updated_at()),
                SortKey::Custom { numeric, .. } => {
                    let mut sq = q(format!("SELECT {} FROM {} r WHERE r.id = ", lq.sort_expr(), lq.table()));
                    sq.push_bind(last.id());
                    if numeric {
                        CursorValue::Float(sq.scalar::<f64>(&mut conn).await?)
                    } else {
                        CursorValue::Text(sq.scalar::<String>(&mut conn).await?)
                    }
                }
            };
            Some(encode_cursor(&Cursor { v, id: last.id() }))
        }
        _ => None,
    };
    Ok(Page { rows, next })
}

/// Parses list parameters given as a query string (saved views).
pub fn parse_query_string(entity: Entity, qs: &str, cat: &Catalog, tz: &str) -> Result<ListQuery, AppError> {
    let pairs = carnet_domain::values::parse_query_string(qs);
    let tz = parse_time_zone(tz).unwrap_or(chrono_tz::Europe::Paris);
    ListQuery::parse(entity, &RawInput::from_pairs(pairs), cat, tz).map_err(AppError::Invalid)
}

/// The plain text of a custom value, for lists and CSV.
pub fn plain(v: &FieldValue) -> String {
    v.to_plain().join(", ")
}
