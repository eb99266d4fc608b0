//! The tower plumbing shared by every layer of the server's stack, so each middleware states only
//! what it does to a call.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Request, Response};
use tonic::body::Body;
use tower::{Layer, Service};

/// The answer to one call, however a middleware produced it.
pub type ResponseFuture<E> = BoxFuture<'static, Result<Response<Body>, E>>;

/// What one layer of the stack does to a call: look at or change the request, answer it itself,
/// or pass it to `next` and look at or change the response.
pub trait Middleware: Clone + Send + Sync + 'static {
    fn call<S: Inner>(&self, request: Request<Body>, next: Next<S>) -> ResponseFuture<S::Error>;
}

/// The rest of the stack as every middleware needs it: a service of HTTP calls whose answers can
/// be awaited on any thread.
pub trait Inner:
    Service<Request<Body>, Response = Response<Body>, Future: Send + 'static, Error: Send + 'static>
    + Send
    + 'static
{
}

impl<S> Inner for S where
    S: Service<
            Request<Body>,
            Response = Response<Body>,
            Future: Send + 'static,
            Error: Send + 'static,
        > + Send
        + 'static
{
}

/// The rest of the stack, already polled ready, owned so that a middleware may call it later
/// (after an await) or not at all.
pub struct Next<S> {
    inner: S,
}

impl<S: Service<Request<Body>>> Next<S> {
    pub fn run(mut self, request: Request<Body>) -> S::Future {
        self.inner.call(request)
    }
}

/// Makes a [`Middleware`] a tower layer.
pub fn layer<M: Middleware>(middleware: M) -> MiddlewareLayer<M> {
    MiddlewareLayer { middleware }
}

#[derive(Clone)]
pub struct MiddlewareLayer<M> {
    middleware: M,
}

impl<M: Clone, S> Layer<S> for MiddlewareLayer<M> {
    type Service = MiddlewareService<M, S>;
    fn layer(&self, inner: S) -> Self::Service {
        MiddlewareService {
            middleware: self.middleware.clone(),
            inner,
        }
    }
}

#[derive(Clone)]
pub struct MiddlewareService<M, S> {
    middleware: M,
    inner: S,
}

impl<M, S> Service<Request<Body>> for MiddlewareService<M, S>
where
    M: Middleware,
    S: Inner + Clone,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh clone waits for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        self.middleware.call(request, Next { inner })
    }
}
