//! The whole chart pane drawn into a buffer: candles and their colours, glyph sets, sub-panes,
//! scales, the cursor and legend, bucketing, and every size without a panic.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::widgets::Widget;

use super::*;
use crate::domain::{Candle, Interval, Symbol, Venue, VenueSymbol};
use crate::ui::chart_opts::ChartMode;

/// 2023-11-14T00:00:00Z
const T0: TsMs = 1_699_920_000_000;
const M: TsMs = 60_000;
const FULL: [&str; 9] = [
    "sma20",
    "ema20",
    "bb20_upper",
    "bb20_mid",
    "bb20_lower",
    "rsi14",
    "macd",
    "macd_signal",
    "macd_hist",
];

fn cc(t: TsMs, o: f64, h: f64, l: f64, c: f64, v: f64, values: Vec<Option<f64>>) -> ChartCandle {
    ChartCandle {
        candle: Candle {
            open_ms: t,
            open: o,
            high: h,
            low: l,
            close: c,
            volume: v,
            trades: 1,
        },
        values: values.into_boxed_slice(),
        closed: true,
    }
}

fn view(candles: Vec<ChartCandle>, columns: &[&str]) -> ChartView {
    ChartView {
        key: VenueSymbol::new(Venue::Sim, Symbol::new("BTCUSDT").unwrap()),
        interval: Interval::M1,
        columns: columns.iter().map(|c| c.to_string()).collect(),
        candles,
    }
}

/// `n` one-minute candles from T0 around `base`, alternating up and down, with every column of
/// [`FULL`] defined from the 20th candle on and undefined on the last (live) one.
fn market(n: usize, base: f64) -> ChartView {
    let candles = (0..n)
        .map(|i| {
            let f = i as f64;
            let mid = base * (1.0 + 0.01 * (f / 6.0).sin() + 0.0005 * f);
            let (o, c) = if i % 3 == 0 {
                (mid * 1.002, mid * 0.998)
            } else {
                (mid * 0.998, mid * 1.002)
            };
            let (h, l) = (mid * 1.004, mid * 0.996);
            let values = if i < 19 || i + 1 == n {
                vec![None; FULL.len()]
            } else {
                let m = (f / 9.0).sin() * base * 0.001;
                let s = ((f - 3.0) / 9.0).sin() * base * 0.001;
                vec![
                    Some(mid * 0.999),
                    Some(mid * 1.001),
                    Some(mid * 1.006),
                    Some(mid),
                    Some(mid * 0.994),
                    Some(50.0 + 35.0 * (f / 7.0).sin()),
                    Some(m),
                    Some(s),
                    Some(m - s),
                ]
            };
            cc(T0 + i as i64 * M, o, h, l, c, 10.0 + (i % 7) as f64, values)
        })
        .collect();
    let mut v = view(candles, &FULL);
    if let Some(last) = v.candles.last_mut() {
        last.closed = false;
    }
    v
}

fn opts() -> ChartOpts {
    ChartOpts {
        mode: ChartMode::Candles,
        sma: false,
        ema: false,
        bollinger: false,
        volume: false,
        rsi: false,
        macd: false,
        log_scale: false,
        cursor_ms: None,
    }
}

struct Draw<'a> {
    chart: Option<&'a ChartView>,
    from: TsMs,
    to: TsMs,
    opts: ChartOpts,
    marks: Vec<TsMs>,
    glyphs: Glyphs,
    theme: Theme,
}

impl<'a> Draw<'a> {
    fn new(chart: &'a ChartView) -> Draw<'a> {
        let from = chart.candles.first().map_or(T0, |c| c.candle.open_ms);
        let to = chart.candles.last().map_or(T0, |c| c.candle.open_ms + M);
        Draw {
            chart: Some(chart),
            from,
            to,
            opts: opts(),
            marks: Vec::new(),
            glyphs: Glyphs::UNICODE,
            theme: Theme::DARK,
        }
    }

    fn render(&self, w: u16, h: u16) -> Buffer {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        let pane = ChartPane {
            chart: self.chart,
            from_ms: self.from,
            to_ms: self.to,
            opts: &self.opts,
            focused: false,
            empty: "no candles yet for BTCUSDT 1m",
            caption: "4h · loading history…",
            note: "",
            marks: &self.marks,
            glyphs: &self.glyphs,
            theme: &self.theme,
        };
        (&pane).render(area, &mut buf);
        buf
    }
}

fn lines(buf: &Buffer) -> Vec<String> {
    let a = buf.area;
    (a.top()..a.bottom())
        .map(|y| {
            (a.left()..a.right())
                .map(|x| buf[(x, y)].symbol())
                .collect()
        })
        .collect()
}

/// Row `y` inside the pane's border.
fn inner_line(buf: &Buffer, y: u16) -> String {
    let a = buf.area;
    (a.left() + 1..a.right().saturating_sub(1))
        .map(|x| buf[(x, y)].symbol())
        .collect()
}

fn text(buf: &Buffer) -> String {
    lines(buf).join("\n")
}

/// The plot's columns and rows for a pane of `w` x `h` with only the price plot.
fn price_plot(w: u16, h: u16) -> Rect {
    let inner = Rect::new(1, 1, w - 2, h - 2);
    layout::plan(inner, &[]).price.plot
}

/// Symbols and foreground colours down plot column `col`.
fn column(buf: &Buffer, plot: Rect, col: u16) -> Vec<(String, Option<Color>)> {
    (plot.top()..plot.bottom())
        .map(|y| {
            let c = &buf[(plot.x + col, y)];
            (c.symbol().to_string(), c.fg)
        })
        .map(|(s, fg): (String, Color)| (s, (fg != Color::Reset).then_some(fg)))
        .collect()
}

const BODY: [&str; 7] = ["┃", "╽", "╿", "╻", "╹", "▀", "▄"];

fn is_body(s: &str) -> bool {
    BODY.contains(&s) || s == "█"
}

fn up_down() -> ChartView {
    view(
        vec![
            cc(T0, 10.0, 15.0, 9.0, 14.0, 1.0, vec![]),
            cc(T0 + M, 14.0, 15.0, 9.0, 10.0, 1.0, vec![]),
        ],
        &[],
    )
}

#[test]
fn rising_bodies_are_up_falling_are_down_and_wicks_reach_beyond() {
    let chart = up_down();
    let d = Draw::new(&chart);
    let (w, h) = (40, 14);
    let buf = d.render(w, h);
    let plot = price_plot(w, h);
    let x = XMap::new(d.from, d.to, M, plot.width);
    for (slot, color) in [(0, Color::Green), (1, Color::Red)] {
        let (start, width) = x.body(slot);
        assert!(
            width > 1,
            "two candles over {} columns are wide",
            plot.width
        );
        let wick = column(&buf, plot, start + width / 2);
        let first_body = wick.iter().position(|(s, _)| is_body(s)).unwrap();
        let first_wick = wick.iter().position(|(s, _)| s == "│" || s == "╷").unwrap();
        assert!(first_wick < first_body, "{}", text(&buf));
        assert_eq!(
            first_wick,
            0,
            "the high is at the very top:\n{}",
            text(&buf)
        );
        for (s, fg) in &wick {
            if s != " " {
                assert_eq!(*fg, Some(color), "{s} in slot {slot}\n{}", text(&buf));
            }
        }
        // The body spans its width in the same colour, with a gap to the next candle.
        let body_row = plot.y + first_body as u16 + 1;
        for col in start..start + width {
            let cell = &buf[(plot.x + col, body_row)];
            assert_eq!(cell.symbol(), "█", "{}", text(&buf));
            assert_eq!(cell.fg, color);
        }
        assert_eq!(buf[(plot.x + start + width, body_row)].symbol(), " ");
    }
}

#[test]
fn one_column_candles_use_heavy_bodies_and_light_wicks() {
    let chart = market(60, 100.0);
    let d = Draw::new(&chart);
    let buf = d.render(80, 16);
    let t = text(&buf);
    assert!(t.contains('┃') && t.contains('│'), "{t}");
    assert!(
        !t.contains('█'),
        "one-column bodies are lines, not blocks:\n{t}"
    );
    // Light theme colours too.
    let mut d = Draw::new(&chart);
    d.theme = Theme::LIGHT;
    let buf = d.render(80, 16);
    let colors: Vec<Color> = buf
        .content()
        .iter()
        .filter(|c| BODY.contains(&c.symbol()))
        .map(|c| c.fg)
        .collect();
    assert!(colors.contains(&Theme::LIGHT.up) && colors.contains(&Theme::LIGHT.down));
}

#[test]
fn mono_tells_up_from_down_by_glyph() {
    for (chart, w) in [(up_down(), 40), (market(120, 100.0), 80)] {
        let mut d = Draw::new(&chart);
        d.theme = Theme::MONO;
        let (up, down) = (glyphs_of(&d, w, true), glyphs_of(&d, w, false));
        assert!(!up.is_empty() && !down.is_empty());
        assert!(up.iter().all(|g| !down.contains(g)), "{up:?} {down:?}");
    }
}

/// Body glyphs of up (or down) candles in a mono render.
fn glyphs_of(d: &Draw, w: u16, up: bool) -> Vec<String> {
    let h = 16;
    let buf = d.render(w, h);
    let plot = price_plot(w, h);
    let chart = d.chart.unwrap();
    let bucket = bucket_ms_for(Interval::M1, d.to - d.from, usize::from(plot.width));
    let x = XMap::new(d.from, d.to, bucket, plot.width);
    let vis = window::visible(&chart.candles, &x);
    let scale = PriceScale::of(&vis.candles, false).unwrap();
    let mut out: Vec<String> = Vec::new();
    for (c, &slot) in vis.candles.iter().zip(&vis.slots) {
        let c = &c.candle;
        if (c.close >= c.open) != up {
            continue;
        }
        // The cell holding the middle of the body.
        let Some(row) = scale.row_of((c.open + c.close) / 2.0, plot.height) else {
            continue;
        };
        let (start, _) = x.body(slot);
        let s = buf[(plot.x + start, plot.y + row)].symbol().to_string();
        assert_ne!(s, " ");
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

#[test]
fn ascii_draws_only_ascii() {
    let mut nan = market(90, 100.0);
    nan.candles[40].candle.close = f64::NAN;
    nan.candles[41].values[0] = Some(f64::NAN);
    let chart = market(90, 100.0);
    for data in [&chart, &nan] {
        for mode in [ChartMode::Candles, ChartMode::Line, ChartMode::Area] {
            let mut d = Draw::new(data);
            d.glyphs = Glyphs::ASCII;
            d.theme = Theme::MONO;
            d.opts = ChartOpts {
                mode,
                cursor_ms: Some(T0 + 60 * M),
                ..ChartOpts::default()
            };
            d.opts.bollinger = true;
            d.opts.macd = true;
            for (w, h) in [(80, 30), (120, 40), (40, 12)] {
                let t = text(&d.render(w, h));
                assert!(t.is_ascii(), "{mode:?} {w}x{h}\n{t}");
                assert!(t.contains('|'), "{t}");
            }
        }
    }
    let mut d = Draw::new(&chart);
    d.glyphs = Glyphs::ASCII;
    let t = text(&d.render(80, 20));
    assert!(
        t.contains('+') && t.contains('#'),
        "up and down bodies:\n{t}"
    );
}

#[test]
fn rsi_has_reference_lines_at_30_and_70() {
    let chart = market(60, 100.0);
    let mut d = Draw::new(&chart);
    d.opts.rsi = true;
    let (w, h) = (80, 40);
    let buf = d.render(w, h);
    let inner = Rect::new(1, 1, w - 2, h - 2);
    let plan = layout::plan(inner, &[(Sub::Rsi, true)]);
    let (_, rsi) = plan.subs[0];
    let rows = rsi.plot.height;
    assert!(rows >= 4, "{plan:?}");
    for level in [70.0, 30.0] {
        let row = scale::row_of_frac(level / 100.0, rows).unwrap();
        let y = rsi.plot.y + row;
        let dots = (rsi.plot.left()..rsi.plot.right())
            .filter(|&x| buf[(x, y)].symbol() == "┄")
            .count();
        assert!(dots > usize::from(rsi.plot.width) / 3, "{}", text(&buf));
        let label: String = (rsi.gutter.x + 1..rsi.gutter.right())
            .map(|x| buf[(x, y)].symbol())
            .collect();
        assert!(
            label.trim() == format!("{level:.0}") || label.starts_with("RSI"),
            "{label}"
        );
    }
    // The RSI line (braille, in its colour) and its latest value.
    let t = text(&buf);
    assert!(t.contains("RSI "), "{t}");
    let magenta = (rsi.plot.top()..rsi.plot.bottom())
        .flat_map(|y| (rsi.plot.left()..rsi.plot.right()).map(move |x| (x, y)))
        .filter(|&p| buf[p].fg == Theme::DARK.rsi && buf[p].symbol() != "┄")
        .count();
    assert!(magenta > 10, "{t}");
}

#[test]
fn macd_bars_grow_from_a_zero_line() {
    let chart = market(100, 100.0);
    let mut d = Draw::new(&chart);
    d.opts.macd = true;
    let (w, h) = (80, 40);
    let buf = d.render(w, h);
    let inner = Rect::new(1, 1, w - 2, h - 2);
    let (_, macd) = layout::plan(inner, &[(Sub::Macd, true)]).subs[0];
    let label_rows: Vec<(u16, String)> = (macd.plot.top()..macd.plot.bottom())
        .map(|y| {
            let s: String = (macd.gutter.x + 1..macd.gutter.right())
                .map(|x| buf[(x, y)].symbol())
                .collect();
            (y, s.trim().to_string())
        })
        .collect();
    let zero_y = label_rows
        .iter()
        .find(|(_, s)| s == "0")
        .map(|(y, _)| *y)
        .unwrap_or_else(|| panic!("{label_rows:?}\n{}", text(&buf)));
    let on_zero = (macd.plot.left()..macd.plot.right())
        .filter(|&x| buf[(x, zero_y)].symbol() == "┄")
        .count();
    assert!(on_zero > 0, "{}", text(&buf));
    // Up-coloured bars above the zero row, down-coloured below.
    let bars = |range: std::ops::Range<u16>, color: Color| {
        range
            .flat_map(|y| (macd.plot.left()..macd.plot.right()).map(move |x| (x, y)))
            .filter(|&p| ["█", "▀", "▄"].contains(&buf[p].symbol()) && buf[p].fg == color)
            .count()
    };
    assert!(
        bars(macd.plot.top()..zero_y + 1, Color::Green) > 0,
        "{}",
        text(&buf)
    );
    assert!(
        bars(zero_y..macd.plot.bottom(), Color::Red) > 0,
        "{}",
        text(&buf)
    );
    assert_eq!(bars(macd.plot.top()..zero_y, Color::Red), 0);
    assert_eq!(bars(zero_y + 1..macd.plot.bottom(), Color::Green), 0);
}

#[test]
fn log_scale_places_round_labels_by_ratio() {
    // From 10 to 1000 in a straight line of closes.
    let candles = (0..60)
        .map(|i| {
            let p = 10.0 * 100f64.powf(f64::from(i) / 59.0);
            cc(T0 + i64::from(i) * M, p, p, p, p, 1.0, vec![])
        })
        .collect();
    let chart = view(candles, &[]);
    let mut d = Draw::new(&chart);
    d.opts.log_scale = true;
    let (w, h) = (80, 23);
    let buf = d.render(w, h);
    let plot = price_plot(w, h);
    let t = text(&buf);
    assert!(lines(&buf)[0].contains("log"), "{t}");
    let row_of = |label: &str| {
        (plot.top()..plot.bottom()).find(|&y| {
            let s: String = (plot.right() + 1..w - 1)
                .map(|x| buf[(x, y)].symbol())
                .collect();
            s.trim() == label
        })
    };
    let (top, bottom) = (row_of("1000.00"), row_of("10.00"));
    assert_eq!(top, Some(plot.top()), "{t}");
    assert_eq!(bottom, Some(plot.bottom() - 1), "{t}");
    let mid = row_of("100.00").unwrap_or_else(|| panic!("{t}"));
    let middle = plot.top() + plot.height / 2;
    assert!(
        mid.abs_diff(middle) <= 1,
        "100 sits mid-way on a log scale:\n{t}"
    );
    // Log of a scale that crosses zero is refused in the title, not drawn wrong.
    let mut neg = chart.clone();
    neg.candles[0].candle.low = -1.0;
    let mut d = Draw::new(&neg);
    d.opts.log_scale = true;
    let t = text(&d.render(w, h));
    assert!(lines(&d.render(w, h))[0].contains("log n/a"), "{t}");
}

#[test]
fn the_cursor_shows_its_candle_and_a_marker() {
    let chart = market(60, 100.0);
    let mut d = Draw::new(&chart);
    d.opts.volume = true;
    let i = 30;
    let c = chart.candles[i].candle;
    d.opts.cursor_ms = Some(c.open_ms + 20_000);
    let (w, h) = (100, 20);
    let buf = d.render(w, h);
    let legend = inner_line(&buf, 1);
    let dd = crate::format::price_decimals(c.high);
    for (name, v) in [("O", c.open), ("H", c.high), ("L", c.low), ("C", c.close)] {
        let want = format!("{name} {}", crate::format::price_with(v, dd));
        assert!(legend.contains(&want), "{want} in {legend}");
    }
    assert!(legend.starts_with(&format!("11-14 00:{i} ")), "{legend}");
    // The time is highlighted, and so is the cursor's time on the axis.
    assert!(buf[(1, 1)].modifier.contains(Modifier::REVERSED));
    assert!(
        (0..w).any(|x| buf[(x, h - 1)].modifier.contains(Modifier::REVERSED)),
        "{}",
        text(&buf)
    );
    // A marker through the plot and the volume pane at the candle's column.
    let plot = price_plot(w, h);
    let x = XMap::new(d.from, d.to, M, plot.width);
    let col = plot.x + x.center(i);
    let marked = (plot.top()..h - 1)
        .filter(|&y| {
            buf[(col, y)].symbol() == "┊" || buf[(col, y)].bg == Theme::DARK.select_unfocused
        })
        .count();
    assert_eq!(marked, usize::from(h - 1 - plot.top()), "{}", text(&buf));
    // Without a cursor: the latest candle.
    d.opts.cursor_ms = None;
    let buf = d.render(w, h);
    let last = chart.candles[59].candle;
    assert!(lines(&buf)[1].contains(&format!("C {}", crate::format::price_with(last.close, dd))));
}

#[test]
fn legends_fit_80_columns_whole() {
    let chart = market(60, 43_000.0);
    let mut d = Draw::new(&chart);
    d.opts = ChartOpts::default();
    d.opts.cursor_ms = Some(T0 + 40 * M);
    let buf = d.render(80, 20);
    let legend = inner_line(&buf, 1);
    assert!(legend.contains(" C 4"), "{legend}");
    // Whole groups, then an ellipsis for those left out.
    assert!(legend.trim_end().ends_with(" V 15.0 …"), "{legend}");
}

#[test]
fn overlays_never_widen_the_scale() {
    let plain = market(60, 100.0);
    let mut wild = plain.clone();
    for c in &mut wild.candles[25..30] {
        c.values[2] = Some(10_000.0);
        c.values[4] = Some(-5.0);
    }
    let labels = |chart: &ChartView| {
        let mut d = Draw::new(chart);
        d.opts.bollinger = true;
        d.opts.sma = true;
        let (w, h) = (80, 20);
        let buf = d.render(w, h);
        let plot = price_plot(w, h);
        (plot.top()..plot.bottom())
            .map(|y| {
                (plot.right()..w - 1)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(labels(&plain), labels(&wild));
    let t = labels(&wild).join("\n");
    assert!(!t.contains("10000") && !t.contains("-5"), "{t}");
}

#[test]
fn a_month_of_minutes_draws_one_point_per_column() {
    let n = 30 * 24 * 60;
    let candles: Vec<ChartCandle> = (0..n)
        .map(|i| {
            let p = 100.0 + (i as f64 / 500.0).sin() * 10.0;
            cc(T0 + i as i64 * M, p, p + 0.5, p - 0.5, p + 0.1, 1.0, vec![])
        })
        .collect();
    let chart = view(candles, &[]);
    let d = Draw::new(&chart);
    let (w, h) = (120, 20);
    let buf = d.render(w, h);
    let plot = price_plot(w, h);
    assert_eq!(plot_columns(Rect::new(0, 0, w, h), &d.opts), plot.width);
    let drawn: Vec<u16> = (0..plot.width)
        .filter(|&c| column(&buf, plot, c).iter().any(|(s, _)| s != " "))
        .collect();
    let bucket = bucket_ms_for(Interval::M1, d.to - d.from, usize::from(plot.width));
    let x = XMap::new(d.from, d.to, bucket, plot.width);
    assert_eq!(x.slots, usize::from(plot.width));
    assert_eq!(drawn.len(), usize::from(plot.width), "{}", text(&buf));
    let t = lines(&buf)[0].clone();
    assert!(t.contains("per column") || t.contains("columns"), "{t}");
    // The time axis names dates.
    assert!(
        lines(&buf)[usize::from(h) - 1].contains("2023-11-"),
        "{}",
        text(&buf)
    );
}

#[test]
fn few_candles_in_a_wide_window_stay_where_their_time_is() {
    // The window is two hours; the data only covers the last 30 minutes.
    let mut chart = market(30, 100.0);
    for c in &mut chart.candles {
        c.candle.open_ms += 90 * M;
    }
    let mut d = Draw::new(&chart);
    d.from = T0;
    d.to = T0 + 120 * M;
    let (w, h) = (133, 16);
    let buf = d.render(w, h);
    let plot = price_plot(w, h);
    assert_eq!(plot.width, 120);
    let empty_left = (0..85).all(|c| column(&buf, plot, c).iter().all(|(s, _)| s == " "));
    assert!(empty_left, "{}", text(&buf));
    assert!(column(&buf, plot, 100).iter().any(|(s, _)| s != " "));
    // Nothing in the window at all.
    d.from = T0 + 1000 * M;
    d.to = T0 + 1100 * M;
    let t = text(&d.render(w, h));
    assert!(t.contains("no candles from 2023-11-14 16:40 to"), "{t}");
}

#[test]
fn sub_panes_give_way_on_short_panes_and_say_so() {
    let chart = market(60, 100.0);
    let mut d = Draw::new(&chart);
    d.opts.volume = true;
    d.opts.rsi = true;
    d.opts.macd = true;
    let tall = text(&d.render(80, 40));
    assert!(
        tall.contains("RSI ") && tall.contains("MACD") && tall.contains("vol "),
        "{tall}"
    );
    assert!(!tall.contains("hidden"), "{tall}");
    // The chart pane of an 80x24 screen: MACD gives way.
    let short = d.render(78, 10);
    let title = lines(&short)[0].clone();
    assert!(title.contains(" MACD hidden"), "{}", text(&short));
    assert!(text(&short).contains("RSI "), "{}", text(&short));
    let shorter = d.render(78, 8);
    let title = lines(&shorter)[0].clone();
    assert!(title.contains("RSI, MACD hidden"), "{}", text(&shorter));
    assert!(title.contains("loading history"), "{}", text(&shorter));
    assert!(text(&shorter).contains("vol "), "{}", text(&shorter));
}

#[test]
fn a_narrow_title_keeps_the_range_and_history_status() {
    // the chart beside the watchlist on a 120-column screen is 50 wide; a range of a day at
    // 1m puts several candles in a column, so the title has every part
    let chart = market(1_440, 100.0);
    let d = Draw {
        from: T0,
        to: T0 + 1_440 * M,
        ..Draw::new(&chart)
    };
    let caption = "1d · 1440 stored candles";
    let pane = ChartPane {
        chart: d.chart,
        from_ms: d.from,
        to_ms: d.to,
        opts: &d.opts,
        focused: false,
        empty: "",
        caption,
        note: "(12 ms)",
        marks: &[],
        glyphs: &d.glyphs,
        theme: &d.theme,
    };
    let mut buf = Buffer::empty(Rect::new(0, 0, 50, 20));
    (&pane).render(buf.area, &mut buf);
    let title = lines(&buf)[0].clone();
    assert!(title.contains(caption), "{title}");
    assert!(title.contains("BTCUSDT 1m"), "{title}");
}

#[test]
fn panes_without_their_column_say_what_to_configure() {
    let chart = view(market(60, 100.0).candles, &FULL);
    let mut bare = chart.clone();
    bare.columns = Vec::<String>::new().into();
    for c in &mut bare.candles {
        c.values = Box::new([]);
    }
    let mut d = Draw::new(&bare);
    d.opts.rsi = true;
    d.opts.macd = true;
    d.opts.sma = true;
    let t = text(&d.render(100, 30));
    assert!(t.contains("RSI: no rsi column; add e.g. rsi14"), "{t}");
    assert!(t.contains("MACD: no macd column"), "{t}");
}

#[test]
fn line_and_area_modes_per_glyph_set() {
    let chart = market(60, 100.0);
    for (glyphs, line_glyph) in [(Glyphs::UNICODE, '⠀'), (Glyphs::BLOCK, '▀')] {
        for mode in [ChartMode::Line, ChartMode::Area] {
            let mut d = Draw::new(&chart);
            d.glyphs = glyphs;
            d.opts.mode = mode;
            let buf = d.render(80, 16);
            let t = text(&buf);
            let has_line = if line_glyph == '⠀' {
                t.chars().any(|c| ('\u{2801}'..='\u{28ff}').contains(&c))
            } else {
                t.contains('▀') || t.contains('▄')
            };
            assert!(has_line, "{mode:?}\n{t}");
            assert!(lines(&buf)[0].contains(mode.name()), "{t}");
            assert_eq!(t.contains('░'), mode == ChartMode::Area, "{t}");
            assert!(!t.contains('┃'), "no candles in {mode:?}:\n{t}");
        }
    }
}

#[test]
fn the_80x24_pane_is_useful() {
    let chart = market(200, 43_000.0);
    let mut d = Draw::new(&chart);
    d.opts = ChartOpts::default();
    let buf = d.render(78, 10);
    let t = text(&buf);
    let l = lines(&buf);
    assert!(l[0].contains("sim:BTCUSDT 1m"), "{t}");
    assert!(l[1].contains(" O ") && l[1].contains(" C "), "{t}");
    assert!(t.contains('┃'), "{t}");
    assert!(l[9].contains(':'), "times on the bottom border:\n{t}");
    assert!(l[9].contains("UTC"), "{t}");
    let labels = l[2..8].iter().filter(|s| s.contains("┤4")).count();
    assert!(labels >= 2, "{t}");
}

#[test]
fn empty_and_degenerate_data_never_panic_at_any_size() {
    let empty = view(Vec::new(), &FULL);
    let one = view(
        vec![cc(T0, 5.0, 6.0, 4.0, 5.5, 1.0, vec![Some(5.0); 9])],
        &FULL,
    );
    let mut nan = market(50, 100.0);
    for c in nan.candles.iter_mut().step_by(3) {
        c.candle.high = f64::NAN;
        c.candle.close = f64::NAN;
        c.values[0] = Some(f64::INFINITY);
        c.candle.volume = f64::NAN;
    }
    let mut all_nan = market(5, 1.0);
    for c in &mut all_nan.candles {
        let k = &mut c.candle;
        (k.open, k.high, k.low, k.close) = (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
    }
    let flat = view(
        (0..40)
            .map(|i| cc(T0 + i * M, 7.0, 7.0, 7.0, 7.0, 0.0, vec![Some(7.0); 9]))
            .collect(),
        &FULL,
    );
    let huge = market(70, 1e15);
    let tiny = market(70, 1e-12);
    let month = market(3000, 50.0);
    let sets = [&empty, &one, &nan, &all_nan, &flat, &huge, &tiny, &month];
    let modes = [ChartMode::Candles, ChartMode::Line, ChartMode::Area];
    let glyph_sets = [Glyphs::UNICODE, Glyphs::BLOCK, Glyphs::ASCII];
    let mut i = 0usize;
    for w in 0..=200u16 {
        for h in 0..=60u16 {
            // Every size with everything on; data, mode, glyphs and theme rotate.
            let data = sets[i % sets.len()];
            let mut d = Draw::new(data);
            d.opts = ChartOpts {
                mode: modes[i % 3],
                bollinger: true,
                macd: true,
                log_scale: i.is_multiple_of(2),
                cursor_ms: i.is_multiple_of(4).then_some(T0 + 10 * M),
                ..ChartOpts::default()
            };
            d.glyphs = glyph_sets[(i / 3) % 3];
            d.theme = if i.is_multiple_of(5) {
                Theme::MONO
            } else {
                Theme::DARK
            };
            d.render(w, h);
            i += 1;
        }
    }
    // Odd windows: reversed, empty, absurd.
    let chart = market(20, 100.0);
    for (from, to) in [(T0, T0), (T0 + 100 * M, T0), (TsMs::MIN, TsMs::MAX), (0, 1)] {
        let mut d = Draw::new(&chart);
        d.from = from;
        d.to = to;
        d.render(80, 20);
    }
    let none = Draw {
        chart: None,
        ..Draw::new(&chart)
    };
    assert!(text(&none.render(80, 12)).contains("no candles yet for BTCUSDT 1m"));
}

/// The capture in the report: `cargo test --lib chart::tests::capture -- --nocapture`.
#[test]
fn capture() {
    let chart = market(120, 43_000.0);
    let mut d = Draw::new(&chart);
    d.opts = ChartOpts {
        sma: true,
        ema: true,
        volume: true,
        rsi: true,
        ..opts()
    };
    let buf = d.render(78, 14);
    let t = text(&buf);
    println!("{t}");
    assert!(t.contains("vol ") && t.contains("RSI "), "{t}");
}

#[test]
fn past_fires_are_marked_under_their_candles() {
    let chart = market(60, 100.0);
    let mut d = Draw::new(&chart);
    // two fires inside the window, one before it
    d.marks = vec![T0 + 10 * M + 5_000, T0 + 40 * M, T0 - 5 * M];
    let buf = d.render(80, 20);
    let text = lines(&buf).join("\n");
    assert_eq!(text.matches('▲').count(), 2, "{text}");
    d.glyphs = Glyphs::ASCII;
    let buf = d.render(80, 20);
    assert_eq!(lines(&buf).join("\n").matches('^').count(), 2);
}
