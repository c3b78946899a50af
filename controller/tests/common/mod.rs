//! What the controller's test harnesses share; each test that uses a harness declares
//! `mod common;` beside it.

#![allow(dead_code)]

pub mod agent;
pub mod http;
