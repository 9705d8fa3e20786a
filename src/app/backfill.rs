//! `tickwatch backfill`: past candles from a venue's REST API through the same pipeline (so
//! indicators are computed and stored with them) into the database.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Pipeline, PipelineOptions, UsageError, db_path};
use crate::cli::{BackfillArgs, Cli};
use crate::domain::{Interval, Symbol, TsMs, Venue, VenueSymbol, iso8601, now_ms};
use crate::engine::runner::StorePolicy;
use crate::pipeline::{EventSink, Overflow};
use crate::sources::binance::{self, BinanceConfig};
use crate::sources::{Source, SourceFuture};

pub fn run(args: &BackfillArgs, cli: &Cli) -> anyhow::Result<()> {
    // The config is optional: it gives the REST URL, the indicators and the database.
    let mut s = super::settings_or_defaults(cli)?;
    let (_guard, _log) = super::init_logging_with(
        cli.log_file.as_deref().or(s.config.log.file.as_deref()),
        &s.config.log.level,
        // the fetch's failure is the command's error, printed once at the end
        super::Echo::WarningsButSourceFailure,
    );
    let venue = match args.venue.to_ascii_lowercase().as_str() {
        "binance" => Venue::Binance,
        other => {
            return Err(UsageError(format!(
                "--venue {other}: backfill supports binance (Coinbase and Alpha Vantage warm their \
                 own charts when they start)"
            ))
            .into());
        }
    };
    let symbol = Symbol::new(&args.symbol.to_ascii_uppercase())
        .map_err(|e| UsageError(format!("--symbol: {e}")))?;
    let interval: Interval = args
        .interval
        .parse()
        .map_err(|e| UsageError(format!("--interval: {e}")))?;
    let from = time_arg("--from", &args.from)?;
    let to = match &args.to {
        Some(t) => Some(time_arg("--to", t)?),
        None => None,
    };
    let now = now_ms();
    if let Some(t) = to
        && t < from
    {
        return Err(UsageError(format!(
            "--to {} is before --from {}",
            iso8601(t),
            iso8601(from)
        ))
        .into());
    }
    if from > now {
        return Err(UsageError(format!("--from {} is in the future", iso8601(from))).into());
    }
    let db = db_path(cli, Some(&s), crate::store::default_db_path())?;
    s.engine.watchlist = vec![VenueSymbol::new(venue, symbol)];
    // History is not news: no alerts for candles that closed long ago.
    s.engine.alert_max_lag_ms = Some(120_000);
    let mut pipeline = Pipeline::start(PipelineOptions {
        engine: s.engine.clone(),
        ring_capacity: s.config.engine.ring_capacity,
        ring_events: s.config.engine.ring_events,
        db: Some(db.clone()),
        require_db: true,
        store_policy: StorePolicy::Block,
        view: false,
        frame: s.frame,
        notify: None,
        stop_after_finished: Some(1),
        publish: None,
    })?;
    let fetched = Arc::new(AtomicU64::new(0));
    let emitted = Arc::new(AtomicU64::new(0));
    let source = BackfillSource {
        cfg: s.config.binance.clone(),
        symbol,
        interval,
        from,
        to,
        fetched: fetched.clone(),
        emitted: emitted.clone(),
    };
    eprintln!(
        "backfilling {interval} candles of {symbol} from {} to {} from {} into {}",
        iso8601(interval.bucket(from)),
        to.map_or("now".to_string(), iso8601),
        s.config.binance.rest_url,
        db.describe()
    );
    let mut task = pipeline.spawn_source(Box::new(source))?;
    let started = Instant::now();
    let mut last = Instant::now();
    let result = loop {
        if let Some(r) = pipeline.wait_source(&mut task, Duration::from_millis(50), "backfill") {
            break r;
        }
        if last.elapsed() >= Duration::from_secs(2) {
            eprintln!("  {} candles fetched", fetched.load(Ordering::Relaxed));
            last = Instant::now();
        }
    };
    let summary = if result.is_ok() {
        pipeline.wait_engine()?
    } else {
        Default::default()
    };
    let (_, store) = pipeline.shutdown()?;
    result.map_err(|e| explain_invalid_symbol(e, symbol))?;
    let n = emitted.load(Ordering::Relaxed);
    let Some(st) = store else {
        anyhow::bail!("the database {} was not written", db.describe());
    };
    if let Some(e) = &st.last_error {
        anyhow::bail!("the database failed during the backfill: {e}");
    }
    println!(
        "backfilled {n} {interval} candles of {symbol} ({venue}) in {:.1} s: stored {} candles, {} indicator values in {}",
        started.elapsed().as_secs_f64(),
        st.candles,
        st.indicator_values,
        db.describe()
    );
    if summary.rejected > 0 {
        println!("  {} candles rejected as invalid:", summary.rejected);
        for m in summary.rejections.iter().take(5) {
            println!("    {m}");
        }
    }
    if n == 0 {
        println!("  the venue has no candles of {symbol} in that range");
    }
    Ok(())
}

/// `--from`/`--to` read as a time within the range any market data can have (a time far outside
/// it overflowed the candle arithmetic).
fn time_arg(flag: &str, text: &str) -> Result<TsMs, UsageError> {
    let t = super::export::parse_time(text).map_err(|e| UsageError(format!("{flag}: {e}")))?;
    if (crate::domain::MIN_TS_MS..=crate::domain::MAX_TS_MS).contains(&t) {
        Ok(t)
    } else {
        Err(UsageError(format!(
            "{flag} {text}: give a time from 2009-01-01 to 2100-01-01"
        )))
    }
}

/// A source that fetches one range of candles and finishes.
struct BackfillSource {
    cfg: BinanceConfig,
    symbol: Symbol,
    interval: Interval,
    from: TsMs,
    to: Option<TsMs>,
    fetched: Arc<AtomicU64>,
    emitted: Arc<AtomicU64>,
}

impl Source for BackfillSource {
    fn name(&self) -> String {
        "backfill".into()
    }

    fn overflow(&self) -> Overflow {
        Overflow::Block
    }

    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture {
        Box::pin(async move {
            let fetched = self.fetched.clone();
            let r = binance::backfill(
                &self.cfg,
                self.symbol,
                self.interval,
                self.from,
                self.to,
                &sink,
                move |n| fetched.store(n as u64, Ordering::Relaxed),
            )
            .await;
            sink.finish().await;
            self.emitted.store(r?, Ordering::Relaxed);
            Ok(())
        })
    }
}

/// The REST client's advice for an unknown symbol is about the live feed's config
/// (`[binance].symbols`); here the symbol came from `--symbol`, so advise that instead.
fn explain_invalid_symbol(e: anyhow::Error, symbol: Symbol) -> anyhow::Error {
    let unknown = e.chain().any(|c| {
        matches!(
            c.downcast_ref::<binance::RestError>(),
            Some(binance::RestError::InvalidSymbol { .. })
        )
    });
    if unknown {
        anyhow::anyhow!(
            "invalid symbol {symbol} (Binance -1121): Binance does not list it; check the --symbol spelling (Binance spot symbols are like BTCUSDT, ETHUSDT)"
        )
    } else {
        e
    }
}
