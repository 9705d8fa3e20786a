#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 12's "done when", as a team would run it: two `record` processes on two symbol sets
//! write into one PostgreSQL and publish to one NATS JetStream; a monitor in a real terminal
//! with `sources = ["nats"]` and `--db postgres://…` lists both sets, shows the same last trade
//! of every symbol as the recorders stored, and draws stored history from PostgreSQL.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::nats::NatsServer;
use support::pg::{PASSWORD, PgServer};
use support::{signal, tickwatch_cmd, wait_exit};

const SETS: [[&str; 2]; 2] = [["BTCUSDT", "ETHUSDT"], ["SOLUSDT", "XRPUSDT"]];

#[test]
fn two_recorders_one_postgres_one_nats_and_a_monitor_that_watches_them() {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let Some(nats_bin) = support::nats::binary() else {
        support::cannot_run("nats-server is not installed (apt-get install nats-server)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let nats = NatsServer::start(nats_bin, dir.path());
    let db = pg.create_db();
    let url = pg.url(&db);

    // the monitor first, so that it sees the recorders start (start = "new")
    let mon = dir.path().join("mon");
    std::fs::create_dir_all(&mon).unwrap();
    std::fs::write(
        mon.join("mon.toml"),
        format!(
            "sources = [\"nats\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\
             [nats]\nurl = \"{}\"\n",
            nats.url()
        ),
    )
    .unwrap();
    let Some((tmux, exit_file)) = support::tmux::start_with(
        &mon,
        140,
        30,
        &format!("--config mon.toml --db '{url}'"),
        &format!("PGPASSWORD='{PASSWORD}' "),
    ) else {
        return;
    };

    let mut recorders = Vec::new();
    for (i, set) in SETS.iter().enumerate() {
        let own = dir.path().join(format!("rec{i}"));
        std::fs::create_dir_all(&own).unwrap();
        let cfg = own.join("rec.toml");
        std::fs::write(
            &cfg,
            format!(
                "sources = [\"sim\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\
                 [sim]\nsymbols = [\"{}\", \"{}\"]\nspeed = \"5x\"\nseed = {}\n",
                set[0],
                set[1],
                i + 7
            ),
        )
        .unwrap();
        let child = tickwatch_cmd(&own)
            .env("PGPASSWORD", PASSWORD)
            .args(["--config"])
            .arg(&cfg)
            .args(["--db", &url, "record", "--publish", &nats.url()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        recorders.push(child);
    }
    // every symbol of both sets appears in the monitor, live
    tmux.wait_for("both sets in the watchlist", Duration::from_secs(40), |s| {
        SETS.iter().flatten().all(|sym| s.contains(sym)) && s.contains("nats live")
    });
    std::thread::sleep(Duration::from_secs(4));
    // the recorders stop; what the monitor shows last is what they stored last
    for mut child in recorders {
        signal(child.id(), "TERM");
        let (status, _) = wait_exit(&mut child, 20, "record");
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(status.success(), "{err}");
        assert!(err.contains("not published 0"), "{err}");
    }
    let mut client = pg.client(&db);
    let mut last = Vec::new();
    for sym in SETS.iter().flatten() {
        let row = client
            .query_one(
                "SELECT price FROM trades WHERE venue = 'sim' AND symbol = $1
                 ORDER BY ts_ms DESC, trade_id DESC LIMIT 1",
                &[sym],
            )
            .unwrap();
        last.push((sym, tickwatch::format::price(row.get::<_, f64>(0))));
    }
    let screen = tmux.wait_for(
        "the recorders' last trades on the monitor",
        Duration::from_secs(15),
        |s| {
            last.iter().all(|(sym, price)| {
                s.lines()
                    .any(|l| l.contains(&format!("{sym} ")) && l.contains(price.as_str()))
            })
        },
    );
    // both sets' candles are in the one database, and the monitor stored none of its own
    let sets: i64 = client
        .query_one(
            "SELECT count(DISTINCT symbol) FROM candles WHERE interval = '1s'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(sets, 4, "{screen}");
    // history from PostgreSQL: the range of the last day, read back by the monitor
    tmux.keys(&["4"]);
    tmux.wait_for(
        "stored history in the chart title",
        Duration::from_secs(15),
        |s| s.contains("stored candles") || s.contains("no data before"),
    );
    tmux.keys(&["q"]);
    assert_eq!(support::tmux::wait_exit(&exit_file), 0);
    let log = std::fs::read_to_string(mon.join("tw.log")).unwrap_or_default();
    assert!(!log.contains(PASSWORD));
}
