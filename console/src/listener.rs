//! The console's listener: its own accept loop over hyper, with the node's certificate and
//! key when it has them. Connections are bounded in number, handshakes and request
//! headers in time, so a slow or silent client holds up no one else and many of them
//! cannot exhaust the node's file descriptors.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to send a request's headers (and an HTTP/2 client to
/// answer a ping).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection may stay silent, nothing read or written, before it is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// How often an HTTP/2 connection is pinged to find dead clients.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// Connections open at once, handshakes included.
const MAX_CONNECTIONS: usize = 1024;

/// TLS settings for serving with `cert_pem` (the chain, leaf first) and `key_pem`.
pub fn tls_acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<TlsAcceptor, String> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("reading the certificate: {error}"))?;
    if chain.is_empty() {
        return Err("the certificate file holds no certificate".to_owned());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|error| format!("reading the private key: {error}"))?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS versions: {error}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| format!("the certificate and key: {error}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Serves `router` on `tcp`, over TLS when `acceptor` is given, until the listener
/// fails. Each connection runs in a task of this function's own set, holding one of
/// `MAX_CONNECTIONS` permits (further clients wait in the kernel's backlog); a TLS
/// handshake must finish within `HANDSHAKE_TIMEOUT` and request headers arrive within
/// `HEADER_TIMEOUT`, and a connection silent for `IDLE_TIMEOUT` is closed, so silent
/// clients cannot pile up and exhaust the node's descriptors.
pub async fn serve(
    tcp: TcpListener,
    acceptor: Option<TlsAcceptor>,
    router: axum::Router,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.map_err(io::Error::other)?,
            Some(_) = connections.join_next() => continue,
        };
        let (stream, address) = tokio::select! {
            accepted = tcp.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off, as axum's own
                    // listener does.
                    tracing::warn!(%error, "console accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            Some(_) = connections.join_next() => continue,
        };
        let _ = stream.set_nodelay(true);
        let acceptor = acceptor.clone();
        let router = router.clone();
        connections.spawn(async move {
            let _permit = permit;
            match acceptor {
                None => serve_connection(stream, address, router).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => serve_connection(tls, address, router).await,
                        Ok(Err(error)) => {
                            tracing::debug!(%address, %error, "console TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%address, "console TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// One connection, HTTP/1.1 or HTTP/2, until the client closes it or it stays silent
/// (nothing read or written) for `IDLE_TIMEOUT`. A live journal writes a keep-alive
/// comment more often than that, so only dead or silent clients are cut off.
async fn serve_connection<I>(io: I, address: SocketAddr, router: axum::Router)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = tokio::time::Instant::now();
    let io = Activity {
        inner: io,
        started,
        last_ms: Arc::new(AtomicU64::new(0)),
    };
    let last_ms = io.last_ms.clone();
    let idle = async move {
        loop {
            let last = started + Duration::from_millis(last_ms.load(Ordering::Relaxed));
            if last.elapsed() >= IDLE_TIMEOUT {
                return;
            }
            tokio::time::sleep_until(last + IDLE_TIMEOUT).await;
        }
    };
    tokio::select! {
        () = serve_http(io, address, router) => {}
        () = idle => tracing::debug!(%address, "console connection idle: closed"),
    }
}

async fn serve_http<I>(io: I, address: SocketAddr, router: axum::Router)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(KEEP_ALIVE_INTERVAL)
        .keep_alive_timeout(HEADER_TIMEOUT);
    let service = TowerToHyperService::new(router);
    if let Err(error) = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .await
    {
        tracing::debug!(%address, %error, "console connection ended");
    }
}

/// A connection that notes when it last read or wrote something.
struct Activity<I> {
    inner: I,
    started: tokio::time::Instant,
    /// Milliseconds after `started` of the last read or write.
    last_ms: Arc<AtomicU64>,
}

impl<I> Activity<I> {
    fn touch(&self) {
        let now = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Activity<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Activity<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(written)) if written > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
