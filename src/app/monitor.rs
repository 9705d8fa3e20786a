//! The monitor: the TUI over the configured sources, or over the simulator with `--demo`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::{
    Pipeline, PipelineOptions, configured_sources, live_or_demo_db, notify_config, settings,
    watchlist,
};
use crate::alerts::rules::{RuleConfig, RuleKind};
use crate::cli::Cli;
use crate::config::{Config, Settings};
use crate::engine::runner::StorePolicy;
use crate::ui::{UiLink, UiOptions};

pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let mut s: Settings = if cli.demo {
        demo_settings(cli)?
    } else {
        settings(cli)?
    };
    let (_guard, _log) = super::init_logging(
        cli.log_file.as_deref().or(s.config.log.file.as_deref()),
        &s.config.log.level,
        false,
    );
    super::config_watch::check_rule_names(&s)?;
    let db = live_or_demo_db(cli, &s, cli.demo)?;
    let edits = super::watchlists::stored_edits(&db);
    let groups = super::watchlists::apply(&mut s, &edits);
    let (portfolio, portfolio_error) = match super::portfolio::load(&s, &db) {
        Ok(p) => (p, None),
        Err(e) => (None, Some(e)),
    };
    s.engine.portfolio = portfolio.clone();
    let sources = configured_sources(&s)?;
    s.engine.watchlist = watchlist(&s);
    s.engine.alert_delivered = "tui".into();
    s.engine.alert_max_lag_ms = Some(120_000);
    if !s.config.sources.is_empty() && s.config.sources.iter().all(|n| n == "nats") {
        // Watching a recorder: it stores the market data (candles and indicators computed
        // from its whole history); this monitor stores only its own rules, edits and alerts.
        s.engine.persist_trades = false;
        s.engine.persist_candles = false;
        tracing::info!("watching NATS: trades and candles are stored by the recorder, not here");
    }
    let mut notify = notify_config(&s)?;
    let terminal_writes = notify.route_terminal_to_ui();
    tracing::info!(db = %db.describe(), demo = cli.demo, "monitor starting");
    // bound before the screen is taken: a taken port is an error on a normal terminal
    let metrics = super::metrics::bind(cli.metrics.as_ref())?;
    let pipeline = Pipeline::start(PipelineOptions {
        engine: s.engine.clone(),
        ring_capacity: s.config.engine.ring_capacity,
        ring_events: s.config.engine.ring_events,
        db: Some(db.clone()),
        require_db: false,
        store_policy: StorePolicy::Spill {
            max_rows: s.config.storage.max_pending_rows,
        },
        view: true,
        frame: s.frame,
        notify: Some(notify),
        stop_after_finished: None,
        publish: None,
    })?;
    if let Some(listener) = metrics {
        let addr = super::metrics::serve(&pipeline, listener, s.stale_after)?;
        tracing::info!("metrics on http://{addr}/metrics (health: /healthz)");
    }
    for src in sources {
        pipeline.spawn_source(src)?;
    }
    super::portfolio::send_stored_high(&pipeline, portfolio.clone(), &db);
    if let Some(path) = super::config_watch::watched_path(cli.config.as_deref(), cli.demo) {
        let rules_of = if cli.demo {
            demo_or_config_rules
        } else {
            config_rules
        };
        let watch = super::config_watch::ConfigWatch::new(path, &s.config, rules_of);
        super::config_watch::spawn(&pipeline, watch);
    }
    let shutdown = Arc::new(AtomicBool::new(false));
    super::on_signal(&pipeline, shutdown.clone());
    let title = if cli.demo {
        "tickwatch — demo (simulated data)".to_string()
    } else {
        format!("tickwatch — {}", s.config.sources.join(", "))
    };
    let ui = crate::ui::run(
        UiLink {
            slot: pipeline.slot.clone(),
            ctl: pipeline.ctl.clone(),
            stats: pipeline.stats.clone(),
            health: pipeline.health.clone(),
            title,
            terminal_writes,
            controls: pipeline.controls.clone(),
            books: pipeline.books.clone(),
            history_db: Some(db.clone()),
        },
        UiOptions {
            groups,
            portfolio,
            portfolio_section: s.config.portfolio.clone(),
            portfolio_error,
            ..ui_options(cli, &s)
        },
        shutdown,
    );
    let (summary, store) = pipeline.shutdown()?;
    tracing::info!(
        events = summary.events,
        alerts = summary.alerts,
        remote_alerts = summary.remote_alerts,
        "monitor stopped"
    );
    if let Some(st) = store
        && let Some(e) = st.last_error
    {
        eprintln!("tickwatch: the database reported an error during the session: {e}");
    }
    ui
}

/// Display settings from the config, the command line and the environment (`NO_COLOR`).
pub(crate) fn ui_options(cli: &Cli, s: &Settings) -> UiOptions {
    UiOptions {
        fps: s.config.ui.fps,
        stale_after: s.stale_after,
        initial_interval: s.interval,
        glyphs: if cli.ascii {
            crate::ui::theme::GlyphKind::Ascii
        } else {
            s.glyphs
        },
        theme: s
            .theme
            .with_no_color(std::env::var_os("NO_COLOR").as_deref()),
        keymap: s.keymap.clone(),
        indicators: s.engine.indicators.clone(),
        ..UiOptions::default()
    }
}

/// The demo: the simulator with its defaults plus an anomaly rule, whatever the config says
/// about sources (a config file is still read for display and alert settings if present).
fn demo_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let base = match cli.config.as_deref() {
        Some(_) => settings(cli)?.config,
        None => Config::default(),
    };
    let mut cfg = Config {
        sources: vec!["sim".into()],
        ..base
    };
    cfg.alerts = demo_or_config_rules(&cfg);
    if cfg.watchlists.is_empty() {
        // two lists to show what `w` does
        cfg.watchlists = vec![
            crate::config::WatchlistConfig {
                name: "majors".into(),
                symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            },
            crate::config::WatchlistConfig {
                name: "alts".into(),
                symbols: vec![
                    "SOLUSDT".into(),
                    "BNBUSDT".into(),
                    "XRPUSDT".into(),
                    "DOGEUSDT".into(),
                ],
            },
        ];
    }
    // validated like a file, so the demo never runs unchecked settings
    Ok(cfg.into_settings(std::path::Path::new("<demo>"))?)
}

fn config_rules(cfg: &Config) -> Vec<RuleConfig> {
    cfg.alerts.clone()
}

/// The config's rules, or the demo's when it has none.
fn demo_or_config_rules(cfg: &Config) -> Vec<RuleConfig> {
    if !cfg.alerts.is_empty() {
        return cfg.alerts.clone();
    }
    vec![
        RuleConfig {
            name: Some("anomaly".into()),
            cooldown_secs: Some(30),
            severity: Some(crate::alerts::Severity::Warning),
            ..RuleConfig::new(RuleKind::Zscore, 6.0)
        },
        RuleConfig {
            name: Some("rsi-overbought".into()),
            interval: Some("1m".into()),
            cooldown_secs: Some(300),
            severity: Some(crate::alerts::Severity::Info),
            ..RuleConfig::new(RuleKind::RsiAbove, 80.0)
        },
    ]
}
