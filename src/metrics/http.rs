//! The endpoint's HTTP/1.1: one request per connection, answered and closed. Hand-written
//! because it is three routes and a status line (hyper is not a dependency). A client can hold
//! neither memory nor the endpoint: a request head is read up to [`MAX_HEAD`] bytes within
//! [`CONN_TIME`], and at most [`MAX_CONNECTIONS`] are served at once (more are closed at once).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::figures::Figures;

/// The longest request head read; a longer one is answered 431 and closed.
pub const MAX_HEAD: usize = 8 * 1024;
/// Time a connection has to send its request and take the answer.
pub const CONN_TIME: Duration = Duration::from_secs(5);
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 32;

/// The `Content-Type` of the exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Accepts connections until the runtime stops.
pub async fn serve(listener: TcpListener, figures: Figures) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // out of file descriptors and the like: wait rather than spin
                tracing::warn!("metrics endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::debug!("metrics endpoint: {MAX_CONNECTIONS} connections open, one refused");
            continue;
        };
        let figures = figures.clone();
        tokio::spawn(async move {
            let _slot = slot;
            if tokio::time::timeout(CONN_TIME, answer(stream, &figures))
                .await
                .is_err()
            {
                tracing::debug!("metrics endpoint: a client took too long, closed");
            }
        });
    }
}

async fn answer(mut stream: TcpStream, figures: &Figures) {
    let response = match read_head(&mut stream).await {
        Ok(Some(head)) => route(&head, figures),
        Ok(None) => return,
        Err(TooLarge) => Response::text(
            431,
            "Request Header Fields Too Large",
            "request too large\n",
        ),
    };
    let _ = stream.write_all(&response.bytes()).await;
    let _ = stream.shutdown().await;
}

#[derive(Debug)]
struct TooLarge;

/// The request head (up to the blank line), or None when the client left before sending one.
async fn read_head(stream: &mut TcpStream) -> Result<Option<Vec<u8>>, TooLarge> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return Ok(None),
            Ok(n) => n,
        };
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = find_end(&head[from..]) {
            head.truncate(from + end);
            return Ok(Some(head));
        }
        if head.len() >= MAX_HEAD {
            return Err(TooLarge);
        }
    }
}

/// Where the head ends (`\r\n\r\n`, or `\n\n` from a lenient client).
fn find_end(b: &[u8]) -> Option<usize> {
    (0..b.len()).find_map(|i| {
        if b[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if b[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

/// An answer, always closing the connection.
#[derive(Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub reason: &'static str,
    pub content_type: &'static str,
    pub body: String,
    pub allow: bool,
    /// HEAD: the headers of GET's answer without its body.
    pub head_only: bool,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: &str) -> Response {
        Response {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            body: body.to_string(),
            allow: false,
            head_only: false,
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        if self.allow {
            out.push_str("Allow: GET, HEAD\r\n");
        }
        out.push_str("\r\n");
        if !self.head_only {
            out.push_str(&self.body);
        }
        out.into_bytes()
    }
}

/// The answer to a request head.
pub fn route(head: &[u8], figures: &Figures) -> Response {
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.trim_end().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Response::text(400, "Bad Request", "bad request line\n");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::text(400, "Bad Request", "HTTP/1.x only\n");
    }
    let path = target.split('?').next().unwrap_or_default();
    if path != "/metrics" && path != "/healthz" {
        return Response::text(404, "Not Found", "not found: try /metrics or /healthz\n");
    }
    if method != "GET" && method != "HEAD" {
        return Response {
            allow: true,
            ..Response::text(405, "Method Not Allowed", "only GET and HEAD\n")
        };
    }
    let mut r = if path == "/metrics" {
        Response {
            content_type: CONTENT_TYPE,
            ..Response::text(200, "OK", &figures.render(crate::domain::now_ms()))
        }
    } else {
        match (figures.readiness)() {
            None => Response::text(200, "OK", "ok\n"),
            Some(why) => Response::text(
                503,
                "Service Unavailable",
                &format!("{}\n", crate::format::visible(&why)),
            ),
        }
    };
    r.head_only = method == "HEAD";
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{HealthBoard, PipelineStats};

    fn figures(ready: Option<&'static str>) -> Figures {
        Figures {
            stats: Arc::new(PipelineStats::default()),
            health: HealthBoard::default(),
            stale_after: Duration::from_secs(10),
            readiness: Arc::new(move || ready.map(str::to_string)),
        }
    }

    #[test]
    fn routes_paths_and_methods() {
        let f = figures(None);
        let get = |h: &str| route(h.as_bytes(), &f);
        let m = get("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!((m.status, m.content_type), (200, CONTENT_TYPE));
        assert!(m.body.contains("# TYPE tickwatch_events_in_total counter"));
        assert_eq!(get("GET /metrics?x=1 HTTP/1.0\r\n\r\n").status, 200);
        assert_eq!(get("GET /healthz HTTP/1.1\r\n\r\n").body, "ok\n");
        assert_eq!(get("GET / HTTP/1.1\r\n\r\n").status, 404);
        assert_eq!(get("GET /metricsx HTTP/1.1\r\n\r\n").status, 404);
        let post = get("POST /metrics HTTP/1.1\r\n\r\n");
        assert_eq!(post.status, 405);
        assert!(String::from_utf8_lossy(&post.bytes()).contains("Allow: GET, HEAD\r\n"));
        assert_eq!(get("GARBAGE\r\n\r\n").status, 400);
        assert_eq!(get("GET /metrics SPDY/3\r\n\r\n").status, 400);
        let head = get("HEAD /metrics HTTP/1.1\r\n\r\n");
        let bytes = String::from_utf8_lossy(&head.bytes()).to_string();
        assert!(bytes.ends_with("\r\n\r\n"), "{bytes}");
        assert!(bytes.contains(&format!("Content-Length: {}", head.body.len())));
    }

    #[test]
    fn healthz_says_why_it_is_unhealthy() {
        let f = figures(Some("the database cannot be written: disk full\x1b[2J"));
        let r = route(b"GET /healthz HTTP/1.1\r\n\r\n", &f);
        assert_eq!(r.status, 503);
        assert!(r.body.contains("disk full"));
        assert!(!r.body.contains('\x1b'), "{:?}", r.body);
    }

    #[test]
    fn the_head_ends_at_the_blank_line() {
        assert_eq!(find_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"), Some(24));
        assert_eq!(find_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(find_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }
}
