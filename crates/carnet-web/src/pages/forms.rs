//! Public forms (M2, M3): the hosted page `/f/{slug}`, the embeddable snippet's
//! script and fragment (served with CORS to the allowed origins only), the
//! submission, and the double opt-in confirmation.
//!
//! Bots are dropped without a word: a filled honeypot field, a form sent
//! sooner than a person could fill it (the page carries a signed time stamp),
//! or a forged stamp answer like a success and keep nothing. People get their
//! form back with what they typed and each error beside its field.

use super::{browser_fmt, render, render_status, Layout};
use crate::AppState;
use askama::Template;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use carnet_app::marketing::forms::{self, Form as FormDef};
use carnet_app::marketing::submit::{self, Confirmation, Submitted};
use carnet_app::{settings, AppError};
use carnet_domain::fields::{Entity, FieldKind};
use carnet_domain::i18n::{Fmt, Locale};
use carnet_domain::records::{Catalog, RawInput};
use carnet_domain::FieldErrors;
use std::net::SocketAddr;

/// The largest submission read (a questionnaire of sixty questions fits).
pub const BODY_LIMIT: usize = 32 * 1024;
/// Faster than this after the page was served, a submission is a bot's.
pub const MIN_FILL_SECS: i64 = 3;
/// A page older than this is served again (the stamp expired).
const MAX_PAGE_AGE_SECS: i64 = 86_400;
/// The honeypot: hidden from people, filled by bots.
const HONEYPOT: &str = "homepage";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/f/{slug}",
            get(page)
                .post(submit_form)
                .options(preflight)
                .layer(DefaultBodyLimit::max(BODY_LIMIT)),
        )
        .route("/f/{slug}/embed.js", get(embed_script))
        .route("/f/file/{token}", get(download))
        .route(
            "/f/confirm/{token}",
            get(confirm_page).post(confirm).layer(DefaultBodyLimit::max(1024)),
        )
}

pub struct FieldView {
    pub key: String,
    pub label: String,
    /// `text`, `email`, `tel`, `url`, `number`, `date`, `textarea`, `select`, `checkbox`.
    pub input: &'static str,
    pub required: bool,
    pub value: String,
    pub choices: Vec<String>,
    pub error: Option<String>,
}

pub struct QuestionView {
    pub name: String,
    pub label: String,
    pub multiple: bool,
    pub required: bool,
    /// (index, label, ticked)
    pub choices: Vec<(usize, String, bool)>,
    pub error: Option<String>,
}

/// The form itself: the same markup on the hosted page and in the embed.
#[derive(Template)]
#[template(path = "form_body.html")]
pub struct FormBody {
    pub l: Layout,
    pub action: String,
    pub title: String,
    pub intro: Option<String>,
    pub fields: Vec<FieldView>,
    pub questions: Vec<QuestionView>,
    pub consent: Option<String>,
    pub consent_required: bool,
    pub consent_checked: bool,
    pub consent_error: Option<String>,
    pub stamp: String,
    pub hidden: Vec<(String, String)>,
    pub error: Option<String>,
    pub honeypot: &'static str,
}

#[derive(Template)]
#[template(path = "form_page.html")]
struct FormPage {
    l: Layout,
    body: String,
}

#[derive(Template)]
#[template(path = "form_done.html")]
struct DonePage {
    l: Layout,
    message: String,
    score: Option<i64>,
    band: Option<String>,
    band_text: Option<String>,
    confirmation_sent: bool,
    download: Option<String>,
}

#[derive(Template)]
#[template(path = "form_confirm.html")]
struct ConfirmPage {
    l: Layout,
    done: bool,
    already: bool,
}

fn fmt_of(form: &FormDef) -> Fmt {
    Fmt::new(Locale::parse(&form.locale).unwrap_or(Locale::En), chrono_tz::Europe::Paris)
}

/// A reason of the validation layer in the form's language (the public sees
/// only these few).
fn reason(fmt: &Fmt, r: &str) -> String {
    let key = match r {
        "is required" => "form.err_required",
        "must be ticked to send the form" => "form.err_consent",
        "is not one of the choices" => "form.err_choice",
        "takes one choice" => "form.err_one",
        r if r.starts_with("is not a valid email") => "form.err_email",
        r if r.starts_with("is not a phone number") || r.contains("phone") => "form.err_phone",
        _ => return r.to_string(),
    };
    fmt.t(key).to_string()
}

fn input_of(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::LongText => "textarea",
        FieldKind::Number | FieldKind::Currency => "number",
        FieldKind::Date => "date",
        FieldKind::Boolean => "checkbox",
        FieldKind::SingleChoice | FieldKind::MultipleChoice => "select",
        FieldKind::Url => "url",
        FieldKind::Email => "email",
        FieldKind::Phone => "tel",
        FieldKind::Text => "text",
    }
}

fn field_views(form: &FormDef, cat: &Catalog, fmt: &Fmt, input: &RawInput, errors: &FieldErrors) -> Vec<FieldView> {
    form.spec
        .fields
        .iter()
        .map(|f| {
            let custom = match (f.key.strip_prefix("account.cf."), f.key.strip_prefix("cf.")) {
                (Some(k), _) => cat.fields_for(Entity::Account).find(|d| d.key == k),
                (None, Some(k)) => cat.fields_for(Entity::Contact).find(|d| d.key == k),
                _ => None,
            };
            let (label, input_kind, choices) = match custom {
                Some(d) => (d.label.clone(), input_of(d.kind), d.choices.clone()),
                None => {
                    let key = match f.key.as_str() {
                        "company" => "form.company".to_string(),
                        "call_me" => "form.call_me".to_string(),
                        k => format!("field.{}", k.strip_prefix("account.").unwrap_or(k)),
                    };
                    let kind = match f.key.as_str() {
                        "email" => "email",
                        "phone" | "mobile" => "tel",
                        "account.website" => "url",
                        "address" => "textarea",
                        "call_me" => "checkbox",
                        _ => "text",
                    };
                    (fmt.t(&key).to_string(), kind, vec![])
                }
            };
            FieldView {
                key: f.key.clone(),
                label: f.label.clone().unwrap_or(label),
                input: input_kind,
                required: f.required,
                value: input.one(&f.key).to_string(),
                choices,
                error: errors.get(&f.key).map(|r| reason(fmt, r)),
            }
        })
        .collect()
}

fn question_views(form: &FormDef, fmt: &Fmt, input: &RawInput, errors: &FieldErrors) -> Vec<QuestionView> {
    form.spec
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let name = format!("q.{i}");
            let ticked = input.all(&name);
            QuestionView {
                label: q.label.clone(),
                multiple: q.multiple,
                required: q.required,
                choices: q
                    .choices
                    .iter()
                    .enumerate()
                    .map(|(j, c)| (j, c.label.clone(), ticked.iter().any(|t| t == &j.to_string())))
                    .collect(),
                error: errors.get(&name).map(|r| reason(fmt, r)),
                name,
            }
        })
        .collect()
}

fn stamp(s: &AppState, slug: &str) -> String {
    let t = s.carnet.db.now();
    match s.carnet.site() {
        Ok(site) => format!("{t}.{}", site.sign("form-stamp", &format!("{slug}.{t}"))),
        Err(_) => String::new(),
    }
}

/// How old the page a submission came from is, if its stamp is genuine.
fn stamp_age(s: &AppState, slug: &str, raw: &str) -> Option<i64> {
    let (t, sig) = raw.split_once('.')?;
    let t: i64 = t.parse().ok()?;
    let site = s.carnet.site().ok()?;
    site.verify("form-stamp", &format!("{slug}.{t}"), sig)
        .then(|| s.carnet.db.now() - t)
}

async fn body(s: &AppState, form: &FormDef, input: &RawInput, errors: &FieldErrors, error: Option<String>) -> Result<FormBody, AppError> {
    let cat = settings::catalog(&s.carnet.db).await?;
    let fmt = fmt_of(form);
    let hidden = submit::HIDDEN
        .iter()
        .chain([&"campaign", &submit::VISITOR])
        .filter_map(|k| {
            let v = input.one(k);
            (!v.is_empty()).then(|| (k.to_string(), v.chars().take(200).collect()))
        })
        .collect();
    Ok(FormBody {
        action: format!("{}/f/{}", s.carnet.site()?.public_url(), form.slug),
        title: form.title.clone(),
        intro: form.intro.clone(),
        fields: field_views(form, &cat, &fmt, input, errors),
        questions: question_views(form, &fmt, input, errors),
        consent: form.consent_text.clone(),
        consent_required: form.consent_required,
        consent_checked: !input.one("consent").is_empty(),
        consent_error: errors.get("consent").map(|r| reason(&fmt, r)),
        stamp: stamp(s, &form.slug),
        hidden,
        error,
        honeypot: HONEYPOT,
        l: Layout::anonymous(fmt, form.title.clone()),
    })
}

fn full_page(b: FormBody, status: StatusCode) -> Response {
    let fmt = b.l.fmt;
    let title = b.title.clone();
    match b.render() {
        Ok(html) => render_status(
            status,
            &FormPage {
                l: Layout::anonymous(fmt, title),
                body: html,
            },
        ),
        Err(e) => {
            tracing::error!(error = %e, "form template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The CORS answer for an allowed origin (none for any other).
fn cors(form: &FormDef, headers: &HeaderMap, r: &mut Response) {
    if let Some(origin) = allowed_origin(form, headers) {
        if let Ok(v) = HeaderValue::from_str(&origin) {
            let h = r.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Content-Type, Accept"),
            );
        }
    }
}

fn origin_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
}

fn allowed_origin(form: &FormDef, headers: &HeaderMap) -> Option<String> {
    origin_of(headers).filter(|o| form.allowed_origins.iter().any(|a| a == o))
}

/// A post from another site that is not allowed to embed the form.
fn foreign(s: &AppState, form: &FormDef, headers: &HeaderMap) -> bool {
    let Some(origin) = origin_of(headers) else {
        return false;
    };
    let own = s.carnet.site().map(|x| x.public_url().to_ascii_lowercase()).unwrap_or_default();
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let same = origin == own || origin.split_once("://").is_some_and(|(_, h)| h == host.to_ascii_lowercase());
    !same && allowed_origin(form, headers).is_none()
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"))
}

#[derive(serde::Deserialize)]
pub struct PageQuery {
    /// The form alone, for the embed script.
    #[serde(default)]
    fragment: Option<String>,
    #[serde(flatten)]
    rest: std::collections::BTreeMap<String, String>,
}

async fn find(s: &AppState, slug: &str, fmt: Fmt) -> Result<FormDef, Response> {
    match forms::by_slug(&s.carnet.db, slug).await {
        Ok(Some(f)) => Ok(f),
        Ok(None) => Err(super::error_page(StatusCode::NOT_FOUND, Some(fmt), "error.not_found")),
        Err(e) => Err(public_error(fmt, e)),
    }
}

async fn page(State(s): State<AppState>, headers: HeaderMap, Path(slug): Path<String>, Query(q): Query<PageQuery>) -> Response {
    let form = match find(&s, &slug, browser_fmt(&headers)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    // UTM values and a campaign in the page's address travel as hidden fields.
    let input = RawInput::from_pairs(q.rest);
    let b = match body(&s, &form, &input, &FieldErrors::new(), None).await {
        Ok(b) => b,
        Err(e) => return public_error(fmt_of(&form), e),
    };
    if q.fragment.is_some() {
        let mut r = render(&b);
        cors(&form, &headers, &mut r);
        return r;
    }
    full_page(b, StatusCode::OK)
}

async fn preflight(State(s): State<AppState>, headers: HeaderMap, Path(slug): Path<String>) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    if let Ok(Some(form)) = forms::by_slug(&s.carnet.db, &slug).await {
        cors(&form, &headers, &mut r);
    }
    r
}

/// The answer to an embedded form's post.
#[derive(serde::Serialize)]
struct EmbedAnswer {
    ok: bool,
    message: Option<String>,
    redirect: Option<String>,
    /// The form's file, when the submission unlocked it.
    download: Option<String>,
    errors: std::collections::BTreeMap<String, String>,
}

fn json(form: &FormDef, headers: &HeaderMap, status: StatusCode, a: EmbedAnswer) -> Response {
    let mut r = (status, Json(a)).into_response();
    cors(form, headers, &mut r);
    r
}

async fn submit_form(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let form = match find(&s, &slug, browser_fmt(&headers)).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let fmt = fmt_of(&form);
    let as_json = wants_json(&headers);
    if foreign(&s, &form, &headers) {
        let mut errors = std::collections::BTreeMap::new();
        errors.insert("origin".to_string(), fmt.t("form.err_origin").to_string());
        return (
            StatusCode::FORBIDDEN,
            Json(EmbedAnswer {
                ok: false,
                message: None,
                redirect: None,
                download: None,
                errors,
            }),
        )
            .into_response();
    }
    let key = format!("form:{}", addr.ip());
    if !s.public_limiter.allowed(&key) {
        return too_many(&form, &headers, fmt, as_json);
    }
    s.public_limiter.fail(&key);
    let input = RawInput::from_pairs(pairs);
    let thanks = |r: &Submitted| done(&form, &headers, fmt, as_json, Some(r));
    // Bots: a filled honeypot, a missing or forged stamp, a form sent faster than a person types.
    let age = stamp_age(&s, &slug, input.one("_t"));
    if !input.one(HONEYPOT).is_empty() || age.is_none_or(|a| a < MIN_FILL_SECS) {
        tracing::info!(form = %slug, "form submission dropped as a bot's");
        return done(&form, &headers, fmt, as_json, None);
    }
    if age.is_some_and(|a| a > MAX_PAGE_AGE_SECS) {
        return again(
            &s,
            &form,
            &headers,
            &input,
            FieldErrors::new(),
            Some(fmt.t("form.expired").into()),
            as_json,
        )
        .await;
    }
    let cat = match settings::catalog(&s.carnet.db).await {
        Ok(c) => c,
        Err(e) => return public_error(fmt, e),
    };
    let network = carnet_domain::marketing::network(addr.ip());
    match submit::submit(&s.carnet.db, &cat, &form, &input, Some(&network)).await {
        Ok(r) => thanks(&r),
        Err(AppError::Invalid(errors)) => again(&s, &form, &headers, &input, errors, None, as_json).await,
        Err(AppError::TooManyRequests) => too_many(&form, &headers, fmt, as_json),
        Err(e) => public_error(fmt, e),
    }
}

fn too_many(form: &FormDef, headers: &HeaderMap, fmt: Fmt, as_json: bool) -> Response {
    if as_json {
        return json(
            form,
            headers,
            StatusCode::TOO_MANY_REQUESTS,
            EmbedAnswer {
                ok: false,
                message: Some(fmt.t("form.too_many").into()),
                redirect: None,
                download: None,
                errors: Default::default(),
            },
        );
    }
    super::error_page(StatusCode::TOO_MANY_REQUESTS, Some(fmt), "form.too_many")
}

/// The form again, with what was typed and the reasons.
async fn again(
    s: &AppState,
    form: &FormDef,
    headers: &HeaderMap,
    input: &RawInput,
    errors: FieldErrors,
    error: Option<String>,
    as_json: bool,
) -> Response {
    let fmt = fmt_of(form);
    if as_json {
        let errors = errors.0.iter().map(|(k, v)| (k.clone(), reason(&fmt, v))).collect();
        return json(
            form,
            headers,
            StatusCode::UNPROCESSABLE_ENTITY,
            EmbedAnswer {
                ok: false,
                message: error,
                redirect: None,
                download: None,
                errors,
            },
        );
    }
    let summary = error.or_else(|| (!errors.is_empty()).then(|| fmt.t("form.fix").to_string()));
    match body(s, form, input, &errors, summary).await {
        Ok(b) => full_page(b, StatusCode::UNPROCESSABLE_ENTITY),
        Err(e) => public_error(fmt, e),
    }
}

/// The thank-you (or a redirect); `None` for a dropped bot, answered alike.
fn done(form: &FormDef, headers: &HeaderMap, fmt: Fmt, as_json: bool, r: Option<&Submitted>) -> Response {
    if as_json {
        let message = match r {
            Some(r) => thank_you(form, fmt, r),
            None => form.thank_you.clone(),
        };
        return json(
            form,
            headers,
            StatusCode::OK,
            EmbedAnswer {
                ok: true,
                message: Some(message),
                redirect: form.redirect_url.clone(),
                download: r.and_then(|r| r.download.clone()),
                errors: Default::default(),
            },
        );
    }
    if let Some(url) = &form.redirect_url {
        return (StatusCode::SEE_OTHER, [(header::LOCATION, url.clone())]).into_response();
    }
    render(&DonePage {
        l: Layout::anonymous(fmt, form.title.clone()),
        message: form.thank_you.clone(),
        score: r.and_then(|r| r.score),
        band: r.and_then(|r| r.band.clone()),
        band_text: r.and_then(|r| r.band_text.clone()),
        confirmation_sent: r.is_some_and(|r| r.confirmation_sent),
        download: r.and_then(|r| r.download.clone()),
    })
}

fn thank_you(form: &FormDef, fmt: Fmt, r: &Submitted) -> String {
    let mut m = form.thank_you.clone();
    if let (Some(score), Some(band)) = (r.score, &r.band) {
        m.push_str(&format!("\n{} {score} — {band}", fmt.t("form.your_score")));
        if let Some(t) = &r.band_text {
            m.push_str(&format!("\n{t}"));
        }
    }
    if r.confirmation_sent {
        m.push_str(&format!("\n{}", fmt.t("form.check_inbox")));
    }
    m
}

async fn embed_script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/embed.js"),
    )
        .into_response()
}

async fn confirm_page(State(_s): State<AppState>, headers: HeaderMap, Path(_token): Path<String>) -> Response {
    // A page with a button: mail scanners that fetch links do not confirm for the person.
    let fmt = browser_fmt(&headers);
    render(&ConfirmPage {
        l: Layout::anonymous(fmt, fmt.t("form.confirm_title")),
        done: false,
        already: false,
    })
}

async fn confirm(State(s): State<AppState>, headers: HeaderMap, Path(token): Path<String>) -> Response {
    let fmt = browser_fmt(&headers);
    let r = submit::confirm(&s.carnet.db, &token).await;
    let already = match r {
        Ok(Confirmation::Confirmed { .. }) => false,
        Ok(Confirmation::AlreadyConfirmed) => true,
        Err(e) => return public_error(fmt, e),
    };
    render(&ConfirmPage {
        l: Layout::anonymous(fmt, fmt.t("form.confirm_title")),
        done: true,
        already,
    })
}

#[derive(Template)]
#[template(path = "form_expired.html")]
struct ExpiredPage {
    l: Layout,
    slug: String,
}

/// A lead magnet's download: the file, or the form again when the link is past its date.
async fn download(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let fmt = browser_fmt(&headers);
    let network = carnet_domain::marketing::network(addr.ip());
    match submit::download(&s.carnet, &token, Some(&network)).await {
        Ok(submit::Download::File { name, content_type, bytes }) => super::file_response(&name, &content_type, bytes),
        Ok(submit::Download::Expired { slug }) => render_status(
            StatusCode::GONE,
            &ExpiredPage {
                l: Layout::anonymous(fmt, fmt.t("form.file_expired")),
                slug,
            },
        ),
        Err(e) => public_error(fmt, e),
    }
}

fn public_error(fmt: Fmt, e: AppError) -> Response {
    if let AppError::Internal(detail) = &e {
        tracing::error!(error = %detail, "public form");
    }
    let key = match e {
        AppError::NotFound => "error.not_found",
        AppError::TooManyRequests => "form.too_many",
        _ => "error.title",
    };
    super::error_page(crate::error::status_of(&e), Some(fmt), key)
}
