//! OKX parsing: hand-written frames for each case, and every frame and REST answer of the
//! captures in ../shared/fixtures/okx.

use std::collections::HashMap;

use super::rest::{self, RestError, TradeCursor};
use super::wire::{
    Frame, PING, WireError, book_resubscribe, is_book, parse_frame, subscribe, unsubscribe,
};
use crate::domain::{EventKind, Interval, MarketEvent, Quote, Side, Stats24h, Symbol, Venue};

const RECV: i64 = 1_700_000_000_000;

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn parse(text: &str) -> Frame {
    parse_frame(text, RECV).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn events(f: Frame) -> Vec<MarketEvent> {
    match f {
        Frame::Events(e) => e,
        other => panic!("not events: {other:?}"),
    }
}

const TRADES: &str = r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"338476308","px":"30243.5","sz":"0.001","side":"buy","ts":"1652459226050"},{"instId":"BTC-USDT","tradeId":"338476309","px":"30243.4","sz":"0.0002","side":"sell","ts":"1652459226051","count":"1"}]}"#;

#[test]
fn one_frame_carries_several_trades_with_their_ids() {
    let ev = events(parse(TRADES));
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (ev[0].venue, ev[0].symbol, ev[0].exch_ms, ev[0].recv_ms),
        (Venue::Okx, sym("BTC-USDT"), 1_652_459_226_050, RECV)
    );
    let EventKind::Trade(t) = ev[1].kind else {
        panic!()
    };
    assert_eq!(
        (t.trade_id, t.price, t.qty, t.side),
        (338476309, 30243.4, 0.0002, Side::Sell)
    );
    assert!(ev.iter().all(|e| e.validate().is_ok()));
}

#[test]
fn bad_numbers_are_rejected_with_the_field_named() {
    for (field, from, to) in [
        ("px", "30243.5", "0"),
        ("px", "30243.5", "-1"),
        ("sz", "0.001", "0"),
        ("px", "30243.5", "NaN"),
        ("sz", "0.001", "inf"),
    ] {
        let text = TRADES.replacen(
            &format!("\"{field}\":\"{from}\""),
            &format!("\"{field}\":\"{to}\""),
            1,
        );
        let e = parse_frame(&text, RECV).unwrap_err();
        assert!(e.is_rejection(), "{field}={to}: {e}");
        assert!(e.to_string().contains(field), "{e}");
    }
    let not_num = TRADES.replacen("\"30243.5\"", "\"abc\"", 1);
    assert!(matches!(
        parse_frame(&not_num, RECV),
        Err(WireError::Number { field: "px", .. })
    ));
    let bad_id = TRADES.replacen("\"338476308\"", "\"12ab\"", 1);
    assert!(matches!(
        parse_frame(&bad_id, RECV),
        Err(WireError::Number {
            field: "tradeId",
            ..
        })
    ));
    let no_ts = TRADES.replacen(",\"ts\":\"1652459226050\"", "", 1);
    assert!(matches!(
        parse_frame(&no_ts, RECV),
        Err(WireError::Missing { field: "ts", .. })
    ));
    assert!(matches!(parse_frame("ping", RECV), Err(WireError::Json(_))));
}

#[test]
fn candles_are_closed_by_the_confirm_flag() {
    let frame = |confirm: &str| {
        format!(
            r#"{{"arg":{{"channel":"candle1m","instId":"BTC-USDT"}},"data":[["1747094040000","102806.1","102820.4","102806.1","102820.4","10.4037","1069603.34883","1069603.34883","{confirm}"]]}}"#
        )
    };
    for (confirm, closed) in [("0", false), ("1", true)] {
        let ev = events(parse(&frame(confirm)));
        let EventKind::Candle {
            interval,
            candle,
            closed: c,
        } = ev[0].kind
        else {
            panic!()
        };
        assert_eq!((interval, c), (Interval::M1, closed));
        assert_eq!(
            (
                ev[0].exch_ms,
                candle.open,
                candle.high,
                candle.close,
                candle.volume
            ),
            (1_747_094_040_000, 102806.1, 102820.4, 102820.4, 10.4037)
        );
    }
    let five = frame("1").replace("candle1m", "candle5m");
    assert_eq!(
        parse(&five),
        Frame::Unsupported {
            kind: "candle5m".into()
        }
    );
    assert!(
        parse_frame(
            &frame("1").replace(
                "\"102806.1\",\"102820.4\",\"102806.1\"",
                "\"102806.1\",\"102820.4\",\"0\""
            ),
            RECV
        )
        .unwrap_err()
        .is_rejection()
    );
}

#[test]
fn tickers_give_a_quote_and_stats_with_the_base_volume() {
    let spot = r#"{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT","last":"30236","lastSz":"0.0002","askPx":"30228.7","askSz":"1.55896972","bidPx":"30228.6","bidSz":"0.23393","open24h":"29700.4","high24h":"31073","low24h":"28020.3","sodUtc0":"29028.8","sodUtc8":"30337.7","volCcy24h":"525802090.62716611","vol24h":"17602.13085371","ts":"1652459224956"}]}"#;
    let ev = events(parse(spot));
    assert_eq!(ev[0].exch_ms, 1_652_459_224_956);
    assert_eq!(
        ev[0].kind,
        EventKind::Quote(Quote {
            bid: 30228.6,
            bid_qty: 0.23393,
            ask: 30228.7,
            ask_qty: 1.55896972
        })
    );
    assert_eq!(
        ev[1].kind,
        EventKind::Stats24h(Stats24h {
            open: 29700.4,
            high: 31073.0,
            low: 28020.3,
            last: 30236.0,
            volume: 17602.13085371
        })
    );
    // derivatives count vol24h in contracts: the base volume is volCcy24h
    let swap = spot.replace("\"SPOT\"", "\"SWAP\"");
    let EventKind::Stats24h(s) = events(parse(&swap))[1].kind else {
        panic!()
    };
    assert_eq!(s.volume, "525802090.62716611".parse::<f64>().unwrap());
    // an empty book side: no quote, the stats still count
    let empty = spot.replace("\"bidPx\":\"30228.6\"", "\"bidPx\":\"\"");
    assert_eq!(events(parse(&empty)).len(), 1);
}

#[test]
fn answers_pongs_errors_and_notices_are_told_apart() {
    assert_eq!(parse("pong"), Frame::Pong { req_id: None });
    assert_eq!(
        parse(
            r#"{"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#
        ),
        Frame::Subscribed {
            req_id: None,
            channel: "trades".into(),
            symbol: Some(sym("BTC-USDT"))
        }
    );
    assert!(matches!(
        parse(r#"{"event":"unsubscribe","arg":{"channel":"tickers","instId":"ETH-USDT"}}"#),
        Frame::Unsubscribed { symbol: Some(s), .. } if s == sym("ETH-USDT")
    ));
    let err = r#"{"event":"error","code":"60018","msg":"Wrong URL or channel:trades,instId:FOO-USDT doesn't exist. Please use the correct URL, channel and parameters referring to API document.","connId":"a4d3ae55"}"#;
    let Frame::Refused {
        code,
        symbol,
        message,
        req_id,
    } = parse(err)
    else {
        panic!()
    };
    assert_eq!(
        (code.as_deref(), symbol.as_deref(), req_id),
        (Some("60018"), Some("FOO-USDT"), None)
    );
    assert!(message.starts_with("Wrong URL"));
    let Frame::Refused { symbol, .. } = parse(
        r#"{"event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\"}"}"#,
    ) else {
        panic!()
    };
    assert_eq!(symbol, None);
    assert_eq!(
        parse(r#"{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"a4d3ae55"}"#),
        Frame::Notice { message: "OKX notice 64008: The connection will soon be closed for a service upgrade. Please reconnect.".into() }
    );
    assert_eq!(
        parse(
            r#"{"event":"channel-conn-count","channel":"tickers","connCount":"2","connId":"abc"}"#
        ),
        Frame::Unsupported {
            kind: "channel-conn-count".into()
        }
    );
}

#[test]
fn subscribe_messages_stay_under_the_size_limit() {
    assert_eq!(
        subscribe(&[sym("BTC-USDT")], false),
        [
            r#"{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT"}]}"#
        ]
    );
    assert_eq!(
        subscribe(&[sym("BTC-USDT")], true),
        [
            r#"{"op":"subscribe","args":[{"channel":"trades","instId":"BTC-USDT"},{"channel":"tickers","instId":"BTC-USDT"},{"channel":"books","instId":"BTC-USDT"}]}"#
        ]
    );
    assert_eq!(
        book_resubscribe(sym("BTC-USDT")),
        [
            r#"{"op":"unsubscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#,
            r#"{"op":"subscribe","args":[{"channel":"books","instId":"BTC-USDT"}]}"#
        ]
    );
    assert!(is_book(
        r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[]}"#
    ));
    assert!(!is_book(
        r#"{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}"#
    ));
    let many: Vec<Symbol> = (0..300).map(|i| sym(&format!("COIN{i}-USDT"))).collect();
    let msgs = unsubscribe(&many, false);
    assert!(msgs.len() > 1);
    let mut args = Vec::new();
    for m in &msgs {
        assert!(m.len() <= super::MAX_SUBSCRIBE_BYTES, "{}", m.len());
        let v: serde_json::Value = serde_json::from_str(m).unwrap();
        assert_eq!(v["op"], "unsubscribe");
        args.extend(
            v["args"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["instId"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(
        args.len(),
        600,
        "every (channel, instrument) once, in order"
    );
    assert_eq!(
        (args[0].as_str(), args[599].as_str()),
        ("COIN0-USDT", "COIN299-USDT")
    );
    assert_eq!(PING, "ping");
}

#[test]
fn rest_urls_and_errors() {
    let s = sym("BTC-USDT");
    assert_eq!(
        rest::trades_url("http://127.0.0.1:9/", s, TradeCursor::OlderThan(734864333)),
        "http://127.0.0.1:9/api/v5/market/history-trades?instId=BTC-USDT&type=1&limit=100&after=734864333"
    );
    assert!(
        rest::trades_url("https://www.okx.com", s, TradeCursor::NewerThan(5))
            .ends_with("&before=5")
    );
    assert!(rest::trades_url("https://www.okx.com", s, TradeCursor::Latest).ends_with("limit=100"));
    assert_eq!(
        rest::candles_url("https://www.okx.com", s, Some(1_747_094_040_000)),
        "https://www.okx.com/api/v5/market/candles?instId=BTC-USDT&bar=1m&limit=300&after=1747094040000"
    );
    let e = rest::parse_trades(
        br#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#,
        sym("FOO-USDT"),
    )
    .unwrap_err();
    assert!(matches!(e, RestError::UnknownSymbol { .. }));
    assert!(
        e.to_string().contains("FOO-USDT") && e.to_string().contains("[okx].symbols"),
        "{e}"
    );
    let e = rest::parse_candles(
        br#"{"code":"50011","msg":"Too Many Requests","data":[]}"#,
        s,
    )
    .unwrap_err();
    assert!(matches!(e, RestError::RateLimited { .. }));
    let zero = br#"{"code":"0","msg":"","data":[{"instId":"BTC-USDT","side":"sell","sz":"0","px":"1","tradeId":"7","ts":"1747087163557"}]}"#;
    let page = rest::parse_trades(zero, s).unwrap();
    assert_eq!(
        (page.trades.len(), page.rejected, page.oldest),
        (0, 1, Some(7))
    );
}

fn fixtures() -> Option<std::path::PathBuf> {
    crate::testdata::fixtures()
}

fn read(dir: &std::path::Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The REAL capture (2022-05-13, BTC-USDT spot, a BTC-USD future, a UNI-USD swap): every
/// received frame parses to its kind; no error on real data; ids consecutive per instrument.
#[test]
fn real_capture_parses_frame_by_frame() {
    let Some(dir) = fixtures() else { return };
    let text = read(&dir, "okx/cryptofeed_OKX.ws.1.0_2022-05-13.raw.txt");
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    let mut ids: HashMap<Symbol, Vec<u64>> = HashMap::new();
    let mut first_btc = None;
    for line in text.lines().filter(|l| !l.contains(" <-")) {
        let (_, frame) = line.split_once(": ").unwrap();
        match parse(frame) {
            Frame::Subscribed {
                symbol: Some(_), ..
            } => *kinds.entry("subscribed").or_default() += 1,
            Frame::Unsupported { kind } if kind == "books" => {
                *kinds.entry("books").or_default() += 1
            }
            Frame::Events(ev) => {
                for e in ev {
                    assert_eq!(e.validate(), Ok(()), "{frame}");
                    match e.kind {
                        EventKind::Trade(t) => {
                            *kinds.entry("trade").or_default() += 1;
                            ids.entry(e.symbol).or_default().push(t.trade_id);
                            if e.symbol == sym("BTC-USDT") && first_btc.is_none() {
                                first_btc = Some((e.exch_ms, t));
                            }
                        }
                        EventKind::Quote(_) => *kinds.entry("quote").or_default() += 1,
                        EventKind::Stats24h(_) => *kinds.entry("stats").or_default() += 1,
                        EventKind::Candle { .. } => panic!("no candles in this capture"),
                    }
                }
            }
            other => panic!("unexpected {other:?}: {frame}"),
        }
    }
    let want = [
        ("subscribed", 18),
        ("books", 290),
        ("trade", 74),
        ("quote", 28),
        ("stats", 28),
    ];
    for (k, n) in want {
        assert_eq!(kinds.get(k).copied(), Some(n), "{k}: {kinds:?}");
    }
    let (ms, t) = first_btc.unwrap();
    assert_eq!(ms, 1_652_459_224_818);
    assert_eq!(
        (t.trade_id, t.price, t.qty, t.side),
        (338476307, 30236.0, 0.0002, Side::Buy)
    );
    let btc = &ids[&sym("BTC-USDT")];
    assert_eq!((btc.len(), btc[68]), (69, 338476375));
    for (s, v) in &ids {
        assert!(v.windows(2).all(|w| w[1] == w[0] + 1), "{s}: {v:?}");
    }
}

/// The REAL REST answers (nautilus: BTC-USDT trades and candles, 2025-05).
#[test]
fn real_rest_trades_and_candles() {
    let Some(dir) = fixtures() else { return };
    let s = sym("BTC-USDT");
    let page = rest::parse_trades(
        read(&dir, "okx/nautilus_okx_http_get_trades.json").as_bytes(),
        s,
    )
    .unwrap();
    assert_eq!(
        (page.oldest, page.newest, page.rejected),
        (Some(734864332), Some(734864333), 0)
    );
    let (ms, t) = page.trades[0];
    assert_eq!(
        (ms, t.trade_id, t.price, t.qty, t.side),
        (1_747_087_161_666, 734864332, 102537.9, 0.0000125, Side::Buy)
    );
    assert_eq!(page.trades[1].1.side, Side::Sell);
    let full = rest::parse_candles(
        read(&dir, "okx/nautilus_okx_http_get_candlesticks_full.json").as_bytes(),
        s,
    )
    .unwrap();
    assert_eq!(full.running, None, "both confirmed");
    assert_eq!(
        full.candles.iter().map(|c| c.open_ms).collect::<Vec<_>>(),
        [1_747_093_980_000, 1_747_094_040_000]
    );
    assert_eq!(
        (full.candles[0].low, full.candles[0].volume, full.oldest),
        (102783.1, 7164.04, Some(1_747_093_980_000))
    );
    // 2021 rows say confirm "0": the older is closed by the newer one, the newest is running
    let old = rest::parse_candles(
        read(&dir, "okx/nautilus_okx_http_get_candlesticks.json").as_bytes(),
        s,
    )
    .unwrap();
    assert_eq!(old.candles.len(), 1);
    assert_eq!(old.candles[0].open_ms, 1_625_097_600_000);
    assert_eq!(old.running.map(|c| c.close), Some(33782.1));
}
