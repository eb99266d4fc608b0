//! The client of an IAM's user-info endpoint: `GET <uri>?userid=<username>` over HTTPS with
//! optional basic auth and client certificate, bounded in time (the IAM's timeouts) and in the
//! size of the answer.
//! Every way it can fail is described for the caller (status and the first bytes of the body,
//! the TLS or connection error, a timeout), since an operator fixes the endpoint from that.
//! It connects only to addresses the server's [`AddressPolicy`] allows: an IP address in the
//! URI is checked before any request, and names are resolved by `CheckedResolver`, which keeps
//! only allowed addresses, on every connection.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use serde::Deserialize;

use crate::domain::{
    address::{AddressPolicy, RefusedAddress, host_ip},
    iam::seconds,
};

/// The largest answer read; a larger one is refused.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// How much of an unexpected body an error quotes.
const QUOTED_BYTES: usize = 200;

pub use crate::domain::iam::EndpointConfig;

/// What the endpoint says of a user: `{"groups":[{"name":...}],"authorizations":{...}}`, other
/// fields kept for the profile schema.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserInfo {
    pub groups: Vec<String>,
    pub authorizations: BTreeMap<String, Vec<String>>,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct Answer {
    groups: Vec<GroupName>,
    authorizations: BTreeMap<String, Vec<String>>,
}

#[derive(Deserialize)]
struct GroupName {
    name: String,
}

/// Why the endpoint gave no usable answer, with what it did answer when it answered.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("the endpoint settings cannot be used: {0}")]
    Settings(String),
    #[error("the endpoint's address is refused: {0}")]
    Refused(String),
    #[error("no answer within {}", seconds(*.0))]
    Timeout(Duration),
    #[error("could not reach the endpoint: {0}")]
    Unreachable(String),
    #[error("the endpoint answered HTTP {status}: {body:?}")]
    Status { status: u16, body: String },
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge { status: u16 },
    #[error("the answer is not the user-info JSON ({0})")]
    Malformed(String, u16),
}

impl From<FetchError> for crate::error::Error {
    /// Settings that cannot be used and an address the server does not call are the IAM's
    /// state, which calling again does not change; anything else is the endpoint's.
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Settings(_) | FetchError::Refused(_) => {
                Self::FailedPrecondition(error.to_string())
            }
            other => Self::EndpointFailed(format!("the user-info endpoint: {other}")),
        }
    }
}

impl FetchError {
    /// The HTTP status of the answer, 0 when none arrived.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Status { status, .. }
            | Self::TooLarge { status }
            | Self::Malformed(_, status) => *status,
            _ => 0,
        }
    }
}

pub struct UserInfoClient {
    http: reqwest::Client,
    config: EndpointConfig,
}

impl UserInfoClient {
    /// A client of the endpoint `config` describes, calling only what `addresses` allows; an IP
    /// address in its URI that it does not allow is refused here, before any request.
    pub fn new(config: EndpointConfig, addresses: AddressPolicy) -> Result<Self, FetchError> {
        let url = reqwest::Url::parse(&config.uri)
            .map_err(|e| FetchError::Settings(format!("the URI {:?}: {e}", config.uri)))?;
        if let Some(ip) = url.host().as_ref().and_then(host_ip) {
            addresses
                .check_ip(ip)
                .map_err(|refused| FetchError::Refused(refused.to_string()))?;
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(CheckedResolver { addresses }))
            // Straight to the endpoint: a proxy (HTTPS_PROXY) would resolve and reach the name
            // itself, where no check holds.
            .no_proxy();
        if !config.ca_cert_pem.is_empty() {
            builder = builder.tls_built_in_root_certs(false);
            for cert in reqwest::Certificate::from_pem_bundle(config.ca_cert_pem.as_bytes())
                .map_err(|e| FetchError::Settings(format!("the CA certificates: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        if !config.client_cert_pem.is_empty() {
            let pem = format!("{}\n{}", config.client_key_pem, config.client_cert_pem);
            let identity = reqwest::Identity::from_pem(pem.as_bytes())
                .map_err(|e| FetchError::Settings(format!("the client certificate: {e}")))?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| FetchError::Settings(chain(&e)))?;
        Ok(Self { http, config })
    }

    /// Asks about one user; `Ok` only for a 200 with a body of the user-info shape.
    pub async fn fetch(&self, userid: &str) -> Result<UserInfo, FetchError> {
        let (status, body) = self.get(Some(userid)).await?;
        if status != 200 {
            return Err(FetchError::Status {
                status,
                body: quote(&body),
            });
        }
        parse(&body).map_err(|e| FetchError::Malformed(e, status))
    }

    /// Calls the endpoint with no user; the status it answered, if it answered.
    pub async fn probe(&self) -> Result<u16, FetchError> {
        self.get(None).await.map(|(status, _)| status)
    }

    async fn get(&self, userid: Option<&str>) -> Result<(u16, Vec<u8>), FetchError> {
        let mut request = self.http.get(&self.config.uri);
        if let Some(userid) = userid {
            request = request.query(&[("userid", userid)]);
        }
        if let Some((username, password)) = &self.config.basic_auth {
            request = request.basic_auth(username, Some(password));
        }
        let failure = |error: reqwest::Error| {
            let timeouts = self.config.timeouts;
            if error.is_timeout() && error.is_connect() {
                FetchError::Unreachable(format!(
                    "connecting took longer than {}",
                    seconds(timeouts.connect)
                ))
            } else if error.is_timeout() {
                FetchError::Timeout(timeouts.request)
            } else if let Some(refused) = cause::<RefusedName>(&error) {
                FetchError::Refused(refused.to_string())
            } else {
                FetchError::Unreachable(chain(&error))
            }
        };
        let mut response = request.send().await.map_err(failure)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failure)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(FetchError::TooLarge { status });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }
}

/// Resolves names as the system does and keeps only the addresses the client may call, failing
/// when none is left. reqwest resolves for every new connection, so a name that later resolves
/// elsewhere (DNS rebinding) is checked again.
struct CheckedResolver {
    addresses: AddressPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let addresses = self.addresses;
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let mut allowed: Vec<SocketAddr> = Vec::new();
            let mut refused = Vec::new();
            for address in tokio::net::lookup_host((name.as_str(), 0)).await? {
                match addresses.check_ip(address.ip()) {
                    Ok(()) => allowed.push(address),
                    Err(why) if !refused.contains(&why) => refused.push(why),
                    Err(_) => {}
                }
            }
            if allowed.is_empty() && !refused.is_empty() {
                return Err(Box::new(RefusedName { name, refused }) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// A name that resolved only to addresses the client may not call: each, with why.
#[derive(Debug)]
struct RefusedName {
    name: String,
    refused: Vec<RefusedAddress>,
}

impl std::fmt::Display for RefusedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves only to refused addresses: ", self.name)?;
        for (i, refused) in self.refused.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{refused}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RefusedName {}

/// The first cause of `error` that is an `E`.
fn cause<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut source = Some(error);
    while let Some(current) = source {
        if let Some(found) = current.downcast_ref::<E>() {
            return Some(found);
        }
        source = current.source();
    }
    None
}

/// An error with its causes, which hold the TLS or connection detail.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn quote(body: &[u8]) -> String {
    let end = body.len().min(QUOTED_BYTES);
    String::from_utf8_lossy(&body[..end]).into_owned()
}

/// The user-info answer; unknown fields are kept for the profile schema, a wrong shape refused
/// with where it went wrong.
pub fn parse(body: &[u8]) -> Result<UserInfo, String> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| format!("{e}; the body begins {:?}", quote(body)))?;
    let serde_json::Value::Object(fields) = value else {
        return Err("the body is not a JSON object".into());
    };
    let answer: Answer = serde_json::from_value(serde_json::Value::Object(fields.clone()))
        .map_err(|e| e.to_string())?;
    Ok(UserInfo {
        groups: answer.groups.into_iter().map(|g| g.name).collect(),
        authorizations: answer.authorizations,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolve_only_to_allowed_addresses() {
        let resolve = |allow_private| {
            let resolver = CheckedResolver {
                addresses: AddressPolicy { allow_private },
            };
            resolver.resolve("localhost".parse().expect("a name"))
        };
        let refused = match resolve(false).await {
            Ok(addresses) => panic!("localhost resolved to {:?}", addresses.collect::<Vec<_>>()),
            Err(error) => error.to_string(),
        };
        assert!(
            refused.starts_with("localhost resolves only to refused addresses: ")
                && refused.contains("127.0.0.1 is a loopback address"),
            "{refused}"
        );
        let allowed: Vec<SocketAddr> = resolve(true).await.expect("allowed").collect();
        assert!(
            allowed
                .iter()
                .any(|a| a.ip() == std::net::Ipv4Addr::LOCALHOST),
            "{allowed:?}"
        );
    }
}
