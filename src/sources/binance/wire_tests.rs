//! Table-driven parse tests over hand-written frames in Binance's exact shapes, and conformance
//! over the real captures in ../shared/fixtures (skipped when TICKWATCH_FIXTURES is unset).

use super::rest::{parse_agg_trades, parse_klines};
use super::wire::{Frame, ParseError, bench_support, parse_frame};
use crate::domain::{EventKind, Interval, Side};
use crate::testdata::fixtures;

const RECV: i64 = 1_700_000_000_000;

fn event(text: &str) -> crate::domain::MarketEvent {
    match parse_frame(text, RECV) {
        Ok(Frame::Event(e)) => e,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn trade_agg_trade_kline_ticker_and_book_frames() {
    let agg = event(
        r#"{"stream":"ftmusdt@aggTrade","data":{"e":"aggTrade","E":1628952396573,"s":"FTMUSDT","a":31718372,"p":"0.33993000","q":"99.90000000","f":38248910,"l":38248910,"T":1628952396572,"m":true,"M":true}}"#,
    );
    assert_eq!(agg.symbol.as_str(), "FTMUSDT");
    assert_eq!(agg.exch_ms, 1628952396572);
    assert_eq!(agg.recv_ms, RECV);
    match agg.kind {
        EventKind::Trade(t) => {
            assert_eq!(
                (t.trade_id, t.price, t.qty, t.side),
                (31718372, 0.33993, 99.9, Side::Sell)
            )
        }
        k => panic!("{k:?}"),
    }
    // raw (/ws) trade frame, buyer taker
    let tr = event(
        r#"{"e":"trade","E":1672515782136,"s":"BNBBTC","t":12345,"p":"0.001","q":"100","T":1672515782136,"m":false,"M":true}"#,
    );
    assert!(matches!(tr.kind, EventKind::Trade(t) if t.trade_id == 12345 && t.side == Side::Buy));

    let k = event(
        r#"{"e":"kline","E":1672515782136,"s":"BNBBTC","k":{"t":1672515780000,"T":1672515839999,"s":"BNBBTC","i":"1m","f":100,"L":200,"o":"0.0010","c":"0.0020","h":"0.0025","l":"0.0015","v":"1000","n":100,"x":true,"q":"1.0000","V":"500","Q":"0.500","B":"123456"}}"#,
    );
    assert_eq!(k.exch_ms, 1672515780000);
    match k.kind {
        EventKind::Candle {
            interval,
            candle,
            closed,
        } => {
            assert_eq!(interval, Interval::M1);
            assert!(closed);
            assert_eq!(
                (
                    candle.open,
                    candle.high,
                    candle.low,
                    candle.close,
                    candle.volume,
                    candle.trades
                ),
                (0.001, 0.0025, 0.0015, 0.002, 1000.0, 100)
            );
        }
        k => panic!("{k:?}"),
    }

    let m = event(
        r#"{"e":"24hrMiniTicker","E":1672515782136,"s":"BNBBTC","c":"0.0025","o":"0.0010","h":"0.0025","l":"0.0010","v":"10000","q":"18"}"#,
    );
    assert!(
        matches!(m.kind, EventKind::Stats24h(s) if s.last == 0.0025 && s.low == 0.001 && s.volume == 10000.0)
    );
    assert_eq!(m.exch_ms, 1672515782136);

    let b = event(
        r#"{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}"#,
    );
    assert!(
        matches!(b.kind, EventKind::Quote(q) if q.bid == 25.3519 && q.ask == 25.3652 && q.ask_qty == 40.66)
    );
    assert_eq!(b.exch_ms, RECV);
}

#[test]
fn control_frames_and_unsupported_kinds() {
    let cases: &[(&str, Frame)] = &[
        (r#"{"result":null,"id":1}"#, Frame::Ack { id: 1 }),
        (
            r#"{"result":["btcusdt@aggTrade"],"id":3}"#,
            Frame::Ack { id: 3 },
        ),
        (
            r#"{"error":{"code":2,"msg":"Invalid request: unknown variant \"SUBSCRIB\""},"id":1}"#,
            Frame::Error {
                code: 2,
                msg: "Invalid request: unknown variant \"SUBSCRIB\"".into(),
                id: Some(1),
            },
        ),
        (
            r#"{"e":"serverShutdown","E":1770123456789}"#,
            Frame::ServerShutdown {
                at_ms: Some(1770123456789),
            },
        ),
        (
            r#"{"stream":"!serverShutdown","data":{"e":"serverShutdown","E":1770123456789}}"#,
            Frame::ServerShutdown {
                at_ms: Some(1770123456789),
            },
        ),
        (
            r#"{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}"#,
            Frame::Unsupported {
                kind: "depthUpdate".into(),
            },
        ),
        (
            r#"{"lastUpdateId":160,"bids":[["0.0024","10"]],"asks":[["0.0026","100"]]}"#,
            Frame::Unsupported {
                kind: "partial depth".into(),
            },
        ),
        (
            r#"{"e":"kline","E":1,"s":"BNBBTC","k":{"t":1672515780000,"T":1,"s":"BNBBTC","i":"3m","o":"1","c":"1","h":"1","l":"1","v":"1","n":1,"x":false}}"#,
            Frame::Unsupported {
                kind: "kline_3m".into(),
            },
        ),
    ];
    for (text, want) in cases {
        assert_eq!(&parse_frame(text, RECV).unwrap(), want, "{text}");
    }
}

#[test]
fn garbage_and_broken_frames_are_errors_that_say_why() {
    assert!(matches!(
        parse_frame("not json", RECV),
        Err(ParseError::Json(_))
    ));
    assert!(matches!(parse_frame("", RECV), Err(ParseError::Json(_))));
    let e = parse_frame(r#"{"e":"aggTrade","s":"X","p":"1","q":"1","T":1}"#, RECV).unwrap_err();
    assert!(e.to_string().contains("\"a\""), "{e}");
    let e = parse_frame(
        r#"{"e":"trade","s":"X","t":1,"p":"abc","q":"1","T":1}"#,
        RECV,
    )
    .unwrap_err();
    assert!(e.to_string().contains("abc"), "{e}");
}

#[test]
fn fixture_ws_combined_capture_parses_every_frame() {
    let Some(dir) = fixtures() else { return };
    let path = dir.join("binance_ws_capture/binance_spot_combined_2021-08-14.frames.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let (mut trades, mut candles, mut closed, mut quotes, mut unsupported) = (0, 0, 0, 0, 0);
    let mut last_agg: std::collections::HashMap<String, u64> = Default::default();
    for (i, line) in text.lines().enumerate() {
        let frame = parse_frame(line, RECV).unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
        match frame {
            Frame::Event(ev) => {
                ev.validate()
                    .unwrap_or_else(|e| panic!("line {}: {e}", i + 1));
                match ev.kind {
                    EventKind::Trade(t) => {
                        trades += 1;
                        let prev = last_agg.insert(ev.symbol.to_string(), t.trade_id);
                        assert!(prev.is_none_or(|p| p < t.trade_id), "ids go forward");
                    }
                    EventKind::Candle {
                        closed: c,
                        interval,
                        ..
                    } => {
                        assert_eq!(interval, Interval::M1);
                        candles += 1;
                        closed += usize::from(c);
                    }
                    EventKind::Quote(_) => quotes += 1,
                    EventKind::Stats24h(_) => panic!("no tickers in this capture"),
                }
            }
            Frame::Unsupported { kind } => {
                assert_eq!(kind, "depthUpdate");
                unsupported += 1;
            }
            other => panic!("line {}: {other:?}", i + 1),
        }
    }
    assert_eq!((trades, candles, quotes, unsupported), (28, 17, 412, 546));
    assert!(closed > 0, "the capture has closed candles");
}

#[test]
fn fixture_old_trade_frame_with_order_ids_and_docs_examples() {
    let Some(dir) = fixtures() else { return };
    let old =
        std::fs::read_to_string(dir.join("misc/nautilus_ws_spot_trade_ethusdt_2021-12-12.json"))
            .unwrap();
    let ev = event(&old);
    assert!(
        matches!(ev.kind, EventKind::Trade(t) if t.trade_id == 705291099 && t.price == 4149.74 && t.side == Side::Sell)
    );
    assert_eq!(ev.exch_ms, 1639351062243);

    let docs =
        std::fs::read_to_string(dir.join("misc/binance_spot_ws_docs_examples.jsonl")).unwrap();
    let mut kinds = Vec::new();
    for line in docs.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let section = v["section"].as_str().unwrap_or_default().to_string();
        let frame = v["example"].to_string();
        if v["example"].get("method").is_some() {
            continue; // requests we send, not frames we read
        }
        let parsed = parse_frame(&frame, RECV).unwrap_or_else(|e| panic!("{section}: {e}"));
        kinds.push(match parsed {
            Frame::Event(e) => match e.kind {
                EventKind::Trade(_) => "trade",
                EventKind::Candle { .. } => "candle",
                EventKind::Stats24h(_) => "stats",
                EventKind::Quote(_) => "quote",
            },
            Frame::Ack { .. } => "ack",
            Frame::ServerShutdown { .. } => "shutdown",
            Frame::Error { .. } => "error",
            Frame::Unsupported { .. } => "unsupported",
        });
    }
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(count("trade"), 2, "{kinds:?}"); // aggTrade + trade (blockTrade is unsupported)
    assert_eq!(count("candle"), 2);
    assert_eq!(count("stats"), 1);
    assert_eq!(count("quote"), 1);
    assert_eq!(count("shutdown"), 2);
    assert_eq!(count("ack"), 5);
}

#[test]
fn fixture_rest_klines_and_agg_trades() {
    let Some(dir) = fixtures() else { return };
    let body =
        std::fs::read(dir.join("binance_rest/nautilus_http_spot_market_klines.json")).unwrap();
    let candles = parse_klines(&body).unwrap();
    assert_eq!(candles.len(), 10);
    assert_eq!(candles[0].open_ms, 1634943780000);
    assert_eq!((candles[0].open, candles[0].trades), (60685.22, 617));
    assert!(
        candles
            .windows(2)
            .all(|w| w[1].open_ms == w[0].open_ms + 60_000)
    );
    let body =
        std::fs::read(dir.join("binance_rest/nautilus_http_spot_market_agg_trades.json")).unwrap();
    let trades = parse_agg_trades(&body).unwrap();
    assert_eq!(trades.len(), 10);
    assert_eq!(trades[0].1.trade_id, 966492862);
    assert_eq!(trades[0].0, 1634944096633);
    assert!(
        trades
            .windows(2)
            .all(|w| w[1].1.trade_id == w[0].1.trade_id + 1)
    );
}

// ---- fast path vs general path ----

/// Both paths' answers, as text (`ParseError` holds a serde_json error and is not `PartialEq`;
/// a NaN price would not compare equal to itself).
fn both_paths(text: &str) -> (String, String) {
    let general = bench_support::parse_general(text, RECV);
    (
        format!("{:?}", parse_frame(text, RECV)),
        format!("{general:?}"),
    )
}

/// Asserts that `parse_frame` (fast path first) and the general path agree on `text`, and
/// returns whether the fast path answered it itself.
fn agree(text: &str) -> bool {
    let (frame, general) = both_paths(text);
    assert_eq!(frame, general, "paths disagree on {text}");
    match bench_support::parse_fast_serde_json(text, RECV) {
        Some(fast) => {
            assert_eq!(
                format!("{fast:?}"),
                general,
                "fast path disagrees on {text}"
            );
            true
        }
        None => false,
    }
}

/// The `example` of one docs line, byte for byte (re-serialising it would sort its keys).
fn docs_example(line: &str) -> &str {
    let start = line.find(r#""example":"#).unwrap() + r#""example":"#.len();
    line[start..].strip_suffix('}').unwrap()
}

#[test]
fn fast_and_general_paths_agree_on_every_fixture_frame() {
    let Some(dir) = fixtures() else { return };
    let capture = std::fs::read_to_string(
        dir.join("binance_ws_capture/binance_spot_combined_2021-08-14.frames.jsonl"),
    )
    .unwrap();
    let fast = capture.lines().filter(|l| agree(l)).count();
    assert_eq!(
        fast,
        28 + 17,
        "every aggTrade and kline frame takes the fast path"
    );

    // the same session as cryptofeed recorded it: "<unix time>: <frame>"
    let raw = std::fs::read_to_string(
        dir.join("binance_ws_capture/cryptofeed_BINANCE.ws.1.0_2021-08-14.raw.txt"),
    )
    .unwrap();
    let frames: Vec<&str> = raw
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(_, f)| f))
        .collect();
    assert!(frames.len() > 1000, "{}", frames.len());
    assert!(frames.iter().filter(|f| agree(f)).count() >= 28);

    let docs =
        std::fs::read_to_string(dir.join("misc/binance_spot_ws_docs_examples.jsonl")).unwrap();
    let examples: Vec<&str> = docs
        .lines()
        .map(docs_example)
        .filter(|e| !e.contains(r#""method""#))
        .collect();
    assert_eq!(examples.len(), 20);
    let fast: Vec<&str> = examples.into_iter().filter(|e| agree(e)).collect();
    // aggTrade, trade, kline (UTC and offset), 24hrMiniTicker: the raw `/ws` shapes
    assert_eq!(fast.len(), 5, "{fast:#?}");

    // the old trade frame (with "b"/"a" order ids) is pretty-printed: general path; compacted,
    // the fast path reads it, and both give the same trade
    let old =
        std::fs::read_to_string(dir.join("misc/nautilus_ws_spot_trade_ethusdt_2021-12-12.json"))
            .unwrap();
    assert!(!agree(&old));
    let compact: String = old.split_whitespace().collect();
    assert!(agree(&compact), "{compact}");
    assert_eq!(
        parse_frame(&old, RECV).unwrap(),
        parse_frame(&compact, RECV).unwrap()
    );
}

#[test]
fn unusual_hot_frames_fall_back_to_the_general_path_with_the_same_answer() {
    // (frame, whether the fast path answers it itself)
    let cases: &[(&str, bool)] = &[
        // the plain shapes, as references
        (
            r#"{"e":"trade","E":1,"s":"BNBBTC","t":7,"p":"0.001","q":"100","T":2,"m":true,"M":true}"#,
            true,
        ),
        (
            r#"{"stream":"bnbbtc@aggTrade","data":{"e":"aggTrade","E":1,"s":"BNBBTC","a":7,"p":"1","q":"2","f":1,"l":2,"T":2,"m":false,"M":true}}"#,
            true,
        ),
        // fields Binance may add, and no "m" (side unknown), no "T" (event time instead)
        (
            r#"{"e":"trade","E":1,"s":"BNBBTC","t":7,"p":"1","q":"2","X":"MARKET","zz":{"n":[1]}}"#,
            true,
        ),
        // errors the builders raise are the same on both paths
        (
            r#"{"e":"trade","s":"X","t":1,"p":"abc","q":"1","T":1}"#,
            true,
        ),
        (
            r#"{"e":"trade","s":"X","t":1,"p":"NaN","q":"1","T":1}"#,
            true,
        ),
        (r#"{"e":"trade","s":"X","t":1,"p":"1","q":"1"}"#, true),
        (
            r#"{"e":"trade","s":"bad symbol!","t":1,"p":"1","q":"1","T":1}"#,
            true,
        ),
        (r#"{"e":"aggTrade","s":"X","p":"1","q":"1","T":1}"#, true),
        (
            r#"{"e":"aggTrade","s":"X","a":"7","p":"1","q":"1","T":1}"#,
            true,
        ),
        (
            r#"{"e":"aggTrade","s":"X","a":-7,"p":"1","q":"1","T":1}"#,
            true,
        ),
        (r#"{"e":"trade","s":"X","p":"1","q":"1","T":1}"#, true),
        (
            r#"{"e":"kline","E":1,"s":"BNBBTC","k":{"t":1672515780000,"T":1,"s":"BNBBTC","i":"3m","o":"1","c":"1","h":"1","l":"1","v":"1","n":1,"x":false}}"#,
            true,
        ),
        (
            r#"{"stream":"bnbbtc@kline_1m","data":{"e":"kline","E":1,"s":"BNBBTC","k":{"t":1,"T":1,"s":"BNBBTC","i":"1m","o":"x","c":"1","h":"1","l":"1","v":"1","n":1,"x":false}}}"#,
            true,
        ),
        (r#"{"e":"kline","E":1,"s":"BNBBTC"}"#, true),
        (
            r#"{"e":"24hrMiniTicker","E":1,"s":"BNBBTC","c":"1","o":"1","h":"1","v":"1","q":"1"}"#,
            true,
        ),
        // whitespace, another key first, pretty-printing: the general path
        (
            r#" {"e":"trade","E":1,"s":"BNBBTC","t":7,"p":"1","q":"2","T":2,"m":true}"#,
            false,
        ),
        (
            r#"{ "e":"trade","E":1,"s":"BNBBTC","t":7,"p":"1","q":"2","T":2,"m":true}"#,
            false,
        ),
        (
            r#"{"E":1,"e":"trade","s":"BNBBTC","t":7,"p":"1","q":"2","T":2,"m":true}"#,
            false,
        ),
        (
            r#"{"data":{"e":"trade","E":1,"s":"BNBBTC","t":7,"p":"1","q":"2","T":2},"stream":"bnbbtc@trade"}"#,
            false,
        ),
        (
            "{\"stream\":\"bnbbtc@trade\",\n \"data\":{\"e\":\"trade\",\"s\":\"X\",\"t\":1,\"p\":\"1\",\"q\":\"1\",\"T\":1}}",
            false,
        ),
        // the combined wrapper other than exactly as Binance lays it out
        (
            r#"{"stream":"bnbbtc@trade","data":{"e":"trade","s":"X","t":1,"p":"1","q":"1","T":1},"id":1}"#,
            false,
        ),
        (
            r#"{"stream":"bnbbtc@trade","data":{"e":"trade","s":"X","t":1,"p":"1","q":"1","T":1}} "#,
            false,
        ),
        (
            r#"{"stream":"bnb\"btc@trade","data":{"e":"trade","s":"X","t":1,"p":"1","q":"1","T":1}}"#,
            false,
        ),
        (
            r#"{"stream":"bnbbtc@trade","data":{"e":"trade","s":"X","t":1,"p":"1","q":"1","T":1}}}"#,
            false,
        ),
        (
            r#"{"stream":"bnbbtc@trade","data":{"e":"trade","s":"X","t":1,"p":"1","q":"1","T":1} }"#,
            true,
        ),
        // the stream name and the event type disagree: the event type wins, as it always has
        (
            r#"{"stream":"bnbbtc@trade","data":{"e":"aggTrade","E":1,"s":"BNBBTC","a":7,"p":"1","q":"2","T":2}}"#,
            false,
        ),
        (
            r#"{"stream":"bnbbtc@kline_1m","data":{"e":"24hrMiniTicker","E":1,"s":"BNBBTC","c":"1","o":"1","h":"1","l":"1","v":"1"}}"#,
            false,
        ),
        // an escaped string cannot be borrowed; a duplicate key; a mistyped field
        (
            r#"{"e":"trade","E":1,"s":"BNB\u0042TC","t":7,"p":"1","q":"2","T":2}"#,
            false,
        ),
        (
            r#"{"e":"trade","E":1,"s":"BNBBTC","t":7,"t":8,"p":"1","q":"2","T":2}"#,
            false,
        ),
        (
            r#"{"e":"trade","E":"1","s":"BNBBTC","t":7,"p":"1","q":"2","T":2}"#,
            false,
        ),
        (
            r#"{"e":"trade","E":1,"s":"BNBBTC","t":7,"p":"1","q":"2","T":2,"m":"yes"}"#,
            false,
        ),
        // keys that change what the general path returns
        (
            r#"{"e":"trade","E":1,"s":"BNBBTC","t":7,"p":"1","q":"2","T":2,"error":{"code":3,"msg":"m"}}"#,
            false,
        ),
        (
            r#"{"e":"trade","E":1,"s":"BNBBTC","t":7,"p":"1","q":"2","T":2,"data":{"e":"serverShutdown","E":5}}"#,
            false,
        ),
        // not JSON after a hot prefix
        (r#"{"e":"trade","E":1,"#, false),
        (r#"{"stream":"bnbbtc@trade","data":{"e":"trade"}"#, false),
        (r#"{"stream":"bnbbtc@trade""#, false),
    ];
    for (text, fast) in cases {
        assert_eq!(agree(text), *fast, "fast path taken? {text}");
    }
}

/// Every key the general `Payload` reads (keep in step with it), plus keys neither path knows.
const PAYLOAD_KEYS: &[&str] = &[
    "e",
    "E",
    "s",
    "t",
    "T",
    "p",
    "q",
    "m",
    "a",
    "b",
    "A",
    "B",
    "u",
    "o",
    "h",
    "l",
    "c",
    "v",
    "k",
    "x",
    "result",
    "id",
    "error",
    "lastUpdateId",
    "data",
    "f",
    "M",
    "zz",
];

#[test]
fn any_payload_key_added_to_a_hot_frame_gets_the_general_answer() {
    // `@A` marks a spot right after the payload's first key, `@Z` its end
    let bases = [
        r#"{"e":"trade",@A"E":1,"s":"BNBBTC","t":7,"p":"0.001","q":"100","T":2,"m":true,"M":true@Z}"#,
        r#"{"stream":"bnbbtc@trade","data":{"e":"trade",@A"E":1,"s":"BNBBTC","t":7,"p":"1","q":"2","T":2,"m":false@Z}}"#,
        r#"{"e":"aggTrade",@A"E":1,"s":"BNBBTC","a":7,"p":"1","q":"2","f":1,"l":2,"T":2,"m":true,"M":true@Z}"#,
        r#"{"stream":"bnbbtc@aggTrade","data":{"e":"aggTrade",@A"E":1,"s":"BNBBTC","a":7,"p":"1","q":"2","f":1,"l":2,"T":2,"m":true@Z}}"#,
        r#"{"e":"kline",@A"E":1,"s":"BNBBTC","k":{"t":60000,"T":1,"s":"BNBBTC","i":"1m","o":"1","c":"2","h":"3","l":"0.5","v":"9","n":4,"x":true}@Z}"#,
        r#"{"stream":"bnbbtc@kline_1m","data":{"e":"kline",@A"E":1,"s":"BNBBTC","k":{"t":60000,"T":1,"s":"BNBBTC","i":"1m","o":"1","c":"2","h":"3","l":"0.5","v":"9","n":4,"x":false}@Z}}"#,
        r#"{"e":"24hrMiniTicker",@A"E":1,"s":"BNBBTC","c":"2","o":"1","h":"3","l":"0.5","v":"9","q":"18"@Z}"#,
        r#"{"stream":"bnbbtc@miniTicker","data":{"e":"24hrMiniTicker",@A"E":1,"s":"BNBBTC","c":"2","o":"1","h":"3","l":"0.5","v":"9","q":"18"@Z}}"#,
    ];
    let values = [
        "null",
        "7",
        "-7",
        "1.5",
        "1e400",
        "true",
        r#""7""#,
        r#""x\u0041""#,
        "[1]",
        "{}",
        r#"{"code":5,"msg":"m"}"#,
        r#"{"e":"trade","s":"X","t":1,"p":"1","q":"1","T":1}"#,
        r#"{"t":1,"i":"1m","o":"1","c":"1","h":"1","l":"1","v":"1","x":true}"#,
    ];
    let (mut fast, mut general) = (0, 0);
    for base in bases {
        let plain = base.replace("@A", "").replace("@Z", "");
        assert!(agree(&plain), "the fast path reads {plain}");
        assert!(matches!(parse_frame(&plain, RECV), Ok(Frame::Event(_))));
        for key in PAYLOAD_KEYS {
            for value in values {
                let first = base
                    .replace("@A", &format!(r#""{key}":{value},"#))
                    .replace("@Z", "");
                let last = base
                    .replace("@A", "")
                    .replace("@Z", &format!(r#","{key}":{value}"#));
                for text in [first, last] {
                    if agree(&text) {
                        fast += 1;
                    } else {
                        general += 1;
                    }
                }
            }
        }
    }
    // both paths are exercised: keys neither reads stay fast, most others fall back
    assert!(
        fast > 500 && general > 2000,
        "fast {fast}, general {general}"
    );
}
