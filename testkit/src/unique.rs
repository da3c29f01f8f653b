//! Ports and names unique to this process, so that servers of parallel tests
//! never collide.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A free loopback port, never the same twice in this process.
///
/// Binding port 0 lets the kernel choose a free port; the listener is closed
/// again so the server can bind it, which leaves a short window in which
/// another process may take it. Callers retry with fresh ports when a server
/// reports "address already in use". Remembering every port handed out keeps
/// parallel tests in one binary from ever racing each other for one.
pub(crate) fn free_port() -> u16 {
    static USED: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("binding 127.0.0.1:0 to find a free port")
            .port();
        let mut used = USED.lock().unwrap_or_else(|e| e.into_inner());
        if used.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
}

/// A name unique to this process and call, so that servers of parallel tests
/// (or of test binaries running side by side) never join each other's
/// cluster and are never mistaken for each other.
pub(crate) fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
