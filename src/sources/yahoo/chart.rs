//! Yahoo's v8 chart API (`/v8/finance/chart/{symbol}`): the URL and a parser that turns the
//! answer into candles, each marked with its session, plus the instrument's `meta`.
//!
//! Yahoo writes a row for every slot of the range, with `null`s where nothing traded; those
//! rows are skipped and counted, never turned into flat candles (so nights, weekends and
//! holidays leave no bars). Times are UTC seconds; `gmtoffset` only says where the exchange is.

use serde::Deserialize;

use super::wire::MarketHours;
use crate::domain::{Candle, Symbol};

/// The span of a chart request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span<'a> {
    /// Yahoo's `range` (`1d`, `5d`, `1mo`...): up to now.
    Range(&'a str),
    /// `period1`..`period2`, UTC seconds.
    Period { from_s: i64, to_s: i64 },
}

/// `/v8/finance/chart/{symbol}?interval=..` with the span; `pre_post` asks for pre- and
/// post-market rows too.
pub fn chart_url(
    rest_url: &str,
    symbol: &Symbol,
    interval: &str,
    span: Span,
    pre_post: bool,
) -> String {
    let span = match span {
        Span::Range(r) => format!("range={r}"),
        Span::Period { from_s, to_s } => format!("period1={from_s}&period2={to_s}"),
    };
    format!(
        "{}/v8/finance/chart/{}?interval={interval}&{span}&includePrePost={pre_post}",
        rest_url.trim_end_matches('/'),
        path_segment(symbol.as_str())
    )
}

/// Percent-encodes everything but unreserved characters (`^GSPC` → `%5EGSPC`, `ES=F` → `ES%3DF`).
pub(crate) fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 6);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a chart answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("not a Yahoo chart answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "Yahoo has no data for {symbol} ({description}); check the symbol on finance.yahoo.com (indices start with ^ as in ^GSPC, FX ends with =X, futures with =F) and fix [yahoo].symbols"
    )]
    NotFound { symbol: String, description: String },
    #[error("Yahoo refused the chart request for {symbol}: {code}: {description}")]
    Api {
        symbol: String,
        code: String,
        description: String,
    },
    #[error(
        "Yahoo's chart answer for {0} has neither a result nor an error; its format may have changed"
    )]
    Empty(String),
}

/// One trading period, UTC seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Period {
    pub start: i64,
    pub end: i64,
}

/// `currentTradingPeriod`: today's (or the last trading day's) sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct CurrentPeriods {
    pub pre: Period,
    pub regular: Period,
    pub post: Period,
}

/// `tradingPeriods` (intraday answers): per day, the sessions. With `includePrePost=false`
/// Yahoo sends only the regular ones, as a bare list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum TradingPeriods {
    Split {
        #[serde(default)]
        pre: Vec<Vec<Period>>,
        #[serde(default)]
        regular: Vec<Vec<Period>>,
        #[serde(default)]
        post: Vec<Vec<Period>>,
    },
    Regular(Vec<Vec<Period>>),
}

/// What Yahoo says about the instrument and its exchange.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub symbol: String,
    #[serde(default)]
    pub currency: Option<String>,
    /// Yahoo's exchange code (NMS, CCC, GER...).
    #[serde(default)]
    pub exchange_name: Option<String>,
    /// Short zone name (EST, CET, UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    /// IANA zone (America/New_York).
    #[serde(default)]
    pub exchange_timezone_name: Option<String>,
    /// The exchange's offset from UTC now, seconds.
    #[serde(default)]
    pub gmtoffset: i64,
    /// UTC seconds.
    #[serde(default)]
    pub regular_market_time: Option<i64>,
    #[serde(default)]
    pub regular_market_price: Option<f64>,
    /// The last regular session's close before today's.
    #[serde(default)]
    pub previous_close: Option<f64>,
    /// The close before the chart's first bar (what Yahoo sends when `previousClose` is absent).
    #[serde(default)]
    pub chart_previous_close: Option<f64>,
    #[serde(default)]
    pub regular_market_day_high: Option<f64>,
    #[serde(default)]
    pub regular_market_day_low: Option<f64>,
    #[serde(default)]
    pub regular_market_volume: Option<f64>,
    #[serde(default)]
    pub instrument_type: Option<String>,
    #[serde(default)]
    pub data_granularity: Option<String>,
    #[serde(default)]
    pub current_trading_period: Option<CurrentPeriods>,
    #[serde(default)]
    trading_periods: Option<TradingPeriods>,
}

/// One candle and the session it fell in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub candle: Candle,
    pub hours: MarketHours,
}

/// A chart answer, understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub meta: Meta,
    /// Oldest first.
    pub bars: Vec<Bar>,
    /// Rows skipped: `null` prices (no trading in that slot) or values no market has (0, NaN).
    pub skipped: usize,
}

#[derive(Deserialize)]
struct Body {
    chart: Outcome<ChartResult>,
}

/// `{"result": [..] | null, "error": {..} | null}`, as every Yahoo finance API answers.
#[derive(Deserialize)]
struct Outcome<T> {
    result: Option<Vec<T>>,
    error: Option<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    code: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct ChartResult {
    meta: Meta,
    #[serde(default)]
    timestamp: Vec<i64>,
    indicators: Indicators,
}

#[derive(Deserialize)]
struct Indicators {
    #[serde(default)]
    quote: Vec<Columns>,
}

#[derive(Deserialize, Default)]
struct Columns {
    #[serde(default)]
    open: Vec<Option<f64>>,
    #[serde(default)]
    high: Vec<Option<f64>>,
    #[serde(default)]
    low: Vec<Option<f64>>,
    #[serde(default)]
    close: Vec<Option<f64>>,
    #[serde(default)]
    volume: Vec<Option<f64>>,
}

/// The `error` of any Yahoo finance answer (`{"<api>":{"result":null,"error":{..}}}`: chart,
/// quoteSummary, quote), as (code, description).
pub fn api_error(body: &str) -> Option<(String, String)> {
    let v: std::collections::HashMap<String, Outcome<serde::de::IgnoredAny>> =
        serde_json::from_str(body).ok()?;
    v.into_values()
        .find_map(|o| o.error.map(|e| (e.code, e.description)))
}

/// Parses a chart answer for `symbol` (named in errors).
pub fn parse_chart(body: &str, symbol: &str) -> Result<Chart, ChartError> {
    let b: Body = serde_json::from_str(body)?;
    if let Some(e) = b.chart.error {
        return Err(if e.code == "Not Found" {
            ChartError::NotFound {
                symbol: symbol.to_string(),
                description: e.description,
            }
        } else {
            ChartError::Api {
                symbol: symbol.to_string(),
                code: e.code,
                description: e.description,
            }
        });
    }
    let r = b
        .chart
        .result
        .and_then(|r| r.into_iter().next())
        .ok_or_else(|| ChartError::Empty(symbol.to_string()))?;
    let q = r.indicators.quote.into_iter().next().unwrap_or_default();
    let intraday = r
        .meta
        .data_granularity
        .as_deref()
        .is_some_and(|g| g.ends_with('m') || g.ends_with('h'));
    let sessions = sessions(&r.meta);
    let at = |col: &[Option<f64>], i: usize| col.get(i).copied().flatten();
    let (mut bars, mut skipped) = (Vec::with_capacity(r.timestamp.len()), 0);
    for (i, &t) in r.timestamp.iter().enumerate() {
        let row = (
            at(&q.open, i),
            at(&q.high, i),
            at(&q.low, i),
            at(&q.close, i),
        );
        let (Some(open), Some(high), Some(low), Some(close)) = row else {
            skipped += 1;
            continue;
        };
        if ![open, high, low, close]
            .iter()
            .all(|v| v.is_finite() && *v > 0.0)
        {
            skipped += 1;
            continue;
        }
        let candle = Candle {
            open_ms: t * 1000,
            open,
            high,
            low,
            close,
            // FX and indices have no volume (0 or null)
            volume: at(&q.volume, i)
                .filter(|v| v.is_finite() && *v >= 0.0)
                .unwrap_or(0.0),
            trades: 0,
        };
        let hours = if intraday {
            session_at(&sessions, t)
        } else {
            MarketHours::Regular
        };
        bars.push(Bar { candle, hours });
    }
    bars.sort_by_key(|b| b.candle.open_ms);
    Ok(Chart {
        meta: r.meta,
        bars,
        skipped,
    })
}

/// Every known period with its session, and whether they are one day's to be repeated daily.
/// `tradingPeriods` (every day of the answer) where Yahoo sent them; else
/// `currentTradingPeriod`, one day's sessions, laid over every day by time of day (off by an
/// hour for bars across a daylight-saving change).
fn sessions(meta: &Meta) -> (Vec<(Period, MarketHours)>, bool) {
    let tag =
        |v: &Vec<Vec<Period>>, h| v.iter().flatten().map(move |p| (*p, h)).collect::<Vec<_>>();
    match (&meta.trading_periods, &meta.current_trading_period) {
        (Some(TradingPeriods::Split { pre, regular, post }), _) => (
            [
                tag(pre, MarketHours::Pre),
                tag(regular, MarketHours::Regular),
                tag(post, MarketHours::Post),
            ]
            .concat(),
            false,
        ),
        (Some(TradingPeriods::Regular(r)), _) => (tag(r, MarketHours::Regular), false),
        (None, Some(c)) => (
            vec![
                (c.pre, MarketHours::Pre),
                (c.regular, MarketHours::Regular),
                (c.post, MarketHours::Post),
            ],
            true,
        ),
        (None, None) => (Vec::new(), false),
    }
}

const DAY_S: i64 = 86_400;

/// The session of a bar opening at `t` (UTC seconds); outside every period, closed. With no
/// periods at all, regular.
fn session_at((sessions, daily): &(Vec<(Period, MarketHours)>, bool), t: i64) -> MarketHours {
    if sessions.is_empty() {
        return MarketHours::Regular;
    }
    let inside = |p: &Period| {
        if *daily {
            // a 24/7 market's regular day ends a minute early (23:59): it still covers the day
            let len = p.end - p.start;
            len >= DAY_S - 60 || (t - p.start).rem_euclid(DAY_S) < len
        } else {
            p.start <= t && t < p.end
        }
    };
    sessions
        .iter()
        .find(|(p, _)| inside(p))
        .map_or(MarketHours::Closed, |(_, h)| *h)
}

impl Meta {
    /// The session at `now_s` (UTC seconds) by today's trading periods: pre, regular, post, or
    /// closed outside them; None when Yahoo sent no periods.
    pub fn session_now(&self, now_s: i64) -> Option<MarketHours> {
        let c = self.current_trading_period?;
        let inside = |p: Period| p.start <= now_s && now_s < p.end;
        Some(if inside(c.regular) {
            MarketHours::Regular
        } else if inside(c.pre) {
            MarketHours::Pre
        } else if inside(c.post) {
            MarketHours::Post
        } else if c.regular.end - c.regular.start >= DAY_S - 60 {
            // a 24/7 market (crypto): today's period is the whole day, and so is tomorrow's
            MarketHours::Regular
        } else {
            MarketHours::Closed
        })
    }

    /// The last price with the day's figures as a `Stats24h` (open = previous close, as the
    /// stream's), when Yahoo sent a positive price.
    pub fn stats(&self) -> Option<crate::domain::Stats24h> {
        let ok = |v: Option<f64>| v.filter(|v| v.is_finite() && *v > 0.0);
        let last = ok(self.regular_market_price)?;
        Some(crate::domain::Stats24h {
            open: ok(self.previous_close)
                .or(ok(self.chart_previous_close))
                .unwrap_or(0.0),
            high: ok(self.regular_market_day_high).unwrap_or(last).max(last),
            low: ok(self.regular_market_day_low).unwrap_or(last).min(last),
            last,
            volume: self
                .regular_market_volume
                .filter(|v| v.is_finite() && *v >= 0.0)
                .unwrap_or(0.0),
        })
    }
}
