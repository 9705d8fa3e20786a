//! One naming scheme for the screen: a venue's own symbol (`BTCUSDT` at Binance, `BTC-USD` at
//! Coinbase, `BTC/USD` at Kraken, `EURUSD=X` at Yahoo) shown as `BASE/QUOTE` for crypto and FX
//! pairs, and anything that is not a pair (`AAPL`, `^GSPC`, `ES=F`) as it is. Only the screen
//! uses this: events, the store, the config and the prompts keep the venue's own names.

use super::{Symbol, Venue};

/// Quote assets that end a concatenated name (Binance and Bybit spot: `BTCUSDT`), longest first
/// and tried in this order, so that `BTCUSDT` is BTC/USDT (not BTCUSD + T: USD is tried later)
/// and `BTCTUSD` is BTC/TUSD. These are the quote assets of Binance's and Bybit's spot markets
/// (the `quoteAsset` / `quoteCoin` of their symbol lists): USD stablecoins, fiat currencies and
/// the crypto assets used as quotes. A name that ends in none of them is shown unchanged rather
/// than split wrongly.
pub const QUOTES: [&str; 32] = [
    "FDUSD", //
    "USDT", "USDC", "BUSD", "TUSD", "USDP", "EURI", "AEUR", "DOGE", //
    "DAI", "UST", "USD", "EUR", "GBP", "TRY", "BRL", "JPY", "AUD", "RUB", "UAH", "ZAR", "PLN",
    "RON", "ARS", "MXN", "IDR", "NGN", "BTC", "ETH", "BNB", "XRP", "TRX",
];

/// Fiat currencies, for Yahoo: `EUR-USD` is a pair but `BRK-B` (a share class) is not.
const FIAT: [&str; 20] = [
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD", "SEK", "NOK",
    "DKK", "TRY", "BRL", "MXN", "ZAR", "INR", "KRW",
];

/// A base and a quote asset, e.g. BTC and USDT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub base: String,
    pub quote: String,
}

impl std::fmt::Display for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.base, self.quote)
    }
}

/// The pair a venue's symbol names, by that venue's documented rules; None when the symbol is
/// not a pair (a stock, an index, a future) or cannot be split with confidence.
pub fn pair(venue: Venue, symbol: &Symbol) -> Option<Pair> {
    let s = symbol.as_str();
    match venue {
        // BTCUSDT: no separator; perpetuals at Binance futures are named the same way
        Venue::Binance | Venue::BinanceFutures | Venue::Bybit => concatenated(s),
        // BTC-USD, BTC-USDT (OKX swaps, BTC-USDT-SWAP, have three parts: not a spot pair)
        Venue::Coinbase | Venue::Okx => separated(s, '-'),
        // BTC/USD (WebSocket v2); the older XBT and XDG are BTC and DOGE
        Venue::Kraken => separated(s, '/').map(|p| Pair {
            base: kraken_asset(&p.base),
            quote: kraken_asset(&p.quote),
        }),
        Venue::Yahoo => yahoo(s),
        // US stocks only
        Venue::AlphaVantage => None,
        // the simulator's names are whatever the config says: shown as written
        Venue::Sim | Venue::Portfolio => None,
    }
}

/// What the screen shows for a venue's symbol: `BASE/QUOTE` for a pair, else the symbol itself.
pub fn display_name(venue: Venue, symbol: &Symbol) -> String {
    match pair(venue, symbol) {
        Some(p) => p.to_string(),
        None => symbol.as_str().to_string(),
    }
}

/// The venue's own symbol for a pair typed as `BASE/QUOTE` (so that `BTC/USDT` can be typed for
/// Binance), or None when the text is not such a pair or the venue has no pair names.
pub fn native_symbol(venue: Venue, text: &str) -> Option<Symbol> {
    let (base, quote) = text.trim().split_once('/')?;
    let (base, quote) = (base.trim(), quote.trim());
    if !is_asset(base) || !is_asset(quote) {
        return None;
    }
    let native = match venue {
        Venue::Binance | Venue::BinanceFutures | Venue::Bybit => format!("{base}{quote}"),
        Venue::Coinbase | Venue::Okx => format!("{base}-{quote}"),
        Venue::Kraken => format!("{base}/{quote}"),
        Venue::Yahoo if is_fiat(base) && is_fiat(quote) => format!("{base}{quote}=X"),
        Venue::Yahoo => format!("{base}-{quote}"),
        Venue::AlphaVantage | Venue::Sim | Venue::Portfolio => return None,
    };
    Symbol::new(&native).ok()
}

fn is_asset(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn is_fiat(s: &str) -> bool {
    FIAT.iter().any(|f| f.eq_ignore_ascii_case(s))
}

fn concatenated(s: &str) -> Option<Pair> {
    if !is_asset(s) {
        return None;
    }
    QUOTES.iter().find_map(|q| {
        let base = s.strip_suffix(q)?;
        is_asset(base).then(|| Pair {
            base: base.to_string(),
            quote: q.to_string(),
        })
    })
}

fn separated(s: &str, sep: char) -> Option<Pair> {
    let (base, quote) = s.split_once(sep)?;
    (is_asset(base) && is_asset(quote)).then(|| Pair {
        base: base.to_string(),
        quote: quote.to_string(),
    })
}

fn kraken_asset(a: &str) -> String {
    match a {
        "XBT" => "BTC".into(),
        "XDG" => "DOGE".into(),
        other => other.into(),
    }
}

/// Yahoo: `EURUSD=X` and `JPY=X` (USD/JPY) are FX, `BTC-USD` is crypto in a currency; `AAPL`,
/// `^GSPC`, `ES=F` and `BRK-B` are not pairs.
fn yahoo(s: &str) -> Option<Pair> {
    if let Some(fx) = s.strip_suffix("=X") {
        let (base, quote) = match fx.len() {
            6 => (&fx[..3], &fx[3..]),
            3 => ("USD", fx),
            _ => return None,
        };
        return (is_asset(base) && is_asset(quote)).then(|| Pair {
            base: base.into(),
            quote: quote.into(),
        });
    }
    separated(s, '-').filter(|p| is_fiat(&p.quote) || QUOTES.contains(&p.quote.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(venue: Venue, s: &str) -> String {
        display_name(venue, &Symbol::new(s).unwrap_or_else(|e| panic!("{e}")))
    }

    #[test]
    fn every_venue_maps_to_base_slash_quote() {
        use Venue::*;
        let cases = [
            (Binance, "BTCUSDT", "BTC/USDT"),
            (Binance, "ETHBTC", "ETH/BTC"),
            (Binance, "BTCTUSD", "BTC/TUSD"),
            (Binance, "BTCFDUSD", "BTC/FDUSD"),
            (Binance, "TUSDUSDT", "TUSD/USDT"),
            (Binance, "USDTTRY", "USDT/TRY"),
            (Binance, "BADGERBTC", "BADGER/BTC"),
            (Binance, "PAXGBTC", "PAXG/BTC"),
            (Binance, "ETHBUSD", "ETH/BUSD"),
            (Binance, "1INCHUSDT", "1INCH/USDT"),
            (Binance, "BTCEURI", "BTC/EURI"),
            // ends in no known quote: unchanged, never split wrongly
            (Binance, "ABCXYZ", "ABCXYZ"),
            (Binance, "USDT", "USDT"),
            (Binance, "BTCUSDT_240628", "BTCUSDT_240628"),
            (BinanceFutures, "BTCUSDT", "BTC/USDT"),
            (Bybit, "BTCUSDT", "BTC/USDT"),
            (Bybit, "ETHUSDC", "ETH/USDC"),
            (Coinbase, "BTC-USD", "BTC/USD"),
            (Coinbase, "SKL-GBP", "SKL/GBP"),
            (Okx, "BTC-USDT", "BTC/USDT"),
            (Okx, "BTC-USDT-SWAP", "BTC-USDT-SWAP"),
            (Kraken, "BTC/USD", "BTC/USD"),
            (Kraken, "XBT/USD", "BTC/USD"),
            (Kraken, "XDG/EUR", "DOGE/EUR"),
            (Yahoo, "EURUSD=X", "EUR/USD"),
            (Yahoo, "JPY=X", "USD/JPY"),
            (Yahoo, "BTC-USD", "BTC/USD"),
            (Yahoo, "ETH-EUR", "ETH/EUR"),
            (Yahoo, "AAPL", "AAPL"),
            (Yahoo, "^GSPC", "^GSPC"),
            (Yahoo, "ES=F", "ES=F"),
            (Yahoo, "BRK-B", "BRK-B"),
            (Yahoo, "WSU.DE", "WSU.DE"),
            (AlphaVantage, "AAPL", "AAPL"),
            (Sim, "BTCUSDT", "BTCUSDT"),
        ];
        for (venue, native, want) in cases {
            assert_eq!(shown(venue, native), want, "{venue}:{native}");
        }
    }

    #[test]
    fn quotes_are_tried_longest_first() {
        assert!(QUOTES.windows(2).all(|w| w[0].len() >= w[1].len()));
    }

    #[test]
    fn typed_pairs_become_the_venues_own_names() {
        use Venue::*;
        let cases = [
            (Binance, "BTC/USDT", Some("BTCUSDT")),
            (Bybit, "eth/usdc", Some("ETHUSDC")),
            (Coinbase, "BTC/USD", Some("BTC-USD")),
            (Okx, "BTC/USDT", Some("BTC-USDT")),
            (Kraken, "BTC/USD", Some("BTC/USD")),
            (Yahoo, "EUR/USD", Some("EURUSD=X")),
            (Yahoo, "BTC/USD", Some("BTC-USD")),
            (AlphaVantage, "AAPL/USD", None),
            (Binance, "BTCUSDT", None),
            (Binance, "BTC/", None),
        ];
        for (venue, typed, want) in cases {
            let got = native_symbol(venue, typed);
            assert_eq!(got.as_ref().map(Symbol::as_str), want, "{venue}:{typed}");
            // and the screen shows what was typed
            if let Some(s) = got {
                assert_eq!(display_name(venue, &s), typed.to_ascii_uppercase());
            }
        }
    }

    /// Real symbols with their venue's own base and quote: Binance's `exchangeInfo` and Bybit's
    /// `instruments-info`, as captured (../shared/fixtures).
    #[test]
    fn real_exchange_symbols_split_as_the_exchange_says() {
        let Some(dir) = crate::testdata::fixtures() else {
            return;
        };
        let read = |p: &str| -> serde_json::Value {
            let text = crate::testdata::fixture_text(&dir, p);
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{p}: {e}"))
        };
        let mut checked = 0;
        for file in [
            "binance_rest/exchangeInfo_2021-08-14.trimmed.json",
            "binance_rest/nautilus_http_spot_market_exchange_info.json",
        ] {
            for s in read(file)["symbols"].as_array().into_iter().flatten() {
                let sym = Symbol::new(s["symbol"].as_str().unwrap_or_default()).unwrap();
                let want = format!("{}/{}", s["baseAsset"], s["quoteAsset"]).replace('"', "");
                assert_eq!(display_name(Venue::Binance, &sym), want, "{file}");
                checked += 1;
            }
        }
        let bybit =
            read("bybit/cryptofeed_BYBIT_v5_instruments-info_BTCUSDT_2026-08-09.trimmed.json");
        for page in bybit.as_array().into_iter().flatten() {
            for s in page["body"]["result"]["list"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let sym = Symbol::new(s["symbol"].as_str().unwrap_or_default()).unwrap();
                let want = format!("{}/{}", s["baseCoin"], s["quoteCoin"]).replace('"', "");
                assert_eq!(display_name(Venue::Bybit, &sym), want);
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} symbols in the fixtures");
    }
}
