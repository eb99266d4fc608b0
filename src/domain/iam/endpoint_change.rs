//! What UpdateIam does to a stored endpoint: which settings it keeps, replaces or removes, and
//! what happens to each stored secret (kept only for the origin it was given for).

use std::time::Duration;

use super::{
    Certificates, Endpoint, EndpointSettings, EndpointUri, Password, PrivateKey, Timeouts,
};
use crate::error::{Error, Result};

/// A change to a stored secret.
#[derive(Clone, Debug)]
pub enum SecretChange<S> {
    Set(S),
    Remove,
}

impl<S> SecretChange<S> {
    pub fn map<T>(self, f: impl FnOnce(S) -> T) -> SecretChange<T> {
        match self {
            Self::Set(secret) => SecretChange::Set(f(secret)),
            Self::Remove => SecretChange::Remove,
        }
    }
}

/// Changes to single fields of an IAM's endpoint; `None` keeps a field, `Some(None)` unsets a
/// certificate.
#[derive(Clone, Debug, Default)]
pub struct EndpointFieldChanges {
    pub uri: Option<EndpointUri>,
    pub basic_auth_username: Option<String>,
    pub basic_auth_password: Option<SecretChange<Password>>,
    pub tls_ca_cert: Option<Option<Certificates>>,
    pub tls_client_cert: Option<Option<Certificates>>,
    pub tls_client_key: Option<SecretChange<PrivateKey>>,
    pub connect_timeout: Option<Duration>,
    pub request_timeout: Option<Duration>,
}

/// What UpdateIam changes about an endpoint.
#[derive(Clone, Debug)]
pub enum EndpointChange {
    /// The IAM has no endpoint after the change.
    Remove,
    /// The endpoint is replaced whole; a password left out keeps the stored one.
    Replace(EndpointSettings),
    /// Single fields change; the IAM must have an endpoint or gain a URI.
    Fields(EndpointFieldChanges),
}

/// What an endpoint becomes: its URI (None: no endpoint), the other settings, and what happens
/// to each stored secret (None: kept as it is).
#[derive(Debug)]
pub struct EndpointOutcome {
    pub uri: Option<String>,
    pub basic_auth_username: String,
    pub basic_auth_password: Option<SecretChange<Password>>,
    pub tls_ca_cert_pem: String,
    pub tls_client_cert_pem: String,
    pub tls_client_key: Option<SecretChange<PrivateKey>>,
    pub timeouts: Timeouts,
}

fn pem_text(certificates: Option<Certificates>) -> String {
    certificates
        .map(|c| c.as_str().to_owned())
        .unwrap_or_default()
}

/// Whether a secret is held after `change`, given whether it is stored now.
fn holds<S>(change: &Option<SecretChange<S>>, stored: bool) -> bool {
    match change {
        Some(SecretChange::Set(_)) => true,
        Some(SecretChange::Remove) => false,
        None => stored,
    }
}

/// Whether two endpoint URIs reach the same origin: scheme, host and port (the scheme's
/// default when none is written), as URL parsing normalises them.
fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

impl EndpointChange {
    /// Applies the change to the stored endpoint (None: the IAM has none), refusing what would
    /// leave it inconsistent. Whether a client key matches its certificate is checked by the
    /// store, which can open a stored key.
    pub fn apply(self, stored: Option<&Endpoint>) -> Result<EndpointOutcome> {
        let none = Endpoint::default();
        let stored = stored.unwrap_or(&none);
        let mut outcome = match self {
            Self::Remove => EndpointOutcome {
                uri: None,
                basic_auth_username: String::new(),
                basic_auth_password: stored
                    .has_basic_auth_password
                    .then_some(SecretChange::Remove),
                tls_ca_cert_pem: String::new(),
                tls_client_cert_pem: String::new(),
                tls_client_key: stored.has_tls_client_key.then_some(SecretChange::Remove),
                timeouts: Timeouts::default(),
            },
            Self::Replace(settings) => EndpointOutcome {
                uri: Some(settings.uri.as_str().to_owned()),
                basic_auth_username: settings.basic_auth_username,
                basic_auth_password: settings.basic_auth_password.map(SecretChange::Set),
                tls_ca_cert_pem: pem_text(settings.tls.ca_cert),
                tls_client_cert_pem: pem_text(settings.tls.client_cert),
                tls_client_key: settings.tls.client_key.map(SecretChange::Set),
                timeouts: settings.timeouts,
            },
            Self::Fields(fields) => {
                let uri = fields
                    .uri
                    .map(|uri| uri.as_str().to_owned())
                    .or_else(|| (!stored.uri.is_empty()).then(|| stored.uri.clone()));
                if uri.is_none() {
                    return Err(Error::invalid(
                        "user_info_endpoint.uri",
                        "is required: the IAM has no user-info endpoint yet",
                    ));
                }
                EndpointOutcome {
                    uri,
                    basic_auth_username: fields
                        .basic_auth_username
                        .unwrap_or_else(|| stored.basic_auth_username.clone()),
                    basic_auth_password: fields.basic_auth_password,
                    tls_ca_cert_pem: fields
                        .tls_ca_cert
                        .map_or_else(|| stored.tls_ca_cert_pem.clone(), pem_text),
                    tls_client_cert_pem: fields
                        .tls_client_cert
                        .map_or_else(|| stored.tls_client_cert_pem.clone(), pem_text),
                    tls_client_key: fields.tls_client_key,
                    timeouts: Timeouts {
                        connect: fields.connect_timeout.unwrap_or(stored.timeouts.connect),
                        request: fields.request_timeout.unwrap_or(stored.timeouts.request),
                    },
                }
            }
        };
        // A stored secret was given for one origin: kept for another (a listener of the
        // caller's choosing), it would be sent there. It goes unless given again.
        let moved = outcome
            .uri
            .as_deref()
            .is_some_and(|uri| !stored.uri.is_empty() && !same_origin(uri, &stored.uri));
        if moved {
            if stored.has_basic_auth_password && outcome.basic_auth_password.is_none() {
                outcome.basic_auth_password = Some(SecretChange::Remove);
            }
            if stored.has_tls_client_key && outcome.tls_client_key.is_none() {
                if !outcome.tls_client_cert_pem.is_empty() {
                    return Err(Error::invalid(
                        "user_info_endpoint.tls.client_key_pem",
                        "must be given again with client_cert_pem: the stored key is not kept \
                         when the endpoint's scheme, host or port changes",
                    ));
                }
                outcome.tls_client_key = Some(SecretChange::Remove);
            }
        }
        if holds(&outcome.basic_auth_password, stored.has_basic_auth_password)
            && outcome.basic_auth_username.is_empty()
        {
            return Err(Error::invalid(
                "user_info_endpoint.basic_auth_username",
                "is required with a basic-auth password",
            ));
        }
        let has_key = holds(&outcome.tls_client_key, stored.has_tls_client_key);
        match (outcome.tls_client_cert_pem.is_empty(), has_key) {
            (false, false) => Err(Error::invalid(
                "user_info_endpoint.tls.client_key_pem",
                "is required with client_cert_pem",
            )),
            (true, true) => Err(Error::invalid(
                "user_info_endpoint.tls.client_cert_pem",
                "is required with client_key_pem",
            )),
            _ => Ok(outcome),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{address::AddressPolicy, iam::TlsSettings};

    #[test]
    fn a_password_needs_a_username_whatever_the_change() {
        let stored = Endpoint {
            uri: "https://a.example/".into(),
            basic_auth_username: "svc".into(),
            has_basic_auth_password: true,
            ..Default::default()
        };
        let clear_username = EndpointChange::Fields(EndpointFieldChanges {
            basic_auth_username: Some(String::new()),
            ..Default::default()
        });
        assert!(clear_username.apply(Some(&stored)).is_err());
        let clear_both = EndpointChange::Fields(EndpointFieldChanges {
            basic_auth_username: Some(String::new()),
            basic_auth_password: Some(SecretChange::Remove),
            ..Default::default()
        });
        let outcome = clear_both.apply(Some(&stored)).unwrap();
        assert_eq!(outcome.uri.as_deref(), Some("https://a.example/"));
        let removed = EndpointChange::Remove.apply(Some(&stored)).unwrap();
        assert!(removed.uri.is_none());
        assert!(matches!(
            removed.basic_auth_password,
            Some(SecretChange::Remove)
        ));
        let username_only = EndpointChange::Fields(EndpointFieldChanges {
            basic_auth_username: Some("svc".into()),
            ..Default::default()
        });
        let error = username_only.apply(None).unwrap_err().to_string();
        assert!(
            error.starts_with("user_info_endpoint.uri: is required"),
            "{error}"
        );
    }

    #[test]
    fn stored_secrets_stay_with_their_origin() {
        const ANYWHERE: AddressPolicy = AddressPolicy {
            allow_private: true,
        };
        let stored = Endpoint {
            uri: "https://iam.example.com/info".into(),
            basic_auth_username: "svc".into(),
            has_basic_auth_password: true,
            ..Default::default()
        };
        let to = |uri: &str| {
            EndpointChange::Fields(EndpointFieldChanges {
                uri: Some(EndpointUri::parse("uri", uri, ANYWHERE).unwrap()),
                ..Default::default()
            })
            .apply(Some(&stored))
            .unwrap()
        };
        for same in [
            "https://IAM.example.com/other/path",
            "https://iam.example.com:443/info",
        ] {
            assert!(to(same).basic_auth_password.is_none(), "{same}: kept");
        }
        for moved in [
            "https://attacker.example/info",
            "https://iam.example.com:8443/info",
            "http://localhost/info",
        ] {
            assert!(
                matches!(to(moved).basic_auth_password, Some(SecretChange::Remove)),
                "{moved}: the password goes"
            );
        }
        let given_again = EndpointChange::Fields(EndpointFieldChanges {
            uri: Some(EndpointUri::parse("uri", "https://new.example.com/", ANYWHERE).unwrap()),
            basic_auth_password: Some(SecretChange::Set(Password::parse("p", "s3cret").unwrap())),
            ..Default::default()
        });
        assert!(matches!(
            given_again
                .apply(Some(&stored))
                .unwrap()
                .basic_auth_password,
            Some(SecretChange::Set(_))
        ));
        let replaced = EndpointChange::Replace(EndpointSettings {
            uri: EndpointUri::parse("uri", "https://attacker.example/", ANYWHERE).unwrap(),
            basic_auth_username: "svc".into(),
            basic_auth_password: None,
            tls: TlsSettings::default(),
            timeouts: Timeouts::default(),
        });
        assert!(matches!(
            replaced.apply(Some(&stored)).unwrap().basic_auth_password,
            Some(SecretChange::Remove)
        ));

        let with_key = Endpoint {
            tls_client_cert_pem: "certificate".into(),
            has_tls_client_key: true,
            ..stored.clone()
        };
        let moved = EndpointChange::Fields(EndpointFieldChanges {
            uri: Some(EndpointUri::parse("uri", "https://attacker.example/", ANYWHERE).unwrap()),
            ..Default::default()
        });
        let error = moved.apply(Some(&with_key)).unwrap_err().to_string();
        assert!(
            error.starts_with("user_info_endpoint.tls.client_key_pem: must be given again"),
            "{error}"
        );
    }
}
