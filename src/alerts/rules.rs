//! Alert rules: conditions on price, percent change, RSI, anomaly score, volume and feed
//! silence, for one symbol, a list or all; with a lifecycle (armed, triggered, snoozed,
//! expired), hysteresis, cooldown, one-shot rules and expiry.
//!
//! Evaluation is pure: the caller passes the value and the time, [`RuleState::evaluate`] says
//! whether to fire. A level rule ("price above 100") fires when its condition holds while it is
//! armed, then waits until the value is back across the hysteresis band (below 100 − band)
//! before it is armed again. A crossing rule fires when the value moves from one side of the
//! band around its level to the other. Cooldown and snooze keep an armed rule quiet: a level
//! rule whose condition still holds fires when they end, a crossing that happened meanwhile is
//! dropped.

pub mod spec;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use spec::{
    DEFAULT_COOLDOWN_SECS, On, RuleConfig, RuleKind, build_all, format_duration, parse_duration,
    parse_expiry,
};

use crate::domain::{Interval, Symbol, TsMs, VenueSymbol};

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    PriceAbove(f64),
    PriceBelow(f64),
    PriceCross {
        level: f64,
        direction: Direction,
    },
    /// Percent change of the price over `window_ms` at or beyond `pct`.
    PctChange {
        pct: f64,
        window_ms: TsMs,
        direction: Direction,
    },
    RsiAbove {
        level: f64,
        interval: Interval,
    },
    RsiBelow {
        level: f64,
        interval: Interval,
    },
    RsiCross {
        level: f64,
        interval: Interval,
        direction: Direction,
    },
    /// |z| of the latest trade's log return at or above the threshold.
    AbsZAtLeast(f64),
    /// A closed candle's volume at or above `factor` times its recent average.
    VolumeSpike {
        factor: f64,
        interval: Interval,
    },
    /// No data from the symbol for at least `secs` seconds.
    Stale {
        secs: f64,
    },
    /// The book's spread above `bps` basis points of the mid.
    SpreadAbove {
        bps: f64,
    },
    /// The imbalance of the top `levels` levels of each side above (below) `level`.
    ImbalanceAbove {
        level: f64,
        levels: usize,
    },
    ImbalanceBelow {
        level: f64,
        levels: usize,
    },
    /// The quote value resting within `within_pct` % of the mid below `value`.
    DepthBelow {
        value: f64,
        within_pct: f64,
    },
    /// A level of at least `size` appeared in (was pulled from) the book; the value is the
    /// largest such level's size, 0 when there was none.
    LevelAppear {
        size: f64,
    },
    LevelPulled {
        size: f64,
    },
    /// The portfolio's value (in its base currency) above or below a level.
    PortfolioValueAbove(f64),
    PortfolioValueBelow(f64),
    /// The portfolio's P/L (realized plus unrealized) above or below a level.
    PortfolioPnlAbove(f64),
    PortfolioPnlBelow(f64),
    /// The portfolio's value more than `pct` % below its high-water mark.
    DrawdownAbove {
        pct: f64,
    },
    /// A position's share of the portfolio's value above `pct` %.
    WeightAbove {
        pct: f64,
    },
}

impl Condition {
    /// For a level condition: by how much `value` is beyond the threshold, in the condition's
    /// unit (negative: on the quiet side). None for crossings.
    fn excess(&self, value: f64) -> Option<f64> {
        Some(match self {
            Condition::PriceAbove(l) | Condition::RsiAbove { level: l, .. } => value - l,
            Condition::PriceBelow(l) | Condition::RsiBelow { level: l, .. } => l - value,
            Condition::PctChange { pct, direction, .. } => match direction {
                Direction::Up => value - pct,
                Direction::Down => -value - pct,
                Direction::Any => value.abs() - pct,
            },
            Condition::AbsZAtLeast(k) => value.abs() - k,
            Condition::VolumeSpike { factor, .. } => value - factor,
            Condition::Stale { secs } => value - secs,
            Condition::SpreadAbove { bps } => value - bps,
            Condition::ImbalanceAbove { level, .. } => value - level,
            Condition::ImbalanceBelow { level, .. } => level - value,
            Condition::DepthBelow { value: l, .. } => l - value,
            Condition::LevelAppear { size } | Condition::LevelPulled { size } => value - size,
            Condition::PortfolioValueAbove(l) | Condition::PortfolioPnlAbove(l) => value - l,
            Condition::PortfolioValueBelow(l) | Condition::PortfolioPnlBelow(l) => l - value,
            Condition::DrawdownAbove { pct } | Condition::WeightAbove { pct } => value - pct,
            Condition::PriceCross { .. } | Condition::RsiCross { .. } => return None,
        })
    }

    /// "above"/"below" are strict; "at or above" thresholds are not.
    fn strict(&self) -> bool {
        matches!(
            self,
            Condition::PriceAbove(_)
                | Condition::PriceBelow(_)
                | Condition::RsiAbove { .. }
                | Condition::RsiBelow { .. }
                | Condition::SpreadAbove { .. }
                | Condition::ImbalanceAbove { .. }
                | Condition::ImbalanceBelow { .. }
                | Condition::DepthBelow { .. }
                | Condition::PortfolioValueAbove(_)
                | Condition::PortfolioValueBelow(_)
                | Condition::PortfolioPnlAbove(_)
                | Condition::PortfolioPnlBelow(_)
                | Condition::DrawdownAbove { .. }
                | Condition::WeightAbove { .. }
        )
    }

    /// Level and direction of a crossing condition.
    fn crossing(&self) -> Option<(f64, Direction)> {
        match *self {
            Condition::PriceCross { level, direction }
            | Condition::RsiCross {
                level, direction, ..
            } => Some((level, direction)),
            _ => None,
        }
    }

    /// True when the value meets a level condition (crossings are events, never "met").
    pub fn met(&self, value: f64) -> bool {
        match self.excess(value) {
            Some(e) if self.strict() => e > 0.0,
            Some(e) => e >= 0.0,
            None => false,
        }
    }

    /// A short description, also the default name of a rule.
    pub fn describe(&self) -> String {
        match self {
            Condition::PriceAbove(l) => format!("price above {l}"),
            Condition::PriceBelow(l) => format!("price below {l}"),
            Condition::PriceCross { level, direction } => {
                format!("price crossing{} {level}", direction.suffix())
            }
            Condition::PctChange {
                pct,
                window_ms,
                direction,
            } => {
                let sign = match direction {
                    Direction::Up => "+",
                    Direction::Down => "-",
                    Direction::Any => "±",
                };
                format!("{sign}{pct}% in {}", format_duration(*window_ms))
            }
            Condition::RsiAbove { level, interval } => format!("RSI({interval}) above {level}"),
            Condition::RsiBelow { level, interval } => format!("RSI({interval}) below {level}"),
            Condition::RsiCross {
                level,
                interval,
                direction,
            } => format!("RSI({interval}) crossing{} {level}", direction.suffix()),
            Condition::AbsZAtLeast(l) => format!("|z| at or above {l}"),
            Condition::VolumeSpike { factor, interval } => {
                format!("volume({interval}) {factor}x average")
            }
            Condition::Stale { secs } => format!("no data for {secs} s"),
            Condition::SpreadAbove { bps } => format!("spread above {bps} bps"),
            Condition::ImbalanceAbove { level, levels } => {
                format!("top-{levels} imbalance above {level}")
            }
            Condition::ImbalanceBelow { level, levels } => {
                format!("top-{levels} imbalance below {level}")
            }
            Condition::DepthBelow { value, within_pct } => {
                format!("depth within {within_pct}% below {value}")
            }
            Condition::LevelAppear { size } => format!("level of {size}+ appearing"),
            Condition::LevelPulled { size } => format!("level of {size}+ pulled"),
            Condition::PortfolioValueAbove(l) => format!("portfolio value above {l}"),
            Condition::PortfolioValueBelow(l) => format!("portfolio value below {l}"),
            Condition::PortfolioPnlAbove(l) => format!("portfolio P/L above {l}"),
            Condition::PortfolioPnlBelow(l) => format!("portfolio P/L below {l}"),
            Condition::DrawdownAbove { pct } => format!("portfolio drawdown above {pct}%"),
            Condition::WeightAbove { pct } => format!("position weight above {pct}%"),
        }
    }
}

/// Which way a crossing or a change must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
    #[default]
    Any,
}

impl Direction {
    fn allows(self, up: bool) -> bool {
        match self {
            Direction::Up => up,
            Direction::Down => !up,
            Direction::Any => true,
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Direction::Up => " up",
            Direction::Down => " down",
            Direction::Any => "",
        }
    }
}

/// Whether a rule can fire again after it fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Fires once, then stays triggered until acknowledged or edited.
    Once,
    /// Armed again once the value is back across the hysteresis band.
    #[default]
    Rearm,
}

/// When a rule is evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// On every trade.
    Tick,
    /// When a candle of this interval closes.
    Close(Interval),
    /// On the engine's clock (feed silence).
    Clock,
    /// Each time a local order book is published (liquidity rules).
    Book,
    /// Each time the portfolio is valued at live prices (on the engine's clock).
    Portfolio,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SymbolFilter {
    All,
    List(Vec<Symbol>),
}

impl SymbolFilter {
    pub fn matches(&self, s: Symbol) -> bool {
        match self {
            SymbolFilter::All => true,
            SymbolFilter::List(l) => l.contains(&s),
        }
    }

    /// "all" or the symbols, comma-separated.
    pub fn describe(&self) -> String {
        match self {
            SymbolFilter::All => "all".into(),
            SymbolFilter::List(l) => l.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(","),
        }
    }
}

/// A validated rule. Built from a [`RuleConfig`] (kept in `spec`, which is what is stored and
/// edited).
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub symbols: SymbolFilter,
    pub condition: Condition,
    pub trigger: Trigger,
    pub mode: Mode,
    /// Band in the condition's unit (0: none).
    pub hysteresis: f64,
    pub cooldown_ms: TsMs,
    /// From this time on the rule no longer fires.
    pub expires_ms: Option<TsMs>,
    pub severity: super::Severity,
    pub spec: RuleConfig,
}

impl AlertRule {
    pub fn expired(&self, now: TsMs) -> bool {
        self.expires_ms.is_some_and(|t| now >= t)
    }

    fn is_crossing(&self) -> bool {
        self.condition.crossing().is_some()
    }

    /// The message a person reads.
    pub fn message(&self, key: VenueSymbol, value: f64) -> String {
        let s = key.symbol;
        let v = crate::format::price(value);
        match &self.condition {
            Condition::PriceAbove(l) => format!("{s} price {v} rose above {l}"),
            Condition::PriceBelow(l) => format!("{s} price {v} fell below {l}"),
            Condition::PriceCross { level, .. } => {
                let way = if value > *level { "above" } else { "below" };
                format!("{s} price {v} crossed {way} {level}")
            }
            Condition::PctChange { window_ms, .. } => {
                format!("{s} moved {value:+.2}% in {}", format_duration(*window_ms))
            }
            Condition::RsiAbove { level, interval } => {
                format!("{s} RSI({interval}) {value:.1} is above {level}")
            }
            Condition::RsiBelow { level, interval } => {
                format!("{s} RSI({interval}) {value:.1} is below {level}")
            }
            Condition::RsiCross {
                level, interval, ..
            } => {
                let way = if value > *level { "above" } else { "below" };
                format!("{s} RSI({interval}) {value:.1} crossed {way} {level}")
            }
            Condition::AbsZAtLeast(l) => {
                format!("{s} anomaly: return z-score {value:+.1} (|z| >= {l})")
            }
            Condition::VolumeSpike { factor, interval } => {
                format!("{s} {interval} volume {value:.1}x its average (>= {factor}x)")
            }
            Condition::Stale { secs } => format!("{s} no data for {value:.0} s (limit {secs} s)"),
            Condition::SpreadAbove { bps } => {
                format!("{s} spread {value:.1} bps is above {bps} bps")
            }
            Condition::ImbalanceAbove { level, levels } => {
                format!("{s} top-{levels} book imbalance {value:+.2} is above {level}")
            }
            Condition::ImbalanceBelow { level, levels } => {
                format!("{s} top-{levels} book imbalance {value:+.2} is below {level}")
            }
            Condition::DepthBelow {
                value: l,
                within_pct,
            } => format!(
                "{s} depth within {within_pct}% of mid {} is below {}",
                crate::format::price(value),
                crate::format::price(*l)
            ),
            Condition::LevelAppear { size } => {
                format!("{s} a level of {v} appeared (>= {size})")
            }
            Condition::LevelPulled { size } => {
                format!("{s} a level of {v} was pulled (>= {size})")
            }
            Condition::PortfolioValueAbove(l) => format!("portfolio value {v} rose above {l}"),
            Condition::PortfolioValueBelow(l) => format!("portfolio value {v} fell below {l}"),
            Condition::PortfolioPnlAbove(l) => format!("portfolio P/L {v} rose above {l}"),
            Condition::PortfolioPnlBelow(l) => format!("portfolio P/L {v} fell below {l}"),
            Condition::DrawdownAbove { pct } => {
                format!("portfolio value is {value:.2}% below its high (>= {pct}%)")
            }
            Condition::WeightAbove { pct } => {
                format!("{s} is {value:.1}% of the portfolio (> {pct}%)")
            }
        }
    }
}

/// Why a rule is not valid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("alert rule {name:?}: {reason}")]
pub struct RuleError {
    pub name: String,
    pub reason: String,
}

/// A rule's state as shown and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Will fire when its condition is met.
    #[default]
    Armed,
    /// Fired and waiting: to be re-armed by the value (rearm) or acknowledged (once).
    Triggered,
    /// Kept quiet until a time.
    Snoozed,
    /// Past its expiry; never fires again unless edited.
    Expired,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Armed => "armed",
            Status::Triggered => "triggered",
            Status::Snoozed => "snoozed",
            Status::Expired => "expired",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "armed" => Ok(Status::Armed),
            "triggered" => Ok(Status::Triggered),
            "snoozed" => Ok(Status::Snoozed),
            "expired" => Ok(Status::Expired),
            other => Err(format!("unknown rule state {other:?}")),
        }
    }
}

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// An `[[alerts]]` entry of config.toml: the file defines it.
    #[default]
    Config,
    /// Made in the monitor: the database defines it.
    Monitor,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Monitor => "monitor",
        }
    }
}

impl std::str::FromStr for Origin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "config" => Ok(Origin::Config),
            "monitor" => Ok(Origin::Monitor),
            other => Err(format!("unknown rule origin {other:?}")),
        }
    }
}

/// Where a rule stands for one symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Fires when its condition is met.
    #[default]
    Armed,
    /// Fired; a level rule in rearm mode is armed again once the value clears the band, a
    /// once rule stays here until acknowledged.
    Fired,
    /// Acknowledged: armed again once the value clears the band (so that acknowledging a
    /// rule whose condition still holds does not fire it at once).
    Rearming,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Above,
    Below,
}

/// What keeps a whole rule quiet at one evaluation (its state is still updated).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hold {
    /// Snoozed until this time.
    pub snoozed_until_ms: Option<TsMs>,
    /// A once rule that already fired (for any symbol).
    pub latched: bool,
    /// The data is history arriving late: a person is told about now, not an hour ago.
    pub history: bool,
}

/// Per rule and symbol: whether the rule may fire, which side of a crossing level the value is
/// on, and when it last fired.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RuleState {
    pub phase: Phase,
    side: Option<Side>,
    pub last_fired_ms: Option<TsMs>,
}

impl RuleState {
    /// A state that waits for the value to clear the band before arming (a rule that was
    /// triggered before a restart).
    pub fn rearming(last_fired_ms: Option<TsMs>) -> RuleState {
        RuleState {
            phase: Phase::Rearming,
            side: None,
            last_fired_ms,
        }
    }

    /// Evaluates `value` at `now`; true when the rule fires. NaN and infinities change nothing.
    pub fn evaluate(&mut self, rule: &AlertRule, value: f64, now: TsMs, hold: Hold) -> bool {
        if !value.is_finite() || rule.expired(now) {
            return false;
        }
        let cooling = self
            .last_fired_ms
            .is_some_and(|t| now - t < rule.cooldown_ms);
        let quiet = hold.latched
            || hold.history
            || hold.snoozed_until_ms.is_some_and(|t| now < t)
            || cooling;
        let h = rule.hysteresis;
        if let Some((level, direction)) = rule.condition.crossing() {
            // Inside the band the side is unchanged: a wobble around the level is no crossing.
            let side = if value > level + h {
                Side::Above
            } else if value < level - h {
                Side::Below
            } else {
                return false;
            };
            let previous = self.side.replace(side);
            if self.phase == Phase::Rearming {
                self.phase = Phase::Armed;
            }
            let crossed = previous.is_some_and(|p| p != side);
            if crossed && direction.allows(side == Side::Above) && self.phase == Phase::Armed {
                return !quiet && self.fire(rule, now);
            }
            return false;
        }
        let Some(excess) = rule.condition.excess(value) else {
            return false;
        };
        let cleared = excess < -h;
        let rearms = match self.phase {
            Phase::Armed => false,
            Phase::Fired => rule.mode == Mode::Rearm,
            Phase::Rearming => true,
        };
        if rearms && cleared {
            self.phase = Phase::Armed;
        }
        if self.phase == Phase::Armed && rule.condition.met(value) && !quiet {
            return self.fire(rule, now);
        }
        false
    }

    fn fire(&mut self, rule: &AlertRule, now: TsMs) -> bool {
        self.last_fired_ms = Some(now);
        // A crossing in rearm mode needs nothing to re-arm it: the next crossing is the next event.
        if !(rule.is_crossing() && rule.mode == Mode::Rearm) {
            self.phase = Phase::Fired;
        }
        true
    }

    /// The person has seen it: a fired rule is armed again (a level rule once its value has
    /// cleared the band).
    pub fn acknowledge(&mut self, rule: &AlertRule) {
        if self.phase == Phase::Fired {
            self.phase = if rule.is_crossing() {
                Phase::Armed
            } else {
                Phase::Rearming
            };
        }
    }
}
