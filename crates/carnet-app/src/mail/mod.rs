//! Email (SPEC M6): the outbox on the job queue, SMTP sending, templates, open
//! and click tracking, one-click unsubscribe and the suppression list, bounces,
//! and the emails the CRM owes by itself.
//!
//! - [`outbox`]: every email is a row queued in its cause's transaction and sent
//!   by a `mail.send` job, at most once;
//! - [`smtp`]: the relay's settings and the conversation, classified;
//! - [`compose`]: a row as a MIME message (headers, parts, invitation);
//! - [`templates`]: minijinja in a sandbox, merge fields checked at save,
//!   ammonia, the text part; [`library`]: the company's templates;
//! - [`tracking`]: signed open and click links, human or machine;
//! - [`suppression`]: unsubscribes, bounces, complaints; [`bounces`]: DSNs;
//! - [`merge`]: the merge fields of the records a message is about;
//! - [`owed`]: booking confirmations, notices, reminders, the test email;
//!   [`oneoff`]: a rep's email from a card.

pub mod bounces;
pub mod compose;
pub mod library;
pub mod merge;
pub mod oneoff;
pub mod outbox;
pub mod owed;
pub mod smtp;
pub mod suppression;
pub mod templates;
pub mod tracking;

use crate::db::{q, Db, Handle};
use crate::error::{AppError, Result};
use crate::platform::registry::Registry;
use serde::Serialize;
use std::time::{Duration, Instant};

pub fn register(r: Registry) -> Registry {
    owed::register(r.job::<outbox::Send>())
}

/// What sends: the relay (none configured: messages wait in the outbox) and
/// this node's pace.
pub struct Mailer {
    pool: Option<smtp::Pool>,
    next_slot: tokio::sync::Mutex<Option<Instant>>,
    /// Writes opens and clicks by group commit (started on the first hit).
    recorder: std::sync::OnceLock<tracking::Recorder>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("relay", &self.pool.as_ref().map(|p| p.relay()))
            .finish()
    }
}

impl Mailer {
    pub fn new(relay: Option<smtp::Relay>, hello: &str) -> Mailer {
        Mailer {
            pool: relay.map(|r| smtp::Pool::new(r, hello)),
            next_slot: tokio::sync::Mutex::new(None),
            recorder: std::sync::OnceLock::new(),
        }
    }

    pub fn recorder(&self, db: &Db) -> &tracking::Recorder {
        self.recorder.get_or_init(|| tracking::Recorder::start(db))
    }

    pub fn pool(&self) -> Option<&smtp::Pool> {
        self.pool.as_ref()
    }

    /// Waits for this node's next sending slot: at most `per_minute` messages a minute.
    pub async fn pace(&self, per_minute: u32) {
        if per_minute == 0 {
            return;
        }
        let interval = Duration::from_secs(60) / per_minute;
        let wait = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = next.filter(|n| *n > now).unwrap_or(now);
            *next = Some(slot + interval);
            slot - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

/// The company's email settings (Settings → Email), kept in `app_settings`.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct MailSettings {
    /// The name messages are from when no rep's name applies (the company's).
    pub sender_name: String,
    /// The address every message is from (replies to a rep's message go to the rep).
    pub sender_address: String,
    /// Opens and clicks are tracked (each message can still opt out).
    pub tracking: bool,
    /// Messages a minute each node sends at most (0: no limit).
    pub per_minute: u32,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            sender_name: "Carnet".into(),
            sender_address: "no-reply@localhost.localdomain".into(),
            tracking: true,
            per_minute: 600,
        }
    }
}

impl MailSettings {
    pub async fn load(h: &mut impl Handle) -> Result<MailSettings> {
        let rows: Vec<(String, String)> = q("SELECT key, value FROM app_settings WHERE key IN ('mail.sender_name', 'mail.sender_address', 'mail.tracking', 'mail.per_minute')")
            .fetch_all(h)
            .await?;
        let mut s = MailSettings::default();
        for (k, v) in rows {
            match k.as_str() {
                "mail.sender_name" => s.sender_name = v,
                "mail.sender_address" => s.sender_address = v,
                "mail.tracking" => s.tracking = v == "true",
                "mail.per_minute" => s.per_minute = v.parse().unwrap_or(s.per_minute),
                _ => {}
            }
        }
        Ok(s)
    }

    /// Validates and saves; errors name the field.
    pub async fn save(db: &Db, input: &MailSettingsInput) -> Result<MailSettings> {
        let mut errors = carnet_domain::FieldErrors::default();
        let name = input.sender_name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.contains(['\r', '\n', '<', '>', '"']) {
            errors.add(
                "sender_name",
                "is required: a name of at most 100 characters, without < > or quotes",
            );
        }
        let address = match carnet_domain::values::EmailAddress::parse(&input.sender_address) {
            Ok(a) => a.as_str().to_string(),
            Err(e) => {
                errors.add("sender_address", e);
                String::new()
            }
        };
        if input.per_minute > 100_000 {
            errors.add("per_minute", "must be at most 100000 (0 for no limit)");
        }
        if !errors.is_empty() {
            return Err(errors.into());
        }
        let s = MailSettings {
            sender_name: name.to_string(),
            sender_address: address,
            tracking: input.tracking,
            per_minute: input.per_minute,
        };
        let mut tx = db.begin().await?;
        for (k, v) in [
            ("mail.sender_name", s.sender_name.clone()),
            ("mail.sender_address", s.sender_address.clone()),
            ("mail.tracking", s.tracking.to_string()),
            ("mail.per_minute", s.per_minute.to_string()),
        ] {
            q("INSERT INTO app_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
                .bind(k)
                .bind(v)
                .execute(&mut tx)
                .await?;
        }
        crate::platform::events::settings_changed(&mut tx, "mail", false).await?;
        tx.commit().await?;
        Ok(s)
    }
}

/// The editable email settings.
#[derive(Debug, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailSettingsInput {
    pub sender_name: String,
    pub sender_address: String,
    pub tracking: bool,
    pub per_minute: u32,
}

/// What Settings → Email shows about sending.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MailStatus {
    /// `host:port (tls)` of the relay, without its password; none when not configured.
    pub relay: Option<String>,
    /// Messages per state.
    pub counts: std::collections::BTreeMap<String, i64>,
    /// The most recent failure (a message's relay answer), if any.
    pub last_error: Option<String>,
    pub last_error_at: Option<i64>,
}

pub async fn status(c: &crate::Carnet) -> Result<MailStatus> {
    let mut counts: std::collections::BTreeMap<String, i64> = outbox::STATUSES.iter().map(|s| (s.to_string(), 0)).collect();
    for (s, n) in outbox::counts(&c.db).await? {
        counts.insert(s, n);
    }
    let last: Option<(Option<String>, i64)> =
        q("SELECT last_error, updated_at FROM emails WHERE last_error IS NOT NULL AND status IN ('queued', 'failed', 'unknown') ORDER BY updated_at DESC, id DESC LIMIT 1")
            .fetch_optional(&mut c.db.conn().await?)
            .await?;
    Ok(MailStatus {
        relay: c.mailer.pool().map(|p| p.relay().describe()),
        counts,
        last_error: last.as_ref().and_then(|l| l.0.clone()),
        last_error_at: last.map(|l| l.1),
    })
}

/// Seeds the built-in templates.
pub async fn seed_defaults(db: &Db) -> Result<()> {
    library::seed(db).await
}

/// A rep's sender name, when set.
pub async fn sender_name(db: &Db, user_id: i64) -> Result<Option<String>> {
    Ok(q("SELECT sender_name FROM users WHERE id = $1")
        .bind(user_id)
        .scalar_opt::<Option<String>>(&mut db.conn().await?)
        .await?
        .flatten())
}

/// Sets a rep's sender name (None: their name).
pub async fn set_sender_name(db: &Db, user_id: i64, name: Option<&str>) -> Result<()> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    if name.is_some_and(|n| n.chars().count() > 100 || n.contains(['\r', '\n', '<', '>', '"'])) {
        return Err(AppError::field(
            "sender_name",
            "must be a name of at most 100 characters, without < > or quotes",
        ));
    }
    let mut tx = db.begin().await?;
    q("UPDATE users SET sender_name = $1 WHERE id = $2")
        .bind(name)
        .bind(user_id)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
