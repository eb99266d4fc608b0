//! API keys: `prs_<key id>_<secret>_<checksum>`.
//!
//! The key id (32 hex digits of a UUIDv7) finds the stored key; the secret (22 base62 digits,
//! about 131 random bits) is stored only as its SHA-256; the checksum (CRC-32 of everything before
//! it, 6 base62 digits) lets secret scanners recognise a key and lets us refuse a mistyped one
//! without touching the store.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Id, Timestamp};
use crate::error::{Error, Result};

const PREFIX: &str = "prs";
const SECRET_LEN: usize = 22;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A parsed, well-formed key as presented by a caller.
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedKey {
    pub key_id: Id,
    /// Base62 digits, so ASCII.
    secret: [u8; SECRET_LEN],
}

/// A freshly generated key: the token is shown once, the hash is stored.
pub struct GeneratedKey {
    pub key_id: Id,
    pub token: String,
    pub secret_hash: Vec<u8>,
}

pub fn generate() -> GeneratedKey {
    let mut rng = rand::rng();
    let secret: String = (0..SECRET_LEN)
        .map(|_| char::from(BASE62[rng.random_range(0..BASE62.len())]))
        .collect();
    let key_id = Id::new();
    let body = format!("{PREFIX}_{}_{secret}", key_id.0.simple());
    GeneratedKey {
        key_id,
        token: format!("{body}_{}", String::from_utf8_lossy(&checksum(&body))),
        secret_hash: hash_secret(secret.as_bytes()).to_vec(),
    }
}

/// Adopts an operator-supplied key (PERSONAE_BOOTSTRAP_TOKEN) as if generated here.
pub fn adopt(token: &str) -> Result<GeneratedKey, MalformedKey> {
    let presented = parse(token)?;
    Ok(GeneratedKey {
        key_id: presented.key_id,
        token: token.to_owned(),
        secret_hash: hash_secret(&presented.secret).to_vec(),
    })
}

/// Why a presented key cannot be a key of ours.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum MalformedKey {
    #[error("the API key does not have the form prs_<id>_<secret>_<checksum>")]
    Shape,
    #[error("the API key's checksum does not match; it was mistyped or truncated")]
    Checksum,
}

pub fn parse(token: &str) -> Result<PresentedKey, MalformedKey> {
    let mut parts = token.split('_');
    let (Some(PREFIX), Some(id), Some(secret), Some(sum), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(MalformedKey::Shape);
    };
    let is_base62 = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    if secret.len() != SECRET_LEN
        || sum.len() != CHECKSUM_LEN
        || !is_base62(secret)
        || !is_base62(sum)
    {
        return Err(MalformedKey::Shape);
    }
    let Ok(secret) = <[u8; SECRET_LEN]>::try_from(secret.as_bytes()) else {
        return Err(MalformedKey::Shape);
    };
    let key_id = (id.len() == 32)
        .then(|| uuid::Uuid::try_parse(id).ok())
        .flatten()
        .ok_or(MalformedKey::Shape)?;
    let body_len = token.len() - CHECKSUM_LEN - 1;
    if checksum(&token[..body_len]) != sum.as_bytes() {
        return Err(MalformedKey::Checksum);
    }
    Ok(PresentedKey {
        key_id: Id(key_id),
        secret,
    })
}

fn hash_secret(secret: &[u8]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

fn checksum(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut n = crc32fast::hash(body.as_bytes()) as u64;
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(n % 62) as usize];
        n /= 62;
    }
    digits
}

/// What the store knows about a key, for authentication.
#[derive(Clone, Debug)]
pub struct StoredCredential {
    pub secret_hash: Vec<u8>,
    pub expire_time: Option<Timestamp>,
    pub revoke_time: Option<Timestamp>,
    pub user_id: Id,
    pub user_disabled: bool,
}

/// The expiry of a new key: the one asked for, in the future. A key created for its own user
/// without USER_ADMIN never outlives the key that created it (`presenting`), so a short-lived
/// key cannot mint a longer-lived one: unset, it takes the presenting key's expiry; later, it is
/// refused.
pub fn new_key_expiry(
    asked: Option<Timestamp>,
    presenting: Option<Timestamp>,
    may_outlive: bool,
    now: Timestamp,
) -> Result<Option<Timestamp>> {
    if asked.is_some_and(|t| t <= now) {
        return Err(Error::invalid("expire_time", "must be in the future"));
    }
    let Some(limit) = presenting.filter(|_| !may_outlive) else {
        return Ok(asked);
    };
    match asked {
        None => Ok(Some(limit)),
        Some(asked) if asked > limit => Err(Error::invalid(
            "expire_time",
            format!(
                "must not be later than {}, when the key making this call expires (only a \
                 USER_ADMIN may create a key that outlives it)",
                limit.to_rfc3339()
            ),
        )),
        Some(asked) => Ok(Some(asked)),
    }
}

/// Why a well-formed key is not accepted. Callers get one message for all of these, so a
/// probe learns nothing about which keys exist.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    WrongSecret,
    Revoked,
    Expired,
    UserDisabled,
}

impl PresentedKey {
    /// Accepts the key if its secret matches (in constant time) and it is still usable. The clock
    /// is read only for a key that expires.
    pub fn verify(
        &self,
        stored: &StoredCredential,
        now: impl FnOnce() -> Timestamp,
    ) -> Result<(), Refusal> {
        let presented = hash_secret(&self.secret);
        if !bool::from(presented[..].ct_eq(&stored.secret_hash)) {
            return Err(Refusal::WrongSecret);
        }
        if stored.revoke_time.is_some() {
            return Err(Refusal::Revoked);
        }
        if stored.expire_time.is_some_and(|t| t <= now()) {
            return Err(Refusal::Expired);
        }
        if stored.user_disabled {
            return Err(Refusal::UserDisabled);
        }
        Ok(())
    }
}

/// An API key's metadata (never its secret).
#[derive(Clone, Debug, PartialEq)]
pub struct ApiKey {
    pub id: Id,
    pub user_id: Id,
    pub display_name: String,
    pub create_time: Timestamp,
    pub expire_time: Option<Timestamp>,
    pub revoke_time: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_service_key_never_outlives_the_key_that_made_it() {
        let now = crate::domain::now();
        let hour = chrono::Duration::hours(1);
        let limit = Some(now + hour);
        assert_eq!(new_key_expiry(None, limit, false, now).unwrap(), limit);
        let sooner = Some(now + hour / 2);
        assert_eq!(new_key_expiry(sooner, limit, false, now).unwrap(), sooner);
        let later = Some(now + hour * 2);
        let refused = new_key_expiry(later, limit, false, now)
            .unwrap_err()
            .to_string();
        assert!(
            refused.starts_with("expire_time: must not be later than"),
            "{refused}"
        );
        assert_eq!(new_key_expiry(later, limit, true, now).unwrap(), later);
        assert_eq!(new_key_expiry(None, limit, true, now).unwrap(), None);
        assert_eq!(new_key_expiry(None, None, false, now).unwrap(), None);
        assert!(
            new_key_expiry(Some(now), None, true, now).is_err(),
            "in the past"
        );
    }

    fn stored(hash: Vec<u8>) -> StoredCredential {
        StoredCredential {
            secret_hash: hash,
            expire_time: None,
            revoke_time: None,
            user_id: Id::new(),
            user_disabled: false,
        }
    }

    #[test]
    fn generated_keys_parse_and_verify() {
        let key = generate();
        let presented = parse(&key.token).unwrap();
        assert_eq!(presented.key_id, key.key_id);
        let now = super::super::now();
        assert_eq!(
            presented.verify(&stored(key.secret_hash.clone()), || now),
            Ok(())
        );
        assert_eq!(
            presented.verify(&stored(vec![0; 32]), || now),
            Err(Refusal::WrongSecret)
        );
        let mut expired = stored(key.secret_hash);
        expired.expire_time = Some(now);
        assert_eq!(presented.verify(&expired, || now), Err(Refusal::Expired));
    }

    #[test]
    fn mistyped_keys_are_refused_before_lookup() {
        let key = generate();
        let mut typo = key.token.clone().into_bytes();
        let i = 40;
        typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
        assert_eq!(
            parse(&String::from_utf8(typo).unwrap()),
            Err(MalformedKey::Checksum)
        );
        assert_eq!(parse("prs_abc"), Err(MalformedKey::Shape));
        assert_eq!(parse(""), Err(MalformedKey::Shape));
        assert_eq!(parse(&format!("{}_x", key.token)), Err(MalformedKey::Shape));
    }
}
