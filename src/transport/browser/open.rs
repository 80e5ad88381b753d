//! Every WebDriver session a run has open, by its endpoint and id: a
//! session is entered when it opens and left when its DELETE is sent.
//! However a run ends — Ctrl-C, SIGTERM, a panicked worker whose connection
//! was dropped without closing — [`OpenSessions::close_all`] sends each one left its
//! DELETE on a connection of its own (not the session's, which may be busy
//! with a script that will never return), all at once, with a bounded wait.
//! On a Selenium Grid or a cloud provider a session not deleted holds a
//! slot until the Grid's own timeout (300 s by default).

use http_body_util::Empty;
use hyper::body::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The sessions one run has open (each run its own list: a process may
/// hold several runs at once, as `cargo test` does).
#[derive(Default)]
pub struct OpenSessions {
    open: Mutex<HashMap<u64, (String, String)>>,
    next: AtomicU64,
    /// Set by [`OpenSessions::close_all`]: a session that opens after it is
    /// refused (and deleted at once).
    closing: AtomicBool,
}

/// A session entered in its run's list; [`Entry::leave`] when its DELETE
/// has gone.
pub(super) struct Entry {
    list: Arc<OpenSessions>,
    key: u64,
}

impl OpenSessions {
    /// Enters the session `id` at the driver or Grid `url`; `None` when the
    /// run is closing its sessions (the caller closes this one).
    pub(super) fn enter(self: &Arc<Self>, url: &str, id: String) -> Option<Entry> {
        if self.closing.load(Ordering::SeqCst) {
            return None;
        }
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        self.open.lock().unwrap_or_else(|e| e.into_inner()).insert(key, (url.trim_end_matches('/').to_string(), id));
        Some(Entry { list: self.clone(), key })
    }

    /// How many sessions are open now.
    pub fn count(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Sends every open session its DELETE, all at once, each on a fresh
    /// connection, waiting at most `limit` for the answers; a session that
    /// opens after this is refused. Returns the sessions that did not answer
    /// in time or answered with an error, as `url/session/id: why`.
    pub async fn close_all(&self, limit: Duration) -> Vec<String> {
        self.closing.store(true, Ordering::SeqCst);
        let open: Vec<(String, String)> = std::mem::take(&mut *self.open.lock().unwrap_or_else(|e| e.into_inner())).into_values().collect();
        if open.is_empty() {
            return Vec::new();
        }
        let connector = match connector() {
            Ok(c) => c,
            Err(e) => return open.iter().map(|(u, i)| format!("{u}/session/{i}: {e:#}")).collect(),
        };
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build::<_, Empty<Bytes>>(connector);
        let deletes: Vec<_> = open.into_iter().map(|(url, id)| {
            let client = client.clone();
            tokio::spawn(async move {
                let at = format!("{url}/session/{id}");
                let req = match hyper::Request::delete(&at).body(Empty::new()) {
                    Ok(r) => r,
                    Err(e) => return Some(format!("{at}: {e}")),
                };
                match tokio::time::timeout(limit, client.request(req)).await {
                    Ok(Ok(resp)) if resp.status().is_success() || resp.status() == hyper::StatusCode::NOT_FOUND => None,
                    Ok(Ok(resp)) => Some(format!("{at}: {}", resp.status())),
                    Ok(Err(e)) => Some(format!("{at}: {e}")),
                    Err(_) => Some(format!("{at}: no answer in {} s", limit.as_secs())),
                }
            })
        }).collect();
        let mut failed = Vec::new();
        for h in deletes {
            if let Ok(Some(why)) = h.await {
                failed.push(why);
            }
        }
        failed
    }
}

impl Entry {
    pub(super) fn leave(&self) {
        self.list.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.key);
    }
}

/// The connector every WebDriver request goes through, a session's and its
/// last DELETE's: http, or https for a remote Grid (rustls with the
/// system's roots).
pub(super) fn connector() -> anyhow::Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>> {
    use anyhow::Context;
    Ok(hyper_rustls::HttpsConnectorBuilder::new().with_native_roots().context("no TLS root certificates for the WebDriver connection")?.https_or_http().enable_http1().build())
}
