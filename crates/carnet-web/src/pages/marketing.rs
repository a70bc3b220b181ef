//! Marketing pages (marketers, managers, administrators): campaigns with their
//! figures and costs, and the form builder.

use super::{checked_form, render_status, see_other, Layout, OrPage, PageResult};
use crate::auth::{PageUser, Viewer};
use crate::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Form, Router};
use carnet_app::marketing::campaigns::{self, Amount, Campaign, Cost, Report};
use carnet_app::marketing::forms::{self, FormInput};
use carnet_app::marketing::{requalify, scoring, tracking};
use carnet_app::{settings, AppError};
use carnet_domain::access::Permission;
use carnet_domain::fields::Entity;
use carnet_domain::marketing::{self as mk, CampaignDraft, Channel, CostDraft, FormField, FormSpec};
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::FieldErrors;

pub fn routes(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/marketing", get(|| async { see_other("/marketing/campaigns") }))
        .route("/marketing/campaigns", get(campaigns_page).post(campaigns_post))
        .route("/marketing/campaigns/{id}", get(campaign_page).post(campaign_post))
        .route("/marketing/forms", get(forms_page).post(forms_post))
        .route("/marketing/scoring", get(scoring_page).post(scoring_post))
        .route("/marketing/requalification", get(rq_page).post(rq_post))
        .route("/marketing/website", get(website_page).post(website_post))
        .route("/leads", get(to_call_page))
        .route("/marketing/forms/{id}", get(form_page).post(form_post))
        .route(
            "/marketing/forms/{id}/file",
            axum::routing::post(upload_file).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
}

fn allowed(v: &Viewer) -> Result<(), super::PageError> {
    v.require(Permission::ManageMarketing).or_page(v)
}

/// Errors with each field's reason, prefixed by its label where the page shows one list.
fn error_list(fmt: &carnet_domain::i18n::Fmt, e: &FieldErrors) -> Vec<String> {
    labelled_errors(fmt, e, "mk")
}

/// The same, with the labels of `prefix.{field}`.
fn labelled_errors(fmt: &carnet_domain::i18n::Fmt, e: &FieldErrors, prefix: &str) -> Vec<String> {
    e.0.iter()
        .map(|(k, r)| {
            let key = format!("{prefix}.{k}");
            let label = if carnet_domain::i18n::has_key(&key) {
                fmt.t(&key).to_string()
            } else {
                k.clone()
            };
            format!("{label}: {r}")
        })
        .collect()
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    l: Layout,
    tab: &'static str,
    rows: Vec<(Campaign, String, Report)>,
    channels: Vec<(&'static str, String)>,
    segments: Vec<(i64, String)>,
    draft: RawInput,
    errors: Vec<String>,
}

fn channels(fmt: &carnet_domain::i18n::Fmt) -> Vec<(&'static str, String)> {
    Channel::ALL
        .iter()
        .map(|c| (c.as_str(), fmt.t(&format!("mk.channel_{}", c.as_str())).to_string()))
        .collect()
}

fn segments(cat: &Catalog) -> Vec<(i64, String)> {
    cat.categories
        .iter()
        .filter(|c| c.is_segment)
        .flat_map(|c| c.tags.iter().map(|t| (t.id, t.name.clone())))
        .collect()
}

fn money_list(fmt: &carnet_domain::i18n::Fmt, a: &[Amount]) -> String {
    if a.is_empty() {
        return "—".into();
    }
    a.iter().map(|x| fmt.money(x.amount, &x.currency)).collect::<Vec<_>>().join(" + ")
}

async fn campaigns_view(s: &AppState, v: &Viewer, draft: RawInput, errors: Vec<String>, status: StatusCode) -> PageResult {
    allowed(v)?;
    let fmt = v.user.fmt();
    let cat = settings::catalog(&s.carnet.db).await.or_page(v)?;
    let mut rows = Vec::new();
    for c in campaigns::list(&s.carnet.db).await.or_page(v)? {
        let r = campaigns::report(&s.carnet.db, c.id).await.or_page(v)?;
        let channel = fmt.t(&format!("mk.channel_{}", c.channel)).to_string();
        rows.push((c, channel, r));
    }
    Ok(render_status(
        status,
        &CampaignsPage {
            tab: "campaigns",
            rows,
            channels: channels(&fmt),
            segments: segments(&cat),
            draft,
            errors,
            l: Layout::new(v, fmt.t("mk.campaigns"), "marketing"),
        },
    ))
}

impl CampaignsPage {
    fn costs(&self, r: &Report) -> String {
        money_list(&self.l.fmt, &r.costs)
    }
    fn won(&self, r: &Report) -> String {
        money_list(&self.l.fmt, &r.won_amounts)
    }
    fn per_lead(&self, r: &Report) -> String {
        money_list(&self.l.fmt, &r.cost_per_lead)
    }
}

async fn campaigns_page(State(s): State<AppState>, PageUser(v): PageUser) -> PageResult {
    campaigns_view(&s, &v, RawInput::default(), vec![], StatusCode::OK).await
}

/// A campaign's fields from a page form (the segment by its tag id).
fn campaign_input(input: &RawInput) -> RawInput {
    let mut raw = RawInput::default();
    for k in ["name", "channel", "starts_on", "ends_on", "segment", "description"] {
        raw.set(k, input.one(k));
    }
    raw
}

async fn campaigns_post(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    allowed(&v)?;
    let input = checked_form(&v, pairs)?;
    let cat = settings::catalog(&s.carnet.db).await.or_page(&v)?;
    let raw = campaign_input(&input);
    let created = match CampaignDraft::parse(&raw, &cat) {
        Ok(d) => campaigns::create(&s.carnet.db, &d).await,
        Err(e) => Err(AppError::Invalid(e)),
    };
    match created {
        Ok(id) => Ok(see_other(&format!("/marketing/campaigns/{id}"))),
        Err(AppError::Invalid(e)) => {
            let errors = error_list(&v.user.fmt(), &e);
            campaigns_view(&s, &v, input, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    l: Layout,
    c: Campaign,
    channel: String,
    r: Report,
    costs: Vec<(Cost, String)>,
    channels: Vec<(&'static str, String)>,
    segments: Vec<(i64, String)>,
    forms: Vec<(i64, String)>,
    draft: RawInput,
    cost_draft: RawInput,
    errors: Vec<String>,
    saved: bool,
}

impl CampaignPage {
    fn money(&self, a: &[Amount]) -> String {
        money_list(&self.l.fmt, a)
    }
    fn d(&self, k: &str) -> &str {
        self.draft.one(k)
    }
}

fn campaign_raw(c: &Campaign) -> RawInput {
    let mut raw = RawInput::default();
    raw.set("name", c.name.clone());
    raw.set("channel", c.channel.clone());
    raw.set("starts_on", c.starts_on.clone().unwrap_or_default());
    raw.set("ends_on", c.ends_on.clone().unwrap_or_default());
    raw.set("segment", c.segment_tag_id.map(|x| x.to_string()).unwrap_or_default());
    raw.set("description", c.description.clone().unwrap_or_default());
    if c.archived {
        raw.set("archived", "1");
    }
    raw
}

#[allow(clippy::too_many_arguments)]
async fn campaign_view(
    s: &AppState,
    v: &Viewer,
    id: i64,
    draft: Option<RawInput>,
    cost_draft: RawInput,
    errors: Vec<String>,
    saved: bool,
    status: StatusCode,
) -> PageResult {
    allowed(v)?;
    let fmt = v.user.fmt();
    let db = &s.carnet.db;
    let c = campaigns::get(&mut db.conn().await.map_err(AppError::from).or_page(v)?, id)
        .await
        .or_page(v)?;
    let cat = settings::catalog(db).await.or_page(v)?;
    let r = campaigns::report(db, id).await.or_page(v)?;
    let costs = campaigns::costs(db, id)
        .await
        .or_page(v)?
        .into_iter()
        .map(|k| {
            let m = fmt.money(k.amount, &k.currency);
            (k, m)
        })
        .collect();
    let forms = forms::list(db)
        .await
        .or_page(v)?
        .into_iter()
        .filter(|f| f.campaign_id == Some(id))
        .map(|f| (f.id, f.name))
        .collect();
    Ok(render_status(
        status,
        &CampaignPage {
            channel: fmt.t(&format!("mk.channel_{}", c.channel)).to_string(),
            draft: draft.unwrap_or_else(|| campaign_raw(&c)),
            l: Layout::new(v, c.name.clone(), "marketing"),
            c,
            r,
            costs,
            channels: channels(&fmt),
            segments: segments(&cat),
            forms,
            cost_draft,
            errors,
            saved,
        },
    ))
}

async fn campaign_page(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    campaign_view(&s, &v, id, None, RawInput::default(), vec![], false, StatusCode::OK).await
}

async fn campaign_post(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    allowed(&v)?;
    let input = checked_form(&v, pairs)?;
    let db = &s.carnet.db;
    let fmt = v.user.fmt();
    match input.one("op") {
        "cost" => {
            let mut raw = RawInput::default();
            for k in ["day", "amount", "currency", "label"] {
                raw.set(k, input.one(k));
            }
            let currency = carnet_app::analytics::engine::company_currency(&mut db.conn().await.map_err(AppError::from).or_page(&v)?)
                .await
                .or_page(&v)?;
            let added = match CostDraft::parse(&raw, &currency) {
                Ok(d) => campaigns::add_cost(db, id, v.user.id, &d).await.map(|_| ()),
                Err(e) => Err(AppError::Invalid(e)),
            };
            match added {
                Ok(()) => Ok(see_other(&format!("/marketing/campaigns/{id}#costs"))),
                Err(AppError::Invalid(e)) => {
                    campaign_view(
                        &s,
                        &v,
                        id,
                        None,
                        input,
                        error_list(&fmt, &e),
                        false,
                        StatusCode::UNPROCESSABLE_ENTITY,
                    )
                    .await
                }
                Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
            }
        }
        "delete_cost" => {
            let cost = input.one("cost_id").parse::<i64>().unwrap_or(0);
            campaigns::delete_cost(db, id, cost).await.or_page(&v)?;
            Ok(see_other(&format!("/marketing/campaigns/{id}#costs")))
        }
        _ => {
            let cat = settings::catalog(db).await.or_page(&v)?;
            let updated = match CampaignDraft::parse(&campaign_input(&input), &cat) {
                Ok(d) => campaigns::update(db, id, &d, !input.one("archived").is_empty()).await,
                Err(e) => Err(AppError::Invalid(e)),
            };
            match updated {
                Ok(()) => campaign_view(&s, &v, id, None, RawInput::default(), vec![], true, StatusCode::OK).await,
                Err(AppError::Invalid(e)) => {
                    let errors = error_list(&fmt, &e);
                    campaign_view(
                        &s,
                        &v,
                        id,
                        Some(input),
                        RawInput::default(),
                        errors,
                        false,
                        StatusCode::UNPROCESSABLE_ENTITY,
                    )
                    .await
                }
                Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
            }
        }
    }
}

#[derive(Template)]
#[template(path = "forms.html")]
struct FormsPage {
    l: Layout,
    tab: &'static str,
    rows: Vec<(forms::Form, i64, String)>,
    draft: RawInput,
    errors: Vec<String>,
}

async fn forms_view(s: &AppState, v: &Viewer, draft: RawInput, errors: Vec<String>, status: StatusCode) -> PageResult {
    allowed(v)?;
    let fmt = v.user.fmt();
    let counts = forms::submission_counts(&s.carnet.db).await.or_page(v)?;
    let site = s.carnet.site().or_page(v)?.public_url();
    let rows = forms::list(&s.carnet.db)
        .await
        .or_page(v)?
        .into_iter()
        .map(|f| {
            let n = counts.get(&f.id).copied().unwrap_or(0);
            let url = format!("{site}/f/{}", f.slug);
            (f, n, url)
        })
        .collect();
    Ok(render_status(
        status,
        &FormsPage {
            tab: "forms",
            rows,
            draft,
            errors,
            l: Layout::new(v, fmt.t("mk.forms"), "marketing"),
        },
    ))
}

async fn forms_page(State(s): State<AppState>, PageUser(v): PageUser) -> PageResult {
    forms_view(&s, &v, RawInput::default(), vec![], StatusCode::OK).await
}

/// A new form: its name and address; the default fields, the user's language.
async fn forms_post(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    allowed(&v)?;
    let input = checked_form(&v, pairs)?;
    let cat = settings::catalog(&s.carnet.db).await.or_page(&v)?;
    let fmt = v.user.fmt();
    let name = input.one("name").trim().to_string();
    let i = FormInput {
        slug: input.one("slug").to_string(),
        name: name.clone(),
        locale: Some(v.user.locale.as_str().to_string()),
        campaign_id: None,
        spec: None,
        title: name,
        intro: None,
        thank_you: None,
        redirect_url: None,
        allowed_origins: None,
        consent_text: None,
        consent_required: false,
        double_opt_in: false,
        results_email: false,
        active: true,
    };
    match forms::create(&s.carnet.db, &cat, &i).await {
        Ok(id) => Ok(see_other(&format!("/marketing/forms/{id}"))),
        Err(AppError::Invalid(e)) => {
            let errors = error_list(&fmt, &e);
            forms_view(&s, &v, input, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

/// A field the builder offers: key, label, how it is asked (`off`,
/// `optional`, `mandatory`), its label override.
pub struct FieldChoice {
    pub key: String,
    pub label: String,
    pub mode: String,
    pub custom_label: String,
    /// Email and last name are always asked, as mandatory.
    pub fixed: bool,
}

#[derive(Template)]
#[template(path = "form_edit.html")]
struct FormEditPage {
    l: Layout,
    id: i64,
    /// The lead magnet: name and size.
    file: Option<(String, String)>,
    url: String,
    embed: String,
    submissions: i64,
    fields: Vec<FieldChoice>,
    campaigns: Vec<(i64, String)>,
    draft: RawInput,
    errors: Vec<String>,
    saved: bool,
}

impl FormEditPage {
    fn d(&self, k: &str) -> &str {
        self.draft.one(k)
    }
    fn on(&self, k: &str) -> bool {
        !self.draft.one(k).is_empty()
    }
}

/// Every field a form may ask, in the builder's order.
fn offered(cat: &Catalog, fmt: &carnet_domain::i18n::Fmt) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = mk::CONTACT_FORM_KEYS
        .iter()
        .map(|k| (k.to_string(), fmt.t(&format!("field.{k}")).to_string()))
        .collect();
    for f in cat.fields_for(Entity::Contact) {
        out.push((format!("cf.{}", f.key), f.label.clone()));
    }
    out.push((mk::CALL_ME.into(), fmt.t("form.call_me").to_string()));
    out.push(("company".into(), fmt.t("form.company").to_string()));
    for k in ["website", "company_id", "vat_number"] {
        out.push((
            format!("account.{k}"),
            format!("{} — {}", fmt.t("form.company"), fmt.t(&format!("field.{k}"))),
        ));
    }
    for f in cat.fields_for(Entity::Account) {
        out.push((format!("account.cf.{}", f.key), format!("{} — {}", fmt.t("form.company"), f.label)));
    }
    out
}

/// The builder's page fields from a stored form.
fn form_raw(f: &forms::Form) -> RawInput {
    let mut r = RawInput::default();
    let i = forms::to_input(f);
    r.set("name", i.name);
    r.set("slug", i.slug);
    r.set("title", i.title);
    r.set("intro", i.intro.unwrap_or_default());
    r.set("locale", i.locale.unwrap_or_default());
    r.set("campaign", i.campaign_id.map(|c| c.to_string()).unwrap_or_default());
    r.set("thank_you", i.thank_you.unwrap_or_default());
    r.set("redirect_url", i.redirect_url.unwrap_or_default());
    r.set("allowed_origins", i.allowed_origins.unwrap_or_default());
    r.set("consent_text", i.consent_text.unwrap_or_default());
    for (k, on) in [
        ("consent_required", i.consent_required),
        ("double_opt_in", i.double_opt_in),
        ("results_email", i.results_email),
        ("active", i.active),
    ] {
        if on {
            r.set(k, "1");
        }
    }
    for fl in &f.spec.fields {
        r.set(&format!("use.{}", fl.key), if fl.required { "mandatory" } else { "optional" });
        r.set(&format!("label.{}", fl.key), fl.label.clone().unwrap_or_default());
    }
    r.set("questions", mk::questions_to_text(&f.spec.questions));
    r.set("bands", mk::bands_to_text(&f.spec.bands));
    r
}

/// The form input a builder page describes; text errors (questions, bands) named.
fn form_input(raw: &RawInput, offered: &[(String, String)], stored: &FormSpec) -> Result<FormInput, FieldErrors> {
    let mut e = FieldErrors::new();
    // Fields in their stored order first, then the ones newly ticked.
    let mut keys: Vec<String> = stored.fields.iter().map(|f| f.key.clone()).collect();
    for (k, _) in offered {
        if !keys.contains(k) {
            keys.push(k.clone());
        }
    }
    let fields = keys
        .into_iter()
        .filter_map(|k| {
            let mode = raw.one(&format!("use.{k}"));
            if mode != "optional" && mode != "mandatory" {
                return None;
            }
            let label = raw.one(&format!("label.{k}")).trim();
            Some(FormField {
                required: mode == "mandatory",
                label: (!label.is_empty()).then(|| label.to_string()),
                key: k,
            })
        })
        .collect();
    let questions = e
        .check("questions", mk::questions_from_text(raw.one("questions")))
        .unwrap_or_default();
    let bands = e.check("bands", mk::bands_from_text(raw.one("bands"))).unwrap_or_default();
    let campaign_id = match raw.one("campaign").trim() {
        "" => None,
        c => e.check("campaign", c.parse::<i64>().map_err(|_| "is not a known campaign".to_string())),
    };
    e.into_result()?;
    let opt = |k: &str| Some(raw.one(k).to_string()).filter(|v| !v.trim().is_empty());
    Ok(FormInput {
        slug: raw.one("slug").to_string(),
        name: raw.one("name").to_string(),
        locale: opt("locale"),
        campaign_id,
        spec: Some(FormSpec { fields, questions, bands }),
        title: raw.one("title").to_string(),
        intro: opt("intro"),
        thank_you: opt("thank_you"),
        redirect_url: opt("redirect_url"),
        allowed_origins: opt("allowed_origins"),
        consent_text: opt("consent_text"),
        consent_required: !raw.one("consent_required").is_empty(),
        double_opt_in: !raw.one("double_opt_in").is_empty(),
        results_email: !raw.one("results_email").is_empty(),
        active: !raw.one("active").is_empty(),
    })
}

async fn form_view(
    s: &AppState,
    v: &Viewer,
    id: i64,
    draft: Option<RawInput>,
    errors: Vec<String>,
    saved: bool,
    status: StatusCode,
) -> PageResult {
    allowed(v)?;
    let fmt = v.user.fmt();
    let db = &s.carnet.db;
    let f = forms::get(&mut db.conn().await.map_err(AppError::from).or_page(v)?, id)
        .await
        .or_page(v)?;
    let cat = settings::catalog(db).await.or_page(v)?;
    let draft = draft.unwrap_or_else(|| form_raw(&f));
    let fields = offered(&cat, &fmt)
        .into_iter()
        .map(|(key, label)| {
            let fixed = key == "email" || key == "last_name";
            let mode = match draft.one(&format!("use.{key}")) {
                m @ ("optional" | "mandatory") => m.to_string(),
                _ => "off".to_string(),
            };
            FieldChoice {
                custom_label: draft.one(&format!("label.{key}")).to_string(),
                mode: if fixed { "mandatory".into() } else { mode },
                key,
                label,
                fixed,
            }
        })
        .collect();
    let site = s.carnet.site().or_page(v)?.public_url();
    let campaigns = campaigns::list(db)
        .await
        .or_page(v)?
        .into_iter()
        .filter(|c| !c.archived || f.campaign_id == Some(c.id))
        .map(|c| (c.id, c.name))
        .collect();
    let submissions = forms::submission_counts(db).await.or_page(v)?.get(&id).copied().unwrap_or(0);
    Ok(render_status(
        status,
        &FormEditPage {
            id,
            file: f
                .file
                .as_ref()
                .map(|x| (x.name.clone(), super::view::human_size(x.size_bytes, &fmt))),
            url: format!("{site}/f/{}", f.slug),
            embed: crate::api::marketing::embed_snippet(&site, &f.slug),
            submissions,
            fields,
            campaigns,
            draft,
            errors,
            saved,
            l: Layout::new(v, f.name.clone(), "marketing"),
        },
    ))
}

async fn form_page(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>) -> PageResult {
    form_view(&s, &v, id, None, vec![], false, StatusCode::OK).await
}

async fn form_post(
    State(s): State<AppState>,
    PageUser(v): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> PageResult {
    allowed(&v)?;
    let mut input = checked_form(&v, pairs)?;
    let db = &s.carnet.db;
    let fmt = v.user.fmt();
    if input.one("op") == "remove_file" {
        forms::remove_file(&s.carnet, id).await.or_page(&v)?;
        return Ok(see_other(&format!("/marketing/forms/{id}#file")));
    }
    if input.one("op") == "delete" {
        return match forms::delete(&s.carnet, id).await {
            Ok(()) => Ok(see_other("/marketing/forms")),
            Err(AppError::Conflict(m)) => form_view(&s, &v, id, None, vec![m], false, StatusCode::CONFLICT).await,
            Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
        };
    }
    // Email and last name are asked, as mandatory, whatever the page sent.
    input.set("use.email", "mandatory");
    input.set("use.last_name", "mandatory");
    let cat = settings::catalog(db).await.or_page(&v)?;
    let stored = forms::get(&mut db.conn().await.map_err(AppError::from).or_page(&v)?, id)
        .await
        .or_page(&v)?;
    let saved = match form_input(&input, &offered(&cat, &fmt), &stored.spec) {
        Ok(i) => forms::update(db, &cat, id, &i).await,
        Err(e) => Err(AppError::Invalid(e)),
    };
    match saved {
        Ok(()) => form_view(&s, &v, id, None, vec![], true, StatusCode::OK).await,
        Err(AppError::Invalid(e)) => {
            form_view(
                &s,
                &v,
                id,
                Some(input),
                error_list(&fmt, &e),
                false,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

/// The file a form delivers, uploaded from the builder.
async fn upload_file(State(s): State<AppState>, PageUser(v): PageUser, Path(id): Path<i64>, mp: axum::extract::Multipart) -> PageResult {
    allowed(&v)?;
    let (csrf, file) = super::read_upload(&s, mp).await.or_page(&v)?;
    checked_form(&v, vec![("csrf".into(), csrf)])?;
    let (name, ctype, bytes) = file.ok_or_else(|| AppError::field("file", "is required")).or_page(&v)?;
    let upload = carnet_app::records::attachments::Upload {
        file_name: &name,
        content_type: &ctype,
        bytes: &bytes,
    };
    forms::set_file(&s.carnet, id, upload).await.or_page(&v)?;
    Ok(see_other(&format!("/marketing/forms/{id}#file")))
}

#[derive(Template)]
#[template(path = "scoring.html")]
struct ScoringPage {
    l: Layout,
    tab: &'static str,
    rules: Vec<(scoring::Rule, String)>,
    thresholds: Vec<(scoring::Threshold, String, String)>,
    /// Each score band's label and its contacts, and the largest count (for the bars).
    distribution: Vec<(String, String, u32)>,
    triggers: Vec<(&'static str, String)>,
    /// Forms (by id) and questionnaire bands a rule may aim at.
    targets: Vec<(String, String)>,
    statuses: Vec<(i64, String)>,
    users: Vec<(i64, String)>,
    draft: RawInput,
    errors: Vec<String>,
}

async fn scoring_view(s: &AppState, v: &Viewer, draft: RawInput, errors: Vec<String>, status: StatusCode) -> PageResult {
    allowed(v)?;
    let fmt = v.user.fmt();
    let db = &s.carnet.db;
    let cat = settings::catalog(db).await.or_page(v)?;
    let trigger = |k: &str| fmt.t(&format!("mk.trigger_{k}")).to_string();
    let rules = scoring::rules(db)
        .await
        .or_page(v)?
        .into_iter()
        .map(|r| {
            let t = trigger(&r.trigger_kind);
            (r, t)
        })
        .collect();
    let user_name = |id: i64| {
        cat.users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let thresholds = scoring::thresholds(db)
        .await
        .or_page(v)?
        .into_iter()
        .map(|t| {
            let reps = t.reps.iter().map(|r| user_name(*r)).collect::<Vec<_>>().join(", ");
            let status = t
                .status_id
                .and_then(|st| cat.status(st))
                .map(|st| st.name.clone())
                .unwrap_or_else(|| "—".into());
            (t, reps, status)
        })
        .collect();
    let mut targets = Vec::new();
    for f in forms::list(db).await.or_page(v)? {
        targets.push((f.id.to_string(), format!("{} — {}", fmt.t("mk.form"), f.name)));
        for b in &f.spec.bands {
            targets.push((b.label.clone(), format!("{} — {} — {}", fmt.t("mk.band"), f.name, b.label)));
        }
    }
    let bands = scoring::distribution(db).await.or_page(v)?;
    let most = bands.iter().map(|b| b.contacts).max().unwrap_or(0).max(1);
    let distribution = bands
        .into_iter()
        .map(|b| {
            let label = match (b.from, b.to) {
                (None, _) => fmt.t("mk.no_points").to_string(),
                (Some(f), Some(t)) => format!("{f}–{t}"),
                (Some(f), None) => format!("≥ {f}"),
            };
            (label, fmt.number(b.contacts as f64, 0), (b.contacts * 100 / most) as u32)
        })
        .collect();
    Ok(render_status(
        status,
        &ScoringPage {
            distribution,
            tab: "scoring",
            rules,
            thresholds,
            triggers: scoring::TRIGGERS.iter().map(|k| (*k, trigger(k))).collect(),
            targets,
            statuses: cat.statuses.iter().map(|st| (st.id, st.name.clone())).collect(),
            users: cat.users.iter().filter(|u| u.active).map(|u| (u.id, u.name.clone())).collect(),
            draft,
            errors,
            l: Layout::new(v, fmt.t("mk.scoring"), "marketing"),
        },
    ))
}

async fn scoring_page(State(s): State<AppState>, PageUser(v): PageUser) -> PageResult {
    scoring_view(&s, &v, RawInput::default(), vec![], StatusCode::OK).await
}

async fn scoring_post(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    allowed(&v)?;
    let input = checked_form(&v, pairs)?;
    let db = &s.carnet.db;
    let id = input.one("id").parse::<i64>().unwrap_or(0);
    let number = |k: &str| -> Result<Option<i64>, AppError> {
        match input.one(k).trim() {
            "" => Ok(None),
            raw => raw
                .parse::<i64>()
                .map(Some)
                .map_err(|_| AppError::field(k, "must be a whole number")),
        }
    };
    let done = match input.one("op") {
        "delete_rule" => scoring::delete_rule(db, id).await,
        "delete_threshold" => scoring::delete_threshold(db, id).await,
        "rule" => match (number("points"), number("decay_days")) {
            (Ok(points), Ok(decay_days)) => {
                let i = scoring::RuleInput {
                    name: input.one("name").to_string(),
                    trigger_kind: input.one("trigger_kind").to_string(),
                    // Page rules name their pages in a field of their own.
                    target: Some(
                        input
                            .one(if input.one("trigger_kind") == "page_visit" {
                                "pattern"
                            } else {
                                "target"
                            })
                            .to_string(),
                    )
                    .filter(|t| !t.is_empty()),
                    points: points.unwrap_or(0),
                    decay_days,
                    active: true,
                };
                scoring::save_rule(db, None, &i).await.map(|_| ())
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
        _ => match (number("points"), number("status_id")) {
            (Ok(points), Ok(status_id)) => {
                let i = scoring::ThresholdInput {
                    name: input.one("name").to_string(),
                    points: points.unwrap_or(0),
                    segment_tag_id: None,
                    reps: input.all("reps").iter().filter_map(|r| r.parse().ok()).collect(),
                    status_id,
                    task_type_id: None,
                    notify: !input.one("notify").is_empty(),
                    active: true,
                };
                scoring::save_threshold(db, None, &i).await.map(|_| ())
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        },
    };
    match done {
        Ok(()) => Ok(see_other("/marketing/scoring")),
        Err(AppError::Invalid(e)) => {
            let errors = error_list(&v.user.fmt(), &e);
            scoring_view(&s, &v, input, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

pub struct ToCallRow {
    pub id: i64,
    pub name: String,
    pub account: String,
    pub phone: String,
    pub email: String,
    pub score: i64,
    pub why: String,
    pub since: String,
    pub owner: String,
}

#[derive(Template)]
#[template(path = "to_call.html")]
struct ToCallPage {
    l: Layout,
    rows: Vec<ToCallRow>,
    /// Everyone's leads (managers), with their rep.
    all: bool,
}

/// The qualified leads to call: a rep's own; everyone's for those who manage records.
async fn to_call_page(State(s): State<AppState>, PageUser(v): PageUser) -> PageResult {
    let fmt = v.user.fmt();
    let all = v.can(Permission::DeleteRecords);
    let cat = settings::catalog(&s.carnet.db).await.or_page(&v)?;
    let leads = carnet_app::marketing::leads::to_call(&s.carnet.db, (!all).then_some(v.user.id), 500)
        .await
        .or_page(&v)?;
    let rows = leads
        .into_iter()
        .map(|r| ToCallRow {
            id: r.contact_id,
            name: carnet_app::records::contacts::display_name(r.first_name.as_deref(), &r.last_name),
            account: r.account.unwrap_or_default(),
            phone: r.phone.or(r.mobile).unwrap_or_default(),
            email: r.email.unwrap_or_default(),
            score: r.score,
            why: r.interest.map(|i| fmt.t(&format!("leads.why_{i}")).to_string()).unwrap_or_default(),
            since: fmt.datetime(r.qualified_at),
            owner: r
                .owner_id
                .and_then(|o| cat.users.iter().find(|u| u.id == o))
                .map(|u| u.name.clone())
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    Ok(super::render(&ToCallPage {
        rows,
        all,
        l: Layout::new(&v, fmt.t("leads.title"), "leads"),
    }))
}

#[derive(Template)]
#[template(path = "requalification.html")]
struct RqPage {
    l: Layout,
    tab: &'static str,
    /// Open suggestions: the suggestion, the change in words, the evidence in words.
    open: Vec<(requalify::Suggestion, String, String)>,
    rules: Vec<(requalify::Rule, String)>,
    tags: Vec<(i64, String)>,
    draft: RawInput,
    errors: Vec<String>,
}

async fn rq_view(s: &AppState, v: &Viewer, draft: RawInput, errors: Vec<String>, status: StatusCode) -> PageResult {
    allowed(v)?;
    let fmt = v.user.fmt();
    let db = &s.carnet.db;
    let cat = settings::catalog(db).await.or_page(v)?;
    let tag = |id: i64| cat.tag(id).map(|(_, t)| t.name.clone()).unwrap_or_else(|| "—".into());
    let change = |from: i64, to: i64| format!("{} → {}", tag(from), tag(to));
    let open = requalify::suggestions(db, Some("open"))
        .await
        .or_page(v)?
        .into_iter()
        .map(|sg| {
            let e: serde_json::Value = serde_json::from_str(&sg.evidence).unwrap_or_default();
            let n = |k: &str| e[k].as_i64().unwrap_or(0);
            let evidence = format!(
                "{} {} · {} {} · {} {} ({} {} {})",
                n("opens"),
                fmt.t("rq.opens"),
                n("clicks"),
                fmt.t("rq.clicks"),
                n("forms"),
                fmt.t("rq.forms"),
                fmt.t("rq.in"),
                n("days"),
                fmt.t("mk.days")
            );
            let c = change(sg.from_tag_id, sg.to_tag_id);
            (sg, c, evidence)
        })
        .collect();
    let rules = requalify::rules(db)
        .await
        .or_page(v)?
        .into_iter()
        .map(|r| {
            let text = format!(
                "{} · ≥ {} {} · ≥ {} {} · ≥ {} {} ({} {} {})",
                change(r.from_tag_id, r.to_tag_id),
                r.min_opens,
                fmt.t("rq.opens"),
                r.min_clicks,
                fmt.t("rq.clicks"),
                r.min_forms,
                fmt.t("rq.forms"),
                fmt.t("rq.in"),
                r.within_days,
                fmt.t("mk.days")
            );
            (r, text)
        })
        .collect();
    let tags = cat
        .categories
        .iter()
        .flat_map(|c| c.tags.iter().map(move |t| (t.id, format!("{} / {}", c.name, t.name))))
        .collect();
    Ok(render_status(
        status,
        &RqPage {
            tab: "requalification",
            open,
            rules,
            tags,
            draft,
            errors,
            l: Layout::new(v, fmt.t("rq.title"), "marketing"),
        },
    ))
}

async fn rq_page(State(s): State<AppState>, PageUser(v): PageUser) -> PageResult {
    rq_view(&s, &v, RawInput::default(), vec![], StatusCode::OK).await
}

async fn rq_post(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    allowed(&v)?;
    let input = checked_form(&v, pairs)?;
    let db = &s.carnet.db;
    let id = input.one("id").parse::<i64>().unwrap_or(0);
    let whole = |k: &str| -> Result<i64, AppError> {
        match input.one(k).trim() {
            "" => Ok(0),
            raw => raw.parse::<i64>().map_err(|_| AppError::field(k, "must be a whole number")),
        }
    };
    let done = match input.one("op") {
        "run" => requalify::evaluate(db).await.map(|_| ()),
        "accept" | "dismiss" => requalify::decide(db, v.user.id, id, input.one("op") == "accept").await,
        "delete_rule" => requalify::delete_rule(db, id).await,
        _ => match (
            whole("from_tag_id"),
            whole("to_tag_id"),
            whole("min_opens"),
            whole("min_clicks"),
            whole("min_forms"),
            whole("within_days"),
        ) {
            (Ok(from_tag_id), Ok(to_tag_id), Ok(min_opens), Ok(min_clicks), Ok(min_forms), Ok(within_days)) => {
                let i = requalify::RuleInput {
                    name: input.one("name").to_string(),
                    from_tag_id,
                    to_tag_id,
                    min_opens,
                    min_clicks,
                    min_forms,
                    within_days,
                };
                requalify::create_rule(db, &i).await.map(|_| ())
            }
            (Err(e), ..) | (_, Err(e), ..) | (_, _, Err(e), ..) | (_, _, _, Err(e), ..) | (.., Err(e), _) | (.., Err(e)) => Err(e),
        },
    };
    match done {
        Ok(()) => Ok(see_other("/marketing/requalification")),
        Err(AppError::Invalid(e)) => {
            let errors = error_list(&v.user.fmt(), &e);
            rq_view(&s, &v, input, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(AppError::Conflict(m)) => rq_view(&s, &v, RawInput::default(), vec![m], StatusCode::CONFLICT).await,
        Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builder_keeps_the_stored_order_and_adds_new_fields() {
        let stored = FormSpec::default_fields();
        let offered: Vec<(String, String)> = ["first_name", "last_name", "email", "city", "company"]
            .iter()
            .map(|k| (k.to_string(), k.to_string()))
            .collect();
        let raw = RawInput::from_pairs(
            [
                ("use.email", "mandatory"),
                ("use.last_name", "mandatory"),
                ("use.company", "optional"),
                ("use.city", "mandatory"),
                ("label.city", "Your town"),
                ("use.first_name", "off"),
                ("questions", "Q1\n- a = 1\n- b = 2"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let i = form_input(&raw, &offered, &stored).unwrap();
        let spec = i.spec.unwrap();
        let keys: Vec<&str> = spec.fields.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["last_name", "email", "company", "city"]);
        assert_eq!(spec.fields[3].label.as_deref(), Some("Your town"));
        assert!(spec.fields[3].required);
        assert_eq!(spec.questions[0].choices.len(), 2);
        let bad = RawInput::from_pairs([("bands".to_string(), "x | y".to_string())]);
        assert!(form_input(&bad, &offered, &stored).unwrap_err().get("bands").is_some());
    }
}

#[derive(Template)]
#[template(path = "website.html")]
struct WebsitePage {
    l: Layout,
    tab: &'static str,
    /// Each site, its tag, its visitors over 30 days and the known ones.
    sites: Vec<(tracking::Site, String, String, String)>,
    draft: RawInput,
    errors: Vec<String>,
}

async fn website_view(s: &AppState, v: &Viewer, draft: RawInput, errors: Vec<String>, status: StatusCode) -> PageResult {
    allowed(v)?;
    let fmt = v.user.fmt();
    let db = &s.carnet.db;
    let stats = tracking::site_stats(db).await.or_page(v)?;
    let url = s.carnet.site().or_page(v)?.public_url();
    let sites = tracking::sites(db)
        .await
        .or_page(v)?
        .into_iter()
        .map(|site| {
            let tag = crate::api::marketing::tracker_snippet(&url, &site.site_key);
            let (seen, known) = stats.get(&site.id).copied().unwrap_or((0, 0));
            let visitors = if seen == 1 { fmt.t("mk.visitor_1") } else { fmt.t("mk.visitors_n") };
            (
                site,
                tag,
                format!("{} {visitors}", fmt.number(seen as f64, 0)),
                fmt.number(known as f64, 0),
            )
        })
        .collect();
    Ok(render_status(
        status,
        &WebsitePage {
            tab: "website",
            sites,
            draft,
            errors,
            l: Layout::new(v, fmt.t("mk.website"), "marketing"),
        },
    ))
}

async fn website_page(State(s): State<AppState>, PageUser(v): PageUser) -> PageResult {
    website_view(&s, &v, RawInput::default(), vec![], StatusCode::OK).await
}

async fn website_post(State(s): State<AppState>, PageUser(v): PageUser, Form(pairs): Form<Vec<(String, String)>>) -> PageResult {
    allowed(&v)?;
    let input = checked_form(&v, pairs)?;
    let db = &s.carnet.db;
    let id = input.one("id").parse::<i64>().ok();
    let done = match (input.one("op"), id) {
        ("delete", Some(id)) => tracking::delete_site(db, id).await,
        _ => {
            let retention = match input.one("retention_days").trim() {
                "" => Ok(395),
                raw => raw
                    .parse::<i64>()
                    .map_err(|_| AppError::field("retention_days", "must be a whole number")),
            };
            match retention {
                Ok(retention_days) => {
                    let i = tracking::SiteInput {
                        name: input.one("name").to_string(),
                        origins: input.one("origins").to_string(),
                        consent_required: !input.one("consent_required").is_empty(),
                        retention_days,
                        active: id.is_none() || !input.one("active").is_empty(),
                    };
                    tracking::save_site(db, id, &i).await.map(|_| ())
                }
                Err(e) => Err(e),
            }
        }
    };
    s.carnet.tracker.forget_sites();
    match done {
        Ok(()) => Ok(see_other("/marketing/website")),
        Err(AppError::Invalid(e)) => {
            let errors = labelled_errors(&v.user.fmt(), &e, "site");
            website_view(&s, &v, input, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(super::PageError::new(super::app_error_page(e, Some(&v)))),
    }
}
