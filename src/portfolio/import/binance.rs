//! Binance Spot "Trade History" exports: one row per fill.
//!
//! `Date(UTC),Pair,Side,Price,Executed,Amount,Fee` (Executed: the base quantity, Amount: the
//! quote total, Fee: the fee, each a number optionally followed by its asset), some versions
//! with a trailing `Fee Coin`; the older `Date(UTC),Market,Type,Price,Amount,Total,Fee,Fee Coin`
//! has plain numbers and Amount is the base quantity there.

use super::values::{asset, utc_time, with_asset};
use super::{Context, ImportError, Imported, Layout, column, csv::Record};
use crate::domain::{Symbol, Venue, VenueSymbol, pair};
use crate::format::visible;
use crate::portfolio::{Action, Entry};

/// Where each value is in the header.
pub(super) struct Columns {
    width: usize,
    date: usize,
    pair: usize,
    side: usize,
    price: usize,
    /// The base quantity: `Executed` (or `Amount` in the older layout).
    qty: usize,
    /// The quote total: `Amount` (or `Total` in the older layout).
    total: usize,
    fee: usize,
    fee_coin: Option<usize>,
}

impl Columns {
    /// The columns, or the names of those missing.
    pub(super) fn find(header: &[String]) -> Result<Columns, Vec<&'static str>> {
        let older = column(header, &["Executed"]).is_none() && column(header, &["Total"]).is_some();
        let (qty_name, total_name) = if older {
            ("Amount", "Total")
        } else {
            ("Executed", "Amount")
        };
        let mut missing = Vec::new();
        let mut need = |names: &[&'static str]| {
            column(header, names).unwrap_or_else(|| {
                missing.push(names[0]);
                0
            })
        };
        let cols = Columns {
            width: header.len(),
            date: need(&["Date(UTC)"]),
            pair: need(&["Pair", "Market"]),
            side: need(&["Side", "Type"]),
            price: need(&["Price"]),
            qty: need(&[qty_name]),
            total: need(&[total_name]),
            fee: need(&["Fee"]),
            fee_coin: column(header, &["Fee Coin"]),
        };
        if missing.is_empty() {
            Ok(cols)
        } else {
            Err(missing)
        }
    }
}

pub(super) fn parse(
    mut ctx: Context,
    cols: &Columns,
    rows: &[Record],
) -> Result<Imported, ImportError> {
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        ctx.check_width(row, cols.width)?;
        let mut entry = entry(cols, &row.fields).map_err(|p| ctx.row_error(row.line, p))?;
        entry.id = ctx.row_id(&row.fields);
        entry.source = ctx.source.clone();
        entries.push(entry);
    }
    Ok(Imported {
        layout: Layout::BinanceTrades,
        entries,
        skipped: Vec::new(),
    })
}

/// One fill; `id` and `source` are left for the caller.
fn entry(cols: &Columns, f: &[String]) -> Result<Entry, String> {
    let field = |i: usize, name: &str| -> Result<&str, String> {
        let v = f[i].trim();
        if v.is_empty() {
            return Err(format!("the {name} column is empty"));
        }
        Ok(v)
    };
    let in_column = |name: &'static str| move |e: String| format!("{name}: {e}");
    let ts_ms = utc_time(field(cols.date, "Date(UTC)")?).map_err(in_column("Date(UTC)"))?;
    let pair_text = field(cols.pair, "Pair")?.to_ascii_uppercase();
    let symbol = Symbol::new(&pair_text).map_err(|e| format!("Pair: {e}"))?;
    let action = match field(cols.side, "Side")?.to_ascii_uppercase().as_str() {
        "BUY" => Action::Buy,
        "SELL" => Action::Sell,
        other => return Err(format!("Side {:?} is neither BUY nor SELL", visible(other))),
    };
    let (qty, qty_asset) = with_asset(field(cols.qty, "Executed")?, |a| pair_text.starts_with(a))
        .map_err(in_column("Executed"))?;
    let (total, total_asset) = with_asset(field(cols.total, "Amount")?, |a| pair_text.ends_with(a))
        .map_err(in_column("Amount"))?;
    let (base, quote) = base_and_quote(&pair_text, &symbol, qty_asset, total_asset)?;
    let (price, price_asset) =
        with_asset(field(cols.price, "Price")?, |a| a == quote).map_err(in_column("Price"))?;
    if let Some(a) = price_asset.filter(|a| *a != quote) {
        return Err(format!("Price is in {a}, not in the quote asset {quote}"));
    }
    let (fee, fee_suffix) = with_asset(field(cols.fee, "Fee")?, |a| a == base || a == quote)
        .map_err(in_column("Fee"))?;
    let fee_coin = match cols.fee_coin.map(|i| f[i].trim()).filter(|c| !c.is_empty()) {
        Some(c) => Some(asset(c).map_err(in_column("Fee Coin"))?),
        None => None,
    };
    let fee_asset = match (fee_suffix, fee_coin) {
        (Some(s), Some(c)) if s != c => {
            return Err(format!("the Fee is in {s} but the Fee Coin is {c}"));
        }
        (s, c) => s.or(c),
    };
    if qty <= 0.0 {
        return Err(format!(
            "Executed is {qty}: a fill's quantity is above zero"
        ));
    }
    if price <= 0.0 {
        return Err(format!("Price is {price}: a fill's price is above zero"));
    }
    if total < 0.0 || fee < 0.0 {
        return Err("Amount and Fee are never negative".into());
    }
    if fee > 0.0 && fee_asset.is_none() {
        return Err(format!(
            "the Fee {fee} names no asset (like 0.0001BNB) and there is no Fee Coin column"
        ));
    }
    Ok(Entry {
        ts_ms,
        action,
        asset: base,
        qty,
        quote: Some(quote),
        price: Some(price),
        fee,
        fee_asset,
        market: Some(VenueSymbol::new(Venue::Binance, symbol)),
        id: String::new(),
        source: String::new(),
    })
}

/// Base and quote: the assets of Executed and Amount when they carry them (each fixes the
/// other as the rest of the pair), else the pair split by Binance's quote assets.
fn base_and_quote(
    pair_text: &str,
    symbol: &Symbol,
    qty_asset: Option<String>,
    total_asset: Option<String>,
) -> Result<(String, String), String> {
    let split = pair(Venue::Binance, symbol);
    let base = qty_asset
        .clone()
        .or_else(|| {
            let q = total_asset.as_deref()?;
            pair_text.strip_suffix(q).map(str::to_string)
        })
        .or_else(|| split.as_ref().map(|p| p.base.clone()));
    let quote = total_asset
        .clone()
        .or_else(|| {
            let b = base.as_deref()?;
            pair_text.strip_prefix(b).map(str::to_string)
        })
        .or_else(|| split.as_ref().map(|p| p.quote.clone()));
    match (base, quote) {
        (Some(b), Some(q)) if !b.is_empty() && !q.is_empty() && format!("{b}{q}") == pair_text => {
            Ok((b, q))
        }
        (Some(b), Some(q)) if qty_asset.is_some() || total_asset.is_some() => Err(format!(
            "Executed in {b} and Amount in {q} do not make the pair {pair_text}"
        )),
        _ => Err(format!(
            "cannot tell the base and quote assets of the pair {pair_text}: Executed and \
             Amount carry no asset and it ends in no quote asset tickwatch knows"
        )),
    }
}
