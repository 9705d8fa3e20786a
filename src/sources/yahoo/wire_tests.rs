//! The streamer vector, the chart, quote and handshake recordings in ../shared/fixtures/yahoo
//! (skipped when TICKWATCH_FIXTURES is unset, a failure under CI), and hand-written cases.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::Message;

use super::chart::{ChartError, Span, api_error, chart_url, parse_chart};
use super::crumb::{YahooRefusal, consent_redirect, parse_crumb, refusal};
use super::proto::PricingData;
use super::quote::{parse_quotes, quote_url};
use super::wire::{Frame, MarketHours, WireError, decode, parse_frame, subscription};
use crate::domain::{EventKind, Symbol, Venue};
use crate::testdata::fixtures;

const RECV: i64 = 1_736_509_200_000;

fn fixture(name: &str) -> Option<serde_json::Value> {
    let dir = fixtures()?;
    let text = crate::testdata::fixture_text(&dir, &format!("yahoo/{name}"));
    Some(serde_json::from_str(&text).unwrap())
}

/// A recorded answer's body as the server sent it.
fn body(rec: &serde_json::Value) -> String {
    let r = &rec["response"];
    match r["bodyJson"].is_null() {
        false => r["bodyJson"].to_string(),
        true => r["bodyText"].as_str().unwrap_or_default().to_string(),
    }
}

fn f32_of(v: &serde_json::Value) -> f32 {
    v.to_string().parse().unwrap()
}

/// serde_json's default float reading can be one ulp off the nearest f64 (it lacks the
/// `float_roundtrip` feature); a price is never judged at that precision.
fn near(a: f64, b: f64) -> bool {
    (a - b).abs() <= b.abs() * 1e-15
}

fn i64_of(v: &serde_json::Value) -> i64 {
    v.as_str().unwrap().parse().unwrap()
}

#[test]
fn streamer_vector_decodes_exactly() {
    let Some(v) = fixture("yfinance_streamer_pricingdata_vector.json") else {
        return;
    };
    let b64 = v["message_base64"].as_str().unwrap();
    let e = &v["expected_yfinance"];
    let mut want = PricingData::default();
    for (k, x) in e.as_object().unwrap() {
        match k.as_str() {
            "id" => want.id = x.as_str().unwrap().into(),
            "currency" => want.currency = x.as_str().unwrap().into(),
            "exchange" => want.exchange = x.as_str().unwrap().into(),
            "from_currency" => want.from_currency = x.as_str().unwrap().into(),
            "price" => want.price = f32_of(x),
            "change_percent" => want.change_percent = f32_of(x),
            "day_high" => want.day_high = f32_of(x),
            "day_low" => want.day_low = f32_of(x),
            "change" => want.change = f32_of(x),
            "open_price" => want.open_price = f32_of(x),
            "time" => want.time = i64_of(x),
            "day_volume" => want.day_volume = i64_of(x),
            "last_size" => want.last_size = i64_of(x),
            "price_hint" => want.price_hint = i64_of(x),
            "vol_24hr" => want.vol_24hr = i64_of(x),
            "vol_all_currencies" => want.vol_all_currencies = i64_of(x),
            "quote_type" => want.quote_type = x.as_i64().unwrap() as i32,
            "market_hours" => want.market_hours = x.as_i64().unwrap() as i32,
            "circulating_supply" => want.circulating_supply = x.as_f64().unwrap(),
            "market_cap" => want.market_cap = x.as_f64().unwrap(),
            other => panic!("the vector has a field this test does not check: {other}"),
        }
    }
    // every field, the absent ones included (zero), and the float32 price bit for bit
    let got = decode(b64).unwrap();
    assert_eq!(got, want);
    assert_eq!(f64::from(got.price), 94745.078125);
    assert_eq!(
        got.encode_to_vec(),
        STANDARD.decode(b64).unwrap(),
        "re-encodes to the same bytes"
    );

    // as a frame: JSON envelope (version=2) and bare base64 (legacy) give the same
    let framed = format!(r#"{{"type":"pricing","message":"{b64}"}}"#);
    for text in [framed.as_str(), b64] {
        let Frame::Price(p) = parse_frame(text, RECV).unwrap() else {
            panic!()
        };
        assert_eq!(
            (
                p.event.venue,
                p.event.symbol.as_str(),
                p.event.exch_ms,
                p.event.recv_ms
            ),
            (Venue::Yahoo, "BTC-USD", 1736509140000, RECV)
        );
        assert_eq!(p.hours, MarketHours::Regular);
        assert_eq!((p.currency.as_str(), p.exchange.as_str()), ("USD", "CCC"));
        assert_eq!(
            (p.change, p.change_percent),
            (1431.890625, f64::from(1.5344921_f32))
        );
        match p.event.kind {
            EventKind::Stats24h(s) => {
                assert_eq!(
                    (s.last, s.high, s.low, s.volume),
                    (94745.078125, 95227.5546875, 92517.21875, 59712028672.0)
                );
                // no previous_close in the message: price - change
                assert_eq!(s.open, f64::from((94745.078125_f64 - 1431.890625) as f32));
            }
            k => panic!("{k:?}"),
        }
        assert!(p.quote.is_none());
        assert!(p.event.validate().is_ok());
    }
    // the vector's invalid example
    let bad = v["invalid_example"]["message_base64"].as_str().unwrap();
    assert!(matches!(
        parse_frame(bad, RECV),
        Err(WireError::Base64(_) | WireError::Proto(_))
    ));
}

#[test]
fn hand_made_messages() {
    let enc = |p: PricingData| STANDARD.encode(p.encode_to_vec());
    let msg = PricingData {
        id: "^GSPC".into(),
        price: 6000.5,
        time: 1_740_000_000_000,
        market_hours: 2,
        previous_close: 5990.0,
        bid: 6000.25,
        ask: 6000.75,
        bid_size: 3,
        ask_size: 4,
        ..Default::default()
    };
    let Frame::Price(p) = parse_frame(&enc(msg.clone()), RECV).unwrap() else {
        panic!()
    };
    assert_eq!(
        (p.event.symbol.as_str(), p.hours),
        ("^GSPC", MarketHours::Post)
    );
    assert!(
        matches!(p.event.kind, EventKind::Stats24h(s) if s.open == 5990.0 && s.high == 6000.5 && s.low == 6000.5 && s.volume == 0.0)
    );
    assert!(
        matches!(p.quote.unwrap().kind, EventKind::Quote(q) if (q.bid, q.ask, q.bid_qty, q.ask_qty) == (6000.25, 6000.75, 3.0, 4.0))
    );
    // market_hours left out is proto3's zero: pre-market
    let Frame::Price(p) = parse_frame(
        &enc(PricingData {
            id: "ES=F".into(),
            price: 1.0,
            ..Default::default()
        }),
        RECV,
    )
    .unwrap() else {
        panic!()
    };
    assert_eq!((p.hours, p.event.exch_ms), (MarketHours::Pre, RECV));
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let e = parse_frame(
            &enc(PricingData {
                id: "AAPL".into(),
                price: bad,
                ..Default::default()
            }),
            RECV,
        )
        .unwrap_err();
        assert!(e.is_rejection(), "{bad}: {e}");
    }
    let hb = PricingData {
        id: "AAPL".into(),
        quote_type: 7,
        ..Default::default()
    };
    assert_eq!(
        parse_frame(&enc(hb), RECV).unwrap(),
        Frame::Unsupported {
            kind: "heartbeat".into()
        }
    );
    assert_eq!(
        parse_frame(r#"{"type":"news","message":"x"}"#, RECV).unwrap(),
        Frame::Unsupported {
            kind: "news".into()
        }
    );
    assert!(matches!(
        parse_frame(r#"{"type":"pricing"}"#, RECV),
        Err(WireError::NoMessage)
    ));
    let syms = [
        Symbol::new("AAPL").unwrap(),
        Symbol::new("eurusd=x").unwrap(),
    ];
    assert_eq!(
        subscription(&syms, true),
        r#"{"subscribe":["AAPL","EURUSD=X"]}"#
    );
    assert_eq!(
        subscription(&syms[..1], false),
        r#"{"unsubscribe":["AAPL"]}"#
    );
}

#[test]
fn chart_url_encodes_yahoo_symbols() {
    let s = Symbol::new("^GSPC").unwrap();
    assert_eq!(
        chart_url(
            "https://query1.finance.yahoo.com/",
            &s,
            "1m",
            Span::Range("1d"),
            true
        ),
        "https://query1.finance.yahoo.com/v8/finance/chart/%5EGSPC?interval=1m&range=1d&includePrePost=true"
    );
    let s = Symbol::new("ES=F").unwrap();
    assert_eq!(
        chart_url(
            "http://127.0.0.1:1",
            &s,
            "1m",
            Span::Period { from_s: 1, to_s: 2 },
            false
        ),
        "http://127.0.0.1:1/v8/finance/chart/ES%3DF?interval=1m&period1=1&period2=2&includePrePost=false"
    );
    assert_eq!(
        quote_url("https://q", &[Symbol::new("AAPL").unwrap(), s], "a/b"),
        "https://q/v7/finance/quote?symbols=AAPL,ES%3DF&crumb=a%2Fb"
    );
}

/// An intraday answer in Yahoo's shape with `tradingPeriods` (no such recording exists):
/// pre, regular and post rows are marked, the null row skipped, a row between sessions closed.
#[test]
fn intraday_rows_get_their_session() {
    let body = r#"{"chart":{"result":[{"meta":{"symbol":"AAPL","gmtoffset":-18000,"timezone":"EST","dataGranularity":"1m",
      "tradingPeriods":{"pre":[[{"timezone":"EST","start":1000,"end":2000,"gmtoffset":-18000}]],"regular":[[{"timezone":"EST","start":2000,"end":3000,"gmtoffset":-18000}]],"post":[[{"timezone":"EST","start":3000,"end":4000,"gmtoffset":-18000}]]}},
      "timestamp":[1000,2000,2060,3000,5000],
      "indicators":{"quote":[{"open":[1.0,2.0,null,3.0,4.0],"high":[1.0,2.0,null,3.0,4.0],"low":[1.0,2.0,null,3.0,4.0],"close":[1.0,2.0,null,3.0,4.0],"volume":[10,20,null,null,0]}]}}],"error":null}}"#;
    let c = parse_chart(body, "AAPL").unwrap();
    assert_eq!(c.skipped, 1);
    let got: Vec<_> = c
        .bars
        .iter()
        .map(|b| (b.candle.open_ms, b.hours, b.candle.volume))
        .collect();
    assert_eq!(
        got,
        [
            (1_000_000, MarketHours::Pre, 10.0),
            (2_000_000, MarketHours::Regular, 20.0),
            (3_000_000, MarketHours::Post, 0.0),
            (5_000_000, MarketHours::Closed, 0.0)
        ]
    );
    // includePrePost=false: a bare list of regular periods
    let body = body.replace(r#""tradingPeriods":{"pre":[[{"timezone":"EST","start":1000,"end":2000,"gmtoffset":-18000}]],"regular":"#, r#""tradingPeriods":"#).replace(r#","post":[[{"timezone":"EST","start":3000,"end":4000,"gmtoffset":-18000}]]}"#, "");
    let c = parse_chart(&body, "AAPL").unwrap();
    assert_eq!(
        c.bars.iter().map(|b| b.hours).collect::<Vec<_>>(),
        [
            MarketHours::Closed,
            MarketHours::Regular,
            MarketHours::Closed,
            MarketHours::Closed
        ]
    );
    let e = parse_chart(r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#, "NOPE").unwrap_err();
    assert!(matches!(e, ChartError::NotFound { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("NOPE") && msg.contains("delisted") && msg.contains("[yahoo].symbols"),
        "{msg}"
    );
    assert!(matches!(
        parse_chart(
            r#"{"chart":{"result":null,"error":{"code":"Bad Request","description":"Invalid input"}}}"#,
            "X"
        ),
        Err(ChartError::Api { .. })
    ));
}

#[test]
fn recorded_charts() {
    let Some(aapl) = fixture("yf2_chart-AAPL-2020-08-31-to-2020-11-07.json") else {
        return;
    };
    let c = parse_chart(&body(&aapl), "AAPL").unwrap();
    assert_eq!((c.bars.len(), c.skipped), (49, 0));
    let first = c.bars[0].candle;
    assert_eq!(
        (first.open_ms, first.high, first.low, first.volume),
        (1598880600000, 131.0, 126.0, 225702700.0)
    );
    assert!(
        near(first.open, 127.58000183105469) && near(first.close, 129.0399932861328),
        "{first:?}"
    );
    assert!(c.bars.iter().all(|b| b.hours == MarketHours::Regular));
    let m = &c.meta;
    assert_eq!(
        (
            m.timezone.as_deref(),
            m.gmtoffset,
            m.regular_market_time,
            m.exchange_name.as_deref()
        ),
        (Some("EST"), -18000, Some(1739998801), Some("NMS"))
    );
    assert_eq!(
        m.exchange_timezone_name.as_deref(),
        Some("America/New_York")
    );
    assert_eq!(m.current_trading_period.unwrap().regular.start, 1740061800);

    // 1m over a weekend: meta, no rows at all (no flat candles)
    let wk =
        fixture("yf2_chart-AAPL-2025-02-01-to-2025-02-02-includePrePost-false-interval-1m.json")
            .unwrap();
    let c = parse_chart(&body(&wk), "AAPL").unwrap();
    assert_eq!(
        (c.bars.len(), c.skipped, c.meta.data_granularity.as_deref()),
        (0, 0, Some("1m"))
    );
    assert_eq!(c.meta.regular_market_price, Some(244.87));

    let cases = [
        (
            "yf2_chart-BTC-USD-2020-01-01-to-2020-01-03.json",
            "BTC-USD",
            "UTC",
            0,
            1577836800000,
            7194.89208984375,
            7200.17431640625,
            18565664997.0,
        ),
        (
            "yf2_chart-EURUSD=X-2020-01-01-to-2020-01-03.json",
            "EURUSD=X",
            "GMT",
            0,
            1577836800000,
            1.1220825910568237,
            1.1220825910568237,
            0.0,
        ),
        (
            "yf2_chart-WSU.DE-2023-08-04-to-2023-08-09.json",
            "WSU.DE",
            "CET",
            3600,
            1691132400000,
            34.25,
            34.45000076293945,
            1251.0,
        ),
    ];
    for (file, sym, tz, off, t0, open, close, vol) in cases {
        let c = parse_chart(&body(&fixture(file).unwrap()), sym).unwrap();
        assert_eq!(c.bars.len(), 3, "{file}");
        assert_eq!(
            (
                c.meta.symbol.as_str(),
                c.meta.timezone.as_deref(),
                c.meta.gmtoffset
            ),
            (sym, Some(tz), off)
        );
        let b = c.bars[0].candle;
        assert_eq!((b.open_ms, b.volume), (t0, vol), "{file}");
        assert!(near(b.open, open) && near(b.close, close), "{file}: {b:?}");
        assert!(Symbol::new(sym).is_ok());
    }
    // the WSU.DE days skip the weekend of 2023-08-05/06
    let c = parse_chart(&body(&fixture(cases[2].0).unwrap()), "WSU.DE").unwrap();
    assert_eq!(
        c.bars
            .iter()
            .map(|b| b.candle.open_ms / 1000)
            .collect::<Vec<_>>(),
        [1691132400, 1691391600, 1691478000]
    );
}

#[test]
fn recorded_quotes_and_errors() {
    let Some(aapl) = fixture("yf2_quote-AAPL.json") else {
        return;
    };
    let q = parse_quotes(&body(&aapl), RECV).unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(
        (q[0].event.symbol.as_str(), q[0].event.exch_ms, q[0].hours),
        ("AAPL", 1739566800000, MarketHours::Closed)
    );
    assert!(
        matches!(q[0].event.kind, EventKind::Stats24h(s) if (s.last, s.open, s.high, s.low, s.volume) == (244.6, 241.53, 245.41, 241.0, 40896227.0))
    );
    assert!(
        matches!(q[0].quote.unwrap().kind, EventKind::Quote(x) if (x.bid, x.ask, x.bid_qty, x.ask_qty) == (244.44, 253.37, 2.0, 1.0))
    );
    let btc = parse_quotes(&body(&fixture("yf2_quote-BTC-USD.json").unwrap()), RECV).unwrap();
    assert_eq!((btc[0].hours, btc[0].quote), (MarketHours::Regular, None));
    assert!(
        matches!(btc[0].event.kind, EventKind::Stats24h(s) if s.last == 96077.45 && s.open == 96137.88)
    );

    for (file, desc) in [
        (
            "yf2_quoteSummary-assetProfile-EURUSD=X.json",
            "No fundamentals data found for any of the summaryTypes=assetProfile",
        ),
        (
            "yf2_2021_quoteSummary-assetProfile-QQQ,.json",
            "Quote not found for ticker symbol: QQQ,",
        ),
    ] {
        let rec = fixture(file).unwrap();
        assert_eq!(rec["response"]["status"], 404);
        assert_eq!(
            api_error(&body(&rec)),
            Some(("Not Found".into(), desc.into())),
            "{file}"
        );
    }
    assert_eq!(api_error(&body(&aapl)), None);
}

#[test]
fn crumb_handshake() {
    let Some(first) = fixture("yf2_getCrumb-quote-AAPL.json") else {
        return;
    };
    let loc = |r: &serde_json::Value| {
        r["response"]["headers"]["location"]
            .as_str()
            .map(String::from)
    };
    let status = |r: &serde_json::Value| r["response"]["status"].as_u64().unwrap() as u16;
    // the first page redirects to consent; the consent pages chain on; the last one does not
    assert_eq!(
        consent_redirect(status(&first), loc(&first).as_deref()),
        Some(YahooRefusal::Consent("guce.yahoo.com".into()))
    );
    let consent = fixture("yf2_getCrumb-quote-AAPL-consent.html.json").unwrap();
    assert_eq!(
        consent_redirect(status(&consent), loc(&consent).as_deref()),
        Some(YahooRefusal::Consent("consent.yahoo.com".into()))
    );
    let last = fixture("yf2_getCrumb-quote-AAPL-consent-final-redirect.html.json").unwrap();
    assert_eq!(consent_redirect(status(&last), loc(&last).as_deref()), None);
    // the crumb: plain text
    let rec = fixture("yf2_getCrumb-getcrumb.json").unwrap();
    assert_eq!(
        parse_crumb(status(&rec), &body(&rec)),
        Ok("haT3oykhHqZ".into())
    );
    // a consent page where a crumb should be, and the refusals (not recorded; Yahoo's texts)
    assert_eq!(
        parse_crumb(200, &body(&last)),
        Err(YahooRefusal::NoCrumb { status: 200 })
    );
    assert_eq!(
        parse_crumb(200, ""),
        Err(YahooRefusal::NoCrumb { status: 200 })
    );
    assert_eq!(
        parse_crumb(429, "Edge: Too Many Requests"),
        Err(YahooRefusal::TooManyRequests)
    );
    let invalid = r#"{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}"#;
    assert_eq!(refusal(401, invalid), Some(YahooRefusal::InvalidCrumb));
    assert_eq!(refusal(200, r#"{"chart":{}}"#), None);
    for r in [YahooRefusal::InvalidCrumb, YahooRefusal::TooManyRequests] {
        let m = r.to_string();
        assert!(m.contains("wait") || m.contains("new crumb"), "{m}");
    }
}

#[test]
fn a_weekend_chart_has_no_bars_and_its_meta_gives_the_session_and_the_last_price() {
    let Some(rec) =
        fixture("yf2_chart-AAPL-2025-02-01-to-2025-02-02-includePrePost-false-interval-1m.json")
    else {
        return;
    };
    let c = parse_chart(&body(&rec), "AAPL").unwrap();
    assert!(c.bars.is_empty(), "a weekend: no flat candles");
    let m = &c.meta;
    // currentTradingPeriod: pre 1740042000.., regular 1740061800..1740085200, post ..1740099600
    assert_eq!(m.session_now(1740050000), Some(MarketHours::Pre));
    assert_eq!(m.session_now(1740061800), Some(MarketHours::Regular));
    assert_eq!(m.session_now(1740090000), Some(MarketHours::Post));
    assert_eq!(m.session_now(1740099600), Some(MarketHours::Closed));
    let s = m.stats().unwrap();
    assert_eq!(
        (s.last, s.open, s.high, s.low, s.volume),
        (244.87, 244.47, 246.01, 243.16, 32129951.0)
    );
}
