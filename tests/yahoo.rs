//! Yahoo Finance against local servers that speak its formats: the streamer's base64 protobuf
//! `PricingData` frames, the cookie page, `getcrumb`, and the v8 chart API with Yahoo's
//! refusals (401 Invalid Crumb, 429 Too Many Requests, 404 Not Found). The real `tickwatch
//! record` runs against them through a garbage frame and a cut connection.

mod support;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use prost::Message;
use support::http::{Posted, RecordingServer, Response};
use support::ws::WsServer;
use support::{query_i64, signal, tickwatch_cmd, wait_exit};
use tickwatch::sources::yahoo::proto::PricingData;

const CRUMB: &str = "s3cr3tCrumb42";
const COOKIE: &str = "A3=d=AQABBsess10n";
/// Minutes (before the start minute) where nothing traded: Yahoo writes `null` rows there.
const QUIET: [i64; 3] = [20, 19, 10];

/// The bar of `minute` (UTC ms), the same in every answer.
fn bar(minute: i64) -> (f64, f64, f64, f64, f64) {
    let k = (minute / 60_000 % 13) as f64;
    let open = 200.0 + k;
    (open, open + 1.5, open - 0.75, open + 0.25, 1000.0 + k)
}

/// A chart answer of 1m bars from `first` to now (the running minute included), `null` in the
/// quiet minutes, with today's sessions around now.
fn chart(symbol: &str, first: i64, quiet: &[i64]) -> String {
    let now = tickwatch::domain::now_ms();
    let (mut ts, mut o, mut h, mut l, mut c, mut v) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let mut m = first;
    while m <= now {
        ts.push((m / 1000).to_string());
        if quiet.contains(&m) {
            for col in [&mut o, &mut h, &mut l, &mut c, &mut v] {
                col.push("null".to_string());
            }
        } else {
            let b = bar(m);
            o.push(b.0.to_string());
            h.push(b.1.to_string());
            l.push(b.2.to_string());
            c.push(b.3.to_string());
            v.push(b.4.to_string());
        }
        m += 60_000;
    }
    let s = now / 1000;
    let period = |a: i64, b: i64| {
        format!(r#"{{"timezone":"EST","start":{a},"end":{b},"gmtoffset":-18000}}"#)
    };
    format!(
        r#"{{"chart":{{"result":[{{"meta":{{"currency":"USD","symbol":"{symbol}","exchangeName":"NMS","instrumentType":"EQUITY","regularMarketTime":{s},"gmtoffset":-18000,"timezone":"EST","exchangeTimezoneName":"America/New_York","regularMarketPrice":210.5,"regularMarketDayHigh":214.0,"regularMarketDayLow":199.0,"regularMarketVolume":3200000,"previousClose":205.0,"chartPreviousClose":204.0,"currentTradingPeriod":{{"pre":{pre},"regular":{reg},"post":{post}}},"dataGranularity":"1m","range":"5d"}},"timestamp":[{ts}],"indicators":{{"quote":[{{"open":[{o}],"high":[{h}],"low":[{l}],"close":[{c}],"volume":[{v}]}}]}}}}],"error":null}}}}"#,
        pre = period(s - 4 * 3600, s - 3600),
        reg = period(s - 3600, s + 3600),
        post = period(s + 3600, s + 4 * 3600),
        ts = ts.join(","),
        o = o.join(","),
        h = h.join(","),
        l = l.join(","),
        c = c.join(","),
        v = v.join(","),
    )
}

/// A streamer frame: `{"type":"pricing","message":"<base64 PricingData>"}`.
fn pricing(symbol: &str, price: f32) -> String {
    let p = PricingData {
        id: symbol.into(),
        price,
        time: tickwatch::domain::now_ms(),
        currency: "USD".into(),
        exchange: "NMS".into(),
        quote_type: 8,
        market_hours: 1,
        change: price - 205.0,
        previous_close: 205.0,
        day_volume: 3_200_000,
        day_high: 214.0,
        day_low: 199.0,
        ..Default::default()
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(p.encode_to_vec());
    format!(r#"{{"type":"pricing","message":"{b64}"}}"#)
}

/// Yahoo's REST side: the cookie page, getcrumb (only with the cookie), and the chart API
/// (only with cookie and crumb), refusing the first chart request as an expired crumb and
/// rate-limiting the second.
fn yahoo_rest(first: i64, quiet: Vec<i64>) -> (support::http::PostHandler, Arc<AtomicUsize>) {
    let charts = Arc::new(AtomicUsize::new(0));
    let n = charts.clone();
    let h = Arc::new(move |p: &Posted, _: usize| {
        let (path, query) = p.path.split_once('?').unwrap_or((&p.path, ""));
        let cookie_ok = p.header("cookie").is_some_and(|c| c.contains(COOKIE));
        if path == "/cookie" {
            return Response::json(404, "<html>not here</html>")
                .header("Set-Cookie", format!("{COOKIE}; Expires=Fri, 20 Feb 2099 10:00:00 GMT; Domain=.yahoo.com; Path=/; Secure; HttpOnly"))
                .header("Set-Cookie", "A1S=d=xyz&j=WORLD; Path=/");
        }
        if path == "/v1/test/getcrumb" {
            return if cookie_ok {
                Response::json(200, CRUMB)
            } else {
                Response::json(403, "")
            };
        }
        let Some(sym) = path.strip_prefix("/v8/finance/chart/") else {
            return Response::json(404, "{}");
        };
        let k = n.fetch_add(1, Ordering::SeqCst);
        if k == 0 || !cookie_ok || !query.contains(&format!("crumb={CRUMB}")) {
            return Response::json(
                401,
                r#"{"finance":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}"#,
            );
        }
        if k == 1 {
            return Response::json(429, "Too Many Requests").header("Retry-After", 1);
        }
        let sym = sym.replace("%5E", "^");
        if sym == "NOPE" {
            return Response::json(
                404,
                r#"{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}"#,
            );
        }
        Response::json(200, chart(&sym, first, &quiet))
    });
    (h, charts)
}

/// `GET /metrics` of the recorder: the value of `name{source="yahoo"}`.
fn metric(addr: &str, name: &str) -> f64 {
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return 0.0;
    };
    let _ = write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    );
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    let key = format!("{name}{{source=\"yahoo\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn yahoo_streams_prices_polls_candles_in_its_session_and_names_every_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let start = tickwatch::domain::now_ms() / 60_000 * 60_000;
    let first = start - 30 * 60_000;
    let quiet: Vec<i64> = QUIET.iter().map(|q| start - q * 60_000).collect();
    let (handler, charts) = yahoo_rest(first, quiet.clone());
    let http = RecordingServer::start(handler).await;
    let mut ws = WsServer::start().await;
    let cfg = dir.path().join("yahoo.toml");
    std::fs::write(
        &cfg,
        format!(
            "sources = [\"yahoo\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n[yahoo]\nws_url = \"{}\"\nrest_url = \"{}\"\ncookie_url = \"{}/cookie\"\nsymbols = [\"AAPL\", \"^GSPC\", \"NOPE\"]\nstale_after_secs = 10\ncandle_poll_secs = 10\nbackoff_initial_ms = 50\nbackoff_max_ms = 200\n",
            ws.url, http.url, http.url
        ),
    )
    .unwrap();
    let db = dir.path().join("y.db");
    let stderr = dir.path().join("stderr.txt");
    let mut child = tickwatch_cmd(dir.path())
        .args([
            "record",
            "--stats-every",
            "1",
            "--metrics",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let addr = support::metrics_addr(&mut child, &stderr);

    // first connection: the subscribe names every symbol; prices, a garbage frame, a cut
    let mut c = ws.accept().await;
    let sub: serde_json::Value = serde_json::from_str(&c.recv_text().await).unwrap();
    let names: Vec<&str> = sub["subscribe"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(names, ["AAPL", "^GSPC", "NOPE"]);
    for i in 0..20 {
        c.send(pricing("AAPL", 210.0 + i as f32 * 0.25)).await;
        c.send(pricing("^GSPC", 6000.0 + i as f32)).await;
    }
    c.send("this is not a pricing frame {").await;
    c.send(pricing("AAPL", 211.0)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.drop_tcp();

    // the reconnect subscribes again; more prices
    let mut c = ws.accept().await;
    let again = c.recv_text().await;
    assert!(again.contains("AAPL") && again.contains("^GSPC"), "{again}");
    for i in 0..10 {
        c.send(pricing("AAPL", 212.0 + i as f32 * 0.5)).await;
    }

    // every closed minute with a trade is stored once; the quiet ones are not made up
    let expected: BTreeSet<i64> = (1..=30)
        .map(|k| start - k * 60_000)
        .filter(|m| !quiet.contains(m))
        .collect();
    let stored = |sym: &str| -> BTreeSet<i64> {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let mut st = conn
            .prepare("SELECT open_ms, open, high, low, close, volume FROM candles WHERE venue = 'yahoo' AND symbol = ?1 AND interval = '1m'")
            .unwrap();
        st.query_map([sym], |r| {
            let m: i64 = r.get(0)?;
            let got = (
                r.get::<_, f64>(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            );
            assert_eq!(got, bar(m), "{sym} candle at {m}");
            Ok(m)
        })
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
    };
    let t = Instant::now();
    loop {
        let (a, g) = (stored("AAPL"), stored("^GSPC"));
        let ok = |s: &BTreeSet<i64>| expected.iter().all(|m| s.contains(m));
        if ok(&a) && ok(&g) && metric(&addr, "tickwatch_source_events_total") >= 40.0 {
            for s in [&a, &g] {
                assert!(
                    quiet.iter().all(|q| !s.contains(q)),
                    "a flat candle in a quiet minute"
                );
            }
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(40),
            "candles AAPL {} ^GSPC {} of {}, events {}: {}",
            a.len(),
            g.len(),
            expected.len(),
            metric(&addr, "tickwatch_source_events_total"),
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        query_i64(&db, "SELECT count(*) FROM candles WHERE symbol = 'NOPE'"),
        Some(0)
    );
    // a later poll (every 10 s here) asks only for what is new, with the session's crumb
    let polls_before = charts.load(Ordering::SeqCst);
    let t = Instant::now();
    while charts.load(Ordering::SeqCst) < polls_before + 2 {
        assert!(t.elapsed() < Duration::from_secs(30), "no candle poll");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let polled: Vec<String> = http
        .posts()
        .iter()
        .filter(|p| p.path.starts_with("/v8/finance/chart/AAPL"))
        .map(|p| p.path.clone())
        .collect();
    let last = polled.last().unwrap();
    assert!(
        last.contains("period1="),
        "a poll asks from the newest candle on: {last}"
    );
    assert_eq!(
        http.posts()
            .iter()
            .filter(|p| p.path == "/v1/test/getcrumb")
            .count(),
        2,
        "one session, renewed once after the 401"
    );

    signal(pid, "TERM");
    wait_exit(&mut child, 10, "record after SIGTERM");
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    let log = std::fs::read_to_string(dir.path().join("tickwatch.log")).unwrap_or_default();
    // NOPE is named with what to do; the garbage frame is counted; the crumb never shows
    assert!(log.contains("Yahoo has no data for NOPE"), "{log}");
    assert!(log.contains("unreadable frame skipped"), "{log}");
    assert!(log.contains("fetching a new session"), "{log}");
    assert!(log.contains("Yahoo rate limit"), "{log}");
    for text in [&err, &log] {
        assert!(!text.contains(CRUMB), "the crumb leaked: {text}");
        assert!(!text.contains("AQABBsess10n"), "the cookie leaked: {text}");
    }
}
