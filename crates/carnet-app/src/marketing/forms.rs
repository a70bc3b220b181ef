//! Forms and landing pages (M2), questionnaires among them (M3): what a
//! company builds in its settings. A form's consent text is versioned: a
//! changed text is a new version, and each consent names the one its contact saw.

use crate::db::{q, Db, Handle, Tx};
use crate::error::{AppError, Result};
use crate::platform::events;
use carnet_domain::marketing::{self, FormSpec};
use carnet_domain::records::Catalog;
use carnet_domain::values::WebUrl;
use carnet_domain::FieldErrors;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A form as stored, with its consent text in force.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Form {
    pub id: i64,
    /// Its hosted page is `/f/{slug}`.
    pub slug: String,
    pub name: String,
    /// `en` or `fr`: the language of its page and emails.
    pub locale: String,
    pub campaign_id: Option<i64>,
    pub spec: FormSpec,
    pub title: String,
    pub intro: Option<String>,
    pub thank_you: String,
    /// After a submission the visitor goes there instead of reading the thank-you message.
    pub redirect_url: Option<String>,
    /// Sites allowed to embed the form (`https://www.example.com`).
    pub allowed_origins: Vec<String>,
    pub consent_text: Option<String>,
    pub consent_version: Option<i64>,
    /// The consent box must be ticked to submit.
    pub consent_required: bool,
    /// A confirmation link is emailed; the consent counts once it is followed.
    pub double_opt_in: bool,
    /// A questionnaire's respondent receives their results by email.
    pub results_email: bool,
    /// The file a submission unlocks (a lead magnet).
    pub file: Option<FormFile>,
    pub active: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A lead magnet: the file's name, type and size.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FormFile {
    pub name: String,
    pub content_type: String,
    pub size_bytes: i64,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    slug: String,
    name: String,
    locale: String,
    campaign_id: Option<i64>,
    spec: String,
    title: String,
    intro: Option<String>,
    thank_you: String,
    redirect_url: Option<String>,
    allowed_origins: String,
    consent_required: bool,
    double_opt_in: bool,
    results_template_key: Option<String>,
    file_name: Option<String>,
    file_type: Option<String>,
    file_size: Option<i64>,
    active: bool,
    created_at: i64,
    updated_at: i64,
    consent_text: Option<String>,
    consent_version: Option<i64>,
}

const SELECT: &str = "SELECT f.id, f.slug, f.name, f.locale, f.campaign_id, f.spec, f.title, f.intro, f.thank_you, f.redirect_url, \
    f.allowed_origins, f.consent_required, f.double_opt_in, f.results_template_key, f.file_name, f.file_type, f.file_size, f.active, f.created_at, f.updated_at, \
    ct.body AS consent_text, ct.version AS consent_version FROM forms f \
    LEFT JOIN consent_texts ct ON ct.form_id = f.id AND ct.version = (SELECT MAX(version) FROM consent_texts WHERE form_id = f.id)";

impl Row {
    fn into_form(self) -> Result<Form> {
        let spec: FormSpec =
            serde_json::from_str(&self.spec).map_err(|e| AppError::Internal(format!("form {}: stored spec unreadable: {e}", self.id)))?;
        Ok(Form {
            id: self.id,
            slug: self.slug,
            name: self.name,
            locale: self.locale,
            campaign_id: self.campaign_id,
            spec,
            title: self.title,
            intro: self.intro,
            thank_you: self.thank_you,
            redirect_url: self.redirect_url,
            allowed_origins: self.allowed_origins.split_whitespace().map(String::from).collect(),
            // An emptied text is stored as an empty version: no consent asked.
            consent_text: self.consent_text.filter(|t| !t.is_empty()),
            consent_version: self.consent_version,
            consent_required: self.consent_required,
            double_opt_in: self.double_opt_in,
            results_email: self.results_template_key.is_some(),
            file: match (self.file_name, self.file_type, self.file_size) {
                (Some(name), Some(content_type), Some(size_bytes)) => Some(FormFile {
                    name,
                    content_type,
                    size_bytes,
                }),
                _ => None,
            },
            active: self.active,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A form as a marketer writes it (API body, settings page).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FormInput {
    pub slug: String,
    pub name: String,
    /// `en` (default) or `fr`.
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub campaign_id: Option<i64>,
    /// The fields asked (default: first and last name and email mandatory;
    /// position, company and phone optional), and a questionnaire's questions and bands.
    #[serde(default)]
    pub spec: Option<FormSpec>,
    pub title: String,
    #[serde(default)]
    pub intro: Option<String>,
    /// Shown after a submission (a default in the form's language when empty).
    #[serde(default)]
    pub thank_you: Option<String>,
    #[serde(default)]
    pub redirect_url: Option<String>,
    /// Space-separated origins allowed to embed the form.
    #[serde(default)]
    pub allowed_origins: Option<String>,
    /// The consent text shown beside a checkbox; empty: no consent asked.
    #[serde(default)]
    pub consent_text: Option<String>,
    #[serde(default)]
    pub consent_required: bool,
    #[serde(default)]
    pub double_opt_in: bool,
    #[serde(default)]
    pub results_email: bool,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// A form input checked: every reason filed under its field.
struct Checked {
    slug: String,
    name: String,
    locale: String,
    spec: FormSpec,
    title: String,
    intro: Option<String>,
    thank_you: String,
    redirect_url: Option<String>,
    origins: Vec<String>,
    consent_text: Option<String>,
}

fn check(i: &FormInput, cat: &Catalog) -> std::result::Result<Checked, FieldErrors> {
    let mut e = FieldErrors::new();
    let slug = e.check("slug", marketing::slug(&i.slug));
    let name = e.check("name", marketing::form_name(&i.name));
    let locale = match i.locale.as_deref().unwrap_or("en") {
        l @ ("en" | "fr") => Some(l.to_string()),
        _ => {
            e.add("locale", "must be en or fr");
            None
        }
    };
    let spec = i.spec.clone().unwrap_or_else(FormSpec::default_fields);
    if let Err(se) = spec.check(cat) {
        for (k, v) in se.0 {
            e.add(format!("spec.{k}"), v);
        }
    }
    let title = e.check("title", marketing::form_name(&i.title));
    let intro = e
        .check("intro", marketing::form_text(i.intro.as_deref().unwrap_or(""), false))
        .flatten();
    let thank_you = e
        .check("thank_you", marketing::form_text(i.thank_you.as_deref().unwrap_or(""), false))
        .flatten();
    let redirect_url = match i.redirect_url.as_deref().map(str::trim).unwrap_or("") {
        "" => None,
        raw => e.check("redirect_url", WebUrl::parse(raw).map(|u| u.url)),
    };
    let origins = e
        .check("allowed_origins", marketing::origins(i.allowed_origins.as_deref().unwrap_or("")))
        .unwrap_or_default();
    let consent_text = e
        .check("consent_text", marketing::form_text(i.consent_text.as_deref().unwrap_or(""), false))
        .flatten();
    if consent_text.is_none() && i.consent_required {
        e.add("consent_text", "is required when consent is mandatory");
    }
    if consent_text.is_none() && i.double_opt_in {
        e.add("consent_text", "is required for double opt-in (it says what the visitor confirms)");
    }
    if i.results_email && spec.bands.is_empty() {
        e.add("results_email", "needs result bands (a questionnaire)");
    }
    e.into_result()?;
    let locale = locale.unwrap();
    let thank_you = thank_you.unwrap_or_else(|| {
        if locale == "fr" {
            "Merci ! Nous avons bien reçu votre demande.".into()
        } else {
            "Thank you! We have received your request.".into()
        }
    });
    Ok(Checked {
        slug: slug.unwrap(),
        name: name.unwrap(),
        locale,
        spec,
        title: title.unwrap(),
        intro,
        thank_you,
        redirect_url,
        origins,
        consent_text,
    })
}

async fn checks_in_tx(tx: &mut Tx, i: &FormInput, slug: &str, except: i64) -> Result<()> {
    let other: Option<i64> = q("SELECT id FROM forms WHERE slug = $1 AND id <> $2")
        .bind(slug)
        .bind(except)
        .scalar_opt(&mut *tx)
        .await?;
    if other.is_some() {
        return Err(AppError::field("slug", "is the address of another form"));
    }
    if let Some(cid) = i.campaign_id {
        let found: Option<i64> = q("SELECT id FROM campaigns WHERE id = $1").bind(cid).scalar_opt(&mut *tx).await?;
        if found.is_none() {
            return Err(AppError::field("campaign_id", "is not a known campaign"));
        }
    }
    Ok(())
}

/// Writes a new consent version when the text differs from the one in force.
async fn version_consent(tx: &mut Tx, form_id: i64, text: Option<&str>) -> Result<()> {
    let current: Option<(i64, String)> = q("SELECT version, body FROM consent_texts WHERE form_id = $1 ORDER BY version DESC LIMIT 1")
        .bind(form_id)
        .fetch_optional(&mut *tx)
        .await?;
    let text = text.unwrap_or("");
    let next = match &current {
        Some((_, body)) if body == text => return Ok(()),
        Some((v, _)) => v + 1,
        None if text.is_empty() => return Ok(()),
        None => 1,
    };
    q("INSERT INTO consent_texts (form_id, version, body, created_at) VALUES ($1, $2, $3, $4)")
        .bind(form_id)
        .bind(next)
        .bind(text)
        .bind(tx.now())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn results_key(i: &FormInput) -> Option<&'static str> {
    i.results_email.then_some("questionnaire_results")
}

pub async fn create(db: &Db, cat: &Catalog, i: &FormInput) -> Result<i64> {
    let c = check(i, cat).map_err(AppError::Invalid)?;
    let mut tx = db.begin().await?;
    checks_in_tx(&mut tx, i, &c.slug, 0).await?;
    let t = tx.now();
    let id = q(
        "INSERT INTO forms (slug, name, locale, campaign_id, spec, title, intro, thank_you, redirect_url, allowed_origins, \
                consent_required, double_opt_in, results_template_key, active, created_at, updated_at) \
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING id",
    )
    .bind(c.slug)
    .bind(c.name)
    .bind(c.locale)
    .bind(i.campaign_id)
    .bind(serde_json::to_string(&c.spec).expect("a spec serializes"))
    .bind(c.title)
    .bind(c.intro)
    .bind(c.thank_you)
    .bind(c.redirect_url)
    .bind(c.origins.join(" "))
    .bind(i.consent_required)
    .bind(i.double_opt_in)
    .bind(results_key(i))
    .bind(i.active)
    .bind(t)
    .insert_id(&mut tx)
    .await?;
    version_consent(&mut tx, id, c.consent_text.as_deref()).await?;
    events::settings_changed(&mut tx, "forms", false).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(db: &Db, cat: &Catalog, id: i64, i: &FormInput) -> Result<()> {
    let c = check(i, cat).map_err(AppError::Invalid)?;
    let mut tx = db.begin().await?;
    checks_in_tx(&mut tx, i, &c.slug, id).await?;
    let n = q("UPDATE forms SET slug = $1, name = $2, locale = $3, campaign_id = $4, spec = $5, title = $6, intro = $7, thank_you = $8, \
               redirect_url = $9, allowed_origins = $10, consent_required = $11, double_opt_in = $12, results_template_key = $13, active = $14, \
               updated_at = $15 WHERE id = $16")
        .bind(c.slug)
        .bind(c.name)
        .bind(c.locale)
        .bind(i.campaign_id)
        .bind(serde_json::to_string(&c.spec).expect("a spec serializes"))
        .bind(c.title)
        .bind(c.intro)
        .bind(c.thank_you)
        .bind(c.redirect_url)
        .bind(c.origins.join(" "))
        .bind(i.consent_required)
        .bind(i.double_opt_in)
        .bind(results_key(i))
        .bind(i.active)
        .bind(tx.now())
        .bind(id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    version_consent(&mut tx, id, c.consent_text.as_deref()).await?;
    events::settings_changed(&mut tx, "forms", false).await?;
    tx.commit().await?;
    Ok(())
}

/// Sets (or replaces) the file a form delivers; the old one's bytes go.
pub async fn set_file(c: &crate::Carnet, id: i64, upload: crate::records::attachments::Upload<'_>) -> Result<()> {
    if upload.bytes.is_empty() {
        return Err(AppError::field("file", "is empty"));
    }
    if upload.bytes.len() > c.max_upload_bytes {
        return Err(AppError::field(
            "file",
            format!("is larger than {} MB", c.max_upload_bytes / (1024 * 1024)),
        ));
    }
    let name = crate::records::attachments::clean_name(upload.file_name)?;
    let key = crate::access::token_hash(&crate::access::random_token());
    tokio::fs::write(c.files_dir.join(&key), upload.bytes)
        .await
        .map_err(AppError::internal)?;
    let stored = replace_file(
        &c.db,
        id,
        Some((
            name,
            upload.content_type.chars().take(100).collect(),
            upload.bytes.len() as i64,
            key.clone(),
        )),
    )
    .await;
    match stored {
        Ok(old) => {
            crate::records::attachments::remove_files(c, &old).await;
            Ok(())
        }
        Err(e) => {
            crate::records::attachments::remove_files(c, &[key]).await;
            Err(e)
        }
    }
}

/// Takes a form's file away.
pub async fn remove_file(c: &crate::Carnet, id: i64) -> Result<()> {
    let old = replace_file(&c.db, id, None).await?;
    crate::records::attachments::remove_files(c, &old).await;
    Ok(())
}

/// Writes a form's file columns; returns the storage key they replaced.
async fn replace_file(db: &Db, id: i64, file: Option<(String, String, i64, String)>) -> Result<Vec<String>> {
    let mut tx = db.begin().await?;
    let old: Option<Option<String>> = q("SELECT file_key FROM forms WHERE id = $1").bind(id).scalar_opt(&mut tx).await?;
    let old = old.ok_or(AppError::NotFound)?;
    let (name, ctype, size, key) = match file {
        Some((n, t, s, k)) => (Some(n), Some(t), Some(s), Some(k)),
        None => (None, None, None, None),
    };
    q("UPDATE forms SET file_name = $1, file_type = $2, file_size = $3, file_key = $4, updated_at = $5 WHERE id = $6")
        .bind(name)
        .bind(ctype)
        .bind(size)
        .bind(key)
        .bind(tx.now())
        .bind(id)
        .execute(&mut tx)
        .await?;
    events::settings_changed(&mut tx, "forms", false).await?;
    tx.commit().await?;
    Ok(old.into_iter().collect())
}

/// Deletes a form; its submissions go with it, the contacts and their consents stay.
pub async fn delete(c: &crate::Carnet, id: i64) -> Result<()> {
    let mut tx = c.db.begin().await?;
    let file: Option<Option<String>> = q("SELECT file_key FROM forms WHERE id = $1").bind(id).scalar_opt(&mut tx).await?;
    // Consents keep the text they name: the form's versions go only when no consent names them.
    let named: i64 =
        q("SELECT COUNT(*) FROM contact_consents cc JOIN consent_texts ct ON ct.id = cc.consent_text_id WHERE ct.form_id = $1")
            .bind(id)
            .scalar(&mut tx)
            .await?;
    if named > 0 {
        return Err(AppError::Conflict(
            "contacts gave their consent on this form: deactivate it instead of deleting it".into(),
        ));
    }
    let n = q("DELETE FROM forms WHERE id = $1").bind(id).execute(&mut tx).await?;
    if n == 0 {
        return Err(AppError::NotFound);
    }
    events::settings_changed(&mut tx, "forms", false).await?;
    tx.commit().await?;
    crate::records::attachments::remove_files(c, &file.flatten().into_iter().collect::<Vec<_>>()).await;
    Ok(())
}

/// Where a form's file is stored (for the download).
pub async fn file_key(db: &Db, id: i64) -> Result<Option<String>> {
    Ok(q("SELECT file_key FROM forms WHERE id = $1")
        .bind(id)
        .scalar_opt::<Option<String>>(&mut db.conn().await?)
        .await?
        .flatten())
}

pub async fn get(h: &mut impl Handle, id: i64) -> Result<Form> {
    let row: Option<Row> = q(format!("{SELECT} WHERE f.id = $1")).bind(id).fetch_optional(h).await?;
    row.ok_or(AppError::NotFound)?.into_form()
}

/// The active form at an address.
pub async fn by_slug(db: &Db, slug: &str) -> Result<Option<Form>> {
    let row: Option<Row> = q(format!("{SELECT} WHERE f.slug = $1 AND f.active = TRUE"))
        .bind(slug)
        .fetch_optional(&mut db.conn().await?)
        .await?;
    row.map(Row::into_form).transpose()
}

pub async fn list(db: &Db) -> Result<Vec<Form>> {
    let rows: Vec<Row> = q(format!("{SELECT} ORDER BY f.active DESC, f.name, f.id"))
        .fetch_all(&mut db.conn().await?)
        .await?;
    rows.into_iter().map(Row::into_form).collect()
}

/// Submissions per form (for the list in settings).
pub async fn submission_counts(db: &Db) -> Result<std::collections::HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = q("SELECT form_id, COUNT(*) FROM form_submissions GROUP BY form_id")
        .fetch_all(&mut db.conn().await?)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The input that would save a form as it is (the settings page starts from it).
pub fn to_input(f: &Form) -> FormInput {
    FormInput {
        slug: f.slug.clone(),
        name: f.name.clone(),
        locale: Some(f.locale.clone()),
        campaign_id: f.campaign_id,
        spec: Some(f.spec.clone()),
        title: f.title.clone(),
        intro: f.intro.clone(),
        thank_you: Some(f.thank_you.clone()),
        redirect_url: f.redirect_url.clone(),
        allowed_origins: Some(f.allowed_origins.join(" ")),
        consent_text: f.consent_text.clone(),
        consent_required: f.consent_required,
        double_opt_in: f.double_opt_in,
        results_email: f.results_email,
        active: f.active,
    }
}
