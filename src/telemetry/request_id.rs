//! Request ids: the caller's `x-request-id` if it sent a sane one, else a new one.

use std::sync::{
    LazyLock,
    atomic::{AtomicU64, Ordering},
};

use http::{HeaderMap, HeaderName, HeaderValue};

pub(super) static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of one call.
#[derive(Clone, Debug)]
pub struct RequestId {
    value: HeaderValue,
    /// Whether the caller sent it.
    given: bool,
}

impl RequestId {
    /// The caller's id when it is 1 to 128 visible ASCII characters, else a new one.
    pub(super) fn of(headers: &HeaderMap) -> Self {
        let given = headers.get(&REQUEST_ID).filter(|v| {
            let bytes = v.as_bytes();
            !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(u8::is_ascii_graphic)
        });
        let mut value = given.cloned().unwrap_or_else(new_request_id);
        // Unique per call, so HPACK must not index it: an indexed id would only push reusable
        // headers out of the connection's table.
        value.set_sensitive(true);
        Self {
            value,
            given: given.is_some(),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only visible ASCII is ever kept, so this never falls back.
        self.value.to_str().unwrap_or_default()
    }

    pub(super) fn given(&self) -> bool {
        self.given
    }

    pub(super) fn header_value(&self) -> HeaderValue {
        self.value.clone()
    }
}

/// Where this process's ids start: random, so that two processes' ids do not collide.
static FIRST_ID: LazyLock<u128> = LazyLock::new(rand::random);
static ISSUED: AtomicU64 = AtomicU64::new(0);

/// A new request id, shaped as a UUID: the process's random start plus a counter, which is
/// unique without a clock or a random draw per call.
fn new_request_id() -> HeaderValue {
    let n = ISSUED.fetch_add(1, Ordering::Relaxed);
    let id = uuid::Uuid::from_u128(FIRST_ID.wrapping_add(u128::from(n)));
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_bytes(id.hyphenated().encode_lower(&mut text).as_bytes())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_caller_id_is_kept_and_others_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(&REQUEST_ID, HeaderValue::from_static("abc-123"));
        let id = RequestId::of(&headers);
        assert_eq!(id.as_str(), "abc-123");
        assert!(id.given());
        for bad in ["", "has space", &"x".repeat(129)] {
            headers.insert(&REQUEST_ID, HeaderValue::from_str(bad).unwrap());
            let id = RequestId::of(&headers);
            assert_ne!(id.as_str(), bad);
            assert!(!id.given());
            assert!(
                uuid::Uuid::parse_str(id.as_str()).is_ok(),
                "{}",
                id.as_str()
            );
        }
        let (a, b) = (
            RequestId::of(&HeaderMap::new()),
            RequestId::of(&HeaderMap::new()),
        );
        assert_ne!(a.as_str(), b.as_str());
    }
}
