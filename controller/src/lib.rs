//! The central controller: voucher ledger, web API, fleet endpoint, jobs.
//!
//! Empty until the controller issue fills it; the crate exists so the workspace
//! has its final shape.

pub mod store;
pub mod api;
pub mod auth;
pub mod config;
pub mod metrics;
