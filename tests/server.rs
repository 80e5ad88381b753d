//! The harness server: loopback only, four files, nothing else.

use std::io::{Read, Write};
use std::net::TcpStream;
use wasm_matrix::transport::server::HarnessServer;
use wasm_matrix::runner::RunOptions;

fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    raw(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"))
}

/// Sends `request` as it is; the status and the response (what arrived
/// before the server closed the connection).
fn raw(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    // A server that stops reading makes the write fail: what it answered counts.
    let _ = s.write_all(request.as_bytes());
    let mut response = Vec::new();
    let _ = s.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response).to_string();
    let status = response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, response)
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_only_the_harness_files_on_loopback() {
    assert!(RunOptions::new("x".into()).serve_addr.ip().is_loopback(), "the default address is loopback");
    let store = std::sync::Arc::new(wasm_matrix::transport::modules::ModuleStore::new());
    let big = vec![7u8; wasm_matrix::transport::modules::BY_REFERENCE];
    let module = store.put(&big).unwrap();
    let server = HarnessServer::start(([127, 0, 0, 1], 0).into(), store).await.unwrap();
    let addr = server.addr;
    assert!(addr.ip().is_loopback());
    let checks = tokio::task::spawn_blocking(move || {
        for path in [
            "/../Cargo.toml",
            "/Cargo.toml",
            "/isolated/../Cargo.toml",
            "/isolated/../../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/isolated/%2e%2e/%2e%2e/Cargo.toml",
            "/drivers/harness.js",
            "/isolated/",
            "/isolated/harness.js/../../Cargo.toml",
            "/plain/harness.html/",
            "/",
            "/src/main.rs",
            "/etc/passwd",
            // A module path serves only a module the run wrote, by its hash.
            "/module/../Cargo.toml",
            "/module/0000000000000000000000000000000000000000000000000000000000000000",
            "/module/%2e%2e%2fCargo.toml",
        ] {
            let (status, body) = get(addr, path);
            assert_eq!(status, 404, "{path} must be refused: {body}");
            assert!(!body.contains("[package]"), "{path} leaked a file");
        }
        let (status, isolated) = get(addr, "/isolated/harness.html");
        assert_eq!(status, 200);
        let lower = isolated.to_lowercase();
        assert!(lower.contains("cross-origin-opener-policy: same-origin"), "{isolated}");
        assert!(lower.contains("cross-origin-embedder-policy: require-corp"), "{isolated}");
        assert!(isolated.contains("<script src=\"harness.js\">"));
        let (status, plain) = get(addr, "/plain/harness.html");
        assert_eq!(status, 200);
        assert!(!plain.to_lowercase().contains("cross-origin-"), "{plain}");
        let (status, js) = get(addr, "/plain/harness.js");
        assert_eq!(status, 200);
        assert!(js.contains("runBatch"));
        let (status, wasm) = get(addr, &format!("/module/{}", module.sha256));
        assert_eq!(status, 200, "{wasm}");
        assert!(wasm.to_lowercase().contains("content-type: application/wasm"), "{wasm}");
        assert!(wasm.contains(&format!("content-length: {}", big.len())), "{wasm}");

        // Only GET; no bodies, whatever they claim to be; no absolute form;
        // a huge header is refused, not read to its end.
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let (status, _) = raw(addr, &format!("{method} /plain/harness.js HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
            assert_eq!(status, 405, "{method}");
        }
        let (status, _) = raw(addr, &format!("GET /plain/harness.js HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1000000000\r\nConnection: close\r\n\r\nabc"));
        assert_eq!(status, 413, "a body that never comes is not waited for");
        let (status, _) = raw(addr, &format!("GET /plain/harness.js HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
        assert_eq!(status, 413);
        let (status, _) = raw(addr, &format!("GET http://example.com/plain/harness.js HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"));
        assert_eq!(status, 400, "absolute form");
        let huge = "x".repeat(1 << 20);
        let (status, _) = raw(addr, &format!("GET /plain/harness.js HTTP/1.1\r\nHost: {addr}\r\nX-Big: {huge}\r\nConnection: close\r\n\r\n"));
        assert!(status == 431 || status == 400 || status == 0, "a 1 MiB header gets a 4xx or a closed connection, got {status}");
    });
    checks.await.unwrap();
}
