//! `tickwatch healthcheck`: asks a running tickwatch's `/healthz` whether it is healthy. For a
//! container's HEALTHCHECK, where the slim image has no curl. Plain blocking std I/O with
//! timeouts: it runs alone, once, and must end within the check's own timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The most of an answer read: a status line and a one-line reason.
const MAX_ANSWER: u64 = 16 * 1024;

/// Why the check failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{0:?}: give HOST:PORT, e.g. 127.0.0.1:9464")]
    BadAddress(String),
    #[error("no answer from {addr}: {source} (is tickwatch running with --metrics {addr}?)")]
    Unreachable {
        addr: String,
        source: std::io::Error,
    },
    #[error("{addr} answered something that is not HTTP: {line:?}")]
    NotHttp { addr: String, line: String },
    #[error("unhealthy ({status}): {reason}")]
    Unhealthy { status: u16, reason: String },
}

/// GET /healthz on `addr`: Ok when it answers 200.
pub fn probe(addr: &str, timeout: Duration) -> Result<(), ProbeError> {
    let targets: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|_| ProbeError::BadAddress(addr.to_string()))?
        .collect();
    let unreachable = |source| ProbeError::Unreachable {
        addr: addr.to_string(),
        source,
    };
    let mut last = std::io::Error::from(std::io::ErrorKind::AddrNotAvailable);
    let mut stream = None;
    for t in &targets {
        match TcpStream::connect_timeout(t, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or_else(|| unreachable(last))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(unreachable)?;
    stream
        .write_all(
            format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .map_err(unreachable)?;
    let mut raw = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut raw)
        .map_err(unreachable)?;
    let text = String::from_utf8_lossy(&raw);
    let status_line = text.lines().next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|r| r.split(' ').nth(1))
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| ProbeError::NotHttp {
            addr: addr.to_string(),
            line: crate::format::visible(status_line),
        })?;
    if status == 200 {
        return Ok(());
    }
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Err(ProbeError::Unhealthy {
        status,
        reason: crate::format::visible(body.trim()),
    })
}
