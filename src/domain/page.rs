//! Keyset pagination: a page token names the last key returned and the filters it was made for,
//! so a token cannot be replayed against a different query.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use super::Id;
use crate::error::{Error, Result};

/// The most items one page holds, whatever the caller asks for.
const MAX_PAGE_SIZE: usize = 1000;

/// A validated page request: how many items, after which key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub size: usize,
    pub after: Option<String>,
    filter: String,
}

impl PageRequest {
    /// `filter` is every request field other than the paging ones, in a fixed textual form.
    /// A page size of zero means `default`; one above `MAX_PAGE_SIZE` means that.
    pub fn parse(page_size: i32, page_token: &str, default: usize, filter: &str) -> Result<Self> {
        let size = match page_size {
            n if n < 0 => return Err(Error::invalid("page_size", "must not be negative")),
            0 => default,
            n => (n as usize).min(MAX_PAGE_SIZE),
        };
        let filter = fingerprint(filter);
        let after = if page_token.is_empty() {
            None
        } else {
            let invalid = || Error::invalid("page_token", "is not a token this list returned");
            let bytes = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| invalid())?;
            let text = String::from_utf8(bytes).map_err(|_| invalid())?;
            let (token_filter, after) = text.split_once('|').ok_or_else(invalid)?;
            if token_filter != filter {
                return Err(Error::invalid(
                    "page_token",
                    "was issued for different filters; keep the filters the same while paging",
                ));
            }
            Some(after.to_owned())
        };
        Ok(Self {
            size,
            after,
            filter,
        })
    }

    /// How many rows to fetch: one more than the page, to tell whether another page follows.
    pub fn limit(&self) -> i64 {
        self.size as i64 + 1
    }

    /// The key of the last item of the previous page, for lists ordered by id.
    pub fn after_id(&self) -> Result<Option<Id>> {
        self.after
            .as_deref()
            .map(|after| Id::parse("page_token", after))
            .transpose()
    }

    /// The key of the last item of the previous page, for lists ordered by sequence; 0 first.
    pub fn after_sequence(&self) -> Result<i64> {
        match self.after.as_deref() {
            None => Ok(0),
            Some(after) => after.parse().map_err(|e| {
                Error::invalid(
                    "page_token",
                    format!("is not a token this list returned ({e})"),
                )
            }),
        }
    }

    /// The token for the page after the one ending at `last_key`.
    fn next_token(&self, last_key: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}|{last_key}", self.filter))
    }

    /// Given one item more than the page size was fetched, trims it and returns the next token.
    pub fn finish<T>(&self, items: &mut Vec<T>, key: impl Fn(&T) -> String) -> String {
        if items.len() > self.size {
            items.truncate(self.size);
            items
                .last()
                .map(|last| self.next_token(&key(last)))
                .unwrap_or_default()
        } else {
            String::new()
        }
    }
}

fn fingerprint(filter: &str) -> String {
    hex::encode(&Sha256::digest(filter.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_filters() {
        let first = PageRequest::parse(2, "", 50, "q=a").unwrap();
        let token = first.next_token("k2");
        let second = PageRequest::parse(2, &token, 50, "q=a").unwrap();
        assert_eq!(second.after.as_deref(), Some("k2"));
        let err = PageRequest::parse(2, &token, 50, "q=b")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("page_token:"), "{err}");
        assert!(PageRequest::parse(2, "%%%", 50, "").is_err());
        assert!(PageRequest::parse(-1, "", 50, "").is_err());
        assert_eq!(PageRequest::parse(5000, "", 50, "").unwrap().size, 1000);
    }
}
