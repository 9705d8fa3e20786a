//! Yahoo's v7 quote API (`/v7/finance/quote?symbols=..&crumb=..`): the latest price of many
//! symbols in one request, for the first screen before the streamer sends anything (it sends
//! only on a change, and nothing while a market is closed).

use serde::Deserialize;

use super::chart::path_segment;
use super::wire::MarketHours;
use crate::domain::{EventKind, MarketEvent, Quote, Stats24h, Symbol, SymbolError, TsMs, Venue};

/// `/v7/finance/quote` for `symbols`. The crumb is a session token: never log this URL.
pub fn quote_url(rest_url: &str, symbols: &[Symbol], crumb: &str) -> String {
    let list: Vec<String> = symbols.iter().map(|s| path_segment(s.as_str())).collect();
    format!(
        "{}/v7/finance/quote?symbols={}&crumb={}",
        rest_url.trim_end_matches('/'),
        list.join(","),
        path_segment(crumb)
    )
}

/// One symbol's quote as events and its session.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// `Stats24h` (last = regular market price, open = previous close, as the stream's).
    pub event: MarketEvent,
    pub quote: Option<MarketEvent>,
    pub hours: MarketHours,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "quoteResponse")]
    response: Response,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    result: Vec<Row>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    symbol: String,
    market_state: Option<String>,
    regular_market_price: Option<f64>,
    regular_market_time: Option<i64>,
    regular_market_previous_close: Option<f64>,
    regular_market_day_high: Option<f64>,
    regular_market_day_low: Option<f64>,
    regular_market_volume: Option<f64>,
    bid: Option<f64>,
    ask: Option<f64>,
    bid_size: Option<f64>,
    ask_size: Option<f64>,
}

/// Why a quote answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum QuoteError {
    #[error("not a Yahoo quote answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error("bad symbol in a Yahoo quote: {0}")]
    Symbol(#[from] SymbolError),
}

fn pos(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite() && *v > 0.0)
}

/// The quotes of a v7 answer; symbols without a price (unknown, delisted) are left out, so
/// the caller can name those it asked for and did not get.
pub fn parse_quotes(body: &str, recv_ms: TsMs) -> Result<Vec<Snapshot>, QuoteError> {
    let b: Body = serde_json::from_str(body)?;
    let mut out = Vec::with_capacity(b.response.result.len());
    for r in b.response.result {
        let Some(last) = pos(r.regular_market_price) else {
            continue;
        };
        let symbol = Symbol::new(&r.symbol)?;
        let exch_ms = r.regular_market_time.map_or(recv_ms, |t| t * 1000);
        let event = |kind| MarketEvent {
            venue: Venue::Yahoo,
            symbol,
            exch_ms,
            recv_ms,
            kind,
        };
        let stats = Stats24h {
            open: pos(r.regular_market_previous_close).unwrap_or(0.0),
            high: pos(r.regular_market_day_high).unwrap_or(last),
            low: pos(r.regular_market_day_low).unwrap_or(last),
            last,
            volume: r.regular_market_volume.filter(|v| *v >= 0.0).unwrap_or(0.0),
        };
        let quote = pos(r.bid).zip(pos(r.ask)).map(|(bid, ask)| {
            event(EventKind::Quote(Quote {
                bid,
                bid_qty: r.bid_size.unwrap_or(0.0).max(0.0),
                ask,
                ask_qty: r.ask_size.unwrap_or(0.0).max(0.0),
            }))
        });
        let hours = match r.market_state.as_deref() {
            Some("PRE" | "PREPRE") => MarketHours::Pre,
            Some("REGULAR") => MarketHours::Regular,
            Some("POST" | "POSTPOST") => MarketHours::Post,
            _ => MarketHours::Closed,
        };
        out.push(Snapshot {
            event: event(EventKind::Stats24h(stats)),
            quote,
            hours,
        });
    }
    Ok(out)
}
