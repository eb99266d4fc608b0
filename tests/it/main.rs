//! The integration tests, as one test binary with a module per suite, so that they link once:
//! `cargo test --test it` runs them all, `cargo test --test it sync_api::` one suite.
//!
//! The suites share this process and run side by side: what one test sets for the process
//! (the log capture of `common::logs`, say) holds for every other.

#[macro_use]
mod common;

mod api;
mod api_keys_api;
mod cache_conformance;
mod conformance;
mod iam_api;
mod impersonation_api;
mod impersonation_conformance;
mod limits;
mod names_conformance;
mod new_enemy;
mod nodelay;
mod outage;
mod policy_api;
mod policy_conformance;
mod probe;
mod secret_key_conformance;
mod sqlite_file;
mod sync_api;
mod tls;
mod traces;
mod usage_api;
mod user_info_addresses;
mod user_info_api;
