//! A WebSocket server driven step by step by the test: each accepted connection is handed over
//! as a [`ServerConn`] that can send frames, pings, close frames or garbage, drop the TCP
//! connection, or go quiet.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

pub struct WsServer {
    pub url: String,
    conns: mpsc::UnboundedReceiver<ServerConn>,
}

pub struct ServerConn {
    pub path: String,
    ws: WebSocketStream<TcpStream>,
}

impl WsServer {
    pub async fn start() -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let (tx, conns) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (ptx, prx) = std::sync::mpsc::channel::<String>();
                    let cb =
                        move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                              resp| {
                            let _ = ptx.send(req.uri().to_string());
                            Ok(resp)
                        };
                    if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, cb).await {
                        let path = prx.try_recv().unwrap_or_default();
                        let _ = tx.send(ServerConn { path, ws });
                    }
                });
            }
        });
        WsServer { url, conns }
    }

    /// The next client connection (panics after 10 s without one).
    pub async fn accept(&mut self) -> ServerConn {
        tokio::time::timeout(Duration::from_secs(10), self.conns.recv())
            .await
            .expect("no client connected within 10 s")
            .expect("server stopped")
    }
}

impl ServerConn {
    pub async fn send(&mut self, text: impl Into<String>) {
        self.ws.send(Message::text(text.into())).await.unwrap();
    }

    pub async fn send_all(&mut self, frames: impl IntoIterator<Item = String>) {
        for f in frames {
            self.ws.feed(Message::text(f)).await.unwrap();
        }
        self.ws.flush().await.unwrap();
    }

    /// Sends `frames` and then ends the connection in the same write, so that the client reads
    /// the burst and the end together: with a close frame of `code`, or (None) by cutting TCP.
    pub async fn burst_then_end(
        mut self,
        frames: impl IntoIterator<Item = String>,
        code: Option<u16>,
    ) {
        for f in frames {
            self.ws.feed(Message::text(f)).await.unwrap();
        }
        if let Some(code) = code {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: "".into(),
            };
            let _ = self.ws.feed(Message::Close(Some(frame))).await;
        }
        let _ = self.ws.flush().await;
        drop(self);
    }

    /// The next text message from the client (pongs and pings are skipped), within 10 s.
    pub async fn recv_text(&mut self) -> String {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("client sent nothing within 10 s")
                .expect("client went away")
                .unwrap();
            if let Message::Text(t) = msg {
                return t.to_string();
            }
        }
    }

    /// Reads the client's SUBSCRIBE requests until `n` streams are subscribed, acking each;
    /// returns the streams.
    pub async fn expect_subscribe(&mut self, n: usize) -> Vec<String> {
        let mut streams = Vec::new();
        while streams.len() < n {
            let text = self.recv_text().await;
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["method"], "SUBSCRIBE", "{text}");
            for s in v["params"].as_array().unwrap() {
                streams.push(s.as_str().unwrap().to_string());
            }
            self.send(format!(r#"{{"result":null,"id":{}}}"#, v["id"]))
                .await;
        }
        streams
    }

    /// Sends a Ping and waits for the matching Pong (other messages are discarded).
    pub async fn ping_and_expect_pong(&mut self, payload: &[u8]) {
        self.ws
            .send(Message::Ping(payload.to_vec().into()))
            .await
            .unwrap();
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("no pong within 10 s")
                .expect("client went away")
                .unwrap();
            if let Message::Pong(p) = msg {
                assert_eq!(&p[..], payload);
                return;
            }
        }
    }

    pub async fn close(mut self, code: u16) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: "".into(),
        };
        let _ = self.ws.send(Message::Close(Some(frame))).await;
        // give the client a moment to see it before the socket goes
        let _ = tokio::time::timeout(Duration::from_millis(500), self.ws.next()).await;
    }

    /// Sends a close frame of `code` with `reason` (a venue's own words, whatever they hold).
    pub async fn close_with(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_string().into(),
        };
        let _ = self.ws.send(Message::Close(Some(frame))).await;
        let _ = tokio::time::timeout(Duration::from_millis(500), self.ws.next()).await;
    }

    /// Drops the TCP connection without a close frame (a cut cable, a dead load balancer).
    pub fn drop_tcp(self) {
        drop(self);
    }

    /// Keeps the connection open without sending anything (answering nothing either) until the
    /// client goes away or `max` passes; returns whether the client closed it.
    pub async fn go_quiet(self, max: Duration) -> bool {
        let mut ws = self.ws;
        // Reading would answer pings; a quiet server does not even do that, so just wait for EOF
        // by peeking at the socket state through a read with a timeout.
        tokio::time::timeout(max, async {
            loop {
                match ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await
        .is_ok()
    }
}
