//! The gRPC services: thin handlers that validate a request into domain values, call the store,
//! and convert the result back. No SQL and no business rules live here.

mod audit;
mod convert;
mod groups;
mod iam;
mod impersonation;
mod permissions;
mod users;

use std::sync::Arc;

pub use audit::AuditApi;
pub use groups::GroupsApi;
pub use iam::IamConfigApi;
pub use impersonation::ImpersonationApi;
pub use permissions::PermissionsApi;
pub use users::UsersApi;

use tonic::{Request, Response, metadata::MetadataValue};

use crate::auth::{Principal, SelfServiceLimit};
use crate::decisions::Decisions;
use crate::domain::{
    Revision, Version, address::AddressPolicy, audit::AuditRecord, name::comparison_key,
};
use crate::error::{Error, Result};
use crate::proto;
use crate::store::{Committed, Consistency, Store};

/// The response header carrying the revision a mutation committed.
pub const CONSISTENCY_TOKEN_HEADER: &str = "personae-consistency-token";

/// What every service holds.
#[derive(Clone)]
pub struct Context {
    pub store: Arc<dyn Store>,
    pub decisions: Arc<Decisions>,
    /// Where user-info endpoints may be: checked when an IAM's is saved and when it is called.
    pub user_info_addresses: AddressPolicy,
    /// The most active API keys one user may have (CreateApiKey).
    pub max_api_keys_per_user: u32,
    /// What callers without USER_ADMIN may write to their own keys, and how often.
    pub self_service: Arc<SelfServiceLimit>,
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

/// What a mutation by `actor` records about itself in the audit log.
fn audit(
    actor: &Principal,
    action: &'static str,
    target_type: &'static str,
    target: impl ToString,
) -> AuditRecord {
    AuditRecord::new(Some(actor.user_id), action, target_type, target)
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

/// A List call's `query`: trimmed, as a comparison key (so matched ignoring case), `None` when
/// empty.
fn search_query(text: &str) -> Result<Option<String>> {
    let text = text.trim();
    if text.chars().count() > crate::domain::MAX_TEXT_CHARS {
        return Err(Error::invalid(
            "query",
            format!(
                "is longer than {} characters",
                crate::domain::MAX_TEXT_CHARS
            ),
        ));
    }
    Ok((!text.is_empty()).then(|| comparison_key(text)))
}

/// A check's consistency requirement: a token (`at_least_as_fresh`) must be a revision.
pub(super) fn consistency(consistency: Option<&proto::Consistency>) -> Result<Consistency> {
    use proto::consistency::Requirement;
    match consistency.and_then(|c| c.requirement.as_ref()) {
        None | Some(Requirement::FullyConsistent(false)) => Ok(Consistency::Cached),
        Some(Requirement::FullyConsistent(true)) => Ok(Consistency::Full),
        Some(Requirement::AtLeastAsFresh(token)) => token
            .parse::<i64>()
            .ok()
            .filter(|revision| *revision >= 0)
            .map(|revision| Consistency::AtLeast(Revision(revision)))
            .ok_or_else(|| {
                Error::invalid(
                    "consistency.at_least_as_fresh",
                    format!("{token:?} is not a personae-consistency-token value"),
                )
            }),
    }
}

/// The validated paths of an Update call's `update_mask`.
struct UpdateMask(Vec<String>);

impl UpdateMask {
    /// Requires at least one path, each one of `updatable`.
    fn parse(mask: Option<prost_types::FieldMask>, updatable: &[&str]) -> Result<Self> {
        let paths = mask.map(|m| m.paths).unwrap_or_default();
        let listed = updatable.join(", ");
        if paths.is_empty() {
            return Err(Error::invalid(
                "update_mask",
                format!("must name at least one field: {listed}"),
            ));
        }
        if let Some(unknown) = paths.iter().find(|p| !updatable.contains(&p.as_str())) {
            return Err(Error::invalid(
                "update_mask",
                format!("{unknown:?} cannot be updated; the updatable fields are {listed}"),
            ));
        }
        Ok(Self(paths))
    }

    fn has(&self, path: &str) -> bool {
        self.0.iter().any(|p| p == path)
    }

    /// Validates the field at `path` when the mask names it.
    fn field<T>(&self, path: &str, parse: impl FnOnce() -> Result<T>) -> Result<Option<T>> {
        self.has(path).then(parse).transpose()
    }

    fn paths(&self) -> &[String] {
        &self.0
    }
}

/// The etag an Update call sends: the request's, else the one inside the resource.
fn update_etag(request_etag: &str, resource_etag: &str) -> Result<Version> {
    let etag = if request_etag.is_empty() {
        resource_etag
    } else {
        request_etag
    };
    Version::parse_etag("etag", etag)
}
