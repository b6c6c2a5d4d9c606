//! EA CRM: a chat-first sales CRM and realtime team hub in one binary.
//!
//! `App::build` wires the store, the domain services and the HTTP server;
//! `main.rs` only parses the command line.

pub mod app;
pub mod backup;
pub mod bench;
pub mod bots;
pub mod config;
pub mod domain;
pub mod fuzzing;
pub mod http;
pub mod rate_limit;
pub mod realtime;
pub mod store;
