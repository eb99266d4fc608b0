//! Groups of users.

use super::{
    Id, Timestamp, Version,
    name::{Description, Name},
    user::{Attributes, Email},
};
use crate::error::Result;

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
}

/// Validated changes; `email: Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct GroupChanges {
    pub name: Option<Name>,
    pub description: Option<Description>,
    pub email: Option<Option<Email>>,
}

/// The most user ids one AddMembers call takes.
pub const MAX_MEMBERS_PER_CALL: usize = 1000;
