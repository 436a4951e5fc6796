//! What the neo4rs tests share: ports, waiting for a listener, a clean stop,
//! and a connection with the tests' credentials.

use std::path::Path;
use std::process::{Child, Command, Stdio};
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

/// Starts `causeway serve` on `data_dir` with Bolt on `bolt`, HTTP on a free
/// port and the tests' password, plus `extra` arguments; returns once Bolt
/// accepts connections.
pub fn spawn_server(data_dir: &Path, bolt: &str, extra: &[&str]) -> Child {
    let child = Command::new(env!("CARGO_BIN_EXE_causeway"))
        .arg("serve")
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--bolt-listen", bolt])
        .args(["--http-listen", &format!("127.0.0.1:{}", free_port())])
        .args([
            "--auth",
            &format!("neo4j/{PASSWORD}"),
            "--log-level",
            "warn",
        ])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    wait_listening(bolt, "server");
    child
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

// Not every test binary that includes this module connects this way.
#[allow(dead_code)]
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
