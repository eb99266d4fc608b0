//! Who is calling, and what they may do.
//!
//! Callers present `authorization: Bearer <api key>`. [`layer::Auth`] authenticates every
//! call except health and reflection, checks the RPC's entry in `rpc_access`, and hands the
//! [`Principal`] to the handler through the request extensions.

pub mod layer;
mod rpc_access;
mod self_service;

use std::sync::Arc;

use hashbrown::HashSet;

pub use rpc_access::{Access, Rpc, access_for, rpc, rpc_count};
pub use self_service::SelfServiceLimit;

use crate::domain::{self, Id, Timestamp, api_key, api_key::StoredCredential};
use crate::error::{Error, Result};
use crate::store::{Consistency, Credential, EpochCache, Store};

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Id,
    /// Shared with the cached credential, so authenticating a call copies no strings. Hashed
    /// with hashbrown's fast default: its names come from the store, not from callers.
    pub permissions: Arc<HashSet<String>>,
    /// When the key presented for this call expires: what it creates for its own user may not
    /// outlive it.
    pub key_expire_time: Option<Timestamp>,
}

impl Principal {
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    pub fn require(&self, permission: &str) -> Result<()> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(Error::PermissionDenied(format!(
                "this call requires the {permission} permission"
            )))
        }
    }

    /// Allows acting on one's own user; acting on another's needs `permission`.
    pub fn require_self_or(&self, user_id: Id, permission: &str) -> Result<()> {
        if user_id == self.user_id || self.has(permission) {
            Ok(())
        } else {
            Err(Self::not_yours(permission))
        }
    }

    /// Allows acting on `found`, something a lookup found (or did not) and `owner` names the
    /// user of, as [`Self::require_self_or`] does. A caller without `permission` is refused the
    /// same way whether it belongs to another user or does not exist, so that refusals do not
    /// tell which ids exist; the lookup's other errors (an outage) stand.
    pub fn require_own_or<T>(
        &self,
        found: Result<T>,
        owner: impl FnOnce(&T) -> Id,
        permission: &str,
    ) -> Result<T> {
        match found {
            Ok(item) => self
                .require_self_or(owner(&item), permission)
                .map(|()| item),
            Err(Error::NotFound(_)) if !self.has(permission) => Err(Self::not_yours(permission)),
            Err(error) => Err(error),
        }
    }

    fn not_yours(permission: &str) -> Error {
        Error::PermissionDenied(format!(
            "acting on another user's data requires the {permission} permission"
        ))
    }
}

/// Turns an `authorization` header into a [`Principal`].
#[derive(Clone)]
pub struct Authenticator {
    store: Arc<dyn Store>,
    /// Known keys with their users' permissions, usable until the next commit anywhere. Unknown
    /// key ids are never cached, so made-up keys cannot push real ones out.
    credentials: Arc<EpochCache<Id, Arc<Known>>>,
}

/// A key as authentication needs it: what to verify the secret against, and what its user may
/// do.
struct Known {
    stored: StoredCredential,
    permissions: Arc<HashSet<String>>,
}

/// One message for every refused key, so a caller cannot probe which keys exist.
const REFUSED: &str =
    "the API key is not valid: unknown, revoked, expired, or its user is disabled";

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, cache_entries: usize) -> Self {
        Self {
            store,
            credentials: Arc::new(EpochCache::new(cache_entries)),
        }
    }

    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal> {
        let header = authorization.ok_or_else(|| {
            Error::Unauthenticated(
                "missing authorization header; send `authorization: Bearer <api key>`".into(),
            )
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Error::Unauthenticated("the authorization header must be `Bearer <api key>`".into())
            })?;
        let presented = api_key::parse(token).map_err(|e| Error::Unauthenticated(e.to_string()))?;
        let epoch = self
            .store
            .freshness()
            .cache_epoch(Consistency::Cached)
            .await;
        let credential = self
            .credentials
            .get_or_read(&presented.key_id, epoch, || async {
                let Credential {
                    stored,
                    permissions,
                } = self
                    .store
                    .credential(presented.key_id)
                    .await?
                    .ok_or_else(|| Error::Unauthenticated(REFUSED.into()))?;
                Ok::<_, Error>(Arc::new(Known {
                    stored,
                    permissions: Arc::new(permissions.into_iter().collect()),
                }))
            })
            .await?;
        presented
            .verify(&credential.stored, domain::now)
            .map_err(|refusal| {
                tracing::info!(key_id = %presented.key_id, ?refusal, "API key refused");
                Error::Unauthenticated(REFUSED.into())
            })?;
        Ok(Principal {
            user_id: credential.stored.user_id,
            permissions: credential.permissions.clone(),
            key_expire_time: credential.stored.expire_time,
        })
    }
}
