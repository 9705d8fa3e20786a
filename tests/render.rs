//! The dashboard drawn into ratatui's TestBackend with a hand-made snapshot and a fixed clock:
//! texts, colours, selection, staleness, sizes, and the keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};
use tickwatch::alerts::rules::{Origin, RuleConfig, RuleKind, Status};
use tickwatch::domain::AlertRecord;
use tickwatch::domain::{Candle, Interval, Symbol, TsMs, Venue, VenueSymbol};
use tickwatch::pipeline::{SourceHealth, SourceState};
use tickwatch::ui::widgets::help::GROUPS;
use tickwatch::ui::{App, Effect, Outbox, Pane, StatusInfo, UiOptions};
use tickwatch::view::{ChartCandle, ChartView, EngineCtl, RuleView, ViewSnapshot, WatchRow};

/// 2023-11-14T22:13:20Z
const NOW: TsMs = 1_700_000_000_000;
const COLUMNS: [&str; 6] = [
    "sma20",
    "ema20",
    "bb20_upper",
    "bb20_mid",
    "bb20_lower",
    "rsi14",
];

fn key(sym: &str) -> VenueSymbol {
    VenueSymbol::new(Venue::Sim, Symbol::new(sym).unwrap())
}

fn row(sym: &str, last: f64, chg: f64, vol: f64, rsi: f64, z: f64, age_ms: i64) -> WatchRow {
    WatchRow {
        key: key(sym),
        last: Some(last),
        change_pct: Some(chg),
        volume: vol,
        rsi: Some(rsi),
        z: Some(z),
        spark: (0..30)
            .map(|i| last * (1.0 + f64::from(i) * 0.001))
            .collect(),
        last_recv_ms: Some(NOW - age_ms),
        last_exch_ms: Some(NOW - age_ms - 5),
    }
}

/// 60 one-minute candles rising from 43000 to about 43295 (lows 5 below, highs 5 above), with
/// indicators defined from the 20th candle. One Bollinger value is far outside the price range
/// and must not widen the scale.
fn chart() -> ChartView {
    let start = Interval::M1.bucket(NOW) - 59 * 60_000;
    let candles = (0..60)
        .map(|i| {
            let base = 43_000.0 + f64::from(i) * 5.0;
            let close = if i % 2 == 0 { base + 2.0 } else { base - 2.0 };
            let values: Vec<Option<f64>> = if i < 19 {
                vec![None; COLUMNS.len()]
            } else {
                let upper = if i == 40 { 99_999.0 } else { base + 4.0 };
                vec![
                    Some(base),
                    Some(base + 1.0),
                    Some(upper),
                    Some(base),
                    Some(base - 4.0),
                    Some(55.0),
                ]
            };
            ChartCandle {
                candle: Candle {
                    open_ms: start + i64::from(i) * 60_000,
                    open: base,
                    high: base + 5.0,
                    low: base - 5.0,
                    close,
                    volume: 10.0 + f64::from(i % 7),
                    trades: 3,
                },
                values: values.into_boxed_slice(),
                closed: i < 59,
            }
        })
        .collect();
    ChartView {
        key: key("BTCUSDT"),
        interval: Interval::M1,
        columns: COLUMNS.iter().map(|c| c.to_string()).collect(),
        candles,
    }
}

fn alert(i: i64, sym: &str, msg: &str) -> AlertRecord {
    AlertRecord {
        alert_id: format!("a{i}"),
        ts_ms: NOW - i * 60_000,
        key: key(sym),
        rule: "z".into(),
        value: 3.5,
        message: msg.into(),
        delivered: "tui".into(),
        severity: Default::default(),
    }
}

fn snapshot() -> ViewSnapshot {
    ViewSnapshot {
        version: 7,
        rows: vec![
            row("BTCUSDT", 43210.123, 1.234, 12_345.0, 72.0, 0.5, 500),
            row("ETHUSDT", 2345.6789, -0.451, 4_512_000.0, 25.0, -3.2, 800),
            row("PEPEUSDT", 0.00002853, 0.0, 250_000.0, 50.0, 0.1, 12_400),
        ],
        chart: Some(chart()),
        interval: Some(Interval::M1),
        alerts: vec![
            alert(1, "ETHUSDT", "ETHUSDT newest: z-score 3.5"),
            alert(2, "BTCUSDT", "middle: RSI above 70"),
            alert(3, "PEPEUSDT", "oldest: volume spike"),
        ],
        rules: Vec::new(),
        detail: None,
    }
}

fn source(name: &str, state: SourceState, last_event_ago: Option<i64>) -> SourceHealth {
    SourceHealth {
        name: name.into(),
        state,
        since_ms: NOW - 120_000,
        last_event_ms: last_event_ago.map(|a| NOW - a),
        last_error: None,
        detail: None,
        is_source: true,
        data_due_ms: None,
        dropped: 0,
        last_drop_ms: None,
    }
}

fn status() -> StatusInfo {
    StatusInfo {
        sources: vec![
            source("sim", SourceState::Live, Some(1_000)),
            source("binance", SourceState::Live, Some(30_000)),
            source(
                "coinbase",
                SourceState::Failed("DNS lookup failed".into()),
                Some(600_000),
            ),
        ],
        events_per_sec: 1234.0,
        dropped: 5,
        store_lag: 0,
        late: 0,
        gaps: 0,
        deliveries_failed: 0,
        now_ms: NOW,
        demo_command: "",
    }
}

fn options() -> UiOptions {
    UiOptions {
        fps: 30.0,
        stale_after: Duration::from_secs(10),
        initial_interval: Interval::M1,
        ..UiOptions::default()
    }
}

/// An app that has seen `snap`, with what it asked for so far taken out.
fn app_with(snap: &ViewSnapshot) -> App {
    let mut app = App::new("tickwatch — demo (simulated data)", &options());
    app.sync(snap);
    app.take_effects();
    app
}

/// What the app asked of the engine since the last call.
fn engine(app: &mut App) -> Vec<EngineCtl> {
    app.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Engine(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// Draws like the event loop: the layout first, then one frame (drawing changes nothing, so
/// a second frame would be the same).
fn draw(app: &mut App, snap: &ViewSnapshot, st: &StatusInfo, w: u16, h: u16) -> Buffer {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    app.layout(ratatui::layout::Rect::new(0, 0, w, h), st);
    term.draw(|f| app.render(snap, st, f.area(), f.buffer_mut()))
        .unwrap();
    let first = term.backend().buffer().clone();
    term.draw(|f| app.render(snap, st, f.area(), f.buffer_mut()))
        .unwrap();
    assert_eq!(
        &first,
        term.backend().buffer(),
        "a second frame drew differently"
    );
    first
}

fn line(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width)
        .map(|x| buf[(x, y)].symbol().to_string())
        .collect()
}

fn screen(buf: &Buffer) -> String {
    (0..buf.area.height)
        .map(|y| line(buf, y))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `text` starts on screen (column, row), counting one cell per character.
fn find(buf: &Buffer, text: &str) -> Option<(u16, u16)> {
    let want: Vec<String> = text.chars().map(|c| c.to_string()).collect();
    let n = want.len() as u16;
    for y in 0..buf.area.height {
        for x in 0..buf.area.width.saturating_sub(n - 1) {
            if (0..n).all(|i| buf[(x + i, y)].symbol() == want[usize::from(i)]) {
                return Some((x, y));
            }
        }
    }
    None
}

fn at(buf: &Buffer, text: &str) -> (u16, u16) {
    find(buf, text).unwrap_or_else(|| panic!("{text:?} not on screen:\n{}", screen(buf)))
}

fn fg(buf: &Buffer, text: &str) -> Color {
    let (x, y) = at(buf, text);
    buf[(x, y)].fg
}

fn press(app: &mut App, code: KeyCode) -> bool {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn focus_of(app: &mut App) -> Vec<(Option<String>, Interval)> {
    engine(app)
        .into_iter()
        .filter_map(|m| match m {
            EngineCtl::Focus { key, interval, .. } => {
                Some((key.map(|k| k.symbol.to_string()), interval))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn every_pane_shows_its_data_at_80x24() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    let text = screen(&buf);

    assert!(
        line(&buf, 0).contains("tickwatch — demo (simulated data)"),
        "{text}"
    );
    assert!(line(&buf, 0).contains("interval 1m"), "{text}");
    for header in ["Symbol", "Last", "Chg%", "Vol", "RSI", "Trend"] {
        assert!(text.contains(header), "missing header {header}:\n{text}");
    }
    let btc = line(&buf, at(&buf, "BTCUSDT ").1);
    for cell in ["43210.12", "+1.23%", "12.3k", "72", "+0.5"] {
        assert!(btc.contains(cell), "BTC row lacks {cell}: {btc}");
    }
    let eth = line(&buf, at(&buf, "ETHUSDT ").1);
    for cell in ["2345.68", "-0.45%", "4.5M", "25", "-3.2"] {
        assert!(eth.contains(cell), "ETH row lacks {cell}: {eth}");
    }
    assert!(text.contains("0.00002853"), "{text}");
    // Chart title, legend and time labels of the first and last candle.
    assert!(text.contains("sim:BTCUSDT 1m"), "{text}");
    // the legend: the newest candle (at 80 columns the indicator values are cut)
    assert!(
        text.contains("O 43295.00 H 43300.00 L 43290.00 C 43293.00"),
        "{text}"
    );
    assert!(
        text.contains("RSI 55.0"),
        "the RSI pane fits at 80x24:\n{text}"
    );
    assert!(text.contains("22:10"), "{text}");
    // Alerts, newest first.
    let rows: Vec<u16> = ["newest", "middle", "oldest"]
        .iter()
        .map(|m| at(&buf, m).1)
        .collect();
    assert!(rows[0] < rows[1] && rows[1] < rows[2], "{text}");
    assert!(text.contains("22:12:20 ETHUSDT newest"), "{text}");
    assert!(
        !text.contains("ETHUSDT ETHUSDT"),
        "symbol shown once: {text}"
    );
    // Status bar: sources, throughput, losses and the clock.
    for part in [
        "sim live",
        "1.2k ev/s",
        "drop 5",
        "db lag 0",
        "late 0",
        "22:13:20 UTC",
    ] {
        assert!(text.contains(part), "status lacks {part}:\n{text}");
    }
}

#[test]
fn up_and_down_are_coloured_and_extremes_marked() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    assert_eq!(fg(&buf, "+1.23%"), Color::Green);
    assert_eq!(fg(&buf, "-0.45%"), Color::Red);
    // RSI 72 overbought, 25 oversold.
    let (_, btc_y) = at(&buf, "BTCUSDT ");
    let rsi = line(&buf, btc_y).find(" 72 ").unwrap();
    let rsi_x = line(&buf, btc_y)[..rsi].chars().count() as u16 + 1;
    assert_eq!(buf[(rsi_x, btc_y)].fg, Color::Red);
    let (zx, zy) = at(&buf, "-3.2");
    assert_eq!(buf[(zx, zy)].fg, Color::Yellow);
    assert!(buf[(zx, zy)].modifier.contains(Modifier::BOLD));
    // Non-zero drops are red; zero lag is not.
    let (dx, dy) = at(&buf, "drop 5");
    assert_eq!(buf[(dx + 5, dy)].fg, Color::Red);
    let (lx, ly) = at(&buf, "db lag 0");
    assert_ne!(buf[(lx + 7, ly)].fg, Color::Red);
}

#[test]
fn the_selected_row_is_highlighted_and_follows_the_keys() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    let (x, y) = at(&buf, "BTCUSDT ");
    assert_eq!(buf[(x, y)].bg, Color::Blue);
    let (ex, ey) = at(&buf, "ETHUSDT ");
    assert_ne!(buf[(ex, ey)].bg, Color::Blue);

    assert!(press(&mut app, KeyCode::Down));
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    assert_eq!(buf[(ex, ey)].bg, Color::Blue);
    assert_ne!(buf[(x, y)].bg, Color::Blue);

    // With another pane focused the selection stays visible, in a quieter colour.
    assert!(press(&mut app, KeyCode::Tab));
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    assert_eq!(buf[(ex, ey)].bg, Color::DarkGray);
}

#[test]
fn quiet_sources_and_rows_are_never_shown_as_live() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let buf = draw(&mut app, &snap, &status(), 160, 48);
    let text = screen(&buf);
    // binance says Live but its last event is 30 s old.
    assert!(text.contains("binance stale for 30 s"), "{text}");
    assert!(!text.contains("binance live"), "{text}");
    assert_eq!(fg(&buf, "stale for 30 s"), Color::Yellow);
    assert_eq!(fg(&buf, "failed: DNS lookup failed"), Color::Red);
    let (lx, _) = at(&buf, "sim live");
    let (_, ly) = at(&buf, "sim live");
    assert_eq!(buf[(lx + 4, ly)].fg, Color::Green);

    // PEPE's last event is 12.4 s old: its age shows, in yellow, and the row is dimmed.
    let pepe_y = at(&buf, "PEPEUSDT").1;
    let pepe = line(&buf, pepe_y);
    assert!(pepe.contains(" 12s "), "{pepe}");
    let (ax, ay) = at(&buf, "12s");
    assert_eq!(ay, pepe_y);
    assert_eq!(buf[(ax, ay)].fg, Color::Yellow);
    assert!(buf[(ax, ay)].modifier.contains(Modifier::DIM));
    // A fresh row shows no age.
    let btc = line(&buf, at(&buf, "BTCUSDT ").1);
    assert!(!btc.contains("0s"), "{btc}");

    // A source that went live and never delivered anything is stale too.
    let mut st = status();
    // A service (the database) that is live is not subject to data staleness.
    let mut db = source("db", SourceState::Live, None);
    db.is_source = false;
    st.sources = vec![source("sim", SourceState::Live, None), db];
    let text = screen(&draw(&mut app, &snap, &st, 80, 24));
    assert!(text.contains("sim stale for 120 s"), "{text}");
    assert!(text.contains("db live"), "{text}");
}

#[test]
fn the_price_scale_comes_from_the_candles_not_the_overlays() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    for (w, h) in [(80, 24), (160, 48)] {
        let text = screen(&draw(&mut app, &snap, &status(), w, h));
        // Lowest low 42995, highest high 43300; the 99999 Bollinger point is clipped.
        assert!(text.contains("42995.00"), "{text}");
        assert!(text.contains("43300.00"), "{text}");
        assert!(!text.contains("99999"), "{text}");
        // Braille points of the line chart are on screen.
        assert!(
            text.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
            "{text}"
        );
    }

    // Small prices keep their digits on the axis.
    let mut small = snapshot();
    let chart = small.chart.as_mut().unwrap();
    for c in &mut chart.candles {
        for v in [
            &mut c.candle.open,
            &mut c.candle.high,
            &mut c.candle.low,
            &mut c.candle.close,
        ] {
            *v *= 1e-9 * 0.66;
        }
        c.values = vec![None; COLUMNS.len()].into_boxed_slice();
    }
    let mut app = app_with(&small);
    let text = screen(&draw(&mut app, &small, &status(), 80, 24));
    assert!(text.contains("0.00002838"), "{text}");
}

#[test]
fn the_wide_layout_puts_the_chart_beside_the_watchlist() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let buf = draw(&mut app, &snap, &status(), 160, 48);
    let text = screen(&buf);
    let (wx, wy) = at(&buf, "Watchlist");
    let (cx, cy) = at(&buf, "sim:BTCUSDT 1m");
    assert_eq!(wy, cy, "{text}");
    assert!(cx > wx + 60, "{text}");
    assert!(text.contains("22:13:20 UTC") && text.contains("coinbase failed"));
    // Everything fits on one status line at this width.
    assert!(line(&buf, 47).contains("sim live") && line(&buf, 47).contains("drop 5"));
}

#[test]
fn too_small_terminals_get_a_message_and_no_panic() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    for (w, h) in [(79, 24), (80, 23), (60, 20)] {
        let text = screen(&draw(&mut app, &snap, &status(), w, h));
        let want = format!("terminal too small: {w}x{h}, need at least 80x24");
        assert!(text.replace('\n', "").contains(&want), "{text}");
    }
    for (w, h) in [(1, 1), (0, 0), (1, 0), (5, 2), (200, 1)] {
        draw(&mut app, &snap, &status(), w, h);
    }
    // Every size from the minimum up, full and empty, with help open.
    let empty = ViewSnapshot::default();
    let mut help = app_with(&snap);
    help.update(tickwatch::ui::Action::ToggleHelp);
    for w in (80..=220).step_by(7) {
        for h in (24..=70).step_by(5) {
            draw(&mut app, &snap, &status(), w, h);
            draw(&mut help, &snap, &status(), w, h);
            draw(&mut app, &empty, &StatusInfo::default(), w, h);
        }
    }
}

#[test]
fn empty_panes_say_what_is_happening() {
    let mut app = app_with(&ViewSnapshot::default());
    let mut st = status();
    st.sources.truncate(1);
    let text = screen(&draw(&mut app, &ViewSnapshot::default(), &st, 80, 24));
    assert!(text.contains("waiting for data from sim…"), "{text}");
    assert!(text.contains("no alerts fired yet"), "{text}");

    let mut snap = snapshot();
    snap.chart = None;
    let mut app = app_with(&snap);
    let text = screen(&draw(&mut app, &snap, &st, 80, 24));
    assert!(text.contains("no candles yet for BTCUSDT 1m"), "{text}");
}

#[test]
fn help_lists_every_key() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    assert!(press(&mut app, KeyCode::Char('?')));
    assert!(app.help_visible());
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    for (group, items) in GROUPS {
        assert!(text.contains(group), "help lacks {group}:\n{text}");
        for (action, word) in *items {
            let keys = app.keymap().keys_of(*action).replace(" / ", "/");
            assert!(
                text.contains(&format!("{keys} {word}")),
                "help lacks {keys} {word}:\n{text}"
            );
        }
    }
    assert!(press(&mut app, KeyCode::Char('?')));
    assert!(!app.help_visible());
    assert!(press(&mut app, KeyCode::Char('?')));
    assert!(press(&mut app, KeyCode::Esc));
    assert!(
        !press(&mut app, KeyCode::Esc),
        "Esc with help closed changes nothing"
    );
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(!text.contains("Keys (? or Esc closes)"), "{text}");
}

#[test]
fn selection_keys_move_and_refocus_the_engine() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    assert_eq!(app.selected(), 0);
    assert!(press(&mut app, KeyCode::Char('j')));
    assert!(press(&mut app, KeyCode::Down));
    assert_eq!(app.selected(), 2);
    assert!(!press(&mut app, KeyCode::Down), "already on the last row");
    assert!(press(&mut app, KeyCode::Char('k')));
    assert!(press(&mut app, KeyCode::Up));
    assert!(!press(&mut app, KeyCode::Up), "already on the first row");
    assert_eq!(
        focus_of(&mut app),
        vec![
            (Some("ETHUSDT".into()), Interval::M1),
            (Some("PEPEUSDT".into()), Interval::M1),
            (Some("ETHUSDT".into()), Interval::M1),
            (Some("BTCUSDT".into()), Interval::M1),
        ]
    );
    assert!(press(&mut app, KeyCode::End));
    assert_eq!(app.selected_key(), Some(key("PEPEUSDT")));
    assert!(press(&mut app, KeyCode::Char('g')));
    assert_eq!(app.selected(), 0);
}

#[test]
fn brackets_step_the_interval_with_clamping() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let mut seen = vec![app.interval()];
    while press(&mut app, KeyCode::Char(']')) {
        seen.push(app.interval());
    }
    assert_eq!(app.interval(), Interval::D1);
    assert!(!press(&mut app, KeyCode::Char(']')));
    while press(&mut app, KeyCode::Char('[')) {
        seen.push(app.interval());
    }
    assert_eq!(app.interval(), Interval::S1);
    assert!(!press(&mut app, KeyCode::Char('[')));
    let names: Vec<&str> = seen.iter().map(|i| i.as_str()).collect();
    assert_eq!(
        names,
        [
            "1m", "5m", "15m", "1h", "4h", "1d", "4h", "1h", "15m", "5m", "1m", "1s"
        ]
    );
    // One Focus per change, none for the clamped presses, always for the selected symbol.
    let sent = focus_of(&mut app);
    assert_eq!(sent.len(), names.len() - 1);
    assert!(sent.iter().all(|(k, _)| k.as_deref() == Some("BTCUSDT")));
    assert_eq!(sent.last().map(|s| s.1), Some(Interval::S1));
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(line_of(&text, 0).contains("interval 1s"), "{text}");
}

fn line_of(text: &str, y: usize) -> &str {
    text.lines().nth(y).unwrap_or_default()
}

#[test]
fn tab_cycles_focus_and_alerts_scroll_when_focused() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    assert_eq!(app.focus(), Pane::Watchlist);
    assert!(press(&mut app, KeyCode::Tab));
    assert_eq!(app.focus(), Pane::Chart);
    assert!(press(&mut app, KeyCode::Tab));
    assert_eq!(app.focus(), Pane::Alerts);
    assert!(press(&mut app, KeyCode::Down));
    assert_eq!((app.alerts_scroll(), app.selected()), (1, 0));
    assert!(
        focus_of(&mut app).is_empty(),
        "scrolling alerts does not refocus"
    );
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(
        !text.contains("newest") && text.contains("middle"),
        "{text}"
    );
    assert!(press(&mut app, KeyCode::Tab));
    assert_eq!(app.focus(), Pane::Watchlist);
    assert!(press(&mut app, KeyCode::BackTab));
    assert_eq!(app.focus(), Pane::Alerts);
}

#[test]
fn quit_keys_quit_and_unknown_keys_do_nothing() {
    let snap = snapshot();
    for (code, mods) in [
        (KeyCode::Char('q'), KeyModifiers::NONE),
        (KeyCode::Char('c'), KeyModifiers::CONTROL),
    ] {
        let mut app = app_with(&snap);
        app.on_key(KeyEvent::new(code, mods));
        assert!(app.should_quit(), "{code:?} {mods:?}");
    }
    let mut app = app_with(&snap);
    for code in [
        KeyCode::Char('x'),
        KeyCode::F(5),
        KeyCode::Char('Q'),
        KeyCode::Insert,
    ] {
        assert!(!press(&mut app, code), "{code:?}");
    }
    assert!(!app.should_quit());
    assert!(engine(&mut app).is_empty());
}

#[test]
fn the_engine_is_focused_at_start_and_selection_follows_the_symbol() {
    let mut app = App::new("t", &options());
    assert_eq!(focus_of(&mut app), vec![(None, Interval::M1)]);
    let mut snap = snapshot();
    app.sync(&snap);
    press(&mut app, KeyCode::Down);
    app.take_effects();
    // ETH moves to the end of the list: the selection stays on ETH, nothing is re-sent.
    let eth = snap.rows.remove(1);
    snap.rows.push(eth);
    app.sync(&snap);
    assert_eq!(app.selected_key(), Some(key("ETHUSDT")));
    assert_eq!(app.selected(), 2);
    assert!(engine(&mut app).is_empty());
    // ETH disappears: the selection falls on a listed symbol and the engine is told.
    snap.rows.pop();
    app.sync(&snap);
    assert_eq!(app.selected_key(), Some(key("PEPEUSDT")));
    assert_eq!(
        focus_of(&mut app),
        vec![(Some("PEPEUSDT".into()), Interval::M1)]
    );
}

#[test]
fn big_counters_still_fit_80_columns_with_the_clock() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let mut st = status();
    st.store_lag = 473_800;
    st.deliveries_failed = 12;
    st.late = 3;
    let buf = draw(&mut app, &snap, &st, 80, 24);
    let last = line(&buf, 23);
    for part in ["drop 5", "lag 473800", "late 3", "nfail 12", "22:13:20"] {
        assert!(last.contains(part), "{part} missing: {last}");
    }
    // Storage far behind and failed deliveries are red; late trades only a warning.
    let (x, y) = at(&buf, "473800");
    assert_eq!(buf[(x, y)].fg, Color::Red);
    let (x, y) = at(&buf, "nfail 12");
    assert_eq!(buf[(x + 6, y)].fg, Color::Red);
    let (x, y) = at(&buf, "late 3");
    assert_eq!(buf[(x + 5, y)].fg, Color::Yellow);
}

#[test]
fn a_feed_that_never_connected_points_to_the_offline_demo() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let mut st = status();
    st.sources = vec![source(
        "binance",
        SourceState::Reconnecting {
            at_ms: NOW + 4_000,
            attempt: 3,
            reason: "DNS lookup failed".into(),
        },
        None,
    )];
    let text = screen(&draw(&mut app, &snap, &st, 160, 48));
    assert!(
        text.contains("binance DNS lookup failed; reconnecting in 4 s (attempt 3)"),
        "{text}"
    );
    assert!(
        text.contains("offline? `tickwatch --demo` runs the demo without network"),
        "{text}"
    );
    // at 80 columns, from a checkout: the whole hint, with a command that works there
    st.demo_command = "cargo run --release -- --demo";
    let text = screen(&draw(&mut app, &snap, &st, 80, 24));
    assert!(
        text.contains(" offline? `cargo run --release -- --demo` runs the demo without network"),
        "{text}"
    );
    assert!(
        text.contains("binance DNS lookup failed; reconnecting"),
        "{text}"
    );
    st.demo_command = "";
    // once data has come, a reconnect is a reconnect: no hint
    st.sources[0].last_event_ms = Some(NOW - 5_000);
    let text = screen(&draw(&mut app, &snap, &st, 160, 48));
    assert!(text.contains("reconnecting in 4 s"), "{text}");
    assert!(!text.contains("--demo"), "{text}");
}

#[test]
fn an_offline_hint_fits_80_columns_behind_a_long_state() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let mut st = status();
    st.sources = vec![source(
        "binance",
        SourceState::Reconnecting {
            at_ms: NOW + 4_000,
            attempt: 3,
            reason: "DNS lookup failed".into(),
        },
        None,
    )];
    let text = screen(&draw(&mut app, &snap, &st, 80, 24));
    assert!(
        text.contains("offline? `tickwatch --demo`") && text.contains("without network"),
        "the whole hint at 80 columns:\n{text}"
    );
}

#[test]
fn a_failed_notifier_is_said_once_and_does_not_hide_the_feeds() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    let mut st = status();
    let reason = "no notification service: org.freedesktop.Notifications is not on the \
                  session bus (install a notification daemon, or set [alerts] desktop = false)";
    let mut desktop = source("desktop", SourceState::Failed(reason.into()), None);
    desktop.is_source = false;
    st.sources = vec![
        source("binance", SourceState::Live, Some(1_000)),
        source("coinbase", SourceState::Live, Some(30_000)),
        desktop,
    ];
    // the status bar marks it, and the feeds' states stay in full
    let text = screen(&draw(&mut app, &snap, &st, 80, 24));
    assert!(text.contains("desktop failed"), "{text}");
    assert!(!text.contains("org.freedesktop"), "{text}");
    assert!(text.contains("binance live"), "{text}");
    assert!(text.contains("coinbase stale for 30 s"), "{text}");
    // the reason is said once, in the alerts pane
    assert!(app.observe_services(&st.sources));
    let text = screen(&draw(&mut app, &snap, &st, 80, 24));
    assert!(
        text.contains("desktop failed: no notification service"),
        "{text}"
    );
    press(&mut app, KeyCode::Char('j'));
    assert!(!app.observe_services(&st.sources), "said once");
    let text = screen(&draw(&mut app, &snap, &st, 80, 24));
    assert!(!text.contains("org.freedesktop"), "{text}");
}

#[test]
fn the_z_column_says_it_is_the_latest_trades_whatever_the_interval() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    for (w, h) in [(80, 24), (160, 48)] {
        let text = screen(&draw(&mut app, &snap, &status(), w, h));
        let header = text
            .lines()
            .find(|l| l.contains("Symbol") && l.contains("RSI"))
            .unwrap_or_default();
        assert!(header.contains("RSI z tick   Age"), "{w}x{h}: {header}");
    }
}

// ---- alert rules: the rules view, the keys that act on rules, the form ----

fn rule_view(name: &str, origin: Origin, status: Status, spec_toml: &str) -> RuleView {
    let spec: RuleConfig = toml::from_str(spec_toml).unwrap();
    let rule = spec.build().unwrap();
    RuleView {
        name: name.into(),
        origin,
        status,
        scope: rule.symbols.describe(),
        condition: rule.condition.describe(),
        mode: rule.mode,
        severity: rule.severity,
        last_fired_ms: (status == Status::Triggered).then_some(NOW - 65_000),
        snoozed_until_ms: (status == Status::Snoozed).then_some(NOW + 15 * 60_000),
        expires_ms: rule.expires_ms,
        spec,
    }
}

fn with_rules() -> ViewSnapshot {
    let mut snap = snapshot();
    snap.rules = vec![
        rule_view(
            "btc-high",
            Origin::Monitor,
            Status::Armed,
            "name = 'btc-high'\nsymbols = ['BTCUSDT']\nkind = 'price_above'\nvalue = 44000",
        ),
        rule_view(
            "anomaly",
            Origin::Config,
            Status::Triggered,
            "name = 'anomaly'\nkind = 'zscore'\nvalue = 4",
        ),
        rule_view(
            "eth-low",
            Origin::Monitor,
            Status::Snoozed,
            "name = 'eth-low'\nkind = 'price_below'\nvalue = 2000",
        ),
        rule_view(
            "old",
            Origin::Monitor,
            Status::Expired,
            "name = 'old'\nkind = 'price_below'\nvalue = 1\nexpires = '2023-01-01'",
        ),
    ];
    snap
}

fn fixed_now() -> TsMs {
    NOW
}

fn sent(app: &mut App) -> Vec<EngineCtl> {
    engine(app)
        .into_iter()
        .filter(|m| !matches!(m, EngineCtl::Focus { .. }))
        .collect()
}

#[test]
fn rules_show_their_state_in_colour_beside_the_log_at_80x24() {
    let mut snap = with_rules();
    snap.rules.truncate(3);
    let mut app = app_with(&snap);
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    let text = screen(&buf);
    assert!(text.contains("Rules (3)"), "{text}");
    assert_eq!(fg(&buf, "armed"), Color::Green);
    assert_eq!(fg(&buf, "triggered"), Color::Red);
    assert_eq!(fg(&buf, "snoozed"), Color::Yellow);
    for part in ["btc-high", "anomaly fired 22:12:15", "eth-low until 22:28"] {
        assert!(text.contains(part), "{part}:\n{text}");
    }
    // beside the log, on the same rows, and the log still reads
    let (rx_, ry) = at(&buf, "Rules (3)");
    let (lx, ly) = at(&buf, "Alerts (3)");
    assert_eq!(ry, ly);
    assert!(rx_ < lx);
    assert!(text.contains("22:12:20 ETHUSDT newest"), "{text}");
    // the selected rule is marked even when another pane has the focus
    let (_, y) = at(&buf, "btc-high");
    let (x, _) = at(&buf, "armed");
    assert_eq!(buf[(x, y)].bg, Color::DarkGray);

    // no rules: the pane says how to make one
    let snap = snapshot();
    let mut app = app_with(&snap);
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(text.contains("no rules · n adds one"), "{text}");
}

#[test]
fn tall_terminals_list_the_rules_above_the_log() {
    let snap = with_rules();
    let mut app = app_with(&snap);
    let buf = draw(&mut app, &snap, &status(), 160, 48);
    let (rx_, ry) = at(&buf, "Rules (4)");
    let (lx, ly) = at(&buf, "Alerts (3)");
    assert_eq!(rx_, lx);
    assert!(ry < ly);
    let expired = at(&buf, "expired");
    assert_eq!(buf[expired].fg, Color::DarkGray);
    assert!(at(&buf, "old").1 < ly, "all four rules visible");
}

#[test]
fn the_rules_pane_joins_the_focus_cycle_and_keys_act_on_the_selected_rule() {
    let snap = with_rules();
    let mut app = app_with(&snap);
    app.set_clock(fixed_now);
    press(&mut app, KeyCode::Tab);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.focus(), Pane::Rules);
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    assert!(line(&buf, 0).contains("focus rules"), "{}", screen(&buf));
    let (_, y) = at(&buf, "btc-high");
    let (x, _) = at(&buf, "armed");
    assert_eq!(buf[(x, y)].bg, Color::Blue, "focused selection");

    // z steps the snooze: 15 min, 1 h, 4 h, off
    let mut untils = Vec::new();
    for _ in 0..4 {
        assert!(press(&mut app, KeyCode::Char('z')));
        match sent(&mut app).as_slice() {
            [EngineCtl::Snooze { name, until_ms }] => {
                assert_eq!(name, "btc-high");
                untils.push(until_ms.map(|t| (t - NOW) / 60_000));
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(untils, vec![Some(15), Some(60), Some(240), None]);

    // x acknowledges a triggered rule only
    assert!(press(&mut app, KeyCode::Char('x')));
    assert!(sent(&mut app).is_empty());
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(text.contains("nothing to acknowledge"), "{text}");
    assert!(press(&mut app, KeyCode::Down));
    assert_eq!(
        app.selected_rule().map(|r| r.name.as_str()),
        Some("anomaly")
    );
    assert!(press(&mut app, KeyCode::Char('x')));
    assert_eq!(
        sent(&mut app),
        vec![EngineCtl::Acknowledge {
            name: "anomaly".into()
        }]
    );
    // config rules are edited in the file
    for k in ['e', 'd'] {
        assert!(press(&mut app, KeyCode::Char(k)));
        assert!(app.form().is_none() && app.confirm_delete().is_none());
        let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
        assert!(text.contains("comes from config.toml"), "{text}");
    }
    assert!(sent(&mut app).is_empty());

    // d asks first; any key but y keeps the rule
    assert!(press(&mut app, KeyCode::Down));
    assert!(press(&mut app, KeyCode::Char('d')));
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(text.contains("Delete the rule \"eth-low\"?"), "{text}");
    assert!(press(&mut app, KeyCode::Char('n')));
    assert!(app.confirm_delete().is_none() && app.form().is_none());
    assert!(sent(&mut app).is_empty());
    assert!(press(&mut app, KeyCode::Char('d')));
    assert!(press(&mut app, KeyCode::Char('y')));
    assert_eq!(
        sent(&mut app),
        vec![EngineCtl::DeleteRule {
            name: "eth-low".into()
        }]
    );

    // e opens the form on a monitor rule; Enter sends the edit
    assert!(press(&mut app, KeyCode::Up));
    assert!(press(&mut app, KeyCode::Up));
    assert_eq!(
        app.selected_rule().map(|r| r.name.as_str()),
        Some("btc-high")
    );
    assert!(press(&mut app, KeyCode::Char('e')));
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(text.contains("Edit rule btc-high"), "{text}");
    assert!(text.contains("44000"), "{text}");
    for _ in 0..3 {
        press(&mut app, KeyCode::Backspace);
    }
    press(&mut app, KeyCode::Char('5'));
    press(&mut app, KeyCode::Char('0'));
    press(&mut app, KeyCode::Char('0'));
    assert!(press(&mut app, KeyCode::Enter));
    match sent(&mut app).as_slice() {
        [EngineCtl::ReplaceRule { old_name, rule }] => {
            assert_eq!(old_name, "btc-high");
            assert_eq!(rule.value, 44_500.0);
            assert_eq!(rule.name.as_deref(), Some("btc-high"));
        }
        other => panic!("{other:?}"),
    }
    assert!(app.form().is_none());
}

#[test]
fn n_opens_a_form_with_the_current_price_and_enter_sends_the_rule() {
    let snap = snapshot();
    let mut app = app_with(&snap);
    press(&mut app, KeyCode::Down); // ETHUSDT
    app.take_effects();
    assert!(press(&mut app, KeyCode::Char('n')));
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    let text = screen(&buf);
    assert!(text.contains("New alert rule · ETHUSDT"), "{text}");
    for part in [
        "price_above",
        "2345.68",
        "rearm",
        "cooldown s",
        "(from the condition)",
    ] {
        assert!(text.contains(part), "form lacks {part}:\n{text}");
    }
    // keys go to the form: q is typed, not quit
    press(&mut app, KeyCode::Char('q'));
    assert!(!app.should_quit());
    press(&mut app, KeyCode::Backspace);
    assert!(press(&mut app, KeyCode::Enter));
    assert!(app.form().is_none());
    match sent(&mut app).as_slice() {
        [EngineCtl::AddRule(spec)] => {
            assert_eq!(spec.kind, RuleKind::PriceAbove);
            assert_eq!(spec.value, 2345.68);
            assert_eq!(spec.symbols, Some(vec!["ETHUSDT".to_string()]));
            assert_eq!(spec.name.as_deref(), Some("ETHUSDT price above 2345.68"));
        }
        other => panic!("{other:?}"),
    }

    // the pct_change form, with every field, fits 80x24; a bad value is explained and not sent
    assert!(press(&mut app, KeyCode::Char('n')));
    press(&mut app, KeyCode::Up); // to kind
    for _ in 0..3 {
        press(&mut app, KeyCode::Right);
    }
    assert_eq!(app.form().map(|f| f.kind), Some(RuleKind::PctChange));
    press(&mut app, KeyCode::Down); // value
    press(&mut app, KeyCode::Backspace);
    press(&mut app, KeyCode::Char('x'));
    assert!(press(&mut app, KeyCode::Enter));
    assert!(app.form().is_some());
    assert!(sent(&mut app).is_empty());
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    let text = screen(&buf);
    for part in [
        "pct_change",
        "window",
        "5m",
        "symbols",
        "hysteresis",
        "name",
    ] {
        assert!(text.contains(part), "form lacks {part}:\n{text}");
    }
    assert_eq!(fg(&buf, "value: \"x\" is not a number"), Color::Red);
    assert!(press(&mut app, KeyCode::Esc));
    assert!(app.form().is_none());
    assert!(sent(&mut app).is_empty());
}

#[test]
fn a_new_rule_gets_a_free_name_and_is_selected_when_it_arrives() {
    let mut snap = with_rules();
    snap.rules[0] = rule_view(
        "BTCUSDT price above 43210.12",
        Origin::Monitor,
        Status::Armed,
        "name = 'BTCUSDT price above 43210.12'\nkind = 'price_above'\nvalue = 43210.12",
    );
    let mut app = app_with(&snap);
    press(&mut app, KeyCode::Char('n'));
    press(&mut app, KeyCode::Enter);
    let Some(EngineCtl::AddRule(spec)) = sent(&mut app).pop() else {
        panic!("not sent")
    };
    assert_eq!(
        spec.name.as_deref(),
        Some("BTCUSDT price above 43210.12 (2)")
    );
    // a taken name typed by hand is refused in the form
    press(&mut app, KeyCode::Char('n'));
    for _ in 0..6 {
        press(&mut app, KeyCode::Down);
    }
    assert_eq!(
        app.form().map(|f| f.field),
        Some(tickwatch::ui::Field::Name)
    );
    for c in "anomaly".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    assert!(sent(&mut app).is_empty());
    let err = app.form().and_then(|f| f.error.clone()).unwrap();
    assert!(err.contains("exists"), "{err}");
    press(&mut app, KeyCode::Esc);
    // when the engine publishes the new rule, the selection moves to it
    let mut next = snap.clone();
    next.rules.push(rule_view(
        "BTCUSDT price above 43210.12 (2)",
        Origin::Monitor,
        Status::Armed,
        "kind = 'price_above'\nvalue = 43210.12",
    ));
    app.sync(&next);
    assert_eq!(
        app.selected_rule().map(|r| r.name.as_str()),
        Some("BTCUSDT price above 43210.12 (2)")
    );
}

// ---- issue 5: views, themes, watchlist selection, chart keys ----

fn detail_snapshot() -> ViewSnapshot {
    use tickwatch::domain::{Quote, Side};
    use tickwatch::view::{RecentTrade, SymbolDetail};
    let mut s = snapshot();
    s.detail = Some(SymbolDetail {
        key: key("BTCUSDT"),
        last: Some(43210.12),
        high_24h: Some(44_000.0),
        low_24h: Some(42_000.0),
        volume_24h: Some(12_345.0),
        change_pct: Some(1.234),
        from_venue: true,
        trades: (0..30)
            .map(|i| RecentTrade {
                ts_ms: NOW - i * 1_000,
                price: 43_210.0 - i as f64,
                qty: 0.5,
                side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            })
            .collect(),
        quote: Some((
            Quote {
                bid: 43_210.0,
                bid_qty: 1.5,
                ask: 43_210.5,
                ask_qty: 2.0,
            },
            NOW - 500,
        )),
    });
    s
}

fn fixed_app(snap: &ViewSnapshot, opts: UiOptions) -> App {
    let mut app = App::new("tickwatch — demo (simulated data)", &opts);
    app.set_clock(|| NOW);
    app.sync(snap);
    app
}

#[test]
fn every_view_renders_at_80x24_and_160x48() {
    let snap = detail_snapshot();
    let st = status();
    for (w, h) in [(80, 24), (160, 48)] {
        let mut app = fixed_app(&snap, options());
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        for want in [
            "Watchlist (3/3)",
            "BTCUSDT",
            "PEPEUSDT",
            "sim:BTCUSDT",
            "Alerts (3)",
        ] {
            assert!(text.contains(want), "{w}x{h} main lacks {want}:\n{text}");
        }

        assert!(press(&mut app, KeyCode::Enter));
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        for want in [
            "sim:BTCUSDT detail",
            "44000.00",
            "42000.00",
            "24h (venue)",
            "43210.00 / 43210.50",
            "spread",
            "bp)",
            "22:13:20",
            "sim:BTCUSDT 1m",
        ] {
            assert!(text.contains(want), "{w}x{h} detail lacks {want}:\n{text}");
        }
        assert!(!text.contains("Watchlist"), "{text}");

        assert!(press(&mut app, KeyCode::Char('#')));
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        for want in ["BTCUSDT", "ETHUSDT", "PEPEUSDT", "43210.12", "+1.23%"] {
            assert!(
                text.contains(want),
                "{w}x{h} overview lacks {want}:\n{text}"
            );
        }
        assert!(!text.contains("Symbol "), "{text}");
        // braille lines in every cell
        assert!(
            text.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c)),
            "{text}"
        );

        assert!(press(&mut app, KeyCode::Esc));
        assert_eq!(app.view(), tickwatch::ui::View::Main);
        assert!(press(&mut app, KeyCode::Char('?')));
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        assert!(text.contains("Keys (? or Esc closes)"), "{text}");
        if w >= 150 {
            // the big help lists every action with its description
            for (_, _, what) in tickwatch::ui::Action::ALL {
                let head: String = what.chars().take(20).collect();
                assert!(text.contains(&head), "{w}x{h} help lacks {what}:\n{text}");
            }
        }
    }
}

#[test]
fn the_filter_sort_and_watchlists_pick_and_order_the_rows() {
    use tickwatch::ui::watch_state::Group;
    let snap = snapshot();
    let opts = UiOptions {
        groups: vec![Group {
            name: "majors".into(),
            entries: vec![
                (None, Symbol::new("ETHUSDT").unwrap()),
                (None, Symbol::new("BTCUSDT").unwrap()),
            ],
        }],
        ..options()
    };
    let mut app = fixed_app(&snap, opts);
    let names = |app: &App| -> Vec<String> {
        app.rows()
            .iter()
            .map(|r| r.key.symbol.to_string())
            .collect()
    };
    for c in ['/', 'e', 't'] {
        assert!(press(&mut app, KeyCode::Char(c)));
    }
    assert_eq!(names(&app), ["ETHUSDT"]);
    // a filter that matches nothing: no rows, no chart of some other symbol
    press(&mut app, KeyCode::Char('x'));
    assert!(app.rows().is_empty());
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(text.contains("no symbol matches /etx"), "{text}");
    assert!(!text.contains("sim:BTCUSDT"), "{text}");
    press(&mut app, KeyCode::Backspace);
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(text.contains("filter / et"), "{text}");
    assert!(text.contains("all 1/2 (1/3) /et"), "{text}");
    assert!(press(&mut app, KeyCode::Enter));
    assert_eq!(names(&app), ["ETHUSDT"], "Enter keeps the filter");
    assert!(press(&mut app, KeyCode::Esc));
    assert_eq!(names(&app).len(), 3, "Esc clears it");

    // sort: symbol ascending, then last price descending, then reversed
    assert!(press(&mut app, KeyCode::Char('o')));
    assert_eq!(names(&app), ["BTCUSDT", "ETHUSDT", "PEPEUSDT"]);
    assert!(press(&mut app, KeyCode::Char('o')));
    assert_eq!(names(&app), ["BTCUSDT", "ETHUSDT", "PEPEUSDT"]);
    assert!(press(&mut app, KeyCode::Char('O')));
    assert_eq!(names(&app), ["PEPEUSDT", "ETHUSDT", "BTCUSDT"]);
    let buf = draw(&mut app, &snap, &status(), 80, 24);
    let text = screen(&buf);
    assert!(text.contains("by Last ↑"), "{text}");
    // the sorted column's header is underlined
    let (_, header_y) = at(&buf, "Symbol");
    let x = line(&buf, header_y)
        .chars()
        .collect::<Vec<_>>()
        .windows(4)
        .position(|w| w.iter().collect::<String>() == "Last")
        .unwrap() as u16;
    assert!(buf[(x, header_y)].modifier.contains(Modifier::UNDERLINED));
    // selection follows the symbol through the re-sort
    assert_eq!(
        app.selected_key().map(|k| k.symbol.to_string()).as_deref(),
        Some("ETHUSDT")
    );

    assert!(press(&mut app, KeyCode::Char('w')));
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(text.contains("majors 2/2 (2/3)"), "{text}");
    assert_eq!(names(&app), ["ETHUSDT", "BTCUSDT"]);
    assert!(press(&mut app, KeyCode::Char('W')));
    assert_eq!(names(&app).len(), 3);
}

#[test]
fn no_color_uses_no_colours_and_light_has_its_own() {
    use tickwatch::ui::theme::ThemeName;
    let snap = detail_snapshot();
    let mono = UiOptions {
        theme: ThemeName::Dark.with_no_color(Some(std::ffi::OsStr::new("1"))),
        ..options()
    };
    let mut app = fixed_app(&snap, mono);
    for view in [None, Some(KeyCode::Enter), Some(KeyCode::Char('#'))] {
        if let Some(k) = view {
            press(&mut app, k);
        }
        let buf = draw(&mut app, &snap, &status(), 100, 30);
        for (i, cell) in buf.content().iter().enumerate() {
            assert_eq!(
                cell.fg,
                Color::Reset,
                "a colour under NO_COLOR at {i}: {cell:?}\n{}",
                screen(&buf)
            );
            assert_eq!(cell.bg, Color::Reset, "a colour under NO_COLOR: {cell:?}");
        }
        press(&mut app, KeyCode::Esc);
    }
    // the selected row is still visible: reverse video
    let buf = draw(&mut app, &snap, &status(), 100, 30);
    let (x, y) = at(&buf, "BTCUSDT");
    assert!(buf[(x, y)].modifier.contains(Modifier::REVERSED));

    let light = UiOptions {
        theme: ThemeName::Light,
        ..options()
    };
    let mut app = fixed_app(&snap, light);
    let buf = draw(&mut app, &snap, &status(), 100, 30);
    let (x, y) = at(&buf, "BTCUSDT");
    assert_eq!(buf[(x, y)].bg, Color::Indexed(153));
    let (x, y) = at(&buf, "+1.23%");
    assert_eq!(buf[(x, y)].fg, Color::Indexed(28));
}

#[test]
fn range_zoom_pan_and_cursor_keys_move_the_window() {
    let snap = snapshot();
    let mut app = fixed_app(&snap, options());
    let _ = draw(&mut app, &snap, &status(), 100, 30);
    let last_open = snap
        .chart
        .as_ref()
        .unwrap()
        .candles
        .last()
        .unwrap()
        .candle
        .open_ms;
    let edge = last_open + 60_000;
    assert_eq!(app.window().1, edge, "the live edge");
    assert!(press(&mut app, KeyCode::Char('3')));
    assert_eq!(app.window(), (edge - 4 * 3_600_000, edge));
    // the engine is asked for everything in memory from the window's start
    let since: Vec<Option<TsMs>> = engine(&mut app)
        .into_iter()
        .filter_map(|m| match m {
            EngineCtl::Focus { since_ms, .. } => Some(since_ms),
            _ => None,
        })
        .collect();
    assert_eq!(since.last(), Some(&Some(edge - 4 * 3_600_000)));
    // no database in this test: the title says the rest is not stored
    assert!(
        app.chart_caption().contains("4h"),
        "{}",
        app.chart_caption()
    );
    assert!(
        app.chart_caption().contains("memory only"),
        "{}",
        app.chart_caption()
    );
    assert!(press(&mut app, KeyCode::Char('+')));
    assert_eq!(app.window(), (edge - 2 * 3_600_000, edge));
    assert!(press(&mut app, KeyCode::Char('<')));
    assert_eq!(app.window().1, edge - 30 * 60_000);
    assert!(
        app.chart_caption().contains("panned"),
        "{}",
        app.chart_caption()
    );
    assert!(press(&mut app, KeyCode::Char('>')));
    assert_eq!(app.window().1, edge);
    assert!(
        !press(&mut app, KeyCode::Char('>')),
        "never past the live edge"
    );
    // the cursor starts on the newest candle and walks back one column at a time
    assert!(press(&mut app, KeyCode::Char('c')));
    let cursor = app.chart_opts().cursor_ms.unwrap();
    // on the newest column (a column may hold several candles when zoomed out)
    assert!(
        cursor <= last_open && cursor > last_open - 10 * 60_000,
        "{cursor}"
    );
    assert!(press(&mut app, KeyCode::Left));
    assert!(app.chart_opts().cursor_ms.unwrap() < cursor);
    // walking off the left edge pans the window and keeps the cursor inside it
    for _ in 0..200 {
        press(&mut app, KeyCode::Left);
    }
    let c = app.chart_opts().cursor_ms.unwrap();
    let (from, to) = app.window();
    assert!(from <= c && c < to, "cursor {c} outside {from}..{to}");
    assert!(press(&mut app, KeyCode::Esc));
    assert_eq!(app.chart_opts().cursor_ms, None);
    assert!(press(&mut app, KeyCode::Char('0')));
    // typed range
    assert!(press(&mut app, KeyCode::Char('t')));
    for c in "3d".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    assert!(press(&mut app, KeyCode::Enter));
    assert_eq!(app.window(), (edge - 3 * 86_400_000, edge));
    assert!(press(&mut app, KeyCode::Char('t')));
    for c in "tomorrow".chars() {
        press(&mut app, KeyCode::Char(c));
    }
    press(&mut app, KeyCode::Enter);
    let text = screen(&draw(&mut app, &snap, &status(), 100, 30));
    assert!(text.contains("cannot read"), "the prompt says why:\n{text}");
    assert!(press(&mut app, KeyCode::Esc));
    assert!(app.prompt().is_none());
    // toggles
    let before = *app.chart_opts();
    for c in ['m', 's', 'E', 'b', 'v', 'r', 'M', 'L'] {
        assert!(press(&mut app, KeyCode::Char(c)));
    }
    let after = *app.chart_opts();
    assert_ne!(before.mode, after.mode);
    assert_eq!(
        (
            after.sma,
            after.ema,
            after.bollinger,
            after.volume,
            after.rsi,
            after.macd,
            after.log_scale
        ),
        (
            !before.sma,
            !before.ema,
            !before.bollinger,
            !before.volume,
            !before.rsi,
            !before.macd,
            !before.log_scale
        )
    );
    // the mouse wheel zooms
    let wheel = crossterm::event::Event::Mouse(crossterm::event::MouseEvent {
        kind: crossterm::event::MouseEventKind::ScrollUp,
        column: 50,
        row: 15,
        modifiers: KeyModifiers::NONE,
    });
    let span = app.window().1 - app.window().0;
    assert!(app.on_event(&wheel));
    assert_eq!(app.window().1 - app.window().0, span / 2);
}

#[test]
fn ascii_help_names_arrows_in_words_not_keys_of_other_actions() {
    let snap = detail_snapshot();
    let opts = UiOptions {
        glyphs: tickwatch::ui::theme::GlyphKind::Ascii,
        ..options()
    };
    let mut app = fixed_app(&snap, opts);
    press(&mut app, KeyCode::Char('?'));
    // compact help, then the full two-column one
    for (w, h, sep) in [(80, 24, "/"), (160, 48, " / ")] {
        let text = screen(&draw(&mut app, &snap, &status(), w, h));
        for (word, other) in [("Up", 'k'), ("Down", 'j'), ("Left", 'h'), ("Right", 'l')] {
            let want = format!("{word}{sep}{other}");
            assert!(text.contains(&want), "{w}x{h} lacks {want}:\n{text}");
        }
        // `<`, `>`, `v` and `^` stand only for their own actions
        for folded in [
            "^/k", "v/j", "</h", ">/l", "^ / k", "v / j", "< / h", "> / l",
        ] {
            assert!(!text.contains(folded), "{w}x{h} shows {folded}:\n{text}");
        }
    }
}

#[test]
fn ascii_frames_hold_only_ascii() {
    let snap = detail_snapshot();
    let opts = UiOptions {
        glyphs: tickwatch::ui::theme::GlyphKind::Ascii,
        ..options()
    };
    let mut app = fixed_app(&snap, opts);
    for k in [
        None,
        Some(KeyCode::Enter),
        Some(KeyCode::Char('#')),
        Some(KeyCode::Char('?')),
    ] {
        if let Some(k) = k {
            press(&mut app, k);
        }
        for (w, h) in [(80, 24), (160, 48)] {
            let text = screen(&draw(&mut app, &snap, &status(), w, h));
            assert!(text.is_ascii(), "{w}x{h}:\n{text}");
        }
    }
}

// ---- a replayed database: stored history and no live data ----

/// 2023-03-01T00:00:00Z, months before the fixed clock.
const REPLAY_T0: TsMs = 1_677_628_800_000;
const REPLAYED: i64 = 3_333;

/// A database holding `REPLAYED` 1m candles of sim:BTCUSDT from `REPLAY_T0` (as `replay` leaves
/// it), and a snapshot whose engine has no data for it yet.
fn replayed_db(dir: &std::path::Path) -> (std::path::PathBuf, ViewSnapshot) {
    use tickwatch::domain::{ClosedCandle, OutputBatch};
    use tickwatch::store;
    let path = dir.join("replayed.db");
    let mut conn = store::open(&path).unwrap();
    let columns: std::sync::Arc<[String]> = COLUMNS.iter().map(|c| c.to_string()).collect();
    let candles: Vec<ClosedCandle> = (0..REPLAYED)
        .map(|i| {
            let p = 80_000.0 + (i % 100) as f64;
            ClosedCandle {
                key: key("BTCUSDT"),
                interval: Interval::M1,
                candle: Candle {
                    open_ms: REPLAY_T0 + i * 60_000,
                    open: p,
                    high: p + 5.0,
                    low: p - 5.0,
                    close: p + 1.0,
                    volume: 2.0,
                    trades: 4,
                },
                columns: columns.clone(),
                values: vec![None; COLUMNS.len()].into_boxed_slice(),
            }
        })
        .collect();
    for chunk in candles.chunks(1_000) {
        let batch = OutputBatch {
            candles: chunk.to_vec(),
            ..OutputBatch::default()
        };
        store::write_batches(&mut conn, &[batch]).unwrap();
    }
    let mut r = row("BTCUSDT", 0.0, 0.0, 0.0, 50.0, 0.0, 0);
    r.last = None;
    r.change_pct = None;
    r.rsi = None;
    r.z = None;
    r.spark = Vec::new();
    r.last_recv_ms = None;
    r.last_exch_ms = None;
    let snap = ViewSnapshot {
        version: 1,
        rows: vec![r],
        chart: None,
        interval: Some(Interval::M1),
        ..ViewSnapshot::default()
    };
    (path, snap)
}

/// Draws and polls the app until `done` says so (the history thread answers in the meantime).
fn draw_until(
    app: &mut App,
    outbox: &Outbox,
    snap: &ViewSnapshot,
    what: &str,
    done: impl Fn(&App, &str) -> bool,
) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        app.poll();
        outbox.perform(app.take_effects());
        outbox.deliver(app);
        let text = screen(&draw(app, snap, &status(), 160, 48));
        if done(app, &text) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn range_all_on_a_replayed_database_fits_the_stored_candles() {
    let dir = tempfile::tempdir().unwrap();
    let (db, snap) = replayed_db(dir.path());
    let (tx, _rx) = flume::unbounded();
    let outbox =
        Outbox::new(tx).with_history(tickwatch::history::HistoryLoader::spawn(db).unwrap());
    let mut app = App::new("tickwatch", &options()).with_history(true);
    app.set_clock(|| NOW);
    app.sync(&snap);
    press(&mut app, KeyCode::Char('7'));
    let last_end = REPLAY_T0 + REPLAYED * 60_000;
    let text = draw_until(
        &mut app,
        &outbox,
        &snap,
        "the stored candles",
        |app, text| {
            let (from, to) = app.window();
            text.contains("all · 3333 stored candles") && from <= REPLAY_T0 && to == last_end
        },
    );
    // drawn, not "no candles from …": the window runs first..last stored, not to today
    assert!(!text.contains("no candles"), "{text}");
    assert!(text.contains("80"), "price scale drawn:\n{text}");
    let (from, to) = app.window();
    assert!(
        to - from <= 2 * REPLAYED * 60_000,
        "window {from}..{to} fits the data"
    );
}

#[test]
fn a_stored_last_price_shows_stale_until_live_data_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let (db, snap) = replayed_db(dir.path());
    let (tx, _rx) = flume::unbounded();
    let outbox =
        Outbox::new(tx).with_history(tickwatch::history::HistoryLoader::spawn(db).unwrap());
    let mut app = App::new("tickwatch", &options()).with_history(true);
    app.set_clock(|| NOW);
    app.sync(&snap);
    // the newest stored close (candle 3332: 80032 + 1), with its age: 256 days before the clock
    let text = draw_until(&mut app, &outbox, &snap, "the stored price", |_, text| {
        text.contains("80033.00")
    });
    let shown = text.lines().find(|l| l.contains("│BTCUSDT")).unwrap();
    assert!(
        shown.contains("80033.00") && shown.contains("256d"),
        "{shown}"
    );
    // dimmed: it cannot pass for live
    let buf = draw(&mut app, &snap, &status(), 160, 48);
    let y = (0..buf.area.height)
        .find(|&y| line(&buf, y).contains("80033.00"))
        .unwrap();
    let l = line(&buf, y);
    let x = l[..l.find("80033").unwrap()].chars().count() as u16;
    assert!(buf[(x, y)].modifier.contains(Modifier::DIM));
    // live data replace it
    let mut live = snap.clone();
    live.rows = vec![row("BTCUSDT", 81_000.5, 0.1, 10.0, 50.0, 0.1, 200)];
    app.sync(&live);
    let text = screen(&draw(&mut app, &live, &status(), 160, 48));
    let shown = text.lines().find(|l| l.contains("│BTCUSDT")).unwrap();
    assert!(
        shown.contains("81000.50") && !shown.contains("80033"),
        "{shown}"
    );
}

/// A BTCUSDT book around 43 210: 0.5 steps, sizes growing away from the top.
fn book(sync: tickwatch::domain::BookSync) -> std::sync::Arc<tickwatch::domain::BookSnapshot> {
    use tickwatch::domain::{BookSnapshot, Level};
    let side = |start: f64, dir: f64| {
        (0..40)
            .map(|i| Level {
                price: start + dir * 0.5 * i as f64,
                qty: 0.25 + i as f64 * 0.1,
            })
            .collect::<Vec<_>>()
    };
    std::sync::Arc::new(BookSnapshot {
        key: key("BTCUSDT"),
        bids: side(43_210.0, -1.0),
        asks: side(43_210.5, 1.0),
        more_bids: true,
        more_asks: true,
        sync,
        updated_ms: NOW - 100,
        gaps: 1,
        checksum_failures: 0,
        resyncs: 1,
    })
}

#[test]
fn the_ladder_reads_at_80x24_and_shows_more_at_160x48() {
    use tickwatch::domain::BookSync;
    let mut snap = detail_snapshot();
    // one large trade on the tape
    snap.detail.as_mut().unwrap().trades[3].qty = 9.0;
    let st = status();
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut app = fixed_app(&snap, options());
        assert!(press(&mut app, KeyCode::Char('B')));
        assert!(app.on_book(Some(book(BookSync::Synced))));
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        for want in [
            "Book BTCUSDT · sim",
            "in sync",
            "gaps 1",
            "spread 0.50 (0.12bp)",
            "mid 43210.25",
            "micro 43210.25",
            "imb10 +0.00",
            "43210.00",
            "43210.50",
            "trades",
        ] {
            assert!(text.contains(want), "{w}x{h}: {want:?} missing:\n{text}");
        }
        assert!(
            text.contains("◆"),
            "{w}x{h}: the large trade is marked:\n{text}"
        );
        // the levels shown grow with the screen
        // half-step bids only: the tape's prices are whole numbers
        let shown = (0..40)
            .filter(|i| i % 2 == 1)
            .filter(|i| text.contains(&format!("{:.2}", 43_210.0 - 0.5 * *i as f64)))
            .count();
        if w == 80 {
            assert!(
                (3..=6).contains(&shown),
                "{shown} bid levels at 80x24:\n{text}"
            );
        } else {
            assert!(shown >= 7, "{shown} bid levels at 160x48:\n{text}");
            // the depth chart under the ladder: full bars on its bottom line
            assert!(
                text.lines().any(|l| l.matches('█').count() > 40),
                "depth chart:\n{text}"
            );
        }
        // the cursor says the cumulative size and the distance from the mid
        assert!(press(&mut app, KeyCode::Down));
        assert!(press(&mut app, KeyCode::Down));
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        assert!(
            text.contains("cursor 43209.00  cum bid 1.05  -1.25 from mid (-0.3 bp)"),
            "{w}x{h}:\n{text}"
        );
        // coarser steps: 0.5 × 2 = 1.00
        assert!(press(&mut app, KeyCode::Char('}')));
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        assert!(text.contains("tick 1.00×2"), "{w}x{h}:\n{text}");
    }
}

#[test]
fn a_book_out_of_sync_is_never_drawn_as_if_it_were() {
    use tickwatch::domain::BookSync;
    let snap = detail_snapshot();
    let mut app = fixed_app(&snap, options());
    press(&mut app, KeyCode::Char('B'));
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(text.contains("no order book for sim:BTCUSDT"), "{text}");
    app.on_book(Some(book(BookSync::Resyncing {
        why: "sequence gap: 1002 after 1000".into(),
    })));
    let text = screen(&draw(&mut app, &snap, &status(), 80, 24));
    assert!(
        text.contains("RESYNCING: sequence gap: 1002 after 1000"),
        "{text}"
    );
    assert!(text.contains("not in sync"), "{text}");
    assert!(!text.contains("43209.50"), "no level is drawn:\n{text}");
    assert!(!text.contains("spread"), "no figure is drawn:\n{text}");
}

fn venue_row(venue: Venue, sym: &str, last: f64, age_ms: i64) -> WatchRow {
    WatchRow {
        key: VenueSymbol::new(venue, Symbol::new(sym).unwrap()),
        ..row(sym, last, 0.1, 1_000.0, 50.0, 0.0, age_ms)
    }
}

/// The same pairs at several venues: one `BASE/QUOTE` name with the venue beside it, and each
/// row's basis points from the median of its pair's live prices; a row of a reconnecting source
/// or with old data shows `—` and moves nothing, a pair at one venue shows a blank.
#[test]
fn pairs_at_several_venues_show_one_name_and_their_difference_in_bp() {
    let snap = ViewSnapshot {
        rows: vec![
            venue_row(Venue::Binance, "BTCUSDT", 100_000.0, 500),
            venue_row(Venue::Okx, "BTC-USDT", 100_050.0, 500),
            // its source is reconnecting: a price that looks fresh but is not current
            venue_row(Venue::Bybit, "BTCUSDT", 90_000.0, 500),
            venue_row(Venue::Coinbase, "BTC-USD", 100_300.0, 500),
            // 20 s old (stale_after is 10 s): coinbase is then the only live BTC/USD
            venue_row(Venue::Kraken, "BTC/USD", 100_100.0, 20_000),
            venue_row(Venue::Binance, "ETHUSDT", 3_000.0, 500),
            venue_row(Venue::Yahoo, "EURUSD=X", 1.0812, 500),
        ],
        chart: None,
        ..snapshot()
    };
    let mut st = status();
    st.sources = vec![
        source("binance", SourceState::Live, Some(500)),
        source("okx", SourceState::Live, Some(500)),
        source(
            "bybit",
            SourceState::Reconnecting {
                at_ms: NOW + 2_000,
                attempt: 2,
                reason: "closed".into(),
            },
            Some(500),
        ),
        source("coinbase", SourceState::Live, Some(500)),
        source("kraken", SourceState::Live, Some(500)),
    ];
    let mut app = app_with(&snap);
    for (w, h) in [(160, 48), (100, 40)] {
        let buf = draw(&mut app, &snap, &st, w, h);
        let text = screen(&buf);
        let header = line(&buf, at(&buf, "Δbp med").1);
        assert!(
            header.contains("Symbol") && header.contains("Venue"),
            "{text}"
        );
        let row_of = |venue: &str, name: &str| -> String {
            (0..buf.area.height)
                .map(|y| line(&buf, y))
                .find(|l| l.contains(&format!("│{name:<13}{venue} ")))
                .unwrap_or_else(|| panic!("no {name} row at {venue}:\n{text}"))
        };
        // median of the two live BTC/USDT prices: 100 025
        assert!(row_of("binance", "BTC/USDT").contains(" -2.5 "), "{text}");
        assert!(row_of("okx", "BTC/USDT").contains(" +2.5 "), "{text}");
        assert!(row_of("bybit", "BTC/USDT").contains(" — "), "{text}");
        assert!(row_of("coinbase", "BTC/USD").contains(" — "), "{text}");
        assert!(row_of("kraken", "BTC/USD").contains(" — "), "{text}");
        for (venue, name) in [("binance", "ETH/USDT"), ("yahoo", "EUR/USD")] {
            let l = row_of(venue, name);
            assert!(!l.contains('—') && !l.contains("bp"), "{l}");
        }
        // the watchlist shows no venue's own name (the chart keeps them)
        assert!(
            !text.contains("│BTCUSDT") && !text.contains("│BTC-USDT"),
            "{text}"
        );
    }

    // kraken's feed comes back: BTC/USD has two live prices, each half the spread from the mid
    let mut snap2 = snap.clone();
    snap2.version += 1;
    snap2.rows[4].last_recv_ms = Some(NOW - 500);
    app.sync(&snap2);
    let buf = draw(&mut app, &snap2, &st, 160, 48);
    let text = screen(&buf);
    let coinbase = line(&buf, at(&buf, "coinbase ").1);
    assert!(coinbase.contains(" +10.0 "), "{text}");
    let kraken = line(&buf, at(&buf, "kraken ").1);
    assert!(kraken.contains(" -10.0 "), "{text}");

    // no pair at two venues: no column, the sparkline has the room
    let single = snapshot();
    let mut app = app_with(&single);
    let text = screen(&draw(&mut app, &single, &status(), 80, 24));
    assert!(
        !text.contains("Δbp") && text.contains("Trend") && text.contains("Venue"),
        "{text}"
    );
}

/// A portfolio of BTC and ETH (priced by the sim rows), one ETH sold at a profit, and a coin no
/// market prices.
fn portfolio_options() -> UiOptions {
    let section: tickwatch::portfolio::config::PortfolioSection = toml::from_str(
        r#"
prices = { BTC = "sim:BTCUSDT", ETH = "sim:ETHUSDT" }
[[entries]]
time = "2023-11-01"
type = "buy"
asset = "BTC"
quote = "USD"
qty = 0.5
price = 30000
fee = 10
[[entries]]
time = "2023-11-02"
type = "buy"
asset = "ETH"
quote = "USD"
qty = 4
price = 2000
[[entries]]
time = "2023-11-03"
type = "sell"
asset = "ETH"
quote = "USD"
qty = 1
price = 2400
[[entries]]
time = "2023-11-04"
type = "deposit"
asset = "DOGE"
qty = 1000
price = 0.05
"#,
    )
    .unwrap();
    let p = tickwatch::portfolio::Portfolio::new(&section, Vec::new())
        .unwrap()
        .unwrap();
    UiOptions {
        portfolio: Some(std::sync::Arc::new(p)),
        ..options()
    }
}

#[test]
fn the_portfolio_view_reads_at_80x24_and_160x48() {
    let snap = snapshot();
    let st = status();
    for (w, h) in [(80u16, 24u16), (160, 48)] {
        let mut app = fixed_app(&snap, portfolio_options());
        assert!(press(&mut app, KeyCode::Char('P')));
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        // BTC: 0.5 × 43210.123 = 21605.06 (cost 15010: +6595.06); ETH: 3 × 2345.6789 =
        // 7037.04 (cost 6000: +1037.04; the one sold realized +400); total 28642.10
        for want in [
            "Portfolio",
            "value 28642.10 USD",
            "real",
            "+400.00",
            "BTC",
            "ETH",
            "75.4%",
            "24.6%",
            "DOGE: no market gives its price: set [portfolio].prices.DOGE",
        ] {
            assert!(text.contains(want), "{w}x{h}: {want:?} missing:\n{text}");
        }
        if w == 160 {
            for want in ["+6595.06", "+1037.04", "30020.00", "2000.00", "allocation"] {
                assert!(text.contains(want), "{w}x{h}: {want:?} missing:\n{text}");
            }
        }
        // P again: back to the main view
        assert!(press(&mut app, KeyCode::Char('P')));
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        assert!(!text.contains("value 28642.10"), "{text}");
    }
    // without a portfolio the view says how to make one
    let mut app = fixed_app(&snap, options());
    assert!(press(&mut app, KeyCode::Char('P')));
    let text = screen(&draw(&mut app, &snap, &st, 80, 24));
    assert!(text.contains("No portfolio"), "{text}");
}

/// The portfolio series the app asked the folio thread for.
fn folio_requests(app: &mut App) -> Vec<tickwatch::history::FolioRequest> {
    app.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Folio(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// The `P` view's chart: the stored series the folio thread is asked for (the last month by
/// default, the range keys' span otherwise), drawn under the positions with its range high.
#[test]
fn the_portfolio_view_charts_its_value_over_the_range() {
    use tickwatch::history::{FolioPoint, FolioReply};
    let snap = snapshot();
    let st = status();
    let mut app = fixed_app(&snap, portfolio_options()).with_folio(true);
    app.take_effects();
    assert!(press(&mut app, KeyCode::Char('P')));
    let asked = folio_requests(&mut app);
    assert_eq!(asked.len(), 1, "{asked:?}");
    let req = &asked[0];
    let day = 86_400_000;
    assert!(req.to_ms <= NOW && NOW - req.to_ms < req.step_ms);
    // the last month, but nothing before the first entry (2023-11-01)
    let first = 1_698_796_800_000;
    assert!(
        req.from_ms >= first && req.from_ms - first < req.step_ms,
        "{req:?}"
    );
    assert_eq!(
        req.step_ms,
        51 * 60_000,
        "1m candles: 20,000 minutes in 400 steps"
    );
    // a month from 20,000 up to a high of 31,000, then down; one step without every price
    let points: Vec<FolioPoint> = (0..=((req.to_ms - req.from_ms) / req.step_ms))
        .map(|i| {
            let v = if i < 200 {
                20_000.0 + 55.0 * i as f64
            } else {
                31_000.0 - 10.0 * (i - 200) as f64
            };
            FolioPoint {
                ts_ms: req.from_ms + i * req.step_ms,
                value: v,
                pnl: v - 20_000.0,
                whole: i != 50,
            }
        })
        .collect();
    assert!(app.on_folio(FolioReply {
        id: req.id,
        result: Ok(points),
        elapsed: Duration::from_millis(3),
    }));
    for (w, h) in [(160u16, 48u16), (80, 24)] {
        let text = screen(&draw(&mut app, &snap, &st, w, h));
        assert!(!text.contains("% now"), "{text}");
        for want in [
            "value 28642.10 USD",
            "value, last 14d in 51m steps",
            // DOGE has no price now: no distance from the high is claimed
            "range high 31000.00 USD ·",
            "20000.00",
            "2023-11-01",
            "2023-11-14",
        ] {
            assert!(text.contains(want), "{w}x{h}: {want:?} missing:\n{text}");
        }
        if w == 160 {
            assert!(
                text.contains("1 step without every price left out"),
                "{text}"
            );
        }
    }
    // a range key asks for that range, in finer steps (1d of 1m: 4-minute steps)
    assert!(press(&mut app, KeyCode::Char('4')));
    let again = folio_requests(&mut app);
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0].step_ms, 4 * 60_000);
    assert!((again[0].to_ms - again[0].from_ms - day).abs() <= again[0].step_ms);
    // an answer to an older question is dropped
    assert!(!app.on_folio(FolioReply {
        id: req.id + 100,
        result: Ok(Vec::new()),
        elapsed: Duration::ZERO,
    }));
}

/// The engine commands the app queued about portfolio entries.
fn entry_changes(app: &mut App) -> Vec<tickwatch::portfolio::EntryChange> {
    app.take_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Engine(EngineCtl::EditPortfolio { change, .. }) => Some(change),
            _ => None,
        })
        .collect()
}

fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        press(app, KeyCode::Char(c));
    }
}

/// The ledger tab of `P`: entries listed newest first; `n` adds one through the form, `e`
/// edits it, `d` then `y` deletes it, each handed to the engine to store; a sale of more than
/// is held is refused in the form, naming it; config entries are changed only in the file.
#[test]
fn portfolio_entries_are_added_edited_and_deleted_in_the_monitor() {
    use tickwatch::portfolio::EntryChange;
    let snap = snapshot();
    let st = status();
    let mut app = fixed_app(&snap, portfolio_options());
    press(&mut app, KeyCode::Char('P'));
    press(&mut app, KeyCode::Tab);
    let text = screen(&draw(&mut app, &snap, &st, 120, 30));
    assert!(
        text.contains("Portfolio ledger") && text.contains("4 entries"),
        "{text}"
    );
    // newest first: the DOGE deposit, the config's
    assert!(press(&mut app, KeyCode::Char('e')));
    assert!(
        app.notice()
            .is_some_and(|n| n.contains("comes from config.toml")),
        "{:?}",
        app.notice()
    );
    app.take_effects();

    // a new buy on the selected market at its last price
    press(&mut app, KeyCode::Char('n'));
    let text = screen(&draw(&mut app, &snap, &st, 120, 30));
    assert!(text.contains("New portfolio entry"), "{text}");
    assert!(text.contains("sim:BTCUSDT"), "{text}");
    type_text(&mut app, "0.1");
    press(&mut app, KeyCode::Enter);
    let changes = entry_changes(&mut app);
    assert_eq!(changes.len(), 1, "{changes:?}");
    let EntryChange::Upsert(e) = &changes[0] else {
        panic!("{changes:?}")
    };
    assert_eq!((e.qty, e.price, e.ts_ms), (0.1, Some(43210.123), NOW));
    assert_eq!(e.source, "monitor");
    let id = e.id.clone();
    let text = screen(&draw(&mut app, &snap, &st, 120, 30));
    assert!(
        text.contains("5 entries") && text.contains("monitor"),
        "{text}"
    );

    // edited: the same id, a new quantity
    press(&mut app, KeyCode::Char('e'));
    let text = screen(&draw(&mut app, &snap, &st, 120, 30));
    assert!(text.contains("Edit entry"), "{text}");
    press(&mut app, KeyCode::Backspace);
    type_text(&mut app, "2");
    press(&mut app, KeyCode::Enter);
    let changes = entry_changes(&mut app);
    let [EntryChange::Upsert(e)] = changes.as_slice() else {
        panic!("{changes:?}")
    };
    assert_eq!((e.id.as_str(), e.qty), (id.as_str(), 0.2));

    // a sale of more than is held: refused in the form, nothing sent
    press(&mut app, KeyCode::Char('n'));
    for _ in 0..5 {
        press(&mut app, KeyCode::Up);
    }
    press(&mut app, KeyCode::Right);
    for _ in 0..5 {
        press(&mut app, KeyCode::Down);
    }
    type_text(&mut app, "10");
    press(&mut app, KeyCode::Enter);
    assert!(entry_changes(&mut app).is_empty());
    let text = screen(&draw(&mut app, &snap, &st, 120, 30));
    assert!(text.contains("sells 10 BTCUSDT, but only 0.2"), "{text}");
    press(&mut app, KeyCode::Esc);

    // deleted after a y
    press(&mut app, KeyCode::Char('d'));
    let text = screen(&draw(&mut app, &snap, &st, 120, 30));
    assert!(
        text.contains("Delete the selected portfolio entry?"),
        "{text}"
    );
    press(&mut app, KeyCode::Char('y'));
    assert_eq!(entry_changes(&mut app), vec![EntryChange::Delete(id)]);
    let text = screen(&draw(&mut app, &snap, &st, 120, 30));
    assert!(text.contains("4 entries"), "{text}");
}

/// A ledger that could not be loaded is said so in the view, and no entry can be changed (a
/// change to a part of it would store a ledger that does not add up).
#[test]
fn an_unloadable_portfolio_is_said_and_not_edited() {
    let snap = snapshot();
    let st = status();
    let opts = UiOptions {
        portfolio_error: Some("the stored entries cannot be read: disk I/O error".into()),
        ..options()
    };
    let mut app = fixed_app(&snap, opts);
    press(&mut app, KeyCode::Char('P'));
    let text = screen(&draw(&mut app, &snap, &st, 120, 30));
    assert!(text.contains("could not be loaded"), "{text}");
    press(&mut app, KeyCode::Char('n'));
    type_text(&mut app, "1");
    press(&mut app, KeyCode::Enter);
    assert!(entry_changes(&mut app).is_empty());
    let text = screen(&draw(&mut app, &snap, &st, 120, 30));
    assert!(text.contains("fix that first"), "{text}");
}
