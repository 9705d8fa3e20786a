//! The user's own holdings: a ledger of entries (buys, sells, deposits, withdrawals) from
//! config.toml, the monitor, or an exchange's trade-history export; positions, cost basis and
//! realized and unrealized P/L from it (FIFO, or average cost), all in one base currency.

pub mod config;
pub mod import;
pub mod ledger;
pub mod prices;

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
    pub quote: Option<String>,
    /// Buy and sell: the price of one `asset` in `quote`. Deposit: the cost of one `asset` in
    /// the base currency when known (else it is valued at the market when it came in).
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
