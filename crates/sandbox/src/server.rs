//! Serving an emulator on loopback.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A running emulator: its address, stopped when dropped.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Running {
    /// Serves `router` on `127.0.0.1` at an ephemeral port, on the current Tokio runtime,
    /// each answer sent `latency` after its request arrived ([`after_latency`]).
    pub(crate) async fn serve(router: Router, latency: Duration) -> std::io::Result<Self> {
        let router = if latency.is_zero() {
            router
        } else {
            router.layer(middleware::from_fn_with_state(latency, after_latency))
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    rx.await.ok();
                })
                .await;
            if let Err(err) = served {
                tracing::warn!(%err, "sandbox server stopped");
            }
        });
        Ok(Self {
            addr,
            shutdown: Some(tx),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Sends the answer no sooner than `latency` after its request arrived. The answer is built
/// while the latency runs, as a real server's time to answer includes its own work: built
/// after a full sleep, eight pages of 100 rows asked for at once waited their build time on
/// top, on two cores shared with the client under test.
async fn after_latency(State(latency): State<Duration>, request: Request, next: Next) -> Response {
    let due = Instant::now() + latency;
    let response = next.run(request).await;
    tokio::time::sleep_until(due).await;
    response
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            tx.send(()).ok();
        }
    }
}
