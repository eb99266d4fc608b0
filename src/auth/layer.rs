//! The middleware that authenticates and authorizes every call before it reaches a handler.

use http::Request;
use rustls_pki_types::CertificateDer;
use tonic::{
    Status,
    body::Body,
    transport::server::{TcpConnectInfo, TlsConnectInfo},
};

use super::{Access, Authenticator, Principal, access_for};
use crate::error::{Error, Result};
use crate::middleware::{Inner, Middleware, Next, ResponseFuture};

#[derive(Clone)]
pub struct Auth {
    authenticator: Authenticator,
}

impl Auth {
    pub fn new(authenticator: Authenticator) -> Self {
        Self { authenticator }
    }
}

impl Middleware for Auth {
    fn call<S: Inner>(
        &self,
        mut request: Request<Body>,
        next: Next<S>,
    ) -> ResponseFuture<S::Error> {
        let access = access_for(request.uri().path());
        // Health and reflection: nothing to check, so nothing to wait for.
        if access == Some(Access::Public) {
            return Box::pin(next.run(request));
        }
        let authenticator = self.authenticator.clone();
        // The body is not Sync, so the future holds what it needs of the request, not a borrow.
        let header = request.headers().get(http::header::AUTHORIZATION).cloned();
        // The connection's client certificate, verified in the TLS handshake.
        let certificates = request
            .extensions()
            .get::<TlsConnectInfo<TcpConnectInfo>>()
            .and_then(TlsConnectInfo::peer_certs);
        Box::pin(async move {
            let certificate = certificates.as_deref().and_then(|c| c.first());
            match authorize(&authenticator, access, header.as_ref(), certificate).await {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    next.run(request).await
                }
                Err(error) => Ok(Status::from(error).into_http()),
            }
        })
    }
}

async fn authorize(
    authenticator: &Authenticator,
    access: Option<Access>,
    header: Option<&http::HeaderValue>,
    certificate: Option<&CertificateDer<'static>>,
) -> Result<Principal> {
    let header = header
        .map(http::HeaderValue::to_str)
        .transpose()
        .map_err(|_| Error::Unauthenticated("the authorization header is not ASCII".into()))?;
    let principal = authenticator
        .authenticate(header, certificate.map(|c| c.as_ref()))
        .await?;
    match access {
        Some(Access::Permission(permission)) => principal.require(permission)?,
        Some(_) => {}
        None => {
            return Err(Error::PermissionDenied(
                "this path names no RPC of the server and is refused".into(),
            ));
        }
    }
    Ok(principal)
}
