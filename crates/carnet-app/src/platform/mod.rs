//! Platform services: the durable job queue, the event log, and the registry
//! through which capabilities plug their job kinds, event subscribers and
//! watchers in at start; the idempotency keys of API writes; and the key that
//! signs the links Carnet hands out; group commit for hits answered before they are written. The platform
//! imports no feature module.

pub mod events;
pub mod group;
pub mod idempotency;
pub mod jobs;
pub mod registry;
pub mod signing;
