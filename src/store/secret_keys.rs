//! The service's secret key as the store uses it. The key given must be the one the store's
//! secrets are sealed under, told by a value sealed under it when it was first used
//! (`secret_keys`): a wrong key is refused when the store opens, not found out when a secret is
//! first read, and so is a missing one while secrets are stored.

use std::sync::Mutex;

use super::{
    SqlStore,
    db::{Conn, Database, query},
    iams::{CLIENT_KEY, PASSWORD, secret_place},
    queries::{audit::LOCK_HEAD, iams as iam_sql, secret_keys as sql},
    write::Write,
};
use crate::checks::Touched;
use crate::domain::{Id, audit::AuditRecord};
use crate::error::{Error, Result};
use crate::secrets::{KeySource, OpenError, Place, SecretKey};

/// What the check value holds; any constant does, what matters is that it decrypts.
const CHECK: &[u8] = b"personae secret key check";

fn check_place() -> Place {
    Place {
        table: "secret_keys",
        row: Id::FIRST,
        column: "key_check",
    }
}

pub(super) struct Secrets {
    source: KeySource,
    /// Known once given and checked, or once a secret was first sealed (a SQLite key file is
    /// created then).
    key: Mutex<Option<SecretKey>>,
}

impl Secrets {
    /// Checks the key `source` gives against the store's, recording the first key given.
    /// Without a key there is nothing to record, so no write lock is taken.
    pub(super) async fn open(db: &Database, source: KeySource) -> Result<Self> {
        let key = match source.load(false).map_err(Error::Internal)? {
            Some(bytes) => {
                let mut tx = db.begin_write().await?;
                let mut conn = tx.conn();
                // Under the write lock, so replicas starting together with a new key record
                // it once.
                let _: (i64, String) = conn.fetch_one(query(LOCK_HEAD)).await?;
                let key = verify_or_record(&mut conn, &bytes).await?;
                tx.commit().await?;
                Some(key)
            }
            None => {
                let mut pooled = db.acquire().await?;
                let (secrets,): (i64,) = pooled
                    .conn()
                    .fetch_one(query(iam_sql::SECRET_COUNT))
                    .await?;
                if secrets > 0 {
                    return Err(Error::FailedPrecondition(format!(
                        "{secrets} secrets (user-info endpoint passwords and client keys) are \
                         stored, sealed under a secret key, but no key is given: set \
                         PERSONAE_SECRET_KEY or PERSONAE_SECRET_KEY_FILE to that key"
                    )));
                }
                None
            }
        };
        Ok(Self {
            source,
            key: Mutex::new(key),
        })
    }

    /// The plaintext of a stored secret, sealed to `place` under the store's key.
    pub(super) fn open_secret(&self, place: Place, sealed: &[u8]) -> Result<Vec<u8>> {
        let key = self.current().ok_or_else(|| {
            Error::internal("a sealed secret is stored, yet the store opened without a key")
        })?;
        key.open(place, sealed)
            .map_err(|cause| unopened(place, &cause, ""))
    }

    fn current(&self) -> Option<SecretKey> {
        self.key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, key: SecretKey) {
        *self
            .key
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key);
    }

    /// The key to seal a secret with in the write transaction `conn`, whose commit records the
    /// key if it is the first one used.
    pub(super) async fn sealing_key(&self, conn: &mut Conn<'_>, field: &str) -> Result<SecretKey> {
        let key = match self.current() {
            Some(key) => key,
            None => {
                let bytes = self
                    .source
                    .load(true)
                    .map_err(Error::Internal)?
                    .ok_or_else(|| {
                        Error::FailedPrecondition(format!(
                            "{field}: storing a secret needs the server's secret key; start it \
                             with PERSONAE_SECRET_KEY (32 random bytes as 64 hex characters) or \
                             PERSONAE_SECRET_KEY_FILE"
                        ))
                    })?;
                let key = verify_or_record(conn, &bytes).await?;
                self.replace(key.clone());
                key
            }
        };
        Ok(key)
    }
}

/// What a rotation did.
#[derive(Debug)]
pub struct Rotation {
    /// The new key's version.
    pub version: i64,
    /// How many secrets were sealed again.
    pub secrets: usize,
}

impl SqlStore {
    /// Seals every stored secret again under `new`, the next key version, in one transaction
    /// with its audit event; from then on the store opens only with the new key. A secret that
    /// does not open under the current key (sealed under another key version, altered, or
    /// copied from another row) stops the rotation, changing nothing.
    pub async fn rotate_secret_key(&self, new: &[u8; 32]) -> Result<Rotation> {
        let mut write = Write::begin(&self.db).await?;
        let mut conn = write.conn();
        let latest: Option<(i64, Vec<u8>)> = conn.fetch_optional(query(sql::LATEST)).await?;
        let version = latest.map_or(1, |(version, _)| version + 1);
        let new_key = SecretKey::new(new, version);
        let current = self.secrets.current();
        let mut secrets = 0;
        for (column, sealed_sql, set_sql) in [
            (PASSWORD, sql::SEALED_PASSWORDS, iam_sql::SET_PASSWORD),
            (CLIENT_KEY, sql::SEALED_CLIENT_KEYS, iam_sql::SET_CLIENT_KEY),
        ] {
            let sealed: Vec<(Id, Vec<u8>)> = conn.fetch_all(query(sealed_sql)).await?;
            for (id, secret) in &sealed {
                let place = secret_place(*id, column);
                let key = current.as_ref().ok_or_else(|| {
                    Error::FailedPrecondition(format!(
                        "iams row {id}: {column} is sealed, but the store was opened without \
                         a secret key; nothing was changed"
                    ))
                })?;
                let plain = key
                    .open(place, secret)
                    .map_err(|cause| unopened(place, &cause, "; nothing was changed"))?;
                let resealed = new_key.seal(place, &plain)?;
                conn.execute(query(set_sql).bind(*id).bind(&resealed[..]))
                    .await?;
            }
            secrets += sealed.len();
        }
        let key_check = new_key.seal(check_place(), CHECK)?;
        conn.execute(query(sql::INSERT).bind(version).bind(&key_check[..]))
            .await?;
        let record = AuditRecord::new(None, "RotateSecretKey", "secret_key", version)
            .with_details(serde_json::json!({ "version": version, "secrets": secrets }));
        let rotation = Rotation { version, secrets };
        // Sealed secrets are no check's facts, but a rotation is rare: drop everything.
        let committed = write
            .finish(rotation, record, Touched::everything())
            .await?;
        self.secrets.replace(new_key);
        Ok(committed.value)
    }
}

/// A secret stored in `place` that does not open, and why: sealed under another key version
/// (a rotation a server was not part of) is told apart from a ciphertext altered or moved.
fn unopened(place: Place, cause: &OpenError, then: &str) -> Error {
    Error::FailedPrecondition(format!(
        "{} row {}: {} {cause}{then}",
        place.table, place.row, place.column
    ))
}

/// The key `bytes` make, checked against the store's newest key, or recorded as the first.
async fn verify_or_record(conn: &mut Conn<'_>, bytes: &[u8; 32]) -> Result<SecretKey> {
    let latest: Option<(i64, Vec<u8>)> = conn.fetch_optional(query(sql::LATEST)).await?;
    match latest {
        Some((version, key_check)) => {
            let key = SecretKey::new(bytes, version);
            if key.open(check_place(), &key_check).ok().as_deref() != Some(CHECK) {
                return Err(Error::FailedPrecondition(format!(
                    "the secret key given (PERSONAE_SECRET_KEY or its key file) is not the one \
                     this store's secrets are sealed under (key version {version}); start with \
                     that key"
                )));
            }
            Ok(key)
        }
        None => {
            let key = SecretKey::new(bytes, 1);
            let sealed = key.seal(check_place(), CHECK)?;
            conn.execute(query(sql::INSERT).bind(key.version).bind(&sealed[..]))
                .await?;
            Ok(key)
        }
    }
}
