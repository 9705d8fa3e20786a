//! Coinbase wire parsing: hand-written frames for each case, and every frame of the real
//! recorded captures in ../shared/fixtures/coinbase.

use std::collections::HashMap;

use super::wire::{Frame, ParseError, parse_frame, parse_time, taker_side};
use crate::domain::{EventKind, MarketEvent, Quote, Side, Stats24h, Symbol, Venue};
use crate::sources::live::GapTracker;

const RECV: i64 = 1_700_000_000_000;

fn parse(text: &str) -> Frame {
    parse_frame(text, RECV).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn trade_of(f: &Frame) -> (&MarketEvent, bool) {
    match f {
        Frame::Trade { event, last_match } => (event, *last_match),
        other => panic!("not a trade: {other:?}"),
    }
}

#[test]
fn match_maps_the_maker_side_to_the_taker_side() {
    let f = parse(
        r#"{"type":"match","trade_id":10,"maker_order_id":"a","taker_order_id":"b","side":"buy","size":"0.5","price":"100.25","product_id":"BTC-USD","sequence":50,"time":"2021-04-17T16:43:30.244075Z"}"#,
    );
    let (ev, last) = trade_of(&f);
    assert!(!last);
    assert_eq!(ev.venue, Venue::Coinbase);
    assert_eq!(ev.symbol.as_str(), "BTC-USD");
    assert_eq!(ev.exch_ms, 1_618_677_810_244);
    assert_eq!(ev.recv_ms, RECV);
    let EventKind::Trade(t) = ev.kind else {
        panic!()
    };
    assert_eq!((t.trade_id, t.price, t.qty), (10, 100.25, 0.5));
    // the resting order bought: the taker sold into it
    assert_eq!(t.side, Side::Sell);
    assert_eq!(taker_side("sell"), Side::Buy);
    assert_eq!(taker_side("SELL"), Side::Unknown);
}

#[test]
fn unknown_fields_and_types_are_ignored_and_escapes_are_read() {
    let f = parse(
        r#"{"new_field":{"x":[1,2]},"type":"last_match","trade_id":3,"side":"sell","size":"1","price":"2","product_id":"ETH-EUR","time":"2021-04-17T16:43:30Z","sequence":1}"#,
    );
    let (ev, last) = trade_of(&f);
    assert!(last);
    assert_eq!(ev.exch_ms, 1_618_677_810_000);
    assert_eq!(
        parse(r#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","1","2"]]}"#),
        Frame::Unsupported {
            kind: "l2update".into()
        }
    );
    assert_eq!(
        parse(
            r#"{"type":"error","message":"Failed to subscribe","reason":"FOO-USD is not a valid product \"x\""}"#
        ),
        Frame::Error {
            message: "Failed to subscribe".into(),
            reason: Some("FOO-USD is not a valid product \"x\"".into())
        }
    );
    assert_eq!(
        parse(r#"{"type":"error","message":"Failed"}"#),
        Frame::Error {
            message: "Failed".into(),
            reason: None
        }
    );
    // an escaped product id is still read
    let f = parse(
        r#"{"type":"match","trade_id":3,"side":"sell","size":"1","price":"2","product_id":"ETH\u002dEUR","time":"2021-04-17T16:43:30Z"}"#,
    );
    assert_eq!(trade_of(&f).0.symbol.as_str(), "ETH-EUR");
}

#[test]
fn ticker_gives_a_quote_with_sizes_when_present_and_24h_statistics() {
    let f = parse(
        r#"{"type":"ticker","sequence":5,"product_id":"BTC-USD","price":"30010.5","open_24h":"29000","volume_24h":"1234.5","low_24h":"28900","high_24h":"30100","volume_30d":"99","best_bid":"30010.00","best_bid_size":"0.25","best_ask":"30011.00","best_ask_size":"1.5","side":"buy","time":"2022-10-19T23:28:22.061769Z","trade_id":370843401,"last_size":"0.001"}"#,
    );
    let Frame::Ticker {
        quote: Some(q),
        stats,
    } = f
    else {
        panic!("{f:?}")
    };
    assert_eq!(
        q.kind,
        EventKind::Quote(Quote {
            bid: 30010.0,
            bid_qty: 0.25,
            ask: 30011.0,
            ask_qty: 1.5
        })
    );
    assert_eq!(
        stats.kind,
        EventKind::Stats24h(Stats24h {
            open: 29000.0,
            high: 30100.0,
            low: 28900.0,
            last: 30010.5,
            volume: 1234.5
        })
    );
    assert_eq!(q.exch_ms, stats.exch_ms);
    // without bid/ask there is no quote, and without a time the receive time stands in
    let f = parse(
        r#"{"type":"ticker","product_id":"BTC-USD","price":"1","open_24h":"1","volume_24h":"0","low_24h":"1","high_24h":"1"}"#,
    );
    let Frame::Ticker { quote: None, stats } = f else {
        panic!("{f:?}")
    };
    assert_eq!(stats.exch_ms, RECV);
}

#[test]
fn heartbeat_and_subscriptions() {
    assert_eq!(
        parse(
            r#"{"type":"heartbeat","last_trade_id":20,"product_id":"BTC-USD","sequence":90,"time":"2014-11-07T08:19:28.464459Z"}"#
        ),
        Frame::Heartbeat {
            product: Symbol::new("BTC-USD").unwrap(),
            last_trade_id: 20,
            sequence: 90
        }
    );
    assert_eq!(
        parse(
            r#"{"type":"subscriptions","channels":[{"name":"matches","product_ids":["BTC-USD"]},"heartbeat"]}"#
        ),
        Frame::Subscriptions {
            channels: vec![
                ("matches".into(), vec!["BTC-USD".into()]),
                ("heartbeat".into(), vec![])
            ]
        }
    );
}

#[test]
fn bad_values_are_rejected_and_malformed_frames_are_errors() {
    let m = |price: &str, size: &str| {
        format!(
            r#"{{"type":"match","trade_id":1,"side":"buy","size":"{size}","price":"{price}","product_id":"BTC-USD","time":"2021-04-17T16:43:30Z"}}"#
        )
    };
    for (p, s) in [
        ("NaN", "1"),
        ("-1", "1"),
        ("0", "1"),
        ("1", "0"),
        ("inf", "1"),
    ] {
        let e = parse_frame(&m(p, s), RECV).unwrap_err();
        assert!(e.is_rejection(), "{p}/{s}: {e}");
    }
    assert!(matches!(
        parse_frame(&m("abc", "1"), RECV),
        Err(ParseError::Number { field: "price", .. })
    ));
    let ticker_nan = r#"{"type":"ticker","product_id":"BTC-USD","price":"1","open_24h":"1","volume_24h":"-5","low_24h":"1","high_24h":"1"}"#;
    assert!(parse_frame(ticker_nan, RECV).unwrap_err().is_rejection());
    let no_id = r#"{"type":"match","side":"buy","size":"1","price":"1","product_id":"BTC-USD","time":"2021-04-17T16:43:30Z"}"#;
    assert!(matches!(
        parse_frame(no_id, RECV),
        Err(ParseError::Missing {
            field: "trade_id",
            ..
        })
    ));
    let bad_time = m("1", "1").replace("2021-04-17T16:43:30Z", "yesterday");
    assert!(matches!(
        parse_frame(&bad_time, RECV),
        Err(ParseError::Time { .. })
    ));
    assert!(matches!(
        parse_frame("this is not json", RECV),
        Err(ParseError::Json(_))
    ));
    assert!(matches!(
        parse_frame(r#"{"product_id":"BTC-USD"}"#, RECV),
        Err(ParseError::NoType)
    ));
    // a wrong type in a field we read is an error, not a panic
    assert!(parse_frame(r#"{"type":"match","trade_id":"12"}"#, RECV).is_err());
}

#[test]
fn iso_times_in_every_shape_coinbase_uses() {
    assert_eq!(
        parse_time("2021-04-17T16:43:30.244075Z"),
        Some(1_618_677_810_244)
    );
    assert_eq!(
        parse_time("2021-04-17T16:43:30.5Z"),
        Some(1_618_677_810_500)
    );
    assert_eq!(parse_time("2021-04-17T16:43:30Z"), Some(1_618_677_810_000));
    assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_time("2024-02-29T23:59:59.999Z"),
        Some(1_709_251_199_999)
    );
    // other offsets go through chrono
    assert_eq!(
        parse_time("2021-04-17T18:43:30.244+02:00"),
        Some(1_618_677_810_244)
    );
    for bad in [
        "2021-13-17T16:43:30Z",
        "2021-04-17 16:43:30",
        "2021-04-17T16:43:30.Z",
        "2021-04-17T16:43:3xZ",
        "",
    ] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
}

/// `<ts>: <frame>` lines; sends (` <- `) and the connect line (` <-> `) are left out.
fn fixture_frames(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.contains(" <- ") && !l.contains(" <-> "))
        .map(|l| l.split_once(": ").map_or(l, |(_, f)| f))
        .collect()
}

#[test]
fn every_frame_of_the_recorded_exchange_feed_parses() {
    let Some(dir) = crate::testdata::fixtures() else {
        return;
    };
    let path = dir.join("coinbase/coinbase_exchange_wsfeed_2021-04-17.ticker_match.raw.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let frames = fixture_frames(&text);
    let mut counts: HashMap<&str, usize> = HashMap::new();
    let mut trades = Vec::new();
    for f in &frames {
        let kind = match parse(f) {
            Frame::Trade { event, last_match } => {
                trades.push(event);
                if last_match { "last_match" } else { "match" }
            }
            Frame::Ticker { quote, stats } => {
                assert!(
                    quote.is_some(),
                    "every recorded ticker has bid and ask: {f}"
                );
                for ev in quote.iter().chain([&stats]) {
                    ev.validate().unwrap_or_else(|e| panic!("{e}: {f}"));
                }
                "ticker"
            }
            Frame::Subscriptions { channels } => {
                assert!(!channels.is_empty());
                "subscriptions"
            }
            other => panic!("unexpected {other:?} from {f}"),
        };
        *counts.entry(kind).or_default() += 1;
    }
    assert_eq!(counts["ticker"], 107);
    assert_eq!(counts["match"], 97);
    assert_eq!(counts["last_match"], 10);
    assert_eq!(counts["subscriptions"], 3);
    assert_eq!(frames.len(), 217);

    // first last_match: BAND-GBP 881613, maker sold so the taker bought
    let first = &trades[0];
    assert_eq!(first.symbol.as_str(), "BAND-GBP");
    assert_eq!(first.exch_ms, 1_618_677_810_244);
    assert_eq!(
        first.kind,
        EventKind::Trade(crate::domain::TradeTick {
            trade_id: 881_613,
            price: 14.7775,
            qty: 0.04,
            side: Side::Buy
        })
    );
    let skl = trades
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Trade(t) if t.trade_id == 1_568_288 => Some((e.exch_ms, t)),
            _ => None,
        })
        .unwrap();
    assert_eq!(skl.0, 1_618_677_840_382);
    assert_eq!(
        (skl.1.price, skl.1.qty, skl.1.side),
        (0.791, 17.0, Side::Sell)
    );
    // the first ticker, from 2021, has no book sizes
    let Frame::Ticker {
        quote: Some(q),
        stats,
    } = parse(frames[2])
    else {
        panic!("{}", frames[2])
    };
    assert_eq!(stats.symbol.as_str(), "BAND-GBP");
    assert_eq!(
        q.kind,
        EventKind::Quote(Quote {
            bid: 14.755,
            bid_qty: 0.0,
            ask: 14.806,
            ask_qty: 0.0
        })
    );
    assert_eq!(
        stats.kind,
        EventKind::Stats24h(Stats24h {
            open: 14.6647,
            high: 16.55,
            low: 14.3691,
            last: 14.7775,
            volume: 94_381.28
        })
    );

    // Coinbase trade ids are sequential per product: the recorded stream has no hole and no
    // duplicate, so the gap tracker passes every trade and asks REST for nothing.
    let products: Vec<Symbol> = {
        let mut p: Vec<Symbol> = trades.iter().map(|e| e.symbol).collect();
        p.sort();
        p.dedup();
        p
    };
    assert_eq!(products.len(), 10);
    let mut g = GapTracker::new(Venue::Coinbase, &products, true, false, 0);
    let mut out = Vec::new();
    for ev in &trades {
        assert!(g.on_live(*ev, &mut out).is_none(), "hole before {ev:?}");
    }
    assert_eq!(out.len(), 107);
    assert_eq!((g.duplicates, g.missing), (0, 0));
}

#[test]
fn advanced_trade_frames_are_recognised_as_another_protocol() {
    let Some(dir) = crate::testdata::fixtures() else {
        return;
    };
    let path = dir.join("coinbase/coinbase_advanced_trade_ws_2026-08-09.recv_send.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut channels: HashMap<String, usize> = HashMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let rec: serde_json::Value = serde_json::from_str(line).unwrap();
        if rec["dir"] != "recv" {
            continue;
        }
        let data = rec["data"].as_str().unwrap();
        match parse_frame(data, RECV) {
            Ok(Frame::AdvancedTrade { channel }) => *channels.entry(channel).or_default() += 1,
            other => panic!("an Advanced Trade frame was read as {other:?}: {data}"),
        }
    }
    assert_eq!(channels["ticker"], 160);
    assert_eq!(channels["market_trades"], 59);
    assert_eq!(channels["heartbeats"], 25);
    assert_eq!(channels["subscriptions"], 5);
    assert_eq!(channels.values().sum::<usize>(), 260);
}
