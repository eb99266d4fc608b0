//! Groups of users.

use super::{
    Id, Timestamp, Version,
    name::{Description, Name},
    user::{Attributes, Email},
};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: Id,
    pub name: String,
    pub description: String,
    pub email: Option<String>,
    pub member_count: i64,
    pub attributes: Attributes,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
    pub version: Version,
    /// The IAM whose syncs manage the group's memberships; `None`: made here only.
    pub managed_by_iam: Option<Id>,
}

/// An optional email: empty means none.
pub fn optional_email(field: &str, text: &str) -> Result<Option<Email>> {
    if text.trim().is_empty() {
        Ok(None)
    } else {
        Email::parse(field, text).map(Some)
    }
}

#[derive(Clone, Debug)]
pub struct NewGroup {
    pub name: Name,
    pub description: Description,
    pub email: Option<Email>,
    pub managed_by_iam: Option<Id>,
}

/// Validated changes; `Some(None)` clears the email or the managing IAM.
#[derive(Clone, Debug, Default)]
pub struct GroupChanges {
    pub name: Option<Name>,
    pub description: Option<Description>,
    pub email: Option<Option<Email>>,
    pub managed_by_iam: Option<Option<Id>>,
}

/// The IAM a group is to be managed by (empty: none). The built-in IAM has no endpoint, so it
/// syncs nothing and manages no group.
pub fn managing_iam(field: &str, text: &str) -> Result<Option<Id>> {
    match Id::parse_optional(field, text)? {
        Some(id) if id == super::BUILT_IN_IAM_ID => Err(Error::invalid(
            field,
            "the built-in IAM syncs nothing and cannot manage a group",
        )),
        id => Ok(id),
    }
}

/// The most user ids one AddMembers call takes.
pub const MAX_MEMBERS_PER_CALL: usize = 1000;
