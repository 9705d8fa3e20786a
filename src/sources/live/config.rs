//! Checks every live venue's config section shares; each message names the section and key
//! and says what is allowed.

/// `url` is a WebSocket URL (`ws://` or `wss://`); `example` shows the venue's.
pub fn check_ws_url(section: &str, url: &str, example: &str) -> Result<(), String> {
    if url.starts_with("ws://") || url.starts_with("wss://") {
        return Ok(());
    }
    Err(format!(
        "[{section}].ws_url {url:?} must start with ws:// or wss:// (e.g. {example})"
    ))
}

/// `url` is an HTTP base URL; `example` shows the venue's.
pub fn check_rest_url(section: &str, url: &str, example: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return Ok(());
    }
    Err(format!(
        "[{section}].rest_url {url:?} must start with http:// or https:// (e.g. {example})"
    ))
}

/// `depth_levels`: levels of each side a book publishes, 1 to `max` (what the venue's book
/// channel holds).
pub fn check_depth_levels(section: &str, levels: usize, max: usize) -> Result<(), String> {
    if (1..=max).contains(&levels) {
        return Ok(());
    }
    Err(format!(
        "[{section}].depth_levels is {levels}; it must be between 1 and {max} (levels of each side the ladder and the liquidity rules get)"
    ))
}

/// The watchdog, REST timeout and reconnect backoff of a section.
pub fn check_timings(
    section: &str,
    stale_after_secs: u64,
    rest_timeout_secs: u64,
    backoff_initial_ms: u64,
    backoff_max_ms: u64,
) -> Result<(), String> {
    if stale_after_secs == 0 {
        return Err(format!("[{section}].stale_after_secs must be at least 1"));
    }
    if !(1..=300).contains(&rest_timeout_secs) {
        return Err(format!(
            "[{section}].rest_timeout_secs is {rest_timeout_secs}; it must be between 1 and 300 (seconds for one REST request)"
        ));
    }
    if backoff_initial_ms == 0 || backoff_initial_ms > backoff_max_ms {
        return Err(format!(
            "[{section}].backoff_initial_ms ({backoff_initial_ms}) must be at least 1 and at most backoff_max_ms ({backoff_max_ms})"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_key_and_what_is_allowed() {
        assert!(check_ws_url("okx", "wss://x", "wss://y").is_ok());
        let e = check_ws_url("okx", "https://x", "wss://y").unwrap_err();
        assert_eq!(
            e,
            "[okx].ws_url \"https://x\" must start with ws:// or wss:// (e.g. wss://y)"
        );
        assert!(
            check_rest_url("okx", "ws://x", "https://y")
                .unwrap_err()
                .contains("rest_url")
        );
        assert!(check_timings("okx", 10, 10, 125, 60_000).is_ok());
        assert!(
            check_timings("okx", 0, 10, 125, 60_000)
                .unwrap_err()
                .contains("stale_after_secs")
        );
        assert!(
            check_timings("okx", 1, 0, 125, 60_000)
                .unwrap_err()
                .contains("rest_timeout_secs")
        );
        assert!(
            check_timings("okx", 1, 10, 0, 60_000)
                .unwrap_err()
                .contains("backoff_initial_ms")
        );
        assert!(
            check_timings("okx", 1, 10, 9, 8)
                .unwrap_err()
                .contains("at most backoff_max_ms (8)")
        );
    }
}
