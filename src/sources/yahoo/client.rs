//! Yahoo's REST side with its session: the anonymous cookies (from any Yahoo page that sets
//! them, `cookie_url`), the crumb (`getcrumb` with those cookies), and the chart API asked with
//! both. A 401 "Invalid Crumb" drops the session and the request is tried once more with a
//! fresh one; a 429 is waited out by [`Rest`] and shown as rate-limited. The cookies and the
//! crumb are session tokens: they go only to Yahoo's hosts and never into a message or the log.

use std::sync::Arc;

use tokio::sync::Mutex;

use super::chart::{Chart, ChartError, Span, chart_url, parse_chart, path_segment};
use super::crumb::{GETCRUMB_PATH, YahooRefusal, consent_redirect, parse_crumb, refusal};
use crate::domain::{Symbol, TsMs};
use crate::sources::live::rest::{Answer, HttpError, Rest};

/// Why a Yahoo request failed, worded for the status line.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Http(HttpError),
    #[error("{0}")]
    Refused(#[from] YahooRefusal),
    #[error("{0}")]
    Chart(#[from] ChartError),
    #[error(
        "Yahoo answered HTTP {status} to {url}: {body}; Yahoo may have changed its API (see the README's Yahoo section)"
    )]
    Status {
        status: u16,
        url: String,
        body: String,
    },
}

impl From<HttpError> for FetchError {
    fn from(e: HttpError) -> Self {
        match e {
            // Yahoo's 429 "Too Many Requests", named with what to do
            HttpError::RateLimited { .. } => FetchError::Refused(YahooRefusal::TooManyRequests),
            e => FetchError::Http(e),
        }
    }
}

impl FetchError {
    /// The symbol Yahoo says it has no data for.
    pub fn unknown_symbol(&self) -> Option<Symbol> {
        match self {
            FetchError::Chart(ChartError::NotFound { symbol, .. }) => Symbol::new(symbol).ok(),
            _ => None,
        }
    }
}

/// A session Yahoo accepted: the `Cookie` header and the crumb.
#[derive(Clone)]
struct Auth {
    cookie: String,
    crumb: String,
}

/// Yahoo's REST API with its session. Clones share the session and the pace.
#[derive(Clone)]
pub struct Client {
    rest: Rest,
    cookie_url: String,
    auth: Arc<Mutex<Option<Auth>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the cookies or the crumb
        f.debug_struct("Client")
            .field("cookie_url", &self.cookie_url)
            .finish()
    }
}

/// `name=value` of every `Set-Cookie`, as one `Cookie` header.
pub fn cookie_header(set_cookies: &[String]) -> String {
    set_cookies
        .iter()
        .filter_map(|c| c.split(';').next())
        .map(str::trim)
        .filter(|c| c.contains('='))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Client {
    pub fn new(rest: Rest, cookie_url: &str) -> Client {
        Client {
            rest,
            cookie_url: cookie_url.trim().to_string(),
            auth: Arc::new(Mutex::new(None)),
        }
    }

    pub fn rest(&self) -> &Rest {
        &self.rest
    }

    /// The session, fetched once and kept until Yahoo refuses it.
    async fn auth(&self, on_rl: &(dyn Fn(TsMs) + Send + Sync)) -> Result<Auth, FetchError> {
        let mut slot = self.auth.lock().await;
        if let Some(a) = slot.as_ref() {
            return Ok(a.clone());
        }
        let first = self.rest.answer(&self.cookie_url, None, on_rl).await?;
        if let Some(r) = consent_redirect(first.status, first.location.as_deref()) {
            return Err(r.into());
        }
        let cookie = cookie_header(&first.set_cookies);
        let cookie_arg = (!cookie.is_empty()).then_some(cookie.as_str());
        let answer = self.rest.answer(GETCRUMB_PATH, cookie_arg, on_rl).await?;
        let crumb = parse_crumb(answer.status, &String::from_utf8_lossy(&answer.body))?;
        tracing::info!("Yahoo session set up (cookies and crumb)");
        let auth = Auth { cookie, crumb };
        *slot = Some(auth.clone());
        Ok(auth)
    }

    /// GET `path` (with `&crumb=` added) in the session, renewing it once on a 401.
    async fn get(
        &self,
        path: &str,
        on_rl: &(dyn Fn(TsMs) + Send + Sync),
    ) -> Result<Answer, FetchError> {
        let mut renewed = false;
        loop {
            let auth = self.auth(on_rl).await?;
            let url = format!("{path}&crumb={}", path_segment(&auth.crumb));
            let cookie = (!auth.cookie.is_empty()).then_some(auth.cookie.as_str());
            let a = self.rest.answer(&url, cookie, on_rl).await?;
            let head = String::from_utf8_lossy(&a.body[..a.body.len().min(2048)]).into_owned();
            match refusal(a.status, &head) {
                Some(YahooRefusal::InvalidCrumb) if !renewed => {
                    tracing::warn!("Yahoo refused the crumb (401); fetching a new session");
                    *self.auth.lock().await = None;
                    renewed = true;
                }
                Some(r) => return Err(r.into()),
                None => return Ok(a),
            }
        }
    }

    /// Yahoo's 1m chart of `symbol` over `span`.
    pub async fn chart_1m(
        &self,
        symbol: &Symbol,
        span: Span<'_>,
        pre_post: bool,
        on_rl: &(dyn Fn(TsMs) + Send + Sync),
    ) -> Result<Chart, FetchError> {
        let path = chart_url("", symbol, "1m", span, pre_post);
        let a = self.get(&path, on_rl).await?;
        let body = String::from_utf8_lossy(&a.body);
        match parse_chart(&body, symbol.as_str()) {
            Ok(c) if (200..300).contains(&a.status) => Ok(c),
            // a 404 with Yahoo's error JSON says what it does not know
            Err(e @ (ChartError::NotFound { .. } | ChartError::Api { .. })) => Err(e.into()),
            Err(e) if (200..300).contains(&a.status) => Err(e.into()),
            _ => Err(FetchError::Status {
                status: a.status,
                url: a.url,
                body: crate::format::visible(&body.chars().take(200).collect::<String>()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_header_keeps_name_and_value_of_each_set_cookie() {
        let set = [
            "A1=d=AQABBK; Expires=Fri, 20 Feb 2026 10:00:00 GMT; Max-Age=31557600; Domain=.yahoo.com; Path=/; SameSite=Lax; Secure; HttpOnly".to_string(),
            "A3=d=AQABBK; Domain=.yahoo.com; Path=/".to_string(),
            "garbage".to_string(),
        ];
        assert_eq!(cookie_header(&set), "A1=d=AQABBK; A3=d=AQABBK");
        assert_eq!(cookie_header(&[]), "");
    }

    #[test]
    fn a_rate_limit_is_named_as_yahoo_s_refusal_with_what_to_do() {
        let e = FetchError::from(HttpError::RateLimited { until_ms: 1 });
        assert!(e.to_string().contains("Too Many Requests (429)"), "{e}");
        let e = FetchError::Chart(ChartError::NotFound {
            symbol: "NOPE".into(),
            description: "No data found, symbol may be delisted".into(),
        });
        assert_eq!(e.unknown_symbol(), Symbol::new("NOPE").ok());
    }
}
