//! Users: validated email, names, kinds, attributes.

use std::collections::BTreeMap;

use super::{
    Id, MAX_TEXT_CHARS, Timestamp, Version, bounded_text, client_certificate::CertificateUri,
    external::ExternalUsername,
};
use crate::error::{Error, Result};

/// A syntactically valid email address, as given (case preserved; uniqueness ignores case).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::invalid(field, "is required"));
        }
        let invalid = |why: &str| {
            Error::invalid(
                field,
                format!("{text:?} is not a valid email address: {why}"),
            )
        };
        if text.len() > 254 {
            return Err(invalid("longer than 254 characters"));
        }
        let (local, domain) = text.rsplit_once('@').ok_or_else(|| invalid("no @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("the part before @ must have 1 to 64 characters"));
        }
        if local.contains('@') || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(
                "it contains spaces, control characters or a second @",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(invalid(
                "the domain must be a dotted host name such as example.com",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> String {
        super::name::comparison_key(&self.0)
    }
}

/// A person's or account's display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        bounded_text(field, text, MAX_TEXT_CHARS).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserKind {
    Person,
    ServiceAccount,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Person => "PERSON",
            Self::ServiceAccount => "SERVICE_ACCOUNT",
        }
    }

    pub fn from_db(text: &str) -> Result<Self> {
        match text {
            "PERSON" => Ok(Self::Person),
            "SERVICE_ACCOUNT" => Ok(Self::ServiceAccount),
            other => Err(Error::internal(format!(
                "unknown user kind {other:?} in the store"
            ))),
        }
    }
}

/// Attribute values: each non-empty and bounded; duplicates collapse (values are a set).
pub fn attribute_values(field: &str, values: &[String]) -> Result<Vec<String>> {
    if values.is_empty() {
        return Err(Error::invalid(field, "needs at least one value"));
    }
    let mut checked = values
        .iter()
        .map(|v| bounded_text(field, v, MAX_TEXT_CHARS))
        .collect::<Result<Vec<_>>>()?;
    checked.sort();
    checked.dedup();
    Ok(checked)
}

pub type Attributes = BTreeMap<String, Vec<String>>;

/// A user as stored, with everything the API shows about it.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: Id,
    pub username: String,
    pub email: String,
    pub full_name: String,
    pub kind: UserKind,
    pub iam_id: Id,
    pub disabled: bool,
    pub permissions: Vec<String>,
    pub group_ids: Vec<Id>,
    pub attributes: Attributes,
    pub external_usernames: Vec<ExternalUsername>,
    /// Service accounts only: the URIs a client certificate may carry to authenticate as it.
    pub certificate_uris: Vec<String>,
    pub authorizations: Attributes,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
    pub disable_time: Option<Timestamp>,
    pub version: Version,
}

/// A validated request to create a user.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: Email,
    pub full_name: FullName,
    pub kind: UserKind,
    pub iam_id: Id,
}

/// Validated changes to a user's own fields.
#[derive(Clone, Debug, Default)]
pub struct UserChanges {
    pub full_name: Option<FullName>,
    /// The username follows the email.
    pub email: Option<Email>,
    /// Replaces a service account's certificate URIs.
    pub certificate_uris: Option<Vec<CertificateUri>>,
}

/// The word DeleteUser wants in `confirm`.
pub const DELETE_CONFIRMATION: &str = "Delete";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for good in ["a@b.co", "Ada.Lovelace+x@Example.COM", "x@sub.example.org"] {
            assert!(Email::parse("email", good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "plain",
            "@b.co",
            "a@",
            "a@b",
            "a b@c.com",
            "a@b..com",
            "a@-b.com",
            "a@@b.com",
        ] {
            let err = Email::parse("email", bad).unwrap_err().to_string();
            assert!(err.starts_with("email:"), "{bad}: {err}");
        }
        assert!(Email::parse("email", &format!("{}@b.co", "a".repeat(65))).is_err());
    }

    #[test]
    fn attribute_values_are_a_set() {
        let values = attribute_values("values", &["b".into(), "a".into(), "b".into()]).unwrap();
        assert_eq!(values, ["a", "b"]);
        assert!(attribute_values("values", &[]).is_err());
    }
}
