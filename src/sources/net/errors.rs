//! Turns connection errors into the few words a user needs ("DNS lookup failed", "connection
//! refused"), whatever library produced them.

use std::error::Error;
use std::io;

/// A short human reason for a failed connect or a broken connection.
pub fn describe_error(err: &(dyn Error + 'static)) -> String {
    let mut cur: Option<&(dyn Error + 'static)> = Some(err);
    let mut text = String::new();
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            match io.kind() {
                io::ErrorKind::ConnectionRefused => return "connection refused".into(),
                io::ErrorKind::ConnectionReset => return "connection reset by the server".into(),
                io::ErrorKind::ConnectionAborted => return "connection aborted".into(),
                io::ErrorKind::TimedOut => return "connection timed out".into(),
                io::ErrorKind::UnexpectedEof => return "server closed the connection".into(),
                io::ErrorKind::NetworkUnreachable => return "network unreachable".into(),
                io::ErrorKind::HostUnreachable => return "host unreachable".into(),
                _ => {}
            }
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&e.to_string());
        cur = e.source();
    }
    classify_text(&text).unwrap_or(text)
}

/// Recognizes failures that libraries only report as text.
fn classify_text(text: &str) -> Option<String> {
    let t = text.to_ascii_lowercase();
    let reason = if t.contains("failed to lookup address")
        || t.contains("name or service not known")
        || t.contains("no such host")
        || t.contains("temporary failure in name resolution")
        || t.contains("dns error")
    {
        "DNS lookup failed"
    } else if t.contains("connection refused") {
        "connection refused"
    } else if t.contains("connection reset") {
        "connection reset by the server"
    } else if t.contains("certificate") || t.contains("tls") && t.contains("handshake") {
        "TLS handshake failed (check the URL and the system clock)"
    } else if t.contains("timed out") || t.contains("deadline has elapsed") {
        "connection timed out"
    } else if t.contains("network is unreachable") {
        "network unreachable"
    } else {
        return None;
    };
    Some(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_kinds_and_resolver_text_become_short_reasons() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert_eq!(describe_error(&refused), "connection refused");
        let dns =
            io::Error::other("failed to lookup address information: Name or service not known");
        assert_eq!(describe_error(&dns), "DNS lookup failed");
        let other = io::Error::other("something odd");
        assert_eq!(describe_error(&other), "something odd");
    }
}
