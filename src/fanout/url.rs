//! NATS URLs may carry a user and password or a token: they are never printed or logged.

/// `url` with its credentials (anything before `@` in the authority) replaced by `***`.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("***@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    match scheme {
        Some(s) => format!("{s}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

/// `text` (an error message) with any credentials of `url` in it replaced by `***`.
pub fn scrub(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact(url));
    if let Some((_, rest)) = url.split_once("://")
        && let Some(at) = rest.find('@')
    {
        let creds = &rest[..at];
        if !creds.is_empty() {
            out = out.replace(creds, "***");
            for part in creds.split(':').filter(|p| p.len() >= 3) {
                out = out.replace(part, "***");
            }
        }
    }
    out
}

/// Checks a NATS URL given by the user: `nats://host:port` (or `tls://`, `ws://`, `wss://`),
/// optionally with `user:password@` or `token@`. The message never repeats the credentials.
pub fn check(url: &str) -> Result<(), String> {
    let shown = redact(url);
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "{shown:?} is not a NATS URL: write it as nats://host:4222"
        ));
    };
    if !matches!(scheme, "nats" | "tls" | "ws" | "wss") {
        return Err(format!(
            "{shown:?}: the scheme must be nats://, tls://, ws:// or wss:// (e.g. nats://127.0.0.1:4222)"
        ));
    }
    let host = rest.rsplit('@').next().unwrap_or(rest);
    if host.is_empty() || host.starts_with(':') || host.starts_with('/') {
        return Err(format!(
            "{shown:?} names no host: e.g. nats://127.0.0.1:4222"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(redact("nats://u:secret@h:4222/x"), "nats://***@h:4222/x");
        assert_eq!(redact("nats://tok3n@h"), "nats://***@h");
        let url = "nats://bob:hunter2@h:1";
        let msg = scrub(
            "cannot connect to nats://bob:hunter2@h:1 as bob:hunter2",
            url,
        );
        assert!(!msg.contains("hunter2"), "{msg}");
        assert!(check("nats://a:b@h:1").is_ok());
        let e = check("http://a:secret@h").unwrap_err();
        assert!(!e.contains("secret") && e.contains("nats://"), "{e}");
        assert!(check("nats://").is_err());
        assert!(check("h:4222").is_err());
    }
}
