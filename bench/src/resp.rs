//! A minimal RESP2 client, enough to drive FalkorDB the way its own clients
//! do: one command at a time as an array of bulk strings, the reply read
//! in full before the next command goes out.

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A reply as RESP2 types it. Null bulk strings and null arrays are `Nil`.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
    Nil,
}

impl Reply {
    /// The first error anywhere in the reply: FalkorDB reports some
    /// run-time errors as an element of the result array rather than as the
    /// reply itself.
    pub fn error(&self) -> Option<&str> {
        match self {
            Reply::Error(e) => Some(e),
            Reply::Array(items) => items.iter().find_map(Reply::error),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<String> {
        match self {
            Reply::Simple(s) => Some(s.clone()),
            Reply::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

pub struct RespClient {
    stream: TcpStream,
    input: Vec<u8>,
    out: Vec<u8>,
}

impl RespClient {
    pub async fn connect(addr: &str) -> anyhow::Result<RespClient> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(RespClient {
            stream,
            input: Vec::new(),
            out: Vec::new(),
        })
    }

    /// Sends one command and waits for its whole reply; an error reply (or
    /// an error inside an array) is returned as an `Err`.
    pub async fn command(&mut self, args: &[&str]) -> anyhow::Result<Reply> {
        self.out.clear();
        self.out
            .extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            self.out
                .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a.as_bytes());
            self.out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&self.out).await?;
        let reply = self.reply().await?;
        if let Some(e) = reply.error() {
            bail!("{e}");
        }
        Ok(reply)
    }

    async fn reply(&mut self) -> anyhow::Result<Reply> {
        loop {
            if let Some((reply, used)) = parse(&self.input)? {
                self.input.drain(..used);
                return Ok(reply);
            }
            let mut buf = [0u8; 16 * 1024];
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                bail!("server closed the connection");
            }
            self.input.extend_from_slice(&buf[..n]);
        }
    }

    /// A Cypher query through `GRAPH.QUERY` (or `GRAPH.RO_QUERY` with
    /// `read_only`), in the compact form FalkorDB's clients ask for. Returns
    /// the number of result rows (0 for a query without a result set).
    pub async fn graph_query(
        &mut self,
        graph: &str,
        query: &str,
        read_only: bool,
    ) -> anyhow::Result<usize> {
        let cmd = if read_only {
            "GRAPH.RO_QUERY"
        } else {
            "GRAPH.QUERY"
        };
        match self.command(&[cmd, graph, query, "--compact"]).await? {
            // [header, rows, statistics] with a result set, [statistics]
            // without one.
            Reply::Array(parts) if parts.len() == 3 => match &parts[1] {
                Reply::Array(rows) => Ok(rows.len()),
                other => bail!("unexpected rows {other:?}"),
            },
            Reply::Array(parts) if parts.len() == 1 => Ok(0),
            other => bail!("unexpected reply {other:?}"),
        }
    }
}

/// One complete reply at the start of `buf` and the bytes it took, or
/// `None` if more input is needed.
fn parse(buf: &[u8]) -> anyhow::Result<Option<(Reply, usize)>> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let Some((&kind, rest)) = buf[..end].split_first() else {
        bail!("empty RESP line");
    };
    let line = std::str::from_utf8(rest).context("RESP line is not UTF-8")?;
    let after = end + 2;
    let number = || -> anyhow::Result<i64> {
        line.parse()
            .with_context(|| format!("bad RESP length {line:?}"))
    };
    Ok(match kind {
        b'+' => Some((Reply::Simple(line.to_owned()), after)),
        b'-' => Some((Reply::Error(line.to_owned()), after)),
        b':' => Some((Reply::Int(number()?), after)),
        b'$' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            let stop = after + n as usize;
            if buf.len() < stop + 2 {
                return Ok(None);
            }
            Some((Reply::Bulk(buf[after..stop].to_vec()), stop + 2))
        }
        b'*' => {
            let n = number()?;
            if n < 0 {
                return Ok(Some((Reply::Nil, after)));
            }
            let mut items = Vec::with_capacity(n as usize);
            let mut at = after;
            for _ in 0..n {
                match parse(&buf[at..])? {
                    Some((item, used)) => {
                        items.push(item);
                        at += used;
                    }
                    None => return Ok(None),
                }
            }
            Some((Reply::Array(items), at))
        }
        other => bail!("unknown RESP type byte 0x{other:02x}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_replies_and_waits_for_more() {
        let whole = b"*3\r\n*1\r\n$1\r\na\r\n*1\r\n*1\r\n:5\r\n*1\r\n+ok\r\n";
        for cut in 0..whole.len() {
            assert_eq!(parse(&whole[..cut]).unwrap(), None, "cut at {cut}");
        }
        let (reply, used) = parse(whole).unwrap().unwrap();
        assert_eq!(used, whole.len());
        assert_eq!(
            reply,
            Reply::Array(vec![
                Reply::Array(vec![Reply::Bulk(b"a".to_vec())]),
                Reply::Array(vec![Reply::Array(vec![Reply::Int(5)])]),
                Reply::Array(vec![Reply::Simple("ok".into())]),
            ])
        );
    }

    #[test]
    fn finds_errors_inside_arrays_and_nulls() {
        let (reply, _) = parse(b"*2\r\n$-1\r\n-ERR boom\r\n").unwrap().unwrap();
        assert_eq!(reply.error(), Some("ERR boom"));
        assert_eq!(parse(b"*-1\r\n").unwrap().unwrap().0, Reply::Nil);
    }
}
