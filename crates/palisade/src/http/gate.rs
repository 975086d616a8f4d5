//! The service shared by the layers that only look at the request: each either lets it
//! through untouched or answers it itself (client info, HTTPS enforcement, CSRF).

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::Response;
use futures_util::future::Either;
use http::Request;
use tower::Service;

/// Decides on a request before the inner service sees it. Sealed: implemented by this
/// module's layers only.
pub trait RequestGate: sealed::Sealed + Clone {
    /// `None` passes the (possibly annotated) request on; `Some` answers it.
    fn check<B>(&self, request: &mut Request<B>) -> Option<Response>;
}

pub(crate) mod sealed {
    pub trait Sealed {}
}

/// A service that runs a [`RequestGate`] before `inner`.
#[derive(Debug, Clone)]
pub struct Gated<G, S> {
    gate: G,
    inner: S,
}

impl<G, S> Gated<G, S> {
    pub(crate) fn new(gate: G, inner: S) -> Self {
        Self { gate, inner }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<G, S, B> Service<Request<B>> for Gated<G, S>
where
    G: RequestGate,
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response<Body>, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match self.gate.check(&mut request) {
            Some(answer) => Either::Left(ready(Ok(answer))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}
