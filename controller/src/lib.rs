//! The central controller: voucher ledger, web API, fleet endpoint, jobs.
//!
//! Empty until the controller issue fills it; the crate exists so the workspace
//! has its final shape.
