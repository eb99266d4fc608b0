//! The middleware that authenticates and authorizes every call before it reaches a handler.

use http::{Request, Response};
use tonic::{Status, body::Body};
use tower::Service;

use super::{Access, Authenticator, Principal, access_for};
use crate::error::{Error, Result};
use crate::middleware::{Middleware, Next, ResponseFuture};

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
    fn call<S>(&self, mut request: Request<Body>, next: Next<S>) -> ResponseFuture<S::Error>
    where
        S: Service<Request<Body>, Response = Response<Body>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Send + 'static,
    {
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
                    next.run(request).await
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
