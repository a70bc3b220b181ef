//! Delivery status notifications (RFC 3464): a relay's report that a message
//! could not be delivered, handed to Carnet as a raw message (`carnet mail
//! bounce < message.eml`, or the authenticated API endpoint a mail provider
//! forwards to). Each recipient reported `failed` with a permanent status
//! (5.x.x) is suppressed; the outbox row is found by the original Message-ID.

use super::suppression;
use crate::db::{q, Db};
use crate::error::{AppError, Result};
use serde::Serialize;

/// The largest report read.
pub const MAX_REPORT: usize = 1024 * 1024;

/// One recipient's line of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Recipient {
    pub address: String,
    /// `failed`, `delayed`, `delivered`, `relayed` or `expanded`.
    pub action: String,
    /// The enhanced status code, e.g. `5.1.1`.
    pub status: String,
    pub diagnostic: Option<String>,
}

/// What a report said and what Carnet did with it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Report {
    pub recipients: Vec<Recipient>,
    /// The Message-ID of the message that bounced, when the report quotes it.
    pub original_message_id: Option<String>,
    /// Addresses now suppressed (permanent failures).
    pub suppressed: Vec<String>,
}

/// Reads a DSN; an error when the message is not one.
pub fn parse(raw: &[u8]) -> Result<(Vec<Recipient>, Option<String>)> {
    if raw.len() > MAX_REPORT {
        return Err(AppError::PayloadTooLarge);
    }
    let mail = mailparse::parse_mail(raw).map_err(|e| AppError::field("message", format!("is not a MIME message: {e}")))?;
    let ctype = mail.ctype.mimetype.to_ascii_lowercase();
    let report_type = mail.ctype.params.get("report-type").map(|r| r.to_ascii_lowercase());
    if ctype != "multipart/report" || report_type.as_deref() != Some("delivery-status") {
        return Err(AppError::field(
            "message",
            "is not a delivery status notification (multipart/report; report-type=delivery-status)",
        ));
    }
    let mut recipients = Vec::new();
    let mut original = None;
    for part in &mail.subparts {
        match part.ctype.mimetype.to_ascii_lowercase().as_str() {
            "message/delivery-status" | "message/global-delivery-status" => {
                let body = part.get_body_raw().map_err(|e| AppError::field("message", e.to_string()))?;
                recipients.extend(status_fields(&String::from_utf8_lossy(&body)));
            }
            "message/rfc822" | "text/rfc822-headers" | "message/global" | "message/global-headers" => {
                let body = part.get_body_raw().map_err(|e| AppError::field("message", e.to_string()))?;
                if let Ok((headers, _)) = mailparse::parse_headers(&body) {
                    use mailparse::MailHeaderMap;
                    original = headers.get_first_value("Message-ID").map(|v| v.trim().to_string());
                }
            }
            _ => {}
        }
    }
    if recipients.is_empty() {
        return Err(AppError::field("message", "names no recipient (no Final-Recipient field)"));
    }
    Ok((recipients, original))
}

/// The per-recipient groups of a `message/delivery-status` body: blocks of
/// header fields separated by blank lines, the first being the message's.
fn status_fields(body: &str) -> Vec<Recipient> {
    let body = body.replace("\r\n", "\n");
    let mut out = Vec::new();
    for block in body.split("\n\n") {
        let text = format!("{}\n\n", block.trim());
        let Ok((fields, _)) = mailparse::parse_headers(text.as_bytes()) else {
            continue;
        };
        use mailparse::MailHeaderMap;
        let Some(rcpt) = fields
            .get_first_value("Final-Recipient")
            .or_else(|| fields.get_first_value("Original-Recipient"))
        else {
            continue;
        };
        let address = rcpt
            .split_once(';')
            .map_or(rcpt.as_str(), |(_, a)| a)
            .trim()
            .trim_matches(['<', '>'])
            .to_string();
        out.push(Recipient {
            address,
            action: fields.get_first_value("Action").unwrap_or_default().trim().to_ascii_lowercase(),
            status: fields.get_first_value("Status").unwrap_or_default().trim().to_string(),
            diagnostic: fields.get_first_value("Diagnostic-Code").map(|d| d.trim().to_string()),
        });
    }
    out
}

/// Reads a report and suppresses its permanent failures.
pub async fn accept(db: &Db, raw: &[u8], source: &str) -> Result<Report> {
    let (recipients, original) = parse(raw)?;
    let mut tx = db.begin().await?;
    let email_id: Option<i64> = match &original {
        Some(mid) => {
            q("SELECT id FROM emails WHERE message_id = $1")
                .bind(mid.clone())
                .scalar_opt(&mut tx)
                .await?
        }
        None => None,
    };
    let mut suppressed = Vec::new();
    for r in &recipients {
        if r.action == "failed" && r.status.starts_with('5') && carnet_domain::values::EmailAddress::parse(&r.address).is_ok() {
            let detail = format!("{} {}", r.status, r.diagnostic.as_deref().unwrap_or("")).trim().to_string();
            suppression::bounce(&mut tx, &r.address, source, &detail, email_id).await?;
            if let Some(id) = email_id {
                q("UPDATE emails SET status = 'failed', last_error = $1, updated_at = $2 WHERE id = $3 AND status = 'sent'")
                    .bind(format!("bounced after delivery: {detail}"))
                    .bind(tx.now())
                    .bind(id)
                    .execute(&mut tx)
                    .await?;
            }
            suppressed.push(r.address.clone());
        }
    }
    tx.commit().await?;
    Ok(Report {
        recipients,
        original_message_id: original,
        suppressed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub const DSN: &str = "From: MAILER-DAEMON@relay.example\r\nTo: no-reply@carnet.example\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example\r\nArrival-Date: Mon, 30 Nov 2026 10:00:00 +0000\r\n\r\nFinal-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\nFinal-Recipient: rfc822; slow@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <abc@carnet.example>\r\nSubject: Hello\r\n\r\n--B--\r\n";

    #[test]
    fn reads_a_report() {
        let (r, original) = parse(DSN.as_bytes()).unwrap();
        assert_eq!(original.as_deref(), Some("<abc@carnet.example>"));
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].address.as_str(), r[0].action.as_str(), r[0].status.as_str()),
            ("gone@example.org", "failed", "5.1.1")
        );
        assert_eq!((r[1].action.as_str(), r[1].status.as_str()), ("delayed", "4.4.1"));
        assert!(parse(b"Subject: hi\r\n\r\nnot a report").is_err());
    }
}
