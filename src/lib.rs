//! hearsay: poll platforms for brand mentions, classify their sentiment locally, store them once in SQLite,
//! and email brand managers when negative word-of-mouth spikes.
//!
//! Data flow: `sources` (poll → parse) → `query` (which brand) → `store` (dedup, history) → `sentiment`
//! (classify) → `detect` (spike statistics) → `alert` (lifecycle, outbox, email). `daemon` drives the cycle,
//! `cli` is the command line, `console` the web pages the daemon serves. See ARCHITECTURE.md for the map and its invariants.

pub mod alert;
pub mod backtest;
pub mod cli;
pub mod config;
pub mod console;
pub mod daemon;
pub mod demo;
pub mod detect;
pub mod duration;
pub mod exit;
pub mod lang;
pub mod link;
pub mod logging;
pub mod mention;
pub mod password;
pub mod query;
pub mod report;
pub mod secret;
pub mod sentiment;
pub mod sources;
pub mod store;
pub mod text;
