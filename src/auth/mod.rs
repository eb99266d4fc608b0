//! Who is calling, and what they may do.
//!
//! Callers present `authorization: Bearer <api key>`, or a verified client certificate naming a
//! service account (its username as an email SAN, or one of its certificate URIs as a URI
//! SAN); when both come, the key decides. [`layer::Auth`] authenticates every
//! call except health and reflection, checks the RPC's entry in `rpc_access`, and hands the
//! [`Principal`] to the handler through the request extensions.

pub mod layer;
mod rpc_access;
mod self_service;

use std::sync::Arc;

use hashbrown::HashSet;

pub use rpc_access::{Access, Rpc, access_for, rpc, rpc_count};
pub use self_service::SelfServiceLimit;

use crate::checks::{Consistency, Deps, EpochCache, Freshness, Topic};
use crate::domain::{
    self, Id, Timestamp, api_key,
    api_key::StoredCredential,
    client_certificate::{ClientCertificate, fingerprint},
    name::comparison_key,
};
use crate::error::{Error, Result};
use crate::store::{AccountCredential, CertificateName, Credential, Store};
use crate::telemetry::Metrics;

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: Id,
    /// Shared with the cached credential, so authenticating a call copies no strings. Hashed
    /// with hashbrown's fast default: its names come from the store, not from callers.
    pub permissions: Arc<HashSet<String>>,
    /// When the key (or client certificate) presented for this call expires: what it creates
    /// for its own user may not outlive it.
    pub key_expire_time: Option<Timestamp>,
    /// The SHA-256 of the client certificate the connection presented, if any, whether it or a
    /// bearer key authenticated the call: audit events record it.
    pub certificate: Option<String>,
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

/// Turns an `authorization` header, or a verified client certificate, into a [`Principal`].
#[derive(Clone)]
pub struct Authenticator {
    store: Arc<dyn Store>,
    freshness: Arc<Freshness>,
    /// Known keys with their users' permissions, usable until the next commit anywhere. Unknown
    /// key ids are never cached, so made-up keys cannot push real ones out.
    credentials: Arc<EpochCache<Id, Arc<Known>>>,
    /// The service accounts client certificates name, by fingerprint, under the same rule (so a
    /// disabled or deleted account's certificate stops working at once, as its keys do).
    /// Certificates naming no account are not cached.
    accounts: Arc<EpochCache<String, Arc<KnownAccount>>>,
}

/// A key as authentication needs it: what to verify the secret against, and what its user may
/// do.
struct Known {
    stored: StoredCredential,
    permissions: Arc<HashSet<String>>,
}

/// A service account as a certificate authenticates as it.
struct KnownAccount {
    user_id: Id,
    disabled: bool,
    permissions: Arc<HashSet<String>>,
    /// When the certificate expires.
    not_after: Timestamp,
}

/// One message for every refused key, so a caller cannot probe which keys exist.
const REFUSED: &str =
    "the API key is not valid: unknown, revoked, expired, or its user is disabled";

/// One message for every refused client certificate, so a caller cannot probe which accounts
/// exist.
const CERTIFICATE_REFUSED: &str = "the client certificate names no enabled service account: its \
     email subject alternative name must be one's username, or a URI one must be among its \
     certificate_uris";

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, cache_entries: usize, metrics: &Metrics) -> Self {
        let lookups = |name| metrics.cache_lookups(name);
        Self {
            freshness: store.freshness(),
            store,
            credentials: Arc::new(EpochCache::new(cache_entries, lookups("credentials"))),
            accounts: Arc::new(EpochCache::new(
                cache_entries,
                lookups("certificate_accounts"),
            )),
        }
    }

    /// The caller a call's bearer key names, or else its connection's client certificate: when
    /// both are given the key decides, and the certificate is recorded beside it.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        certificate: Option<&[u8]>,
    ) -> Result<Principal> {
        match (authorization, certificate) {
            (Some(header), certificate) => Ok(Principal {
                certificate: certificate.map(fingerprint),
                ..self.by_key(header).await?
            }),
            (None, Some(der)) => self.by_certificate(der).await,
            (None, None) => Err(Error::Unauthenticated(
                "missing authorization header; send `authorization: Bearer <api key>`".into(),
            )),
        }
    }

    /// The service account a verified certificate names: read (and the certificate parsed)
    /// only when its fingerprint is not cached.
    async fn by_certificate(&self, der: &[u8]) -> Result<Principal> {
        let fingerprint = fingerprint(der);
        let epoch = self.freshness.cache_epoch(Consistency::Cached).await;
        let account = self
            .accounts
            .get_or_read(fingerprint.as_str(), epoch, || async {
                let certificate = ClientCertificate::parse(der)?;
                let email_keys: Vec<String> = certificate
                    .emails
                    .iter()
                    .map(|e| comparison_key(e))
                    .collect();
                let names = (email_keys.iter().map(|key| CertificateName::EmailKey(key)))
                    .chain(certificate.uris.iter().map(CertificateName::Uri));
                let mut named = Vec::new();
                for name in names {
                    if let Some(account) = self.store.account_credential(name).await?
                        && !named
                            .iter()
                            .any(|n: &AccountCredential| n.user_id == account.user_id)
                    {
                        named.push(account);
                    }
                }
                // Two accounts in one certificate: which one is meant is not the holder's to pick.
                let [account] = <[AccountCredential; 1]>::try_from(named)
                    .map_err(|_| Error::Unauthenticated(CERTIFICATE_REFUSED.into()))?;
                // A name of the certificate given to another account later makes it name two.
                let names = (certificate.emails.iter().map(|email| Topic::name(email)))
                    .chain(certificate.uris.iter().map(|uri| Topic::name(uri.as_str())));
                let deps =
                    Deps::from_iter(std::iter::once(Topic::User(account.user_id)).chain(names));
                let known = KnownAccount {
                    user_id: account.user_id,
                    disabled: account.disabled,
                    permissions: Arc::new(account.permissions.into_iter().collect()),
                    not_after: certificate.not_after,
                };
                Ok::<_, Error>((Arc::new(known), deps))
            })
            .await?;
        if account.disabled {
            tracing::info!(
                fingerprint,
                "client certificate of a disabled account refused"
            );
            return Err(Error::Unauthenticated(CERTIFICATE_REFUSED.into()));
        }
        Ok(Principal {
            user_id: account.user_id,
            permissions: account.permissions.clone(),
            key_expire_time: Some(account.not_after),
            certificate: Some(fingerprint),
        })
    }

    async fn by_key(&self, header: &str) -> Result<Principal> {
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| {
                Error::Unauthenticated("the authorization header must be `Bearer <api key>`".into())
            })?;
        let presented = api_key::parse(token).map_err(|e| Error::Unauthenticated(e.to_string()))?;
        let epoch = self.freshness.cache_epoch(Consistency::Cached).await;
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
                let deps =
                    Deps::from_iter([Topic::ApiKey(presented.key_id), Topic::User(stored.user_id)]);
                let known = Known {
                    stored,
                    permissions: Arc::new(permissions.into_iter().collect()),
                };
                Ok::<_, Error>((Arc::new(known), deps))
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
            certificate: None,
        })
    }
}
