//! The gRPC services: thin handlers that validate a request into domain values, call the store,
//! and convert the result back. No SQL and no business rules live here.

mod audit;
mod convert;
mod groups;
mod iam;
mod permissions;
mod unimplemented;
mod users;

use std::sync::Arc;

pub use audit::AuditApi;
pub use groups::GroupsApi;
pub use iam::IamConfigApi;
pub use permissions::PermissionsApi;
pub use unimplemented::ImpersonationApi;
pub use users::UsersApi;

use tonic::{Request, Response, metadata::MetadataValue};

use crate::auth::Principal;
use crate::domain::Revision;
use crate::error::{Error, Result};
use crate::store::{Committed, Store};

/// The response header carrying the revision a mutation committed.
pub const CONSISTENCY_TOKEN_HEADER: &str = "personae-consistency-token";

/// What every service holds.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
}

/// The caller, as the auth layer authenticated it.
fn principal<T>(request: &Request<T>) -> Result<Principal> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| {
            Error::internal("no principal on an authenticated call; is the auth layer missing?")
        })
}

/// The response to a mutation: its value, with the revision in the consistency-token header.
fn committed<D, P>(committed: Committed<D>, convert: impl FnOnce(D) -> P) -> Response<P> {
    let mut response = Response::new(convert(committed.value));
    response.metadata_mut().insert(
        CONSISTENCY_TOKEN_HEADER,
        revision_header(committed.revision),
    );
    response
}

fn revision_header(revision: Revision) -> MetadataValue<tonic::metadata::Ascii> {
    MetadataValue::from(revision.0)
}
