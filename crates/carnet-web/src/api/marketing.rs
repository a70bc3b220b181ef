//! Marketing over JSON: campaigns with their costs and figures, forms (hosted
//! and embeddable, questionnaires among them), their submissions, and a
//! contact's consents and campaign touches.

use super::openapi::{delete, get, post, put, Op};
use super::types::{Body, Decimal, List};
use super::Path;
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use carnet_app::marketing::campaigns::{self, Campaign, Cost, Report};
use carnet_app::marketing::forms::{self, Form, FormInput};
use carnet_app::marketing::leads::ToCall;
use carnet_app::marketing::requalify::{self, Rule as RqRule, RuleInput as RqRuleInput, Suggestion};
use carnet_app::marketing::scoring::{self, Award, Band as ScoreBand, Rule, RuleInput, Threshold, ThresholdInput};
use carnet_app::marketing::submit::{self, Consent};
use carnet_app::marketing::tracking::{self, Site, SiteInput, Visits};
use carnet_app::{settings, AppError};
use carnet_domain::access::Permission;
use carnet_domain::marketing::{CampaignDraft, CostDraft};
use carnet_domain::records::RawInput;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

type ApiResult = Result<Response, ApiError>;

pub fn ops() -> Vec<Op> {
    vec![
        get("/campaigns", list_campaigns)
            .requires(Permission::ReadRecords)
            .doc("marketing", "Campaigns, running ones first, archived last")
            .answers::<List<Campaign>>(200),
        post("/campaigns", create_campaign)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Add a campaign")
            .body::<CampaignIn>()
            .answers::<Campaign>(201),
        get("/campaigns/{id}", get_campaign)
            .requires(Permission::ReadRecords)
            .doc("marketing", "One campaign")
            .answers::<Campaign>(200),
        put("/campaigns/{id}", update_campaign)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Change a campaign (or archive it)")
            .body::<CampaignIn>()
            .answers::<Campaign>(200),
        get("/campaigns/{id}/report", campaign_report)
            .requires(Permission::ReadRecords)
            .doc(
                "marketing",
                "What a campaign brought and cost: leads, opportunities, won amount, costs, cost per lead and per customer",
            )
            .answers::<Report>(200),
        get("/campaigns/{id}/costs", list_costs)
            .requires(Permission::ReadRecords)
            .doc("marketing", "A campaign's cost entries, newest first")
            .answers::<List<Cost>>(200),
        post("/campaigns/{id}/costs", add_cost)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Add a cost entry to a campaign")
            .body::<CostIn>()
            .answers::<Cost>(201),
        delete("/campaigns/{id}/costs/{cost_id}", delete_cost)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Remove a cost entry"),
        get("/forms", list_forms)
            .requires(Permission::ReadRecords)
            .doc("marketing", "Forms and landing pages, with their consent text in force")
            .answers::<List<Form>>(200),
        post("/forms", create_form)
            .requires(Permission::ManageMarketing)
            .doc(
                "marketing",
                "Add a form: its fields, consent text, double opt-in, thank-you message or redirect, the sites allowed to embed it, and for a questionnaire its questions and bands",
            )
            .body::<FormInput>()
            .answers::<Form>(201),
        get("/forms/{id}", get_form)
            .requires(Permission::ReadRecords)
            .doc("marketing", "One form, with its hosted address and embed snippet")
            .answers::<FormOut>(200),
        put("/forms/{id}", update_form)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Change a form (a changed consent text becomes a new version)")
            .body::<FormInput>()
            .answers::<Form>(200),
        delete("/forms/{id}", delete_form)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Delete a form no contact consented on (deactivate it otherwise)"),
        get("/contacts/{id}/consents", contact_consents)
            .requires(Permission::ReadRecords)
            .doc(
                "marketing",
                "What a contact consented to: the form, the text's version, when, and when the double opt-in was confirmed",
            )
            .answers::<List<Consent>>(200),
        get("/scoring/distribution", score_distribution)
            .requires(Permission::ReadRecords)
            .doc(
                "marketing",
                "How many contacts have a score in each band (below 1, 1–9, 10–24, 25–49, 50–99, 100 and more)",
            )
            .answers::<List<ScoreBand>>(200),
        get("/scoring/rules", list_rules)
            .requires(Permission::ReadRecords)
            .doc("marketing", "Lead scoring rules: what earns points, how many, for how long")
            .answers::<List<Rule>>(200),
        post("/scoring/rules", create_rule)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Add a scoring rule (everyone is re-scored in the background)")
            .body::<RuleInput>()
            .answers::<Rule>(201),
        put("/scoring/rules/{id}", update_rule)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Change a scoring rule (everyone is re-scored in the background)")
            .body::<RuleInput>()
            .answers::<Rule>(200),
        delete("/scoring/rules/{id}", delete_rule)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Delete a scoring rule: its points are taken back"),
        get("/scoring/thresholds", list_thresholds)
            .requires(Permission::ReadRecords)
            .doc("marketing", "Scores at which a lead is handed to a rep")
            .answers::<List<Threshold>>(200),
        post("/scoring/thresholds", create_threshold)
            .requires(Permission::ManageMarketing)
            .doc(
                "marketing",
                "Add a threshold: the reps leads go to in turn, the account status set, the call task, the notice",
            )
            .body::<ThresholdInput>()
            .answers::<Threshold>(201),
        put("/scoring/thresholds/{id}", update_threshold)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Change a threshold")
            .body::<ThresholdInput>()
            .answers::<Threshold>(200),
        delete("/scoring/thresholds/{id}", delete_threshold)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Delete a threshold"),
        get("/requalification/rules", list_rq_rules)
            .requires(Permission::ReadRecords)
            .doc("marketing", "Re-qualification rules: the behaviour that proposes moving an account to another segment")
            .answers::<List<RqRule>>(200),
        post("/requalification/rules", create_rq_rule)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Add a re-qualification rule")
            .body::<RqRuleInput>()
            .answers::<RqRule>(201),
        delete("/requalification/rules/{id}", delete_rq_rule)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Delete a re-qualification rule (and its suggestions)"),
        post("/requalification/run", run_requalification)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Evaluate the rules now (the daily job does it every day)")
            .answers::<Ran>(200),
        get("/requalification/suggestions", list_suggestions)
            .requires(Permission::ReadRecords)
            .doc("marketing", "Suggested segment changes with their evidence, newest first")
            .query::<SuggestionQuery>()
            .answers::<List<Suggestion>>(200),
        post("/requalification/suggestions/{id}/decision", decide_suggestion)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Accept a suggestion (the account's segment tag changes) or dismiss it")
            .body::<SuggestionDecision>()
            .answers::<Suggestion>(200),
        get("/leads/to-call", to_call)
            .requires(Permission::ReadRecords)
            .doc(
                "marketing",
                "Qualified leads no action was done on since they qualified, oldest first: yours, or everyone's with `all=true` (managers)",
            )
            .query::<ToCallQuery>()
            .answers::<List<ToCall>>(200),
        get("/contacts/{id}/score", contact_score)
            .requires(Permission::ReadRecords)
            .doc("marketing", "A contact's score and the awards that make it (rule, points, expiry)")
            .answers::<Score>(200),
        get("/tracking/sites", list_sites)
            .requires(Permission::ReadRecords)
            .doc("marketing", "The websites tracked, each with the script tag to put on its pages")
            .answers::<List<SiteOut>>(200),
        post("/tracking/sites", create_site)
            .requires(Permission::ManageMarketing)
            .doc(
                "marketing",
                "Track a website: its origins, whether hits need the visitor's consent, how long page views are kept",
            )
            .body::<SiteInput>()
            .answers::<SiteOut>(201),
        get("/tracking/sites/{id}", get_site)
            .requires(Permission::ReadRecords)
            .doc("marketing", "A tracked website")
            .answers::<SiteOut>(200),
        put("/tracking/sites/{id}", update_site)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Change a tracked website (its key stays)")
            .body::<SiteInput>()
            .answers::<SiteOut>(200),
        delete("/tracking/sites/{id}", delete_site)
            .requires(Permission::ManageMarketing)
            .doc("marketing", "Stop tracking a website: its visitors and page views are deleted"),
        get("/contacts/{id}/visits", contact_visits)
            .requires(Permission::ReadRecords)
            .doc(
                "marketing",
                "A contact's visits to the company's websites: counts, and the latest visits with their pages",
            )
            .query::<VisitsQuery>()
            .answers::<Visits>(200),
        get("/contacts/{id}/touches", contact_touches)
            .requires(Permission::ReadRecords)
            .doc("marketing", "The campaigns a contact came through, newest first")
            .answers::<List<Touch>>(200),
    ]
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignIn {
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// `emailing`, `linkedin_ads`, `trade_show`, `conference`, `webinar`, `blog` or `other`.
    pub channel: String,
    /// YYYY-MM-DD.
    #[schemars(extend("format" = "date"))]
    pub starts_on: Option<String>,
    #[schemars(extend("format" = "date"))]
    pub ends_on: Option<String>,
    /// The segment tag it targets (id or name).
    pub segment: Option<super::types::Ref>,
    pub description: Option<String>,
    #[serde(default)]
    pub archived: bool,
}

async fn draft(s: &AppState, b: &CampaignIn) -> Result<CampaignDraft, AppError> {
    let cat = settings::catalog(&s.carnet.db).await?;
    let mut raw = RawInput::default();
    raw.set("name", b.name.clone());
    raw.set("channel", b.channel.clone());
    for (k, v) in [
        ("starts_on", &b.starts_on),
        ("ends_on", &b.ends_on),
        ("description", &b.description),
    ] {
        if let Some(v) = v {
            raw.set(k, v.clone());
        }
    }
    if let Some(r) = &b.segment {
        raw.set("segment", r.as_str());
    }
    CampaignDraft::parse(&raw, &cat).map_err(AppError::Invalid)
}

async fn list_campaigns(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(campaigns::list(&s.carnet.db).await?)).into_response())
}

async fn create_campaign(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<CampaignIn>) -> ApiResult {
    let d = draft(&s, &b).await?;
    let id = campaigns::create(&s.carnet.db, &d).await?;
    if b.archived {
        campaigns::update(&s.carnet.db, id, &d, true).await?;
    }
    let c = campaigns::get(&mut s.carnet.db.conn().await.map_err(AppError::from)?, id).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

async fn get_campaign(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(campaigns::get(&mut s.carnet.db.conn().await.map_err(AppError::from)?, id).await?).into_response())
}

async fn update_campaign(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<CampaignIn>) -> ApiResult {
    let d = draft(&s, &b).await?;
    campaigns::update(&s.carnet.db, id, &d, b.archived).await?;
    Ok(Json(campaigns::get(&mut s.carnet.db.conn().await.map_err(AppError::from)?, id).await?).into_response())
}

async fn campaign_report(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(campaigns::report(&s.carnet.db, id).await?).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CostIn {
    /// YYYY-MM-DD.
    #[schemars(extend("format" = "date"))]
    pub day: String,
    pub amount: Decimal,
    /// The company's currency when left out.
    #[schemars(regex(pattern = r"^[A-Za-z]{3}$"))]
    pub currency: Option<String>,
    #[schemars(length(min = 1, max = 200))]
    pub label: String,
}

async fn list_costs(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    campaigns::get(&mut s.carnet.db.conn().await.map_err(AppError::from)?, id).await?;
    Ok(Json(List::from(campaigns::costs(&s.carnet.db, id).await?)).into_response())
}

async fn add_cost(State(s): State<AppState>, ApiUser(v): ApiUser, Path(id): Path<i64>, Body(b): Body<CostIn>) -> ApiResult {
    let currency = carnet_app::analytics::engine::company_currency(&mut s.carnet.db.conn().await.map_err(AppError::from)?).await?;
    let mut raw = RawInput::default();
    raw.set("day", b.day);
    raw.set("amount", b.amount.0);
    raw.set("label", b.label);
    if let Some(c) = b.currency {
        raw.set("currency", c);
    }
    let d = CostDraft::parse(&raw, &currency).map_err(AppError::Invalid)?;
    let cost = campaigns::add_cost(&s.carnet.db, id, v.user.id, &d).await?;
    let added = campaigns::costs(&s.carnet.db, id)
        .await?
        .into_iter()
        .find(|c| c.id == cost)
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, Json(added)).into_response())
}

async fn delete_cost(State(s): State<AppState>, ApiUser(_): ApiUser, Path((id, cost)): Path<(i64, i64)>) -> ApiResult {
    campaigns::delete_cost(&s.carnet.db, id, cost).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A form with where it lives.
#[derive(Serialize, JsonSchema)]
pub struct FormOut {
    #[serde(flatten)]
    pub form: Form,
    /// The hosted page.
    pub url: String,
    /// What the company puts on its own site (its origin must be allowed).
    pub embed: String,
    pub submissions: i64,
}

pub fn embed_snippet(site_url: &str, slug: &str) -> String {
    format!("<div data-carnet-form=\"{slug}\"></div>\n<script src=\"{site_url}/f/{slug}/embed.js\" async></script>")
}

async fn list_forms(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(forms::list(&s.carnet.db).await?)).into_response())
}

async fn form_out(s: &AppState, id: i64) -> Result<FormOut, AppError> {
    let form = forms::get(&mut s.carnet.db.conn().await?, id).await?;
    let site = s.carnet.site()?.public_url();
    let submissions = forms::submission_counts(&s.carnet.db).await?.get(&id).copied().unwrap_or(0);
    Ok(FormOut {
        url: format!("{site}/f/{}", form.slug),
        embed: embed_snippet(&site, &form.slug),
        form,
        submissions,
    })
}

async fn create_form(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<FormInput>) -> ApiResult {
    let cat = settings::catalog(&s.carnet.db).await?;
    let id = forms::create(&s.carnet.db, &cat, &b).await?;
    let f = forms::get(&mut s.carnet.db.conn().await.map_err(AppError::from)?, id).await?;
    Ok((StatusCode::CREATED, Json(f)).into_response())
}

async fn get_form(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(form_out(&s, id).await?).into_response())
}

async fn update_form(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<FormInput>) -> ApiResult {
    let cat = settings::catalog(&s.carnet.db).await?;
    forms::update(&s.carnet.db, &cat, id, &b).await?;
    Ok(Json(forms::get(&mut s.carnet.db.conn().await.map_err(AppError::from)?, id).await?).into_response())
}

async fn delete_form(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    forms::delete(&s.carnet, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn contact_consents(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    exists(&s, id).await?;
    Ok(Json(List::from(submit::consents_of(&s.carnet.db, id).await?)).into_response())
}

/// A contact's coming through a campaign.
#[derive(Serialize, JsonSchema)]
pub struct Touch {
    pub campaign_id: i64,
    pub campaign: String,
    /// `form`, `link` or `manual`.
    pub via: String,
    pub at: i64,
}

async fn contact_touches(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    exists(&s, id).await?;
    let data: Vec<Touch> = campaigns::touches_of(&s.carnet.db, id)
        .await?
        .into_iter()
        .map(|(campaign_id, campaign, via, at)| Touch {
            campaign_id,
            campaign,
            via,
            at,
        })
        .collect();
    Ok(Json(List::from(data)).into_response())
}

async fn exists(s: &AppState, contact: i64) -> Result<(), AppError> {
    let cat = settings::catalog(&s.carnet.db).await?;
    carnet_app::records::contacts::get(&s.carnet.db, &cat, contact).await.map(|_| ())
}

async fn score_distribution(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(scoring::distribution(&s.carnet.db).await?)).into_response())
}

async fn list_rules(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(scoring::rules(&s.carnet.db).await?)).into_response())
}

async fn rule_out(s: &AppState, id: i64) -> Result<Rule, AppError> {
    scoring::rules(&s.carnet.db)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)
}

async fn create_rule(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<RuleInput>) -> ApiResult {
    let id = scoring::save_rule(&s.carnet.db, None, &b).await?;
    Ok((StatusCode::CREATED, Json(rule_out(&s, id).await?)).into_response())
}

async fn update_rule(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<RuleInput>) -> ApiResult {
    scoring::save_rule(&s.carnet.db, Some(id), &b).await?;
    Ok(Json(rule_out(&s, id).await?).into_response())
}

async fn delete_rule(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    scoring::delete_rule(&s.carnet.db, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_thresholds(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(scoring::thresholds(&s.carnet.db).await?)).into_response())
}

async fn threshold_out(s: &AppState, id: i64) -> Result<Threshold, AppError> {
    scoring::thresholds(&s.carnet.db)
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(AppError::NotFound)
}

async fn create_threshold(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<ThresholdInput>) -> ApiResult {
    let id = scoring::save_threshold(&s.carnet.db, None, &b).await?;
    Ok((StatusCode::CREATED, Json(threshold_out(&s, id).await?)).into_response())
}

async fn update_threshold(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<ThresholdInput>) -> ApiResult {
    scoring::save_threshold(&s.carnet.db, Some(id), &b).await?;
    Ok(Json(threshold_out(&s, id).await?).into_response())
}

async fn delete_threshold(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    scoring::delete_threshold(&s.carnet.db, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A contact's score and its awards.
#[derive(Serialize, JsonSchema)]
pub struct Score {
    pub score: i64,
    pub awards: Vec<Award>,
}

async fn contact_score(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    let (score, awards) = scoring::awards(&s.carnet.db, id).await?;
    Ok(Json(Score { score, awards }).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToCallQuery {
    /// Everyone's leads (for those who manage records), not only yours.
    pub all: Option<bool>,
}

async fn to_call(State(s): State<AppState>, ApiUser(v): ApiUser, super::Query(q): super::Query<ToCallQuery>) -> ApiResult {
    let all = q.all.unwrap_or(false);
    if all && !v.can(Permission::DeleteRecords) {
        return Err(AppError::Forbidden.into());
    }
    let data = carnet_app::marketing::leads::to_call(&s.carnet.db, (!all).then_some(v.user.id), 1000).await?;
    Ok(Json(List::from(data)).into_response())
}

async fn list_rq_rules(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    Ok(Json(List::from(requalify::rules(&s.carnet.db).await?)).into_response())
}

async fn create_rq_rule(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<RqRuleInput>) -> ApiResult {
    let id = requalify::create_rule(&s.carnet.db, &b).await?;
    let rule = requalify::rules(&s.carnet.db)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)?;
    Ok((StatusCode::CREATED, Json(rule)).into_response())
}

async fn delete_rq_rule(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    requalify::delete_rule(&s.carnet.db, id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What an evaluation found.
#[derive(Serialize, JsonSchema)]
pub struct Ran {
    /// Suggestions made.
    pub suggested: usize,
}

async fn run_requalification(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    let suggested = requalify::evaluate(&s.carnet.db).await?;
    Ok(Json(Ran { suggested }).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestionQuery {
    /// `open`, `accepted` or `dismissed` (all when left out).
    pub status: Option<String>,
}

async fn list_suggestions(State(s): State<AppState>, ApiUser(_): ApiUser, super::Query(q): super::Query<SuggestionQuery>) -> ApiResult {
    if let Some(st) = &q.status {
        if !["open", "accepted", "dismissed"].contains(&st.as_str()) {
            return Err(AppError::field("status", "must be open, accepted or dismissed").into());
        }
    }
    Ok(Json(List::from(requalify::suggestions(&s.carnet.db, q.status.as_deref()).await?)).into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestionDecision {
    /// True: the account changes segment; false: dismissed.
    pub accept: bool,
}

async fn decide_suggestion(
    State(s): State<AppState>,
    ApiUser(v): ApiUser,
    Path(id): Path<i64>,
    Body(b): Body<SuggestionDecision>,
) -> ApiResult {
    requalify::decide(&s.carnet.db, v.user.id, id, b.accept).await?;
    let out = requalify::suggestions(&s.carnet.db, None)
        .await?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or(AppError::NotFound)?;
    Ok(Json(out).into_response())
}

/// A tracked website and the tag its pages carry.
#[derive(Serialize, JsonSchema)]
pub struct SiteOut {
    #[serde(flatten)]
    pub site: Site,
    /// `<script async src="…/t/carnet.js" data-site="…"></script>`
    pub snippet: String,
}

/// The tag a tracked site's pages carry.
pub fn tracker_snippet(carnet_url: &str, site_key: &str) -> String {
    format!("<script async src=\"{carnet_url}/t/carnet.js\" data-site=\"{site_key}\"></script>")
}

fn site_out(s: &AppState, site: Site) -> Result<SiteOut, AppError> {
    let snippet = tracker_snippet(&s.carnet.site()?.public_url(), &site.site_key);
    Ok(SiteOut { site, snippet })
}

async fn list_sites(State(s): State<AppState>, ApiUser(_): ApiUser) -> ApiResult {
    let sites = tracking::sites(&s.carnet.db).await?;
    let out = sites.into_iter().map(|x| site_out(&s, x)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(List::from(out)).into_response())
}

async fn get_site(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    Ok(Json(site_out(&s, tracking::site(&s.carnet.db, id).await?)?).into_response())
}

async fn create_site(State(s): State<AppState>, ApiUser(_): ApiUser, Body(b): Body<SiteInput>) -> ApiResult {
    let id = tracking::save_site(&s.carnet.db, None, &b).await?;
    s.carnet.tracker.forget_sites();
    Ok((StatusCode::CREATED, Json(site_out(&s, tracking::site(&s.carnet.db, id).await?)?)).into_response())
}

async fn update_site(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>, Body(b): Body<SiteInput>) -> ApiResult {
    tracking::save_site(&s.carnet.db, Some(id), &b).await?;
    s.carnet.tracker.forget_sites();
    Ok(Json(site_out(&s, tracking::site(&s.carnet.db, id).await?)?).into_response())
}

async fn delete_site(State(s): State<AppState>, ApiUser(_): ApiUser, Path(id): Path<i64>) -> ApiResult {
    tracking::delete_site(&s.carnet.db, id).await?;
    s.carnet.tracker.forget_sites();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitsQuery {
    /// How many of the latest visits (1 to 100; 20 by default).
    #[schemars(range(min = 1, max = 100))]
    pub limit: Option<usize>,
}

async fn contact_visits(
    State(s): State<AppState>,
    ApiUser(_): ApiUser,
    Path(id): Path<i64>,
    super::Query(q): super::Query<VisitsQuery>,
) -> ApiResult {
    exists(&s, id).await?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(AppError::field("limit", "must be from 1 to 100").into());
    }
    Ok(Json(tracking::visits(&s.carnet.db, id, limit).await?).into_response())
}
