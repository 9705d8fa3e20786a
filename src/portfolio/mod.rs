//! The user's own holdings: a ledger of entries (buys, sells, deposits, withdrawals) from
//! config.toml, the monitor, or an exchange's trade-history export; positions, cost basis and
//! realized and unrealized P/L from it (FIFO, or average cost), all in one base currency.

pub mod config;
pub mod import;
pub mod ledger;
pub mod prices;
pub mod series;

use crate::domain::{TsMs, VenueSymbol};

/// What an entry does to a holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `qty` of `asset` bought for `qty × price` of `quote`.
    Buy,
    /// `qty` of `asset` sold for `qty × price` of `quote`.
    Sell,
    /// `qty` of `asset` came in from outside (cash paid in, coins sent in).
    Deposit,
    /// `qty` of `asset` went out (cash paid out, coins sent away): not a sale.
    Withdrawal,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Buy => "buy",
            Action::Sell => "sell",
            Action::Deposit => "deposit",
            Action::Withdrawal => "withdrawal",
        }
    }
}

impl std::str::FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "buy" => Ok(Action::Buy),
            "sell" => Ok(Action::Sell),
            "deposit" => Ok(Action::Deposit),
            "withdrawal" | "withdraw" => Ok(Action::Withdrawal),
            other => Err(format!(
                "unknown entry type {other:?}: use buy, sell, deposit or withdrawal"
            )),
        }
    }
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// When it happened (ms since the Unix epoch, UTC).
    pub ts_ms: TsMs,
    pub action: Action,
    /// The asset bought, sold, deposited or withdrawn, upper case: `BTC`, `ETH`, `AAPL`, `USD`.
    pub asset: String,
    /// How much of `asset`, always above zero.
    pub qty: f64,
    /// Buy and sell: the asset paid or received (`USDT` for BTCUSDT, `BTC` for ETHBTC).
    /// Deposit: the currency its `price` is in.
    pub quote: Option<String>,
    /// Buy and sell: the price of one `asset` in `quote`. Deposit: the cost of one `asset`
    /// when known, in `quote` if given, else in the base currency (without it, the deposit is
    /// valued at the market when it came in).
    pub price: Option<f64>,
    /// The fee, in `fee_asset` (0: none).
    pub fee: f64,
    pub fee_asset: Option<String>,
    /// The market the trade was made on (`binance:BTCUSDT`), when known: where live prices of
    /// `asset` come from by default.
    pub market: Option<VenueSymbol>,
    /// A stable identity (the exchange's id, or a digest of the row): importing the same file
    /// twice adds nothing.
    pub id: String,
    /// Where it came from: `config`, `monitor`, `binance-trades:<file>`, `coinbase:<file>`.
    pub source: String,
}

/// An entry added, edited or deleted in the monitor: what the store writes.
#[derive(Debug, Clone, PartialEq)]
pub enum EntryChange {
    /// A new entry, or a stored one replaced (same id).
    Upsert(Box<Entry>),
    /// The stored entry with this id removed.
    Delete(String),
}

/// What stored prices say of a portfolio, for the engine's portfolio rules.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBasis {
    /// The portfolio it was computed for (compared by identity).
    pub portfolio: std::sync::Arc<Portfolio>,
    /// Its highest whole value (see [`series::stored_high`]).
    pub high: Option<f64>,
    /// Its ledger up to `at_ms`, costed at stored prices (None: it does not add up).
    pub accounts: Option<ledger::Accounts>,
    pub at_ms: TsMs,
}

/// Where an entry can be changed: config entries only in config.toml.
pub fn editable(e: &Entry) -> bool {
    e.source != "config"
}

/// A portfolio ready to value: its entries, the currency and method, and where prices come
/// from. Built once from the config and the stored entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Portfolio {
    pub entries: Vec<Entry>,
    pub basis: ledger::Basis,
    pub markets: prices::Markets,
    /// The config's `prices` (the markets are derived again when entries change).
    pub prices: std::collections::BTreeMap<String, String>,
}

impl Portfolio {
    /// The config's entries plus `stored`; None when there are none at all.
    pub fn new(
        section: &config::PortfolioSection,
        stored: Vec<Entry>,
    ) -> Result<Option<Portfolio>, String> {
        let mut entries = section.ledger()?;
        entries.extend(stored);
        if entries.is_empty() {
            return Ok(None);
        }
        let basis = section.basis();
        let markets = prices::Markets::new(&section.prices, &entries, &basis.base)?;
        Ok(Some(Portfolio {
            entries,
            basis,
            markets,
            prices: section.prices.clone(),
        }))
    }

    /// The portfolio after `change` (None: no entries left), checked as the import checks a
    /// ledger: an entry that sells or withdraws more than is held then is refused, naming it.
    pub fn changed(&self, change: &EntryChange) -> Result<Option<Portfolio>, String> {
        let mut entries = self.entries.clone();
        match change {
            EntryChange::Upsert(e) => match entries.iter_mut().find(|x| x.id == e.id) {
                Some(x) => *x = (**e).clone(),
                None => entries.push((**e).clone()),
            },
            EntryChange::Delete(id) => entries.retain(|x| &x.id != id),
        }
        if entries.is_empty() {
            return Ok(None);
        }
        entries.sort_by_key(|e| e.ts_ms);
        // quantities only: prices do not decide whether a sale had the coins
        ledger::Accounts::build(&entries, TsMs::MAX, &self.basis, &ledger::NoRates)
            .map_err(|e| e.to_string())?;
        let markets = prices::Markets::new(&self.prices, &entries, &self.basis.base)?;
        Ok(Some(Portfolio {
            entries,
            basis: self.basis.clone(),
            markets,
            prices: self.prices.clone(),
        }))
    }

    /// The portfolio now, from the monitor's rows: each market's last price, and the price a
    /// day before from its 24 h change; `books` as for [`Portfolio::value_at`].
    pub fn live(
        &self,
        rows: &[crate::view::WatchRow],
        now_ms: TsMs,
        books: &mut Option<Books>,
    ) -> Result<ledger::Valuation, ledger::LedgerError> {
        let mut p = prices::LivePrices {
            now_ms,
            ..Default::default()
        };
        for r in rows {
            if let Some(last) = r.last {
                p.last.insert(r.key, last);
                if let Some(pct) = r.change_pct.filter(|c| *c > -100.0) {
                    p.day_ago.insert(r.key, last / (1.0 + pct / 100.0));
                }
            }
        }
        self.value_at(p, books)
    }

    /// The portfolio at `prices` (at their `now_ms`), from the ledger in `books`: built (at
    /// these prices) when there is none or an entry's time has come since, else only valued
    /// again, so that a valuation each second or each frame does not replay every entry.
    pub fn value_at(
        &self,
        prices: prices::LivePrices,
        books: &mut Option<Books>,
    ) -> Result<ledger::Valuation, ledger::LedgerError> {
        let now_ms = prices.now_ms;
        let rates = prices::Conversions {
            markets: &self.markets,
            prices,
            basis: &self.basis,
        };
        let b = match books.take() {
            Some(b) if !b.due(now_ms) => b,
            _ => Books::new(
                ledger::Accounts::build(&self.entries, now_ms, &self.basis, &rates)?,
                self,
                now_ms,
            ),
        };
        let v = ledger::value(&b.accounts, &self.basis, &rates, now_ms);
        *books = Some(b);
        Ok(v)
    }
}

/// A portfolio's ledger (lots, costs, cash) as built at some time, and when the first entry it
/// does not hold yet comes due: it is valued again at new prices without replaying the entries,
/// and built again only once that entry's time has come.
#[derive(Debug, Clone)]
pub struct Books {
    accounts: ledger::Accounts,
    /// The time of the first entry after the build (None: none).
    next_ms: Option<TsMs>,
}

impl Books {
    /// `accounts` of `p` as built at `at_ms`.
    pub fn new(accounts: ledger::Accounts, p: &Portfolio, at_ms: TsMs) -> Books {
        let next_ms = p
            .entries
            .iter()
            .map(|e| e.ts_ms)
            .filter(|t| *t > at_ms)
            .min();
        Books { accounts, next_ms }
    }

    /// An entry's time has come since the build.
    fn due(&self, now_ms: TsMs) -> bool {
        self.next_ms.is_some_and(|t| t <= now_ms)
    }
}

#[cfg(test)]
mod books_tests {
    use super::*;

    #[test]
    fn kept_books_are_valued_again_and_built_again_once_an_entry_comes_due() {
        let section: config::PortfolioSection = toml::from_str(
            r#"
            prices = { BTC = "sim:BTCUSDT" }
            [[entries]]
            time = "2023-11-01"
            type = "buy"
            asset = "BTC"
            quote = "USD"
            qty = 1
            price = 100
            [[entries]]
            time = "2023-11-03"
            type = "buy"
            asset = "BTC"
            quote = "USD"
            qty = 2
            price = 200
            "#,
        )
        .unwrap();
        let p = Portfolio::new(&section, Vec::new()).unwrap().unwrap();
        let key = VenueSymbol::new(
            crate::domain::Venue::Sim,
            crate::domain::Symbol::new("BTCUSDT").unwrap(),
        );
        let at = |now_ms: TsMs, price: f64| prices::LivePrices {
            last: [(key, price)].into(),
            now_ms,
            ..Default::default()
        };
        let day2 = 1_698_883_200_000; // 2023-11-02
        let day4 = day2 + 2 * 86_400_000;
        let mut books = None;
        let v = p.value_at(at(day2, 150.0), &mut books).unwrap();
        assert_eq!((v.value, v.cost), (150.0, 100.0));
        // the same books at a new price: valued again, not built again
        let v = p.value_at(at(day2 + 1, 300.0), &mut books).unwrap();
        assert_eq!((v.value, v.cost), (300.0, 100.0));
        // kept, not built again: asked at a time before the first buy (which a fresh build
        // would not hold), the kept books still hold it
        let before = day2 - 3 * 86_400_000;
        let v = p.value_at(at(before, 300.0), &mut books).unwrap();
        assert_eq!(v.value, 300.0);
        assert_eq!(
            p.value_at(at(before, 300.0), &mut None).unwrap().value,
            0.0,
            "a fresh build then holds nothing"
        );
        // the second buy's time has come: built again, holding it
        let v = p.value_at(at(day4, 300.0), &mut books).unwrap();
        assert_eq!((v.value, v.cost), (900.0, 500.0));
    }
}
