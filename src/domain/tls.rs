//! PEM certificates and private keys for TLS toward a user-info endpoint, checked when they are
//! saved (parsed, in their validity period, the key matching its certificate), so that a bad
//! one is refused naming its field instead of failing the first sync.

use rustls::{crypto::ring::sign::any_supported_type, sign::CertifiedKey};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use x509_parser::time::ASN1Time;

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
            let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| {
                Error::invalid(
                    field,
                    format!("certificate {n} is not a valid X.509 certificate"),
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
        .map_err(|e| Error::invalid(field, format!("is not valid PEM: {e}")))?;
    if ders.is_empty() {
        return Err(Error::invalid(
            field,
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        ));
    }
    Ok(ders)
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
        let key = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| {
            Error::invalid(field, "is not a PEM private key (PKCS#8, PKCS#1 or SEC1)")
        })?;
        any_supported_type(&key).map_err(|_| {
            Error::invalid(
                field,
                "is a private key of a type TLS cannot sign with here (RSA, ECDSA, Ed25519)",
            )
        })?;
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
    let der = PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
        .map_err(|_| Error::invalid(key_field, "is not a PEM private key"))?;
    let signing = any_supported_type(&der)
        .map_err(|_| Error::invalid(key_field, "is a private key of an unsupported type"))?;
    CertifiedKey::new(ders, signing).keys_match().map_err(|_| {
        Error::invalid(
            key_field,
            "does not match the client certificate (client_cert_pem's first certificate)",
        )
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A self-signed certificate and its key, valid from `not_before` to `not_after` (years).
    pub fn certificate(not_before: i32, not_after: i32) -> (String, String) {
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
}
