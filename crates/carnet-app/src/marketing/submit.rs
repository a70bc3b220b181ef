//! A visitor's submission (M2, M3): parsed against the form, then in one
//! transaction the contact found by email or created (and its company by
//! name), empty fields filled without overwriting what a rep typed (the
//! differences go to the timeline), the campaign touched, the consent stored
//! with its version, the answers scored, the confirmation or results email
//! queued in the outbox, and a `form_submitted` event recorded.
//!
//! The double opt-in link is signed and single-use: following it confirms the
//! consent and records `opt_in_confirmed`.

use super::campaigns;
use super::forms::Form;
use crate::access::{random_token, token_hash};
use crate::db::{q, Db, Tx};
use crate::error::{AppError, Result};
use crate::mail::library;
use crate::mail::merge::merge_for;
use crate::mail::outbox::{self, Category, NewEmail};
use crate::platform::events::{self, EventKind, NewEvent};
use crate::platform::signing;
use crate::records::timeline::{self, NewEntry};
use crate::records::{contacts, write};
use carnet_domain::fields::Entity;
use carnet_domain::i18n::Locale;
use carnet_domain::marketing::{Answers, Band, ACCOUNT_FORM_KEYS, CALL_ME};
use carnet_domain::records::{AccountDraft, Catalog, ContactDraft, RawInput};
use carnet_domain::values::{company_key, EmailAddress};
use carnet_domain::FieldErrors;
use serde::Serialize;

/// The hidden values a form carries from the page it is on (UTM parameters).
pub const HIDDEN: &[&str] = &["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
/// The field (and query parameter of the hosted page) that carries the
/// website visitor's anonymous id: their earlier visits join the contact.
pub const VISITOR: &str = "carnet_v";

/// At most this many submissions of one form by one address in an hour.
pub const PER_ADDRESS_PER_HOUR: i64 = 5;

/// What became of a submission.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Submitted {
    pub submission_id: i64,
    pub contact_id: i64,
    /// A new contact (false: an existing one, matched by email).
    pub created: bool,
    /// A questionnaire's total and band.
    pub score: Option<i64>,
    pub band: Option<String>,
    pub band_text: Option<String>,
    /// A confirmation link was emailed (double opt-in).
    pub confirmation_sent: bool,
    /// The form's file, at once (it is emailed too); after the confirmation with double opt-in.
    pub download: Option<String>,
}

/// A submission parsed against its form.
struct Parsed {
    contact: ContactDraft,
    call_me: bool,
    account: Option<AccountDraft>,
    consent: bool,
    answers: Answers,
    hidden: Vec<(String, String)>,
    /// The anonymous id of the website visitor who sent the form.
    visitor: Option<String>,
    campaign: Option<i64>,
}

/// The company's mandatory rules bind its people, not a visitor.
fn public(cat: &Catalog) -> Catalog {
    cat.without_rules()
}

fn parse(form: &Form, cat: &Catalog, input: &RawInput) -> std::result::Result<Parsed, FieldErrors> {
    let mut e = FieldErrors::new();
    let mut contact_in = RawInput::default();
    let mut account_in = RawInput::default();
    for f in &form.spec.fields {
        let raw = input.all(&f.key).iter().find(|v| !v.trim().is_empty()).cloned().unwrap_or_default();
        if f.required && raw.trim().is_empty() {
            e.add(f.key.clone(), "is required");
            continue;
        }
        if raw.trim().is_empty() || f.key == CALL_ME {
            continue;
        }
        if ACCOUNT_FORM_KEYS.contains(&f.key.as_str()) || f.key.starts_with("account.cf.") {
            let k = match f.key.as_str() {
                "company" => "name",
                k => k.strip_prefix("account.").unwrap_or(k),
            };
            account_in.set(k, raw);
        } else {
            contact_in.set(&f.key, raw);
        }
    }
    let cat = public(cat);
    let contact = match ContactDraft::parse(&contact_in, &cat, &[]) {
        Ok(d) => Some(d),
        Err(errs) => {
            for (k, v) in errs.0 {
                if e.get(&k).is_none() {
                    e.add(k, v);
                }
            }
            None
        }
    };
    let account = if account_in.one("name").is_empty() {
        None
    } else {
        match AccountDraft::parse(&account_in, &cat, &[]) {
            Ok(d) => Some(d),
            Err(errs) => {
                for (k, v) in errs.0 {
                    let key = if k == "name" {
                        "company".to_string()
                    } else {
                        format!("account.{k}")
                    };
                    e.add(key, v);
                }
                None
            }
        }
    };
    let consent = !input.one("consent").trim().is_empty();
    if form.consent_text.is_some() && form.consent_required && !consent {
        e.add("consent", "must be ticked to send the form");
    }
    let answers = match Answers::parse(&form.spec, input) {
        Ok(a) => a,
        Err(errs) => {
            for (k, v) in errs.0 {
                e.add(k, v);
            }
            Answers::default()
        }
    };
    e.into_result()?;
    let hidden = HIDDEN
        .iter()
        .filter_map(|k| {
            let v = input.one(k).trim();
            (!v.is_empty()).then(|| (k.to_string(), v.chars().take(200).collect()))
        })
        .collect();
    let campaign = input.one("campaign").trim().parse::<i64>().ok();
    // The website visitor id the embed script or the tracker's link passed on.
    let visitor = Some(input.one(VISITOR).trim().to_string()).filter(|v| carnet_domain::tracking::anon_id(v).is_ok());
    Ok(Parsed {
        visitor,
        call_me: form.spec.fields.iter().any(|f| f.key == CALL_ME) && !input.one(CALL_ME).trim().is_empty(),
        contact: contact.expect("no errors"),
        account,
        consent,
        answers,
        hidden,
        campaign,
    })
}

/// Fills a contact's empty fields from a submission; returns the merged
/// draft and the fields where the submission differs from what is kept.
fn merge(old: &ContactDraft, new: &ContactDraft) -> (ContactDraft, Vec<(String, String, String)>) {
    let mut out = old.clone();
    let mut conflicts = Vec::new();
    let mut take = |name: &str, kept: &mut Option<String>, given: Option<String>, same: fn(&str, &str) -> bool| {
        if let Some(g) = given {
            match kept {
                None => *kept = Some(g),
                Some(k) if !same(k, &g) => conflicts.push((name.to_string(), k.clone(), g)),
                _ => {}
            }
        }
    };
    fn eq(a: &str, b: &str) -> bool {
        carnet_domain::values::fold(a) == carnet_domain::values::fold(b)
    }
    fn digits(a: &str, b: &str) -> bool {
        // The national number: the last nine digits (a prefix +33 or 0 aside).
        let d = |s: &str| {
            let all: Vec<char> = s.chars().filter(char::is_ascii_digit).collect();
            all[all.len().saturating_sub(9)..].iter().collect::<String>()
        };
        d(a) == d(b)
    }
    take("first_name", &mut out.first_name, new.first_name.clone(), eq);
    take("job_title", &mut out.job_title, new.job_title.clone(), eq);
    take("address", &mut out.address, new.address.clone(), eq);
    take("postal_code", &mut out.postal_code, new.postal_code.clone(), eq);
    take("city", &mut out.city, new.city.clone(), eq);
    take("country", &mut out.country, new.country.clone(), eq);
    if !eq(&old.last_name, &new.last_name) {
        conflicts.push(("last_name".into(), old.last_name.clone(), new.last_name.clone()));
    }
    for (name, kept, given) in [("phone", &mut out.phone, &new.phone), ("mobile", &mut out.mobile, &new.mobile)] {
        match (kept.as_ref(), given) {
            (None, Some(g)) => *kept = Some(g.clone()),
            (Some(k), Some(g)) if !digits(&k.digits, &g.digits) => conflicts.push((name.into(), k.display.clone(), g.display.clone())),
            _ => {}
        }
    }
    for (field, v) in &new.custom {
        if !out.custom.iter().any(|(f, _)| f == field) {
            out.custom.push((*field, v.clone()));
        }
    }
    (out, conflicts)
}

fn draft_of(card: &contacts::ContactCard, cat: &Catalog) -> Result<ContactDraft> {
    ContactDraft::parse(&contacts::to_raw(card, cat), &public(cat), &[])
        .map_err(|e| AppError::Internal(format!("contact {} does not read back: {}", card.contact.id, e.summary())))
}

/// Takes a submission: see the module's documentation. Invalid input is an
/// `Invalid` error naming each field; nothing is written then.
pub async fn submit(db: &Db, cat: &Catalog, form: &Form, input: &RawInput, network: Option<&str>) -> Result<Submitted> {
    let p = parse(form, cat, input).map_err(AppError::Invalid)?;
    let email = p.contact.email.clone().expect("forms always ask the email");
    let mut tx = db.begin().await?;
    let found: Option<i64> = q("SELECT id FROM contacts WHERE email_key = $1 ORDER BY id LIMIT 1")
        .bind(email.normalized())
        .scalar_opt(&mut tx)
        .await?;
    if let Some(id) = found {
        let recent: i64 = q("SELECT COUNT(*) FROM form_submissions WHERE form_id = $1 AND contact_id = $2 AND created_at > $3")
            .bind(form.id)
            .bind(id)
            .bind(tx.now() - 3600)
            .scalar(&mut tx)
            .await?;
        if recent >= PER_ADDRESS_PER_HOUR {
            return Err(AppError::TooManyRequests);
        }
    }
    let (contact_id, created) = match found {
        Some(id) => {
            fill(&mut tx, cat, id, &p.contact, &form.name).await?;
            (id, false)
        }
        None => {
            let mut d = p.contact.clone();
            d.source = Some(form.name.clone());
            let id = write::insert(&mut tx, &public(cat), None, std::slice::from_ref(&d)).await?[0];
            q("UPDATE contacts SET source_form_id = $1 WHERE id = $2")
                .bind(form.id)
                .bind(id)
                .execute(&mut tx)
                .await?;
            (id, true)
        }
    };
    if let Some(a) = &p.account {
        link_company(&mut tx, cat, contact_id, a, &p.contact.full_name()).await?;
    }
    let campaign = match p.campaign {
        Some(c) => {
            q("SELECT id FROM campaigns WHERE id = $1")
                .bind(c)
                .scalar_opt::<i64>(&mut tx)
                .await?
        }
        None => None,
    }
    .or(form.campaign_id);
    if let Some(c) = campaign {
        campaigns::touch(&mut tx, contact_id, c, "form").await?;
    }
    let quiz = form.spec.is_questionnaire();
    let score = quiz.then(|| p.answers.score(&form.spec));
    let band: Option<Band> = score.and_then(|s| form.spec.band(s).cloned());
    let data = serde_json::json!({
        "values": input_values(form, input),
        "hidden": p.hidden.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
        "answers": p.answers.0,
    });
    let t = tx.now();
    let submission_id = q(
        "INSERT INTO form_submissions (form_id, contact_id, campaign_id, data, score, band, network, created_at) \
                           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(form.id)
    .bind(contact_id)
    .bind(campaign)
    .bind(data.to_string())
    .bind(score)
    .bind(band.as_ref().map(|b| b.label.clone()))
    .bind(network.map(String::from))
    .bind(t)
    .insert_id(&mut tx)
    .await?;
    let mut confirmation_sent = false;
    if let (true, Some(version)) = (p.consent, form.consent_version) {
        let text_id: i64 = q("SELECT id FROM consent_texts WHERE form_id = $1 AND version = $2")
            .bind(form.id)
            .bind(version)
            .scalar(&mut tx)
            .await?;
        let token = form.double_opt_in.then(random_token);
        q("INSERT INTO contact_consents (contact_id, form_id, consent_text_id, submission_id, given_at, confirmed_at, token_hash, network) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(contact_id)
            .bind(form.id)
            .bind(text_id)
            .bind(submission_id)
            .bind(t)
            .bind((!form.double_opt_in).then_some(t))
            .bind(token.as_deref().map(token_hash))
            .bind(network.map(String::from))
            .execute(&mut tx)
            .await?;
        if let Some(token) = token {
            let link = signing::site(tx.shared())?.url(&format!("/f/confirm/{token}"));
            send(&mut tx, form, contact_id, &email, "optin_confirmation", |m| {
                m.set("links.confirm", link);
            })
            .await?;
            confirmation_sent = true;
        }
    }
    // The file: now, unless it waits for the address to be confirmed.
    let download = if form.file.is_some() && !confirmation_sent {
        Some(send_file(&mut tx, form, contact_id, submission_id, &email).await?)
    } else {
        None
    };
    if let (true, Some(s), Some(b)) = (form.results_email, score, &band) {
        send(&mut tx, form, contact_id, &email, "questionnaire_results", |m| {
            m.set("results.score", s.to_string())
                .set("results.band", b.label.clone())
                .set("results.text", b.text.clone());
        })
        .await?;
    }
    let answers: Vec<serde_json::Value> = p
        .answers
        .0
        .iter()
        .map(|(q, cs)| {
            let question = &form.spec.questions[*q];
            serde_json::json!({
                "question": question.label,
                "choices": cs.iter().map(|c| question.choices[*c].label.clone()).collect::<Vec<_>>(),
            })
        })
        .collect();
    timeline::add(
        &mut tx,
        NewEntry {
            entity: Entity::Contact,
            record_id: contact_id,
            kind: "form_submitted",
            actor_id: None,
            title: &form.title,
            body: None,
            data: Some(serde_json::json!({
                "form_id": form.id, "submission_id": submission_id, "campaign_id": campaign,
                "answers": answers, "score": score, "band": band.as_ref().map(|b| b.label.clone()),
                "consent": p.consent, "hidden": data["hidden"],
            })),
        },
    )
    .await?;
    events::record(
        &mut tx,
        NewEvent::new(
            EventKind::FormSubmitted,
            "contact",
            contact_id,
            None,
            serde_json::json!({
                "form_id": form.id, "submission_id": submission_id, "campaign_id": campaign,
                "score": score, "band": band.as_ref().map(|b| b.label.clone()), "created": created, "call_me": p.call_me,
            }),
        ),
    )
    .await?;
    if let Some(v) = &p.visitor {
        super::tracking::join_anon(&mut tx, v, contact_id, "form").await?;
    }
    tx.commit().await?;
    Ok(Submitted {
        submission_id,
        contact_id,
        created,
        score,
        band: band.as_ref().map(|b| b.label.clone()),
        band_text: band.map(|b| b.text).filter(|t| !t.is_empty()),
        confirmation_sent,
        download,
    })
}

/// The form's own fields as typed (kept with the submission, bounded).
fn input_values(form: &Form, input: &RawInput) -> std::collections::BTreeMap<String, String> {
    form.spec
        .fields
        .iter()
        .filter_map(|f| {
            let v = input.one(&f.key).trim();
            (!v.is_empty()).then(|| (f.key.clone(), v.chars().take(2000).collect()))
        })
        .collect()
}

/// Fills an existing contact's empty fields; what differs goes to its timeline.
async fn fill(tx: &mut Tx, cat: &Catalog, id: i64, given: &ContactDraft, form_name: &str) -> Result<()> {
    let card = contacts::get_in(&mut *tx, cat, id).await?;
    let old = draft_of(&card, cat)?;
    let (merged, conflicts) = merge(&old, given);
    if serde_json::to_value(&merged).ok() != serde_json::to_value(&old).ok() {
        contacts::update_in(tx, &public(cat), &card, None, &merged).await?;
    }
    if !conflicts.is_empty() {
        let fields: Vec<serde_json::Value> = conflicts
            .into_iter()
            .map(|(field, kept, given)| serde_json::json!({"field": field, "kept": kept, "given": given}))
            .collect();
        timeline::add(
            tx,
            NewEntry {
                entity: Entity::Contact,
                record_id: id,
                kind: "form_conflict",
                actor_id: None,
                title: form_name,
                body: None,
                data: Some(serde_json::json!({ "fields": fields })),
            },
        )
        .await?;
    }
    Ok(())
}

/// Links the contact to the company it named: an account with that name (the
/// same key as duplicate detection), or a new one.
async fn link_company(tx: &mut Tx, cat: &Catalog, contact_id: i64, a: &AccountDraft, contact_name: &str) -> Result<()> {
    let found: Option<i64> = q("SELECT id FROM accounts WHERE company_key = $1 ORDER BY id LIMIT 1")
        .bind(company_key(&a.name))
        .scalar_opt(&mut *tx)
        .await?;
    let account = match found {
        Some(id) => id,
        None => {
            let mut d = a.clone();
            d.source = Some("Web form".into());
            write::insert(tx, &public(cat), None, std::slice::from_ref(&d)).await?[0]
        }
    };
    let linked: Option<i64> = q("SELECT contact_id FROM account_contacts WHERE account_id = $1 AND contact_id = $2")
        .bind(account)
        .bind(contact_id)
        .scalar_opt(&mut *tx)
        .await?;
    if linked.is_none() {
        contacts::link_in(&mut *tx, cat, None, account, contact_id, contact_name, None).await?;
    }
    Ok(())
}

/// Queues one of the form's emails to the visitor, in the form's language.
async fn send(
    tx: &mut Tx,
    form: &Form,
    contact_id: i64,
    to: &EmailAddress,
    key: &str,
    fill: impl FnOnce(&mut crate::mail::templates::Merge),
) -> Result<()> {
    let mut m = merge_for(&mut *tx, 0, Some(contact_id), None).await?;
    m.set("form.title", form.title.clone());
    fill(&mut m);
    let t = library::find(&mut *tx, key, &form.locale).await?;
    let r = library::render(&t, &m)?;
    let mut email = NewEmail::new(Category::Transactional, to.clone(), r.subject, r.html);
    email.template_key = Some(key.into());
    email.contact_id = Some(contact_id);
    email.to_name = Some(m.get("contact.name").to_string()).filter(|n| !n.is_empty());
    email.tracking = false;
    email.locale = Locale::parse(&form.locale).unwrap_or(Locale::En);
    outbox::queue(tx, email).await?;
    Ok(())
}

/// How long a download link works.
pub const DOWNLOAD_DAYS: i64 = 7;

/// A signed link to a submission's file, valid [`DOWNLOAD_DAYS`] from now.
fn download_url(site: &signing::Site, submission_id: i64, now: i64) -> String {
    let expires = now + DOWNLOAD_DAYS * 86_400;
    let message = format!("{submission_id}.{expires}");
    site.url(&format!("/f/file/{message}.{}", site.sign("form-file", &message)))
}

/// Emails the form's file link to the visitor; returns the link.
async fn send_file(tx: &mut Tx, form: &Form, contact_id: i64, submission_id: i64, to: &EmailAddress) -> Result<String> {
    let site = signing::site(tx.shared())?;
    let link = download_url(&site, submission_id, tx.now());
    let l = link.clone();
    send(tx, form, contact_id, to, "lead_magnet", |m| {
        m.set("links.download", l);
    })
    .await?;
    Ok(link)
}

/// What a download link gives.
pub enum Download {
    File {
        name: String,
        content_type: String,
        bytes: Vec<u8>,
    },
    /// A genuine link past its date: the visitor fills the form again.
    Expired { slug: String },
}

/// Follows a download link: checks its signature and date, reads the file
/// and records the download (an event for scoring and scenarios, a line on
/// the contact's timeline).
pub async fn download(c: &crate::Carnet, token: &str, network: Option<&str>) -> Result<Download> {
    let mut parts = token.splitn(3, '.');
    let (Some(sid), Some(exp), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AppError::NotFound);
    };
    let site = signing::site(c.db.shared())?;
    if !site.verify("form-file", &format!("{sid}.{exp}"), sig) {
        return Err(AppError::NotFound);
    }
    let (Ok(sid), Ok(exp)) = (sid.parse::<i64>(), exp.parse::<i64>()) else {
        return Err(AppError::NotFound);
    };
    let row: Option<(i64, Option<i64>, String, String)> =
        q("SELECT f.id, s.contact_id, f.slug, f.title FROM form_submissions s JOIN forms f ON f.id = s.form_id WHERE s.id = $1")
            .bind(sid)
            .fetch_optional(&mut c.db.conn().await?)
            .await?;
    let (form_id, contact_id, slug, title) = row.ok_or(AppError::NotFound)?;
    if c.db.now() > exp {
        return Ok(Download::Expired { slug });
    }
    let form = super::forms::get(&mut c.db.conn().await?, form_id).await?;
    let (Some(file), Some(key)) = (form.file, super::forms::file_key(&c.db, form_id).await?) else {
        return Err(AppError::NotFound);
    };
    let bytes = tokio::fs::read(c.files_dir.join(&key)).await.map_err(AppError::internal)?;
    if let Some(contact_id) = contact_id {
        let mut tx = c.db.begin().await?;
        let data = serde_json::json!({"form_id": form_id, "submission_id": sid, "file": file.name, "network": network});
        timeline::add(
            &mut tx,
            NewEntry {
                entity: Entity::Contact,
                record_id: contact_id,
                kind: "file_downloaded",
                actor_id: None,
                title: &title,
                body: None,
                data: Some(data.clone()),
            },
        )
        .await?;
        events::record(&mut tx, NewEvent::new(EventKind::FileDownloaded, "contact", contact_id, None, data)).await?;
        tx.commit().await?;
    }
    Ok(Download::File {
        name: file.name,
        content_type: file.content_type,
        bytes,
    })
}

/// What following a double opt-in link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    Confirmed {
        contact_id: i64,
        form_id: Option<i64>,
    },
    /// Already confirmed earlier (the link is single-use; a second visit changes nothing).
    AlreadyConfirmed,
}

/// Follows a double opt-in link: the consent counts from now, once.
pub async fn confirm(db: &Db, token: &str) -> Result<Confirmation> {
    let mut tx = db.begin().await?;
    let row: Option<(i64, i64, Option<i64>, Option<i64>)> =
        q("SELECT id, contact_id, form_id, confirmed_at FROM contact_consents WHERE token_hash = $1")
            .bind(token_hash(token))
            .fetch_optional(&mut tx)
            .await?;
    let (id, contact_id, form_id, confirmed) = row.ok_or(AppError::NotFound)?;
    if confirmed.is_some() {
        return Ok(Confirmation::AlreadyConfirmed);
    }
    let t = tx.now();
    let n = q("UPDATE contact_consents SET confirmed_at = $1 WHERE id = $2 AND confirmed_at IS NULL")
        .bind(t)
        .bind(id)
        .execute(&mut tx)
        .await?;
    if n == 0 {
        return Ok(Confirmation::AlreadyConfirmed);
    }
    timeline::add(
        &mut tx,
        NewEntry {
            entity: Entity::Contact,
            record_id: contact_id,
            kind: "opt_in_confirmed",
            actor_id: None,
            title: "",
            body: None,
            data: Some(serde_json::json!({"form_id": form_id, "consent_id": id})),
        },
    )
    .await?;
    // The file the form delivers, held back until now.
    let held: Option<(i64, i64)> =
        q("SELECT s.id, s.form_id FROM contact_consents cc JOIN form_submissions s ON s.id = cc.submission_id WHERE cc.id = $1")
            .bind(id)
            .fetch_optional(&mut tx)
            .await?;
    if let Some((submission_id, form_id)) = held {
        let form = super::forms::get(&mut tx, form_id).await?;
        let email: Option<String> = q("SELECT email FROM contacts WHERE id = $1")
            .bind(contact_id)
            .scalar_opt::<Option<String>>(&mut tx)
            .await?
            .flatten();
        if let (Some(_), Some(to)) = (&form.file, email.and_then(|e| EmailAddress::parse(&e).ok())) {
            send_file(&mut tx, &form, contact_id, submission_id, &to).await?;
        }
    }
    events::record(
        &mut tx,
        NewEvent::new(
            EventKind::OptInConfirmed,
            "contact",
            contact_id,
            None,
            serde_json::json!({"form_id": form_id, "consent_id": id}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Confirmation::Confirmed { contact_id, form_id })
}

/// A contact's consents, newest first.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, sqlx::FromRow)]
pub struct Consent {
    pub id: i64,
    pub form_id: Option<i64>,
    pub form_name: Option<String>,
    pub version: i64,
    /// The text the contact saw.
    pub text: String,
    pub given_at: i64,
    /// When the double opt-in link was followed (at once without double opt-in; none while pending).
    pub confirmed_at: Option<i64>,
}

pub async fn consents_of(db: &Db, contact_id: i64) -> Result<Vec<Consent>> {
    Ok(q(
        "SELECT cc.id, cc.form_id, f.name AS form_name, ct.version, ct.body AS text, cc.given_at, cc.confirmed_at \
          FROM contact_consents cc JOIN consent_texts ct ON ct.id = cc.consent_text_id LEFT JOIN forms f ON f.id = cc.form_id \
          WHERE cc.contact_id = $1 ORDER BY cc.given_at DESC, cc.id DESC",
    )
    .bind(contact_id)
    .fetch_all(&mut db.conn().await?)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use carnet_domain::values::Phone;

    fn draft(first: Option<&str>, last: &str, job: Option<&str>, phone: Option<&str>) -> ContactDraft {
        ContactDraft {
            first_name: first.map(String::from),
            last_name: last.into(),
            email: Some(EmailAddress::parse("a@example.com").unwrap()),
            phone: phone.map(|p| Phone::parse(p).unwrap()),
            mobile: None,
            job_title: job.map(String::from),
            owner_id: Some(3),
            source: Some("Fair".into()),
            address: None,
            postal_code: None,
            city: None,
            country: None,
            description: None,
            tag_ids: vec![],
            custom: vec![],
        }
    }

    #[test]
    fn a_submission_fills_empty_fields_and_reports_differences() {
        let kept = draft(None, "Martin", Some("CEO"), Some("+33 1 23 45 67 89"));
        let given = draft(Some("Camille"), "MARTIN", Some("Buyer"), Some("01 23 45 67 89"));
        let (m, conflicts) = merge(&kept, &given);
        assert_eq!(m.first_name.as_deref(), Some("Camille"));
        assert_eq!(m.job_title.as_deref(), Some("CEO"), "what a rep typed stays");
        assert_eq!(m.owner_id, Some(3));
        assert_eq!(conflicts, vec![("job_title".to_string(), "CEO".to_string(), "Buyer".to_string())]);
    }
}
