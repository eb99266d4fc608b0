//! The start-up check of the service's secret key: the key given must be the one the store's
//! secrets are sealed under, told by a value sealed under it when it was first used
//! (`secret_keys`). A wrong key is refused before the server serves, not found out when a
//! secret is first read.

use super::{
    db::{Database, query},
    queries::{audit::LOCK_HEAD, secret_keys as sql},
};
use crate::domain::Id;
use crate::error::{Error, Result};
use crate::secrets::{KeySource, Place, SecretKey};

/// What the check value holds; any constant does, what matters is that it decrypts.
const CHECK: &[u8] = b"personae secret key check";

fn check_place() -> Place {
    Place {
        table: "secret_keys",
        row: Id::FIRST,
        column: "key_check",
    }
}

/// Refuses a configured key other than the store's; records the first key configured.
pub(super) async fn check(db: &Database, source: &KeySource) -> Result<()> {
    let Some(bytes) = source.load(false).map_err(Error::Internal)? else {
        return Ok(());
    };
    let mut tx = db.begin_write().await?;
    let mut conn = tx.conn();
    // Under the write lock, so replicas starting together with a new key record it once.
    let _: (i64, String) = conn.fetch_one(query(LOCK_HEAD)).await?;
    let latest: Option<(i64, Vec<u8>)> = conn.fetch_optional(query(sql::LATEST)).await?;
    match latest {
        Some((version, key_check)) => {
            let key = SecretKey::new(&bytes, version);
            if key.open(check_place(), &key_check).ok().as_deref() != Some(CHECK) {
                return Err(Error::FailedPrecondition(format!(
                    "the secret key given (PERSONAE_SECRET_KEY or its key file) is not the one \
                     this store's secrets are sealed under (key version {version}); start with \
                     that key"
                )));
            }
        }
        None => {
            let key = SecretKey::new(&bytes, 1);
            let sealed = key.seal(check_place(), CHECK)?;
            conn.execute(query(sql::INSERT).bind(key.version).bind(&sealed[..]))
                .await?;
        }
    }
    tx.commit().await
}
