//! PEM certificates and private keys for TLS, checked when they are saved or loaded (parsed, in
//! their validity period, the key matching its certificate), so that a bad one is refused
//! naming its field or file instead of failing the first sync or handshake.

use rustls::{InconsistentKeys, crypto::ring::sign::any_supported_type, sign::CertifiedKey};
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer,
    pem::{self, PemObject},
};
use x509_parser::{error::X509Error, time::ASN1Time};

use super::Timestamp;
use crate::error::{Error, Result};

/// The longest PEM text accepted: a long chain fits many times over.
const MAX_PEM_BYTES: usize = 64 * 1024;

/// One or more PEM certificates, each a valid X.509 certificate inside its validity period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificates(String);

impl Certificates {
    pub fn parse(field: &str, pem: &str, now: Timestamp) -> Result<Self> {
        let ders = ders(field, pem)?;
        let now = ASN1Time::from_timestamp(now.timestamp())
            .map_err(|e| Error::internal(format!("the clock as an ASN.1 time: {e}")))?;
        for (i, der) in ders.iter().enumerate() {
            let n = i + 1;
            let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| {
                Error::invalid(
                    field,
                    format!(
                        "certificate {n} is not a valid X.509 certificate: {}",
                        x509_reason(&e)
                    ),
                )
            })?;
            let validity = cert.validity();
            if validity.not_after < now {
                return Err(Error::invalid(
                    field,
                    format!(
                        "certificate {n} ({}) expired on {}",
                        cert.subject(),
                        validity.not_after
                    ),
                ));
            }
            if validity.not_before > now {
                return Err(Error::invalid(
                    field,
                    format!(
                        "certificate {n} ({}) is not valid before {}",
                        cert.subject(),
                        validity.not_before
                    ),
                ));
            }
        }
        Ok(Self(pem.trim().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn ders(field: &str, pem: &str) -> Result<Vec<CertificateDer<'static>>> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(Error::invalid(
            field,
            format!("is longer than {MAX_PEM_BYTES} bytes"),
        ));
    }
    let ders = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid(field, format!("is not valid PEM: {}", pem_reason(&e))))?;
    if ders.is_empty() {
        return Err(Error::invalid(
            field,
            format!(
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----){}",
                sections_found(pem)
            ),
        ));
    }
    Ok(ders)
}

/// Why PEM text does not parse. The text itself is never quoted: a malformed line may hold a
/// private key pasted on one line.
fn pem_reason(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { end_marker } => match label(end_marker) {
            Some(label) => format!("its {label} section has no -----END {label}----- line"),
            None => "a -----BEGIN line has no -----END line after it (each must be on a line of \
                     its own)"
                .into(),
        },
        pem::Error::IllegalSectionStart { .. } => {
            "a line starting with -----BEGIN does not end with five dashes (-----)".into()
        }
        pem::Error::Base64Decode(reason) => {
            format!(
                "the text between its BEGIN and END lines is not base64 ({})",
                base64_reason(reason)
            )
        }
        pem::Error::NoItemsFound | pem::Error::SectionTooLarge | pem::Error::Io(_) => {
            error.to_string()
        }
        _ => "it is not valid PEM".into(),
    }
}

/// rustls-pki-types' base64 errors, which it gives as their `Debug` text, in words.
fn base64_reason(reason: &str) -> String {
    let character = reason
        .strip_prefix("InvalidCharacter(")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|code| code.parse::<u8>().ok());
    match (character, reason) {
        // Not a base64 character, so never part of a key.
        (Some(code), _) => format!("{:?} is not a base64 character", char::from(code)),
        (None, "PrematurePadding") => "padding (=) before its end".into(),
        (None, "InvalidTrailingPadding") => "wrong padding (=) at its end".into(),
        (None, other) => other.into(),
    }
}

/// A PEM section's label (`CERTIFICATE`, `PRIVATE KEY`) when it looks like one: a few capitals,
/// digits and spaces, never something pasted after a BEGIN line.
fn label(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let plain = !text.is_empty()
        && text.len() <= 40
        && text
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ');
    plain.then_some(text)
}

/// The labels of the PEM sections in `pem`, as `; it holds: A, B` (empty when it holds none).
fn sections_found(pem: &str) -> String {
    let labels: Vec<&str> = pem
        .lines()
        .filter_map(|line| line.trim().strip_prefix("-----BEGIN "))
        .filter_map(|rest| rest.strip_suffix("-----"))
        .filter_map(|text| label(text.as_bytes()))
        .collect();
    if labels.is_empty() {
        String::new()
    } else {
        format!("; it holds: {}", labels.join(", "))
    }
}

/// Why DER is not an X.509 certificate, as x509-parser says.
pub(super) fn x509_reason(error: &x509_parser::nom::Err<X509Error>) -> String {
    match error {
        x509_parser::nom::Err::Incomplete(_) => "its DER ends early".into(),
        x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e.to_string(),
    }
}

/// A PEM private key of a type TLS can sign with. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(String);

impl PrivateKey {
    pub fn parse(field: &str, pem: &str) -> Result<Self> {
        if pem.len() > MAX_PEM_BYTES {
            return Err(Error::invalid(
                field,
                format!("is longer than {MAX_PEM_BYTES} bytes"),
            ));
        }
        let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| {
            Error::invalid(
                field,
                format!(
                    "is not a PEM private key (PKCS#8, PKCS#1 or SEC1): {}",
                    key_pem_reason(pem, &e)
                ),
            )
        })?;
        any_supported_type(&key).map_err(|e| unsupported_key(field, &e))?;
        Ok(Self(pem.trim().to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

/// Refuses a key that is not the one of the first certificate of `chain` (PEM); `key_field`
/// names the key in the error.
pub fn ensure_key_matches(chain: &str, key: &PrivateKey, key_field: &str) -> Result<()> {
    let ders = ders(key_field, chain)?;
    let der = PrivateKeyDer::from_pem_slice(key.expose().as_bytes()).map_err(|e| {
        Error::invalid(
            key_field,
            format!(
                "is not a PEM private key: {}",
                key_pem_reason(key.expose(), &e)
            ),
        )
    })?;
    let signing = any_supported_type(&der).map_err(|e| unsupported_key(key_field, &e))?;
    CertifiedKey::new(ders, signing)
        .keys_match()
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(InconsistentKeys::KeyMismatch) => Error::invalid(
                key_field,
                "does not match the client certificate (client_cert_pem's first certificate): \
                 their public keys differ",
            ),
            other => Error::invalid(
                key_field,
                format!(
                    "cannot be checked against the client certificate (client_cert_pem's first \
                     certificate): {other}"
                ),
            ),
        })
}

/// Why PEM text holds no private key: what it holds instead, or why it does not parse.
fn key_pem_reason(pem: &str, error: &pem::Error) -> String {
    match error {
        pem::Error::NoItemsFound if pem.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") => {
            "it is encrypted; give it decrypted (openssl pkey -in key.pem -out plain.pem)".into()
        }
        pem::Error::NoItemsFound => match sections_found(pem) {
            found if found.is_empty() => {
                "it holds no PEM section (-----BEGIN PRIVATE KEY-----)".into()
            }
            found => format!("it holds no private key section{found}"),
        },
        other => pem_reason(other),
    }
}

/// A private key TLS cannot sign with, and what TLS here signs with.
fn unsupported_key(field: &str, error: &rustls::Error) -> Error {
    Error::invalid(
        field,
        format!(
            "is a private key TLS cannot sign with here ({error}): it signs with RSA keys of \
             2048 to 4096 bits, ECDSA keys on P-256 or P-384, and Ed25519 keys"
        ),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A self-signed certificate and its key, valid from `not_before` to `not_after` (years).
    pub(crate) fn certificate(not_before: i32, not_after: i32) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["client.example.com".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(not_before, 1, 1);
        params.not_after = rcgen::date_time_ymd(not_after, 1, 1);
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn certificates_are_pem_x509_and_current() {
        let now = crate::domain::now();
        let (good, key) = certificate(2020, 2090);
        assert!(Certificates::parse("ca", &good, now).is_ok());
        let two = format!("{good}\n{}", certificate(2021, 2091).0);
        assert!(Certificates::parse("ca", &two, now).is_ok(), "a chain");
        let (expired, _) = certificate(2019, 2020);
        let (future, _) = certificate(2090, 2091);
        for (pem, says) in [
            ("", "holds no PEM certificate"),
            ("not pem at all", "holds no PEM certificate"),
            (key.as_str(), "holds no PEM certificate"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "certificate 1 is not a valid X.509",
            ),
            (
                expired.as_str(),
                "certificate 1 (CN=rcgen self signed cert) expired on",
            ),
            (future.as_str(), "is not valid before"),
        ] {
            let error = Certificates::parse("tls.ca_cert_pem", pem, now)
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("tls.ca_cert_pem: "), "{error}");
            assert!(error.contains(says), "{says}: {error}");
        }
    }

    #[test]
    fn a_key_must_be_its_certificates() {
        let now = crate::domain::now();
        let (cert, key) = certificate(2020, 2090);
        let (_, other) = certificate(2020, 2090);
        let chain = Certificates::parse("cert", &cert, now).unwrap();
        let key = PrivateKey::parse("key", &key).unwrap();
        assert!(ensure_key_matches(chain.as_str(), &key, "key").is_ok());
        let other = PrivateKey::parse("key", &other).unwrap();
        let error = ensure_key_matches(chain.as_str(), &other, "tls.client_key_pem")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("tls.client_key_pem: does not match"),
            "{error}"
        );
        let error = PrivateKey::parse("tls.client_key_pem", &cert)
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a PEM private key"), "{error}");
        assert_eq!(format!("{key:?}"), "PrivateKey(..)");
    }

    fn pem_of(label: &str, der: &[u8]) -> String {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
    }

    #[test]
    fn a_key_tls_cannot_sign_with_says_what_would_do() {
        // PKCS#8 by its label, but an empty SEQUENCE: no algorithm TLS knows.
        let pem = pem_of("PRIVATE KEY", &[0x30, 0x00]);
        let error = PrivateKey::parse("tls.client_key_pem", &pem)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("tls.client_key_pem: is a private key TLS cannot sign with here ("),
            "{error}"
        );
        assert!(error.contains("RSA keys of 2048 to 4096 bits"), "{error}");
    }

    #[test]
    fn a_key_that_does_not_parse_says_why_without_quoting_it() {
        let (cert, key) = certificate(2020, 2090);
        let body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
        let one_line = key.replace('\n', "");
        let unterminated = key.replace("-----END PRIVATE KEY-----", "");
        for (pem, says) in [
            ("", "it holds no PEM section"),
            (
                cert.as_str(),
                "it holds no private key section; it holds: CERTIFICATE",
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIGb\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "it is encrypted; give it decrypted",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\nMIG%\n-----END PRIVATE KEY-----\n",
                "not base64 ('%' is not a base64 character)",
            ),
            (
                unterminated.as_str(),
                "its PRIVATE KEY section has no -----END PRIVATE KEY----- line",
            ),
            (
                one_line.as_str(),
                "a -----BEGIN line has no -----END line after it",
            ),
        ] {
            let error = PrivateKey::parse("tls.client_key_pem", pem)
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(
                    "tls.client_key_pem: is not a PEM private key (PKCS#8, PKCS#1 or SEC1): "
                ),
                "{error}"
            );
            assert!(error.contains(says), "{says}: {error}");
            for part in body.as_bytes().chunks(8) {
                let part = String::from_utf8_lossy(part);
                assert!(!error.contains(&*part), "quotes the key ({part}): {error}");
            }
        }
    }

    #[test]
    fn a_certificate_that_does_not_parse_says_why() {
        let now = crate::domain::now();
        let (good, key) = certificate(2020, 2090);
        let unterminated = good.replace("-----END CERTIFICATE-----", "");
        let one_line_key = key.replace('\n', "");
        for (pem, says) in [
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "certificate 1 is not a valid X.509 certificate: ",
            ),
            (
                unterminated.as_str(),
                "is not valid PEM: its CERTIFICATE section has no -----END CERTIFICATE----- line",
            ),
            (
                "-----BEGIN CERTIFICATE-----\nMI*A\n-----END CERTIFICATE-----\n",
                "is not valid PEM: the text between its BEGIN and END lines is not base64 ('*' \
                 is not a base64 character)",
            ),
            (
                key.as_str(),
                "holds no PEM certificate (-----BEGIN CERTIFICATE-----); it holds: PRIVATE KEY",
            ),
            (
                one_line_key.as_str(),
                "is not valid PEM: a -----BEGIN line has no -----END line after it",
            ),
        ] {
            let error = Certificates::parse("tls.ca_cert_pem", pem, now)
                .unwrap_err()
                .to_string();
            assert!(error.contains(says), "{says}: {error}");
        }
        let error = Certificates::parse(
            "tls.ca_cert_pem",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            now,
        )
        .unwrap_err()
        .to_string();
        assert!(
            !error.ends_with("certificate: "),
            "x509-parser's reason follows: {error}"
        );
    }
}
