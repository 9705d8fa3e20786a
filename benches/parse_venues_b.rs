//! Frame parsing throughput (frames/s on one core) of the Bybit and Yahoo parsers, through the
//! same `parse_frame` the live sources will use: Bybit spot `publicTrade` frames (one trade
//! each, as spot sends them) and Yahoo streamer pricing frames (JSON envelope, base64
//! protobuf), built from the shapes in ../shared/fixtures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use std::hint::black_box;
use tickwatch::sources::yahoo::proto::PricingData;

const N: u64 = 1000;

fn bybit(c: &mut Criterion) {
    use tickwatch::sources::bybit::wire::{Frame, parse_frame};
    let frames: Vec<String> = (0..N)
        .map(|i| {
            format!(
                r#"{{"topic":"publicTrade.BTCUSDT","ts":1786310822606,"type":"snapshot","data":[{{"i":"{}","T":1786310822605,"p":"65140.{}","v":"0.00{}705","S":"{}","seq":112488547164,"s":"BTCUSDT","BT":false,"RPI":false}}]}}"#,
                2290000001189048101 + i,
                i % 10,
                i % 9 + 1,
                if i % 2 == 0 { "Buy" } else { "Sell" }
            )
        })
        .collect();
    assert!(
        frames
            .iter()
            .all(|f| matches!(parse_frame(f, 0), Ok(Frame::Events(e)) if e.len() == 1))
    );
    let mut g = c.benchmark_group("bybit_parse");
    g.throughput(Throughput::Elements(N));
    g.bench_function("publicTrade", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(parse_frame(black_box(f), 1_700_000_000_000).ok());
            }
        })
    });
    g.finish();
}

fn yahoo(c: &mut Criterion) {
    use tickwatch::sources::yahoo::wire::{Frame, parse_frame};
    let frames: Vec<String> = (0..N)
        .map(|i| {
            // the fields of the recorded BTC-USD message, the price moving
            let p = PricingData {
                id: "BTC-USD".into(),
                price: 94745.08 + i as f32,
                time: 1736509140000 + i as i64 * 1000,
                currency: "USD".into(),
                exchange: "CCC".into(),
                quote_type: 41,
                market_hours: 1,
                change_percent: 1.5344921,
                day_volume: 59712028672,
                day_high: 95227.555,
                day_low: 92517.22,
                change: 1431.8906,
                open_price: 92529.99,
                last_size: 59712028672,
                price_hint: 2,
                vol_24hr: 59712028672,
                vol_all_currencies: 59712028672,
                from_currency: "BTC".into(),
                circulating_supply: 19808172.0,
                market_cap: 1876726640000.0,
                ..Default::default()
            };
            let b64 = base64::engine::general_purpose::STANDARD.encode(p.encode_to_vec());
            format!(r#"{{"type":"pricing","message":"{b64}"}}"#)
        })
        .collect();
    assert!(
        frames
            .iter()
            .all(|f| matches!(parse_frame(f, 0), Ok(Frame::Price(_))))
    );
    let mut g = c.benchmark_group("yahoo_parse");
    g.throughput(Throughput::Elements(N));
    g.bench_function("pricing", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(parse_frame(black_box(f), 1_700_000_000_000).ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bybit, yahoo);
criterion_main!(benches);
