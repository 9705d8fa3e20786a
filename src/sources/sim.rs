//! The built-in market simulator: deterministic for a seed.
//!
//! Each symbol follows a geometric Brownian motion whose volatility clusters (its log follows a
//! mean-reverting Ornstein-Uhlenbeck process), with Poisson trade arrivals, lognormal sizes,
//! a random taker side and rare jumps (so anomaly alerts really fire). Prices are rounded to a
//! tick. Simulated time advances by the arrival process; the speed only changes how fast it is
//! played out, so a seed gives the same trades at any speed.

use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal, StandardNormal};
use serde::Deserialize;

use super::{Source, SourceFuture};
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
            arrival,
            sigma_per_sec: cfg.volatility / YEAR_SECS.sqrt(),
            jump_prob_per_trade: cfg.jumps_per_minute / 60.0 / cfg.rate,
            jump_size: cfg.jump_size,
        })
    }

    /// Simulated time of the next trade.
    pub fn next_time(&self) -> TsMs {
        self.walkers
            .iter()
            .map(|w| w.t_ms)
            .fold(f64::INFINITY, f64::min) as TsMs
    }

    /// The next trade across all symbols, in time order.
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
        let price = ((w.price / w.tick).round() * w.tick).max(w.tick);
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
}

impl SimSource {
    pub fn new(cfg: SimConfig) -> Result<SimSource, String> {
        cfg.validate()?;
        Ok(SimSource { cfg })
    }
}

const BATCH: usize = 4_096;

impl Source for SimSource {
    fn name(&self) -> String {
        "sim".into()
    }

    fn overflow(&self) -> Overflow {
        // The simulator can pause, so nothing it makes is ever lost.
        Overflow::Block
    }

    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture {
        Box::pin(async move {
            let start = self
                .cfg
                .start_ms
                .unwrap_or_else(|| now_ms() - self.cfg.history_secs as TsMs * 1000);
            let mut g = SimGenerator::new(&self.cfg, start).map_err(anyhow::Error::msg)?;
            let speed = self.cfg.parsed_speed().map_err(anyhow::Error::msg)?;
            let limit = self.cfg.max_trades.unwrap_or(u64::MAX);
            let mut sent = 0u64;
            sink.set_state(SourceState::Live);
            if matches!(speed, SimSpeed::Factor(_)) {
                // play the history up to now at full speed
                while g.next_time() < now_ms() && sent < limit {
                    let recv = now_ms();
                    let mut batch = Vec::with_capacity(BATCH);
                    while batch.len() < BATCH && sent < limit && g.next_time() < recv {
                        batch.push(g.next_event(recv));
                        sent += 1;
                    }
                    if sink.send(batch).await.is_err() {
                        return Ok(());
                    }
                }
            }
            let began = tokio::time::Instant::now();
            let anchor = g.next_time().min(now_ms());
            while sent < limit {
                let mut batch = Vec::with_capacity(64);
                match speed {
                    SimSpeed::Max => {
                        let recv = now_ms();
                        while batch.len() < BATCH && sent < limit {
                            batch.push(g.next_event(recv));
                            sent += 1;
                        }
                    }
                    SimSpeed::Factor(f) => {
                        // play out simulated time against the wall clock, in steps of ~10 ms
                        let due_sim = g.next_time() - anchor;
                        let due =
                            began + Duration::from_secs_f64((due_sim.max(0) as f64) / 1000.0 / f);
                        tokio::time::sleep_until(due).await;
                        let horizon =
                            anchor + ((began.elapsed().as_secs_f64() * 1000.0 + 10.0) * f) as TsMs;
                        let recv = now_ms();
                        while g.next_time() <= horizon && batch.len() < BATCH && sent < limit {
                            batch.push(g.next_event(recv));
                            sent += 1;
                        }
                    }
                }
                if sink.send(batch).await.is_err() {
                    return Ok(());
                }
            }
            sink.set_state(SourceState::Finished);
            sink.finish();
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
}
