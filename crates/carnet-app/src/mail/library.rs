//! The company's email templates: one per key and language, seeded with
//! Carnet's wording in English and French, editable in Settings → Email.
//! Every email the CRM sends by itself (booking confirmations, reminders…)
//! renders one of them.

use super::outbox::Category;
use super::templates::{self, Merge, Rendered, Source};
use crate::db::{q, Db, Handle};
use crate::error::{AppError, Result};
use serde::Serialize;

/// A built-in template: key, category, and its name, subject and body per language.
pub struct Builtin {
    pub key: &'static str,
    pub category: Category,
    pub en: (&'static str, &'static str, &'static str),
    pub fr: (&'static str, &'static str, &'static str),
}

pub const BUILTINS: &[Builtin] = &[
    Builtin {
        key: "booking_confirmation",
        category: Category::Transactional,
        en: (
            "Booking confirmation (to the prospect)",
            "Your appointment with {{ owner.name }} on {{ appointment.when }}",
            "<p>Hello {{ contact.first_name or contact.name }},</p><p>Your appointment <strong>{{ appointment.subject }}</strong> with {{ owner.name }} is confirmed for {{ appointment.when }} ({{ appointment.duration }}).</p><p>The invitation is attached for your calendar. To reschedule or cancel: <a href=\"{{ links.manage }}\">manage your booking</a>.</p><p>See you soon,<br>{{ owner.name }}, {{ company.name }}</p>",
        ),
        fr: (
            "Confirmation de rendez-vous (au prospect)",
            "Votre rendez-vous avec {{ owner.name }} le {{ appointment.when }}",
            "<p>Bonjour {{ contact.first_name or contact.name }},</p><p>Votre rendez-vous <strong>{{ appointment.subject }}</strong> avec {{ owner.name }} est confirmé pour le {{ appointment.when }} ({{ appointment.duration }}).</p><p>L'invitation est jointe pour votre agenda. Pour le déplacer ou l'annuler : <a href=\"{{ links.manage }}\">gérer votre rendez-vous</a>.</p><p>À bientôt,<br>{{ owner.name }}, {{ company.name }}</p>",
        ),
    },
    Builtin {
        key: "booking_notice",
        category: Category::Transactional,
        en: (
            "New booking (to the rep)",
            "New booking: {{ contact.name }} on {{ appointment.when }}",
            "<p>{{ contact.name }} ({{ contact.email }}) booked <strong>{{ appointment.subject }}</strong> for {{ appointment.when }} ({{ appointment.duration }}).</p><p><a href=\"{{ links.record }}\">Open the contact in Carnet</a></p>",
        ),
        fr: (
            "Nouveau rendez-vous (au commercial)",
            "Nouveau rendez-vous : {{ contact.name }} le {{ appointment.when }}",
            "<p>{{ contact.name }} ({{ contact.email }}) a réservé <strong>{{ appointment.subject }}</strong> pour le {{ appointment.when }} ({{ appointment.duration }}).</p><p><a href=\"{{ links.record }}\">Ouvrir le contact dans Carnet</a></p>",
        ),
    },
    Builtin {
        key: "booking_rescheduled",
        category: Category::Transactional,
        en: (
            "Booking moved (to the prospect)",
            "Your appointment with {{ owner.name }} is moved to {{ appointment.when }}",
            "<p>Hello {{ contact.first_name or contact.name }},</p><p>Your appointment <strong>{{ appointment.subject }}</strong> with {{ owner.name }} now takes place on {{ appointment.when }} ({{ appointment.duration }}). The updated invitation is attached.</p><p><a href=\"{{ links.manage }}\">Manage your booking</a></p>",
        ),
        fr: (
            "Rendez-vous déplacé (au prospect)",
            "Votre rendez-vous avec {{ owner.name }} est déplacé au {{ appointment.when }}",
            "<p>Bonjour {{ contact.first_name or contact.name }},</p><p>Votre rendez-vous <strong>{{ appointment.subject }}</strong> avec {{ owner.name }} a désormais lieu le {{ appointment.when }} ({{ appointment.duration }}). L'invitation mise à jour est jointe.</p><p><a href=\"{{ links.manage }}\">Gérer votre rendez-vous</a></p>",
        ),
    },
    Builtin {
        key: "booking_cancelled",
        category: Category::Transactional,
        en: (
            "Booking cancelled (to the prospect)",
            "Cancelled: your appointment with {{ owner.name }} on {{ appointment.when }}",
            "<p>Hello {{ contact.first_name or contact.name }},</p><p>Your appointment <strong>{{ appointment.subject }}</strong> with {{ owner.name }} on {{ appointment.when }} is cancelled.</p><p>To choose another time: <a href=\"{{ links.booking }}\">book again</a>.</p>",
        ),
        fr: (
            "Rendez-vous annulé (au prospect)",
            "Annulé : votre rendez-vous avec {{ owner.name }} le {{ appointment.when }}",
            "<p>Bonjour {{ contact.first_name or contact.name }},</p><p>Votre rendez-vous <strong>{{ appointment.subject }}</strong> avec {{ owner.name }} le {{ appointment.when }} est annulé.</p><p>Pour choisir un autre moment : <a href=\"{{ links.booking }}\">réserver à nouveau</a>.</p>",
        ),
    },
    Builtin {
        key: "appointment_invitation",
        category: Category::Transactional,
        en: (
            "Appointment invitation (to the contact)",
            "Invitation: {{ appointment.subject }} on {{ appointment.when }}",
            "<p>Hello {{ contact.first_name or contact.name }},</p><p>{{ owner.name }} invites you to <strong>{{ appointment.subject }}</strong> on {{ appointment.when }} ({{ appointment.duration }}).</p><p>The invitation is attached: accept it in your calendar, or reply to this email.</p><p>{{ owner.name }}, {{ company.name }}</p>",
        ),
        fr: (
            "Invitation à un rendez-vous (au contact)",
            "Invitation : {{ appointment.subject }} le {{ appointment.when }}",
            "<p>Bonjour {{ contact.first_name or contact.name }},</p><p>{{ owner.name }} vous invite à <strong>{{ appointment.subject }}</strong> le {{ appointment.when }} ({{ appointment.duration }}).</p><p>L'invitation est jointe : acceptez-la dans votre agenda, ou répondez à cet e-mail.</p><p>{{ owner.name }}, {{ company.name }}</p>",
        ),
    },
    Builtin {
        key: "appointment_updated",
        category: Category::Transactional,
        en: (
            "Appointment changed (to the contact)",
            "Updated: {{ appointment.subject }} on {{ appointment.when }}",
            "<p>Hello {{ contact.first_name or contact.name }},</p><p>Our appointment <strong>{{ appointment.subject }}</strong> now takes place on {{ appointment.when }} ({{ appointment.duration }}). The updated invitation is attached.</p><p>{{ owner.name }}, {{ company.name }}</p>",
        ),
        fr: (
            "Rendez-vous modifié (au contact)",
            "Modifié : {{ appointment.subject }} le {{ appointment.when }}",
            "<p>Bonjour {{ contact.first_name or contact.name }},</p><p>Notre rendez-vous <strong>{{ appointment.subject }}</strong> a désormais lieu le {{ appointment.when }} ({{ appointment.duration }}). L'invitation mise à jour est jointe.</p><p>{{ owner.name }}, {{ company.name }}</p>",
        ),
    },
    Builtin {
        key: "appointment_cancelled",
        category: Category::Transactional,
        en: (
            "Appointment cancelled (to the contact)",
            "Cancelled: {{ appointment.subject }} on {{ appointment.when }}",
            "<p>Hello {{ contact.first_name or contact.name }},</p><p>Our appointment <strong>{{ appointment.subject }}</strong> on {{ appointment.when }} is cancelled.</p><p>{{ owner.name }}, {{ company.name }}</p>",
        ),
        fr: (
            "Rendez-vous annulé (au contact)",
            "Annulé : {{ appointment.subject }} le {{ appointment.when }}",
            "<p>Bonjour {{ contact.first_name or contact.name }},</p><p>Notre rendez-vous <strong>{{ appointment.subject }}</strong> du {{ appointment.when }} est annulé.</p><p>{{ owner.name }}, {{ company.name }}</p>",
        ),
    },
    Builtin {
        key: "action_reminder",
        category: Category::Transactional,
        en: (
            "Action reminder (to the rep)",
            "Reminder: {{ action.subject }} ({{ action.when }})",
            "<p>Reminder: <strong>{{ action.subject }}</strong> is planned for {{ action.when }}{% if contact.name %} with {{ contact.name }}{% endif %}.</p><p><a href=\"{{ links.action }}\">Open it in Carnet</a></p>",
        ),
        fr: (
            "Rappel d'action (au commercial)",
            "Rappel : {{ action.subject }} ({{ action.when }})",
            "<p>Rappel : <strong>{{ action.subject }}</strong> est prévu le {{ action.when }}{% if contact.name %} avec {{ contact.name }}{% endif %}.</p><p><a href=\"{{ links.action }}\">L'ouvrir dans Carnet</a></p>",
        ),
    },
    Builtin {
        key: "password_reset",
        category: Category::Transactional,
        en: (
            "Password reset",
            "Choose a new Carnet password",
            "<p>Hello {{ owner.first_name }},</p><p>Someone (we hope you) asked to choose a new password for your Carnet account. This link works once, for an hour:</p><p><a href=\"{{ links.password }}\">Choose a new password</a></p><p>If it was not you, ignore this email: your password stays as it is.</p>",
        ),
        fr: (
            "Réinitialisation du mot de passe",
            "Choisissez un nouveau mot de passe Carnet",
            "<p>Bonjour {{ owner.first_name }},</p><p>Quelqu'un (vous, nous l'espérons) a demandé à choisir un nouveau mot de passe pour votre compte Carnet. Ce lien fonctionne une fois, pendant une heure :</p><p><a href=\"{{ links.password }}\">Choisir un nouveau mot de passe</a></p><p>Si ce n'était pas vous, ignorez cet e-mail : votre mot de passe ne change pas.</p>",
        ),
    },
    Builtin {
        key: "user_invitation",
        category: Category::Transactional,
        en: (
            "User invitation",
            "You are invited to {{ company.name }}'s Carnet",
            "<p>Hello {{ owner.first_name }},</p><p>An account was made for you on {{ company.name }}'s Carnet. Choose your password to sign in (the link works once, for a week):</p><p><a href=\"{{ links.password }}\">Choose my password</a></p>",
        ),
        fr: (
            "Invitation d'un utilisateur",
            "Vous êtes invité sur le Carnet de {{ company.name }}",
            "<p>Bonjour {{ owner.first_name }},</p><p>Un compte a été créé pour vous sur le Carnet de {{ company.name }}. Choisissez votre mot de passe pour vous connecter (le lien fonctionne une fois, pendant une semaine) :</p><p><a href=\"{{ links.password }}\">Choisir mon mot de passe</a></p>",
        ),
    },
    Builtin {
        key: "test",
        category: Category::Transactional,
        en: (
            "Test email",
            "Carnet test email",
            "<p>Hello {{ owner.name }},</p><p>This test email shows that Carnet can send through its SMTP relay.</p>",
        ),
        fr: (
            "E-mail de test",
            "E-mail de test Carnet",
            "<p>Bonjour {{ owner.name }},</p><p>Cet e-mail de test montre que Carnet peut envoyer par son relais SMTP.</p>",
        ),
    },
    Builtin {
        key: "optin_confirmation",
        category: Category::Transactional,
        en: (
            "Confirm your subscription (double opt-in)",
            "Please confirm: {{ form.title }}",
            "<p>Hello {{ contact.first_name or contact.name }},</p><p>You filled in “{{ form.title }}” on our site. To confirm that this address is yours and that you agree to hear from {{ company.name }}, please follow this link:</p><p><a href=\"{{ links.confirm }}\">Confirm my address</a></p><p>If it was not you, ignore this message: nothing more will be sent.</p>",
        ),
        fr: (
            "Confirmez votre inscription (double opt-in)",
            "Merci de confirmer : {{ form.title }}",
            "<p>Bonjour {{ contact.first_name or contact.name }},</p><p>Vous avez rempli « {{ form.title }} » sur notre site. Pour confirmer que cette adresse est la vôtre et que vous acceptez d'être contacté par {{ company.name }}, suivez ce lien :</p><p><a href=\"{{ links.confirm }}\">Confirmer mon adresse</a></p><p>Si ce n'était pas vous, ignorez ce message : rien d'autre ne vous sera envoyé.</p>",
        ),
    },
    Builtin {
        key: "lead_assigned",
        category: Category::Transactional,
        en: (
            "A lead for you (to the rep)",
            "A lead to call: {{ contact.name }} (score {{ results.score }})",
            "<p>{{ contact.name }}{% if account.name %} ({{ account.name }}){% endif %} reached “{{ results.band }}” with a score of {{ results.score }}: the lead is yours, and a call is in your agenda for today.</p><p>{{ contact.email }} · {{ contact.phone }}</p><p><a href=\"{{ links.record }}\">Open the contact and its history</a></p>",
        ),
        fr: (
            "Un lead pour vous (au commercial)",
            "Un lead à appeler : {{ contact.name }} (score {{ results.score }})",
            "<p>{{ contact.name }}{% if account.name %} ({{ account.name }}){% endif %} a atteint « {{ results.band }} » avec un score de {{ results.score }} : le lead est pour vous, et un appel est dans votre agenda aujourd'hui.</p><p>{{ contact.email }} · {{ contact.phone }}</p><p><a href=\"{{ links.record }}\">Ouvrir le contact et son historique</a></p>",
        ),
    },
    Builtin {
        key: "lead_magnet",
        category: Category::Transactional,
        en: (
            "Your download (lead magnet)",
            "Your download: {{ form.title }}",
            "<p>Hello {{ contact.first_name or contact.name }},</p><p>Thank you for your interest. Here is your file: <a href=\"{{ links.download }}\">download it</a> (the link works for seven days).</p><p>{{ company.name }}</p>",
        ),
        fr: (
            "Votre téléchargement (contenu offert)",
            "Votre téléchargement : {{ form.title }}",
            "<p>Bonjour {{ contact.first_name or contact.name }},</p><p>Merci de votre intérêt. Voici votre fichier : <a href=\"{{ links.download }}\">le télécharger</a> (le lien fonctionne sept jours).</p><p>{{ company.name }}</p>",
        ),
    },
    Builtin {
        key: "questionnaire_results",
        category: Category::Transactional,
        en: (
            "Questionnaire results (to the respondent)",
            "Your results: {{ form.title }}",
            "<p>Hello {{ contact.first_name or contact.name }},</p><p>Thank you for answering “{{ form.title }}”. Your score: <strong>{{ results.score }}</strong> — {{ results.band }}.</p><p>{{ results.text }}</p><p>{{ company.name }}</p>",
        ),
        fr: (
            "Résultats du questionnaire (au répondant)",
            "Vos résultats : {{ form.title }}",
            "<p>Bonjour {{ contact.first_name or contact.name }},</p><p>Merci d'avoir répondu à « {{ form.title }} ». Votre score : <strong>{{ results.score }}</strong> — {{ results.band }}.</p><p>{{ results.text }}</p><p>{{ company.name }}</p>",
        ),
    },
];

/// A stored template.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, schemars::JsonSchema)]
pub struct Template {
    pub id: i64,
    pub template_key: String,
    /// `en` or `fr`.
    pub locale: String,
    pub name: String,
    /// `transactional` or `marketing`.
    pub category: String,
    pub subject: String,
    pub html: String,
    /// Shipped with Carnet (it can be edited, not deleted).
    pub builtin: bool,
    pub updated_at: i64,
}

const COLS: &str = "id, template_key, locale, name, category, subject, html, builtin, updated_at";

/// Adds the built-in templates that are missing (at every start: new versions add theirs).
pub async fn seed(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    let t = tx.now();
    for b in BUILTINS {
        for (locale, (name, subject, html)) in [("en", b.en), ("fr", b.fr)] {
            q(
                "INSERT INTO email_templates (template_key, locale, name, category, subject, html, builtin, updated_at) \
               VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7) ON CONFLICT (template_key, locale) DO NOTHING",
            )
            .bind(b.key)
            .bind(locale)
            .bind(name)
            .bind(b.category.as_str())
            .bind(subject)
            .bind(templates::sanitize(html))
            .bind(t)
            .execute(&mut tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

pub async fn list(db: &Db) -> Result<Vec<Template>> {
    Ok(q(format!("SELECT {COLS} FROM email_templates ORDER BY template_key, locale"))
        .fetch_all(&mut db.conn().await?)
        .await?)
}

pub async fn get(db: &Db, id: i64) -> Result<Template> {
    q(format!("SELECT {COLS} FROM email_templates WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut db.conn().await?)
        .await?
        .ok_or(AppError::NotFound)
}

/// The template of `key` in `locale` (or in English when the language has none).
pub async fn find(h: &mut impl Handle, key: &str, locale: &str) -> Result<Template> {
    let rows: Vec<Template> = q(format!(
        "SELECT {COLS} FROM email_templates WHERE template_key = $1 AND locale IN ($2, 'en') ORDER BY CASE WHEN locale = $2 THEN 0 ELSE 1 END"
    ))
    .bind(key)
    .bind(locale)
    .fetch_all(h)
    .await?;
    rows.into_iter()
        .next()
        .ok_or_else(|| AppError::internal(format!("no email template {key:?}")))
}

/// A template renders with a record's values.
pub fn render(t: &Template, merge: &Merge) -> Result<Rendered> {
    templates::render(
        &Source {
            subject: &t.subject,
            html: &t.html,
        },
        merge,
    )
}

/// What a template form or API body holds.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    /// Lowercase letters, digits and underscores; unique with the language.
    pub template_key: String,
    /// `en` or `fr`.
    pub locale: String,
    pub name: String,
    /// `transactional` or `marketing`.
    pub category: Category,
    pub subject: String,
    pub html: String,
}

fn checked(input: &TemplateInput) -> Result<(String, String)> {
    let key = input.template_key.trim();
    if key.is_empty() || key.len() > 60 || !key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(AppError::field(
            "template_key",
            "must be 1 to 60 lowercase letters, digits or underscores",
        ));
    }
    if !matches!(input.locale.as_str(), "en" | "fr") {
        return Err(AppError::field("locale", "must be en or fr"));
    }
    if input.name.trim().is_empty() || input.name.chars().count() > 200 {
        return Err(AppError::field("name", "is required (at most 200 characters)"));
    }
    templates::check(&Source {
        subject: &input.subject,
        html: &input.html,
    })
}

pub async fn create(db: &Db, input: &TemplateInput) -> Result<i64> {
    let (subject, html) = checked(input)?;
    let mut tx = db.begin().await?;
    let taken: Option<i64> = q("SELECT id FROM email_templates WHERE template_key = $1 AND locale = $2")
        .bind(input.template_key.trim())
        .bind(&input.locale)
        .scalar_opt(&mut tx)
        .await?;
    if taken.is_some() {
        return Err(AppError::field("template_key", "already has a template in this language"));
    }
    let id = q(
        "INSERT INTO email_templates (template_key, locale, name, category, subject, html, builtin, updated_at) \
                VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7) RETURNING id",
    )
    .bind(input.template_key.trim())
    .bind(&input.locale)
    .bind(input.name.trim())
    .bind(input.category.as_str())
    .bind(subject)
    .bind(html)
    .bind(tx.now())
    .insert_id(&mut tx)
    .await?;
    crate::platform::events::settings_changed(&mut tx, "email_templates", false).await?;
    tx.commit().await?;
    Ok(id)
}

/// Saves a template's name, subject and body (a built-in keeps its key, language and category).
pub async fn update(db: &Db, id: i64, input: &TemplateInput) -> Result<()> {
    let old = get(db, id).await?;
    let (subject, html) = checked(input)?;
    if old.builtin
        && (old.template_key != input.template_key.trim() || old.locale != input.locale || old.category != input.category.as_str())
    {
        return Err(AppError::field(
            "template_key",
            "a built-in template keeps its key, language and category",
        ));
    }
    let mut tx = db.begin().await?;
    q("UPDATE email_templates SET template_key = $1, locale = $2, name = $3, category = $4, subject = $5, html = $6, updated_at = $7 WHERE id = $8")
        .bind(input.template_key.trim())
        .bind(&input.locale)
        .bind(input.name.trim())
        .bind(input.category.as_str())
        .bind(subject)
        .bind(html)
        .bind(tx.now())
        .bind(id)
        .execute(&mut tx)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::field("template_key", "already has a template in this language"),
            other => other,
        })?;
    crate::platform::events::settings_changed(&mut tx, "email_templates", false).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete(db: &Db, id: i64) -> Result<()> {
    let t = get(db, id).await?;
    if t.builtin {
        return Err(AppError::Conflict("a built-in template can be edited, not deleted".into()));
    }
    let mut tx = db.begin().await?;
    q("DELETE FROM email_templates WHERE id = $1").bind(id).execute(&mut tx).await?;
    crate::platform::events::settings_changed(&mut tx, "email_templates", false).await?;
    tx.commit().await?;
    Ok(())
}
