//! A minimal plain SMTP server on 127.0.0.1:0: EHLO/HELO, AUTH PLAIN, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT. Every accepted mail is recorded; faults are injected per server.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One mail as the server received it.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub helo: String,
    /// "user:password" from AUTH PLAIN, if the client logged in.
    pub auth: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    /// The message (headers and body) with CRLF line ends, dot-stuffing removed.
    pub data: String,
}

impl Mail {
    /// The value of the first header `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut out: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = out.as_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if out.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case(name)
            {
                out = Some(v.trim().to_string());
            }
        }
        out
    }

    /// The body after the headers.
    pub fn body(&self) -> String {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default()
    }
}

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Accept,
    /// 550 to every RCPT (a permanent failure).
    RejectRecipients,
    /// 451 after DATA's end (a transient failure).
    TempFailData,
    /// Accept the connection and never say anything.
    Silent,
}

pub struct SmtpServer {
    pub addr: SocketAddr,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    /// Connections accepted.
    pub connections: Arc<Mutex<u32>>,
}

impl SmtpServer {
    pub async fn start(behaviour: Behaviour) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let connections: Arc<Mutex<u32>> = Arc::default();
        let (m, c) = (mails.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                *c.lock().unwrap() += 1;
                let mails = m.clone();
                tokio::spawn(async move {
                    let _ = session(tcp, behaviour, mails).await;
                });
            }
        });
        SmtpServer {
            addr,
            mails,
            connections,
        }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }
}

fn decode_plain(b64: &str) -> Option<String> {
    // a tiny base64 decoder: the tests carry no base64 crate
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for ch in b64.trim().bytes().filter(|&b| b != b'=') {
        let v = ALPHABET.iter().position(|&a| a == ch)? as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    // \0user\0password
    let parts: Vec<&[u8]> = out.split(|&b| b == 0).collect();
    if parts.len() != 3 {
        return None;
    }
    Some(format!(
        "{}:{}",
        String::from_utf8_lossy(parts[1]),
        String::from_utf8_lossy(parts[2])
    ))
}

async fn session(
    tcp: tokio::net::TcpStream,
    behaviour: Behaviour,
    mails: Arc<Mutex<Vec<Mail>>>,
) -> std::io::Result<()> {
    let (read, mut write) = tcp.into_split();
    if behaviour == Behaviour::Silent {
        // hold the connection open, say nothing
        let mut lines = BufReader::new(read).lines();
        while lines.next_line().await?.is_some() {}
        return Ok(());
    }
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 localhost test SMTP\r\n").await?;
    let mut mail = Mail::default();
    let mut helo = String::new();
    let mut auth = None;
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            helo = line[4..].trim().to_string();
            "250-localhost\r\n250 AUTH PLAIN\r\n".into()
        } else if let Some(rest) = upper.strip_prefix("AUTH PLAIN") {
            let arg = line[line.len() - rest.len()..].trim().to_string();
            auth = decode_plain(&arg);
            "235 2.7.0 accepted\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            mail = Mail {
                helo: helo.clone(),
                auth: auth.clone(),
                from: line[10..].trim().to_string(),
                ..Mail::default()
            };
            "250 OK\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            if behaviour == Behaviour::RejectRecipients {
                "550 5.1.1 no such user here\r\n".into()
            } else {
                mail.to.push(line[8..].trim().to_string());
                "250 OK\r\n".into()
            }
        } else if upper == "DATA" {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            while let Some(l) = lines.next_line().await? {
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push_str("\r\n");
            }
            mail.data = data;
            if behaviour == Behaviour::TempFailData {
                "451 4.3.0 try again later\r\n".into()
            } else {
                mails.lock().unwrap().push(std::mem::take(&mut mail));
                "250 OK queued\r\n".into()
            }
        } else if upper == "RSET" || upper == "NOOP" {
            "250 OK\r\n".into()
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            "502 command not implemented\r\n".into()
        };
        write.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}
