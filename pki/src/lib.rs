//! The fleet's small PKI: CA, controller certificate, agent enrollment.
//!
//! Empty until the fleet-link issue fills it; the crate exists so the workspace
//! has its final shape and dependents can be wired without moving files later.
