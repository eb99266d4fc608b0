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
use crate::checks::{Consistency, Decisions};
use crate::domain::{
    Revision, Version, address::AddressPolicy, audit::AuditRecord, name::comparison_key,
    page::PageRequest,
};
use crate::error::{Error, Result};
use crate::proto;
use crate::store::{Committed, Store};

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
    let record = AuditRecord::new(Some(actor.user_id), action, target_type, target);
    match &actor.certificate {
        Some(fingerprint) => record.with_details(serde_json::json!({
            "caller_certificate_sha256": fingerprint,
        })),
        None => record,
    }
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

/// One page of a List call, as each List handler pages: its `page_size` (`default_size` when
/// zero) and `page_token`, checked against `filter` (the request's other fields in a fixed
/// textual form, which a token is bound to); `fetch` reads the page and one item more from the
/// store; the page and the token of the next one (empty after the last), made from the last
/// item's `key`.
async fn page_of<T>(
    page_size: i32,
    page_token: &str,
    default_size: usize,
    filter: &str,
    fetch: impl AsyncFnOnce(&PageRequest) -> Result<Vec<T>>,
    key: impl Fn(&T) -> String,
) -> Result<(Vec<T>, String)> {
    let page = PageRequest::parse(page_size, page_token, default_size, filter)?;
    let mut items = fetch(&page).await?;
    let next_page_token = page.finish(&mut items, key);
    Ok((items, next_page_token))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The page of `items` after the request's key, as a store reads it: one item more.
    fn read(items: &[i64], page: &PageRequest) -> Result<Vec<i64>> {
        let after: i64 = page.after.as_deref().map_or(Ok(0), str::parse).unwrap();
        let limit = usize::try_from(page.limit()).unwrap();
        Ok(items
            .iter()
            .copied()
            .filter(|i| *i > after)
            .take(limit)
            .collect())
    }

    #[tokio::test]
    async fn a_list_pages_through_its_items_with_tokens_bound_to_its_filter() {
        let items: Vec<i64> = (1..=5).collect();
        let page = async |size: i32, token: &str, filter: &str| {
            page_of(
                size,
                token,
                3,
                filter,
                async |page| read(&items, page),
                |i| i.to_string(),
            )
            .await
        };
        let (first, token) = page(2, "", "f").await.unwrap();
        assert_eq!(first, [1, 2]);
        let (second, next) = page(2, &token, "f").await.unwrap();
        assert_eq!(second, [3, 4]);
        let (last, end) = page(2, &next, "f").await.unwrap();
        assert_eq!(
            (last, end.as_str()),
            (vec![5], ""),
            "no token after the last"
        );
        let (default, _) = page(0, "", "f").await.unwrap();
        assert_eq!(default, [1, 2, 3], "page size 0 is the default");
        let refused = page(2, &token, "g").await.unwrap_err().to_string();
        assert!(refused.starts_with("page_token: "), "{refused}");
    }
}
