//! Users and access (SPEC P3): accounts with roles, Argon2id passwords, sessions
//! stored in the database, API keys hashed at rest, and the first-run setup link.

pub mod keys;
pub mod links;
pub mod sessions;
pub mod users;

pub use users::User;

use sha2::{Digest, Sha256};

/// A random token: 32 bytes, URL-safe base64.
pub fn random_token() -> String {
    use base64::Engine;
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).expect("the operating system provides randomness");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Tokens are stored as SHA-256 hex: a leaked table does not leak sessions or keys.
pub fn token_hash(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}
