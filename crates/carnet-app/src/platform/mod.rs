//! Platform services: the durable job queue, the event log, and the registry
//! through which capabilities plug their job kinds, event subscribers and
//! watchers in at start; the idempotency keys of API writes; and the key that
//! signs the links Carnet hands out. The platform
//! imports no feature module.

pub mod events;
pub mod idempotency;
pub mod jobs;
pub mod registry;
pub mod signing;
