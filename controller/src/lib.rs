//! The central controller: voucher ledger, web API, fleet endpoint, jobs.
//!
//! - [`store`]: the ledger (an embedded redb database behind a trait); everything durable
//!   lives there.
//! - [`auth`]: passwords, sessions, CSRF, login throttling, role policy.
//! - [`api`]: the JSON API under `/api` (and `/healthz`, `/metrics`), OpenAPI from the code.
//! - [`fleet`]: the controller's end of the fleet link: enrollment, renewal, events into the
//!   ledger, requests to agents with deadlines.
//! - [`web`]: the dashboard's server-rendered pages (templates in the `hotspot-ui` crate).
//! - [`jobs`]: usage sync, health, the daily reconciliation report.
//! - [`app`]: the shared state the above hang off.
//! - [`cli`]: the `hotspot-controller` command line (a library module so the demo and process
//!   tests can run the same code).

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod fleet;
pub mod jobs;
pub mod metrics;
pub mod store;
pub mod web;
