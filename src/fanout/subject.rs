//! Subject names of the fan-out stream (layout in the [module docs](super)).

use crate::domain::{Symbol, Venue, VenueSymbol};

/// The prefix of every subject.
pub const ROOT: &str = "tickwatch";

/// A symbol as one subject token: `.` separates tokens, so it is written `~` (not a symbol
/// character, so the mapping goes both ways).
pub fn symbol_token(symbol: &Symbol) -> String {
    symbol.as_str().replace('.', "~")
}

/// The subject of a per-symbol message of `kind` ("trade", "quote", ...).
pub fn market(kind: &str, key: &VenueSymbol) -> String {
    format!(
        "{ROOT}.{kind}.{}.{}",
        key.venue.as_str(),
        symbol_token(&key.symbol)
    )
}

/// The subject of a source state: the name as one token (dots, spaces and wildcards replaced).
pub fn state(source: &str) -> String {
    let token: String = source
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{ROOT}.state.{token}")
}

/// The kind, venue and symbol of a per-symbol subject, or None for any other.
pub fn parse_market(subject: &str) -> Option<(&str, VenueSymbol)> {
    let mut parts = subject.split('.');
    if parts.next()? != ROOT {
        return None;
    }
    let kind = parts.next()?;
    let venue: Venue = parts.next()?.parse().ok()?;
    let symbol = Symbol::new(&parts.next()?.replace('~', ".")).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((kind, VenueSymbol::new(venue, symbol)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_round_trip_and_dots_stay_in_one_token() {
        let key = VenueSymbol::new(Venue::AlphaVantage, Symbol::new("brk.b").unwrap());
        let s = market("trade", &key);
        assert_eq!(s, "tickwatch.trade.alphavantage.BRK~B");
        assert_eq!(parse_market(&s), Some(("trade", key)));
        let key = VenueSymbol::new(Venue::Coinbase, Symbol::new("btc-usd").unwrap());
        assert_eq!(market("quote", &key), "tickwatch.quote.coinbase.BTC-USD");
        assert_eq!(parse_market("tickwatch.state.db"), None);
        assert_eq!(parse_market("other.trade.sim.X"), None);
        assert_eq!(state("db"), "tickwatch.state.db");
        assert_eq!(state("a.b >*"), "tickwatch.state.a_b___");
    }
}
