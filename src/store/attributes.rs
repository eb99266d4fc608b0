//! Attributes, which users and groups carry alike: sets of values per name.

use super::{
    db::{Conn, Sql, query},
    queries::{groups, users},
};
use crate::domain::{Id, name::AttributeName};
use crate::error::{Error, Result};

/// What carries the attribute.
#[derive(Clone, Copy)]
pub(super) enum Owner {
    User,
    Group,
}

impl Owner {
    fn statements(self) -> (Sql, Sql, &'static str) {
        match self {
            Self::User => (
                users::INSERT_ATTRIBUTE.into(),
                users::DELETE_ATTRIBUTE_VALUE.into(),
                "user",
            ),
            Self::Group => (
                groups::INSERT_ATTRIBUTE.into(),
                groups::DELETE_ATTRIBUTE_VALUE.into(),
                "group",
            ),
        }
    }
}

/// Adds values to an attribute; values already there stay as they are.
pub(super) async fn add_values(
    conn: &mut Conn<'_>,
    owner: Owner,
    id: Id,
    name: &AttributeName,
    values: &[String],
) -> Result<()> {
    let (insert, _, _) = owner.statements();
    for value in values {
        conn.execute(query(insert).bind(id).bind(name.as_str()).bind(value))
            .await?;
    }
    Ok(())
}

/// Removes one value; NotFound when the attribute does not hold it.
pub(super) async fn remove_value(
    conn: &mut Conn<'_>,
    owner: Owner,
    id: Id,
    name: &AttributeName,
    value: &str,
) -> Result<()> {
    let (_, delete, noun) = owner.statements();
    let removed = conn
        .execute(query(delete).bind(id).bind(name.as_str()).bind(value))
        .await?;
    if removed == 0 {
        return Err(Error::NotFound(format!(
            "value: {noun} {id} has no value {value:?} in attribute {:?}",
            name.as_str()
        )));
    }
    Ok(())
}
