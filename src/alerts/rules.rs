//! Basic alert rules: price above/below, RSI above/below, |z| at or above a threshold.
//!
//! A rule fires when its condition becomes true (an edge, not a level), then stays quiet until
//! the condition has been false again (re-armed) and its cooldown has passed. Evaluation is pure:
//! the caller passes the value and the time, the rule state says whether to fire.

use serde::Deserialize;

use crate::domain::{Interval, Symbol, TsMs, VenueSymbol};

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    PriceAbove(f64),
    PriceBelow(f64),
    RsiAbove {
        level: f64,
        interval: Interval,
    },
    RsiBelow {
        level: f64,
        interval: Interval,
    },
    /// |z| of the latest trade's log return at or above the threshold.
    AbsZAtLeast(f64),
}

impl Condition {
    /// True when the value meets the condition.
    pub fn met(&self, value: f64) -> bool {
        match self {
            Condition::PriceAbove(l) | Condition::RsiAbove { level: l, .. } => value > *l,
            Condition::PriceBelow(l) | Condition::RsiBelow { level: l, .. } => value < *l,
            Condition::AbsZAtLeast(l) => value.abs() >= *l,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Condition::PriceAbove(l) => format!("price above {l}"),
            Condition::PriceBelow(l) => format!("price below {l}"),
            Condition::RsiAbove { level, interval } => format!("RSI({interval}) above {level}"),
            Condition::RsiBelow { level, interval } => format!("RSI({interval}) below {level}"),
            Condition::AbsZAtLeast(l) => format!("|z| at or above {l}"),
        }
    }
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRule {
    pub name: String,
    pub symbols: SymbolFilter,
    pub condition: Condition,
    pub cooldown_ms: TsMs,
    pub severity: super::Severity,
}

/// Per rule and symbol: whether the rule may fire, and when it last did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RuleState {
    /// The condition was true at the last evaluation.
    pub was_met: bool,
    pub last_fired_ms: Option<TsMs>,
}

impl RuleState {
    /// Evaluates `value` at `now`; true when the rule fires.
    pub fn evaluate(&mut self, rule: &AlertRule, value: f64, now: TsMs) -> bool {
        if !value.is_finite() {
            return false;
        }
        let met = rule.condition.met(value);
        let edge = met && !self.was_met;
        self.was_met = met;
        let cooled = self
            .last_fired_ms
            .is_none_or(|t| now - t >= rule.cooldown_ms);
        if edge && cooled {
            self.last_fired_ms = Some(now);
            true
        } else {
            false
        }
    }
}

impl AlertRule {
    /// The message a person reads.
    pub fn message(&self, key: VenueSymbol, value: f64) -> String {
        let v = crate::format::price(value);
        match &self.condition {
            Condition::PriceAbove(l) => format!("{} price {v} rose above {l}", key.symbol),
            Condition::PriceBelow(l) => format!("{} price {v} fell below {l}", key.symbol),
            Condition::RsiAbove { level, interval } => {
                format!("{} RSI({interval}) {value:.1} is above {level}", key.symbol)
            }
            Condition::RsiBelow { level, interval } => {
                format!("{} RSI({interval}) {value:.1} is below {level}", key.symbol)
            }
            Condition::AbsZAtLeast(l) => {
                format!(
                    "{} anomaly: return z-score {value:+.1} (|z| >= {l})",
                    key.symbol
                )
            }
        }
    }
}

/// Why a rule in the config is not valid.
#[derive(Debug, thiserror::Error)]
#[error("alert rule {name:?}: {reason}")]
pub struct RuleError {
    pub name: String,
    pub reason: String,
}

/// A rule as written in config.toml:
/// ```toml
/// [[alerts]]
/// name = "btc-70k"          # optional; defaults to the condition
/// symbols = ["BTCUSDT"]     # optional; all symbols when absent
/// kind = "price_above"      # price_above | price_below | rsi_above | rsi_below | zscore
/// value = 70000
/// interval = "1m"           # for rsi_*; default 1m
/// cooldown_secs = 60        # default 60
/// severity = "warning"      # info | warning | critical
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    pub name: Option<String>,
    pub symbols: Option<Vec<String>>,
    pub kind: String,
    pub value: f64,
    pub interval: Option<String>,
    pub cooldown_secs: Option<u64>,
    /// info | warning (default) | critical
    pub severity: Option<super::Severity>,
}

impl RuleConfig {
    pub fn build(&self) -> Result<AlertRule, RuleError> {
        let label = self.name.clone().unwrap_or_else(|| self.kind.clone());
        let err = |reason: String| RuleError {
            name: label.clone(),
            reason,
        };
        if !self.value.is_finite() {
            return Err(err(format!("value {} is not a finite number", self.value)));
        }
        let interval = match &self.interval {
            Some(s) => s.parse::<Interval>().map_err(err)?,
            None => Interval::M1,
        };
        if self.interval.is_some() && !self.kind.starts_with("rsi") {
            return Err(err(format!(
                "`interval` only applies to rsi_above/rsi_below, not {:?}",
                self.kind
            )));
        }
        let v = self.value;
        let condition = match self.kind.as_str() {
            "price_above" | "price_below" if v <= 0.0 => {
                return Err(err(format!("a price level must be positive, got {v}")));
            }
            "price_above" => Condition::PriceAbove(v),
            "price_below" => Condition::PriceBelow(v),
            "rsi_above" | "rsi_below" if !(0.0..=100.0).contains(&v) => {
                return Err(err(format!(
                    "an RSI level must be between 0 and 100, got {v}"
                )));
            }
            "rsi_above" => Condition::RsiAbove { level: v, interval },
            "rsi_below" => Condition::RsiBelow { level: v, interval },
            "zscore" if v <= 0.0 => {
                return Err(err(format!(
                    "a z-score threshold must be positive, got {v}"
                )));
            }
            "zscore" => Condition::AbsZAtLeast(v),
            other => {
                return Err(err(format!(
                    "unknown kind {other:?}; expected price_above, price_below, rsi_above, rsi_below or zscore"
                )));
            }
        };
        let symbols = match &self.symbols {
            None => SymbolFilter::All,
            Some(list) if list.is_empty() => {
                return Err(err(
                    "`symbols` is empty; omit it to watch every symbol".into()
                ));
            }
            Some(list) => SymbolFilter::List(
                list.iter()
                    .map(|s| Symbol::new(s).map_err(|e| err(e.to_string())))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let name = self.name.clone().unwrap_or_else(|| condition.describe());
        Ok(AlertRule {
            name,
            symbols,
            condition,
            cooldown_ms: self.cooldown_secs.unwrap_or(60) as TsMs * 1000,
            severity: self.severity.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(condition: Condition, cooldown_ms: TsMs) -> AlertRule {
        AlertRule {
            name: "r".into(),
            symbols: SymbolFilter::All,
            condition,
            cooldown_ms,
            severity: Default::default(),
        }
    }

    #[test]
    fn fires_on_the_edge_then_rearms_when_false() {
        let r = rule(Condition::PriceAbove(100.0), 0);
        let mut s = RuleState::default();
        assert!(!s.evaluate(&r, 99.0, 0));
        assert!(s.evaluate(&r, 101.0, 1));
        assert!(!s.evaluate(&r, 102.0, 2), "still above: no repeat");
        assert!(!s.evaluate(&r, 99.0, 3));
        assert!(s.evaluate(&r, 101.0, 4), "re-armed after falling back");
    }

    #[test]
    fn cooldown_suppresses_flapping() {
        let r = rule(Condition::AbsZAtLeast(3.0), 1_000);
        let mut s = RuleState::default();
        assert!(s.evaluate(&r, -4.0, 0));
        assert!(!s.evaluate(&r, 0.0, 100));
        assert!(!s.evaluate(&r, 5.0, 500), "within cooldown");
        assert!(!s.evaluate(&r, 0.0, 1_100));
        assert!(s.evaluate(&r, 5.0, 1_200));
        assert!(!s.evaluate(&r, f64::NAN, 5_000));
    }

    #[test]
    fn config_rules_are_validated_with_clear_messages() {
        let base = RuleConfig {
            name: None,
            symbols: None,
            kind: "rsi_above".into(),
            value: 70.0,
            interval: Some("5m".into()),
            cooldown_secs: None,
            severity: None,
        };
        let r = base.build().unwrap();
        assert_eq!(
            r.condition,
            Condition::RsiAbove {
                level: 70.0,
                interval: Interval::M5
            }
        );
        assert_eq!(r.cooldown_ms, 60_000);
        let bad = RuleConfig {
            value: 170.0,
            ..base.clone()
        };
        assert!(
            bad.build()
                .unwrap_err()
                .to_string()
                .contains("between 0 and 100")
        );
        let bad = RuleConfig {
            kind: "price_sideways".into(),
            interval: None,
            ..base.clone()
        };
        assert!(
            bad.build()
                .unwrap_err()
                .to_string()
                .contains("unknown kind")
        );
        let bad = RuleConfig {
            interval: Some("7m".into()),
            ..base.clone()
        };
        assert!(
            bad.build()
                .unwrap_err()
                .to_string()
                .contains("unknown interval")
        );
        let bad = RuleConfig {
            kind: "zscore".into(),
            interval: Some("1m".into()),
            value: 4.0,
            ..base
        };
        assert!(
            bad.build()
                .unwrap_err()
                .to_string()
                .contains("only applies")
        );
    }
}
