//! The harness server: loopback only, four files, nothing else.

use std::io::{Read, Write};
use std::net::TcpStream;
use wasm_matrix::engine::server::HarnessServer;
use wasm_matrix::runner::RunOptions;

fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, response)
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_only_the_harness_files_on_loopback() {
    assert!(RunOptions::new("x".into()).serve_addr.ip().is_loopback(), "the default address is loopback");
    let server = HarnessServer::start(([127, 0, 0, 1], 0).into()).await.unwrap();
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
    });
    checks.await.unwrap();
}
