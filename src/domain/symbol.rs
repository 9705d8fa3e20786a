use std::fmt;
use std::str::FromStr;

/// Where market data comes from. Stored as its lowercase name in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Venue {
    Binance,
    BinanceFutures,
    Coinbase,
    Kraken,
    Okx,
    Bybit,
    Yahoo,
    AlphaVantage,
    Sim,
    /// Not a market: what the portfolio's alerts are about (`portfolio:TOTAL`,
    /// `portfolio:BTC` for a position).
    Portfolio,
}

impl Venue {
    pub const ALL: [Venue; 10] = [
        Venue::Binance,
        Venue::BinanceFutures,
        Venue::Coinbase,
        Venue::Kraken,
        Venue::Okx,
        Venue::Bybit,
        Venue::Yahoo,
        Venue::AlphaVantage,
        Venue::Sim,
        Venue::Portfolio,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Venue::Binance => "binance",
            Venue::BinanceFutures => "binance-futures",
            Venue::Coinbase => "coinbase",
            Venue::Kraken => "kraken",
            Venue::Okx => "okx",
            Venue::Bybit => "bybit",
            Venue::Yahoo => "yahoo",
            Venue::AlphaVantage => "alphavantage",
            Venue::Sim => "sim",
            Venue::Portfolio => "portfolio",
        }
    }

    /// The name in at most 8 characters, for the watchlist's venue column.
    pub fn label(self) -> &'static str {
        match self {
            Venue::BinanceFutures => "bin-fut",
            Venue::AlphaVantage => "alphavan",
            Venue::Portfolio => "folio",
            other => other.as_str(),
        }
    }
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Venue {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Venue::ALL
            .into_iter()
            .find(|v| v.as_str() == lower)
            .ok_or_else(|| {
                let names: Vec<&str> = Venue::ALL.iter().map(|v| v.as_str()).collect();
                format!("unknown venue {s:?}; expected one of {}", names.join(", "))
            })
    }
}

/// Why a string is not a valid symbol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    #[error("empty symbol")]
    Empty,
    #[error("symbol {0:?} is longer than {max} characters", max = Symbol::MAX_LEN)]
    TooLong(String),
    #[error("symbol {0:?} has a character other than A-Z, 0-9, '-', '.', '_', '/', '^' or '='")]
    BadChar(String),
}

/// A ticker symbol, upper-case, stored inline so that events stay `Copy` and allocation-free on
/// the hot path (a million events a second must not mean a million `String`s).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Symbol {
    len: u8,
    bytes: [u8; Symbol::MAX_LEN],
}

impl Symbol {
    pub const MAX_LEN: usize = 23;

    /// Parses and upper-cases a symbol (`btcusdt` → `BTCUSDT`, `btc-usd` → `BTC-USD`).
    pub fn new(s: &str) -> Result<Self, SymbolError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(SymbolError::Empty);
        }
        if s.len() > Self::MAX_LEN {
            return Err(SymbolError::TooLong(s.to_string()));
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        for (i, b) in s.bytes().enumerate() {
            // '^' and '=' are Yahoo's: indices (^GSPC), FX (EURUSD=X) and futures (ES=F)
            if !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/' | b'^' | b'='))
            {
                return Err(SymbolError::BadChar(s.to_string()));
            }
            bytes[i] = b.to_ascii_uppercase();
        }
        Ok(Symbol {
            len: s.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII bytes are ever stored (checked in `new`).
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or("?")
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({})", self.as_str())
    }
}

impl FromStr for Symbol {
    type Err = SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Symbol::new(s)
    }
}

/// A symbol at a venue: the key of all per-instrument state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VenueSymbol {
    pub venue: Venue,
    pub symbol: Symbol,
}

impl VenueSymbol {
    pub fn new(venue: Venue, symbol: Symbol) -> Self {
        VenueSymbol { venue, symbol }
    }
}

impl fmt::Display for VenueSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.venue, self.symbol)
    }
}

/// A watchlist entry as written in the config or typed in the monitor: "BTCUSDT" (venue left to
/// the running sources) or "venue:SYMBOL". Symbols are upper-cased.
pub fn parse_watch_symbol(text: &str) -> Result<(Option<Venue>, Symbol), String> {
    let t = text.trim();
    let (venue, sym) = match t.split_once(':') {
        Some((v, s)) => (Some(v.parse::<Venue>()?), s.trim()),
        None => (None, t),
    };
    let symbol = Symbol::new(&sym.to_ascii_uppercase()).map_err(|e| format!("{text:?}: {e}"))?;
    Ok((venue, symbol))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_upper_cased_and_validated() {
        assert_eq!(
            Symbol::new("btcusdt").map(|s| s.to_string()),
            Ok("BTCUSDT".into())
        );
        assert_eq!(
            Symbol::new(" BTC-USD ").map(|s| s.to_string()),
            Ok("BTC-USD".into())
        );
        assert_eq!(Symbol::new(""), Err(SymbolError::Empty));
        assert!(matches!(
            Symbol::new("BTC USD"),
            Err(SymbolError::BadChar(_))
        ));
        for yahoo in ["^GSPC", "EURUSD=X", "ES=F", "WSU.DE", "BTC-USD"] {
            assert_eq!(Symbol::new(yahoo).map(|s| s.to_string()), Ok(yahoo.into()));
        }
        for bad in ["AAPL:X", "A*", "A>B", "A B", "A~B"] {
            assert!(
                matches!(Symbol::new(bad), Err(SymbolError::BadChar(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            Symbol::new(&"A".repeat(24)),
            Err(SymbolError::TooLong(_))
        ));
    }

    #[test]
    fn venues_round_trip_through_their_names() {
        for v in Venue::ALL {
            assert_eq!(v.as_str().parse::<Venue>(), Ok(v));
        }
        assert_eq!("OKX".parse::<Venue>(), Ok(Venue::Okx));
        assert_eq!("Bybit".parse::<Venue>(), Ok(Venue::Bybit));
        assert!("bitstamp".parse::<Venue>().is_err());
        for v in Venue::ALL {
            assert!(v.label().len() <= 8, "{v}");
        }
    }
}
