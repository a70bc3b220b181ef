//! Accounts and contacts seen from HTTP: one trait, so that list, card, form and
//! API handlers are written once and instantiated per record type.

use crate::api::types::{Decimal, Money, Named, Ref};
use carnet_app::access::User;
use carnet_app::records::accounts::{self, Account, AccountCard};
use carnet_app::records::contacts::{self, Contact, ContactCard};
use carnet_app::records::duplicates::{self, Duplicate};
use carnet_app::records::lists::Listed;
use carnet_app::records::Extras;
use carnet_app::sales::opportunities::{self, Opportunity, OpportunityCard};
use carnet_app::{AppError, Carnet, Db};
use carnet_domain::access::Permission;
use carnet_domain::fields::{Entity, FieldKind};
use carnet_domain::input::Shape;
use carnet_domain::records::{AccountDraft, Catalog, ContactDraft, RawInput};
use carnet_domain::sales::OpportunityDraft;
use carnet_domain::FieldErrors;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;

/// Keys that a create request may carry besides the record's own fields: the
/// account (and role) a new contact is linked to, and the "create anyway" flag.
pub const LINK_KEYS: &[&str] = &["account", "role", "allow_duplicates", "csrf"];

pub trait Kind: Send + Sync + 'static {
    const ENTITY: Entity;
    /// URL segment: `accounts`, `contacts`.
    const PATH: &'static str;
    const WRITE: Permission;
    const COLS: &'static str;
    type Draft: Send + Sync;
    type Card: Send + Sync;
    type Row: Listed + Send + Sync;
    /// The API's shapes: the record answered, the body of a create, of a change.
    type Out: JsonSchema;
    type New: JsonSchema;
    type Patch: JsonSchema;

    /// The catalogue this record type's parser needs.
    fn catalog(db: &Db) -> impl Future<Output = Result<Catalog, AppError>> + Send {
        carnet_app::settings::catalog(db)
    }
    fn parse(raw: &RawInput, cat: &Catalog) -> Result<Self::Draft, FieldErrors>;
    /// The JSON type of each field an API body may carry.
    fn shape(key: &str, cat: &Catalog) -> Option<Shape> {
        common_shape(Self::ENTITY, key, cat)
    }
    fn draft_name(d: &Self::Draft) -> String;
    fn duplicates(db: &Db, d: &Self::Draft) -> impl Future<Output = Result<Vec<Duplicate>, AppError>> + Send;
    fn create(
        c: &Carnet,
        cat: &Catalog,
        actor: &User,
        d: &Self::Draft,
        raw: &RawInput,
    ) -> impl Future<Output = Result<i64, AppError>> + Send;
    /// Changes a record. `expected` is the version its writer read (`If-Match`,
    /// or the form's hidden `version`), for kinds that keep one.
    fn update(
        c: &Carnet,
        cat: &Catalog,
        actor: &User,
        id: i64,
        d: &Self::Draft,
        expected: Option<i64>,
    ) -> impl Future<Output = Result<(), AppError>> + Send;
    fn card(db: &Db, cat: &Catalog, id: i64) -> impl Future<Output = Result<Self::Card, AppError>> + Send;
    fn delete(c: &Carnet, actor: &User, id: i64) -> impl Future<Output = Result<(), AppError>> + Send;
    fn to_raw(card: &Self::Card, cat: &Catalog) -> RawInput;
    fn card_name(card: &Self::Card) -> String;
    /// The version of a record whose writes can be conditional (optimistic
    /// concurrency), or `None` for kinds that keep none.
    fn version(_card: &Self::Card) -> Option<i64> {
        None
    }
    fn row_json(row: &Self::Row, extras: &Extras, cat: &Catalog, now: i64) -> Value;
    fn card_json(card: &Self::Card, cat: &Catalog, now: i64) -> Value;
}

/// The version a writer read, from `If-Match` (`"7"`, `W/"7"` or `7`) or a
/// `version` field; both must agree when both are given.
pub fn expected_version(if_match: Option<&str>, field: Option<&str>) -> Result<Option<i64>, AppError> {
    let parse = |raw: &str, name: &str| -> Result<i64, AppError> {
        raw.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .ok_or_else(|| AppError::field(name, "must be the version read from the record (a whole number, its ETag)"))
    };
    let header = if_match.filter(|h| h.trim() != "*").map(|h| parse(h, "If-Match")).transpose()?;
    let field = field.filter(|f| !f.trim().is_empty()).map(|f| parse(f, "version")).transpose()?;
    match (header, field) {
        (Some(h), Some(f)) if h != f => Err(AppError::field("version", "differs from the If-Match header")),
        (h, f) => Ok(h.or(f)),
    }
}

pub struct Accounts;
pub struct Contacts;
pub struct Opportunities;

pub fn iso(unix: i64) -> String {
    DateTime::<Utc>::from_timestamp(unix, 0).map(|d| d.to_rfc3339()).unwrap_or_default()
}

/// A user named in a record.
#[derive(Serialize, JsonSchema)]
pub struct UserBrief {
    id: i64,
    name: String,
    email: String,
}

fn user_json(cat: &Catalog, id: Option<i64>) -> Option<UserBrief> {
    id.and_then(|i| cat.user(i)).map(|u| UserBrief {
        id: u.id,
        name: u.name.clone(),
        email: u.email.clone(),
    })
}

/// A tag on a record, with its category.
#[derive(Serialize, JsonSchema)]
pub struct TagOut {
    id: i64,
    name: String,
    category: String,
    color: String,
}

pub fn tags_json(cat: &Catalog, ids: &[i64]) -> Vec<TagOut> {
    ids.iter()
        .filter_map(|id| cat.tag(*id))
        .map(|(c, t)| TagOut {
            id: t.id,
            name: t.name.clone(),
            category: c.name.clone(),
            color: t.color.clone(),
        })
        .collect()
}

/// Custom field values by key (null when empty): text, numbers, amounts as
/// decimal strings, dates as YYYY-MM-DD, booleans, lists of choices.
pub type Custom = serde_json::Map<String, Value>;

pub fn custom_json(cat: &Catalog, entity: Entity, ex: &Extras) -> Custom {
    let mut m = serde_json::Map::new();
    for f in cat.fields_for(entity) {
        let v = ex
            .custom
            .iter()
            .find(|(id, _)| *id == f.id)
            .map(|(_, v)| v.to_json())
            .unwrap_or(Value::Null);
        m.insert(f.key.clone(), v);
    }
    m
}

/// What a create adds to the record it answers.
#[derive(Serialize, JsonSchema)]
pub struct Warnings {
    /// Records that look like the new one (same email, phone, company id, name or domain).
    pub duplicates: Vec<Duplicate>,
}

/// An account, as lists, cards and writes answer it.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Account")]
pub struct AccountOut {
    id: i64,
    name: String,
    status: Option<Named>,
    owner: Option<UserBrief>,
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    address: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
    country: Option<String>,
    company_id: Option<String>,
    vat_number: Option<String>,
    source: Option<String>,
    description: Option<String>,
    tags: Vec<TagOut>,
    custom: Custom,
    created_at: String,
    updated_at: String,
    /// On a single account: its contacts.
    #[serde(skip_serializing_if = "Option::is_none")]
    contacts: Option<Vec<AccountContact>>,
    /// On a create only.
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<Warnings>,
}

#[derive(Serialize, JsonSchema)]
pub struct AccountContact {
    id: i64,
    name: String,
    email: Option<String>,
    role: Option<String>,
}

/// A contact, as lists, cards and writes answer it.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Contact")]
pub struct ContactOut {
    id: i64,
    first_name: Option<String>,
    last_name: String,
    /// First and last name.
    name: String,
    email: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
    job_title: Option<String>,
    owner: Option<UserBrief>,
    source: Option<String>,
    address: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
    country: Option<String>,
    description: Option<String>,
    tags: Vec<TagOut>,
    custom: Custom,
    created_at: String,
    updated_at: String,
    /// On a single contact: the accounts it is linked to.
    #[serde(skip_serializing_if = "Option::is_none")]
    accounts: Option<Vec<ContactAccount>>,
    /// On a create only.
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<Warnings>,
}

#[derive(Serialize, JsonSchema)]
pub struct ContactAccount {
    id: i64,
    name: String,
    role: Option<String>,
}

/// An opportunity, as lists, cards, writes and moves answer it.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Opportunity")]
pub struct OpportunityOut {
    id: i64,
    name: String,
    account: Named,
    owner: Option<UserBrief>,
    pipeline: PipelineBrief,
    stage: Option<StageBrief>,
    /// open, won or lost.
    status: String,
    amount: Money,
    currency: String,
    /// The amount × the stage's probability.
    weighted_amount: Money,
    margin: Option<Money>,
    offer: Option<OfferBrief>,
    source: Option<SourceBrief>,
    lost_reason: Option<Named>,
    /// YYYY-MM-DD.
    #[schemars(extend("format" = "date"))]
    expected_close: Option<String>,
    description: Option<String>,
    days_in_stage: i64,
    stalled: bool,
    closed_at: Option<String>,
    custom: Custom,
    created_at: String,
    updated_at: String,
    /// Raised by every change; send it back as If-Match to write only over what you read.
    version: i64,
    /// On a single opportunity: its contacts.
    #[serde(skip_serializing_if = "Option::is_none")]
    contacts: Option<Vec<Named>>,
    /// On a create only.
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<Warnings>,
}

#[derive(Serialize, JsonSchema)]
pub struct PipelineBrief {
    id: i64,
    name: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct StageBrief {
    id: i64,
    name: String,
    #[schemars(range(min = 0, max = 100))]
    probability: i64,
}

#[derive(Serialize, JsonSchema)]
pub struct OfferBrief {
    id: i64,
    name: String,
    code: String,
}

#[derive(Serialize, JsonSchema)]
pub struct SourceBrief {
    id: i64,
    name: String,
    kind: String,
}

/// The fields an account's create and change both take (the API parses them
/// by [`common_shape`]; these types document them).
#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct AccountFields {
    /// Status id or name; the default status when absent.
    status: Option<Ref>,
    /// User id or email.
    owner: Option<Ref>,
    email: Option<String>,
    phone: Option<String>,
    website: Option<String>,
    address: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
    country: Option<String>,
    company_id: Option<String>,
    vat_number: Option<String>,
    source: Option<String>,
    description: Option<String>,
    /// Tag ids, names or Category/Name; replaces the record's tags.
    tags: Option<Vec<Ref>>,
    /// Custom field values by key.
    custom: Option<Custom>,
}

#[derive(JsonSchema)]
#[schemars(rename = "AccountInput")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewAccount {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// Create even when likely duplicates exist (the API creates anyway and lists them in warnings).
    allow_duplicates: Option<bool>,
    #[serde(flatten)]
    fields: AccountFields,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AccountPatch {
    #[schemars(length(min = 1, max = 200))]
    name: Option<String>,
    #[serde(flatten)]
    fields: AccountFields,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct ContactFields {
    first_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    mobile: Option<String>,
    job_title: Option<String>,
    /// User id or email.
    owner: Option<Ref>,
    source: Option<String>,
    address: Option<String>,
    postal_code: Option<String>,
    city: Option<String>,
    country: Option<String>,
    description: Option<String>,
    /// Tag ids, names or Category/Name; replaces the record's tags.
    tags: Option<Vec<Ref>>,
    custom: Option<Custom>,
}

#[derive(JsonSchema)]
#[schemars(rename = "ContactInput")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewContact {
    #[schemars(length(min = 1, max = 200))]
    last_name: String,
    /// Link the new contact to this account (id).
    account: Option<Ref>,
    /// Its role on that account (id or name).
    role: Option<Ref>,
    allow_duplicates: Option<bool>,
    #[serde(flatten)]
    fields: ContactFields,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ContactPatch {
    #[schemars(length(min = 1, max = 200))]
    last_name: Option<String>,
    #[serde(flatten)]
    fields: ContactFields,
}

#[derive(JsonSchema)]
#[allow(dead_code)]
pub struct OpportunityFields {
    /// Contact ids.
    contacts: Option<Vec<Ref>>,
    /// User id or email.
    owner: Option<Ref>,
    /// Pipeline id or name; the first when absent.
    pipeline: Option<Ref>,
    /// Stage id or name in that pipeline; its first open stage when absent.
    stage: Option<Ref>,
    amount: Option<Decimal>,
    /// ISO 4217 code; the pipeline's when absent.
    currency: Option<String>,
    margin: Option<Decimal>,
    /// Offer id, code or name.
    offer: Option<Ref>,
    /// Source id or name.
    source: Option<Ref>,
    /// YYYY-MM-DD.
    #[schemars(extend("format" = "date"))]
    expected_close: Option<String>,
    /// Lost reason id or name (lost stages).
    lost_reason: Option<Ref>,
    description: Option<String>,
    custom: Option<Custom>,
}

#[derive(JsonSchema)]
#[schemars(rename = "OpportunityInput")]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewOpportunity {
    #[schemars(length(min = 1, max = 200))]
    name: String,
    /// The account (id).
    account: Ref,
    #[serde(flatten)]
    fields: OpportunityFields,
}

#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct OpportunityPatch {
    #[schemars(length(min = 1, max = 200))]
    name: Option<String>,
    account: Option<Ref>,
    /// The version read (or send If-Match): a deal changed since answers 409.
    version: Option<i64>,
    #[serde(flatten)]
    fields: OpportunityFields,
}

fn to_value<T: Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn link_from_raw(raw: &RawInput, cat: &Catalog) -> Result<Option<(i64, Option<i64>)>, AppError> {
    let account = raw.one("account").trim();
    if account.is_empty() {
        return Ok(None);
    }
    let id = parse_ref(account).ok_or_else(|| AppError::field("account", "must be an account id"))?;
    let role = match raw.one("role").trim() {
        "" => None,
        r => Some(cat.resolve_role(r).map_err(|e| AppError::field("role", e))?),
    };
    Ok(Some((id, role)))
}

/// The JSON types of record fields: names and text are strings, references an
/// id or a name, money a number (or decimal text), lists of tags or contacts
/// arrays; custom fields by their kind.
fn common_shape(entity: Entity, key: &str, cat: &Catalog) -> Option<Shape> {
    if let Some(field) = key.strip_prefix("cf.") {
        let f = cat.fields_for(entity).find(|f| f.key == field)?;
        return Some(match f.kind {
            FieldKind::Number | FieldKind::Currency => Shape::Number,
            FieldKind::Boolean => Shape::Flag,
            FieldKind::MultipleChoice => Shape::List,
            _ => Shape::Text,
        });
    }
    Some(match key {
        "status" | "owner" | "account" | "role" | "pipeline" | "stage" | "offer" | "source_id" | "lost_reason" => Shape::Ref,
        "source" if entity == Entity::Opportunity => Shape::Ref,
        "tags" | "contacts" => Shape::List,
        "amount" | "margin" => Shape::Number,
        "allow_duplicates" => Shape::Flag,
        "name" | "first_name" | "last_name" | "email" | "phone" | "mobile" | "website" | "address" | "postal_code" | "city" | "country"
        | "company_id" | "vat_number" | "source" | "description" | "job_title" | "currency" | "expected_close" => Shape::Text,
        _ => return None,
    })
}

/// Kinds without versions refuse a conditional write rather than ignore it.
fn refuse_version(expected: Option<i64>, what: &str) -> Result<(), AppError> {
    match expected {
        Some(_) => Err(AppError::field(
            "If-Match",
            format!("is not supported on {what}: they keep no version"),
        )),
        None => Ok(()),
    }
}

/// A record reference typed by a person or a picker: `12`, or `#12 Acme`.
pub fn parse_ref(raw: &str) -> Option<i64> {
    let t = raw.trim().trim_start_matches('#');
    t.split_whitespace().next()?.parse().ok()
}

impl Kind for Accounts {
    const ENTITY: Entity = Entity::Account;
    const PATH: &'static str = "accounts";
    const WRITE: Permission = Permission::WriteAccounts;
    const COLS: &'static str = accounts::COLS;
    type Draft = AccountDraft;
    type Card = AccountCard;
    type Row = Account;
    type Out = AccountOut;
    type New = NewAccount;
    type Patch = AccountPatch;

    fn parse(raw: &RawInput, cat: &Catalog) -> Result<AccountDraft, FieldErrors> {
        AccountDraft::parse(raw, cat, LINK_KEYS)
    }
    fn draft_name(d: &AccountDraft) -> String {
        d.name.clone()
    }
    async fn duplicates(db: &Db, d: &AccountDraft) -> Result<Vec<Duplicate>, AppError> {
        duplicates::for_account(db, d).await
    }
    async fn create(c: &Carnet, cat: &Catalog, actor: &User, d: &AccountDraft, _raw: &RawInput) -> Result<i64, AppError> {
        accounts::create(c, cat, actor, d).await
    }
    async fn update(c: &Carnet, cat: &Catalog, actor: &User, id: i64, d: &AccountDraft, expected: Option<i64>) -> Result<(), AppError> {
        refuse_version(expected, "accounts")?;
        accounts::update(c, cat, actor, id, d).await
    }
    async fn card(db: &Db, cat: &Catalog, id: i64) -> Result<AccountCard, AppError> {
        accounts::get(db, cat, id).await
    }
    async fn delete(c: &Carnet, actor: &User, id: i64) -> Result<(), AppError> {
        accounts::delete(c, actor, id).await
    }
    fn to_raw(card: &AccountCard, cat: &Catalog) -> RawInput {
        accounts::to_raw(card, cat)
    }
    fn card_name(card: &AccountCard) -> String {
        card.account.name.clone()
    }
    fn row_json(a: &Account, ex: &Extras, cat: &Catalog, _now: i64) -> Value {
        to_value(account_out(a, ex, cat))
    }
    fn card_json(card: &AccountCard, cat: &Catalog, _now: i64) -> Value {
        let mut out = account_out(&card.account, &card.extras, cat);
        out.contacts = Some(
            card.contacts
                .iter()
                .map(|c| AccountContact {
                    id: c.contact_id,
                    name: c.name(),
                    email: c.email.clone(),
                    role: c.role_name.clone(),
                })
                .collect(),
        );
        to_value(out)
    }
}

impl Kind for Contacts {
    const ENTITY: Entity = Entity::Contact;
    const PATH: &'static str = "contacts";
    const WRITE: Permission = Permission::WriteContacts;
    const COLS: &'static str = contacts::COLS;
    type Draft = ContactDraft;
    type Card = ContactCard;
    type Row = Contact;
    type Out = ContactOut;
    type New = NewContact;
    type Patch = ContactPatch;

    fn parse(raw: &RawInput, cat: &Catalog) -> Result<ContactDraft, FieldErrors> {
        ContactDraft::parse(raw, cat, LINK_KEYS)
    }
    fn draft_name(d: &ContactDraft) -> String {
        d.full_name()
    }
    async fn duplicates(db: &Db, d: &ContactDraft) -> Result<Vec<Duplicate>, AppError> {
        duplicates::for_contact(db, d).await
    }
    async fn create(c: &Carnet, cat: &Catalog, actor: &User, d: &ContactDraft, raw: &RawInput) -> Result<i64, AppError> {
        let link = link_from_raw(raw, cat)?;
        contacts::create(c, cat, actor, d, link).await
    }
    async fn update(c: &Carnet, cat: &Catalog, actor: &User, id: i64, d: &ContactDraft, expected: Option<i64>) -> Result<(), AppError> {
        refuse_version(expected, "contacts")?;
        contacts::update(c, cat, actor, id, d).await
    }
    async fn card(db: &Db, cat: &Catalog, id: i64) -> Result<ContactCard, AppError> {
        contacts::get(db, cat, id).await
    }
    async fn delete(c: &Carnet, actor: &User, id: i64) -> Result<(), AppError> {
        contacts::delete(c, actor, id).await
    }
    fn to_raw(card: &ContactCard, cat: &Catalog) -> RawInput {
        contacts::to_raw(card, cat)
    }
    fn card_name(card: &ContactCard) -> String {
        card.contact.name()
    }
    fn row_json(c: &Contact, ex: &Extras, cat: &Catalog, _now: i64) -> Value {
        to_value(contact_out(c, ex, cat))
    }
    fn card_json(card: &ContactCard, cat: &Catalog, _now: i64) -> Value {
        let mut out = contact_out(&card.contact, &card.extras, cat);
        out.accounts = Some(
            card.accounts
                .iter()
                .map(|a| ContactAccount {
                    id: a.account_id,
                    name: a.account_name.clone(),
                    role: a.role_name.clone(),
                })
                .collect(),
        );
        to_value(out)
    }
}

pub fn money(c: i64) -> String {
    carnet_domain::values::Money(c).to_plain()
}

fn account_out(a: &Account, ex: &Extras, cat: &Catalog) -> AccountOut {
    AccountOut {
        id: a.id,
        name: a.name.clone(),
        status: cat.status(a.status_id).map(|s| Named {
            id: s.id,
            name: s.name.clone(),
        }),
        owner: user_json(cat, a.owner_id),
        email: a.email.clone(),
        phone: a.phone.clone(),
        website: a.website.clone(),
        address: a.address.clone(),
        postal_code: a.postal_code.clone(),
        city: a.city.clone(),
        country: a.country.clone(),
        company_id: a.company_id.clone(),
        vat_number: a.vat_number.clone(),
        source: a.source.clone(),
        description: a.description.clone(),
        tags: tags_json(cat, &ex.tag_ids),
        custom: custom_json(cat, Entity::Account, ex),
        created_at: iso(a.created_at),
        updated_at: iso(a.updated_at),
        contacts: None,
        warnings: None,
    }
}

fn contact_out(c: &Contact, ex: &Extras, cat: &Catalog) -> ContactOut {
    ContactOut {
        id: c.id,
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        name: c.name(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        mobile: c.mobile.clone(),
        job_title: c.job_title.clone(),
        owner: user_json(cat, c.owner_id),
        source: c.source.clone(),
        address: c.address.clone(),
        postal_code: c.postal_code.clone(),
        city: c.city.clone(),
        country: c.country.clone(),
        description: c.description.clone(),
        tags: tags_json(cat, &ex.tag_ids),
        custom: custom_json(cat, Entity::Contact, ex),
        created_at: iso(c.created_at),
        updated_at: iso(c.updated_at),
        accounts: None,
        warnings: None,
    }
}

/// An opportunity as the API shows it, the same for lists, cards and the sales API.
pub fn opportunity_out(o: &Opportunity, ex: &Extras, cat: &Catalog, now: i64) -> OpportunityOut {
    let sales = &cat.sales;
    let (pipeline, stage) = sales.stage(o.stage_id).map(|(p, s)| (p.name.clone(), s.clone())).unzip();
    OpportunityOut {
        id: o.id,
        name: o.name.clone(),
        account: Named {
            id: o.account_id,
            name: o.account_name.clone(),
        },
        owner: user_json(cat, o.owner_id),
        pipeline: PipelineBrief {
            id: o.pipeline_id,
            name: pipeline,
        },
        stage: stage.as_ref().map(|s| StageBrief {
            id: s.id,
            name: s.name.clone(),
            probability: s.probability,
        }),
        status: o.status.clone(),
        amount: money(o.amount),
        currency: o.currency.clone(),
        weighted_amount: money(o.amount * stage.as_ref().map(|s| s.probability).unwrap_or(0) / 100),
        margin: o.margin.map(money),
        offer: o
            .offer_id
            .and_then(|id| sales.offers.iter().find(|x| x.id == id))
            .map(|x| OfferBrief {
                id: x.id,
                name: x.name.clone(),
                code: x.code.clone(),
            }),
        source: o
            .source_id
            .and_then(|id| sales.sources.iter().find(|x| x.id == id))
            .map(|x| SourceBrief {
                id: x.id,
                name: x.name.clone(),
                kind: x.kind.clone(),
            }),
        lost_reason: o
            .lost_reason_id
            .and_then(|id| sales.lost_reasons.iter().find(|x| x.id == id))
            .map(|x| Named {
                id: x.id,
                name: x.name.clone(),
            }),
        expected_close: o.expected_close.clone(),
        description: o.description.clone(),
        days_in_stage: o.days_in_stage(now),
        stalled: o.is_stalled(sales, now),
        closed_at: o.closed_at.map(iso),
        custom: custom_json(cat, Entity::Opportunity, ex),
        created_at: iso(o.created_at),
        updated_at: iso(o.updated_at),
        version: o.version,
        contacts: None,
        warnings: None,
    }
}

impl Kind for Opportunities {
    const ENTITY: Entity = Entity::Opportunity;
    const PATH: &'static str = "opportunities";
    const WRITE: Permission = Permission::WriteOpportunities;
    const COLS: &'static str = opportunities::COLS;
    type Draft = OpportunityDraft;
    type Card = OpportunityCard;
    type Row = Opportunity;
    type Out = OpportunityOut;
    type New = NewOpportunity;
    type Patch = OpportunityPatch;

    fn catalog(db: &Db) -> impl Future<Output = Result<Catalog, AppError>> + Send {
        carnet_app::sales::full_catalog(db)
    }
    fn parse(raw: &RawInput, cat: &Catalog) -> Result<OpportunityDraft, FieldErrors> {
        OpportunityDraft::parse(raw, cat, &cat.sales, LINK_KEYS)
    }
    fn draft_name(d: &OpportunityDraft) -> String {
        d.name.clone()
    }
    async fn duplicates(_db: &Db, _d: &OpportunityDraft) -> Result<Vec<Duplicate>, AppError> {
        // Several opportunities on one account are normal: no duplicate check.
        Ok(vec![])
    }
    async fn create(c: &Carnet, cat: &Catalog, actor: &User, d: &OpportunityDraft, _raw: &RawInput) -> Result<i64, AppError> {
        opportunities::create(c, cat, &cat.sales, actor, d).await
    }
    async fn update(c: &Carnet, cat: &Catalog, actor: &User, id: i64, d: &OpportunityDraft, expected: Option<i64>) -> Result<(), AppError> {
        opportunities::update(c, cat, &cat.sales, actor, id, d, expected).await
    }
    async fn card(db: &Db, cat: &Catalog, id: i64) -> Result<OpportunityCard, AppError> {
        opportunities::get(db, cat, id).await
    }
    async fn delete(c: &Carnet, actor: &User, id: i64) -> Result<(), AppError> {
        opportunities::delete(c, actor, id).await
    }
    fn version(card: &OpportunityCard) -> Option<i64> {
        Some(card.opportunity.version)
    }
    fn to_raw(card: &OpportunityCard, cat: &Catalog) -> RawInput {
        opportunities::to_raw(card, cat)
    }
    fn card_name(card: &OpportunityCard) -> String {
        card.opportunity.name.clone()
    }
    fn row_json(o: &Opportunity, ex: &Extras, cat: &Catalog, now: i64) -> Value {
        to_value(opportunity_out(o, ex, cat, now))
    }
    fn card_json(card: &OpportunityCard, cat: &Catalog, now: i64) -> Value {
        let mut out = opportunity_out(&card.opportunity, &card.extras, cat, now);
        out.contacts = Some(
            card.contacts
                .iter()
                .map(|(id, name)| Named {
                    id: *id,
                    name: name.clone(),
                })
                .collect(),
        );
        to_value(out)
    }
}
