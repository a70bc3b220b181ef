//! Carnet's services: what the web pages, the JSON API and the command line call.
//! Each capability has its folder (access, settings, records); storage goes
//! through [`db`], one query code path for SQLite and PostgreSQL.

pub mod access;
pub mod agenda;
pub mod analytics;
pub mod db;
pub mod demo;
pub mod error;
pub mod mail;
pub mod marketing;
pub mod platform;
pub mod records;
pub mod sales;
pub mod settings;

pub use db::Db;
pub use error::AppError;

use std::path::PathBuf;

/// What every service needs: the database and where files live.
#[derive(Clone, Debug)]
pub struct Carnet {
    pub db: Db,
    /// Attachments are stored under this folder.
    pub files_dir: PathBuf,
    /// Largest accepted attachment, in bytes.
    pub max_upload_bytes: usize,
    /// The SMTP relay and this node's sending pace.
    pub mailer: std::sync::Arc<mail::Mailer>,
    /// This node's writer of website page views.
    pub tracker: std::sync::Arc<marketing::tracking::Tracker>,
}

/// Every capability's job kinds, event subscribers and watchers: the one place
/// where the platform meets the features. Watchers of one entity settle in
/// this order: sales (open-pipeline totals, an opportunity's segment) before
/// analytics (facts, which read the segment sales keeps).
pub fn registry() -> platform::registry::Registry {
    let r = platform::jobs::platform_registry();
    let r = sales::register(r);
    let r = analytics::register(r);
    let r = settings::register(r);
    let r = mail::register(r);
    let r = marketing::register(r);
    agenda::register(r)
}

impl Carnet {
    /// Connects, applies migrations and seeds the default settings.
    pub async fn open(database_url: &str, files_dir: PathBuf) -> Result<Carnet, AppError> {
        Carnet::open_with(database_url, files_dir, registry()).await
    }

    /// Like [`Carnet::open`], with another registry (tests add kinds of their own).
    pub async fn open_with(database_url: &str, files_dir: PathBuf, registry: platform::registry::Registry) -> Result<Carnet, AppError> {
        let db = Db::connect(database_url).await?;
        db.install(std::sync::Arc::new(registry));
        db::dialect::migrate(&db).await?;
        db::dialect::refresh_statistics(&db).await?;
        settings::seed_defaults(&db).await?;
        sales::seed_defaults(&db).await?;
        agenda::seed_defaults(&db).await?;
        analytics::boards::ensure_default(&db).await?;
        mail::seed_defaults(&db).await?;
        agenda::calendar::instance_id(&db).await?;
        platform::signing::install(&db, "http://localhost:8080").await?;
        std::fs::create_dir_all(&files_dir).map_err(AppError::internal)?;
        Ok(Carnet {
            db,
            files_dir,
            max_upload_bytes: 10 * 1024 * 1024,
            mailer: std::sync::Arc::new(mail::Mailer::new(None, "localhost")),
            tracker: Default::default(),
        })
    }

    /// Sends through this relay (none: messages wait in the outbox).
    pub fn with_relay(mut self, relay: Option<mail::smtp::Relay>) -> Self {
        let hello = self.site().map(|s| s.host()).unwrap_or_else(|_| "localhost".into());
        self.mailer = std::sync::Arc::new(mail::Mailer::new(relay, &hello));
        self
    }

    /// Where people reach this installation: every link Carnet hands out is built from it.
    pub fn set_public_url(&self, url: &str) {
        if let Ok(site) = self.site() {
            site.set_public_url(url);
        }
    }

    pub fn site(&self) -> Result<std::sync::Arc<platform::signing::Site>, AppError> {
        platform::signing::site(self.db.shared())
    }
}
