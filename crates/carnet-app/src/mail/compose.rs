//! A row of the outbox as a MIME message: From (the company's address, under
//! the rep's or the company's name), Reply-To, the stable Message-ID, the
//! unsubscribe headers of marketing messages (RFC 8058), and the parts:
//! text and HTML as alternatives, an invitation as `text/calendar` with its
//! METHOD beside them and as an `invite.ics` attachment.

use super::outbox::Email;
use crate::platform::signing::Site;
use lettre::address::Envelope;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;

/// The link of the one-click unsubscribe of a message.
pub fn unsubscribe_url(site: &Site, email_id: i64) -> String {
    site.url(&format!("/u/{}", super::tracking::token(site, "unsubscribe", &[email_id])))
}

/// Reads an unsubscribe token; `None` when forged.
pub fn read_unsubscribe(site: &Site, token: &str) -> Option<i64> {
    super::tracking::read_token(site, "unsubscribe", token, 1).map(|ids| ids[0])
}

fn mailbox(name: Option<&str>, address: &str) -> Result<Mailbox, String> {
    let addr = address
        .parse()
        .map_err(|e| format!("{address:?} is not an address the relay accepts: {e}"))?;
    Ok(Mailbox::new(name.filter(|n| !n.trim().is_empty()).map(str::to_string), addr))
}

/// The envelope and the bytes to send; an error is a message that cannot be
/// sent as written (an address lettre refuses): it fails without retry.
pub fn message(e: &Email, site: &Site) -> Result<(Envelope, Vec<u8>), String> {
    let mut b = Message::builder()
        .from(mailbox(Some(&e.from_name), &e.from_address)?)
        .to(mailbox(e.to_name.as_deref(), &e.to_address)?)
        .subject(e.subject.clone())
        .message_id(Some(e.message_id.clone()));
    if let Some(r) = &e.reply_to {
        b = b.reply_to(mailbox(None, r)?);
    }
    if e.category == "marketing" {
        let url = unsubscribe_url(site, e.id);
        let token = url.rsplit('/').next().unwrap_or_default().to_string();
        b = b
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{url}>, <mailto:{}?subject=unsubscribe%20{token}>", e.from_address),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    let alternative = MultiPart::alternative()
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(e.text_body.clone()))
        .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(e.html.clone()));
    let msg = match (&e.ics, &e.ics_method) {
        (Some(ics), Some(method)) => {
            let calendar = ContentType::parse(&format!("text/calendar; charset=utf-8; method={method}")).map_err(|e| e.to_string())?;
            let attachment = ContentType::parse("application/ics; name=\"invite.ics\"").map_err(|e| e.to_string())?;
            b.multipart(
                MultiPart::mixed()
                    .multipart(alternative.singlepart(SinglePart::builder().header(calendar).body(ics.clone())))
                    .singlepart(Attachment::new("invite.ics".into()).body(ics.clone(), attachment)),
            )
        }
        _ => b.multipart(alternative),
    }
    .map_err(|e| e.to_string())?;
    Ok((msg.envelope().clone(), msg.formatted()))
}
