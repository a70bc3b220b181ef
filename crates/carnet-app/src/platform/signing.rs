//! The installation's signing key and public address. Links Carnet puts in
//! emails (tracking, unsubscribe, a booking's manage link) carry an HMAC-SHA256
//! signature made with a key generated at first start and kept in the
//! database, so every node signs and checks alike; and they are built from
//! the configured public address, never from a request's `Host` header.

use crate::db::{q, Db, Shared};
use crate::error::{AppError, Result};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where people reach Carnet and the key it signs with.
pub struct Site {
    /// `https://crm.example.com`, without a trailing slash: `--public-url`, or
    /// the address the server listens on when none is configured.
    public_url: std::sync::RwLock<String>,
    key: [u8; 32],
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("public_url", &self.public_url())
            .finish_non_exhaustive()
    }
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

impl Site {
    /// The signature of `message` for `purpose` (a link kind): 128 bits, URL-safe.
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(message.as_bytes());
        B64.encode(&mac.finalize().into_bytes()[..16])
    }

    /// Whether `signature` is `message`'s for `purpose`, compared in constant time.
    pub fn verify(&self, purpose: &str, message: &str, signature: &str) -> bool {
        let Ok(given) = B64.decode(signature) else {
            return false;
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(message.as_bytes());
        given.len() == 16 && mac.verify_truncated_left(&given).is_ok()
    }

    /// An absolute link to `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.public_url())
    }

    pub fn public_url(&self) -> String {
        self.public_url.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sets the public address (once the server knows where it listens, or from `--public-url`).
    pub fn set_public_url(&self, url: &str) {
        *self.public_url.write().unwrap_or_else(|e| e.into_inner()) = url.trim_end_matches('/').to_string();
    }

    /// The host name of the public address (Message-IDs, the SMTP greeting).
    pub fn host(&self) -> String {
        let url = self.public_url();
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        let host = rest.split(['/', ':']).next().unwrap_or("localhost");
        if host.is_empty() {
            "localhost".into()
        } else {
            host.to_string()
        }
    }
}

/// Loads (or, at first start, creates) the signing key and installs the site.
pub async fn install(db: &Db, public_url: &str) -> Result<()> {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).map_err(AppError::internal)?;
    let mut tx = db.begin().await?;
    q("INSERT INTO app_settings (key, value) VALUES ('signing_key', $1) ON CONFLICT (key) DO NOTHING")
        .bind(B64.encode(b))
        .execute(&mut tx)
        .await?;
    let stored: String = q("SELECT value FROM app_settings WHERE key = 'signing_key'")
        .scalar(&mut tx)
        .await?;
    tx.commit().await?;
    let raw = B64.decode(stored).map_err(AppError::internal)?;
    let key: [u8; 32] = raw
        .try_into()
        .map_err(|_| AppError::internal("the stored signing key is not 32 bytes"))?;
    let _ = db.shared().site.set(std::sync::Arc::new(Site {
        public_url: std::sync::RwLock::new(public_url.trim_end_matches('/').to_string()),
        key,
    }));
    Ok(())
}

/// The installed site (every handle of an opened Carnet has one).
pub fn site(shared: &Shared) -> Result<std::sync::Arc<Site>> {
    shared
        .site
        .get()
        .cloned()
        .ok_or_else(|| AppError::internal("the signing key is not loaded"))
}
