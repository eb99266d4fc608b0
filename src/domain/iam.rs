//! Identity managers (IAMs): where users come from, and the external user-info endpoint that
//! supplies their groups and authorizations.

use std::time::Duration;

use super::{
    Id, MAX_TEXT_CHARS, Timestamp, Version,
    address::{AddressKind, AddressPolicy, host_ip, is_localhost_name},
    bounded_text,
    external::{AwsUserType, Platform},
    name::Name,
    tls::{Certificates, PrivateKey},
};
use crate::error::{Error, Result};

/// The longest basic-auth password accepted.
pub const MAX_PASSWORD_CHARS: usize = 1024;

/// How long calling an endpoint may take: connecting, and the whole request with its answer
/// (connecting included, so a request timeout shorter than the connect timeout bounds both).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            request: Duration::from_secs(5),
        }
    }
}

impl Timeouts {
    /// No timeout may be shorter than this.
    pub const MIN: Duration = Duration::from_millis(100);
    pub const MAX_CONNECT: Duration = Duration::from_secs(30);
    pub const MAX_REQUEST: Duration = Duration::from_secs(60);

    /// A connect timeout as a request gives it: within `MIN..=MAX_CONNECT`, or the default
    /// when unset.
    pub fn parse_connect(field: &str, given: Option<Duration>) -> Result<Duration> {
        Self::bounded(field, given, Self::MAX_CONNECT, Self::default().connect)
    }

    /// A request timeout as a request gives it: within `MIN..=MAX_REQUEST`, or the default
    /// when unset.
    pub fn parse_request(field: &str, given: Option<Duration>) -> Result<Duration> {
        Self::bounded(field, given, Self::MAX_REQUEST, Self::default().request)
    }

    fn bounded(
        field: &str,
        given: Option<Duration>,
        max: Duration,
        default: Duration,
    ) -> Result<Duration> {
        match given {
            None => Ok(default),
            Some(d) if (Self::MIN..=max).contains(&d) => Ok(d),
            Some(d) => Err(Error::invalid(
                field,
                format!(
                    "must be from {} to {}, got {}",
                    seconds(Self::MIN),
                    seconds(max),
                    seconds(d)
                ),
            )),
        }
    }
}

/// A duration as people write it: "5 s", "0.25 s".
pub fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

#[derive(Clone, Debug, PartialEq)]
pub struct Iam {
    pub id: Id,
    pub name: String,
    pub built_in: bool,
    pub endpoint: Option<Endpoint>,
    pub profile_schema: Vec<ProfileSchemaEntry>,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
    pub version: Version,
}

/// A user-info endpoint as it is stored and shown: its secrets only as whether they are stored.
/// Empty PEM texts are unset.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Endpoint {
    pub uri: String,
    pub basic_auth_username: String,
    pub has_basic_auth_password: bool,
    pub tls_ca_cert_pem: String,
    pub tls_client_cert_pem: String,
    pub has_tls_client_key: bool,
    pub timeouts: Timeouts,
}

/// An endpoint's settings with its secrets opened, as calling it needs them. Never printed
/// whole.
#[derive(Clone, Default)]
pub struct EndpointConfig {
    pub uri: String,
    /// Username and password.
    pub basic_auth: Option<(String, String)>,
    pub ca_cert_pem: String,
    pub client_cert_pem: String,
    pub client_key_pem: String,
    pub timeouts: Timeouts,
}

impl std::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("uri", &self.uri)
            .field(
                "basic_auth_username",
                &self.basic_auth.as_ref().map(|(u, _)| u),
            )
            .finish_non_exhaustive()
    }
}

/// Where one platform's external username comes from: a top-level field of the user-info
/// answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileSchemaEntry {
    pub platform: Platform,
    pub attribute: String,
    /// `Some` exactly for S3: the type its names get.
    pub aws_user_type: Option<AwsUserType>,
}

/// An endpoint URI: absolute, https (http only for a loopback host), with no query or fragment,
/// since the service adds `?userid=`, and with a host the user-info client may call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointUri(String);

impl EndpointUri {
    /// Parses a URI given for an endpoint. An IP address or localhost name as its host must be
    /// one `addresses` lets the client call; so http, allowed only toward loopback, needs
    /// private addresses allowed too.
    pub fn parse(field: &str, text: &str, addresses: AddressPolicy) -> Result<Self> {
        let text = bounded_text(field, text, MAX_TEXT_CHARS)?;
        let not_a_uri = || Error::invalid(field, format!("{text:?} is not a URI"));
        let uri: http::Uri = text.parse().map_err(|_| not_a_uri())?;
        if uri.host().is_none() {
            return Err(Error::invalid(
                field,
                "must be absolute, with a scheme and a host",
            ));
        }
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(Error::invalid(field, "must be an https:// URI")),
        };
        if uri.query().is_some() {
            return Err(Error::invalid(
                field,
                "must have no query: the service calls it with ?userid=<username>",
            ));
        }
        // The host as the client reads it, which takes `127.1` and `2130706433` for 127.0.0.1.
        let url = url::Url::parse(&text).map_err(|_| not_a_uri())?;
        let host = url.host().ok_or_else(not_a_uri)?;
        addresses
            .check_host(&host)
            .map_err(|refused| Error::invalid(field, refused.to_string()))?;
        if !https && !is_loopback(&host) {
            return Err(Error::invalid(
                field,
                "must use https (http only for a loopback host: localhost, 127.0.0.1, [::1])",
            ));
        }
        Ok(Self(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => is_localhost_name(name),
        _ => host_ip(host).is_some_and(|ip| AddressKind::of(ip) == AddressKind::Loopback),
    }
}

/// A basic-auth username: may be empty (no basic auth), never holds `:`, which would end it.
pub fn basic_auth_username(field: &str, text: &str) -> Result<String> {
    if text.is_empty() {
        return Ok(String::new());
    }
    let username = bounded_text(field, text, MAX_TEXT_CHARS)?;
    if username.contains(':') || username.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must not contain `:` or control characters",
        ));
    }
    Ok(username)
}

/// A basic-auth password to store; whitespace is kept, as it may be part of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(field: &str, text: &str) -> Result<Self> {
        if text.is_empty() {
            return Err(Error::invalid(field, "is required"));
        }
        if text.chars().count() > MAX_PASSWORD_CHARS {
            return Err(Error::invalid(
                field,
                format!("is longer than {MAX_PASSWORD_CHARS} characters"),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Never printed, so it cannot reach a log line through a `{:?}`.
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// A profile schema: at most one entry per platform, each naming a field of the answer.
pub fn profile_schema(
    field: &str,
    entries: &[(Platform, &str, Option<AwsUserType>)],
) -> Result<Vec<ProfileSchemaEntry>> {
    let mut schema: Vec<ProfileSchemaEntry> = Vec::with_capacity(entries.len());
    for (i, (platform, attribute, aws_user_type)) in entries.iter().enumerate() {
        if schema.iter().any(|e| e.platform == *platform) {
            return Err(Error::invalid(
                format!("{field}[{i}].platform"),
                format!(
                    "{} has an entry already; at most one per platform",
                    platform.as_str()
                ),
            ));
        }
        let attribute = bounded_text(
            &format!("{field}[{i}].attribute"),
            attribute,
            MAX_TEXT_CHARS,
        )?;
        let aws_user_type = match (platform, aws_user_type) {
            (Platform::S3, kind) => Some(kind.unwrap_or(AwsUserType::None)),
            (_, None | Some(AwsUserType::None)) => None,
            (other, Some(_)) => {
                return Err(Error::invalid(
                    format!("{field}[{i}].aws_user_type"),
                    format!("applies to S3 only, not to {}", other.as_str()),
                ));
            }
        };
        schema.push(ProfileSchemaEntry {
            platform: *platform,
            attribute,
            aws_user_type,
        });
    }
    schema.sort_by_key(|e| e.platform);
    Ok(schema)
}

/// The endpoint of a new IAM, or the one that replaces an IAM's whole.
#[derive(Clone, Debug)]
pub struct EndpointSettings {
    pub uri: EndpointUri,
    pub basic_auth_username: String,
    /// None: no password (on create), or keep the stored one (on a whole replacement).
    pub basic_auth_password: Option<Password>,
    pub tls: TlsSettings,
    pub timeouts: Timeouts,
}

/// TLS toward an endpoint; a client key left out is none (on create) or kept (on a whole
/// replacement).
#[derive(Clone, Debug, Default)]
pub struct TlsSettings {
    pub ca_cert: Option<Certificates>,
    pub client_cert: Option<Certificates>,
    pub client_key: Option<PrivateKey>,
}

#[derive(Clone, Debug)]
pub struct NewIam {
    pub name: Name,
    pub endpoint: Option<EndpointSettings>,
    pub profile_schema: Vec<ProfileSchemaEntry>,
}

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

#[derive(Clone, Debug, Default)]
pub struct IamChanges {
    pub name: Option<Name>,
    pub endpoint: Option<EndpointChange>,
    pub profile_schema: Option<Vec<ProfileSchemaEntry>>,
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
    use crate::domain::address::ALLOW_PRIVATE_SETTING;

    #[test]
    fn endpoint_uris_are_https_or_loopback_http() {
        let strict = AddressPolicy::default();
        let allowing = AddressPolicy {
            allow_private: true,
        };
        for (good, addresses) in [
            ("https://iam.example.com/userinfo", strict),
            ("https://iam.example.com:8443/v1/users", strict),
            ("https://93.184.215.14/info", strict),
            ("https://10.0.0.1/info", allowing),
            ("https://localhost:8443/info", allowing),
            ("http://localhost:8080/info", allowing),
            ("http://127.0.0.1:9000/", allowing),
            ("http://[::1]:9000/x", allowing),
        ] {
            assert!(EndpointUri::parse("uri", good, addresses).is_ok(), "{good}");
        }
        for (bad, addresses, says) in [
            ("", strict, "is required"),
            ("iam.example.com/info", strict, "is not a URI"),
            ("/info", strict, "must be absolute"),
            ("http://iam.example.com/info", allowing, "must use https"),
            ("http://10.0.0.1/info", allowing, "must use https"),
            ("ftp://iam.example.com/", strict, "must be an https:// URI"),
            (
                "https://iam.example.com/info?x=1",
                strict,
                "must have no query",
            ),
            ("https://exa mple.com/", strict, "is not a URI"),
            (
                "https://169.254.169.254/latest/meta-data/",
                allowing,
                "169.254.169.254 is a link-local address",
            ),
            (
                "https://[::ffff:169.254.169.254]/",
                allowing,
                "(IPv4 169.254.169.254) is a link-local address",
            ),
            (
                "https://[fd00:ec2::254]/",
                allowing,
                "fd00:ec2::254 is a cloud metadata service's address",
            ),
            (
                "https://0.0.0.0:8443/",
                allowing,
                "0.0.0.0 is an unspecified",
            ),
            ("https://127.0.0.1:8443/", strict, "127.0.0.1 is a loopback"),
            ("https://127.1:8443/", strict, "127.0.0.1 is a loopback"),
            ("https://2130706433/", strict, "127.0.0.1 is a loopback"),
            ("https://[::1]/", strict, "::1 is a loopback"),
            ("https://LocalHost./", strict, "localhost. is a loopback"),
            ("http://localhost:8080/", strict, ALLOW_PRIVATE_SETTING),
            (
                "https://192.168.0.10/",
                strict,
                "a private address (RFC 1918)",
            ),
        ] {
            let error = EndpointUri::parse("user_info_endpoint.uri", bad, addresses).unwrap_err();
            let text = error.to_string();
            assert!(text.starts_with("user_info_endpoint.uri: "), "{text}");
            assert!(text.contains(says), "{bad}: {text}");
        }
    }

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

    #[test]
    fn profile_schemas_hold_one_entry_per_platform() {
        let schema = profile_schema(
            "profile_schema",
            &[
                (Platform::Trino, "trino_login", None),
                (Platform::Snowflake, " sf ", Some(AwsUserType::None)),
                (Platform::S3, "aws", None),
            ],
        )
        .unwrap();
        assert_eq!(
            schema[0].platform,
            Platform::Snowflake,
            "sorted by platform"
        );
        assert_eq!(schema[0].attribute, "sf");
        assert_eq!(schema[0].aws_user_type, None, "NONE is no type off S3");
        assert_eq!(
            schema[2].aws_user_type,
            Some(AwsUserType::None),
            "S3 names always have a type"
        );
        let typed = profile_schema(
            "profile_schema",
            &[(Platform::Trino, "t", Some(AwsUserType::IamRole))],
        )
        .unwrap_err();
        assert!(
            typed
                .to_string()
                .starts_with("profile_schema[0].aws_user_type: applies to S3 only"),
            "{typed}"
        );
        let twice = profile_schema(
            "profile_schema",
            &[(Platform::Trino, "a", None), (Platform::Trino, "b", None)],
        )
        .unwrap_err();
        assert!(
            twice
                .to_string()
                .starts_with("profile_schema[1].platform: TRINO")
        );
        let empty = profile_schema("profile_schema", &[(Platform::S3, " ", None)]).unwrap_err();
        assert!(
            empty
                .to_string()
                .starts_with("profile_schema[0].attribute: is required")
        );
        assert_eq!(
            format!("{:?}", Password::parse("p", "hunter2").unwrap()),
            "Password(..)"
        );
    }
}
