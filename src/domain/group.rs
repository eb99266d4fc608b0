//! Groups of users.

use super::{Id, MAX_TEXT_CHARS, Timestamp, Version, bounded_text, user::Attributes, user::Email};
use crate::error::Result;

/// The longest description accepted, for groups, roles, tenants and permissions.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;

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

/// A group name: required, bounded; unique ignoring case (the store's concern).
pub fn name(field: &str, text: &str) -> Result<String> {
    bounded_text(field, text, MAX_TEXT_CHARS)
}

/// An optional description: empty is allowed.
pub fn description(field: &str, text: &str) -> Result<String> {
    if text.trim().is_empty() {
        Ok(String::new())
    } else {
        bounded_text(field, text, MAX_DESCRIPTION_CHARS)
    }
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
    pub name: String,
    pub description: String,
    pub email: Option<Email>,
}

/// Validated changes; `email: Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct GroupChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub email: Option<Option<Email>>,
}

/// The most user ids one AddMembers call takes.
pub const MAX_MEMBERS_PER_CALL: usize = 1000;
