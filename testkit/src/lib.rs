//! Real parts that personae's integration tests (`tests/it`) and benchmarks (`bench/`) share, in
//! a crate of their own so that both use them as ordinary code: certificates made at run time
//! with rcgen, and a real HTTPS user-info endpoint.

pub mod certs;
pub mod user_info_server;
