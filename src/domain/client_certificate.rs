//! What a client certificate, verified by the TLS handshake, says of its holder: its names
//! (email and URI subject alternative names), when it expires, and its fingerprint; and the
//! URIs a service account records as its certificate identities.

use sha2::Digest as _;
use x509_parser::extensions::GeneralName;

use super::{Timestamp, tls::x509_reason};
use crate::error::{Error, Result};

/// At most this many URIs identify one service account: a workload has one identity, and a few
/// cover a move between trust domains.
pub const MAX_CERTIFICATE_URIS: usize = 5;

/// The longest certificate URI accepted.
const MAX_CERTIFICATE_URI_BYTES: usize = 2048;

/// A URI that identifies a service account when a client certificate carries it as a subject
/// alternative name, such as the SPIFFE ID `spiffe://example.org/ns/trino/sa/coordinator`.
/// Kept as the `url` crate writes it (the scheme lower-cased, and the host of a web URI), and
/// a certificate's URI is compared in the same form, so two spellings of one URI match.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CertificateUri(String);

impl CertificateUri {
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        let invalid = |why: String| Error::invalid(field, why);
        if text.is_empty() {
            return Err(invalid("is empty".into()));
        }
        if text.len() > MAX_CERTIFICATE_URI_BYTES {
            return Err(invalid(format!(
                "is longer than {MAX_CERTIFICATE_URI_BYTES} bytes"
            )));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid(format!(
                "{text:?} holds spaces or control characters, which a URI cannot"
            )));
        }
        let uri = url::Url::parse(text)
            .map_err(|e| invalid(format!("{text:?} is not an absolute URI: {e}")))?;
        // A URI here is an identity, shown to every USER_ADMIN and written to the audit log: a
        // password in it would be published.
        if !uri.username().is_empty() || uri.password().is_some() {
            return Err(invalid(
                "has a user name or password, which an identity must not carry (the URI is not \
                 repeated here)"
                    .into(),
            ));
        }
        if uri.scheme() == "spiffe" {
            spiffe_rules(&uri)
                .map_err(|why| invalid(format!("{text:?} is not a SPIFFE ID: {why}")))?;
        }
        Ok(Self(uri.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the SPIFFE standard asks of an ID beyond being a URI: a lower-case trust domain, and
/// no port, query or fragment.
fn spiffe_rules(uri: &url::Url) -> std::result::Result<(), &'static str> {
    let domain = uri.host_str().unwrap_or_default();
    if domain.is_empty() {
        return Err("it has no trust domain");
    }
    if !domain
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
    {
        return Err("its trust domain may hold only lower-case letters, digits, '.', '-' and '_'");
    }
    if uri.port().is_some() || uri.query().is_some() || uri.fragment().is_some() {
        return Err("it may not have a port, a query or a fragment");
    }
    if uri.path().ends_with('/') || uri.path().contains("//") {
        return Err("its path may not end in '/' or have empty segments");
    }
    Ok(())
}

/// A service account's certificate URIs: each valid, at most [`MAX_CERTIFICATE_URIS`],
/// duplicates (in their compared form) collapsed.
pub fn certificate_uris(field: &str, texts: &[String]) -> Result<Vec<CertificateUri>> {
    let mut uris = texts
        .iter()
        .enumerate()
        .map(|(i, text)| CertificateUri::parse(&format!("{field}[{i}]"), text))
        .collect::<Result<Vec<_>>>()?;
    uris.sort();
    uris.dedup();
    if uris.len() > MAX_CERTIFICATE_URIS {
        return Err(Error::invalid(
            field,
            format!(
                "has {} URIs; a service account may have at most {MAX_CERTIFICATE_URIS}",
                uris.len()
            ),
        ));
    }
    Ok(uris)
}

/// What a client certificate, verified by the TLS handshake, says of its holder.
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    /// Its subject alternative names of type email (rfc822Name); nothing else in a certificate
    /// (its CN, its organisation) names anyone here.
    pub emails: Vec<String>,
    /// Its subject alternative names of type URI that are valid [`CertificateUri`]s (others
    /// name nobody).
    pub uris: Vec<CertificateUri>,
    /// When it stops being valid: what its holder creates may not outlive it.
    pub not_after: Timestamp,
}

impl ClientCertificate {
    /// Reads a DER certificate; the handshake verified it, so failing here is a bug or a
    /// certificate this parser cannot read, and either way it authenticates nobody.
    pub fn parse(der: &[u8]) -> Result<Self> {
        let refused = |why: String| Error::Unauthenticated(format!("the client certificate {why}"));
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| refused(format!("cannot be read: {}", x509_reason(&e))))?;
        let names = match cert.subject_alternative_name() {
            Ok(Some(names)) => names.value.general_names.as_slice(),
            Ok(None) => &[],
            Err(e) => return Err(refused(format!("has unreadable alternative names: {e}"))),
        };
        let mut emails = Vec::new();
        let mut uris = Vec::new();
        for name in names {
            match name {
                GeneralName::RFC822Name(email) => emails.push((*email).to_owned()),
                GeneralName::URI(uri) => uris.extend(CertificateUri::parse("uri", uri).ok()),
                _ => {}
            }
        }
        let not_after = chrono::DateTime::from_timestamp(cert.validity().not_after.timestamp(), 0)
            .ok_or_else(|| refused("has an expiry time out of range".into()))?;
        Ok(Self {
            emails,
            uris,
            not_after,
        })
    }
}

/// The SHA-256 of a certificate's DER, hex: how logs and audit events name it.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_uris_are_identities() {
        for (given, kept) in [
            (
                "spiffe://example.org/ns/trino/sa/coordinator",
                "spiffe://example.org/ns/trino/sa/coordinator",
            ),
            ("SPIFFE://example.org/a", "spiffe://example.org/a"),
            ("https://Example.COM/svc", "https://example.com/svc"),
            (
                "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
                "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
            ),
        ] {
            let uri = CertificateUri::parse("uris[0]", given).unwrap();
            assert_eq!(uri.as_str(), kept, "{given}");
        }
        for (bad, says) in [
            ("", "is empty"),
            ("coordinator", "not an absolute URI"),
            ("spiffe://example.org/a b", "spaces or control characters"),
            ("spiffe://example.org/a\n", "spaces or control characters"),
            ("https://svc:hunter2@example.com/", "user name or password"),
            ("spiffe://Example.org/a", "trust domain may hold only"),
            ("spiffe:///a", "no trust domain"),
            ("spiffe://example.org:8443/a", "port, a query or a fragment"),
            ("spiffe://example.org/a?b", "port, a query or a fragment"),
            ("spiffe://example.org/a/", "may not end in '/'"),
            ("spiffe://example.org/a//b", "empty segments"),
        ] {
            let error = CertificateUri::parse("uris[0]", bad)
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("uris[0]: "), "{bad}: {error}");
            assert!(error.contains(says), "{bad}: {says}: {error}");
        }
        let long = format!(
            "spiffe://example.org/{}",
            "a".repeat(MAX_CERTIFICATE_URI_BYTES)
        );
        assert!(CertificateUri::parse("uris[0]", &long).is_err());
        let error = CertificateUri::parse("uris[0]", "https://svc:hunter2@example.com/")
            .unwrap_err()
            .to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }

    #[test]
    fn certificate_uri_lists_are_small_sets() {
        let many: Vec<String> = (0..=MAX_CERTIFICATE_URIS)
            .map(|i| format!("spiffe://example.org/sa/{i}"))
            .collect();
        let error = certificate_uris("user.certificate_uris", &many)
            .unwrap_err()
            .to_string();
        assert!(error.contains("at most 5"), "{error}");
        let same = [
            "spiffe://example.org/a".into(),
            "SPIFFE://example.org/a".into(),
        ];
        assert_eq!(certificate_uris("f", &same).unwrap().len(), 1);
        let error = certificate_uris("user.certificate_uris", &["x".into()])
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("user.certificate_uris[0]: "), "{error}");
        assert!(certificate_uris("f", &[]).unwrap().is_empty());
    }
}
