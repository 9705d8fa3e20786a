//! Real-shaped exports (the Coinbase rows are those of a public sample, ids masked as there).

use super::*;
use crate::portfolio::Action;

fn ok(path: &str, text: &str) -> Imported {
    parse(path, text).unwrap_or_else(|e| panic!("{e}"))
}

fn err(path: &str, text: &str) -> ImportError {
    match parse(path, text) {
        Ok(i) => panic!("parsed: {i:?}"),
        Err(e) => e,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[track_caller]
fn check(
    e: &Entry,
    action: Action,
    asset: &str,
    qty: f64,
    quote: Option<&str>,
    price: Option<f64>,
) {
    assert_eq!((e.action, e.asset.as_str()), (action, asset), "{e:?}");
    assert!(close(e.qty, qty), "qty {} != {qty}: {e:?}", e.qty);
    assert_eq!(e.quote.as_deref(), quote, "{e:?}");
    match (e.price, price) {
        (Some(a), Some(b)) => assert!(close(a, b), "price {a} != {b}: {e:?}"),
        (a, b) => assert_eq!(a, b, "{e:?}"),
    }
}

#[track_caller]
fn fee(e: &Entry, fee: f64, asset: Option<&str>) {
    assert!(close(e.fee, fee), "fee {} != {fee}: {e:?}", e.fee);
    assert_eq!(e.fee_asset.as_deref(), asset, "{e:?}");
}

const BINANCE: &str = "\u{feff}Date(UTC),Pair,Side,Price,Executed,Amount,Fee\r\n\
2022-03-28 13:01:36,SOLBUSD,BUY,110.03,0.1800000000SOL,19.8054BUSD,0.0001800000SOL\r\n\
2022-03-28 14:00:00,SOLBUSD,SELL,110.5,0.1000000000SOL,11.05BUSD,0.0110500000BUSD\r\n\
2022-03-29 09:15:02,BTCUSDT,BUY,\"47,123.45\",0.0100000000BTC,\"1,471.2345USDT\",0.0000876BNB\r\n\
2022-03-29 09:15:03,ethbtc,SELL,0.07,1.5000000000ETH,0.105BTC,0.000105BTC\r\n\
2022-03-30 10:00:00,1INCHUSDT,BUY,1.6,12.51INCH,20.0USDT,0.0125BNB\r\n\
2022-03-28 13:01:36,SOLBUSD,BUY,110.03,0.1800000000SOL,19.8054BUSD,0.0001800000SOL\r\n";

#[test]
fn binance_trade_history_with_bom_suffixes_quotes_and_a_bnb_fee() {
    assert_eq!(detect(BINANCE), Some(Layout::BinanceTrades));
    let got = ok("/home/me/Export Trade History.csv", BINANCE);
    assert_eq!(got.layout, Layout::BinanceTrades);
    assert!(got.skipped.is_empty());
    let e = &got.entries;
    assert_eq!(e.len(), 6);
    check(&e[0], Action::Buy, "SOL", 0.18, Some("BUSD"), Some(110.03));
    fee(&e[0], 0.00018, Some("SOL"));
    assert_eq!(e[0].ts_ms, 1_648_472_496_000);
    assert_eq!(
        e[0].market.map(|m| m.to_string()).as_deref(),
        Some("binance:SOLBUSD")
    );
    assert_eq!(e[0].source, "binance-trades:Export Trade History.csv");
    check(&e[1], Action::Sell, "SOL", 0.1, Some("BUSD"), Some(110.5));
    fee(&e[1], 0.01105, Some("BUSD"));
    // a quoted price with a thousands separator; the fee in a third asset
    check(
        &e[2],
        Action::Buy,
        "BTC",
        0.01,
        Some("USDT"),
        Some(47_123.45),
    );
    fee(&e[2], 0.0000876, Some("BNB"));
    check(&e[3], Action::Sell, "ETH", 1.5, Some("BTC"), Some(0.07));
    assert_eq!(
        e[3].market.map(|m| m.to_string()).as_deref(),
        Some("binance:ETHBTC")
    );
    // an asset that begins with a digit: 12.5 1INCH, not 12.51 INCH
    check(&e[4], Action::Buy, "1INCH", 12.5, Some("USDT"), Some(1.6));
    fee(&e[4], 0.0125, Some("BNB"));
}

#[test]
fn binance_plain_values_split_the_pair_and_take_the_fee_coin() {
    let text = "Date(UTC),Pair,Side,Price,Executed,Amount,Fee,Fee Coin\n\
        2022-03-28 13:01:36,ADAUSDT,buy,1.15,\"1,000\",1150,0.00210,BNB\n\
        2022-03-28 13:01:37,ADAUSDT,SELL,1.16,10,11.6,0,\n";
    let got = ok("t.csv", text);
    check(
        &got.entries[0],
        Action::Buy,
        "ADA",
        1000.0,
        Some("USDT"),
        Some(1.15),
    );
    fee(&got.entries[0], 0.0021, Some("BNB"));
    check(
        &got.entries[1],
        Action::Sell,
        "ADA",
        10.0,
        Some("USDT"),
        Some(1.16),
    );
    fee(&got.entries[1], 0.0, None);
    // the older layout: Market, Type, Amount (the base quantity), Total
    let older = "Date(UTC),Market,Type,Price,Amount,Total,Fee,Fee Coin\n\
        2019-05-01 10:00:00,BNBBTC,BUY,0.0032,10,0.032,0.0075,BNB\n";
    let got = ok("old.csv", older);
    check(
        &got.entries[0],
        Action::Buy,
        "BNB",
        10.0,
        Some("BTC"),
        Some(0.0032),
    );
    fee(&got.entries[0], 0.0075, Some("BNB"));
}

#[test]
fn identical_rows_stay_two_entries_with_stable_ids() {
    let a = ok("a.csv", BINANCE);
    // rows 1 and 6 are the same fill twice
    let (first, again) = (&a.entries[0], &a.entries[5]);
    let no_id = |e: &Entry| Entry {
        id: String::new(),
        ..e.clone()
    };
    assert_eq!(no_id(first), no_id(again));
    assert_ne!(first.id, again.id);
    let mut ids: Vec<&str> = a.entries.iter().map(|e| e.id.as_str()).collect();
    assert!(
        ids.iter().all(|id| id.starts_with("binance-trades-")),
        "{ids:?}"
    );
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "every fill its own id");
    // the same text again, even under another path: the same ids
    let b = ok("/elsewhere/a.csv", BINANCE);
    let ids_of = |i: &Imported| i.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids_of(&a), ids_of(&b));
    // without the byte order mark, with LF line ends: still the same fills, the same ids
    let plain = BINANCE.trim_start_matches('\u{feff}').replace("\r\n", "\n");
    assert_eq!(ids_of(&a), ids_of(&ok("a.csv", &plain)));
}

#[test]
fn a_bad_binance_row_is_named_by_line_and_nothing_is_kept() {
    let header = "Date(UTC),Pair,Side,Price,Executed,Amount,Fee\n";
    let good = "2022-03-28 13:01:36,SOLBUSD,BUY,110.03,0.18SOL,19.8054BUSD,0.00018SOL\n";
    let cases = [
        (
            "2022-03-28 13:01:36,SOLBUSD,HOLD,110.03,0.18SOL,19.8BUSD,0.1SOL",
            "HOLD",
        ),
        (
            "2022-03-28 13:01:36,SOLBUSD,BUY,110.03,\"1,5SOL\",19.8BUSD,0.1SOL",
            "thousands",
        ),
        (
            "2022-03-28 13:01:36,SOLBUSD,BUY,110.03,0.18SOL,19.8BUSD",
            "6 fields",
        ),
        (
            "28/03/2022,SOLBUSD,BUY,110.03,0.18SOL,19.8BUSD,0.1SOL",
            "Date(UTC)",
        ),
        (
            "2022-03-28 13:01:36,SOLBUSD,BUY,0,0.18SOL,19.8BUSD,0.1SOL",
            "Price is 0",
        ),
        (
            "2022-03-28 13:01:36,SOLBUSD,BUY,110,0SOL,0BUSD,0SOL",
            "Executed is 0",
        ),
        (
            "2022-03-28 13:01:36,SOLBUSD,BUY,110,0.18ETH,19.8BUSD,0SOL",
            "do not make the pair",
        ),
        (
            "2022-03-28 13:01:36,ABCXYZ,BUY,110,0.18,19.8,0",
            "cannot tell",
        ),
        (
            "2022-03-28 13:01:36,SOLBUSD,BUY,110,0.18SOL,19.8BUSD,0.1",
            "names no asset",
        ),
        (
            "2022-03-28 13:01:36,SOLBUSD,BUY,110,0.18SOL,19.8BUSD,NaNSOL",
            "Fee",
        ),
    ];
    for (row, want) in cases {
        let text = format!("{header}{good}{row}\n{good}");
        let e = err("x.csv", &text);
        let shown = e.to_string();
        assert!(shown.starts_with("x.csv:3: "), "{shown}");
        assert!(shown.contains(want), "{want:?} not in {shown}");
        assert_eq!(e.line(), 3);
    }
    // an unclosed quote is named by the line it opens on
    let e = err(
        "x.csv",
        &format!("{header}{good}{good}\"2022-03-28,SOLBUSD\n"),
    );
    assert_eq!(e.line(), 4, "{e}");
}

/// The 2024 layout with its preamble, every mapped type, and one that is not mapped.
const COINBASE: &str = "You can use this transaction report to inform your likely tax obligations. For US customers, Sells, Converts, Rewards Income, and Coinbase Earn transactions are taxable events. For final tax obligations, please consult your tax advisor.\n\
\n\
Transactions\n\
User,Jane Doe,5f0c1c0e-aaaa-bbbb-cccc-000000000000\n\
ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),Fees and/or Spread,Notes\n\
678a8bdefcb176007bfdbXXX,2025-01-17 16:57:02 UTC,Staking Income,ETH,0.000037835729,EUR,€3343.11229989,€0.12649,€0.12649,€0.00,\n\
677d8000e36ea79e78611XXX,2025-01-07 19:26:56 UTC,Send,ETH2,-0.180914809326,EUR,€3302.6508979077133026,-€597.49846,-€597.49846,€0.00,Sent 0.180914809326 ETH2s\n\
67514944a3f9bf34890d8XXX,2024-12-05 06:33:40 UTC,Convert,BTC,0.00363125,EUR,€96847.405873901104437015,€338.92698,€351.66322,,Converted 0.00363125 BTC to 156.145683 XRP\n\
623d6507925c200001fcbXXX,2022-03-25 06:45:27 UTC,Buy,BTC,0.00166779,USD,$39999.331136545,$67.01,$70.00,$2.99,Bought 0.00166779 BTC for 70 USD\n\
6600000000000000000000a1,2024-04-01 10:00:00 UTC,Advanced Trade Sell,BTC,-0.01,USD,\"$70,000.00\",\"$700.00\",$695.80,$4.20,Sold 0.01 BTC for 695.80 USD on BTC-USD at 70000 USD/BTC\n\
6600000000000000000000a2,2024-04-01 10:01:00 UTC,Advanced Trade Buy,ETH,0.5,USD,$3500,$1750.00,$1757.00,$7.00,Bought 0.5 ETH on ETH-USD\n\
6600000000000000000000a3,2024-04-02 08:00:00 UTC,Sell,ETH,-0.1,USD,$3600,$360.00,$354.60,$5.40,Sold 0.1 ETH for 354.60 USD\n\
6600000000000000000000a4,2024-04-03 08:00:00 UTC,Receive,SOL,2.5,USD,$180.12,$450.30,$450.30,$0.00,Received 2.5 SOL from an external account\n\
6600000000000000000000a5,2024-04-04 08:00:00 UTC,Deposit,EUR,100,EUR,€1.00,€100.00,€100.00,€0.00,\n\
6600000000000000000000a6,2024-04-05 08:00:00 UTC,Withdrawal,EUR,-50,EUR,€1.00,-€50.00,-€50.00,€0.00,\n\
6600000000000000000000a7,2024-04-06 08:00:00 UTC,Rewards Income,USDC,0.42,USD,$1.00,$0.42,$0.42,$0.00,\n\
6600000000000000000000a8,2024-04-07 08:00:00 UTC,Learning Reward,GRT,3,USD,$0.30,$0.90,$0.90,$0.00,\n\
6600000000000000000000a9,2024-04-08 08:00:00 UTC,Inflation Reward,XLM,0.01,USD,$0.11,$0.0011,$0.0011,$0.00,\n\
6600000000000000000000b0,2024-04-09 08:00:00 UTC,Retail Staking Transfer,ETH,1,USD,$3500,$3500,$3500,$0.00,\n\
6600000000000000000000b1,2024-04-10 08:00:00 UTC,Send,BTC,-0.001,USD,$70000,-$70.00,-$70.50,$0.50,Sent 0.001 BTC to bc1q...\n";

#[test]
fn coinbase_2024_every_transaction_type_after_a_preamble() {
    assert_eq!(detect(COINBASE), Some(Layout::CoinbaseTransactions));
    let got = ok("statements/cb.csv", COINBASE);
    assert_eq!(got.layout, Layout::CoinbaseTransactions);
    let e = &got.entries;
    assert_eq!(e.len(), 15, "{e:#?}");
    assert!(
        e.iter()
            .all(|e| e.source == "coinbase:cb.csv" && e.market.is_none())
    );
    // staking income: a deposit at the row's price
    check(
        &e[0],
        Action::Deposit,
        "ETH",
        0.000037835729,
        Some("EUR"),
        Some(3343.11229989),
    );
    assert_eq!(e[0].id, "678a8bdefcb176007bfdbXXX");
    assert_eq!(e[0].ts_ms, 1_737_133_022_000);
    // send: a withdrawal of a positive quantity
    check(
        &e[1],
        Action::Withdrawal,
        "ETH2",
        0.180914809326,
        None,
        None,
    );
    fee(&e[1], 0.0, None);
    // convert: BTC sold for what it was worth, XRP bought for it, the spread its fee
    check(
        &e[2],
        Action::Sell,
        "BTC",
        0.00363125,
        Some("EUR"),
        Some(351.66322 / 0.00363125),
    );
    fee(&e[2], 0.0, Some("EUR"));
    check(
        &e[3],
        Action::Buy,
        "XRP",
        156.145683,
        Some("EUR"),
        Some(338.92698 / 156.145683),
    );
    fee(&e[3], 351.66322 - 338.92698, Some("EUR"));
    assert_eq!(
        (e[2].id.as_str(), e[3].id.as_str()),
        (
            "67514944a3f9bf34890d8XXX:sell",
            "67514944a3f9bf34890d8XXX:buy"
        )
    );
    assert_eq!(e[2].ts_ms, e[3].ts_ms);
    // the XRP cost all the BTC was worth; the BTC brought what was paid for the XRP
    let cost = e[3].qty * e[3].price.unwrap_or_default() + e[3].fee;
    assert!(close(cost, 351.66322), "{cost}");
    // buy: the price paid (Subtotal / quantity, spread included) and the fee: the Total
    check(
        &e[4],
        Action::Buy,
        "BTC",
        0.00166779,
        Some("USD"),
        Some(67.01 / 0.00166779),
    );
    fee(&e[4], 2.99, Some("USD"));
    assert!(close(
        e[4].qty * e[4].price.unwrap_or_default() + e[4].fee,
        70.0
    ));
    check(
        &e[5],
        Action::Sell,
        "BTC",
        0.01,
        Some("USD"),
        Some(70_000.0),
    );
    fee(&e[5], 4.2, Some("USD"));
    check(&e[6], Action::Buy, "ETH", 0.5, Some("USD"), Some(3500.0));
    fee(&e[6], 7.0, Some("USD"));
    check(&e[7], Action::Sell, "ETH", 0.1, Some("USD"), Some(3600.0));
    assert!(close(
        e[7].qty * e[7].price.unwrap_or_default() - e[7].fee,
        354.6
    ));
    // transfers in and out carry no cost
    check(&e[8], Action::Deposit, "SOL", 2.5, None, None);
    check(&e[9], Action::Deposit, "EUR", 100.0, None, None);
    check(&e[10], Action::Withdrawal, "EUR", 50.0, None, None);
    // income of every kind, at its price
    check(
        &e[11],
        Action::Deposit,
        "USDC",
        0.42,
        Some("USD"),
        Some(1.0),
    );
    check(&e[12], Action::Deposit, "GRT", 3.0, Some("USD"), Some(0.3));
    check(
        &e[13],
        Action::Deposit,
        "XLM",
        0.01,
        Some("USD"),
        Some(0.11),
    );
    // a send's network fee is kept
    check(&e[14], Action::Withdrawal, "BTC", 0.001, None, None);
    fee(&e[14], 0.5, Some("USD"));
    // the transfer between Coinbase's own products is listed, never silently dropped
    assert_eq!(got.skipped.len(), 1, "{:?}", got.skipped);
    assert!(
        got.skipped[0]
            .starts_with("statements/cb.csv:19: transaction type \"Retail Staking Transfer\""),
        "{:?}",
        got.skipped
    );
    // the same text again: the same entries
    assert_eq!(ok("statements/cb.csv", COINBASE), got);
}

#[test]
fn coinbase_older_layout_without_ids() {
    let text = "Timestamp,Transaction Type,Asset,Quantity Transacted,Spot Price Currency,Spot Price at Transaction,Subtotal,Total (inclusive of fees),Fees,Notes\n\
        2021-04-01T12:00:00Z,Buy,btc,0.01,USD,58000.00,580.00,588.99,8.99,Bought 0.01 BTC for $588.99 USD\n\
        2021-04-02T12:00:00Z,Sell,BTC,0.005,USD,59000,295.00,290.60,4.40,\"Sold 0.005 BTC for $290.60 USD\"\n\
        2021-04-03T00:00:00Z,Coinbase Earn,XLM,10.5,USD,0.40,4.20,4.20,0.00,Received 10.5 XLM from Coinbase Earn\n\
        2021-04-03T00:00:00Z,Coinbase Earn,XLM,10.5,USD,0.40,4.20,4.20,0.00,Received 10.5 XLM from Coinbase Earn\n\
        2021-04-04T00:00:00Z,Convert,ETH,1,USD,2000,1980,2000,,\"Converted 1 ETH to 1,000 USDC\"\n";
    let got = ok("old.csv", text);
    let e = &got.entries;
    assert_eq!(e.len(), 6);
    check(&e[0], Action::Buy, "BTC", 0.01, Some("USD"), Some(58_000.0));
    fee(&e[0], 8.99, Some("USD"));
    assert_eq!(e[0].ts_ms, 1_617_278_400_000);
    check(
        &e[1],
        Action::Sell,
        "BTC",
        0.005,
        Some("USD"),
        Some(59_000.0),
    );
    check(&e[2], Action::Deposit, "XLM", 10.5, Some("USD"), Some(0.4));
    check(&e[3], Action::Deposit, "XLM", 10.5, Some("USD"), Some(0.4));
    check(&e[4], Action::Sell, "ETH", 1.0, Some("USD"), Some(2000.0));
    check(&e[5], Action::Buy, "USDC", 1000.0, Some("USD"), Some(1.98));
    fee(&e[5], 20.0, Some("USD"));
    // no ID column: digests, the two identical rewards distinct, the convert's legs apart
    let ids: Vec<&str> = e.iter().map(|e| e.id.as_str()).collect();
    assert!(ids.iter().all(|i| i.starts_with("coinbase-")), "{ids:?}");
    assert_ne!(ids[2], ids[3]);
    assert!(
        ids[4].ends_with(":sell") && ids[5].ends_with(":buy"),
        "{ids:?}"
    );
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 6);
    let again: Vec<String> = ok("old.csv", text)
        .entries
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(again, ids);
}

#[test]
fn bad_coinbase_rows_are_named_by_line() {
    let header = "ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),Fees and/or Spread,Notes\n";
    let cases = [
        (
            "a,2024-04-01 10:00:00 UTC,Buy,BTC,0.01,USD,$70000,$700,$704,abc,",
            "Fees",
        ),
        (
            "a,2024-04-01 10:00:00 UTC,Buy,BTC,0,USD,$70000,$700,$704,$4,",
            "above zero",
        ),
        (
            "a,2024-04-01 10:00:00 UTC,Buy,B-T,1,USD,$70000,$700,$704,$4,",
            "Asset",
        ),
        (
            "a,yesterday,Buy,BTC,1,USD,$70000,$700,$704,$4,",
            "Timestamp",
        ),
        (
            "a,2024-04-01 10:00:00 UTC,Staking Income,ETH,1,EUR,,€1,€1,€0,",
            "Price at Transaction",
        ),
        (
            "a,2024-04-01 10:00:00 UTC,Convert,BTC,1,EUR,€9,€8,€9,,Swapped it",
            "Notes",
        ),
        (
            "a,2024-04-01 10:00:00 UTC,Convert,BTC,1,EUR,€9,€8,€9,,Converted 2 BTC to 3 XRP",
            "Notes say 2 BTC",
        ),
    ];
    for (row, want) in cases {
        let e = err("cb.csv", &format!("{header}{row}\n"));
        let shown = e.to_string();
        assert!(shown.starts_with("cb.csv:2: "), "{shown}");
        assert!(shown.contains(want), "{want:?} not in {shown}");
    }
    // an ID twice: the second would be taken for the first later, so the file is refused
    let row = "a,2024-04-01 10:00:00 UTC,Buy,BTC,0.01,USD,$70000,$700,$704,$4,\n";
    let e = err("cb.csv", &format!("{header}{row}{row}"));
    assert_eq!(e.line(), 3, "{e}");
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn unknown_and_changed_headers_say_what_is_accepted() {
    for (text, line) in [
        ("Date,Coin,Amount\n2022-01-01,BTC,1\n", 1),
        ("\n\nTime,Type,Asset\n", 3),
        ("", 1),
        // Binance's header only counts on the first line
        ("note\nDate(UTC),Pair,Side,Price,Executed,Amount,Fee\n", 1),
    ] {
        assert_eq!(detect(text), None, "{text}");
        let e = err("f.csv", text);
        assert!(matches!(e, ImportError::UnknownLayout { .. }), "{e:?}");
        assert_eq!(e.line(), line);
        let shown = e.to_string();
        assert!(shown.contains("Binance Spot \"Trade History\""), "{shown}");
        assert!(
            shown.contains("Coinbase \"Transaction history\""),
            "{shown}"
        );
    }
    // a header that is nearly one: which columns are missing
    let e = err("f.csv", "Date(UTC),Pair,Side,Price,Executed,Amount\n");
    assert!(
        matches!(e, ImportError::MissingColumns { ref missing, .. } if missing == "Fee"),
        "{e:?}"
    );
    let e = err(
        "f.csv",
        "x\nTimestamp,Transaction Type,Asset,Quantity,Notes\n",
    );
    assert_eq!(e.line(), 2);
    assert!(
        e.to_string()
            .contains("Quantity Transacted, Price Currency"),
        "{e}"
    );
    // escape bytes from the file never reach the terminal
    let e = err("f.csv", "\u{1b}[31mDate,Coin\n");
    assert!(!e.to_string().contains('\u{1b}'), "{e}");
}

#[test]
fn layouts_have_human_names() {
    assert_eq!(
        Layout::BinanceTrades.to_string(),
        "Binance Spot trade history"
    );
    assert_eq!(
        Layout::CoinbaseTransactions.to_string(),
        "Coinbase transaction history"
    );
}
