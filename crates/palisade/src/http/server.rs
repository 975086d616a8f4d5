//! Serving an app so slow or idle clients cannot hold it: a deadline for each request's
//! headers (which is also how long an idle keep-alive connection may wait), a deadline for
//! each request's body, a TLS handshake deadline, and a connection limit beyond which new
//! connections are closed at once instead of queueing.
//!
//! Stops: slowloris (headers or body sent a byte at a time), idle-connection floods,
//! file-descriptor exhaustion.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::{Extension, Router};
use axum_server::Handle;
use axum_server::accept::{Accept, DefaultAcceptor};
use axum_server::tls_rustls::RustlsAcceptor;
use futures_util::future::BoxFuture;
use http::Request;
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;
use tower::{Layer, Service};

use super::ConnectionScheme;
use super::tls::ReloadingTls;

/// The limits [`serve`] applies. The defaults suit a service on the open internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time a client has to send a request's headers, counted from when the server starts
    /// waiting for them — so also how long an idle keep-alive connection stays open.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's whole body, counted from its headers.
    pub body_read_timeout: Duration,
    /// Time a client has to finish the TLS handshake.
    pub tls_handshake_timeout: Duration,
    /// Connections open at once; one more is closed as soon as it is accepted.
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 10_000,
        }
    }
}

/// Serves `app` on a bound `listener` (over TLS when `tls` is given) until `handle` shuts it
/// down, with `limits`. Binding first lets the caller learn the port before building the
/// app. Requests carry their [`ConnectionScheme`] and the peer address, as the
/// [`Shield`](super::Shield) expects.
pub async fn serve(
    listener: std::net::TcpListener,
    app: Router,
    tls: Option<&ReloadingTls>,
    limits: ServerLimits,
    handle: Handle<SocketAddr>,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let scheme = if tls.is_some() {
        ConnectionScheme::Https
    } else {
        ConnectionScheme::Http
    };
    let app = app
        .layer(BodyDeadlineLayer::new(limits.body_read_timeout))
        .layer(Extension(scheme))
        .into_make_service_with_connect_info::<SocketAddr>();
    let mut server = axum_server::from_tcp(listener)?.handle(handle);
    server
        .http_builder()
        .http1()
        .header_read_timeout(limits.header_read_timeout);
    let first_request_timeout = limits.header_read_timeout;
    match tls {
        Some(tls) => {
            let inner = RustlsAcceptor::new(tls.rustls_config())
                .handshake_timeout(limits.tls_handshake_timeout);
            let acceptor = ConnectionLimit {
                inner,
                permits,
                first_request_timeout,
            };
            server.acceptor(acceptor).serve(app).await
        }
        None => {
            let acceptor = ConnectionLimit {
                inner: DefaultAcceptor,
                permits,
                first_request_timeout,
            };
            server.acceptor(acceptor).serve(app).await
        }
    }
}

/// Admits a connection only while fewer than the limit are open (the permit lives as long
/// as the connection's stream), then runs the inner acceptor (the TLS handshake, if any).
#[derive(Clone)]
struct ConnectionLimit<A> {
    inner: A,
    permits: Arc<Semaphore>,
    first_request_timeout: Duration,
}

impl<A, I, S> Accept<I, S> for ConnectionLimit<A>
where
    A: Accept<I, S> + Clone + Send + Sync + 'static,
    A::Future: Send,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = Limited<A::Stream>;
    type Service = A::Service;
    type Future = BoxFuture<'static, io::Result<(Self::Stream, Self::Service)>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let permit = self.permits.clone().try_acquire_owned();
        let inner = self.inner.clone();
        let first_request_timeout = self.first_request_timeout;
        Box::pin(async move {
            // Dropping the stream closes it: an attacker's extra connections cost an accept,
            // not a file descriptor held open.
            let permit = permit.map_err(|_| io::Error::other("connection limit reached"))?;
            let (stream, service) = inner.accept(stream, service).await?;
            Ok((
                Limited {
                    stream,
                    first_read: Some(Box::pin(tokio::time::sleep(first_request_timeout))),
                    _permit: permit,
                },
                service,
            ))
        })
    }
}

/// A stream that holds one of the connection limit's permits, and fails if its first bytes
/// do not come in time: hyper's header deadline starts only once it knows the protocol,
/// which takes a first read, so a client that connects and sends nothing needs this one.
struct Limited<I> {
    stream: I,
    first_read: Option<Pin<Box<Sleep>>>,
    _permit: OwnedSemaphorePermit,
}

impl<I: AsyncRead + Unpin> AsyncRead for Limited<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if read.is_ready() {
            this.first_read = None;
            return read;
        }
        if let Some(deadline) = this.first_read.as_mut()
            && deadline.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no request in time",
            )));
        }
        Poll::Pending
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Limited<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// Gives each request's body a deadline for arriving whole, counted from the request's
/// headers. Unlike a timeout between frames, a client sending a byte every few seconds
/// cannot stretch it.
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadlineLayer {
    limit: Duration,
}

impl BodyDeadlineLayer {
    /// A deadline of `limit` for every request body.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for BodyDeadlineLayer {
    type Service = BodyDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyDeadline {
            inner,
            limit: self.limit,
        }
    }
}

/// The service [`BodyDeadlineLayer`] makes.
#[derive(Debug, Clone)]
pub struct BodyDeadline<S> {
    inner: S,
    limit: Duration,
}

impl<S> Service<Request<Body>> for BodyDeadline<S>
where
    S: Service<Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let deadline = Box::pin(tokio::time::sleep(self.limit));
        self.inner.call(request.map(|body| {
            Body::new(DeadlineBody {
                body,
                deadline,
                expired: false,
            })
        }))
    }
}

struct DeadlineBody {
    body: Body,
    deadline: Pin<Box<Sleep>>,
    expired: bool,
}

/// The error a body past its deadline ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTimedOut;

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired = true;
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.expired || self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// A body whose bytes arrive when the test sends them.
    fn trickle() -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|b| (Ok::<_, io::Error>(b), rx))
        });
        (tx, Body::from_stream(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_trickles_past_its_deadline_fails() {
        let (tx, body) = trickle();
        let mut service = BodyDeadlineLayer::new(Duration::from_secs(30)).layer(tower::service_fn(
            |request: Request<Body>| async move {
                Ok::<_, std::convert::Infallible>(request.into_body().collect().await)
            },
        ));
        let pending = tokio::spawn(service.call(Request::new(body)));
        // A byte every 5 s: each gap is short, the whole is not.
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            if tx.send(Bytes::from_static(b"x")).await.is_err() {
                break;
            }
        }
        let collected = pending.await.expect("task").expect("infallible");
        let error = collected.expect_err("the body must fail at its deadline");
        assert!(error.to_string().contains("in time"), "{error}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_arrives_in_time_is_whole() {
        let (tx, body) = trickle();
        let mut service = BodyDeadlineLayer::new(Duration::from_secs(30)).layer(tower::service_fn(
            |request: Request<Body>| async move {
                Ok::<_, std::convert::Infallible>(request.into_body().collect().await)
            },
        ));
        let pending = tokio::spawn(service.call(Request::new(body)));
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_secs(5)).await;
            tx.send(Bytes::from_static(b"x")).await.expect("open");
        }
        drop(tx);
        let collected = pending.await.expect("task").expect("infallible");
        assert_eq!(collected.expect("in time").to_bytes().as_ref(), b"xxxxx");
    }
}
