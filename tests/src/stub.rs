//! A stub server answering one canned response to every request: for the bodies and errors
//! an emulator never sends (malformed pagination objects, undocumented error shapes).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::Router;

/// Serves `body` with `status` and `content_type` on `127.0.0.1`; returns the base URL and
/// the number of requests served so far.
pub async fn canned(
    status: u16,
    content_type: &'static str,
    body: String,
) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let app = Router::new().fallback(move || {
        let counter = counter.clone();
        let body = body.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            (status, [(header::CONTENT_TYPE, content_type)], body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}"), hits)
}
