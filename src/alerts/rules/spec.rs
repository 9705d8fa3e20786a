//! The one serde form of a rule: an `[[alerts]]` entry in config.toml, and the JSON in the
//! `spec` column of `alert_rules`. [`RuleConfig::build`] validates it into an [`AlertRule`].

use serde::{Deserialize, Serialize};

use super::{AlertRule, Condition, Direction, Mode, RuleError, SymbolFilter, Trigger};
use crate::alerts::Severity;
use crate::domain::{Interval, Symbol, TsMs};

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    #[default]
    PriceAbove,
    PriceBelow,
    PriceCross,
    PctChange,
    RsiAbove,
    RsiBelow,
    RsiCross,
    Zscore,
    VolumeSpike,
    Stale,
    /// The book's spread, in basis points of the mid, above `value`.
    SpreadAbove,
    /// The top `levels` levels' imbalance (bid size − ask size over their sum, −1..1) above or
    /// below `value`.
    ImbalanceAbove,
    ImbalanceBelow,
    /// The quote-currency value resting within `within_pct` % of the mid (both sides) below
    /// `value`: liquidity vanishing.
    DepthBelow,
    /// A level of at least `value` (base units) appearing in, or pulled from, the book.
    LevelAppear,
    LevelPulled,
    /// The portfolio's total value (base currency) above or below `value`.
    PortfolioValueAbove,
    PortfolioValueBelow,
    /// The portfolio's P/L (realized plus unrealized, base currency) above or below `value`.
    PortfolioPnlAbove,
    PortfolioPnlBelow,
    /// The portfolio's value more than `value` % below its high-water mark.
    PortfolioDrawdownAbove,
    /// A position's share of the portfolio's value above `value` % (`symbols`: the assets).
    PositionWeightAbove,
}

impl RuleKind {
    pub const ALL: [RuleKind; 22] = [
        RuleKind::PriceAbove,
        RuleKind::PriceBelow,
        RuleKind::PriceCross,
        RuleKind::PctChange,
        RuleKind::RsiAbove,
        RuleKind::RsiBelow,
        RuleKind::RsiCross,
        RuleKind::Zscore,
        RuleKind::VolumeSpike,
        RuleKind::Stale,
        RuleKind::SpreadAbove,
        RuleKind::ImbalanceAbove,
        RuleKind::ImbalanceBelow,
        RuleKind::DepthBelow,
        RuleKind::LevelAppear,
        RuleKind::LevelPulled,
        RuleKind::PortfolioValueAbove,
        RuleKind::PortfolioValueBelow,
        RuleKind::PortfolioPnlAbove,
        RuleKind::PortfolioPnlBelow,
        RuleKind::PortfolioDrawdownAbove,
        RuleKind::PositionWeightAbove,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::PriceAbove => "price_above",
            RuleKind::PriceBelow => "price_below",
            RuleKind::PriceCross => "price_cross",
            RuleKind::PctChange => "pct_change",
            RuleKind::RsiAbove => "rsi_above",
            RuleKind::RsiBelow => "rsi_below",
            RuleKind::RsiCross => "rsi_cross",
            RuleKind::Zscore => "zscore",
            RuleKind::VolumeSpike => "volume_spike",
            RuleKind::Stale => "stale",
            RuleKind::SpreadAbove => "spread_above",
            RuleKind::ImbalanceAbove => "imbalance_above",
            RuleKind::ImbalanceBelow => "imbalance_below",
            RuleKind::DepthBelow => "depth_below",
            RuleKind::LevelAppear => "level_appear",
            RuleKind::LevelPulled => "level_pulled",
            RuleKind::PortfolioValueAbove => "portfolio_value_above",
            RuleKind::PortfolioValueBelow => "portfolio_value_below",
            RuleKind::PortfolioPnlAbove => "portfolio_pnl_above",
            RuleKind::PortfolioPnlBelow => "portfolio_pnl_below",
            RuleKind::PortfolioDrawdownAbove => "portfolio_drawdown_above",
            RuleKind::PositionWeightAbove => "position_weight_above",
        }
    }

    /// Kinds evaluated on the portfolio (`[portfolio]`), valued at live prices every second.
    pub fn on_portfolio(self) -> bool {
        matches!(
            self,
            RuleKind::PortfolioValueAbove
                | RuleKind::PortfolioValueBelow
                | RuleKind::PortfolioPnlAbove
                | RuleKind::PortfolioPnlBelow
                | RuleKind::PortfolioDrawdownAbove
                | RuleKind::PositionWeightAbove
        )
    }

    /// Kinds evaluated on a local order book (`[<venue>] depth = true`), each time it changes.
    pub fn on_book(self) -> bool {
        matches!(
            self,
            RuleKind::SpreadAbove
                | RuleKind::ImbalanceAbove
                | RuleKind::ImbalanceBelow
                | RuleKind::DepthBelow
                | RuleKind::LevelAppear
                | RuleKind::LevelPulled
        )
    }

    fn is_imbalance(self) -> bool {
        matches!(self, RuleKind::ImbalanceAbove | RuleKind::ImbalanceBelow)
    }

    fn is_price(self) -> bool {
        matches!(
            self,
            RuleKind::PriceAbove | RuleKind::PriceBelow | RuleKind::PriceCross
        )
    }

    fn is_rsi(self) -> bool {
        matches!(
            self,
            RuleKind::RsiAbove | RuleKind::RsiBelow | RuleKind::RsiCross
        )
    }

    /// Kinds whose `direction` key means something.
    pub fn has_direction(self) -> bool {
        matches!(
            self,
            RuleKind::PriceCross | RuleKind::RsiCross | RuleKind::PctChange
        )
    }

    /// Kinds evaluated on a candle close of their `interval`, always.
    pub fn on_close_only(self) -> bool {
        self.is_rsi() || self == RuleKind::VolumeSpike
    }

    /// Kinds that may choose between every tick and candle close (`on`).
    pub fn has_on(self) -> bool {
        self.is_price() || self == RuleKind::PctChange
    }
}

impl std::fmt::Display for RuleKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a rule is evaluated, as written in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum On {
    Tick,
    Close,
}

/// Parses a length of time like `90s`, `5m`, `2h` or `1d`.
pub fn parse_duration(s: &str) -> Result<TsMs, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: TsMs = num
        .parse()
        .map_err(|_| format!("cannot read the duration {s:?}: use e.g. 90s, 5m, 2h or 1d"))?;
    let ms = match unit.trim() {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "cannot read the duration {s:?}: use e.g. 90s, 5m, 2h or 1d"
            ));
        }
    };
    if n <= 0 {
        return Err(format!("the duration {s:?} must be longer than zero"));
    }
    n.checked_mul(ms)
        .ok_or_else(|| format!("the duration {s:?} is too long"))
}

/// A duration in the largest whole unit: `5m`, `90s`, `2h`.
pub fn format_duration(ms: TsMs) -> String {
    for (unit, len) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)] {
        if ms >= len && ms % len == 0 {
            return format!("{}{unit}", ms / len);
        }
    }
    format!("{}s", ms / 1_000)
}

/// Parses an expiry: RFC 3339 (`2025-07-01T18:00:00Z`) or a date (`2025-07-01`, the start of
/// that day, UTC).
pub fn parse_expiry(s: &str) -> Result<TsMs, String> {
    let t = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        && let Some(dt) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(dt.and_utc().timestamp_millis());
    }
    Err(format!(
        "cannot read the expiry {s:?}: use a date (2025-07-01) or RFC 3339 (2025-07-01T18:00:00Z)"
    ))
}

/// A rule as written in config.toml (and stored as JSON for rules made in the monitor):
/// ```toml
/// [[alerts]]
/// name = "btc-70k"          # optional in the config; defaults to the condition
/// symbols = ["BTCUSDT"]     # optional; every symbol when absent
/// kind = "price_above"      # see RuleKind
/// value = 70000
/// mode = "rearm"            # rearm (default) | once
/// hysteresis = 250          # re-arm only once the price is back below 69750
/// cooldown_secs = 60        # default 60
/// on = "tick"               # tick (default) | close (of `interval`)
/// expires = "2025-12-31"    # optional
/// severity = "warning"      # info | warning (default) | critical
/// levels = 10               # imbalance_*: the top levels of each side counted (default 10)
/// within_pct = 1.0          # depth_below: the band around the mid, in % (default 1)
/// ```
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symbols: Option<Vec<String>>,
    pub kind: RuleKind,
    pub value: f64,
    /// Candle interval for rsi_*, volume_spike and rules evaluated on close (default 1m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// pct_change: the window the change is measured over, e.g. "5m".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// price_cross, rsi_cross, pct_change: up, down or any (default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// rearm (default) or once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// Band, in the condition's unit, the value must move back across before the rule re-arms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hysteresis: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_secs: Option<u64>,
    /// tick (default) or close, for price and pct_change rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on: Option<On>,
    /// RFC 3339 time or date after which the rule no longer fires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// info | warning (default) | critical
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// imbalance_above/below: how many levels of each side count (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<usize>,
    /// depth_below: the band around the mid, in percent (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_pct: Option<f64>,
}

/// Levels an imbalance rule counts by default, and at most (a venue's book holds no more).
pub const DEFAULT_IMBALANCE_LEVELS: usize = 10;
pub const MAX_IMBALANCE_LEVELS: usize = 1000;
/// The band of a depth rule by default (percent of the mid), and at most.
pub const DEFAULT_DEPTH_PCT: f64 = 1.0;
pub const MAX_DEPTH_PCT: f64 = 50.0;

pub const DEFAULT_COOLDOWN_SECS: u64 = 60;
/// 30 days: anything longer is a typo (and would overflow as milliseconds).
pub const MAX_COOLDOWN_SECS: u64 = 30 * 86_400;

impl RuleConfig {
    /// A rule of `kind` at `value` with every other key at its default.
    pub fn new(kind: RuleKind, value: f64) -> RuleConfig {
        RuleConfig {
            kind,
            value,
            ..RuleConfig::default()
        }
    }

    /// The rule's name: the given one, else what [`build`](Self::build) derives.
    pub fn display_name(&self) -> String {
        match &self.name {
            Some(n) => n.trim().to_string(),
            None => self
                .build()
                .map(|r| r.name)
                .unwrap_or_else(|_| self.kind.to_string()),
        }
    }

    pub fn build(&self) -> Result<AlertRule, RuleError> {
        let label = self
            .name
            .clone()
            .unwrap_or_else(|| self.kind.as_str().to_string());
        let err = |reason: String| RuleError {
            name: label.clone(),
            reason,
        };
        let kind = self.kind;
        let v = self.value;
        if !v.is_finite() {
            return Err(err(format!("value {v} is not a finite number")));
        }

        // keys that only some kinds take
        let on_close = match (self.on, kind) {
            (Some(On::Close), k) if k.has_on() => true,
            (Some(On::Tick), k) if k.on_close_only() => {
                return Err(err(format!(
                    "{kind} rules are evaluated when a candle of their `interval` closes: remove `on = \"tick\"`"
                )));
            }
            (Some(_), k) if !k.has_on() && !k.on_close_only() => {
                return Err(err(format!(
                    "`on` applies to price and pct_change rules, not {kind}"
                )));
            }
            _ => kind.on_close_only(),
        };
        if self.interval.is_some() && !on_close {
            let hint = if kind.has_on() {
                ": add `on = \"close\"` to evaluate it when a candle closes"
            } else {
                ""
            };
            return Err(err(format!(
                "`interval` only applies to rsi_*, volume_spike and rules with on = \"close\", not {kind}{hint}"
            )));
        }
        let interval = match &self.interval {
            Some(s) => s.parse::<Interval>().map_err(err)?,
            None => Interval::M1,
        };
        if self.window.is_some() && kind != RuleKind::PctChange {
            return Err(err(format!(
                "`window` only applies to pct_change, not {kind}"
            )));
        }
        if self.direction.is_some() && !kind.has_direction() {
            return Err(err(format!(
                "`direction` only applies to price_cross, rsi_cross and pct_change, not {kind}"
            )));
        }
        if self.levels.is_some() && !kind.is_imbalance() {
            return Err(err(format!(
                "`levels` only applies to imbalance_above and imbalance_below, not {kind}"
            )));
        }
        if self.within_pct.is_some() && kind != RuleKind::DepthBelow {
            return Err(err(format!(
                "`within_pct` only applies to depth_below, not {kind}"
            )));
        }
        let levels = self.levels.unwrap_or(DEFAULT_IMBALANCE_LEVELS);
        if !(1..=MAX_IMBALANCE_LEVELS).contains(&levels) {
            return Err(err(format!(
                "`levels` = {levels} must be between 1 and {MAX_IMBALANCE_LEVELS}"
            )));
        }
        let within_pct = self.within_pct.unwrap_or(DEFAULT_DEPTH_PCT);
        if !(within_pct.is_finite() && within_pct > 0.0 && within_pct <= MAX_DEPTH_PCT) {
            return Err(err(format!(
                "`within_pct` = {within_pct} must be above 0 and at most {MAX_DEPTH_PCT} (percent of the mid)"
            )));
        }
        if self.symbols.is_some() && kind.on_portfolio() && kind != RuleKind::PositionWeightAbove {
            return Err(err(format!(
                "`symbols` does not apply to {kind} (the whole portfolio): remove it"
            )));
        }
        let direction = self.direction.unwrap_or(Direction::Any);
        let hysteresis = self.hysteresis.unwrap_or(0.0);
        if !(hysteresis.is_finite() && hysteresis >= 0.0) {
            return Err(err(format!(
                "hysteresis = {hysteresis} must be zero or a positive number"
            )));
        }

        let positive = |what: &str| -> Result<(), RuleError> {
            if v > 0.0 {
                Ok(())
            } else {
                Err(err(format!("{what} must be above zero, got {v}")))
            }
        };
        let condition = match kind {
            RuleKind::PriceAbove | RuleKind::PriceBelow | RuleKind::PriceCross => {
                positive("a price level")?;
                match kind {
                    RuleKind::PriceAbove => Condition::PriceAbove(v),
                    RuleKind::PriceBelow => Condition::PriceBelow(v),
                    _ => Condition::PriceCross {
                        level: v,
                        direction,
                    },
                }
            }
            RuleKind::PctChange => {
                positive("a percent change")?;
                let Some(w) = &self.window else {
                    return Err(err(
                        "pct_change needs a `window`, e.g. window = \"5m\" (2% in 5 minutes)"
                            .into(),
                    ));
                };
                Condition::PctChange {
                    pct: v,
                    window_ms: parse_duration(w).map_err(err)?,
                    direction,
                }
            }
            RuleKind::RsiAbove | RuleKind::RsiBelow | RuleKind::RsiCross => {
                if !(0.0..=100.0).contains(&v) {
                    return Err(err(format!(
                        "an RSI level must be between 0 and 100, got {v}"
                    )));
                }
                match kind {
                    RuleKind::RsiAbove => Condition::RsiAbove { level: v, interval },
                    RuleKind::RsiBelow => Condition::RsiBelow { level: v, interval },
                    _ => Condition::RsiCross {
                        level: v,
                        interval,
                        direction,
                    },
                }
            }
            RuleKind::Zscore => {
                positive("a z-score threshold")?;
                Condition::AbsZAtLeast(v)
            }
            RuleKind::VolumeSpike => {
                positive("a volume factor (3 = three times the average)")?;
                Condition::VolumeSpike {
                    factor: v,
                    interval,
                }
            }
            RuleKind::Stale => {
                positive("a number of seconds without data")?;
                Condition::Stale { secs: v }
            }
            RuleKind::SpreadAbove => {
                positive("a spread in basis points")?;
                Condition::SpreadAbove { bps: v }
            }
            RuleKind::ImbalanceAbove | RuleKind::ImbalanceBelow => {
                if !(-1.0..=1.0).contains(&v) {
                    return Err(err(format!(
                        "an imbalance level must be between -1 (all asks) and 1 (all bids), got {v}"
                    )));
                }
                if kind == RuleKind::ImbalanceAbove {
                    Condition::ImbalanceAbove { level: v, levels }
                } else {
                    Condition::ImbalanceBelow { level: v, levels }
                }
            }
            RuleKind::DepthBelow => {
                positive("a depth in the quote currency (e.g. 250000 for $250k)")?;
                Condition::DepthBelow {
                    value: v,
                    within_pct,
                }
            }
            RuleKind::LevelAppear => {
                positive("a level size (base units)")?;
                Condition::LevelAppear { size: v }
            }
            RuleKind::LevelPulled => {
                positive("a level size (base units)")?;
                Condition::LevelPulled { size: v }
            }
            RuleKind::PortfolioValueAbove => {
                positive("a portfolio value (base currency)")?;
                Condition::PortfolioValueAbove(v)
            }
            RuleKind::PortfolioValueBelow => {
                positive("a portfolio value (base currency)")?;
                Condition::PortfolioValueBelow(v)
            }
            // P/L may be a loss: any level
            RuleKind::PortfolioPnlAbove => Condition::PortfolioPnlAbove(v),
            RuleKind::PortfolioPnlBelow => Condition::PortfolioPnlBelow(v),
            RuleKind::PortfolioDrawdownAbove | RuleKind::PositionWeightAbove => {
                if !(v > 0.0 && v < 100.0) {
                    return Err(err(format!(
                        "{kind} takes a percentage above 0 and below 100 (5 = 5 %), got {v}"
                    )));
                }
                if kind == RuleKind::PortfolioDrawdownAbove {
                    Condition::DrawdownAbove { pct: v }
                } else {
                    Condition::WeightAbove { pct: v }
                }
            }
        };
        // A band the value can never get back across would keep the rule from ever re-arming.
        let reachable = match kind {
            RuleKind::PriceCross | RuleKind::RsiCross => true,
            RuleKind::RsiBelow => v + hysteresis < 100.0,
            RuleKind::ImbalanceAbove => v - hysteresis > -1.0,
            RuleKind::ImbalanceBelow => v + hysteresis < 1.0,
            // a level rule's value is 0 when nothing appeared or was pulled: always re-arms
            RuleKind::LevelAppear | RuleKind::LevelPulled => true,
            // a P/L moves freely on both sides of zero
            RuleKind::PortfolioPnlAbove | RuleKind::PortfolioPnlBelow => true,
            _ => hysteresis < v,
        };
        if !reachable {
            return Err(err(format!(
                "hysteresis = {hysteresis} is too wide for the level {v}: the rule could never re-arm"
            )));
        }
        let cooldown_secs = self.cooldown_secs.unwrap_or(DEFAULT_COOLDOWN_SECS);
        if cooldown_secs > MAX_COOLDOWN_SECS {
            return Err(err(format!(
                "`cooldown_secs` = {cooldown_secs} must be between 0 and {MAX_COOLDOWN_SECS} (30 days)"
            )));
        }
        let trigger = match kind {
            RuleKind::Stale => Trigger::Clock,
            RuleKind::Zscore => Trigger::Tick,
            k if k.on_book() => Trigger::Book,
            k if k.on_portfolio() => Trigger::Portfolio,
            _ if on_close => Trigger::Close(interval),
            _ => Trigger::Tick,
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
        let expires_ms = match &self.expires {
            Some(s) => Some(parse_expiry(s).map_err(err)?),
            None => None,
        };
        let name = match &self.name {
            Some(n) => {
                let n = n.trim();
                if n.is_empty() {
                    return Err(err("`name` is empty; omit it to use the condition".into()));
                }
                if let Some(c) = crate::domain::unsafe_name_char(n) {
                    return Err(err(format!(
                        "`name` holds the invisible or control character {}: use visible characters only",
                        crate::domain::describe_char(c)
                    )));
                }
                if n.chars().count() > 80 {
                    return Err(err(
                        "`name` must be at most 80 characters, on one line".into()
                    ));
                }
                n.to_string()
            }
            None => match &symbols {
                SymbolFilter::All => condition.describe(),
                SymbolFilter::List(l) => {
                    let names: Vec<&str> = l.iter().map(|s| s.as_str()).collect();
                    format!("{} {}", names.join(","), condition.describe())
                }
            },
        };
        Ok(AlertRule {
            name,
            symbols,
            condition,
            trigger,
            mode: self.mode.unwrap_or_default(),
            hysteresis,
            // at most 30 days (checked above): no overflow
            cooldown_ms: cooldown_secs as TsMs * 1000,
            expires_ms,
            severity: self.severity.unwrap_or_default(),
            spec: self.clone(),
        })
    }
}

/// Builds every rule of a list, refusing two rules with the same name (rules are kept, edited
/// and stored by name). The error names the entry (0-based) it is about.
pub fn build_all(specs: &[RuleConfig]) -> Result<Vec<AlertRule>, (usize, RuleError)> {
    let mut out: Vec<AlertRule> = Vec::with_capacity(specs.len());
    // a set, not a scan of `out`: ten thousand rules must not cost fifty million comparisons
    let mut names: std::collections::HashSet<String> = Default::default();
    for (i, s) in specs.iter().enumerate() {
        let r = s.build().map_err(|e| (i, e))?;
        if !names.insert(r.name.clone()) {
            return Err((
                i,
                RuleError {
                    name: r.name.clone(),
                    reason: "another rule has the same name: give each rule a distinct `name`"
                        .into(),
                },
            ));
        }
        out.push(r);
    }
    Ok(out)
}
