//! The HTTP API under `/api`: errors and the OpenAPI document (handlers join as they come).

pub mod error;
pub mod openapi;
