//! A rep's own email from a contact or opportunity card (M6): written by hand
//! or started from a template, sent from the company's address under the rep's
//! name with `Reply-To` the rep, tracked, and logged on the timelines of the
//! contact, its account and the opportunity.

use super::library;
use super::outbox::{self, Category, NewEmail};
use super::templates;
use crate::db::{q, Db};
use crate::error::{AppError, Result};
use carnet_domain::values::EmailAddress;
use carnet_domain::FieldErrors;

/// What the rep wrote.
#[derive(Debug, Clone, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OneOff {
    /// The contact written to (their address unless `to` is given).
    pub contact_id: Option<i64>,
    /// The opportunity the email is about (its contact when `contact_id` is not given).
    pub opportunity_id: Option<i64>,
    /// Another address of the contact's, or an address without a contact.
    pub to: Option<String>,
    /// Start from this template: its subject and body fill what is left empty.
    pub template_id: Option<i64>,
    #[serde(default)]
    pub subject: String,
    /// Plain text; paragraphs are kept.
    #[serde(default)]
    pub body: String,
    /// Track opens and clicks (default: yes, when the company tracks).
    pub tracking: Option<bool>,
}

/// Sends (queues) a rep's email; returns the outbox id.
pub async fn send(db: &Db, user_id: i64, input: &OneOff) -> Result<i64> {
    let mut tx = db.begin().await?;
    let mut contact_id = input.contact_id;
    let mut account_id = None;
    if let Some(oid) = input.opportunity_id {
        account_id = Some(
            q("SELECT account_id FROM opportunities WHERE id = $1")
                .bind(oid)
                .scalar_opt::<i64>(&mut tx)
                .await?
                .ok_or_else(|| AppError::field("opportunity_id", format!("{oid} is not a known opportunity")))?,
        );
        if contact_id.is_none() {
            contact_id = q("SELECT contact_id FROM opportunity_contacts WHERE opportunity_id = $1 ORDER BY contact_id LIMIT 1")
                .bind(oid)
                .scalar_opt(&mut tx)
                .await?;
        }
    }
    let merge = super::merge::merge_for(&mut tx, user_id, contact_id, input.opportunity_id).await?;
    let mut errors = FieldErrors::default();
    let to_raw = input
        .to
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| merge.get("contact.email").to_string());
    let to = if to_raw.trim().is_empty() {
        errors.add("to", "is required (the contact has no email address)");
        None
    } else {
        EmailAddress::parse(&to_raw).map_err(|e| errors.add("to", e)).ok()
    };
    let (mut subject, mut html) = (input.subject.trim().to_string(), templates::paragraphs(&input.body));
    // A message started from a marketing template is a marketing message (List-Unsubscribe, suppression).
    let mut category = Category::Transactional;
    let mut locale = carnet_domain::i18n::Locale::En;
    if let Some(tid) = input.template_id {
        match library::get(db, tid).await {
            Ok(t) => {
                if t.category == "marketing" {
                    category = Category::Marketing;
                }
                locale = carnet_domain::i18n::Locale::parse(&t.locale).unwrap_or(locale);
                let r = library::render(&t, &merge)?;
                if subject.is_empty() {
                    subject = r.subject;
                }
                if input.body.trim().is_empty() {
                    html = r.html;
                }
            }
            Err(AppError::NotFound) => errors.add("template_id", format!("{tid} is not a known template")),
            Err(e) => return Err(e),
        }
    }
    if subject.is_empty() {
        errors.add("subject", "is required");
    } else if subject.chars().count() > 500 || subject.contains(['\r', '\n']) {
        errors.add("subject", "must be one line of at most 500 characters");
    }
    if html.trim().is_empty() {
        errors.add("body", "is required");
    } else if html.len() > templates::MAX_BODY {
        errors.add("body", "is longer than 256 KB");
    }
    if !errors.is_empty() {
        return Err(errors.into());
    }
    let account_id: Option<i64> = match (account_id, contact_id) {
        (Some(a), _) => Some(a),
        (None, Some(cid)) => {
            q("SELECT account_id FROM account_contacts WHERE contact_id = $1 ORDER BY account_id LIMIT 1")
                .bind(cid)
                .scalar_opt(&mut tx)
                .await?
        }
        (None, None) => None,
    };
    let rep_address: Option<String> = q("SELECT email FROM users WHERE id = $1").bind(user_id).scalar_opt(&mut tx).await?;
    let mut email = NewEmail::new(category, to.expect("checked above"), subject, html);
    email.locale = locale;
    email.from_name = Some(merge.get("owner.name").to_string()).filter(|n| !n.is_empty());
    email.reply_to = rep_address.and_then(|a| EmailAddress::parse(&a).ok());
    email.to_name = Some(merge.get("contact.name").to_string()).filter(|n| !n.is_empty());
    email.user_id = Some(user_id);
    email.contact_id = contact_id;
    email.account_id = account_id;
    email.opportunity_id = input.opportunity_id;
    email.tracking = input.tracking.unwrap_or(true);
    let id = outbox::queue(&mut tx, email).await?;
    tx.commit().await?;
    Ok(id)
}
