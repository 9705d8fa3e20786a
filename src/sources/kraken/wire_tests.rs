//! Kraken parsing: hand-written frames for each case, and every frame and REST answer of the
//! captures in ../shared/fixtures (kraken/ and misc/nautilus_kraken_v2_ws_*).

use super::rest::{self, RestError};
use super::wire::{Frame, WireError, message_count, parse_frame, ping, subscribe, unsubscribe};
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

const TRADES: &str = r#"{"channel":"trade","type":"update","data":[
  {"symbol":"BTC/USD","side":"buy","price":105944.2,"qty":0.00027625,"ord_type":"limit","trade_id":10218208,"timestamp":"2023-10-06T17:35:55.440295Z"},
  {"symbol":"BTC/USD","side":"sell","price":105910.5,"qty":0.0001246,"ord_type":"market","trade_id":10218209,"timestamp":"2023-10-06T17:35:56.123456Z"}]}"#;

#[test]
fn one_frame_carries_several_trades_with_their_ids() {
    let ev = events(parse(TRADES));
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (ev[0].venue, ev[0].symbol, ev[0].recv_ms),
        (Venue::Kraken, sym("BTC/USD"), RECV)
    );
    assert_eq!(ev[0].exch_ms, 1_696_613_755_440);
    let EventKind::Trade(t) = ev[1].kind else {
        panic!()
    };
    assert_eq!(
        (t.trade_id, t.price, t.qty, t.side),
        (10218209, 105910.5, 0.0001246, Side::Sell)
    );
    for e in &ev {
        assert_eq!(e.validate(), Ok(()));
    }
}

#[test]
fn bad_numbers_are_rejected_with_the_field_named() {
    for (field, bad) in [
        ("price", "0"),
        ("price", "-1.5"),
        ("qty", "0"),
        ("qty", "-2"),
    ] {
        let text = TRADES.replacen(
            &format!("\"{field}\":"),
            &format!("\"{field}\":{bad},\"x\":"),
            1,
        );
        let e = parse_frame(&text, RECV).unwrap_err();
        assert!(e.is_rejection(), "{field}={bad}: {e}");
        assert!(e.to_string().contains(field), "{e}");
    }
    let no_id = TRADES.replacen("\"trade_id\":10218208,", "", 1);
    assert!(matches!(
        parse_frame(&no_id, RECV),
        Err(WireError::Missing {
            field: "trade_id",
            ..
        })
    ));
    let bad_time = TRADES.replacen("2023-10-06T17:35:55.440295Z", "yesterday", 1);
    assert!(matches!(
        parse_frame(&bad_time, RECV),
        Err(WireError::Time { .. })
    ));
    assert!(matches!(
        parse_frame("{\"channel\":", RECV),
        Err(WireError::Json(_))
    ));
    assert!(matches!(parse_frame("pong", RECV), Err(WireError::Json(_))));
}

#[test]
fn ohlc_updates_run_and_snapshots_close_all_but_the_newest() {
    let row = |sym: &str, begin: &str, close: f64| {
        format!(
            r#"{{"symbol":"{sym}","open":10.0,"high":12.0,"low":9.5,"close":{close},"trades":3,"volume":1.5,"vwap":10.2,"interval_begin":"{begin}","interval":1,"timestamp":"x"}}"#
        )
    };
    let frame = |kind: &str, rows: &[String]| {
        format!(
            r#"{{"channel":"ohlc","type":"{kind}","timestamp":"2023-10-04T16:26:01.806315597Z","data":[{}]}}"#,
            rows.join(",")
        )
    };
    let rows = [
        row("BTC/USD", "2023-10-04T16:24:00.000000000Z", 11.0),
        row("ETH/USD", "2023-10-04T16:25:00.000000000Z", 10.5),
        row("BTC/USD", "2023-10-04T16:25:00.000000000Z", 10.0),
    ];
    let closed = |ev: &[MarketEvent]| -> Vec<bool> {
        ev.iter()
            .map(|e| match e.kind {
                EventKind::Candle {
                    closed, interval, ..
                } => {
                    assert_eq!(interval, Interval::M1);
                    closed
                }
                _ => panic!(),
            })
            .collect()
    };
    let snap = events(parse(&frame("snapshot", &rows)));
    assert_eq!(closed(&snap), [true, false, false]);
    assert_eq!(snap[0].exch_ms, 1_696_436_640_000);
    let EventKind::Candle { candle, .. } = snap[0].kind else {
        panic!()
    };
    assert_eq!(
        (
            candle.open,
            candle.high,
            candle.low,
            candle.close,
            candle.volume,
            candle.trades
        ),
        (10.0, 12.0, 9.5, 11.0, 1.5, 3)
    );
    assert_eq!(
        closed(&events(parse(&frame("update", &rows)))),
        [false, false, false]
    );
    let five =
        frame(
            "update",
            &[row("BTC/USD", "2023-10-04T16:25:00Z", 10.0)
                .replace("\"interval\":1", "\"interval\":5")],
        );
    assert_eq!(
        parse(&five),
        Frame::Unsupported {
            kind: "ohlc interval 5".into()
        }
    );
    let bad = frame("update", &[row("BTC/USD", "2023-10-04T16:25:00Z", -1.0)]);
    assert!(parse_frame(&bad, RECV).unwrap_err().is_rejection());
}

#[test]
fn answers_heartbeats_and_status_are_told_apart() {
    let ok = r#"{"method":"subscribe","result":{"channel":"trade","snapshot":true,"symbol":"BTC/USD"},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z","req_id":7}"#;
    assert_eq!(
        parse(ok),
        Frame::Subscribed {
            req_id: Some(7),
            channel: "trade".into(),
            symbol: Some(sym("BTC/USD"))
        }
    );
    let gone = ok.replace("\"subscribe\"", "\"unsubscribe\"");
    assert!(matches!(
        parse(&gone),
        Frame::Unsubscribed {
            req_id: Some(7),
            ..
        }
    ));
    let refused = r#"{"error":"Currency pair not supported XYZ/USD","method":"subscribe","req_id":8,"success":false,"symbol":"XYZ/USD","time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z"}"#;
    assert_eq!(
        parse(refused),
        Frame::Refused {
            req_id: Some(8),
            code: None,
            symbol: Some("XYZ/USD".into()),
            message: "Currency pair not supported XYZ/USD".into()
        }
    );
    let rate = r#"{"error":"Exceeded msg rate","method":"subscribe","success":false}"#;
    assert!(matches!(
        parse(rate),
        Frame::Refused {
            req_id: None,
            symbol: None,
            ..
        }
    ));
    assert_eq!(
        parse(r#"{"channel":"heartbeat"}"#),
        Frame::Pong { req_id: None }
    );
    assert_eq!(
        parse(r#"{"method":"pong","req_id":42}"#),
        Frame::Pong { req_id: Some(42) }
    );
    let status = r#"{"channel":"status","type":"update","data":[{"api_version":"v2","connection_id":1,"system":"online","version":"2.0.0"}]}"#;
    assert_eq!(
        parse(status),
        Frame::Unsupported {
            kind: "status".into()
        }
    );
    assert_eq!(
        parse(&status.replace("online", "maintenance")),
        Frame::Notice {
            message: "Kraken system status: maintenance".into()
        }
    );
    let instrument =
        r#"{"channel":"instrument","type":"snapshot","data":{"assets":[],"pairs":[]}}"#;
    assert_eq!(
        parse(instrument),
        Frame::Unsupported {
            kind: "instrument".into()
        }
    );
}

#[test]
fn ticker_gives_a_quote_and_stats_with_the_open_from_the_change() {
    let t = r#"{"channel":"ticker","type":"update","data":[{"symbol":"ETH/USD","bid":2000.5,"bid_qty":1.5,"ask":2001.0,"ask_qty":2.0,"last":2000.75,"volume":1234.5,"vwap":1990.0,"low":1950.0,"high":2050.0,"change":-25.25,"change_pct":-1.25}]}"#;
    let ev = events(parse(t));
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].exch_ms, RECV, "no timestamp: the receive time");
    assert_eq!(
        ev[0].kind,
        EventKind::Quote(Quote {
            bid: 2000.5,
            bid_qty: 1.5,
            ask: 2001.0,
            ask_qty: 2.0
        })
    );
    assert_eq!(
        ev[1].kind,
        EventKind::Stats24h(Stats24h {
            open: 2026.0,
            high: 2050.0,
            low: 1950.0,
            last: 2000.75,
            volume: 1234.5
        })
    );
    assert!(
        parse_frame(&t.replace("\"bid\":2000.5", "\"bid\":0"), RECV)
            .unwrap_err()
            .is_rejection()
    );
}

#[test]
fn subscribe_messages_one_per_channel_with_consecutive_ids() {
    let syms: Vec<Symbol> = (0..60).map(|i| sym(&format!("A{i}/USD"))).collect();
    let subs = subscribe(&syms[..2], 10, None);
    let v: Vec<serde_json::Value> = subs
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0]["method"], "subscribe");
    assert_eq!(v[0]["params"]["channel"], "trade");
    assert_eq!(
        v[0]["params"]["symbol"],
        serde_json::json!(["A0/USD", "A1/USD"])
    );
    assert_eq!(v[0]["params"]["snapshot"], true);
    assert_eq!(
        (
            v[1]["params"]["channel"].as_str(),
            v[1]["params"]["interval"].as_u64()
        ),
        (Some("ohlc"), Some(1))
    );
    assert_eq!(v[2]["params"]["channel"], "ticker");
    assert_eq!(
        v.iter()
            .map(|m| m["req_id"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [10, 11, 12]
    );
    // 60 symbols: two batches (50 + 10) of three channels
    let all = unsubscribe(&syms, 1, None);
    assert_eq!(all.len(), 6);
    // the count reserved for their req_ids is the count made
    for n in [0, 1, 2, 50, 51, 60] {
        assert_eq!(
            message_count(n, false),
            subscribe(&syms[..n], 1, None).len(),
            "{n} symbols"
        );
    }
    let last: serde_json::Value = serde_json::from_str(&all[5]).unwrap();
    assert_eq!(
        (last["method"].as_str(), last["req_id"].as_u64()),
        (Some("unsubscribe"), Some(6))
    );
    assert_eq!(last["params"]["symbol"].as_array().unwrap().len(), 10);
    assert!(last["params"].get("snapshot").is_none());
    assert_eq!(ping(3), r#"{"method":"ping","req_id":3}"#);
}

#[test]
fn rest_urls_use_the_rest_pair_names() {
    assert_eq!(rest::rest_pair(sym("BTC/USD")), "XBTUSD");
    assert_eq!(rest::rest_pair(sym("DOGE/BTC")), "XDGXBT");
    assert_eq!(rest::rest_pair(sym("ETH/EUR")), "ETHEUR");
    assert_eq!(
        rest::trades_url(
            "http://127.0.0.1:9/",
            sym("BTC/USD"),
            Some(&rest::since_ns(1_762_795_433_971))
        ),
        "http://127.0.0.1:9/0/public/Trades?pair=XBTUSD&count=1000&since=1762795433971000000"
    );
    assert_eq!(
        rest::ohlc_url(
            "https://api.kraken.com",
            sym("ETH/USD"),
            Some(1_762_777_020)
        ),
        "https://api.kraken.com/0/public/OHLC?pair=ETHUSD&interval=1&since=1762777020"
    );
}

#[test]
fn rest_errors_are_typed() {
    let s = sym("FOO/USD");
    assert_eq!(
        rest::parse_trades(br#"{"error":["EQuery:Unknown asset pair"]}"#, s).unwrap_err(),
        RestError::UnknownSymbol {
            symbol: s,
            message: "EQuery:Unknown asset pair".into()
        }
    );
    let e = rest::parse_ohlc(br#"{"error":["EGeneral:Too many requests"]}"#, s).unwrap_err();
    assert!(matches!(e, RestError::RateLimited { .. }), "{e}");
    assert!(e.to_string().contains("wait"));
    let e = rest::parse_trades(br#"{"error":["EGeneral:Internal error"]}"#, s).unwrap_err();
    assert!(matches!(e, RestError::Api { .. }));
    // six fields: an older answer without trade ids cannot refill by id
    let old = br#"{"error":[],"result":{"XXBTZUSD":[["1.0","2.0",1762795433.97,"b","l",""]],"last":"1"}}"#;
    assert!(
        rest::parse_trades(old, s)
            .unwrap_err()
            .to_string()
            .contains("trade id")
    );
    let zero = br#"{"error":[],"result":{"XXBTZUSD":[["0","2.0",1762795433.97,"b","l","",5]],"last":"1"}}"#;
    let page = rest::parse_trades(zero, s).unwrap();
    assert_eq!((page.trades.len(), page.rejected), (0, 1));
}

/// `../shared/fixtures`, or `None` with SKIPPED (a failure under CI).
fn fixtures() -> Option<std::path::PathBuf> {
    crate::testdata::fixtures()
}

use crate::testdata::fixture_text as read;

/// The only REAL Kraken v2 WebSocket capture is the book channel (python-kraken-sdk, 2023):
/// every frame must parse, as a frame tickwatch does not use.
#[test]
fn real_book_capture_parses_frame_by_frame() {
    let Some(dir) = fixtures() else { return };
    let text = read(
        &dir,
        "kraken/python-kraken-sdk_ws_v2_book_BTC-USD_d10_2023-07-30.json",
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut frames = vec![v["init"].to_string()];
    frames.extend(
        v["updates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.to_string()),
    );
    assert_eq!(frames.len(), 510);
    for f in &frames {
        assert_eq!(
            parse(f),
            Frame::Unsupported {
                kind: "book".into()
            },
            "{f}"
        );
    }
}

/// Nautilus' v2 frames (documentation-shaped values): each parses to its kind, exact values.
#[test]
fn documented_v2_frames_parse_to_their_kinds() {
    let Some(dir) = fixtures() else { return };
    let ev = events(parse(&read(
        &dir,
        "misc/nautilus_kraken_v2_ws_trade_update.json",
    )));
    assert_eq!(ev.len(), 2);
    let EventKind::Trade(t) = ev[0].kind else {
        panic!()
    };
    assert_eq!(
        (t.trade_id, t.price, t.qty, t.side),
        (10218208, 105944.2, 0.00027625, Side::Buy)
    );
    assert_eq!(ev[0].exch_ms, 1_696_613_755_440);
    let ev = events(parse(&read(
        &dir,
        "misc/nautilus_kraken_v2_ws_ticker_snapshot.json",
    )));
    assert_eq!(ev[0].exch_ms, 1_671_960_659_123);
    assert_eq!(
        ev[0].kind,
        EventKind::Quote(Quote {
            bid: 105944.2,
            bid_qty: 2.5,
            ask: 105944.3,
            ask_qty: 3.2
        })
    );
    let EventKind::Stats24h(s) = ev[1].kind else {
        panic!()
    };
    assert_eq!((s.last, s.volume), (105899.4, 163.28908096));
    assert!(
        (s.open - 105649.4).abs() < 1e-9,
        "open = last - change: {}",
        s.open
    );
    let ev = events(parse(&read(
        &dir,
        "kraken/nautilus_kraken_ws_ohlc_update.json",
    )));
    let EventKind::Candle { candle, closed, .. } = ev[0].kind else {
        panic!()
    };
    assert!(!closed);
    assert_eq!(
        (ev[0].exch_ms, candle.close, candle.trades),
        (1_696_436_700_000, 106040.1, 12)
    );
    assert_eq!(
        parse(&read(
            &dir,
            "misc/nautilus_kraken_v2_ws_subscribe_response.json"
        )),
        Frame::Subscribed {
            req_id: Some(1),
            channel: "ticker".into(),
            symbol: Some(sym("BTC/USD"))
        }
    );
    assert_eq!(
        parse(&read(&dir, "misc/nautilus_kraken_v2_ws_pong.json")),
        Frame::Pong { req_id: Some(42) }
    );
}

/// The REAL REST answers (XBTUSDT, 2025-11-10/11).
#[test]
fn real_rest_trades_and_ohlc() {
    let Some(dir) = fixtures() else { return };
    let s = sym("BTC/USDT");
    let page = rest::parse_trades(
        read(&dir, "kraken/nautilus_kraken_http_trades.json").as_bytes(),
        s,
    )
    .unwrap();
    assert_eq!(
        (page.trades.len(), page.rejected, page.last.as_str()),
        (1000, 0, "1762820035982277754")
    );
    let (ms, first) = page.trades[0];
    assert_eq!(ms, 1_762_795_433_971);
    assert_eq!(
        (first.trade_id, first.price, first.qty, first.side),
        (10218208, 105433.6, 0.00027625, Side::Buy)
    );
    assert_eq!(page.trades[999].1.trade_id, 10219207);
    assert_eq!(page.trades[999].1.side, Side::Sell);
    assert!(
        page.trades
            .windows(2)
            .all(|w| w[1].1.trade_id == w[0].1.trade_id + 1),
        "ids are consecutive"
    );
    let ohlc = rest::parse_ohlc(
        read(&dir, "kraken/nautilus_kraken_http_ohlc.json").as_bytes(),
        s,
    )
    .unwrap();
    assert_eq!((ohlc.candles.len(), ohlc.last), (720, 1_762_820_160));
    assert_eq!(ohlc.candles[0].open_ms, 1_762_777_020_000);
    assert_eq!(ohlc.candles[719].open_ms, 1_762_820_160_000);
    assert!(
        ohlc.candles
            .windows(2)
            .all(|w| w[1].open_ms - w[0].open_ms == 60_000)
    );
    let running = ohlc.running.unwrap();
    assert_eq!(
        (running.open_ms, running.close, running.volume),
        (1_762_820_220_000, 105899.4, 0.0)
    );
    // a minute without trades: the previous close, volume 0, no trades
    assert_eq!((ohlc.candles[0].volume, ohlc.candles[0].trades), (0.0, 0));
    assert_eq!(
        (ohlc.candles[2].volume, ohlc.candles[2].trades),
        (0.00032101, 1)
    );
}

#[test]
fn book_subscribes_carry_the_depth_and_a_request_id_of_their_own() {
    use super::wire::{book_resubscribe, instrument_subscribe, is_book, is_instrument};
    let syms: Vec<Symbol> = (0..60).map(|i| sym(&format!("A{i}/USD"))).collect();
    for n in [1, 2, 50, 51, 60] {
        assert_eq!(
            message_count(n, true),
            subscribe(&syms[..n], 1, Some(25)).len(),
            "{n} symbols"
        );
    }
    let subs = subscribe(&syms[..2], 10, Some(25));
    let book: serde_json::Value = serde_json::from_str(&subs[3]).unwrap();
    assert_eq!(book["params"]["channel"], "book");
    assert_eq!(book["params"]["depth"], 25);
    assert_eq!(book["params"]["snapshot"], true);
    assert_eq!(book["req_id"], 13);
    let again: Vec<serde_json::Value> = book_resubscribe(sym("BTC/USD"), 40, 10)
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    assert_eq!(again[0]["method"], "unsubscribe");
    assert_eq!(again[1]["method"], "subscribe");
    for (m, id) in again.iter().zip([40, 41]) {
        assert_eq!(m["params"]["symbol"], serde_json::json!(["BTC/USD"]));
        assert_eq!(m["params"]["depth"], 10);
        assert_eq!(m["req_id"], id);
    }
    let inst: serde_json::Value = serde_json::from_str(&instrument_subscribe(7)).unwrap();
    assert_eq!(inst["params"]["channel"], "instrument");
    // data frames go to their readers; answers about the channels do not
    assert!(is_book(r#"{"channel":"book","type":"update","data":[]}"#));
    assert!(!is_book(&subs[3]));
    assert!(!is_book(
        r#"{"method":"subscribe","result":{"channel":"book","depth":10,"symbol":"BTC/USD"},"success":true,"req_id":13}"#
    ));
    assert!(is_instrument(
        r#"{"channel":"instrument","type":"snapshot","data":{}}"#
    ));
    assert!(!is_instrument(
        r#"{"method":"subscribe","result":{"channel":"instrument","snapshot":true},"success":true,"req_id":7}"#
    ));
}
