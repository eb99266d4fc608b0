//! Permission names.

use crate::error::{Error, Result};

pub const APPLICATION_ADMIN: &str = "APPLICATION_ADMIN";
pub const AUDIT: &str = "AUDIT";
pub const CREATE_DATA_SOURCE: &str = "CREATE_DATA_SOURCE";
pub const CREATE_DATA_SOURCE_IN_PROJECT: &str = "CREATE_DATA_SOURCE_IN_PROJECT";
pub const CREATE_FILTER: &str = "CREATE_FILTER";
pub const CREATE_PROJECT: &str = "CREATE_PROJECT";
pub const FETCH_POLICY_INFO: &str = "FETCH_POLICY_INFO";
pub const GOVERNANCE: &str = "GOVERNANCE";
pub const IMPERSONATE_USER: &str = "IMPERSONATE_USER";
pub const PROJECT_MANAGEMENT: &str = "PROJECT_MANAGEMENT";
pub const USER_ADMIN: &str = "USER_ADMIN";

/// The built-in permissions, as seeded by the first migration of each store.
pub const BUILT_IN: [&str; 11] = [
    APPLICATION_ADMIN,
    AUDIT,
    CREATE_DATA_SOURCE,
    CREATE_DATA_SOURCE_IN_PROJECT,
    CREATE_FILTER,
    CREATE_PROJECT,
    FETCH_POLICY_INFO,
    GOVERNANCE,
    IMPERSONATE_USER,
    PROJECT_MANAGEMENT,
    USER_ADMIN,
];

/// The admin permissions: whoever holds one is out of reach of a caller or an actor who lacks
/// it (they may not impersonate them, manage them or mint keys for them).
pub const ADMIN: [&str; 4] = [USER_ADMIN, APPLICATION_ADMIN, GOVERNANCE, AUDIT];

/// The built-in permissions among `permissions`, sorted, each once: only they matter to what a
/// caller may hand out. Custom permissions carry no rights in this service; any USER_ADMIN
/// manages them.
pub fn built_in_among<'a>(permissions: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut built_in: Vec<&str> = permissions
        .into_iter()
        .filter(|p| BUILT_IN.contains(p))
        .collect();
    built_in.sort_unstable();
    built_in.dedup();
    built_in
}

/// A permission name: UPPER_SNAKE_CASE, 1 to 64 characters. Whether it exists is the store's
/// business.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct PermissionName(String);

impl PermissionName {
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text.starts_with(|c: char| c.is_ascii_uppercase())
            && !text.ends_with('_')
            && !text.contains("__")
            && text
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(text.to_owned()))
        } else if text.is_empty() {
            Err(Error::invalid(field, "is required"))
        } else {
            Err(Error::invalid(
                field,
                format!(
                    "{text:?} is not a permission name (UPPER_SNAKE_CASE, at most 64 characters)"
                ),
            ))
        }
    }

    /// Well-formed permission names, sorted and without duplicates.
    pub fn parse_all(field: &str, texts: &[String]) -> Result<Vec<Self>> {
        let mut names = texts
            .iter()
            .map(|t| Self::parse(field, t))
            .collect::<Result<Vec<_>>>()?;
        names.sort();
        names.dedup();
        Ok(names)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for PermissionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::PermissionName;

    #[test]
    fn names() {
        assert!(PermissionName::parse("permission", "USER_ADMIN").is_ok());
        for bad in ["", "user_admin", "_X", "X_", "A__B", "A-B"] {
            assert!(PermissionName::parse("permission", bad).is_err(), "{bad}");
        }
        let names = PermissionName::parse_all("p", &["B".into(), "A".into(), "B".into()]).unwrap();
        assert_eq!(
            names,
            [PermissionName("A".into()), PermissionName("B".into())]
        );
    }
}
