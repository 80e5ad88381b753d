//! The HTTP server that gives browsers the harness page. It binds to
//! loopback (or the address given) and serves the page and the script,
//! under `/isolated/` (with COOP/COEP, so the page is cross-origin isolated
//! and has SharedArrayBuffer) and under `/plain/` (without them), and the
//! run's large modules by hash, `/module/SHA256` (see [`super::modules`]:
//! a page fetches each once). Everything else is 404. Only GET (and HEAD) are
//! answered (405 otherwise); a request with a body is refused (413) without
//! reading it, one in absolute form (`GET http://host/...`) too (400), and
//! hyper's own header limit (431) bounds what a request can make it read.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use super::modules::ModuleStore;
use std::net::SocketAddr;
use std::sync::Arc;

pub const HARNESS_HTML: &str = include_str!("../../drivers/harness.html");

/// The page path for a case's `host.cross_origin_isolated`.
pub fn page_path(isolated: bool) -> &'static str {
    if isolated { "/isolated/harness.html" } else { "/plain/harness.html" }
}

fn respond(body: &'static str, content_type: &'static str, isolated: bool) -> Response {
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if isolated {
        h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
        h.insert("cross-origin-embedder-policy", HeaderValue::from_static("require-corp"));
    }
    r
}

/// Refuses what the harness never sends: a body, an absolute-form target.
async fn guard(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let has_body = req.headers().get(header::CONTENT_LENGTH).is_some_and(|v| v != "0") || req.headers().contains_key(header::TRANSFER_ENCODING);
    if has_body {
        return (StatusCode::PAYLOAD_TOO_LARGE, "this server takes no request bodies\n").into_response();
    }
    if req.uri().authority().is_some() {
        return (StatusCode::BAD_REQUEST, "absolute-form request targets are not served\n").into_response();
    }
    next.run(req).await
}

/// A module the run wrote, by its hash; 404 for any other name.
async fn module(store: Arc<ModuleStore>, sha256: String) -> Response {
    let Some(path) = store.path(&sha256) else {
        return (StatusCode::NOT_FOUND, "not found: no such module in this run\n").into_response();
    };
    match tokio::task::spawn_blocking(move || std::fs::read(path)).await.unwrap_or_else(|e| Err(std::io::Error::other(e))) {
        Ok(bytes) => {
            let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/wasm"))], bytes).into_response();
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
            r
        }
        Err(_) => (StatusCode::NOT_FOUND, "not found: the module's file is gone\n").into_response(),
    }
}

pub fn router(store: Arc<ModuleStore>) -> Router {
    const HTML: &str = "text/html; charset=utf-8";
    const JS: &str = "text/javascript; charset=utf-8";
    let js = crate::engine::js::HARNESS_JS;
    Router::new()
        .route("/isolated/harness.html", get(|| async { respond(HARNESS_HTML, HTML, true) }))
        .route("/isolated/harness.js", get(move || async move { respond(js, JS, true) }))
        .route("/plain/harness.html", get(|| async { respond(HARNESS_HTML, HTML, false) }))
        .route("/plain/harness.js", get(move || async move { respond(js, JS, false) }))
        .route("/module/{sha256}", get(move |axum::extract::Path(sha256): axum::extract::Path<String>| module(store.clone(), sha256)))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found: this server serves only the wasm-matrix harness\n") })
        .layer(axum::middleware::from_fn(guard))
}

/// A running server; dropped, it stops.
pub struct HarnessServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl HarnessServer {
    /// Starts serving on `bind` (port 0: a free port).
    pub async fn start(bind: SocketAddr, store: Arc<ModuleStore>) -> std::io::Result<HarnessServer> {
        let listener = tokio::net::TcpListener::bind(bind).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router(store)).await;
        });
        Ok(HarnessServer { addr, task })
    }

    pub fn url(&self, isolated: bool) -> String {
        format!("http://{}{}", self.addr, page_path(isolated))
    }
}

impl Drop for HarnessServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
