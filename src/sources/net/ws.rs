//! WebSocket plumbing shared by the streaming venues: connect with a deadline, and short human
//! wording for connection errors and close frames.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::{Backoff, describe_error};
use crate::domain::{TsMs, now_ms};
use crate::pipeline::SourceState;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a WebSocket to `url`, giving up after `limit`; the error is a short human reason.
pub async fn connect_ws(url: &str, limit: Duration) -> Result<Ws, String> {
    match timeout(limit, tokio_tungstenite::connect_async(url)).await {
        Err(_) => Err(format!("connection timed out after {} s", limit.as_secs())),
        Ok(Err(e)) => Err(describe_ws_error(&e)),
        Ok(Ok((ws, _resp))) => Ok(ws),
    }
}

/// A short human reason for a failed WebSocket connect, send or read.
pub fn describe_ws_error(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(resp) => {
            format!("server refused the WebSocket (HTTP {})", resp.status())
        }
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            "server closed the connection".into()
        }
        other => describe_error(other),
    }
}

/// The reason to show for a close frame from the server.
pub fn close_reason(frame: Option<&tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        Some(f) if f.reason.is_empty() => {
            format!("server closed the connection (code {})", u16::from(f.code))
        }
        Some(f) => format!(
            "server closed the connection (code {}: {})",
            u16::from(f.code),
            f.reason
        ),
        None => "server closed the connection".into(),
    }
}

/// The state to show while waiting `delay` before reconnect attempt `backoff.attempt()`.
pub fn reconnecting(backoff: &Backoff, delay: Duration, reason: String) -> SourceState {
    SourceState::Reconnecting {
        at_ms: now_ms() + delay.as_millis() as TsMs,
        attempt: backoff.attempt().max(1),
        reason,
    }
}
