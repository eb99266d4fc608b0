//! Types that cannot hold invalid values, and the rules of the service. No I/O.

pub mod address;
pub mod api_key;
pub mod audit;
pub mod client_certificate;
pub mod external;
pub mod group;
pub mod iam;
pub mod impersonation;
pub mod name;
pub mod page;
pub mod permission;
pub mod policy;
pub mod profile;
pub mod role;
pub mod tls;
pub mod usage;
pub mod user;

use std::{fmt, time::SystemTime};

use chrono::{DateTime, SubsecRound, Utc};

use crate::error::{Error, Result};

/// A UUIDv7 identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub uuid::Uuid);

impl Id {
    /// Sorts before every id: where a keyset list starts.
    pub const FIRST: Id = Id(uuid::Uuid::nil());
    /// Sorts after every id: where a newest-first keyset list starts.
    pub const LAST: Id = Id(uuid::Uuid::max());

    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// Parses a required id; `field` names it in the error.
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::invalid(field, "is required"));
        }
        uuid::Uuid::try_parse(text)
            .map(Self)
            .map_err(|_| Error::invalid(field, format!("{text:?} is not a valid id (a UUID)")))
    }

    /// Parses an id that may be left empty.
    pub fn parse_optional(field: &str, text: &str) -> Result<Option<Self>> {
        if text.is_empty() {
            Ok(None)
        } else {
            Self::parse(field, text).map(Some)
        }
    }
}

impl Default for Id {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The built-in IAM, which always exists.
pub const BUILT_IN_IAM_ID: Id = Id(uuid::uuid!("00000000-0000-7000-8000-000000000001"));

/// Wall-clock time at the microsecond precision both stores keep.
pub type Timestamp = DateTime<Utc>;

pub fn now() -> Timestamp {
    timestamp(SystemTime::now())
}

/// A clock reading at the precision the stores keep; for readings taken on a hot path, where
/// the conversion can wait.
pub fn timestamp(time: SystemTime) -> Timestamp {
    Timestamp::from(time).trunc_subsecs(6)
}

/// The revision of the store a change committed: the sequence number of its audit event, which
/// grows by one with every mutation. Sent back as the `personae-consistency-token` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Revision(pub i64);

/// A resource version; its text form is the etag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version(pub i64);

impl Version {
    pub fn etag(self) -> String {
        format!("\"{}\"", self.0)
    }

    /// Refuses a change made on a stale read: `self` is the version the caller read, `current`
    /// the stored one, `what` names the resource ("user 0193…").
    pub fn ensure_current(self, current: Version, what: &str) -> Result<()> {
        if self == current {
            return Ok(());
        }
        Err(Error::Aborted(format!(
            "etag: {} is stale; {what} has changed since it was read (the current etag is {}); \
             read it again and retry",
            self.etag(),
            current.etag()
        )))
    }

    /// Parses an etag as sent back by a caller.
    pub fn parse_etag(field: &str, etag: &str) -> Result<Self> {
        if etag.is_empty() {
            return Err(Error::invalid(
                field,
                "is required; send the etag of the last read",
            ));
        }
        etag.trim_matches('"')
            .parse::<i64>()
            .ok()
            .filter(|v| *v > 0)
            .map(Self)
            .ok_or_else(|| {
                Error::invalid(field, format!("{etag:?} is not an etag of this service"))
            })
    }
}

/// Checks a required, trimmed, bounded piece of text.
pub fn bounded_text(field: &str, text: &str, max_chars: usize) -> Result<String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    // A text has at least as many bytes as characters, so a short one needs no count.
    if trimmed.len() > max_chars {
        let chars = trimmed.chars().count();
        if chars > max_chars {
            return Err(Error::invalid(
                field,
                format!("is {chars} characters long; the limit is {max_chars}"),
            ));
        }
    }
    let has_control = if trimmed.is_ascii() {
        trimmed.bytes().any(|b| b.is_ascii_control())
    } else {
        trimmed.chars().any(char::is_control)
    };
    if has_control {
        return Err(Error::invalid(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// The longest name, description or attribute value accepted.
pub const MAX_TEXT_CHARS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etag_round_trips_and_rejects_garbage() {
        assert_eq!(
            Version::parse_etag("etag", &Version(7).etag()).unwrap(),
            Version(7)
        );
        assert!(Version::parse_etag("etag", "").is_err());
        assert!(Version::parse_etag("etag", "abc").is_err());
        assert!(Version::parse_etag("etag", "\"0\"").is_err());
        assert!(Version(2).ensure_current(Version(2), "user x").is_ok());
        let stale = Version(1).ensure_current(Version(2), "user x").unwrap_err();
        assert!(
            matches!(stale, Error::Aborted(ref m) if m.starts_with("etag:")),
            "{stale:?}"
        );
    }

    #[test]
    fn bounded_text_trims_and_limits() {
        assert_eq!(bounded_text("f", "  Ada  ", 10).unwrap(), "Ada");
        assert!(bounded_text("f", "   ", 10).is_err());
        assert!(bounded_text("f", &"x".repeat(11), 10).is_err());
        assert!(bounded_text("f", "a\u{0}b", 10).is_err());
    }

    #[test]
    fn ids_are_checked() {
        let err = Id::parse("user_id", "nope").unwrap_err().to_string();
        assert!(err.starts_with("user_id:"), "{err}");
        assert!(Id::parse_optional("iam_id", "").unwrap().is_none());
    }
}
