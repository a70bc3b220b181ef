//! Carnet's integration suite: each test starts the real server on port 0 on a
//! fresh database — a temporary SQLite file, or with
//! `CARNET_TEST_DATABASE=postgres` a new PostgreSQL database — and talks HTTP.
//! Browser tests run when `CARNET_BROWSER_TESTS=1`.

mod helpers;

mod access;
mod agenda_api;
mod analytics;
mod api_contract;
mod api_document;
mod api_limits;
mod booking;
mod browser;
mod email;
mod foundations;
mod jobs;
mod marketing;
mod pages;
mod records_api;
mod recurring;
mod sales_api;
mod settings_api;
mod tracking;
