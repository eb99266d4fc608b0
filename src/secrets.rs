//! Secrets at rest (an IAM endpoint's basic-auth password and TLS client key): AES-256-GCM under
//! the service's secret key. The associated data binds each ciphertext to where it is stored
//! (table, row id, column) and to the key's version, so a ciphertext copied to another row or
//! column fails to decrypt instead of yielding someone else's secret.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
};

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use anyhow::Context as _;

use crate::domain::Id;

const KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;
/// Tags the associated data, so these ciphertexts cannot be confused with any other use of the
/// key.
const DOMAIN: &str = "personae.secret.v1";

/// Where the service's secret key comes from.
#[derive(Clone, Debug, Default)]
pub enum KeySource {
    /// No key: storing a secret is refused, and so is starting on a store that holds some.
    #[default]
    None,
    /// 64 hex characters (`PERSONAE_SECRET_KEY`).
    Hex(String),
    /// A file holding 64 hex characters; created with a new random key on first need when
    /// `create` is set (the SQLite default, beside the database).
    File { path: PathBuf, create: bool },
}

/// Where a secret is stored, which its ciphertext is bound to.
#[derive(Clone, Copy, Debug)]
pub struct Place {
    pub table: &'static str,
    pub row: Id,
    pub column: &'static str,
}

/// The key secrets are encrypted under, and its version (stored in `secret_keys`).
#[derive(Clone)]
pub struct SecretKey {
    cipher: Aes256Gcm,
    pub version: i64,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// 32 random bytes as 64 hex characters, the form `PERSONAE_SECRET_KEY` takes.
pub fn new_key_hex() -> String {
    hex::encode(Aes256Gcm::generate_key(&mut OsRng))
}

/// Parses 64 hex characters (surrounding whitespace ignored) into the key's bytes; `origin`
/// names where they came from in the error.
pub fn parse_key(text: &str, origin: &str) -> anyhow::Result<[u8; KEY_LEN]> {
    let bytes = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| <[u8; KEY_LEN]>::try_from(bytes).ok());
    bytes.with_context(|| {
        format!(
            "{origin} must be {KEY_LEN} bytes as {} hex characters",
            KEY_LEN * 2
        )
    })
}

impl KeySource {
    /// Reads the key's bytes, or `None` when there is none (yet). A key file that does not
    /// exist is created only when `create_missing` is set and the source allows it.
    pub fn load(&self, create_missing: bool) -> anyhow::Result<Option<[u8; KEY_LEN]>> {
        match self {
            Self::None => Ok(None),
            Self::Hex(text) => parse_key(text, "PERSONAE_SECRET_KEY").map(Some),
            Self::File { path, create } => match std::fs::read_to_string(path) {
                Ok(text) => parse_key(&text, &format!("the key file {}", path.display())).map(Some),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if *create && create_missing {
                        let key = create_key_file(path)?;
                        tracing::warn!(
                            path = %path.display(),
                            "created a secret key file for secrets at rest; back it up with the \
                             database: without it the stored secrets cannot be read"
                        );
                        Ok(Some(key))
                    } else if *create {
                        Ok(None)
                    } else {
                        Err(e).with_context(|| format!("reading the key file {}", path.display()))
                    }
                }
                Err(e) => {
                    Err(e).with_context(|| format!("reading the key file {}", path.display()))
                }
            },
        }
    }
}

/// Writes a new random key to `path`, readable by its owner only; never overwrites a file.
pub fn create_key_file(path: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    let hex = new_key_hex();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating the key file {}", path.display()))?;
    writeln!(file, "{hex}")
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing the key file {}", path.display()))?;
    parse_key(&hex, "the new key")
}

impl SecretKey {
    pub fn new(bytes: &[u8; KEY_LEN], version: i64) -> Self {
        Self {
            cipher: Aes256Gcm::new(bytes.into()),
            version,
        }
    }

    /// `version`, the nonce and the ciphertext with its tag.
    pub fn seal(&self, place: Place, plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = associated_data(place, self.version);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| {
                anyhow::anyhow!("encrypting a secret for {}.{}", place.table, place.column)
            })?;
        let mut sealed = Vec::with_capacity(8 + NONCE_LEN + ciphertext.len());
        sealed.extend_from_slice(&self.version.to_be_bytes());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// The plaintext of what [`SecretKey::seal`] made for the same place under this key.
    pub fn open(&self, place: Place, sealed: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (version, rest) = sealed.split_at_checked(8).ok_or(OpenError::Damaged)?;
        let version = i64::from_be_bytes(version.try_into().map_err(|_| OpenError::Damaged)?);
        if version != self.version {
            return Err(OpenError::OtherKey {
                sealed: version,
                current: self.version,
            });
        }
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN).ok_or(OpenError::Damaged)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| OpenError::Damaged)?;
        let aad = associated_data(place, version);
        self.cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map_err(|_| OpenError::Damaged)
    }
}

/// Why a sealed secret does not open, said of the secret (`<column> is sealed under ...`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// Sealed under another version of the store's key than the one this server holds: no
    /// tampering, a key rotation this server or the secret's writer was not part of.
    #[error(
        "is sealed under secret key version {sealed}, and this server's key is version \
         {current}: {}",
        other_key_advice(*sealed, *current)
    )]
    OtherKey { sealed: i64, current: i64 },
    /// Its version is this server's, yet it does not decrypt for its place.
    #[error(
        "does not open under the secret key for its place: it was altered, or copied from \
         another row, column or database"
    )]
    Damaged,
}

fn other_key_advice(sealed: i64, current: i64) -> &'static str {
    if sealed > current {
        "the key was rotated after this server started; restart it with the new key"
    } else {
        "a server still running with the older key wrote it after a rotation, or it was \
         restored from before one; set the secret again"
    }
}

/// Length-prefixed, so that no two places share an encoding.
fn associated_data(place: Place, version: i64) -> Vec<u8> {
    let row = place.row.to_string();
    let mut aad = Vec::new();
    for part in [DOMAIN, place.table, row.as_str(), place.column] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad.extend_from_slice(&version.to_be_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(column: &'static str, row: Id) -> Place {
        Place {
            table: "iams",
            row,
            column,
        }
    }

    #[test]
    fn a_secret_opens_only_where_and_under_what_it_was_sealed() {
        let bytes = parse_key(&new_key_hex(), "test").unwrap();
        let key = SecretKey::new(&bytes, 1);
        let (row, other_row) = (Id::new(), Id::new());
        let sealed = key
            .seal(place("basic_auth_password", row), b"hunter2")
            .unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            key.open(place("basic_auth_password", row), &sealed),
            Ok(b"hunter2".to_vec())
        );
        assert_eq!(
            key.open(place("basic_auth_password", other_row), &sealed),
            Err(OpenError::Damaged),
            "copied to another row"
        );
        assert_eq!(
            key.open(place("client_key", row), &sealed),
            Err(OpenError::Damaged),
            "copied to another column"
        );
        let other_key = SecretKey::new(&parse_key(&new_key_hex(), "test").unwrap(), 1);
        assert_eq!(
            other_key.open(place("basic_auth_password", row), &sealed),
            Err(OpenError::Damaged)
        );
        let newer = SecretKey::new(&bytes, 2);
        let older = newer.open(place("basic_auth_password", row), &sealed);
        assert_eq!(
            older,
            Err(OpenError::OtherKey {
                sealed: 1,
                current: 2
            })
        );
        let told = older.unwrap_err().to_string();
        assert!(
            told.starts_with("is sealed under secret key version 1, and this server's key is version 2: a server still running with the older key"),
            "{told}"
        );
        let sealed_newer = newer
            .seal(place("basic_auth_password", row), b"hunter2")
            .unwrap();
        let told = key
            .open(place("basic_auth_password", row), &sealed_newer)
            .unwrap_err()
            .to_string();
        assert!(
            told.ends_with(
                "the key was rotated after this server started; restart it with the new key"
            ),
            "{told}"
        );
        let mut flipped = sealed.clone();
        if let Some(last) = flipped.last_mut() {
            *last ^= 1;
        }
        assert_eq!(
            key.open(place("basic_auth_password", row), &flipped),
            Err(OpenError::Damaged)
        );
        assert_eq!(
            key.open(place("x", row), &sealed[..5]),
            Err(OpenError::Damaged)
        );
    }

    #[test]
    fn keys_are_64_hex_characters() {
        assert!(parse_key(&"ab".repeat(32), "k").is_ok());
        assert!(parse_key(&format!(" {}\n", "AB".repeat(32)), "k").is_ok());
        for bad in [
            "",
            "ab",
            &"ab".repeat(31),
            &"zz".repeat(32),
            &"ab".repeat(33),
        ] {
            let error = parse_key(bad, "PERSONAE_SECRET_KEY")
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("PERSONAE_SECRET_KEY must be 32 bytes"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_key_file_is_created_once_and_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("personae.db.key");
        let source = KeySource::File {
            path: path.clone(),
            create: true,
        };
        assert_eq!(source.load(false).unwrap(), None);
        assert!(!path.exists());
        let created = source.load(true).unwrap();
        assert!(created.is_some());
        assert_eq!(
            source.load(true).unwrap(),
            created,
            "read back, not replaced"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let given = KeySource::File {
            path: dir.path().join("missing"),
            create: false,
        };
        assert!(given.load(true).is_err(), "a named key file must exist");
    }
}
