//! The built-in market simulator: deterministic for a seed.
//!
//! Each symbol follows a geometric Brownian motion whose volatility clusters (its log follows a
//! mean-reverting Ornstein-Uhlenbeck process), with Poisson trade arrivals, lognormal sizes,
//! a random taker side and rare jumps (so anomaly alerts really fire). Prices are rounded to a
//! tick. Simulated time advances by the arrival process; the speed only changes how fast it is
//! played out, so a seed gives the same trades at any speed.
//!
//! Symbols can be added and removed while it runs ([`SourceCmd`]): an added symbol starts at a
//! price derived from its name (so the same name always starts at the same price) and joins at
//! the current simulated time; a removed one stops trading, and resumes where it stopped if it
//! is added again (its trade ids go on rather than repeat).

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, StandardNormal};
use serde::Deserialize;

use super::{Source, SourceCmd, SourceFuture};
use crate::domain::{EventKind, MarketEvent, Side, Symbol, TradeTick, TsMs, Venue, now_ms};
use crate::pipeline::{EventSink, Overflow, SourceState};

/// `[sim]` in config.toml. Every field is optional.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SimConfig {
    pub symbols: Vec<String>,
    pub seed: u64,
    /// Mean trades per second per symbol (simulated time).
    pub rate: f64,
    /// "1" (real time), a factor like "10x", or "max" (as fast as the engine takes them).
    pub speed: String,
    /// Annualised volatility.
    pub volatility: f64,
    /// Mean jumps per symbol per minute.
    pub jumps_per_minute: f64,
    /// Typical jump size (fraction of the price, e.g. 0.02 = 2%).
    pub jump_size: f64,
    /// Simulated start time (ms since epoch); default: now.
    pub start_ms: Option<TsMs>,
    /// Stop after this many trades in total (default: never).
    pub max_trades: Option<u64>,
    /// Start this many seconds in the past and play that history at full speed first, so that
    /// charts and indicators are warm at once (ignored when start_ms is set).
    pub history_secs: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            symbols: [
                "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            seed: 42,
            rate: 8.0,
            speed: "1".into(),
            volatility: 0.8,
            jumps_per_minute: 1.0,
            jump_size: 0.006,
            start_ms: None,
            max_trades: None,
            history_secs: 3600,
        }
    }
}

/// How fast simulated time runs against the wall clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SimSpeed {
    Factor(f64),
    Max,
}

impl SimConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.symbols.is_empty() {
            return Err("[sim] symbols is empty: list at least one, e.g. [\"BTCUSDT\"]".into());
        }
        for s in &self.symbols {
            Symbol::new(s).map_err(|e| format!("[sim] symbols: {e}"))?;
        }
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= 1e7) {
            return Err(format!(
                "[sim] rate {} must be a number of trades per second in (0, 1e7]",
                self.rate
            ));
        }
        if !(self.volatility.is_finite() && self.volatility > 0.0 && self.volatility < 20.0) {
            return Err(format!(
                "[sim] volatility {} must be an annualised fraction in (0, 20)",
                self.volatility
            ));
        }
        if !(self.jumps_per_minute.is_finite() && self.jumps_per_minute >= 0.0) {
            return Err(format!(
                "[sim] jumps_per_minute {} must be >= 0",
                self.jumps_per_minute
            ));
        }
        if !(self.jump_size.is_finite() && self.jump_size >= 0.0 && self.jump_size < 0.5) {
            return Err(format!(
                "[sim] jump_size {} must be in [0, 0.5)",
                self.jump_size
            ));
        }
        self.parsed_speed()?;
        Ok(())
    }

    pub fn parsed_speed(&self) -> Result<SimSpeed, String> {
        parse_speed(&self.speed)
    }
}

/// Parses "1", "10x", "0.5x" or "max".
pub fn parse_speed(s: &str) -> Result<SimSpeed, String> {
    let t = s.trim().to_ascii_lowercase();
    if t == "max" {
        return Ok(SimSpeed::Max);
    }
    let num = t.strip_suffix('x').unwrap_or(&t);
    match num.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(SimSpeed::Factor(f)),
        _ => Err(format!(
            "speed {s:?} is not valid: use 1 (real time), a factor like 10x, or max"
        )),
    }
}

/// Reference prices and tick sizes of the pairs the simulator imitates.
fn profile(symbol: &str) -> (f64, f64) {
    match symbol {
        "BTCUSDT" => (65_000.0, 0.01),
        "ETHUSDT" => (3_400.0, 0.01),
        "SOLUSDT" => (150.0, 0.01),
        "BNBUSDT" => (580.0, 0.01),
        "XRPUSDT" => (0.60, 0.0001),
        "DOGEUSDT" => (0.15, 0.00001),
        "ADAUSDT" => (0.45, 0.0001),
        _ => (100.0, 0.01),
    }
}

/// FNV-1a: a hash that stays the same across Rust releases and platforms.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Start price and tick size of a symbol added while running: the reference price when the
/// simulator imitates it, else a price between 1 and 1000 derived from the name (spread evenly
/// in log terms), with a tick of about a hundred-thousandth of it.
fn added_profile(symbol: &str) -> (f64, f64) {
    let known = profile(symbol);
    if known != profile("") {
        return known;
    }
    let unit = (fnv1a(symbol) >> 11) as f64 / (1u64 << 53) as f64;
    let price = 10f64.powf(3.0 * unit);
    let tick = 10f64.powi((price.log10().floor() as i32) - 4);
    (on_grid(price, tick), tick)
}

/// `price` rounded to a multiple of `tick`, as the double closest to that decimal (so that it
/// prints as `83373.57`, never `83373.56899999999`): for ticks below 1, dividing a whole
/// number of ticks by the exact whole 1/tick is correctly rounded; a product with 0.01 is not.
fn on_grid(price: f64, tick: f64) -> f64 {
    let snapped = if tick < 1.0 {
        let per_unit = (1.0 / tick).round();
        (price * per_unit).round() / per_unit
    } else {
        (price / tick).round() * tick
    };
    snapped.max(tick)
}

const YEAR_SECS: f64 = 365.0 * 86_400.0;
/// Volatility regimes last about five minutes.
const VOL_REVERSION_SECS: f64 = 300.0;
const VOL_OF_VOL: f64 = 0.6;

/// One simulated instrument.
struct Walker {
    symbol: Symbol,
    price: f64,
    tick: f64,
    log_vol: f64,
    next_id: u64,
    /// Simulated time of the next trade, in ms (fractional).
    t_ms: f64,
    rng: ChaCha8Rng,
    size: LogNormal<f64>,
}

/// The deterministic generator, usable without a runtime (benches, tests).
pub struct SimGenerator {
    walkers: Vec<Walker>,
    /// Removed symbols, kept to resume where they stopped if added again.
    parked: Vec<Walker>,
    seed: u64,
    /// Simulated time of the last trade (or the start): where an added symbol joins.
    clock_ms: f64,
    arrival: Exp<f64>,
    sigma_per_sec: f64,
    jump_prob_per_trade: f64,
    jump_size: f64,
}

impl SimGenerator {
    pub fn new(cfg: &SimConfig, start_ms: TsMs) -> Result<SimGenerator, String> {
        cfg.validate()?;
        let arrival = Exp::new(cfg.rate).map_err(|e| format!("[sim] rate: {e}"))?;
        let mut walkers = Vec::new();
        for (i, s) in cfg.symbols.iter().enumerate() {
            let symbol = Symbol::new(s).map_err(|e| e.to_string())?;
            let (price, tick) = profile(symbol.as_str());
            // each symbol its own stream, so adding a symbol does not change the others
            let mut rng = ChaCha8Rng::seed_from_u64(
                cfg.seed ^ (0x9E37_79B9_7F4A_7C15u64.wrapping_mul(i as u64 + 1)),
            );
            // median trade about $800 notional
            let size = LogNormal::new((800.0 / price).ln(), 1.2).map_err(|e| e.to_string())?;
            let first: f64 = arrival.sample(&mut rng);
            walkers.push(Walker {
                symbol,
                price,
                tick,
                log_vol: 0.0,
                next_id: 1,
                t_ms: start_ms as f64 + first * 1000.0,
                rng,
                size,
            });
        }
        Ok(SimGenerator {
            walkers,
            parked: Vec::new(),
            seed: cfg.seed,
            clock_ms: start_ms as f64,
            arrival,
            sigma_per_sec: cfg.volatility / YEAR_SECS.sqrt(),
            jump_prob_per_trade: cfg.jumps_per_minute / 60.0 / cfg.rate,
            jump_size: cfg.jump_size,
        })
    }

    /// Starts trading `symbol` from simulated time `at_ms` (or the last trade's time, if later);
    /// false when it trades already.
    pub fn add_symbol(&mut self, symbol: Symbol, at_ms: TsMs) -> bool {
        if self.walkers.iter().any(|w| w.symbol == symbol) {
            return false;
        }
        self.clock_ms = self.clock_ms.max(at_ms as f64);
        let joined = match self.parked.iter().position(|w| w.symbol == symbol) {
            Some(i) => {
                let mut w = self.parked.remove(i);
                let first: f64 = self.arrival.sample(&mut w.rng);
                w.t_ms = w.t_ms.max(self.clock_ms + first * 1000.0);
                w
            }
            None => {
                let (price, tick) = added_profile(symbol.as_str());
                let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ fnv1a(symbol.as_str()));
                let first: f64 = self.arrival.sample(&mut rng);
                let size = match LogNormal::new((800.0 / price).ln(), 1.2) {
                    Ok(d) => d,
                    // the price is finite and positive, so this does not happen
                    Err(_) => return false,
                };
                Walker {
                    symbol,
                    price,
                    tick,
                    log_vol: 0.0,
                    next_id: 1,
                    t_ms: self.clock_ms + first * 1000.0,
                    rng,
                    size,
                }
            }
        };
        self.walkers.push(joined);
        true
    }

    /// Stops trading `symbol`; false when it does not trade.
    pub fn remove_symbol(&mut self, symbol: Symbol) -> bool {
        let Some(i) = self.walkers.iter().position(|w| w.symbol == symbol) else {
            return false;
        };
        self.parked.push(self.walkers.remove(i));
        true
    }

    /// The symbols trading, in the order they were added.
    pub fn symbols(&self) -> Vec<Symbol> {
        self.walkers.iter().map(|w| w.symbol).collect()
    }

    /// No symbol trades (all were removed).
    pub fn is_empty(&self) -> bool {
        self.walkers.is_empty()
    }

    /// The next trade, or None when no symbol trades.
    pub fn try_next_event(&mut self, recv_ms: TsMs) -> Option<MarketEvent> {
        (!self.walkers.is_empty()).then(|| self.next_event(recv_ms))
    }

    /// Simulated time of the next trade (`TsMs::MAX` when no symbol trades).
    pub fn next_time(&self) -> TsMs {
        self.walkers
            .iter()
            .map(|w| w.t_ms)
            .fold(f64::INFINITY, f64::min) as TsMs
    }

    /// The next trade across all symbols, in time order.
    ///
    /// # Panics
    /// When no symbol trades (every one was removed); see [`try_next_event`](Self::try_next_event).
    pub fn next_event(&mut self, recv_ms: TsMs) -> MarketEvent {
        let mut k = 0;
        for (i, w) in self.walkers.iter().enumerate() {
            if w.t_ms < self.walkers[k].t_ms {
                k = i;
            }
        }
        let (sigma, jp, js) = (self.sigma_per_sec, self.jump_prob_per_trade, self.jump_size);
        let arrival = self.arrival;
        let w = &mut self.walkers[k];
        self.clock_ms = self.clock_ms.max(w.t_ms);
        let ts = w.t_ms as TsMs;
        let dt: f64 = arrival.sample(&mut w.rng);
        w.t_ms += dt * 1000.0;
        // volatility clustering: OU on log-vol, stationary mean 0
        let theta = (dt / VOL_REVERSION_SECS).min(1.0);
        let z_v: f64 = w.rng.sample(StandardNormal);
        w.log_vol += -theta * w.log_vol + VOL_OF_VOL * (2.0 * theta).sqrt() * z_v;
        let vol = sigma * w.log_vol.exp() / (VOL_OF_VOL * VOL_OF_VOL / 2.0).exp().sqrt();
        let z: f64 = w.rng.sample(StandardNormal);
        let mut ret = -0.5 * vol * vol * dt + vol * dt.sqrt() * z;
        if w.rng.random::<f64>() < jp {
            let sign = if w.rng.random::<bool>() { 1.0 } else { -1.0 };
            ret += sign * js * (0.5 + w.rng.random::<f64>());
        }
        w.price = (w.price * ret.exp()).max(w.tick);
        let price = on_grid(w.price, w.tick);
        let qty = (w.size.sample(&mut w.rng) * 1e6).round().max(1.0) / 1e6;
        let side = if w.rng.random::<bool>() {
            Side::Buy
        } else {
            Side::Sell
        };
        let id = w.next_id;
        w.next_id += 1;
        MarketEvent {
            venue: Venue::Sim,
            symbol: w.symbol,
            exch_ms: ts,
            recv_ms,
            kind: EventKind::Trade(TradeTick {
                trade_id: id,
                price,
                qty,
                side,
            }),
        }
    }
}

/// The simulator as a pipeline source.
pub struct SimSource {
    cfg: SimConfig,
    control_tx: Option<flume::Sender<SourceCmd>>,
    control_rx: flume::Receiver<SourceCmd>,
}

impl SimSource {
    pub fn new(cfg: SimConfig) -> Result<SimSource, String> {
        cfg.validate()?;
        let (control_tx, control_rx) = flume::unbounded();
        Ok(SimSource {
            cfg,
            control_tx: Some(control_tx),
            control_rx,
        })
    }
}

const BATCH: usize = 4_096;

/// Applies one symbol change to the generator at simulated time `at_ms`, answering at once.
fn apply(g: &mut SimGenerator, cmd: SourceCmd, at_ms: TsMs, name: &str) {
    match cmd {
        SourceCmd::Subscribe { symbol, reply } => {
            let answer = if g.add_symbol(symbol, at_ms) {
                tracing::info!(source = name, "simulating {symbol} from now on");
                Ok(())
            } else {
                Err(format!("{symbol} is already simulated"))
            };
            let _ = reply.send(answer);
        }
        SourceCmd::Unsubscribe { symbol, reply } => {
            let answer = if g.remove_symbol(symbol) {
                tracing::info!(source = name, "no longer simulating {symbol}");
                Ok(())
            } else {
                Err(format!("{symbol} is not simulated"))
            };
            let _ = reply.send(answer);
        }
    }
}

/// The next symbol change, or never when nobody can send one.
async fn next_cmd(cmds: &Option<flume::Receiver<SourceCmd>>) -> Option<SourceCmd> {
    match cmds {
        Some(rx) => rx.recv_async().await.ok(),
        None => std::future::pending().await,
    }
}

impl Source for SimSource {
    fn name(&self) -> String {
        "sim".into()
    }

    fn overflow(&self) -> Overflow {
        // The simulator can pause, so nothing it makes is ever lost.
        Overflow::Block
    }

    fn venue(&self) -> Option<Venue> {
        Some(Venue::Sim)
    }

    /// Subscribe starts simulating a symbol, unsubscribe stops it; both answered at once.
    fn control(&mut self) -> Option<flume::Sender<SourceCmd>> {
        self.control_tx.take()
    }

    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture {
        Box::pin(async move {
            let SimSource {
                cfg,
                control_tx,
                control_rx,
            } = *self;
            // nobody took the control channel: no changes will come
            let mut cmds = control_tx.is_none().then_some(control_rx);
            let name = sink.name().to_string();
            let start = cfg
                .start_ms
                .unwrap_or_else(|| now_ms() - cfg.history_secs as TsMs * 1000);
            let mut g = SimGenerator::new(&cfg, start).map_err(anyhow::Error::msg)?;
            let speed = cfg.parsed_speed().map_err(anyhow::Error::msg)?;
            let limit = cfg.max_trades.unwrap_or(u64::MAX);
            let mut sent = 0u64;
            sink.set_state(SourceState::Live);
            if matches!(speed, SimSpeed::Factor(_)) {
                // play the history up to now at full speed
                while g.next_time() < now_ms() && sent < limit {
                    while let Some(cmd) = cmds.as_ref().and_then(|rx| rx.try_recv().ok()) {
                        apply(&mut g, cmd, TsMs::MIN, &name);
                    }
                    let recv = now_ms();
                    let mut batch = Vec::with_capacity(BATCH);
                    while batch.len() < BATCH && sent < limit && g.next_time() < recv {
                        match g.try_next_event(recv) {
                            Some(ev) => batch.push(ev),
                            None => break,
                        }
                        sent += 1;
                    }
                    if sink.send(batch).await.is_err() {
                        return Ok(());
                    }
                }
            }
            let began = tokio::time::Instant::now();
            let anchor = g.next_time().min(now_ms());
            // simulated time now (at full speed: wherever the trades got to)
            let sim_now = |f: Option<f64>| match f {
                Some(f) => anchor + (began.elapsed().as_secs_f64() * 1000.0 * f) as TsMs,
                None => TsMs::MIN,
            };
            while sent < limit {
                if g.is_empty() {
                    // every symbol was removed: nothing to make until one is added
                    match next_cmd(&cmds).await {
                        Some(cmd) => {
                            let f = match speed {
                                SimSpeed::Factor(f) => Some(f),
                                SimSpeed::Max => None,
                            };
                            apply(&mut g, cmd, sim_now(f), &name);
                        }
                        None => cmds = None,
                    }
                    continue;
                }
                let mut batch = Vec::with_capacity(64);
                match speed {
                    SimSpeed::Max => {
                        while let Some(cmd) = cmds.as_ref().and_then(|rx| rx.try_recv().ok()) {
                            apply(&mut g, cmd, TsMs::MIN, &name);
                        }
                        let recv = now_ms();
                        while batch.len() < BATCH && sent < limit {
                            match g.try_next_event(recv) {
                                Some(ev) => batch.push(ev),
                                None => break,
                            }
                            sent += 1;
                        }
                    }
                    SimSpeed::Factor(f) => {
                        // play out simulated time against the wall clock, in steps of ~10 ms
                        let due_sim = g.next_time() - anchor;
                        let due =
                            began + Duration::from_secs_f64((due_sim.max(0) as f64) / 1000.0 / f);
                        tokio::select! {
                            _ = tokio::time::sleep_until(due) => {}
                            cmd = next_cmd(&cmds) => {
                                match cmd {
                                    Some(cmd) => apply(&mut g, cmd, sim_now(Some(f)), &name),
                                    None => cmds = None,
                                }
                                continue;
                            }
                        }
                        let horizon =
                            anchor + ((began.elapsed().as_secs_f64() * 1000.0 + 10.0) * f) as TsMs;
                        let recv = now_ms();
                        while g.next_time() <= horizon && batch.len() < BATCH && sent < limit {
                            match g.try_next_event(recv) {
                                Some(ev) => batch.push(ev),
                                None => break,
                            }
                            sent += 1;
                        }
                    }
                }
                if sink.send(batch).await.is_err() {
                    return Ok(());
                }
            }
            sink.set_state(SourceState::Finished);
            sink.finish().await;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> SimConfig {
        SimConfig {
            start_ms: Some(1_700_000_000_000),
            ..SimConfig::default()
        }
    }

    fn run(cfg: &SimConfig, n: usize) -> Vec<MarketEvent> {
        let mut g = SimGenerator::new(cfg, cfg.start_ms.unwrap_or(0)).unwrap();
        (0..n).map(|_| g.next_event(0)).collect()
    }

    #[test]
    fn same_seed_same_market() {
        let a = run(&cfg(), 5_000);
        let b = run(&cfg(), 5_000);
        assert_eq!(a, b);
        let c = run(&SimConfig { seed: 7, ..cfg() }, 5_000);
        assert_ne!(a, c);
    }

    #[test]
    fn trades_are_valid_time_ordered_and_ids_increase() {
        let evs = run(&cfg(), 20_000);
        let mut last_ts = 0;
        let mut last_id = std::collections::HashMap::new();
        for e in &evs {
            e.validate().unwrap();
            assert!(e.exch_ms >= last_ts);
            last_ts = e.exch_ms;
            let EventKind::Trade(t) = e.kind else {
                panic!("sim only makes trades")
            };
            let prev = last_id.insert(e.symbol, t.trade_id).unwrap_or(0);
            assert_eq!(t.trade_id, prev + 1);
        }
        assert_eq!(last_id.len(), 6, "every symbol trades");
    }

    #[test]
    fn arrival_rate_and_prices_are_realistic() {
        let c = SimConfig {
            symbols: vec!["BTCUSDT".into()],
            rate: 10.0,
            ..cfg()
        };
        let evs = run(&c, 6_000);
        let secs = (evs[evs.len() - 1].exch_ms - evs[0].exch_ms) as f64 / 1000.0;
        let rate = evs.len() as f64 / secs;
        assert!((8.5..11.5).contains(&rate), "rate {rate}");
        for e in &evs {
            let EventKind::Trade(t) = e.kind else {
                unreachable!()
            };
            assert!(
                (30_000.0..130_000.0).contains(&t.price),
                "price {}",
                t.price
            );
        }
    }

    #[test]
    fn jumps_happen_and_are_large() {
        let c = SimConfig {
            symbols: vec!["ETHUSDT".into()],
            jumps_per_minute: 2.0,
            ..cfg()
        };
        let evs = run(&c, 20_000);
        let prices: Vec<f64> = evs
            .iter()
            .map(|e| match e.kind {
                EventKind::Trade(t) => t.price,
                _ => unreachable!(),
            })
            .collect();
        let big = prices
            .windows(2)
            .filter(|w| (w[1] / w[0]).ln().abs() > 0.005)
            .count();
        assert!(big >= 10, "expected jumps, saw {big}");
    }

    fn trades_of(evs: &[MarketEvent], symbol: &str) -> Vec<TradeTick> {
        evs.iter()
            .filter(|e| e.symbol.as_str() == symbol)
            .filter_map(|e| match e.kind {
                EventKind::Trade(t) => Some(t),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn an_added_symbol_starts_at_a_price_from_its_name_and_joins_in_time_order() {
        let c = SimConfig {
            symbols: vec!["BTCUSDT".into()],
            ..cfg()
        };
        let start = c.start_ms.unwrap();
        let play = || {
            let mut g = SimGenerator::new(&c, start).unwrap();
            let mut evs: Vec<MarketEvent> = (0..500).map(|_| g.next_event(0)).collect();
            let joined_at = evs.last().unwrap().exch_ms;
            let foo = Symbol::new("FOOUSDT").unwrap();
            assert!(g.add_symbol(foo, 0));
            assert!(!g.add_symbol(foo, 0), "already trading");
            assert_eq!(g.symbols().len(), 2);
            evs.extend((0..2_000).map(|_| g.next_event(0)));
            (evs, joined_at)
        };
        let (evs, joined_at) = play();
        assert_eq!(evs, play().0, "the same name starts the same way");
        let foo = trades_of(&evs, "FOOUSDT");
        assert!(foo.len() > 500, "it trades: {}", foo.len());
        assert_eq!(foo[0].trade_id, 1);
        let (p0, tick) = added_profile("FOOUSDT");
        assert!((1.0..1000.0).contains(&p0), "plausible start price {p0}");
        assert!(
            (foo[0].price / p0 - 1.0).abs() < 0.05,
            "{} vs {p0}",
            foo[0].price
        );
        assert!(tick > 0.0 && tick < p0 / 1000.0);
        assert!(evs.windows(2).all(|w| w[0].exch_ms <= w[1].exch_ms));
        let first_foo = evs.iter().find(|e| e.symbol.as_str() == "FOOUSDT").unwrap();
        assert!(first_foo.exch_ms >= joined_at, "joins at the current time");
        for e in &evs {
            e.validate().unwrap();
        }
        // different names, different prices; known pairs keep their reference price
        assert_ne!(added_profile("FOOUSDT"), added_profile("BARUSDT"));
        assert_eq!(added_profile("ETHUSDT"), (3_400.0, 0.01));
    }

    #[test]
    fn a_removed_symbol_stops_and_resumes_its_ids_when_added_again() {
        let mut g = SimGenerator::new(&cfg(), cfg().start_ms.unwrap()).unwrap();
        let eth = Symbol::new("ETHUSDT").unwrap();
        let before: Vec<MarketEvent> = (0..3_000).map(|_| g.next_event(0)).collect();
        let last_id = trades_of(&before, "ETHUSDT").last().unwrap().trade_id;
        assert!(g.remove_symbol(eth));
        assert!(!g.remove_symbol(eth));
        let during: Vec<MarketEvent> = (0..3_000).map(|_| g.next_event(0)).collect();
        assert!(trades_of(&during, "ETHUSDT").is_empty());
        assert!(g.add_symbol(eth, 0));
        let after: Vec<MarketEvent> = (0..3_000).map(|_| g.next_event(0)).collect();
        let resumed = trades_of(&after, "ETHUSDT");
        assert_eq!(resumed[0].trade_id, last_id + 1, "ids go on");
        let last_ts = during.last().unwrap().exch_ms;
        assert!(
            after
                .iter()
                .filter(|e| e.symbol == eth)
                .all(|e| e.exch_ms >= last_ts)
        );
        // every symbol removed: nothing to make, and no panic
        for s in g.symbols() {
            assert!(g.remove_symbol(s));
        }
        assert!(g.is_empty());
        assert!(g.try_next_event(0).is_none());
        assert_eq!(g.next_time(), TsMs::MAX);
    }

    #[test]
    fn bad_settings_are_explained() {
        assert!(
            SimConfig { rate: 0.0, ..cfg() }
                .validate()
                .unwrap_err()
                .contains("rate")
        );
        assert!(
            SimConfig {
                symbols: vec![],
                ..cfg()
            }
            .validate()
            .unwrap_err()
            .contains("empty")
        );
        assert!(
            SimConfig {
                speed: "fast".into(),
                ..cfg()
            }
            .validate()
            .unwrap_err()
            .contains("max")
        );
        assert_eq!(parse_speed("10x"), Ok(SimSpeed::Factor(10.0)));
        assert_eq!(parse_speed("MAX"), Ok(SimSpeed::Max));
    }

    /// Simulated prices sit on the tick grid like real ones: each prints with at most the
    /// tick's decimals, with no float noise (`83373.56899999999`) in exports.
    #[test]
    fn prices_print_on_the_tick_grid() {
        for (symbol, decimals) in [("BTCUSDT", 2), ("XRPUSDT", 4), ("DOGEUSDT", 5)] {
            let (p0, tick) = profile(symbol);
            let mut p = p0;
            for i in 0..20_000 {
                p *= 1.0 + ((i * 7919) % 200) as f64 * 1e-6 - 1e-4;
                let text = on_grid(p, tick).to_string();
                let shown = text.split('.').nth(1).map_or(0, str::len);
                assert!(shown <= decimals, "{symbol}: {text} has float noise");
            }
        }
        assert_eq!(on_grid(83_373.569, 0.01).to_string(), "83373.57");
        assert_eq!(on_grid(0.0, 0.01), 0.01);
        assert_eq!(on_grid(1234.4, 5.0), 1235.0);
    }
}
