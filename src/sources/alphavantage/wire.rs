//! Alpha Vantage answers: GLOBAL_QUOTE, TIME_SERIES_INTRADAY, and the messages it sends with
//! HTTP 200 instead of data (`Information`, `Note`, `Error Message`). Unknown fields are always
//! accepted: Alpha Vantage adds them without notice.

use std::collections::BTreeMap;
use std::collections::HashMap;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::eastern::{Zone, eastern_to_utc_ms};
use crate::domain::{Candle, Stats24h, TsMs};

/// What Alpha Vantage said instead of data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The daily quota is spent ("... standard API rate limit is 25 requests per day").
    DailyLimit(String),
    /// Too many requests too quickly ("5 calls per minute", "1 request per second").
    TooFast(String),
    /// The function or one of its parameters needs a premium plan.
    Premium(String),
    /// The key was refused: invalid, missing, or the demo key.
    InvalidKey(String),
    /// "Invalid API call": for a well-formed request, a symbol Alpha Vantage does not know.
    InvalidCall(String),
    /// GLOBAL_QUOTE answered `{"Global Quote": {}}`: the symbol is unknown.
    UnknownSymbol,
    /// Any other message, passed on as it is.
    Other(String),
}

/// Data, or a notice in its place.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<T> {
    Data(T),
    Notice(Notice),
}

/// Sorts a message by its field and its wording. Order matters: the per-second notice also
/// mentions "25 requests per day", and the daily one mentions the API key.
pub fn classify(field: &str, text: &str) -> Notice {
    let t = text.to_ascii_lowercase();
    let mentions_key = t.contains("apikey") || t.contains("api key");
    if field == "Error Message" {
        return if mentions_key {
            Notice::InvalidKey(text.to_string())
        } else {
            Notice::InvalidCall(text.to_string())
        };
    }
    if t.contains("premium endpoint") || t.contains("premium function") {
        Notice::Premium(text.to_string())
    } else if t.contains("sparingly")
        || t.contains("per second")
        || t.contains("per minute")
        || t.contains("call frequency")
    {
        Notice::TooFast(text.to_string())
    } else if t.contains("per day") || t.contains("daily") {
        Notice::DailyLimit(text.to_string())
    } else if mentions_key {
        Notice::InvalidKey(text.to_string())
    } else {
        Notice::Other(text.to_string())
    }
}

/// The notice in a top-level object, if any (`Error Message` first: it is the most specific).
fn notice(top: &Map<String, Value>) -> Option<Notice> {
    ["Error Message", "Information", "Note"]
        .into_iter()
        .find_map(|field| {
            top.get(field).map(|v| match v.as_str() {
                Some(s) => classify(field, s),
                None => classify(field, &v.to_string()),
            })
        })
}

fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err("the answer is not a JSON object".into()),
        Err(e) => Err(format!("the answer is not JSON ({e})")),
    }
}

fn num(field: &str, s: &str) -> Result<f64, String> {
    let t = s.trim().trim_end_matches('%');
    t.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("{field} {s:?} is not a number"))
}

/// A GLOBAL_QUOTE answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalQuote {
    pub symbol: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub price: f64,
    pub volume: f64,
    pub latest_trading_day: NaiveDate,
    pub previous_close: f64,
    pub change: f64,
    /// In percent (`"0.1234%"` → 0.1234).
    pub change_percent: f64,
}

impl GlobalQuote {
    /// The quote as the engine's day statistics. `open` is the previous close, so that the
    /// watchlist's change is the one stock quotes show (and Alpha Vantage's `change percent`).
    pub fn stats(&self) -> Stats24h {
        Stats24h {
            open: self.previous_close,
            high: self.high,
            low: self.low,
            last: self.price,
            volume: self.volume,
        }
    }

    /// When the quote held: `now`, or the close of its trading day (16:00 US/Eastern) when that
    /// day is over (a Friday quote read on Saturday is Friday's close).
    pub fn as_of_ms(&self, now: TsMs) -> TsMs {
        let close = self
            .latest_trading_day
            .and_time(NaiveTime::from_hms_opt(16, 0, 0).unwrap_or_default());
        eastern_to_utc_ms(close).min(now)
    }
}

#[derive(Debug, Default, Deserialize)]
struct RawQuote {
    #[serde(rename = "01. symbol")]
    symbol: Option<String>,
    #[serde(rename = "02. open")]
    open: Option<String>,
    #[serde(rename = "03. high")]
    high: Option<String>,
    #[serde(rename = "04. low")]
    low: Option<String>,
    #[serde(rename = "05. price")]
    price: Option<String>,
    #[serde(rename = "06. volume")]
    volume: Option<String>,
    #[serde(rename = "07. latest trading day")]
    day: Option<String>,
    #[serde(rename = "08. previous close")]
    previous_close: Option<String>,
    #[serde(rename = "09. change")]
    change: Option<String>,
    #[serde(rename = "10. change percent")]
    change_percent: Option<String>,
}

/// Parses a GLOBAL_QUOTE body. `Err` is a malformed answer, with what is wrong.
pub fn parse_global_quote(body: &[u8]) -> Result<Reply<GlobalQuote>, String> {
    let top = object(body)?;
    if let Some(n) = notice(&top) {
        return Ok(Reply::Notice(n));
    }
    let Some(raw) = top.get("Global Quote") else {
        return Err("no \"Global Quote\" in the answer".into());
    };
    let raw: RawQuote =
        RawQuote::deserialize(raw).map_err(|e| format!("\"Global Quote\" is malformed: {e}"))?;
    let (Some(symbol), Some(price)) = (raw.symbol, raw.price) else {
        return Ok(Reply::Notice(Notice::UnknownSymbol));
    };
    let field = |name: &str, v: Option<String>| -> Result<f64, String> {
        num(name, v.as_deref().unwrap_or_default())
    };
    let day = raw.day.unwrap_or_default();
    let latest_trading_day = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
        .map_err(|_| format!("latest trading day {day:?} is not a YYYY-MM-DD date"))?;
    Ok(Reply::Data(GlobalQuote {
        open: field("open", raw.open)?,
        high: field("high", raw.high)?,
        low: field("low", raw.low)?,
        price: num("price", &price)?,
        volume: field("volume", raw.volume)?,
        latest_trading_day,
        previous_close: field("previous close", raw.previous_close)?,
        change: field("change", raw.change)?,
        change_percent: field("change percent", raw.change_percent)?,
        symbol,
    }))
}

/// A TIME_SERIES_INTRADAY answer: candles with UTC open times, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Intraday {
    pub symbol: String,
    pub bars: Vec<Candle>,
}

#[derive(Debug, Deserialize)]
struct RawBar {
    #[serde(rename = "1. open")]
    open: String,
    #[serde(rename = "2. high")]
    high: String,
    #[serde(rename = "3. low")]
    low: String,
    #[serde(rename = "4. close")]
    close: String,
    #[serde(rename = "5. volume")]
    volume: String,
}

/// A Meta Data field by its name without the number ("3. Last Refreshed" → "Last Refreshed").
fn meta_field<'a>(meta: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    meta.iter()
        .find(|(k, _)| k.split_once(". ").map_or(k.as_str(), |(_, n)| n) == name)
        .map(|(_, v)| v.as_str())
}

fn local_time(s: &str) -> Result<NaiveDateTime, String> {
    let t = s.trim();
    NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .map_err(|_| format!("bar time {s:?} is not YYYY-MM-DD HH:MM:SS"))
}

/// Parses a TIME_SERIES_INTRADAY body for `interval` ("5min"). Bar times are read in the zone
/// that `Meta Data` names (US/Eastern for US equities) and converted to UTC.
pub fn parse_intraday(body: &[u8], interval: &str) -> Result<Reply<Intraday>, String> {
    let top = object(body)?;
    if let Some(n) = notice(&top) {
        return Ok(Reply::Notice(n));
    }
    let meta: HashMap<String, String> = match top.get("Meta Data") {
        Some(m) => HashMap::<String, String>::deserialize(m)
            .map_err(|e| format!("\"Meta Data\" is malformed: {e}"))?,
        None => return Err("no \"Meta Data\" in the answer".into()),
    };
    let zone = Zone::parse(meta_field(&meta, "Time Zone").unwrap_or("US/Eastern"))?;
    let key = format!("Time Series ({interval})");
    let Some(series) = top.get(&key) else {
        let got: Vec<&str> = top
            .keys()
            .map(String::as_str)
            .filter(|k| k.starts_with("Time Series"))
            .collect();
        return Err(if got.is_empty() {
            format!("no \"{key}\" in the answer")
        } else {
            format!("asked for \"{key}\", got {got:?}")
        });
    };
    let raw = BTreeMap::<String, RawBar>::deserialize(series)
        .map_err(|e| format!("\"{key}\" is malformed: {e}"))?;
    let mut bars = Vec::with_capacity(raw.len());
    for (time, b) in raw {
        bars.push(Candle {
            open_ms: zone.to_utc_ms(local_time(&time)?),
            open: num("open", &b.open)?,
            high: num("high", &b.high)?,
            low: num("low", &b.low)?,
            close: num("close", &b.close)?,
            volume: num("volume", &b.volume)?,
            trades: 0,
        });
    }
    bars.sort_by_key(|c| c.open_ms);
    bars.dedup_by_key(|c| c.open_ms);
    Ok(Reply::Data(Intraday {
        symbol: meta_field(&meta, "Symbol").unwrap_or_default().to_string(),
        bars,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented shape of `function=GLOBAL_QUOTE&symbol=IBM`.
    const QUOTE: &str = r#"{
        "Global Quote": {
            "01. symbol": "IBM",
            "02. open": "162.8300",
            "03. high": "163.2900",
            "04. low": "161.6500",
            "05. price": "162.7400",
            "06. volume": "3397640",
            "07. latest trading day": "2024-01-05",
            "08. previous close": "161.5200",
            "09. change": "1.2200",
            "10. change percent": "0.7553%"
        }
    }"#;

    /// The documented shape of `function=TIME_SERIES_INTRADAY&symbol=IBM&interval=5min`
    /// (three bars; keys newest first, as Alpha Vantage sends them).
    const INTRADAY: &str = r#"{
        "Meta Data": {
            "1. Information": "Intraday (5min) open, high, low, close prices and volume",
            "2. Symbol": "IBM",
            "3. Last Refreshed": "2024-01-05 19:55:00",
            "4. Interval": "5min",
            "5. Output Size": "Compact",
            "6. Time Zone": "US/Eastern"
        },
        "Time Series (5min)": {
            "2024-01-05 19:55:00": {"1. open": "159.1600", "2. high": "159.2000", "3. low": "159.1600", "4. close": "159.2000", "5. volume": "82"},
            "2024-01-05 19:50:00": {"1. open": "159.1000", "2. high": "159.1600", "3. low": "159.1000", "4. close": "159.1600", "5. volume": "14"},
            "2024-01-05 09:30:00": {"1. open": "161.0000", "2. high": "161.7700", "3. low": "160.9000", "4. close": "161.5000", "5. volume": "212345", "6. extra": "x"}
        },
        "Extra": 1
    }"#;

    fn utc(s: &str) -> TsMs {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    #[test]
    fn global_quote_becomes_day_stats_against_the_previous_close() {
        let Reply::Data(q) = parse_global_quote(QUOTE.as_bytes()).unwrap() else {
            panic!("no data")
        };
        assert_eq!(q.symbol, "IBM");
        assert_eq!(
            (q.price, q.volume, q.change_percent),
            (162.74, 3397640.0, 0.7553)
        );
        let s = q.stats();
        assert_eq!(
            (s.open, s.high, s.low, s.last),
            (161.52, 163.29, 161.65, 162.74)
        );
        // the change the watchlist computes is Alpha Vantage's own
        let pct = (s.last / s.open - 1.0) * 100.0;
        assert!((pct - q.change_percent).abs() < 1e-3, "{pct}");
        // read during the session: now; read the next day: 16:00 EST that day
        let during = utc("2024-01-05 18:00:00");
        assert_eq!(q.as_of_ms(during), during);
        assert_eq!(
            q.as_of_ms(utc("2024-01-06 15:00:00")),
            utc("2024-01-05 21:00:00")
        );
    }

    #[test]
    fn empty_or_bad_quotes() {
        assert_eq!(
            parse_global_quote(br#"{"Global Quote": {}}"#).unwrap(),
            Reply::Notice(Notice::UnknownSymbol)
        );
        let e = parse_global_quote(QUOTE.replace("162.7400", "n/a").as_bytes()).unwrap_err();
        assert!(e.contains("price"), "{e}");
        let e = parse_global_quote(QUOTE.replace("2024-01-05", "Jan 5").as_bytes()).unwrap_err();
        assert!(e.contains("latest trading day"), "{e}");
        assert!(
            parse_global_quote(b"{}")
                .unwrap_err()
                .contains("Global Quote")
        );
        assert!(
            parse_global_quote(b"<html>")
                .unwrap_err()
                .contains("not JSON")
        );
        assert!(parse_global_quote(b"[]").is_err());
    }

    #[test]
    fn intraday_bars_oldest_first_in_utc() {
        let Reply::Data(d) = parse_intraday(INTRADAY.as_bytes(), "5min").unwrap() else {
            panic!("no data")
        };
        assert_eq!(d.symbol, "IBM");
        let times: Vec<TsMs> = d.bars.iter().map(|c| c.open_ms).collect();
        assert_eq!(
            times,
            vec![
                utc("2024-01-05 14:30:00"),
                utc("2024-01-06 00:50:00"),
                utc("2024-01-06 00:55:00")
            ]
        );
        let first = d.bars[0];
        assert_eq!(
            (first.open, first.high, first.low, first.close, first.volume),
            (161.0, 161.77, 160.9, 161.5, 212345.0)
        );
        // summer bars are 4 hours behind UTC
        let summer = INTRADAY.replace("2024-01-05 09:30:00", "2024-07-01 09:30:00");
        let Reply::Data(d) = parse_intraday(summer.as_bytes(), "5min").unwrap() else {
            panic!("no data")
        };
        assert_eq!(d.bars[0].open_ms, utc("2024-01-06 00:50:00"));
        assert!(
            d.bars
                .iter()
                .any(|c| c.open_ms == utc("2024-07-01 13:30:00"))
        );
    }

    #[test]
    fn intraday_mismatches_are_errors() {
        let e = parse_intraday(INTRADAY.as_bytes(), "15min").unwrap_err();
        assert!(
            e.contains("Time Series (15min)") && e.contains("5min"),
            "{e}"
        );
        let e = parse_intraday(
            INTRADAY.replace("US/Eastern", "Asia/Tokyo").as_bytes(),
            "5min",
        )
        .unwrap_err();
        assert!(e.contains("Asia/Tokyo"), "{e}");
        let e = parse_intraday(INTRADAY.replace("159.1000", "").as_bytes(), "5min").unwrap_err();
        assert!(e.contains("open"), "{e}");
        let e = parse_intraday(
            INTRADAY
                .replace("2024-01-05 19:50:00", "yesterday")
                .as_bytes(),
            "5min",
        )
        .unwrap_err();
        assert!(e.contains("yesterday"), "{e}");
        assert!(
            parse_intraday(br#"{"x": 1}"#, "5min")
                .unwrap_err()
                .contains("Meta Data")
        );
    }

    #[test]
    fn notices_are_told_apart() {
        type Case = (&'static str, &'static str, fn(&Notice) -> bool);
        let cases: [Case; 8] = [
            (
                "Information",
                "We have detected your API key as K123 and our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits.",
                |n| matches!(n, Notice::DailyLimit(_)),
            ),
            (
                "Information",
                "Thank you for using Alpha Vantage! Please consider spreading out your free API requests more sparingly (1 request per second). You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to lift the free key rate limit (25 requests per day) and instantly remove all daily rate limits.",
                |n| matches!(n, Notice::TooFast(_)),
            ),
            (
                "Note",
                "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency.",
                |n| matches!(n, Notice::TooFast(_)),
            ),
            (
                "Information",
                "Thank you for using Alpha Vantage! This is a premium endpoint. You may subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly unlock all premium endpoints",
                |n| matches!(n, Notice::Premium(_)),
            ),
            (
                "Information",
                "The **demo** API key is for demo purposes only. Please claim your free API key at (https://www.alphavantage.co/support/#api-key) to explore our full API offerings. It takes fewer than 20 seconds.",
                |n| matches!(n, Notice::InvalidKey(_)),
            ),
            (
                "Error Message",
                "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds.",
                |n| matches!(n, Notice::InvalidKey(_)),
            ),
            (
                "Error Message",
                "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for TIME_SERIES_INTRADAY.",
                |n| matches!(n, Notice::InvalidCall(_)),
            ),
            ("Information", "Scheduled maintenance tonight.", |n| {
                matches!(n, Notice::Other(_))
            }),
        ];
        for (field, text, ok) in cases {
            let n = classify(field, text);
            assert!(ok(&n), "{field}: {text} → {n:?}");
            // the same notice comes out of either parser, whatever else the body holds
            let body = serde_json::json!({ field: text, "Meta Data": {} }).to_string();
            assert_eq!(
                parse_intraday(body.as_bytes(), "5min").unwrap(),
                Reply::Notice(n.clone())
            );
            assert_eq!(
                parse_global_quote(body.as_bytes()).unwrap(),
                Reply::Notice(n)
            );
        }
    }
}
