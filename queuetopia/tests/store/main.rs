#![allow(clippy::unwrap_used)]
//! The store conformance suite: every backend's store, driven through the
//! storage seam (opened by the hidden `store-conformance` feature), must
//! make the same transitions. Where speed keeps the queue rule in a
//! backend's own SQL (PostgreSQL's functions, SQLite's hand-on statement),
//! a copy that drifts fails here, by case and backend.
//!
//! `transitions/` is the table, by area (see `table` for its language); `batch`
//! checks batches of results; `mysql_only` checks MySQL's own statements.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod batch;
mod mysql_only;
mod table;
mod transitions;
