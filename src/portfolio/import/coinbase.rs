//! Coinbase "Transaction history" CSV (coinbase.com, Statements): one row per transaction of
//! any kind, money columns in the account's currency. Two header versions are read:
//! 2024 and later (`ID,Timestamp,...,Price Currency,Price at Transaction,...`, amounts with a
//! currency sign, times `2025-01-17 16:57:02 UTC`) and the older one (`Timestamp,...,Spot Price
//! Currency,Spot Price at Transaction,...`, plain numbers, times `2021-04-01T12:00:00Z`).

use std::collections::HashMap;

use super::values::{asset, decimal, money, utc_time};
use super::{Context, ImportError, Imported, Layout, column, csv::Record};
use crate::format::visible;
use crate::portfolio::{Action, Entry};

/// Where each value is in the header.
pub(super) struct Columns {
    width: usize,
    id: Option<usize>,
    timestamp: usize,
    kind: usize,
    asset: usize,
    qty: usize,
    currency: usize,
    price: usize,
    subtotal: usize,
    total: usize,
    fees: usize,
    notes: usize,
}

impl Columns {
    /// The columns, or the names of those missing.
    pub(super) fn find(header: &[String]) -> Result<Columns, Vec<&'static str>> {
        let mut missing = Vec::new();
        let mut need = |names: &[&'static str]| {
            column(header, names).unwrap_or_else(|| {
                missing.push(names[0]);
                0
            })
        };
        let cols = Columns {
            width: header.len(),
            id: column(header, &["ID"]),
            timestamp: need(&["Timestamp"]),
            kind: need(&["Transaction Type"]),
            asset: need(&["Asset"]),
            qty: need(&["Quantity Transacted"]),
            currency: need(&["Price Currency", "Spot Price Currency"]),
            price: need(&["Price at Transaction", "Spot Price at Transaction"]),
            subtotal: need(&["Subtotal"]),
            total: need(&[
                "Total (inclusive of fees and/or spread)",
                "Total (inclusive of fees)",
            ]),
            fees: need(&["Fees and/or Spread", "Fees"]),
            notes: need(&["Notes"]),
        };
        if missing.is_empty() {
            Ok(cols)
        } else {
            Err(missing)
        }
    }
}

/// What a transaction type becomes.
#[derive(Clone, Copy)]
enum Kind {
    /// Buy or Sell of the asset for the price currency.
    Trade(Action),
    /// The asset sold for the price currency, and the asset in Notes bought with it.
    Convert,
    /// Coins or cash that came in from outside: no cost known.
    Transfer(Action),
    /// Staking, rewards, learning: came in, valued at the row's price.
    Income,
}

fn kind(text: &str) -> Option<Kind> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "buy" | "advanced trade buy" => Kind::Trade(Action::Buy),
        "sell" | "advanced trade sell" => Kind::Trade(Action::Sell),
        "convert" => Kind::Convert,
        "receive" | "deposit" => Kind::Transfer(Action::Deposit),
        "send" | "withdrawal" => Kind::Transfer(Action::Withdrawal),
        "staking income" | "rewards income" | "learning reward" | "inflation reward"
        | "coinbase earn" => Kind::Income,
        _ => return None,
    })
}

pub(super) fn parse(
    mut ctx: Context,
    cols: &Columns,
    rows: &[Record],
) -> Result<Imported, ImportError> {
    let mut entries = Vec::with_capacity(rows.len());
    let mut skipped = Vec::new();
    // Coinbase's ids, to refuse a file that repeats one (the second row would be lost later)
    let mut ids: HashMap<String, usize> = HashMap::new();
    for row in rows {
        ctx.check_width(row, cols.width)?;
        let f = &row.fields;
        let Some(kind) = kind(&f[cols.kind]) else {
            let why = format!(
                "transaction type {:?} is not a buy, sell, convert, transfer or income: not an \
                 entry (add it to the ledger by hand if it moved your holdings)",
                visible(f[cols.kind].trim())
            );
            skipped.push(ctx.skipped(row.line, &why));
            continue;
        };
        let mut made = entry(cols, f, kind).map_err(|p| ctx.row_error(row.line, p))?;
        let exchange_id = cols.id.map(|i| f[i].trim()).filter(|id| !id.is_empty());
        let id = match exchange_id {
            Some(id) => {
                if let Some(first) = ids.insert(id.to_string(), row.line) {
                    return Err(ctx.row_error(
                        row.line,
                        format!(
                            "ID {:?} is also the ID of line {first}: remove the repeated row",
                            visible(id)
                        ),
                    ));
                }
                visible(id)
            }
            None => ctx.row_id(f),
        };
        let legs = made.len();
        for (e, leg) in made.iter_mut().zip(["sell", "buy"]) {
            e.id = if legs == 2 {
                format!("{id}:{leg}")
            } else {
                id.clone()
            };
            e.source = ctx.source.clone();
        }
        entries.append(&mut made);
    }
    Ok(Imported {
        layout: Layout::CoinbaseTransactions,
        entries,
        skipped,
    })
}

/// The entries of one row (two for a Convert); `id` and `source` are left for the caller.
fn entry(cols: &Columns, f: &[String], kind: Kind) -> Result<Vec<Entry>, String> {
    let in_column = |name: &'static str| move |e: String| format!("{name}: {e}");
    let ts_ms = utc_time(&f[cols.timestamp]).map_err(in_column("Timestamp"))?;
    let coin = asset(&f[cols.asset]).map_err(in_column("Asset"))?;
    // Send and Sell rows carry negative quantities and amounts in the 2024 version
    let qty = decimal(&f[cols.qty])
        .map_err(in_column("Quantity Transacted"))?
        .abs();
    if qty == 0.0 {
        return Err("Quantity Transacted is 0: an entry's quantity is above zero".into());
    }
    let amount = |i: usize, name: &'static str| -> Result<Option<f64>, String> {
        Ok(money(&f[i]).map_err(in_column(name))?.map(f64::abs))
    };
    let currency = || asset(&f[cols.currency]).map_err(in_column("Price Currency"));
    let price = || match amount(cols.price, "Price at Transaction")? {
        Some(p) if p > 0.0 => Ok(p),
        _ => Err(format!(
            "Price at Transaction is {:?}: a {} row needs a price above zero",
            visible(f[cols.price].trim()),
            visible(f[cols.kind].trim())
        )),
    };
    let subtotal = amount(cols.subtotal, "Subtotal")?;
    let total = amount(cols.total, "Total")?;
    let fees = amount(cols.fees, "Fees")?;
    let base = Entry {
        ts_ms,
        action: Action::Deposit,
        asset: coin.clone(),
        qty,
        quote: None,
        price: None,
        fee: 0.0,
        fee_asset: None,
        market: None,
        id: String::new(),
        source: String::new(),
    };
    let with_fee = |mut e: Entry, cur: Option<String>| -> Entry {
        if let (Some(fee), Some(cur)) = (fees.filter(|v| *v > 0.0), cur) {
            e.fee = fee;
            e.fee_asset = Some(cur);
        }
        e
    };
    Ok(match kind {
        Kind::Trade(action) => {
            let cur = currency()?;
            // Subtotal / quantity is the price paid, spread included (Price at Transaction is
            // the spot price): quantity × price + fee is then the Total paid or received
            let price = match subtotal.filter(|s| *s > 0.0) {
                Some(s) => s / qty,
                None => price()?,
            };
            let fee = match (fees, subtotal, total) {
                (Some(fee), _, _) => fee,
                (None, Some(s), Some(t)) => (t - s).abs(),
                _ => 0.0,
            };
            vec![Entry {
                action,
                quote: Some(cur.clone()),
                price: Some(price),
                fee,
                fee_asset: Some(cur),
                ..base
            }]
        }
        Kind::Convert => convert(
            base,
            f[cols.notes].trim(),
            currency()?,
            price()?,
            subtotal,
            total,
        )?,
        Kind::Transfer(action) => {
            let cur = currency().ok();
            vec![with_fee(Entry { action, ..base }, cur)]
        }
        Kind::Income => {
            let cur = currency()?;
            let e = Entry {
                quote: Some(cur.clone()),
                price: Some(price()?),
                ..base
            };
            vec![with_fee(e, Some(cur))]
        }
    })
}

/// A Convert row (`Converted 0.00363125 BTC to 156.145683 XRP` in Notes) as two trades in the
/// price currency, so that neither asset needs a historical price: the asset sold for its
/// value (Total, the spot value of what was given), and the target bought for that value, with
/// the spread (Total − Subtotal, Subtotal being the value received) as the buy's fee. The
/// target's cost basis is then all that was given up for it.
fn convert(
    sold: Entry,
    notes: &str,
    currency: String,
    spot: f64,
    subtotal: Option<f64>,
    total: Option<f64>,
) -> Result<Vec<Entry>, String> {
    let bad = || {
        format!(
            "Notes {:?} do not say what was converted into (\"Converted 0.5 BTC to 120 XRP\")",
            visible(notes)
        )
    };
    let words: Vec<&str> = notes.split_whitespace().collect();
    let [verb, from_qty, from, "to", to_qty, to] = words[..] else {
        return Err(bad());
    };
    if !verb.eq_ignore_ascii_case("converted") {
        return Err(bad());
    }
    let from = asset(from).map_err(|_| bad())?;
    let from_qty = decimal(from_qty).map_err(|_| bad())?;
    let to = asset(to).map_err(|_| bad())?;
    let to_qty = decimal(to_qty).map_err(|_| bad())?;
    if from != sold.asset || (from_qty - sold.qty).abs() > sold.qty * 1e-6 {
        return Err(format!(
            "Notes say {from_qty} {from} was converted but the row is {} {}",
            sold.qty, sold.asset
        ));
    }
    if to_qty <= 0.0 {
        return Err(format!(
            "Notes say {to_qty} {to} came of it: above zero expected"
        ));
    }
    let given = total.filter(|t| *t > 0.0).unwrap_or(sold.qty * spot);
    let received = subtotal
        .filter(|s| *s > 0.0 && *s <= given)
        .unwrap_or(given);
    let sell = Entry {
        action: Action::Sell,
        quote: Some(currency.clone()),
        price: Some(given / sold.qty),
        fee_asset: Some(currency.clone()),
        ..sold.clone()
    };
    let buy = Entry {
        action: Action::Buy,
        asset: to,
        qty: to_qty,
        quote: Some(currency.clone()),
        price: Some(received / to_qty),
        fee: given - received,
        fee_asset: Some(currency),
        ..sold
    };
    Ok(vec![sell, buy])
}
