//! A minimal HTTP/1.1 client: one member passes a request for an open HTTP
//! transaction on to the member that holds it, and relays the answer.

use std::io;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Connecting to the other member.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The whole exchange: a commit may wait for the leader, at most for a
/// transaction timeout.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(120);
/// The largest answer relayed.
pub const MAX_RESPONSE_BYTES: usize = 256 << 20;
/// Request headers that carry meaning to the endpoint.
const FORWARDED: [HeaderName; 5] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT,
    HeaderName::from_static("access-mode"),
    HeaderName::from_static("bookmarks"),
];

pub async fn request(
    net: &dyn causeway_net::Network,
    addr: &str,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> io::Result<Response> {
    let mut sock = tokio::time::timeout(CONNECT_TIMEOUT, net.connect(addr))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect"))??;
    let exchange = async {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for name in &FORWARDED {
            if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
                head.push_str(&format!("{name}: {v}\r\n"));
            }
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        sock.write_all(head.as_bytes()).await?;
        sock.write_all(body).await?;
        let mut raw = Vec::new();
        let mut buf = [0u8; 64 * 1024];
        loop {
            let n = sock.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
            if raw.len() > MAX_RESPONSE_BYTES {
                return Err(io::Error::other("the answer is too large to relay"));
            }
        }
        Ok::<_, io::Error>(raw)
    };
    let raw = tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))??;
    parse(&raw)
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

fn parse(raw: &[u8]) -> io::Result<Response> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("incomplete answer"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad("answer head is not text"))?;
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut out = HeaderMap::new();
    let mut chunked = false;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        if k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked") {
            chunked = true;
        }
        if k == "content-type" || k == "location" {
            if let (Ok(name), Ok(value)) = (HeaderName::try_from(k), HeaderValue::from_str(v)) {
                out.insert(name, value);
            }
        }
    }
    if chunked {
        body = dechunk(&body)?;
    }
    let status = StatusCode::from_u16(status).map_err(|_| bad("bad status"))?;
    Ok((status, out, body).into_response())
}

fn dechunk(mut data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or_else(|| bad("bad chunk"))?;
        let size_text = std::str::from_utf8(&data[..end]).map_err(|_| bad("bad chunk size"))?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad("bad chunk size"))?;
        data = &data[end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err(bad("truncated chunk"));
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}
