//! A minimal HTTP/1.1 server: one request per connection (`Connection: close`), a handler that
//! maps a request to a response (status, headers, body, optional delay), and a log of every
//! request with the instant it arrived.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub at: Instant,
}

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering (a slow server).
    pub delay: Duration,
}

impl Response {
    pub fn json(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: impl ToString) -> Response {
        self.headers.push((name.into(), value.to_string()));
        self
    }

    pub fn delayed(mut self, d: Duration) -> Response {
        self.delay = d;
        self
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

pub struct HttpServer {
    pub url: String,
    pub log: Arc<Mutex<Vec<Request>>>,
}

impl HttpServer {
    pub async fn start(handler: Handler) -> HttpServer {
        let log: Arc<Mutex<Vec<Request>>> = Arc::default();
        let log2 = log.clone();
        let url = serve(Arc::new(move |p: Posted| {
            let (path, q) = p.path.split_once('?').unwrap_or((&p.path, ""));
            let query = q
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (k.to_string(), v.to_string())
                })
                .collect();
            let req = Request {
                method: p.method,
                path: path.to_string(),
                query,
                at: p.at,
            };
            log2.lock().unwrap().push(req.clone());
            handler(&req)
        }))
        .await;
        HttpServer { url, log }
    }

    pub fn requests(&self, path: &str) -> Vec<Request> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

/// A request with its headers and body, as [`RecordingServer`] keeps it.
#[derive(Debug, Clone)]
pub struct Posted {
    pub method: String,
    pub path: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub at: Instant,
}

impl Posted {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub type PostHandler = Arc<dyn Fn(&Posted, usize) -> Response + Send + Sync>;

/// Like [`HttpServer`], but reads each request's headers and `Content-Length` body and keeps
/// them. The handler also gets how many requests came before this one (0 for the first), so a
/// test can fail the first attempts and accept the next.
pub struct RecordingServer {
    pub url: String,
    pub log: Arc<Mutex<Vec<Posted>>>,
}

impl RecordingServer {
    pub async fn start(handler: PostHandler) -> RecordingServer {
        let log: Arc<Mutex<Vec<Posted>>> = Arc::default();
        let log2 = log.clone();
        let url = serve(Arc::new(move |p: Posted| {
            let seen = {
                let mut l = log2.lock().unwrap();
                l.push(p.clone());
                l.len() - 1
            };
            handler(&p, seen)
        }))
        .await;
        RecordingServer { url, log }
    }

    pub fn posts(&self) -> Vec<Posted> {
        self.log.lock().unwrap().clone()
    }
}

/// Listens on 127.0.0.1:0 and answers each connection's one request (read whole: head and
/// `Content-Length` body) with `answer`, honouring the response's delay. Returns the base URL.
async fn serve(answer: Arc<dyn Fn(Posted) -> Response + Send + Sync>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let Some(req) = read_request(&mut tcp).await else {
                    return;
                };
                let resp = answer(req);
                if !resp.delay.is_zero() {
                    tokio::time::sleep(resp.delay).await;
                }
                let mut out = format!(
                    "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
                    resp.status,
                    resp.body.len()
                );
                for (k, v) in &resp.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(&resp.body);
                let _ = tcp.write_all(out.as_bytes()).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    url
}

/// One request: the head up to the blank line, then `Content-Length` bytes of body.
async fn read_request(tcp: &mut tokio::net::TcpStream) -> Option<Posted> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let at = Instant::now();
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first = lines.next().unwrap_or_default().to_string();
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let end = buf.len().min(head_end + len);
    Some(Posted {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&buf[head_end..end]).to_string(),
        at,
    })
}

/// How a [`FaultServer`] answers every request.
#[derive(Debug, Clone, Copy)]
pub enum HttpFault {
    /// Reads the request, then never answers; the connection stays open.
    Silent,
    /// Sends a 200 head announcing 1000 bytes of body, then nothing more.
    StallBody,
    /// `status` with `Content-Length: announced` (None: the body ends when the connection
    /// closes), then spaces as fast as the client takes them, `send` bytes at most (a bound so
    /// that a client that reads everything does not take the machine's memory).
    Flood {
        status: u16,
        announced: Option<u64>,
        send: u64,
    },
}

/// A server that misbehaves in one way on every connection, and counts the body bytes it got
/// written into the connection (what the client took, plus the kernel's buffers).
pub struct FaultServer {
    pub url: String,
    sent: Arc<std::sync::atomic::AtomicU64>,
    requests: Arc<std::sync::atomic::AtomicUsize>,
}

impl FaultServer {
    pub async fn start(fault: HttpFault) -> FaultServer {
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let sent: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let requests: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let (sent2, requests2) = (sent.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let (sent, requests) = (sent2.clone(), requests2.clone());
                tokio::spawn(async move {
                    if read_request(&mut tcp).await.is_none() {
                        return;
                    }
                    requests.fetch_add(1, Ordering::Relaxed);
                    match fault {
                        HttpFault::Silent => {
                            // hold the connection open until the client gives up
                            let mut sink = [0u8; 1024];
                            while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
                        }
                        HttpFault::StallBody => {
                            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[";
                            if tcp.write_all(head.as_bytes()).await.is_ok() {
                                let mut sink = [0u8; 1024];
                                while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
                            }
                        }
                        HttpFault::Flood {
                            status,
                            announced,
                            send,
                        } => {
                            let mut head = format!(
                                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nConnection: close\r\n"
                            );
                            if let Some(n) = announced {
                                head.push_str(&format!("Content-Length: {n}\r\n"));
                            }
                            head.push_str("\r\n");
                            if tcp.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            let chunk = vec![b' '; 64 * 1024];
                            let mut left = send;
                            while left > 0 {
                                let n = (chunk.len() as u64).min(left) as usize;
                                if tcp.write_all(&chunk[..n]).await.is_err() {
                                    break;
                                }
                                sent.fetch_add(n as u64, Ordering::Relaxed);
                                left -= n as u64;
                            }
                            let _ = tcp.shutdown().await;
                        }
                    }
                });
            }
        });
        FaultServer {
            url,
            sent,
            requests,
        }
    }

    /// Body bytes written into connections so far.
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Requests read so far.
    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }
}
