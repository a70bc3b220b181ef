//! The SMTP relay: its settings (from `CARNET_SMTP_URL` or flags), a small pool
//! of open connections, and one message's conversation, classified so the
//! outbox can keep delivery at most once.
//!
//! The conversation is driven connection by connection (not through lettre's
//! pooled transport) because the outbox needs to know *where* a failure
//! happened: a refused connection, a refused login or a 4xx/5xx answer mean the
//! relay did not take the message (retry or fail); a network error once the
//! message was under way means nobody knows, and the message becomes `unknown`.

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use std::time::Duration;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text: only for a relay on the same machine or network.
    None,
    /// Plain connection upgraded with STARTTLS (refused if the relay does not offer it).
    StartTls,
    /// TLS from the first byte (usually port 465).
    Implicit,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "tls",
        }
    }
}

/// The SMTP relay Carnet sends through.
#[derive(Clone, PartialEq, Eq)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub user: Option<String>,
    pub password: Option<String>,
}

/// The password is never printed.
impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl Relay {
    /// Reads `smtp://user:password@host:port?tls=none|starttls`, or
    /// `smtps://…` (implicit TLS). Defaults: port 587 with STARTTLS for
    /// `smtp://`, 465 for `smtps://`; `tls=none` for a relay without TLS.
    pub fn parse(url: &str) -> Result<Relay, String> {
        let (scheme, rest) = url.split_once("://").ok_or("must look like smtp://user:password@host:587")?;
        let implicit = match scheme {
            "smtp" => false,
            "smtps" => true,
            other => return Err(format!("unknown scheme {other:?}: use smtp:// or smtps://")),
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (auth, hostport) = match rest.rsplit_once('@') {
            Some((a, h)) => (Some(a), h),
            None => (None, rest),
        };
        let hostport = hostport.trim_end_matches('/');
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                Some(
                    p.parse::<u16>()
                        .map_err(|_| format!("the port {p:?} is not a number from 1 to 65535"))?,
                ),
            ),
            None => (hostport, None),
        };
        if host.is_empty() || host.contains(['/', ' ']) {
            return Err("the host is missing".into());
        }
        let mut tls = if implicit { TlsMode::Implicit } else { TlsMode::StartTls };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("tls", "none")) if !implicit => tls = TlsMode::None,
                Some(("tls", "starttls")) if !implicit => tls = TlsMode::StartTls,
                Some(("tls", "tls" | "implicit")) => tls = TlsMode::Implicit,
                _ => return Err(format!("unknown option {pair:?}: the only option is tls=none|starttls|tls")),
            }
        }
        let (user, password) = match auth {
            Some(a) => {
                let (u, p) = a.split_once(':').unwrap_or((a, ""));
                (Some(decode(u)?), Some(decode(p)?).filter(|p| !p.is_empty()))
            }
            None => (None, None),
        };
        Ok(Relay {
            host: host.to_string(),
            port: port.unwrap_or(if tls == TlsMode::Implicit { 465 } else { 587 }),
            tls,
            user: user.filter(|u| !u.is_empty()),
            password,
        })
    }

    /// What Settings → Email shows: everything but the password.
    pub fn describe(&self) -> String {
        let user = self.user.as_deref().map(|u| format!("{u}@")).unwrap_or_default();
        format!("{user}{}:{} ({})", self.host, self.port, self.tls.as_str())
    }
}

/// Percent-decoding of the user and password of a relay URL.
fn decode(s: &str) -> Result<String, String> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3).ok_or("a %-escape is cut short")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| format!("%{hex} is not a %-escape"))?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the user or password is not UTF-8".into())
}

/// How one message's conversation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The relay accepted the message (its answer).
    Sent(String),
    /// The relay did not take it and may later: connection refused, timeout
    /// before the message, 4xx, login refused. Retry with backoff.
    Temporary(String),
    /// The relay refused it for good (5xx): the recipient is bounced when the
    /// code names the mailbox.
    Permanent { code: u16, answer: String },
    /// The conversation broke once the message was under way: the relay may or
    /// may not have it. Never retried automatically.
    Unknown(String),
}

/// Open connections to the relay, reused between messages.
pub struct Pool {
    relay: Relay,
    hello: ClientId,
    idle: tokio::sync::Mutex<Vec<AsyncSmtpConnection>>,
}

const TIMEOUT: Duration = Duration::from_secs(30);
const MAX_IDLE: usize = 4;

impl Pool {
    pub fn new(relay: Relay, hello: &str) -> Pool {
        Pool {
            relay,
            hello: ClientId::Domain(hello.to_string()),
            idle: tokio::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn relay(&self) -> &Relay {
        &self.relay
    }

    /// A connection that answers NOOP, or a new one (connected, encrypted and logged in).
    async fn connection(&self) -> Result<AsyncSmtpConnection, Delivery> {
        loop {
            let Some(mut c) = self.idle.lock().await.pop() else {
                break;
            };
            if !c.has_broken() && c.test_connected().await {
                return Ok(c);
            }
            c.abort().await;
        }
        let r = &self.relay;
        let tls = |host: &str| TlsParameters::new(host.to_string()).map_err(|e| Delivery::Temporary(format!("TLS set-up: {e}")));
        let unreachable = |e: &dyn std::fmt::Display| Delivery::Temporary(format!("cannot reach {}:{}: {e}", r.host, r.port));
        let mut c = match r.tls {
            TlsMode::Implicit => {
                AsyncSmtpConnection::connect_tokio1((r.host.as_str(), r.port), Some(TIMEOUT), &self.hello, Some(tls(&r.host)?), None)
                    .await
                    .map_err(|e| unreachable(&e))?
            }
            // Our own socket, without Nagle's delay: lettre writes a message and its
            // final dot separately, and the second write would otherwise wait for the
            // relay's delayed acknowledgement of the first (40 ms a message).
            TlsMode::None | TlsMode::StartTls => {
                let stream = tokio::time::timeout(TIMEOUT, tokio::net::TcpStream::connect((r.host.as_str(), r.port)))
                    .await
                    .map_err(|_| unreachable(&"connection timed out"))?
                    .map_err(|e| unreachable(&e))?;
                stream.set_nodelay(true).map_err(|e| unreachable(&e))?;
                AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.hello)
                    .await
                    .map_err(|e| unreachable(&e))?
            }
        };
        if r.tls == TlsMode::StartTls {
            if !c.can_starttls() {
                c.abort().await;
                return Err(Delivery::Temporary(format!("{} does not offer STARTTLS", r.host)));
            }
            c.starttls(tls(&r.host)?, &self.hello)
                .await
                .map_err(|e| Delivery::Temporary(format!("STARTTLS with {}: {e}", r.host)))?;
        }
        if let Some(user) = &r.user {
            let creds = Credentials::new(user.clone(), r.password.clone().unwrap_or_default());
            if let Err(e) = c.auth(&[Mechanism::Plain, Mechanism::Login], &creds).await {
                c.abort().await;
                return Err(Delivery::Temporary(format!("the relay refused the login of {user}: {e}")));
            }
        }
        Ok(c)
    }

    /// Sends one message.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Delivery {
        let mut c = match self.connection().await {
            Ok(c) => c,
            Err(d) => return d,
        };
        let out = match c.send(envelope, message).await {
            Ok(answer) => Delivery::Sent(format!("{} {}", answer.code(), answer.message().collect::<Vec<_>>().join(" "))),
            Err(e) => match e.status() {
                Some(code) if e.is_permanent() => Delivery::Permanent {
                    code: code.to_string().parse().unwrap_or(550),
                    answer: e.to_string(),
                },
                Some(_) => Delivery::Temporary(e.to_string()),
                None if e.is_client() => Delivery::Temporary(e.to_string()),
                None => Delivery::Unknown(e.to_string()),
            },
        };
        if c.has_broken() {
            c.abort().await;
        } else {
            let mut idle = self.idle.lock().await;
            if idle.len() < MAX_IDLE {
                idle.push(c);
            }
        }
        out
    }

    /// Tries to connect and log in (Settings → Email's check).
    pub async fn check(&self) -> Result<(), String> {
        match self.connection().await {
            Ok(mut c) => {
                let _ = c.quit().await;
                Ok(())
            }
            Err(Delivery::Temporary(e)) => Err(e),
            Err(other) => Err(format!("{other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_urls() {
        let r = Relay::parse("smtp://me%40x.fr:p%3Ass@mail.x.fr:2525?tls=none").unwrap();
        assert_eq!((r.host.as_str(), r.port, r.tls), ("mail.x.fr", 2525, TlsMode::None));
        assert_eq!((r.user.as_deref(), r.password.as_deref()), (Some("me@x.fr"), Some("p:ss")));
        assert!(!format!("{r:?}").contains("p:ss"));
        assert!(!r.describe().contains("p:ss"));
        let r = Relay::parse("smtps://relay.example.com").unwrap();
        assert_eq!((r.port, r.tls, r.user), (465, TlsMode::Implicit, None));
        assert_eq!(Relay::parse("smtp://h").unwrap().tls, TlsMode::StartTls);
        for bad in [
            "http://h",
            "smtp://",
            "smtp://h:99999",
            "smtp://h?tls=maybe",
            "h:25",
            "smtps://h?tls=none",
        ] {
            assert!(Relay::parse(bad).is_err(), "{bad}");
        }
    }
}
