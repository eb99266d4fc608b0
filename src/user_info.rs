//! The client of an IAM's user-info endpoint: `GET <uri>?userid=<username>` over HTTPS with
//! optional basic auth and client certificate, bounded in time (the IAM's timeouts) and in the
//! size of the answer.
//! Every way it can fail is described for the caller (status and the first bytes of the body,
//! the TLS or connection error, a timeout), since an operator fixes the endpoint from that.

use std::{collections::BTreeMap, time::Duration};

use serde::Deserialize;

use crate::domain::iam::seconds;

/// The largest answer read; a larger one is refused.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;
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
    /// Settings that cannot be used are the IAM's state; anything else is the endpoint's.
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Settings(_) => Self::FailedPrecondition(error.to_string()),
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
    pub fn new(config: EndpointConfig) -> Result<Self, FetchError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .connect_timeout(config.timeouts.connect)
            .timeout(config.timeouts.request)
            .redirect(reqwest::redirect::Policy::none());
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
