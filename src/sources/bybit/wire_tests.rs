//! Table-driven tests over hand-written frames in Bybit's exact shapes, and conformance over the
//! real capture and the docs' examples in ../shared/fixtures/bybit (skipped when
//! TICKWATCH_FIXTURES is unset, a failure under CI).

use std::collections::HashMap;

use super::rest::{RestError, kline_url, parse_klines, parse_recent_trades, recent_trade_url};
use super::wire::{
    Frame, PING, Request, SPOT_MAX_ARGS_PER_REQUEST, WireError, is_book, parse_frame, requests,
    topics,
};
use crate::domain::{EventKind, Interval, MarketEvent, Side, Symbol, Venue};
use crate::sources::ChangeKind;
use crate::testdata::fixtures;

const RECV: i64 = 1_786_310_900_000;

fn events(text: &str) -> Vec<MarketEvent> {
    match parse_frame(text, RECV) {
        Ok(Frame::Events(e)) => e,
        other => panic!("{text}: {other:?}"),
    }
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

#[test]
fn trades_candles_and_tickers() {
    let t = events(
        r#"{"topic":"publicTrade.BTCUSDT","ts":1786310822606,"type":"snapshot","data":[{"i":"2290000001189048101","T":1786310822605,"p":"65140.5","v":"0.002705","S":"Buy","seq":112488547164,"s":"BTCUSDT","BT":false,"RPI":false},{"i":"2290000001189048102","T":1786310823896,"p":"65140.4","v":"0.000373","S":"Sell","s":"BTCUSDT"}]}"#,
    );
    assert_eq!(t.len(), 2);
    assert_eq!(
        (t[0].venue, t[0].symbol, t[0].exch_ms, t[0].recv_ms),
        (Venue::Bybit, sym("BTCUSDT"), 1786310822605, RECV)
    );
    match (t[0].kind, t[1].kind) {
        (EventKind::Trade(a), EventKind::Trade(b)) => {
            assert_eq!(
                (a.trade_id, a.price, a.qty, a.side),
                (2290000001189048101, 65140.5, 0.002705, Side::Buy)
            );
            assert_eq!((b.trade_id, b.side), (2290000001189048102, Side::Sell));
        }
        k => panic!("{k:?}"),
    }

    let k = events(
        r#"{"type":"snapshot","topic":"kline.1.BTCUSDT","data":[{"start":1786310760000,"end":1786310819999,"interval":"1","open":"65140.4","close":"65140.5","high":"65140.5","low":"65140.4","volume":"0.15388","turnover":"10023.8067889","confirm":true,"timestamp":1786310820563}],"ts":1786310820563}"#,
    );
    assert_eq!(k[0].exch_ms, 1786310760000);
    match k[0].kind {
        EventKind::Candle {
            interval,
            candle: c,
            closed,
        } => {
            assert_eq!((interval, closed), (Interval::M1, true));
            assert_eq!(
                (c.open, c.high, c.low, c.close, c.volume, c.trades),
                (65140.4, 65140.5, 65140.4, 65140.5, 0.15388, 0)
            );
        }
        k => panic!("{k:?}"),
    }

    // spot tickers: 24 h statistics only (no bid/ask on spot)
    let s = events(
        r#"{"topic":"tickers.BTCUSDT","ts":1786310819126,"type":"snapshot","cs":112488546160,"data":{"symbol":"BTCUSDT","lastPrice":"65140.5","highPrice24h":"65305.6","lowPrice24h":"64727.9","prevPrice24h":"65045.3","volume24h":"2953.835931","turnover24h":"191907024.69597728","price24hPcnt":"0.0015","usdIndexPrice":"65091.459221"}}"#,
    );
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].exch_ms, 1786310819126);
    assert!(
        matches!(s[0].kind, EventKind::Stats24h(x) if (x.open, x.high, x.low, x.last, x.volume) == (65045.3, 65305.6, 64727.9, 65140.5, 2953.835931))
    );
    // a ticker with best bid/ask also yields a quote
    let q = events(
        r#"{"topic":"tickers.BTCUSDT","ts":1,"type":"snapshot","data":{"symbol":"BTCUSDT","lastPrice":"10","highPrice24h":"11","lowPrice24h":"9","prevPrice24h":"9.5","volume24h":"5","bid1Price":"9.9","bid1Size":"2","ask1Price":"10.1","ask1Size":"3"}}"#,
    );
    assert!(
        matches!(q[1].kind, EventKind::Quote(x) if (x.bid, x.bid_qty, x.ask, x.ask_qty) == (9.9, 2.0, 10.1, 3.0))
    );
}

#[test]
fn answers_pongs_and_other_frames() {
    let cases: &[(&str, Frame)] = &[
        (
            r#"{"success":true,"ret_msg":"subscribe","conn_id":"d9avt8shteepr00gfc1g-4zd1x","op":"subscribe"}"#,
            Frame::Ack {
                op: "subscribe".into(),
                req_id: None,
            },
        ),
        (
            r#"{"success":true,"ret_msg":"subscribe","conn_id":"c","req_id":"7","op":"unsubscribe"}"#,
            Frame::Ack {
                op: "unsubscribe".into(),
                req_id: Some("7".into()),
            },
        ),
        (
            r#"{"success":false,"ret_msg":"Invalid symbol :[publicTrade.NOPEUSDT, tickers.NOPEUSDT]","conn_id":"c","req_id":"3","op":"subscribe"}"#,
            Frame::Refused {
                op: "subscribe".into(),
                req_id: Some("3".into()),
                message: "Invalid symbol :[publicTrade.NOPEUSDT, tickers.NOPEUSDT]".into(),
                topics: vec!["publicTrade.NOPEUSDT".into(), "tickers.NOPEUSDT".into()],
            },
        ),
        (
            r#"{"success":true,"ret_msg":"pong","conn_id":"0970e817","op":"ping"}"#,
            Frame::Pong,
        ),
        (
            r#"{"req_id":"1","op":"pong","args":["1672916271846"],"conn_id":"x"}"#,
            Frame::Pong,
        ),
        (
            r#"{"topic":"orderbook.200.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[["1","2"]],"a":[],"u":2,"seq":3}}"#,
            Frame::Unsupported {
                kind: "orderbook.200".into(),
            },
        ),
        (
            r#"{"topic":"kline.5.BTCUSDT","type":"snapshot","ts":1,"data":[]}"#,
            Frame::Unsupported {
                kind: "kline.5".into(),
            },
        ),
        (
            r#"{"topic":"tickers.BTCUSDT","type":"delta","ts":1,"data":{"symbol":"BTCUSDT","bid1Price":"1"}}"#,
            Frame::Unsupported {
                kind: "tickers delta".into(),
            },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&parse_frame(text, RECV).unwrap(), want, "{text}");
    }
}

#[test]
fn bad_values_are_rejected_not_passed_on() {
    let trade = |p: &str, v: &str, i: &str| {
        format!(
            r#"{{"topic":"publicTrade.BTCUSDT","ts":1,"type":"snapshot","data":[{{"i":"{i}","T":1786310822605,"p":"{p}","v":"{v}","S":"Buy","s":"BTCUSDT"}}]}}"#
        )
    };
    for (p, v) in [
        ("NaN", "1"),
        ("0", "1"),
        ("-1", "1"),
        ("inf", "1"),
        ("1", "0"),
        ("1", "-2"),
    ] {
        let e = parse_frame(&trade(p, v, "5"), RECV).unwrap_err();
        assert!(e.is_rejection(), "{p} {v}: {e}");
    }
    assert!(matches!(
        parse_frame(&trade("1", "1", "a9188a0a-82bc"), RECV),
        Err(WireError::TradeId(_))
    ));
    assert!(matches!(
        parse_frame(&trade("x", "1", "5"), RECV),
        Err(WireError::Number { .. })
    ));
    assert!(matches!(
        parse_frame("{not json", RECV),
        Err(WireError::Json(_))
    ));
    let no_price = r#"{"topic":"publicTrade.BTCUSDT","data":[{"i":"5","T":1,"v":"1","S":"Buy"}]}"#;
    assert!(matches!(
        parse_frame(no_price, RECV),
        Err(WireError::Missing { field: "p", .. })
    ));
}

#[test]
fn requests_hold_at_most_ten_topics_each() {
    let all: Vec<String> = (0..9)
        .flat_map(|i| topics(&sym(&format!("C{i}USDT")), false))
        .collect();
    assert_eq!(all.len(), 27);
    let reqs = requests(ChangeKind::Subscribe, &all, 40);
    assert_eq!(
        reqs.iter().map(|r| r.topics.len()).collect::<Vec<_>>(),
        [10, 10, 7]
    );
    assert!(
        reqs.iter()
            .all(|r| r.topics.len() <= SPOT_MAX_ARGS_PER_REQUEST)
    );
    assert_eq!(reqs[2].req_id, "42");
    let one = requests(ChangeKind::Unsubscribe, &topics(&sym("BTCUSDT"), false), 1);
    assert_eq!(one, vec![Request {
        req_id: "1".into(),
        topics: vec!["publicTrade.BTCUSDT".into(), "kline.1.BTCUSDT".into(), "tickers.BTCUSDT".into()],
        text: r#"{"args":["publicTrade.BTCUSDT","kline.1.BTCUSDT","tickers.BTCUSDT"],"op":"unsubscribe","req_id":"1"}"#.into(),
    }]);
    assert_eq!(PING, r#"{"op":"ping"}"#);
}

#[test]
fn depth_adds_the_orderbook_50_topic_and_its_pushes_are_told_apart() {
    assert_eq!(
        topics(&sym("BTCUSDT"), true),
        [
            "publicTrade.BTCUSDT",
            "kline.1.BTCUSDT",
            "tickers.BTCUSDT",
            "orderbook.50.BTCUSDT"
        ]
    );
    assert!(is_book(
        r#"{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1,"data":{"s":"BTCUSDT","b":[],"a":[],"u":2,"seq":3}}"#
    ));
    assert!(!is_book(
        r#"{"topic":"tickers.BTCUSDT","type":"snapshot","ts":1,"data":{}}"#
    ));
    assert!(!is_book(
        r#"{"success":true,"ret_msg":"subscribe","conn_id":"c","req_id":"7","op":"subscribe"}"#
    ));
}

#[test]
fn rest_urls_errors_and_order() {
    let s = sym("BTCUSDT");
    assert_eq!(
        recent_trade_url("https://api.bybit.com/", &s, 500),
        "https://api.bybit.com/v5/market/recent-trade?category=spot&symbol=BTCUSDT&limit=60"
    );
    assert_eq!(
        kline_url("http://127.0.0.1:9", &s, 1_700_000_000_000, 0),
        "http://127.0.0.1:9/v5/market/kline?category=spot&symbol=BTCUSDT&interval=1&start=1700000000000&limit=1"
    );
    let e = parse_klines(r#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{},"retExtInfo":{},"time":1}"#, &sym("NOPEUSDT")).unwrap_err();
    assert!(matches!(e, RestError::UnknownSymbol { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("NOPEUSDT") && msg.contains("[bybit].symbols"),
        "{msg}"
    );
    let e =
        parse_recent_trades(r#"{"retCode":10006,"retMsg":"Too many visits!"}"#, &s).unwrap_err();
    assert!(
        matches!(e, RestError::RateLimited { code: 10006, .. }),
        "{e}"
    );
    // newest first from Bybit, oldest first from us
    let t = parse_recent_trades(r#"{"retCode":0,"retMsg":"OK","result":{"category":"spot","list":[
        {"execId":"12","symbol":"BTCUSDT","price":"2","size":"1","side":"Sell","time":"1700000000002","isBlockTrade":false},
        {"execId":"11","symbol":"BTCUSDT","price":"1","size":"1","side":"Buy","time":"1700000000001","isBlockTrade":false}]}}"#, &s).unwrap();
    assert_eq!(
        t.iter()
            .map(|(ts, t)| (*ts, t.trade_id, t.side))
            .collect::<Vec<_>>(),
        [
            (1700000000001, 11, Side::Buy),
            (1700000000002, 12, Side::Sell)
        ]
    );
}

/// The docs' examples (values invented by Bybit, shapes real).
#[test]
fn docs_examples() {
    let Some(dir) = fixtures() else { return };
    let text = std::fs::read_to_string(dir.join("bybit/bybit_v5_docs_examples.jsonl")).unwrap();
    let mut seen = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        let (doc, section, ex) = (
            rec["doc"].as_str().unwrap(),
            rec["section"].as_str().unwrap(),
            rec["example"].to_string(),
        );
        let s = sym("BTCUSDT");
        match (doc, section) {
            ("market/recent-trade.mdx", _) => {
                let t = parse_recent_trades(&ex, &s).unwrap();
                assert_eq!(
                    (
                        t[0].0,
                        t[0].1.trade_id,
                        t[0].1.price,
                        t[0].1.qty,
                        t[0].1.side
                    ),
                    (
                        1672052955758,
                        2100000000007764263,
                        16618.49,
                        0.00012,
                        Side::Buy
                    )
                );
            }
            ("market/kline.mdx", _) => {
                let c = parse_klines(&ex, &s).unwrap();
                assert_eq!(
                    c.iter().map(|c| c.open_ms).collect::<Vec<_>>(),
                    [1670601600000, 1670605200000, 1670608800000]
                );
                assert_eq!(
                    (c[2].open, c[2].high, c[2].low, c[2].close, c[2].volume),
                    (17071.0, 17073.0, 17027.0, 17055.5, 268611.0)
                );
            }
            // the docs' trade example is a derivatives one: its id is a UUID
            ("websocket/public/trade.mdx", _) => {
                assert!(
                    matches!(parse_frame(&ex, RECV), Err(WireError::TradeId(id)) if id.starts_with("20f43950"))
                );
            }
            ("websocket/public/ticker.mdx", s) if s.ends_with("Spot") => {
                let e = events(&ex);
                assert!(
                    matches!(e[..], [MarketEvent { kind: EventKind::Stats24h(x), exch_ms: 1673853746003, .. }] if x.last == 21109.77 && x.low == 20575.0)
                );
            }
            ("websocket/public/ticker.mdx", s) if s.contains("Linear") => {
                let e = events(&ex);
                assert!(matches!(e[1].kind, EventKind::Quote(_)), "{s}");
            }
            ("websocket/public/kline.mdx", _) => {
                assert_eq!(
                    parse_frame(&ex, RECV).unwrap(),
                    Frame::Unsupported {
                        kind: "kline.5".into()
                    }
                );
            }
            _ => continue,
        }
        seen += 1;
    }
    assert_eq!(seen, 7);
}

/// The real capture, spot connection: every frame reads, and trade ids go up by exactly one.
#[test]
fn real_spot_capture() {
    let Some(dir) = fixtures() else { return };
    let text = std::fs::read_to_string(
        dir.join("bybit/cryptofeed_BYBIT_v5_linear+spot_BTCUSDT_2026-08-09.jsonl"),
    )
    .unwrap();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let (mut trades, mut candles, mut stats) = (Vec::new(), Vec::new(), Vec::new());
    let mut linear_id_errors = 0;
    for line in text.lines() {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        if rec["t"] != "recv" {
            continue;
        }
        let data = rec["data"].as_str().unwrap();
        if rec["conn"] == "BYBIT.ws.2" {
            // linear: trade ids are UUIDs, tickers deltas; never read as spot
            match parse_frame(data, RECV) {
                Err(WireError::TradeId(_)) => linear_id_errors += 1,
                Ok(_) => {}
                Err(e) => panic!("{e}: {data}"),
            }
            continue;
        }
        let kind = match parse_frame(data, RECV).unwrap_or_else(|e| panic!("{e}: {data}")) {
            Frame::Events(ev) => {
                for e in ev {
                    match e.kind {
                        EventKind::Trade(t) => trades.push((e.exch_ms, t)),
                        EventKind::Candle { candle, closed, .. } => candles.push((candle, closed)),
                        EventKind::Stats24h(s) => stats.push(s),
                        EventKind::Quote(_) => panic!("spot tickers carry no bid/ask"),
                    }
                    assert!(e.validate().is_ok(), "{e:?}");
                }
                "events".to_string()
            }
            Frame::Ack { .. } => "ack".into(),
            Frame::Unsupported { kind } => kind,
            other => panic!("{other:?}"),
        };
        *counts.entry(kind).or_default() += 1;
    }
    assert_eq!(counts["ack"], 7);
    assert_eq!(counts["orderbook.200"], 300);
    assert_eq!((trades.len(), candles.len(), stats.len()), (11, 15, 41));
    assert_eq!(linear_id_errors, 16);
    let ids: Vec<u64> = trades.iter().map(|(_, t)| t.trade_id).collect();
    assert_eq!(
        ids,
        (2290000001189048101..=2290000001189048111).collect::<Vec<_>>()
    );
    let (ts, first) = trades[0];
    assert_eq!(
        (ts, first.price, first.qty, first.side),
        (1786310822605, 65140.5, 0.002705, Side::Buy)
    );
    assert!(
        matches!(trades[3].1, t if t.side == Side::Sell && t.price == 65140.4 && t.qty == 0.001875)
    );
    let closed: Vec<_> = candles.iter().filter(|(_, c)| *c).map(|(c, _)| c).collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(
        (
            closed[0].open_ms,
            closed[0].open,
            closed[0].close,
            closed[0].volume
        ),
        (1786310760000, 65140.4, 65140.5, 0.15388)
    );
    assert_eq!(
        (stats[0].last, stats[0].open, stats[0].volume),
        (65140.5, 65045.3, 2953.835931)
    );
}
