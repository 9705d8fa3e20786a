//! The cookie and crumb handshake Yahoo's APIs want, as pure helpers: reading the crumb from a
//! `getcrumb` answer, recognising the consent redirect, and naming Yahoo's refusals with what
//! to do. The crumb is a session token: it goes into URLs (`&crumb=..`) and must never be
//! logged or shown.
//!
//! The flow (recorded in ../shared/fixtures/yahoo/yf2_getCrumb-*): a first page request
//! answers 307 to `guce.yahoo.com/consent` when Yahoo wants consent (EU visitors), which sets
//! the cookies after a few redirects; then `GET {rest_url}/v1/test/getcrumb` with those cookies
//! answers the crumb as plain text (`haT3oykhHqZ`).

/// Where the crumb is asked for, below `rest_url`.
pub const GETCRUMB_PATH: &str = "/v1/test/getcrumb";

/// What went wrong in the handshake, or a refusal of any request, worded for the status line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YahooRefusal {
    #[error(
        "Yahoo refused the crumb (401 Invalid Crumb): the session expired; tickwatch fetches new cookies and a new crumb (if this repeats, Yahoo changed its handshake)"
    )]
    InvalidCrumb,
    #[error(
        "Yahoo says Too Many Requests (429): it limits requests per IP; wait a few minutes, and list fewer symbols or a longer refresh if it keeps happening"
    )]
    TooManyRequests,
    #[error(
        "Yahoo asks for cookie consent (redirect to {0}); the cookies from the consent pages are needed before a crumb"
    )]
    Consent(String),
    #[error(
        "Yahoo's getcrumb answered {status} without a crumb (no cookies, or a changed handshake); tickwatch retries with fresh cookies"
    )]
    NoCrumb { status: u16 },
}

/// A refusal from an answer's status and text body (getcrumb, chart, quote), if it is one.
pub fn refusal(status: u16, body: &str) -> Option<YahooRefusal> {
    if status == 429 || body.contains("Too Many Requests") {
        Some(YahooRefusal::TooManyRequests)
    } else if status == 401 || body.contains("Invalid Crumb") {
        Some(YahooRefusal::InvalidCrumb)
    } else {
        None
    }
}

/// The consent page a redirect leads to, if this answer is one (3xx to guce.yahoo.com or
/// consent.yahoo.com).
pub fn consent_redirect(status: u16, location: Option<&str>) -> Option<YahooRefusal> {
    let loc = location?;
    let host = loc.split("://").nth(1)?.split(['/', '?']).next()?;
    ((300..400).contains(&status) && matches!(host, "guce.yahoo.com" | "consent.yahoo.com"))
        .then(|| YahooRefusal::Consent(host.to_string()))
}

/// The crumb from a `getcrumb` answer: a short token of printable ASCII. An HTML page, an empty
/// body or a refusal is an error saying what happened.
pub fn parse_crumb(status: u16, body: &str) -> Result<String, YahooRefusal> {
    if let Some(r) = refusal(status, body) {
        return Err(r);
    }
    let crumb = body.trim();
    let plausible = (1..=64).contains(&crumb.len())
        && crumb
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'{');
    if status == 200 && plausible {
        Ok(crumb.to_string())
    } else {
        Err(YahooRefusal::NoCrumb { status })
    }
}
