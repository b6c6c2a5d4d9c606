//! The HTTP server loop: accepts connections and serves each with hyper,
//! HTTP/1.1 or cleartext HTTP/2, upgrades (WebSockets) included.
//!
//! Why not poem's `Server`: it builds hyper's connection without a timer,
//! and without one hyper arms none of its timeouts, so a client could
//! trickle a request's headers a byte a minute, or sit on a kept-alive
//! connection, for ever. Poem's own `idle_timeout` wakes a watchdog task
//! on every read and write, about 25,000 wake-ups a second under the chat
//! bench. Hyper's timers cost nothing per byte: with a timer set, the
//! header read timeout runs from when a connection starts waiting for a
//! request (so it also ends idle keep-alive connections), and HTTP/2
//! connections are pinged and closed when the peer stops answering.

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::http;
use poem::listener::Acceptor;
use poem::{Endpoint, Response};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What one connection may do and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to send a request's headers, counted from when the connection
    /// starts waiting for them (so also a kept-alive connection's idle time).
    pub header_read: Duration,
    /// Requests one HTTP/2 connection may have in flight at once.
    pub http2_max_streams: u32,
    /// The most header bytes one HTTP/2 request may send.
    pub http2_max_header_bytes: u32,
    /// Streams a client may open and reset before the connection is closed
    /// (the "rapid reset" flood).
    pub http2_max_pending_resets: usize,
}

impl ConnectionLimits {
    /// An idle HTTP/2 connection is pinged this often...
    fn http2_ping_every(&self) -> Duration {
        self.header_read
    }
    /// ...and closed when a ping goes unanswered this long.
    fn http2_ping_timeout(&self) -> Duration {
        self.header_read
    }
}

/// After accept fails (out of file descriptors, say), how long to wait
/// before accepting again instead of spinning on the error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `endpoint` on connections from `acceptor` until `shutdown`
/// resolves; then stops accepting, asks every connection to finish what it
/// is doing, and waits up to `grace` for them.
pub async fn serve<A, E>(
    mut acceptor: A,
    endpoint: E,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> std::io::Result<()>
where
    A: Acceptor,
    A::Io: Unpin + 'static,
    E: Endpoint<Output = Response> + 'static,
{
    let endpoint = Arc::new(endpoint);
    let stopping = CancellationToken::new();
    let connections = Arc::new(ConnectionCount::default());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = acceptor.accept() => match accepted {
                Ok((io, local, remote, scheme)) => {
                    let endpoint = endpoint.clone();
                    let stopping = stopping.clone();
                    let open = connections.open();
                    tokio::spawn(async move {
                        serve_connection(io, endpoint, (local, remote, scheme), limits, stopping).await;
                        drop(open);
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
        }
    }
    drop(acceptor);
    stopping.cancel();
    if tokio::time::timeout(grace, connections.all_closed())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
    Ok(())
}

type Addresses = (
    poem::web::LocalAddr,
    poem::web::RemoteAddr,
    poem::http::uri::Scheme,
);

async fn serve_connection<Io, E>(
    io: Io,
    endpoint: Arc<E>,
    addresses: Addresses,
    limits: ConnectionLimits,
    stopping: CancellationToken,
) where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
    E: Endpoint<Output = Response> + 'static,
{
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let endpoint = endpoint.clone();
        let (local, remote, scheme) = addresses.clone();
        async move {
            let request = poem::Request::from((request, local, remote, scheme));
            let response = endpoint.get_response(request).await;
            Ok::<_, Infallible>(http::Response::from(response))
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_ping_every())
        .keep_alive_timeout(limits.http2_ping_timeout())
        .max_concurrent_streams(limits.http2_max_streams)
        .max_header_list_size(limits.http2_max_header_bytes)
        .max_pending_accept_reset_streams(limits.http2_max_pending_resets);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stopping.cancelled() => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Connections being served, so shutdown can wait for the last one.
#[derive(Default)]
struct ConnectionCount {
    open: AtomicUsize,
    changed: Notify,
}

/// One open connection; counted until dropped.
struct OpenConnection(Arc<ConnectionCount>);

impl ConnectionCount {
    fn open(self: &Arc<Self>) -> OpenConnection {
        self.open.fetch_add(1, Ordering::AcqRel);
        OpenConnection(self.clone())
    }

    async fn all_closed(&self) {
        loop {
            let changed = self.changed.notified();
            if self.open.load(Ordering::Acquire) == 0 {
                return;
            }
            changed.await;
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_waiters();
    }
}
