//! Command line: every command and flag, with help that explains it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "tickwatch",
    version,
    about = "A real-time trading monitor for the terminal: live prices, candles, indicators, anomaly alerts, SQLite history.",
    long_about = "A real-time trading monitor for the terminal.\n\n\
        With no command it opens the monitor on the sources in the config file \
        (--config, else ./config.toml, else the platform config directory, else built-in \
        defaults: Binance, as in the shipped config.toml; `tickwatch init` writes that file). \
        `--demo` runs it on the built-in market simulator with no network and no config; \
        simulated data never go to the live history database.\n\n\
        Exit codes: 0 success, 2 usage or config error, 1 any other failure."
)]
pub struct Cli {
    /// Run the monitor on the built-in market simulator (no network, no config needed;
    /// data goes to its own demo database, never the live history).
    #[arg(long)]
    pub demo: bool,

    /// Draw with plain ASCII only (no braille, box drawing or block elements), for terminals
    /// and fonts without them; `[ui] glyphs = "block"` keeps box drawing but not braille.
    #[arg(long, global = true)]
    pub ascii: bool,

    /// Config file (default: ./config.toml, else the platform config directory).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Database for this command: an SQLite file (default: the platform data directory; the
    /// demo and replays use their own files there) or postgres://USER@HOST:PORT/DBNAME (the
    /// password from PGPASSWORD or ~/.pgpass, never in the URL).
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,

    /// Log file (default: tickwatch.log in the platform data directory). Logs never go to the
    /// screen the monitor owns.
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,

    /// Serve Prometheus metrics and a health check on HOST:PORT while the monitor runs
    /// (GET /metrics, GET /healthz), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay Binance public-data dumps (data.binance.vision: trades, aggTrades, klines; .csv
    /// or .zip) through the same pipeline.
    Replay(ReplayArgs),
    /// Run headless: sources to the database and alerts, with a one-line stats log on stderr.
    /// Stops cleanly (everything flushed) on Ctrl-C / SIGTERM.
    Record(RecordArgs),
    /// Fetch past candles from the venue's REST API into the database (charts and
    /// indicators over that range are then available at once, and `export` can print them).
    Backfill(BackfillArgs),
    /// Print closed candles with their indicator values from the database.
    Export(ExportArgs),
    /// Your portfolio: positions, cost basis and P/L from `[portfolio]` in the config and the
    /// entries imported with `portfolio import`, valued from stored prices (the database of
    /// --db, else the config's).
    Portfolio(PortfolioArgs),
    /// Alerts: list those fired, backtest rules over the stored history, send a test alert.
    Alerts {
        #[command(subcommand)]
        command: AlertsCommand,
    },
    /// Write the shipped, commented config.toml to the platform config directory (or PATH) to
    /// start from, and print where; an existing file is kept unless --force.
    Init {
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
        /// Where to write it (default: the platform config directory, e.g.
        /// ~/.config/tickwatch/config.toml on Linux).
        path: Option<PathBuf>,
    },
    /// Ask a running tickwatch (started with --metrics) whether it is healthy: GET /healthz;
    /// prints "ok" and exits 0, or says why and exits 1. For a container's HEALTHCHECK.
    Healthcheck {
        /// Where its metrics endpoint listens.
        #[arg(long, default_value = "127.0.0.1:9464", value_name = "HOST:PORT")]
        addr: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3, value_name = "SECS")]
        timeout: u64,
    },
    /// Check a config file; a mistake is printed with its line and column (exit code 2).
    CheckConfig {
        /// The file to check (default: the one the monitor would use).
        path: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Dump files, in any order: they are streamed and merged by time.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Replay speed: 1 (real time), a factor like 10x or 100x, or max
    /// (default: max with --headless, 10x on screen).
    #[arg(long)]
    pub speed: Option<String>,
    /// Symbol to use instead of the one in the file name.
    #[arg(long)]
    pub symbol: Option<String>,
    /// What the files hold, for files whose name does not say: trades, aggTrades, or
    /// klines-<interval> such as klines-1m.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// No screen: print progress to stderr and a summary (rows, rows/s, candles, alerts) at the end.
    #[arg(long)]
    pub headless: bool,
    /// Skip malformed rows (they are counted and reported) instead of stopping at the first.
    #[arg(long)]
    pub skip_bad: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Symbol, e.g. BTCUSDT (not with --portfolio).
    #[arg(long, required_unless_present = "portfolio")]
    pub symbol: Option<String>,
    /// Candle interval: 1s, 1m, 5m, 15m, 1h, 4h or 1d.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// Venue (binance, binance-futures, coinbase, alphavantage, sim); needed only when the
    /// symbol exists at several.
    #[arg(long)]
    pub venue: Option<String>,
    /// First candle open time: ISO 8601 (2025-03-01T00:00:00Z), a date (2025-03-01) or ms since epoch.
    #[arg(long)]
    pub from: Option<String>,
    /// Last candle open time (inclusive), same forms as --from.
    #[arg(long)]
    pub to: Option<String>,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Export the stored order book snapshots (`[storage] book_snapshot_secs`) instead of
    /// candles: one row per level (CSV, which `tickwatch replay` plays back) or one object per
    /// snapshot (JSON).
    #[arg(long)]
    pub book: bool,
    /// Export the portfolio's value over time instead (one row per --interval from --from,
    /// default its first entry, to --to, default now): value, cost, unrealized and realized
    /// P/L, and the drawdown from the highest value so far.
    #[arg(long, conflicts_with_all = ["symbol", "book"])]
    pub portfolio: bool,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Seconds between the stats lines on stderr.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub stats_every: f64,
    /// Serve Prometheus metrics and a health check on HOST:PORT (GET /metrics, GET /healthz),
    /// e.g. 127.0.0.1:9464, or 0.0.0.0:9464 in a container (default: `[metrics] listen`, else
    /// none).
    #[arg(long, value_name = "HOST:PORT")]
    pub metrics: Option<String>,

    /// Also publish every event, closed candle, source state and fired alert to NATS JetStream
    /// at this URL (nats://host:4222; the stream is `[nats] stream`). A URL with a password is
    /// better given in TICKWATCH_PUBLISH than on the command line; it is never shown.
    #[arg(
        long,
        value_name = "URL",
        env = "TICKWATCH_PUBLISH",
        hide_env_values = true
    )]
    pub publish: Option<String>,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// Symbol as the venue spells it, e.g. BTCUSDT.
    #[arg(long)]
    pub symbol: String,
    /// Candle interval: 1s, 1m, 5m, 15m, 1h, 4h or 1d.
    #[arg(long, default_value = "1m")]
    pub interval: String,
    /// First candle: ISO 8601 (2025-03-01T00:00:00Z), a date (2025-03-01) or ms since epoch.
    #[arg(long)]
    pub from: String,
    /// Last candle (inclusive), same forms as --from (default: now).
    #[arg(long)]
    pub to: Option<String>,
    /// Venue to fetch from (only binance has a candle history API wired in so far).
    #[arg(long, default_value = "binance")]
    pub venue: String,
}

#[derive(Debug, Args)]
pub struct PortfolioArgs {
    #[command(subcommand)]
    pub command: Option<PortfolioCommand>,
    /// Value it as it was at T (entries up to T, prices then): 2025-03-01,
    /// 2025-03-01T12:00:00Z or ms since epoch. Default: now.
    #[arg(long, value_name = "T")]
    pub at: Option<String>,
    /// table (default on a terminal), csv (default otherwise) or json.
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
}

#[derive(Debug, Subcommand)]
pub enum PortfolioCommand {
    /// Add the entries of trade-history exports (Binance Spot "Trade History", Coinbase
    /// "Transaction history" CSV) to the portfolio in the database; importing a file again
    /// adds nothing. A row that cannot be read is named by file and line, and nothing is added.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Print the alerts fired, newest first, with their severity and where each was delivered
    /// (the database of --db, else the config's, else the default; the demo keeps its own
    /// demo.db).
    List(AlertsListArgs),
    /// How rules would have behaved: run them over the stored candles (and trades, for rules
    /// evaluated on every trade) with the same evaluation, hysteresis, cooldown and expiry as
    /// live, and print every time each would have fired, the price move 5 m, 1 h and 1 d
    /// later, and a summary per rule and symbol (fires, fires per day, median move, longest
    /// quiet spell). Nothing is delivered and nothing is written to the database.
    Backtest(BacktestArgs),
    /// Send a test alert through each configured sink ([notify] in the config: desktop,
    /// terminal, webhooks, email, commands) and print one line per sink: "NAME ok (N ms)" or
    /// "NAME failed: reason". Exit code 1 if any failed, 2 for an unknown sink name.
    Test {
        /// Only this sink: desktop, terminal, webhook:NAME, email or command:NAME.
        #[arg(long, value_name = "NAME")]
        sink: Option<String>,
        /// Severity of the test alert (sets the desktop urgency; sinks with a higher
        /// min_severity are still tested).
        #[arg(long, default_value = "info", value_name = "LEVEL")]
        severity: crate::alerts::Severity,
    },
}

#[derive(Debug, Args)]
pub struct AlertsListArgs {
    /// Only alerts fired at or after T: ISO 8601 (2025-03-01T12:00:00Z), a date (2025-03-01),
    /// ms since epoch, or a time back from now (30m, 2h, 7d).
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// table (default on a terminal), csv (default otherwise) or json.
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
    /// At most this many alerts (the newest).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Only the rule of this name: an `[[alerts]]` entry of the config or a rule made in the
    /// monitor. Default: every rule of the config given with --config, else every rule of the
    /// config and the database.
    #[arg(long, value_name = "NAME")]
    pub rule: Option<String>,
    /// Start of the window: ISO 8601 (2025-03-01T12:00:00Z), a date (2025-03-01), ms since
    /// epoch, or a time back from now (7d, 12h).
    #[arg(long, value_name = "T")]
    pub from: String,
    /// End of the window, same forms (default: now).
    #[arg(long, value_name = "T")]
    pub to: Option<String>,
    /// Only this symbol, e.g. BTCUSDT (at every venue that has it).
    #[arg(long, value_name = "SYMBOL")]
    pub symbol: Option<String>,
    /// table (default on a terminal), csv (default otherwise) or json.
    #[arg(long, value_enum)]
    pub format: Option<ListFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Csv,
    Json,
}

impl ListFormat {
    /// The format asked for, else a table on a terminal and CSV into a pipe or file.
    pub fn or_for_stdout(asked: Option<ListFormat>) -> ListFormat {
        use std::io::IsTerminal;
        asked.unwrap_or(if std::io::stdout().is_terminal() {
            ListFormat::Table
        } else {
            ListFormat::Csv
        })
    }
}
