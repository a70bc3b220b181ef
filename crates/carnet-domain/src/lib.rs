//! Carnet's domain: the values a CRM record is made of, parsed once at the edge
//! ("parse, don't validate"), the rules that apply to them, and who may do what.
//! Nothing here knows about HTTP or SQL.

pub mod access;
pub mod agenda;
pub mod catalog;
pub mod error;
pub mod fields;
pub mod i18n;
pub mod input;
pub mod marketing;
pub mod metrics;
pub mod records;
pub mod sales;
pub mod search;
pub mod slots;
pub mod time;
pub mod tracking;
pub mod values;

pub use error::FieldErrors;
