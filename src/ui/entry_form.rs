//! The form that adds or edits a portfolio entry in the monitor (`P`, then `n` or `e`): its
//! fields and keys. The entry is checked exactly as a `[[portfolio.entries]]` of the config
//! is; what it shows is drawn by [`widgets::rule_form`](super::widgets::rule_form)'s form box.

use crossterm::event::KeyEvent;

use crate::domain::{TsMs, iso8601};
use crate::portfolio::config::EntryConfig;
use crate::portfolio::{Action, Entry};

/// One line of the form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryField {
    Type,
    Time,
    Market,
    Asset,
    Quote,
    Qty,
    Price,
    Fee,
    FeeAsset,
}

impl EntryField {
    pub fn label(self) -> &'static str {
        match self {
            EntryField::Type => "type",
            EntryField::Time => "time",
            EntryField::Market => "market",
            EntryField::Asset => "asset",
            EntryField::Quote => "quote",
            EntryField::Qty => "qty",
            EntryField::Price => "price",
            EntryField::Fee => "fee",
            EntryField::FeeAsset => "fee asset",
        }
    }

    /// What an empty field means, shown in its place.
    pub fn hint(self, action: Action) -> &'static str {
        match (self, action) {
            (EntryField::Market, _) => "venue:SYMBOL, e.g. binance:BTCUSDT",
            (EntryField::Asset, Action::Buy | Action::Sell) => "(from the market)",
            (EntryField::Asset, _) => "e.g. BTC or USD",
            (EntryField::Quote, _) => "(from the market)",
            (EntryField::Price, Action::Deposit) => "(cost per unit; empty: its value then)",
            (EntryField::Fee, _) => "0",
            (EntryField::FeeAsset, _) => "(the quote)",
            _ => "",
        }
    }
}

/// What a key did to the form (a valid entry: the ledger with it is checked by the caller).
pub type EntryOutcome = crate::ui::form::Outcome<Entry>;

#[derive(Debug, Clone, PartialEq)]
pub struct EntryForm {
    /// The entry being edited (its id and source are kept); None: a new one.
    pub editing: Option<Entry>,
    pub action: Action,
    pub time: String,
    pub market: String,
    pub asset: String,
    pub quote: String,
    pub qty: String,
    pub price: String,
    pub fee: String,
    pub fee_asset: String,
    pub field: EntryField,
    pub error: Option<String>,
}

const ACTIONS: [Action; 4] = [
    Action::Buy,
    Action::Sell,
    Action::Deposit,
    Action::Withdrawal,
];

/// A number as typed back: every digit it has (an edit saved unchanged changes nothing).
fn number(v: f64) -> String {
    format!("{v}")
}

impl EntryForm {
    /// A new buy at `now` on `market` (the selected symbol) at its last price.
    pub fn new_entry(now: TsMs, market: Option<String>, price: Option<f64>) -> EntryForm {
        EntryForm {
            editing: None,
            action: Action::Buy,
            time: iso8601(now),
            market: market.unwrap_or_default(),
            asset: String::new(),
            quote: String::new(),
            qty: String::new(),
            price: price.map(number).unwrap_or_default(),
            fee: String::new(),
            fee_asset: String::new(),
            field: EntryField::Qty,
            error: None,
        }
    }

    /// The form filled with `e`.
    pub fn edit(e: &Entry) -> EntryForm {
        let market = e.market.map(|m| m.to_string()).unwrap_or_default();
        EntryForm {
            editing: Some(e.clone()),
            action: e.action,
            time: iso8601(e.ts_ms),
            // with a market, the asset and quote come from it
            asset: if market.is_empty() {
                e.asset.clone()
            } else {
                String::new()
            },
            quote: if market.is_empty() {
                e.quote.clone().unwrap_or_default()
            } else {
                String::new()
            },
            market,
            qty: number(e.qty),
            price: e.price.map(number).unwrap_or_default(),
            fee: if e.fee > 0.0 {
                number(e.fee)
            } else {
                String::new()
            },
            fee_asset: e.fee_asset.clone().unwrap_or_default(),
            field: EntryField::Qty,
            error: None,
        }
    }

    fn trade(&self) -> bool {
        matches!(self.action, Action::Buy | Action::Sell)
    }

    /// The lines of the form for the current type, in order.
    pub fn fields(&self) -> Vec<EntryField> {
        use EntryField::*;
        if self.trade() {
            vec![Type, Time, Market, Asset, Quote, Qty, Price, Fee, FeeAsset]
        } else if self.action == Action::Deposit {
            vec![Type, Time, Asset, Qty, Price, Fee, FeeAsset]
        } else {
            vec![Type, Time, Asset, Qty, Fee, FeeAsset]
        }
    }

    /// What a field shows.
    pub fn text(&self, field: EntryField) -> String {
        match field {
            EntryField::Type => self.action.as_str().to_string(),
            f => self.text_ref(f).cloned().unwrap_or_default(),
        }
    }

    fn text_ref(&self, field: EntryField) -> Option<&String> {
        Some(match field {
            EntryField::Time => &self.time,
            EntryField::Market => &self.market,
            EntryField::Asset => &self.asset,
            EntryField::Quote => &self.quote,
            EntryField::Qty => &self.qty,
            EntryField::Price => &self.price,
            EntryField::Fee => &self.fee,
            EntryField::FeeAsset => &self.fee_asset,
            EntryField::Type => return None,
        })
    }

    pub fn on_key(&mut self, key: KeyEvent, base: &str, now: TsMs) -> EntryOutcome {
        crate::ui::form::on_key(self, key, |f| f.to_entry(base, now))
    }

    /// The entry the form describes, checked like a config entry; the error names the field.
    pub fn to_entry(&self, base: &str, now: TsMs) -> Result<Entry, String> {
        let shown = self.fields();
        let text = |f: EntryField| -> Option<String> {
            let t = self.text(f).trim().to_string();
            (shown.contains(&f) && !t.is_empty()).then_some(t)
        };
        let num = |f: EntryField| -> Result<Option<f64>, String> {
            text(f)
                .map(|t| {
                    t.parse::<f64>()
                        .map_err(|_| format!("{}: {t:?} is not a number", f.label()))
                })
                .transpose()
        };
        let qty = num(EntryField::Qty)?.ok_or("qty: enter how much")?;
        let cfg = EntryConfig {
            time: text(EntryField::Time).ok_or("time: enter when (2025-03-01T14:30:00Z)")?,
            action: self.action.as_str().to_string(),
            market: text(EntryField::Market),
            asset: text(EntryField::Asset).filter(|_| {
                // with a market, the asset comes from it
                !(self.trade() && text(EntryField::Market).is_some())
            }),
            quote: text(EntryField::Quote),
            qty,
            price: num(EntryField::Price)?,
            fee: num(EntryField::Fee)?.unwrap_or(0.0),
            fee_asset: text(EntryField::FeeAsset),
        };
        let mut e = cfg.entry(base, 0)?;
        if e.ts_ms > now + 60_000 {
            return Err(format!("time: {} is in the future", iso8601(e.ts_ms)));
        }
        match &self.editing {
            Some(old) => {
                e.id = old.id.clone();
                e.source = old.source.clone();
                // a deposit or withdrawal keeps the market it was imported with (the form
                // does not show one for them)
                if !self.trade() && e.market.is_none() && e.asset == old.asset {
                    e.market = old.market;
                }
            }
            None => {
                e.id = format!("monitor:{now}");
                e.source = "monitor".into();
            }
        }
        Ok(e)
    }
}

impl crate::ui::form::Form for EntryForm {
    type Field = EntryField;
    const MAX_TEXT: usize = 40;

    fn fields(&self) -> Vec<EntryField> {
        EntryForm::fields(self)
    }

    fn focus(&self) -> EntryField {
        self.field
    }

    fn set_focus(&mut self, f: EntryField) {
        self.field = f;
    }

    fn text_mut(&mut self, field: EntryField) -> Option<&mut String> {
        Some(match field {
            EntryField::Time => &mut self.time,
            EntryField::Market => &mut self.market,
            EntryField::Asset => &mut self.asset,
            EntryField::Quote => &mut self.quote,
            EntryField::Qty => &mut self.qty,
            EntryField::Price => &mut self.price,
            EntryField::Fee => &mut self.fee,
            EntryField::FeeAsset => &mut self.fee_asset,
            EntryField::Type => return None,
        })
    }

    fn choose(&mut self, forward: bool) {
        if self.field == EntryField::Type {
            self.action = crate::ui::form::cycle(&ACTIONS, self.action, forward);
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

    const NOW: TsMs = 1_700_000_000_000;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(f: &mut EntryForm, text: &str) {
        for c in text.chars() {
            f.on_key(key(KeyCode::Char(c)), "USD", NOW);
        }
    }

    #[test]
    fn a_buy_typed_in_is_the_entry_the_config_would_give() {
        let mut f = EntryForm::new_entry(NOW, Some("binance:BTCUSDT".into()), Some(36500.5));
        assert_eq!(f.field, EntryField::Qty);
        typed(&mut f, "0.25");
        // down to the fee
        f.on_key(key(KeyCode::Down), "USD", NOW);
        f.on_key(key(KeyCode::Down), "USD", NOW);
        typed(&mut f, "3.5");
        let EntryOutcome::Submitted(e) = f.on_key(key(KeyCode::Enter), "USD", NOW) else {
            panic!("{:?}", f.error);
        };
        assert_eq!(e.action, Action::Buy);
        assert_eq!(
            (e.asset.as_str(), e.quote.as_deref()),
            ("BTC", Some("USDT"))
        );
        assert_eq!((e.qty, e.price, e.fee), (0.25, Some(36500.5), 3.5));
        assert_eq!(e.fee_asset.as_deref(), Some("USDT"));
        assert_eq!(e.ts_ms, NOW);
        assert_eq!(
            (e.id.as_str(), e.source.as_str()),
            ("monitor:1700000000000", "monitor")
        );
    }

    #[test]
    fn mistakes_name_the_field_and_an_edit_keeps_its_identity() {
        let mut f = EntryForm::new_entry(NOW, None, None);
        assert_eq!(f.to_entry("USD", NOW).unwrap_err(), "qty: enter how much");
        typed(&mut f, "x");
        assert!(
            f.to_entry("USD", NOW)
                .unwrap_err()
                .starts_with("qty: \"x\" is not a number")
        );
        f.qty = "1".into();
        assert!(
            f.to_entry("USD", NOW).unwrap_err().contains("market"),
            "a buy needs a market"
        );
        f.market = "BTCUSDT".into();
        assert!(
            f.to_entry("USD", NOW)
                .unwrap_err()
                .contains("name the venue")
        );
        f.market = "binance:BTCUSDT".into();
        assert!(
            f.to_entry("USD", NOW)
                .unwrap_err()
                .contains("needs its `price`")
        );
        f.price = "100".into();
        f.time = "2030-01-01".into();
        assert!(
            f.to_entry("USD", NOW)
                .unwrap_err()
                .contains("in the future")
        );
        // a deposit: the type changes with ←/→; its fields follow
        let mut d = EntryForm::new_entry(NOW, None, None);
        d.field = EntryField::Type;
        d.on_key(key(KeyCode::Right), "USD", NOW);
        d.on_key(key(KeyCode::Right), "USD", NOW);
        assert_eq!(d.action, Action::Deposit);
        assert!(!d.fields().contains(&EntryField::Market));
        d.asset = "eth".into();
        d.qty = "2".into();
        let e = d.to_entry("USD", NOW).unwrap();
        assert_eq!((e.asset.as_str(), e.price), ("ETH", None));
        // an imported entry edited: same id and source
        let mut old = e.clone();
        old.id = "binance-trades:abc".into();
        old.source = "binance-trades:t.csv".into();
        let mut ed = EntryForm::edit(&old);
        ed.qty = "3".into();
        let e2 = ed.to_entry("USD", NOW).unwrap();
        assert_eq!((e2.id.as_str(), e2.qty), ("binance-trades:abc", 3.0));
        assert_eq!(e2.source, "binance-trades:t.csv");
    }
}
