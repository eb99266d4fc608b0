//! Request ids: the caller's `x-request-id` if it sent a sane one, else a new one.

use std::{
    fmt,
    sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    },
};

use http::{HeaderMap, HeaderName, HeaderValue};

pub(super) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of one call. A new id is written out only when something shows it (a log line, a
/// trace, an error response), which most successful calls never do.
#[derive(Clone, Debug)]
pub(super) enum RequestId {
    /// The caller's.
    Given(HeaderValue),
    /// Made here: shown as a UUID, the process's random start plus this number.
    Issued(u64),
}

/// Where this process's ids start: random, so that two processes' ids do not collide.
static FIRST_ID: LazyLock<u128> = LazyLock::new(rand::random);
static ISSUED: AtomicU64 = AtomicU64::new(0);

impl RequestId {
    /// The caller's id when it is 1 to 128 visible ASCII characters, else a new one, unique
    /// without a clock or a random draw per call.
    pub(super) fn of(headers: &HeaderMap) -> Self {
        let given = headers.get(&REQUEST_ID).filter(|v| {
            let bytes = v.as_bytes();
            !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(u8::is_ascii_graphic)
        });
        match given {
            Some(value) => Self::Given(value.clone()),
            None => Self::Issued(ISSUED.fetch_add(1, Ordering::Relaxed)),
        }
    }

    pub(super) fn given(&self) -> bool {
        matches!(self, Self::Given(_))
    }

    pub(super) fn header_value(&self) -> HeaderValue {
        let mut value = match self {
            Self::Given(value) => value.clone(),
            Self::Issued(n) => {
                let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
                HeaderValue::from_bytes(uuid(*n).hyphenated().encode_lower(&mut text).as_bytes())
                    .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
            }
        };
        // Unique per call, so HPACK must not index it: an indexed id would only push reusable
        // headers out of the connection's table.
        value.set_sensitive(true);
        value
    }
}

fn uuid(n: u64) -> uuid::Uuid {
    uuid::Uuid::from_u128(FIRST_ID.wrapping_add(u128::from(n)))
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Only visible ASCII is ever kept, so this never falls back.
            Self::Given(value) => f.write_str(value.to_str().unwrap_or_default()),
            Self::Issued(n) => uuid(*n).hyphenated().fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_caller_id_is_kept_and_others_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(&REQUEST_ID, HeaderValue::from_static("abc-123"));
        let id = RequestId::of(&headers);
        assert_eq!(id.to_string(), "abc-123");
        assert_eq!(id.header_value(), "abc-123");
        assert!(id.given());
        for bad in ["", "has space", &"x".repeat(129)] {
            headers.insert(&REQUEST_ID, HeaderValue::from_str(bad).unwrap());
            let id = RequestId::of(&headers);
            assert!(!id.given());
            let text = id.to_string();
            assert!(uuid::Uuid::parse_str(&text).is_ok(), "{text}");
            assert_eq!(id.header_value(), text.as_str());
        }
        let (a, b) = (
            RequestId::of(&HeaderMap::new()),
            RequestId::of(&HeaderMap::new()),
        );
        assert_ne!(a.to_string(), b.to_string());
    }
}
