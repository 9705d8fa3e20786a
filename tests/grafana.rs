#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Grafana dashboard in assets/grafana runs as shipped: every SQL query in it (panels and
//! variables), with Grafana's macros expanded as Grafana expands them, runs against a real
//! PostgreSQL that tickwatch wrote, and the data panels find rows.

mod support;

use std::sync::Arc;

use tickwatch::domain::{
    AlertRecord, Candle, ClosedCandle, Interval, OutputBatch, Side, Symbol, TradeRecord, TradeTick,
    Venue, VenueSymbol, now_ms,
};
use tickwatch::pipeline::{HealthBoard, PipelineStats, StopClock};
use tickwatch::store::{Location, StoreWriter, WriterConfig};

fn dashboard() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/grafana/tickwatch.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// (title, SQL) of every PostgreSQL query: panel targets and query variables.
fn sql_queries(d: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            if let Some(sql) = t["rawSql"].as_str() {
                out.push((p["title"].as_str().unwrap().to_string(), sql.to_string()));
            }
        }
    }
    for v in d["templating"]["list"].as_array().unwrap() {
        if v["type"] == "query" && v["datasource"]["type"] == "grafana-postgresql-datasource" {
            out.push((
                format!("variable {}", v["name"].as_str().unwrap()),
                v["query"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

/// What Grafana sends for a query: macros expanded for the last 6 hours, variables replaced.
fn expand(sql: &str, vars: &[(&str, &str)], from: &str, to: &str) -> String {
    let mut s = sql.to_string();
    while let Some(i) = s.find("$__timeFilter(") {
        let end = i + s[i..].find(')').unwrap();
        let col = s[i + 14..end].trim().to_string();
        s.replace_range(i..=end, &format!("{col} BETWEEN '{from}' AND '{to}'"));
    }
    while let Some(i) = s.find("$__timeGroupAlias(") {
        let end = i + s[i..].find(')').unwrap();
        let args: Vec<String> = s[i + 18..end]
            .split(',')
            .map(|a| a.trim().trim_matches('\'').to_string())
            .collect();
        let secs = match args[1].as_str() {
            "1m" => 60,
            "1h" => 3600,
            other => panic!("interval {other} not expanded by this test"),
        };
        s.replace_range(
            i..=end,
            &format!(
                "floor(extract(epoch from {})/{secs})*{secs} AS \"time\"",
                args[0]
            ),
        );
    }
    for (k, v) in vars {
        s = s.replace(&format!("${k}"), v);
    }
    assert!(!s.contains('$'), "unexpanded macro or variable in {s}");
    s
}

#[test]
fn every_dashboard_query_runs_against_what_tickwatch_stored() {
    let Some(pg) = support::pg::shared() else {
        return;
    };
    let db = pg.create_db();
    let mut at = Location::parse(std::path::Path::new(&pg.url(&db))).unwrap();
    if let Location::Postgres(t) = &mut at {
        t.set_password(support::pg::PASSWORD);
    }
    let key = VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap());
    let now = now_ms();
    let t0 = now - now.rem_euclid(60_000) - 120 * 60_000;
    let mut batch = OutputBatch::default();
    for i in 0..120 {
        let open_ms = t0 + i * 60_000;
        batch.candles.push(ClosedCandle {
            key,
            interval: Interval::M1,
            candle: Candle {
                open_ms,
                open: 100.0,
                high: 102.0,
                low: 99.0,
                close: 100.0 + (i % 5) as f64,
                volume: 3.0,
                trades: 4,
            },
            columns: Arc::from(vec!["rsi14".to_string()]),
            values: vec![(i >= 14).then_some(55.0)].into_boxed_slice(),
        });
        batch.trades.push(TradeRecord {
            key,
            ts_ms: open_ms + 5,
            tick: TradeTick {
                trade_id: i as u64 + 1,
                price: 100.0,
                qty: 0.1,
                side: Side::Buy,
            },
        });
    }
    batch.alerts.push(AlertRecord {
        alert_id: "g1".into(),
        ts_ms: now - 60_000,
        key,
        rule: "btc-above".into(),
        value: 104.0,
        message: "BTCUSDT above 103".into(),
        delivered: "tui".into(),
        severity: tickwatch::alerts::Severity::Warning,
    });
    let w = StoreWriter::spawn_at(
        &at,
        Arc::new(PipelineStats::default()),
        HealthBoard::default(),
        WriterConfig::default(),
        StopClock::default(),
    )
    .unwrap();
    w.sender().send_blocking(batch).unwrap();
    w.close().unwrap();

    let iso = |ms: i64| tickwatch::domain::iso8601(ms);
    let (from, to) = (iso(now - 6 * 3_600_000), iso(now + 60_000));
    let vars = [
        ("venue", "binance"),
        ("symbol", "BTCUSDT"),
        ("interval", "1m"),
    ];
    let d = dashboard();
    let queries = sql_queries(&d);
    assert!(queries.len() >= 8, "{queries:?}");
    let mut client = pg.client(&db);
    for (title, sql) in &queries {
        let q = expand(sql, &vars, &from, &to);
        let rows = client
            .query(&q, &[])
            .unwrap_or_else(|e| panic!("{title}: {e}\n{q}"));
        assert!(!rows.is_empty(), "{title}: no rows\n{q}");
        if title.starts_with("Price") {
            assert_eq!(rows.len(), 120, "{title}");
        }
        if title.starts_with("RSI") {
            assert_eq!(rows.len(), 106, "{title}");
        }
    }
    // Every metric a Prometheus panel asks for is one tickwatch serves (the README's table of
    // metrics is checked against a real scrape by tests/metrics.rs).
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let mut asked = 0;
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            let Some(expr) = t["expr"].as_str() else {
                continue;
            };
            for (i, _) in expr.match_indices("tickwatch_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    readme.contains(&format!("| `{name}` |")),
                    "{}: {name} is not a metric tickwatch serves",
                    p["title"]
                );
                asked += 1;
            }
        }
    }
    assert!(asked >= 4);
    // Every panel names a data source variable, so the dashboard imports anywhere.
    for p in d["panels"].as_array().unwrap() {
        let uid = p["datasource"]["uid"].as_str().unwrap();
        assert!(uid == "${pg}" || uid == "${prom}", "{}", p["title"]);
    }
}
