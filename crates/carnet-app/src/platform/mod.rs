//! Platform services: the durable job queue and the event log it consumes.

pub mod events;
pub mod jobs;
