//! What the neo4rs tests share: ports, waiting for a listener, a clean stop,
//! and a connection with the tests' credentials.

use std::process::Child;
use std::time::{Duration, Instant};

use neo4rs::{ConfigBuilder, Graph};

pub const PASSWORD: &str = "rust-test-pw";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until `addr` accepts connections (a started server is ready).
pub fn wait_listening(addr: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM, then wait: a server must stop cleanly on its own.
pub fn stop(child: &mut Child, what: &str) {
    // SAFETY: kill() with a pid we spawned and have not reaped.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert!(
        status.success() || std::thread::panicking(),
        "{what} exit status {status}"
    );
}

pub async fn connect(bolt: &str, fetch_size: usize) -> Graph {
    let config = ConfigBuilder::new()
        .uri(bolt)
        .user("neo4j")
        .password(PASSWORD)
        .fetch_size(fetch_size)
        .build()
        .unwrap();
    Graph::connect(config).await.unwrap()
}
