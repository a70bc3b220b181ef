//! Password links (P3, M6): a reset asked for on the sign-in page, or an
//! invitation an administrator sends to a new user. The link carries a random
//! token (only its hash is stored), expires (an hour for a reset, a week for an
//! invitation) and works once; the email goes through the outbox, written in
//! the transaction that made the link. Choosing the password signs the user
//! out everywhere else.

use super::users::{self, NewUser};
use super::{random_token, token_hash};
use crate::db::{q, Db, Tx};
use crate::error::{AppError, Result};
use crate::mail::outbox::{self, Category, NewEmail};
use crate::mail::{library, merge};
use carnet_domain::values::EmailAddress;

pub const RESET_SECS: i64 = 3600;
pub const INVITATION_SECS: i64 = 7 * 86_400;

async fn issue(tx: &mut Tx, user_id: i64, purpose: &str, email: &str, locale: &str) -> Result<()> {
    let token = random_token();
    let t = tx.now();
    let ttl = if purpose == "invitation" { INVITATION_SECS } else { RESET_SECS };
    q("INSERT INTO password_links (token_hash, user_id, purpose, expires_at, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(token_hash(&token))
        .bind(user_id)
        .bind(purpose)
        .bind(t + ttl)
        .bind(t)
        .execute(&mut *tx)
        .await?;
    let site = crate::platform::signing::site(tx.shared())?;
    let mut m = merge::merge_for(tx, user_id, None, None).await?;
    m.set("links.password", site.url(&format!("/password/{token}")));
    let key = if purpose == "invitation" {
        "user_invitation"
    } else {
        "password_reset"
    };
    let r = library::render(&library::find(tx, key, locale).await?, &m)?;
    let to = EmailAddress::parse(email).map_err(|e| AppError::field("email", e))?;
    let mut e = NewEmail::new(Category::Transactional, to, r.subject, r.html);
    e.template_key = Some(key.into());
    e.tracking = false;
    outbox::queue(tx, e).await?;
    Ok(())
}

/// A reset asked for on the sign-in page. The answer is the same whether an
/// account exists or not (nobody learns who has one); an email goes only to an
/// active user's own address.
pub async fn request_reset(db: &Db, email: &str) -> Result<()> {
    let Some(user) = users::find_by_email(db, email).await? else {
        return Ok(());
    };
    if !user.active {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    issue(&mut tx, user.id, "reset", &user.email, user.locale.as_str()).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates a user without a password and emails them an invitation to choose one.
pub async fn invite(db: &Db, email: &str, name: &str, role: &str, locale: &str, tz: &str) -> Result<users::User> {
    // A password nobody knows until the link sets one.
    let placeholder = format!("{}{}", random_token(), random_token());
    let nu = NewUser::parse(email, name, role, &placeholder, locale, tz).map_err(AppError::Invalid)?;
    let user = users::create(db, nu).await?;
    let mut tx = db.begin().await?;
    issue(&mut tx, user.id, "invitation", &user.email, user.locale.as_str()).await?;
    tx.commit().await?;
    Ok(user)
}

/// The user a link is for, while it is valid (not used, not expired).
pub async fn valid(db: &Db, token: &str) -> Result<Option<(i64, String)>> {
    Ok(
        q("SELECT user_id, purpose FROM password_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2")
            .bind(token_hash(token))
            .bind(db.now())
            .fetch_optional(&mut db.conn().await?)
            .await?,
    )
}

/// Sets the password through a link: once, before it expires. Other sessions end.
pub async fn complete(db: &Db, token: &str, password: &str, confirm: &str) -> Result<i64> {
    let p = users::check_password(password).map_err(|e| AppError::field("password", e))?;
    if password != confirm {
        return Err(AppError::field("confirm", "is not the same password"));
    }
    let hash = users::hash_password(p).await?;
    let mut tx = db.begin().await?;
    let t = tx.now();
    let user: Option<i64> =
        q("UPDATE password_links SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING user_id")
            .bind(t)
            .bind(token_hash(token))
            .scalar_opt(&mut tx)
            .await?;
    let user = user.ok_or_else(|| AppError::Conflict("this link has expired or was already used: ask for a new one".into()))?;
    q("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user)
        .execute(&mut tx)
        .await?;
    q("DELETE FROM sessions WHERE user_id = $1").bind(user).execute(&mut tx).await?;
    // Any other link of this user's stops working too.
    q("UPDATE password_links SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(t)
        .bind(user)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(user)
}
