//! personae: identity and permissions for data platforms, over gRPC.
//!
//! The generated API (server and client stubs) is in [`proto`]; a Rust client is
//! `proto::users_client::UsersClient` and its siblings.

pub mod api;
pub mod auth;
pub mod bootstrap;
pub mod checks;
pub mod config;
pub mod domain;
pub mod error;
pub mod iam_sync;
pub mod middleware;
pub mod secrets;
pub mod server;
pub mod store;
pub mod telemetry;

/// The `personae.v1` API as generated from `proto/`.
pub mod proto {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("personae.v1");

    /// The encoded file descriptor set of the API, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("personae_descriptor");
}
