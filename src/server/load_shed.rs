//! Load shedding: refuse what cannot be served soon instead of queueing it.

use std::sync::Arc;

use http::Request;
use tokio::sync::Semaphore;
use tonic::{Status, body::Body};

use crate::middleware::{Inner, Middleware, Next, ResponseFuture};

/// Serves at most `limit` calls at once and refuses the rest at once with UNAVAILABLE, so
/// an overloaded server sheds load instead of queueing it into timeouts.
#[derive(Clone)]
pub(super) struct LoadShed {
    permits: Arc<Semaphore>,
}

impl LoadShed {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(limit)),
        }
    }
}

impl Middleware for LoadShed {
    fn call<S: Inner>(&self, request: Request<Body>, next: Next<S>) -> ResponseFuture<S::Error> {
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => {
                let future = next.run(request);
                Box::pin(async move {
                    let response = future.await;
                    drop(permit);
                    response
                })
            }
            Err(_) => Box::pin(async {
                Ok(Status::unavailable(
                    "the server is at its concurrency limit; retry with backoff",
                )
                .into_http())
            }),
        }
    }
}
