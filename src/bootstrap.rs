//! The admin created on first start, so a new store can be used at all.

use crate::domain::{BUILT_IN_IAM_ID, api_key, user};
use crate::store::{NewApiKey, Store};

/// The username of the admin created on first start.
pub const BOOTSTRAP_ADMIN_EMAIL: &str = "admin@personae.local";

/// On an empty store, creates an admin holding every built-in permission with one API key:
/// `token` when given (PERSONAE_BOOTSTRAP_TOKEN), else a new one. Returns the key when it was
/// created here and must be shown to the operator, once.
pub async fn bootstrap(store: &dyn Store, token: Option<&str>) -> anyhow::Result<Option<String>> {
    let key = match token {
        Some(token) => api_key::adopt(token).map_err(|e| {
            anyhow::anyhow!("PERSONAE_BOOTSTRAP_TOKEN is not a personae API key ({e}); `personae bootstrap --new-token` prints one")
        })?,
        None => api_key::generate(),
    };
    let admin = user::NewUser {
        email: user::Email::parse("email", BOOTSTRAP_ADMIN_EMAIL)?,
        full_name: user::FullName::parse("full_name", "Bootstrap admin")?,
        kind: user::UserKind::Person,
        iam_id: BUILT_IN_IAM_ID,
    };
    let new_key = NewApiKey {
        id: key.key_id,
        user_id: crate::domain::Id::new(),
        display_name: "bootstrap".into(),
        secret_hash: key.secret_hash,
        expire_time: None,
    };
    let created = store.bootstrap(admin, new_key).await?;
    Ok((created && token.is_none()).then_some(key.token))
}
