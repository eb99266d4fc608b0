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

mod endpoint_change;
pub use endpoint_change::{EndpointChange, EndpointFieldChanges, EndpointOutcome, SecretChange};

/// The longest basic-auth password accepted.
const MAX_PASSWORD_CHARS: usize = 1024;

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
    const MAX_CONNECT: Duration = Duration::from_secs(30);
    const MAX_REQUEST: Duration = Duration::from_secs(60);

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
        let not_a_uri = |reason: &dyn std::fmt::Display| {
            Error::invalid(field, format!("{text:?} is not a URI: {reason}"))
        };
        let uri: http::Uri = text.parse().map_err(|e| not_a_uri(&e))?;
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
        let url = url::Url::parse(&text).map_err(|e| not_a_uri(&e))?;
        let host = url.host().ok_or_else(|| not_a_uri(&"it has no host"))?;
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

#[derive(Clone, Debug, Default)]
pub struct IamChanges {
    pub name: Option<Name>,
    pub endpoint: Option<EndpointChange>,
    pub profile_schema: Option<Vec<ProfileSchemaEntry>>,
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
            (
                "iam.example.com/info",
                strict,
                "\"iam.example.com/info\" is not a URI: invalid format",
            ),
            ("/info", strict, "must be absolute"),
            ("http://iam.example.com/info", allowing, "must use https"),
            ("http://10.0.0.1/info", allowing, "must use https"),
            ("ftp://iam.example.com/", strict, "must be an https:// URI"),
            (
                "https://iam.example.com/info?x=1",
                strict,
                "must have no query",
            ),
            (
                "https://exa mple.com/",
                strict,
                "is not a URI: invalid uri character",
            ),
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
