//! Marketing (SPEC M1–M3): campaigns with their costs and the touches that
//! attribute contacts and deals to them; forms and landing pages with
//! versioned consent and double opt-in; questionnaires scored into bands;
//! lead scoring with its hand-off to a rep; website tracking (M5), whose
//! known visitors' page views score too.
//! Public submissions arrive through `submit`; the emails they owe go through
//! the outbox like every other.

pub mod campaigns;
pub mod forms;
pub mod leads;
pub mod requalify;
pub mod scoring;
pub mod submit;
pub mod tracking;

use crate::platform::events::EventKind;
use crate::platform::registry::{Delivery, Registry, Subscriber};

pub fn register(r: Registry) -> Registry {
    r.subscribe(Subscriber {
        name: "campaign attribution",
        kinds: &[EventKind::RecordCreated],
        delivery: Delivery::InWriterTx,
        run: campaigns::attribute,
    })
    .subscribe(Subscriber {
        name: "lead scoring",
        kinds: scoring::EVENTS,
        delivery: Delivery::Queued,
        run: scoring::on_event,
    })
    .subscribe(Subscriber {
        name: "qualified leads",
        kinds: leads::INTEREST,
        delivery: Delivery::Queued,
        run: leads::on_event,
    })
    .subscribe(Subscriber {
        name: "qualified leads' details",
        kinds: leads::DETAILS,
        delivery: Delivery::InWriterTx,
        run: leads::on_details,
    })
    .job::<scoring::Rescore>()
    .daily(scoring::daily)
    .daily(requalify::daily)
    .daily(tracking::daily)
}
