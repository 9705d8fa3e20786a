#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Keypress to frame while the engine ingests 100,000 events/s: the time from a key event
//! reaching the app to a finished frame in a 160x48 buffer (key handling, picking up the
//! latest snapshot, layout and drawing every widget). The terminal write itself is not in it:
//! ratatui sends only the cells that changed, a few kilobytes at most.
//!
//! A feeder thread paces simulated trades into the real ring → engine thread → snapshot slot at
//! 100k events/s for the whole run, so the frame competes with ingestion for the two cores.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tickwatch::engine::runner::{Outputs, Runner};
use tickwatch::engine::{Engine, EngineConfig};
use tickwatch::pipeline::{Ingest, PipelineStats};
use tickwatch::sources::sim::{SimConfig, SimGenerator};
use tickwatch::ui::{App, Outbox, StatusInfo, UiOptions};
use tickwatch::view::SnapshotSlot;

const RATE: u64 = 100_000;

struct Load {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    slot: SnapshotSlot,
    ctl: flume::Sender<tickwatch::view::EngineCtl>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn start_load() -> Load {
    let stats = Arc::new(PipelineStats::default());
    let engine = Engine::new(
        EngineConfig {
            persist_trades: false,
            ..EngineConfig::default()
        },
        stats,
    )
    .unwrap();
    let (tx, rx) = tickwatch::pipeline::ring(1024);
    let (ctl_tx, ctl_rx) = flume::unbounded();
    let slot = SnapshotSlot::default();
    let runner = Runner {
        engine,
        ingest: rx,
        ctl: ctl_rx,
        outputs: Outputs {
            store: None,
            view: Some(slot.clone()),
            alerts: None,
            publish: None,
        },
        frame: Duration::from_millis(33),
        stop_after_finished: None,
        stop: Default::default(),
        budget: None,
    };
    let engine_thread = std::thread::spawn(move || {
        runner.run();
    });
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let (stop2, sent2) = (stop.clone(), sent.clone());
    let feeder = std::thread::spawn(move || {
        let t0 = 1_700_000_000_000;
        let cfg = SimConfig {
            rate: 2_000.0,
            start_ms: Some(t0),
            ..SimConfig::default()
        };
        let mut g = SimGenerator::new(&cfg, t0).unwrap();
        let start = Instant::now();
        // batches of 1,000 every 10 ms
        let mut n = 0u64;
        while !stop2.load(Ordering::Relaxed) {
            let due = start + Duration::from_micros(n * 1_000_000 / RATE);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let batch: Vec<_> = (0..1_000).map(|_| g.next_event(t0)).collect();
            if tx.send(Ingest::Events(batch)).is_err() {
                break;
            }
            n += 1_000;
            sent2.store(n, Ordering::Relaxed);
        }
    });
    Load {
        stop,
        sent,
        slot,
        ctl: ctl_tx,
        threads: vec![feeder, engine_thread],
    }
}

fn keypress_to_frame(c: &mut Criterion) {
    let load = start_load();
    let t_load = Instant::now();
    // let the engine fill its rings and publish
    std::thread::sleep(Duration::from_secs(2));
    let mut app = App::new("bench", &UiOptions::default());
    let outbox = Outbox::new(load.ctl.clone());
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let status = StatusInfo::default();
    let mut snap = load.slot.latest();
    app.sync(&snap);
    let keys = [
        KeyCode::Char(']'),
        KeyCode::Char('['),
        KeyCode::Char('j'),
        KeyCode::Char('k'),
    ];
    let mut i = 0usize;
    let mut group = c.benchmark_group("ui");
    group.sample_size(200);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("keypress_to_frame_160x48_at_100k_events_per_s", |b| {
        b.iter(|| {
            app.on_key(KeyEvent::new(keys[i % keys.len()], KeyModifiers::NONE));
            i += 1;
            app.poll();
            // the worst case: every frame takes in a snapshot (the loop does so only when the
            // engine published a new one, at most 30 times a second)
            snap = load.slot.latest();
            app.sync(&snap);
            app.layout(ratatui::layout::Rect::new(0, 0, 160, 48), &status);
            outbox.perform(app.take_effects());
            terminal
                .draw(|f| app.render(&snap, &status, f.area(), f.buffer_mut()))
                .unwrap();
        })
    });
    group.finish();
    let secs = t_load.elapsed().as_secs_f64();
    eprintln!(
        "load: {} events sent (about {:.0}/s over the run)",
        load.sent.load(Ordering::Relaxed),
        load.sent.load(Ordering::Relaxed) as f64 / secs
    );
    load.stop.store(true, Ordering::Relaxed);
    drop(load.ctl);
    for t in load.threads {
        let _ = t.join();
    }
}

/// The ladder at 160x48: a 100-level book a side (the default `depth_levels`), grouping off,
/// with its depth chart and tape: the frame from the key to the finished buffer.
fn ladder_frame(c: &mut Criterion) {
    use tickwatch::domain::{BookSnapshot, BookSync, Level, Symbol, Venue, VenueSymbol};
    use tickwatch::view::{ViewSnapshot, WatchRow};
    let key = VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap());
    let snap = ViewSnapshot {
        rows: vec![WatchRow {
            key,
            last: Some(43_210.0),
            change_pct: None,
            volume: 0.0,
            rsi: None,
            z: None,
            spark: Vec::new(),
            last_recv_ms: Some(tickwatch::domain::now_ms()),
            last_exch_ms: Some(tickwatch::domain::now_ms()),
        }],
        ..ViewSnapshot::default()
    };
    let side = |start: f64, dir: f64| {
        (0..100)
            .map(|i| Level {
                price: start + dir * 0.01 * i as f64,
                qty: 0.1 + (i % 17) as f64 * 0.37,
            })
            .collect::<Vec<_>>()
    };
    let book = Arc::new(BookSnapshot {
        key,
        bids: side(43_210.0, -1.0),
        asks: side(43_210.01, 1.0),
        more_bids: true,
        more_asks: true,
        sync: BookSync::Synced,
        updated_ms: 0,
        gaps: 0,
        checksum_failures: 0,
        resyncs: 0,
    });
    let mut app = App::new("bench", &UiOptions::default());
    app.sync(&snap);
    app.on_key(KeyEvent::new(KeyCode::Char('B'), KeyModifiers::NONE));
    app.on_book(Some(book));
    let status = StatusInfo::default();
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let keys = [
        KeyCode::Down,
        KeyCode::Up,
        KeyCode::Char('}'),
        KeyCode::Char('{'),
    ];
    let mut i = 0usize;
    let mut group = c.benchmark_group("ui");
    group.bench_function("ladder_frame_160x48_100_levels", |b| {
        b.iter(|| {
            app.on_key(KeyEvent::new(keys[i % keys.len()], KeyModifiers::NONE));
            i += 1;
            app.layout(ratatui::layout::Rect::new(0, 0, 160, 48), &status);
            terminal
                .draw(|f| app.render(&snap, &status, f.area(), f.buffer_mut()))
                .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, keypress_to_frame, ladder_frame);
criterion_main!(benches);
