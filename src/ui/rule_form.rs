//! The small form that makes or edits an alert rule: its fields and keys. What it shows is
//! [`widgets::rule_form`](super::widgets::rule_form).

use crossterm::event::KeyEvent;

use crate::ui::form::cycle;

use crate::alerts::rules::{Direction, Mode, On, RuleConfig, RuleKind};
use crate::domain::{Interval, Symbol};
use crate::view::RuleView;

/// One line of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Kind,
    Value,
    Window,
    Interval,
    Direction,
    /// imbalance_*: levels of each side counted.
    Levels,
    /// depth_below: the band around the mid, in %.
    Band,
    Scope,
    Mode,
    Hysteresis,
    Cooldown,
    Name,
}

impl Field {
    pub fn label(self) -> &'static str {
        match self {
            Field::Kind => "kind",
            Field::Value => "value",
            Field::Window => "window",
            Field::Interval => "interval",
            Field::Direction => "direction",
            Field::Levels => "levels",
            Field::Band => "within %",
            Field::Scope => "symbols",
            Field::Mode => "mode",
            Field::Hysteresis => "hysteresis",
            Field::Cooldown => "cooldown s",
            Field::Name => "name",
        }
    }

    /// Chosen with ←/→ rather than typed.
    pub fn is_choice(self) -> bool {
        matches!(
            self,
            Field::Kind | Field::Interval | Field::Direction | Field::Scope | Field::Mode
        )
    }
}

/// What a key did to the form (a valid rule: its name may still be taken, the caller checks).
pub type FormOutcome = crate::ui::form::Outcome<RuleConfig>;

#[derive(Debug, Clone, PartialEq)]
pub struct RuleForm {
    /// The name of the rule being edited (None: a new rule).
    pub editing: Option<String>,
    /// The symbols of the narrow scope: the selected symbol, or the edited rule's list.
    pub scope_list: Option<Vec<String>>,
    /// The selected symbol's last price, to fill in price levels.
    pub price: Option<f64>,
    pub kind: RuleKind,
    pub value: String,
    pub window: String,
    pub interval: Interval,
    pub direction: Direction,
    pub levels: String,
    pub band: String,
    pub scope_all: bool,
    pub mode: Mode,
    pub hysteresis: String,
    pub cooldown: String,
    /// Empty: derived from the condition.
    pub name: String,
    pub field: Field,
    pub error: Option<String>,
    /// How the rule would have behaved on the selected symbol's stored history ("would have
    /// fired 3 times in the last 7 days"), filled in by the preview thread.
    pub preview: Option<String>,
    /// Keys the form does not show, kept from the edited rule.
    base: RuleConfig,
}

/// A value to start from for each kind: the current price for price levels.
pub fn default_value(kind: RuleKind, price: Option<f64>) -> String {
    match kind {
        RuleKind::PriceAbove | RuleKind::PriceBelow | RuleKind::PriceCross => {
            price.map(crate::format::price).unwrap_or_default()
        }
        RuleKind::PctChange => "2".into(),
        RuleKind::RsiAbove => "70".into(),
        RuleKind::RsiBelow => "30".into(),
        RuleKind::RsiCross => "50".into(),
        RuleKind::Zscore | RuleKind::VolumeSpike => "3".into(),
        RuleKind::Stale => "60".into(),
        RuleKind::SpreadAbove => "10".into(),
        RuleKind::ImbalanceAbove => "0.6".into(),
        RuleKind::ImbalanceBelow => "-0.6".into(),
        // the quote value within the band, and the size of a level: too different across
        // markets for one default to mean anything; the person types it
        RuleKind::DepthBelow | RuleKind::LevelAppear | RuleKind::LevelPulled => String::new(),
        // the person's own money: no level is a sensible guess
        RuleKind::PortfolioValueAbove
        | RuleKind::PortfolioValueBelow
        | RuleKind::PortfolioPnlAbove
        | RuleKind::PortfolioPnlBelow => String::new(),
        RuleKind::PortfolioDrawdownAbove => "5".into(),
        RuleKind::PositionWeightAbove => "50".into(),
    }
}

impl RuleForm {
    /// A new price rule for `symbol` (every symbol when None) at its current price.
    pub fn new_rule(symbol: Option<Symbol>, price: Option<f64>) -> RuleForm {
        let kind = RuleKind::PriceAbove;
        RuleForm {
            editing: None,
            scope_list: symbol.map(|s| vec![s.to_string()]),
            price,
            kind,
            value: default_value(kind, price),
            window: "5m".into(),
            interval: Interval::M1,
            direction: Direction::Any,
            levels: crate::alerts::rules::spec::DEFAULT_IMBALANCE_LEVELS.to_string(),
            band: crate::alerts::rules::spec::DEFAULT_DEPTH_PCT.to_string(),
            scope_all: symbol.is_none(),
            mode: Mode::Rearm,
            hysteresis: String::new(),
            cooldown: crate::alerts::rules::DEFAULT_COOLDOWN_SECS.to_string(),
            name: String::new(),
            field: Field::Value,
            error: None,
            preview: None,
            base: RuleConfig::default(),
        }
    }

    /// The form on an existing rule.
    pub fn edit(rule: &RuleView, price: Option<f64>) -> RuleForm {
        let s = &rule.spec;
        let num = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        RuleForm {
            editing: Some(rule.name.clone()),
            scope_list: s.symbols.clone(),
            price,
            kind: s.kind,
            value: s.value.to_string(),
            window: s.window.clone().unwrap_or_else(|| "5m".into()),
            interval: s
                .interval
                .as_deref()
                .and_then(|i| i.parse().ok())
                .unwrap_or(Interval::M1),
            direction: s.direction.unwrap_or_default(),
            levels: s
                .levels
                .unwrap_or(crate::alerts::rules::spec::DEFAULT_IMBALANCE_LEVELS)
                .to_string(),
            band: s
                .within_pct
                .unwrap_or(crate::alerts::rules::spec::DEFAULT_DEPTH_PCT)
                .to_string(),
            scope_all: s.symbols.is_none(),
            mode: s.mode.unwrap_or_default(),
            hysteresis: num(s.hysteresis),
            cooldown: s
                .cooldown_secs
                .unwrap_or(crate::alerts::rules::DEFAULT_COOLDOWN_SECS)
                .to_string(),
            name: rule.name.clone(),
            field: Field::Value,
            error: None,
            preview: None,
            base: s.clone(),
        }
    }

    fn shows_interval(&self) -> bool {
        self.kind.on_close_only() || (self.kind.has_on() && self.base.on == Some(On::Close))
    }

    /// The lines of the form for the current kind, in order.
    pub fn fields(&self) -> Vec<Field> {
        let mut f = vec![Field::Kind, Field::Value];
        if self.kind == RuleKind::PctChange {
            f.push(Field::Window);
        }
        if self.shows_interval() {
            f.push(Field::Interval);
        }
        if self.kind.has_direction() {
            f.push(Field::Direction);
        }
        if matches!(
            self.kind,
            RuleKind::ImbalanceAbove | RuleKind::ImbalanceBelow
        ) {
            f.push(Field::Levels);
        }
        if self.kind == RuleKind::DepthBelow {
            f.push(Field::Band);
        }
        // a portfolio rule is about the portfolio, not the selected market
        if !self.kind.on_portfolio() {
            f.push(Field::Scope);
        }
        f.extend([Field::Mode, Field::Hysteresis, Field::Cooldown, Field::Name]);
        f
    }

    /// What a field shows.
    pub fn text(&self, field: Field) -> String {
        match field {
            Field::Kind => self.kind.to_string(),
            Field::Value => self.value.clone(),
            Field::Window => self.window.clone(),
            Field::Interval => self.interval.to_string(),
            Field::Direction => match self.direction {
                Direction::Any => "any".into(),
                Direction::Up => "up".into(),
                Direction::Down => "down".into(),
            },
            Field::Scope => match (&self.scope_list, self.scope_all) {
                (Some(l), false) => l.join(","),
                _ => "all".into(),
            },
            Field::Mode => match self.mode {
                Mode::Rearm => "rearm".into(),
                Mode::Once => "once".into(),
            },
            Field::Levels => self.levels.clone(),
            Field::Band => self.band.clone(),
            Field::Hysteresis => self.hysteresis.clone(),
            Field::Cooldown => self.cooldown.clone(),
            Field::Name => self.name.clone(),
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> FormOutcome {
        crate::ui::form::on_key(self, key, RuleForm::to_spec)
    }

    /// The rule the form describes, validated like a config entry; the error says which
    /// field is wrong and why.
    pub fn to_spec(&self) -> Result<RuleConfig, String> {
        let number = |field: Field, text: &str| -> Result<Option<f64>, String> {
            let t = text.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<f64>()
                .map(Some)
                .map_err(|_| format!("{}: {t:?} is not a number", field.label()))
        };
        let value = number(Field::Value, &self.value)?
            .ok_or_else(|| "value: enter a number".to_string())?;
        let cooldown = match self.cooldown.trim() {
            "" => None,
            t => Some(
                t.parse::<u64>()
                    .map_err(|_| format!("cooldown: {t:?} is not a whole number of seconds"))?,
            ),
        };
        let name = self.name.trim();
        let kind = self.kind;
        let spec = RuleConfig {
            name: (!name.is_empty()).then(|| name.to_string()),
            // a weight rule edited from the config keeps its assets; the others watch all
            symbols: if kind == RuleKind::PositionWeightAbove {
                // the assets of a weight rule being edited; a market rule's symbols are no assets
                self.base
                    .symbols
                    .clone()
                    .filter(|_| self.base.kind == RuleKind::PositionWeightAbove)
            } else if self.scope_all || kind.on_portfolio() {
                None
            } else {
                self.scope_list.clone()
            },
            kind,
            value,
            interval: self
                .shows_interval()
                .then(|| self.interval.as_str().to_string()),
            window: (kind == RuleKind::PctChange).then(|| self.window.trim().to_string()),
            direction: (kind.has_direction() && self.direction != Direction::Any)
                .then_some(self.direction),
            mode: (self.mode == Mode::Once).then_some(Mode::Once),
            hysteresis: number(Field::Hysteresis, &self.hysteresis)?,
            cooldown_secs: cooldown,
            on: self.base.on.filter(|_| kind.has_on()),
            expires: self.base.expires.clone(),
            severity: self.base.severity,
            levels: match self.kind {
                RuleKind::ImbalanceAbove | RuleKind::ImbalanceBelow => {
                    Some(self.levels.trim().parse::<usize>().map_err(|_| {
                        format!("levels: {:?} is not a whole number", self.levels.trim())
                    })?)
                }
                _ => None,
            },
            within_pct: match self.kind {
                RuleKind::DepthBelow => number(Field::Band, &self.band)?,
                _ => None,
            },
        };
        spec.build().map_err(|e| e.reason)?;
        Ok(spec)
    }
}

impl crate::ui::form::Form for RuleForm {
    type Field = Field;
    const MAX_TEXT: usize = 80;

    fn fields(&self) -> Vec<Field> {
        RuleForm::fields(self)
    }

    fn focus(&self) -> Field {
        self.field
    }

    fn set_focus(&mut self, f: Field) {
        self.field = f;
    }

    fn text_mut(&mut self, field: Field) -> Option<&mut String> {
        match field {
            Field::Value => Some(&mut self.value),
            Field::Window => Some(&mut self.window),
            Field::Levels => Some(&mut self.levels),
            Field::Band => Some(&mut self.band),
            Field::Hysteresis => Some(&mut self.hysteresis),
            Field::Cooldown => Some(&mut self.cooldown),
            Field::Name => Some(&mut self.name),
            _ => None,
        }
    }

    fn choose(&mut self, forward: bool) {
        match self.field {
            Field::Kind => {
                self.kind = cycle(&RuleKind::ALL, self.kind, forward);
                self.value = default_value(self.kind, self.price);
            }
            Field::Interval => self.interval = cycle(&Interval::ALL, self.interval, forward),
            Field::Direction => {
                let all = [Direction::Any, Direction::Up, Direction::Down];
                self.direction = cycle(&all, self.direction, forward);
            }
            Field::Scope if self.scope_list.is_some() => self.scope_all = !self.scope_all,
            Field::Mode => {
                self.mode = cycle(&[Mode::Rearm, Mode::Once], self.mode, forward);
            }
            _ => {}
        }
    }

    fn set_error(&mut self, e: Option<String>) {
        self.error = e;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyCode, KeyModifiers};

    fn press(f: &mut RuleForm, code: KeyCode) -> FormOutcome {
        f.on_key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn typed(f: &mut RuleForm, s: &str) {
        for c in s.chars() {
            press(f, KeyCode::Char(c));
        }
    }

    #[test]
    fn a_new_rule_starts_at_the_current_price_and_kinds_cycle() {
        let sym = Symbol::new("BTCUSDT").unwrap();
        let mut f = RuleForm::new_rule(Some(sym), Some(43_210.123));
        assert_eq!(f.value, "43210.12");
        assert_eq!(f.text(Field::Scope), "BTCUSDT");
        let FormOutcome::Submitted(spec) = press(&mut f, KeyCode::Enter) else {
            panic!("{:?}", f.error)
        };
        assert_eq!(spec.kind, RuleKind::PriceAbove);
        assert_eq!(spec.symbols, Some(vec!["BTCUSDT".to_string()]));
        assert_eq!(spec.cooldown_secs, Some(60));

        f.field = Field::Kind;
        press(&mut f, KeyCode::Right);
        press(&mut f, KeyCode::Right);
        press(&mut f, KeyCode::Right);
        assert_eq!(f.kind, RuleKind::PctChange);
        assert_eq!(f.value, "2");
        assert!(f.fields().contains(&Field::Window));
        assert!(f.fields().contains(&Field::Direction));
        press(&mut f, KeyCode::Right);
        assert_eq!((f.kind, f.value.as_str()), (RuleKind::RsiAbove, "70"));
        assert!(f.fields().contains(&Field::Interval));
        press(&mut f, KeyCode::Left);
        press(&mut f, KeyCode::Left);
        press(&mut f, KeyCode::Left);
        press(&mut f, KeyCode::Left);
        press(&mut f, KeyCode::Left);
        assert_eq!(f.kind, RuleKind::PositionWeightAbove, "wraps around");
        // a portfolio rule is about the portfolio: no symbols line
        assert_eq!(f.value, "50");
        assert!(!f.fields().contains(&Field::Scope));
        let FormOutcome::Submitted(spec) = press(&mut f, KeyCode::Enter) else {
            panic!("{:?}", f.error)
        };
        assert_eq!(
            (spec.kind, spec.symbols),
            (RuleKind::PositionWeightAbove, None)
        );
        f.field = Field::Kind;
        for _ in 0..6 {
            press(&mut f, KeyCode::Left);
        }
        assert_eq!(f.kind, RuleKind::LevelPulled);
        // a level size depends on the market: typed, never guessed
        assert_eq!(f.value, "");
        assert!(press(&mut f, KeyCode::Enter) == FormOutcome::Open && f.error.is_some());
        f.field = Field::Kind;
        for _ in 0..3 {
            press(&mut f, KeyCode::Left);
        }
        assert_eq!(f.kind, RuleKind::ImbalanceBelow);
        assert!(f.fields().contains(&Field::Levels));
        f.field = Field::Levels;
        press(&mut f, KeyCode::Backspace);
        press(&mut f, KeyCode::Backspace);
        typed(&mut f, "5");
        let FormOutcome::Submitted(spec) = press(&mut f, KeyCode::Enter) else {
            panic!("{:?}", f.error)
        };
        assert_eq!((spec.value, spec.levels), (-0.6, Some(5)));
        f.field = Field::Kind;
        press(&mut f, KeyCode::Left);
        press(&mut f, KeyCode::Left);
        assert_eq!(f.kind, RuleKind::SpreadAbove);
        assert!(!f.fields().contains(&Field::Levels));
        press(&mut f, KeyCode::Left);
        assert_eq!(f.kind, RuleKind::Stale);
        // scope: this symbol or all; mode: rearm or once
        f.field = Field::Scope;
        press(&mut f, KeyCode::Right);
        assert_eq!(f.text(Field::Scope), "all");
        f.field = Field::Mode;
        press(&mut f, KeyCode::Char(' '));
        assert_eq!(f.mode, Mode::Once);
        let FormOutcome::Submitted(spec) = press(&mut f, KeyCode::Enter) else {
            panic!("{:?}", f.error)
        };
        assert_eq!(
            (spec.kind, spec.value, spec.symbols),
            (RuleKind::Stale, 60.0, None)
        );
        assert_eq!(spec.mode, Some(Mode::Once));
    }

    #[test]
    fn invalid_input_is_explained_and_not_submitted() {
        let mut f = RuleForm::new_rule(None, None);
        assert_eq!(f.value, "", "no price known");
        assert_eq!(press(&mut f, KeyCode::Enter), FormOutcome::Open);
        assert_eq!(f.error.as_deref(), Some("value: enter a number"));
        typed(&mut f, "1o0");
        press(&mut f, KeyCode::Enter);
        assert!(f.error.as_deref().unwrap().contains("not a number"));
        f.value = "-5".into();
        press(&mut f, KeyCode::Enter);
        assert!(
            f.error.as_deref().unwrap().contains("above zero"),
            "{:?}",
            f.error
        );
        f.value = "100".into();
        f.field = Field::Hysteresis;
        typed(&mut f, "150");
        press(&mut f, KeyCode::Enter);
        assert!(
            f.error.as_deref().unwrap().contains("never re-arm"),
            "{:?}",
            f.error
        );
        f.hysteresis = "0.5".into();
        f.field = Field::Cooldown;
        typed(&mut f, "x");
        press(&mut f, KeyCode::Enter);
        assert!(f.error.as_deref().unwrap().contains("whole number"));
        press(&mut f, KeyCode::Backspace);
        assert_eq!(f.error, None, "any key clears the message");
        assert!(matches!(
            press(&mut f, KeyCode::Enter),
            FormOutcome::Submitted(_)
        ));
        assert_eq!(press(&mut f, KeyCode::Esc), FormOutcome::Cancelled);
    }

    #[test]
    fn editing_keeps_the_keys_the_form_does_not_show() {
        let spec: RuleConfig = toml::from_str(
            "name = 'x'\nsymbols = ['A', 'B']\nkind = 'price_cross'\nvalue = 10\ndirection = 'up'\n\
             severity = 'critical'\nexpires = '2030-01-01'\non = 'close'\ninterval = '5m'",
        )
        .unwrap();
        let view = RuleView {
            name: "x".into(),
            origin: crate::alerts::rules::Origin::Monitor,
            status: Default::default(),
            scope: "A,B".into(),
            condition: String::new(),
            mode: Mode::Rearm,
            severity: Default::default(),
            last_fired_ms: None,
            snoozed_until_ms: None,
            expires_ms: None,
            spec: spec.clone(),
        };
        let mut f = RuleForm::edit(&view, Some(1.0));
        assert_eq!(f.text(Field::Scope), "A,B");
        assert!(f.fields().contains(&Field::Interval), "evaluated on close");
        f.field = Field::Value;
        press(&mut f, KeyCode::Backspace);
        typed(&mut f, "2");
        let FormOutcome::Submitted(out) = press(&mut f, KeyCode::Enter) else {
            panic!("{:?}", f.error)
        };
        assert_eq!(
            out,
            RuleConfig {
                value: 12.0,
                cooldown_secs: Some(60),
                ..spec
            }
        );
    }
}
