//! Names unique ignoring case among their kind: groups, roles, tenants, IAMs.

use super::{
    db::{Conn, query},
    queries::{groups, iams, policy},
};
use crate::domain::{Id, name::Name};
use crate::error::{Error, Result};

/// The kinds of thing whose names are unique ignoring case.
#[derive(Clone, Copy)]
pub(super) enum Named {
    Group,
    Role,
    Tenant,
    Iam,
}

/// Refuses `name` for a `kind` when another one (not `except`) has it, ignoring case.
pub(super) async fn ensure_name_free(
    conn: &mut Conn<'_>,
    kind: Named,
    field: &str,
    name: &Name,
    except: Option<Id>,
) -> Result<()> {
    let (owner_sql, noun) = match kind {
        Named::Group => (groups::OWNER_OF_NAME, "group"),
        Named::Role => (policy::ROLE_OWNER_OF_NAME, "role"),
        Named::Tenant => (policy::TENANT_OWNER_OF_NAME, "tenant"),
        Named::Iam => (iams::OWNER_OF_NAME, "IAM"),
    };
    let key = name.key();
    let taken: Option<(Id,)> = conn
        .fetch_optional(query(owner_sql).bind(key.as_str()).bind(except))
        .await?;
    match taken {
        Some((owner,)) => Err(Error::AlreadyExists(format!(
            "{field}: {noun} {owner} is already named {:?}",
            name.as_str()
        ))),
        None => Ok(()),
    }
}
