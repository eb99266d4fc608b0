//! The tower layer that authenticates and authorizes every call before it reaches a handler.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Request, Response};
use tonic::{Status, body::Body};
use tower::{Layer, Service};

use super::{Access, Authenticator, Principal, access_for};
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct AuthLayer {
    authenticator: Authenticator,
}

impl AuthLayer {
    pub fn new(authenticator: Authenticator) -> Self {
        Self { authenticator }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Authenticator,
}

impl<S> Service<Request<Body>> for AuthService<S>
where
    S: Service<Request<Body>, Response = Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        // The body is not Sync, so the future holds what it needs of the request, not a borrow.
        let path = request.uri().path().to_owned();
        let header = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.to_str().map(str::to_owned));
        Box::pin(async move {
            match authorize(&authenticator, &path, header).await {
                Ok(principal) => {
                    if let Some(principal) = principal {
                        request.extensions_mut().insert(principal);
                    }
                    inner.call(request).await
                }
                Err(error) => Ok(Status::from(error).into_http()),
            }
        })
    }
}

/// Returns the caller, or `None` for public calls.
async fn authorize(
    authenticator: &Authenticator,
    path: &str,
    header: Option<Result<String, http::header::ToStrError>>,
) -> Result<Option<Principal>> {
    let access = access_for(path);
    if access == Some(Access::Public) {
        return Ok(None);
    }
    let header = header
        .transpose()
        .map_err(|_| Error::Unauthenticated("the authorization header is not ASCII".into()))?;
    let principal = authenticator.authenticate(header.as_deref()).await?;
    match access {
        Some(Access::Permission(permission)) => principal.require(permission)?,
        // SelfOr: the handler checks the target, since only it knows whose data the call is about.
        Some(_) => {}
        None => {
            return Err(Error::PermissionDenied(format!(
                "{path} has no access rule and is refused"
            )));
        }
    }
    Ok(Some(principal))
}
