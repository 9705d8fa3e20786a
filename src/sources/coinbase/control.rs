//! Coinbase's side of products added and removed while running ([`SourceCmd`]): what a
//! product id looks like, the REST check of a new product (`/products/{id}`: 404 means Coinbase
//! does not list it), and how a `subscriptions` message confirms a change (it lists the product
//! in every channel, or nowhere). The rest is the shared engine's ([`crate::sources::live`]).

use std::sync::Arc;

use super::rest::{RestClient, RestError};
use super::ws::CHANNELS;
use crate::domain::Symbol;
use crate::sources::SourceCmd;
use crate::sources::live::changes::{Change, Kind};
use crate::sources::live::control::{Check, Checker};

/// The commands of the monitor, checked the Coinbase way.
pub(crate) fn checker(cmds: flume::Receiver<SourceCmd>, rest: RestClient, name: &str) -> Checker {
    let check: Check = Arc::new(move |product| {
        let rest = rest.clone();
        Box::pin(async move {
            match rest.product_status(product, |_| {}).await {
                Ok(status) if status.eq_ignore_ascii_case("delisted") => {
                    Err(format!("{product} is delisted on Coinbase Exchange"))
                }
                Ok(_) => Ok(()),
                Err(RestError::UnknownProduct { .. }) => {
                    Err(format!("{product} is not a Coinbase Exchange product"))
                }
                Err(e) => Err(format!(
                    "could not check {product} with Coinbase ({e}); try again"
                )),
            }
        })
    });
    Checker::new(cmds, "Coinbase", name, spelling, check)
}

/// Why `p` cannot be a Coinbase product id, if it cannot.
fn spelling(p: Symbol) -> Option<String> {
    (!is_product_id(p)).then(|| {
        format!("{p} is not a Coinbase product id (base and quote joined by '-', e.g. BTC-USD)")
    })
}

/// Whether a `subscriptions` message lists `product` (in every one of our channels that lists
/// products), or lists it nowhere.
fn listed(channels: &[(String, Vec<String>)], product: Symbol) -> (bool, bool) {
    let ours: Vec<&Vec<String>> = channels
        .iter()
        .filter(|(name, _)| CHANNELS.contains(&name.as_str()))
        .map(|(_, ids)| ids)
        .collect();
    let has = |ids: &Vec<String>| ids.iter().any(|p| p.eq_ignore_ascii_case(product.as_str()));
    let everywhere = ours.iter().any(|ids| has(ids))
        && ours
            .iter()
            .filter(|ids| !ids.is_empty())
            .all(|ids| has(ids));
    let nowhere = !channels.iter().any(|(_, ids)| has(ids));
    (everywhere, nowhere)
}

/// Whether a `subscriptions` message confirms `c`: a subscribe once every one of our channels
/// lists the product, an unsubscribe once none does.
pub(crate) fn confirms(channels: &[(String, Vec<String>)], c: &Change) -> bool {
    let (everywhere, nowhere) = listed(channels, c.symbol);
    match c.kind {
        Kind::Subscribe => everywhere,
        Kind::Unsubscribe => nowhere,
    }
}

/// `BASE-QUOTE`, letters and digits on each side.
fn is_product_id(p: Symbol) -> bool {
    let s = p.as_str();
    s.split('-').count() == 2
        && s.split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::live::changes::{ANSWER_TIMEOUT, Changes};
    use std::time::Duration;
    use tokio::time::Instant;

    fn confirmed(c: &mut Changes, channels: &[(String, Vec<String>)]) -> Vec<Change> {
        c.confirmed_where(|x| confirms(channels, x))
    }

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    fn subs(products: &[&str]) -> Vec<(String, Vec<String>)> {
        let ids: Vec<String> = products.iter().map(|p| p.to_string()).collect();
        CHANNELS
            .iter()
            .map(|c| (c.to_string(), ids.clone()))
            .collect()
    }

    #[test]
    fn a_change_is_confirmed_by_the_subscriptions_that_list_it_or_not() {
        let t0 = Instant::now();
        let mut c = Changes::default();
        let (tx, rx) = flume::unbounded();
        c.sent(sym("ETH-USD"), Kind::Subscribe, tx.clone(), Vec::new(), t0);
        c.sent(sym("SOL-USD"), Kind::Unsubscribe, tx, Vec::new(), t0);
        // the answer to an earlier subscribe: neither yet
        assert!(confirmed(&mut c, &subs(&["BTC-USD", "SOL-USD"])).is_empty());
        // listed in only one channel: not yet
        let mut partial = subs(&["BTC-USD"]);
        partial[0].1.push("ETH-USD".into());
        assert!(
            confirmed(&mut c, &partial)
                .iter()
                .all(|x| x.kind == Kind::Unsubscribe)
        );
        let done = confirmed(&mut c, &subs(&["BTC-USD", "ETH-USD"]));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].symbol, sym("ETH-USD"));
        done.into_iter().for_each(|d| d.answer(Ok(())));
        assert_eq!(rx.try_recv().unwrap(), Ok(()));
        assert!(c.is_empty());
    }

    #[test]
    fn carried_subscribes_wait_for_the_next_connection_and_time_out_only_on_the_wire() {
        let t0 = Instant::now();
        let mut c = Changes::default();
        let (tx, _rx) = flume::unbounded();
        c.sent(sym("ETH-USD"), Kind::Subscribe, tx.clone(), Vec::new(), t0);
        c.sent(
            sym("SOL-USD"),
            Kind::Unsubscribe,
            tx.clone(),
            Vec::new(),
            t0,
        );
        c.carried(sym("XRP-USD"), tx, t0);
        let done = c.disconnected();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].symbol, sym("SOL-USD"));
        assert_eq!(c.next_deadline(), None);
        assert!(c.expired(t0 + Duration::from_secs(600)).is_empty());
        assert!(
            confirmed(&mut c, &subs(&["ETH-USD", "XRP-USD"])).is_empty(),
            "not on the wire"
        );
        let t1 = t0 + Duration::from_secs(60);
        c.connected(&[], t1);
        assert_eq!(c.next_deadline(), Some(t1 + ANSWER_TIMEOUT));
        assert_eq!(c.expired(t1 + ANSWER_TIMEOUT).len(), 2);
        assert!(c.take_subscribe(sym("ETH-USD")).is_none());
    }

    #[test]
    fn product_ids_are_base_dash_quote() {
        assert!(is_product_id(sym("BTC-USD")));
        assert!(!is_product_id(sym("BTCUSD")));
        assert!(!is_product_id(sym("BTC-")));
        assert!(!is_product_id(sym("A-B-C")));
    }
}
