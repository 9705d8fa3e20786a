//! Kraken's `book` for the shared book task ([`crate::sources::live::books`]). A pair's frames
//! are read only once its precisions are known ([`Instruments`]): before that they are
//! [`Unreadable::Unprepared`] (counted, the task waits for the precisions, then subscribes the
//! book again for a snapshot it can read). Each message carries the precisions it was read
//! with, so a pair whose precisions Kraken changes is checked with the new ones.

use std::sync::Arc;

use super::instruments::{Instruments, Precision, WAIT};
use crate::book::kraken::{self, BookMsg, KrakenBook};
use crate::book::{BookError, Outcome, Reason};
use crate::domain::{Symbol, Venue};
use crate::sources::live::books::{Unreadable, VenueBooks};
use crate::sources::live::session::BoxFut;

pub(crate) struct KrakenBooks {
    /// The subscribed depth (the machine keeps this many levels a side).
    pub depth: usize,
    pub instruments: Arc<Instruments>,
}

fn symbol_of(text: &str) -> Result<Symbol, BookError> {
    Symbol::new(text).map_err(|_| BookError::NotBook {
        venue: "Kraken",
        what: "a symbol that is not a pair",
    })
}

impl VenueBooks for KrakenBooks {
    type Machine = KrakenBook;
    type Msg = (BookMsg, Precision);
    type Prep = ();
    const VENUE: Venue = Venue::Kraken;

    fn parse(&self, text: &str) -> Result<Vec<(Symbol, Self::Msg)>, Unreadable> {
        let known = |s: &str| {
            let sym = Symbol::new(s).ok()?;
            self.instruments.get(sym).map(|p| p.price)
        };
        let msgs = match kraken::parse_by(text, known)? {
            Ok(msgs) => msgs,
            Err(unknown) => return Err(Unreadable::Unprepared(symbol_of(&unknown)?)),
        };
        msgs.into_iter()
            .map(|m| {
                let symbol = symbol_of(&m.symbol)?;
                // listed: parse_by found its price precision a moment ago
                let p = self
                    .instruments
                    .get(symbol)
                    .ok_or(Unreadable::Unprepared(symbol))?;
                Ok((symbol, (m, p)))
            })
            .collect()
    }

    fn machine(&self, symbol: Symbol) -> KrakenBook {
        // the precisions are set again from each message (see `apply`)
        let p = self
            .instruments
            .get(symbol)
            .unwrap_or(Precision { price: 0, qty: 0 });
        KrakenBook::new(self.depth, p.price, p.qty)
    }

    fn apply(m: &mut KrakenBook, (msg, p): &Self::Msg) -> Outcome {
        if m.precisions() != (p.price, p.qty) {
            m.set_precisions(p.price, p.qty);
        }
        m.on_message(msg)
    }

    fn discard(m: &mut KrakenBook, reason: Reason) {
        m.discard(reason);
    }

    /// Waits for the pair's precisions from the `instrument` channel (the connection asks for
    /// the list again, with backoff, when they do not come).
    fn prepare(&self, symbol: Symbol) -> Option<BoxFut<'static, Result<(), String>>> {
        let instruments = self.instruments.clone();
        Some(Box::pin(async move {
            instruments.wait(symbol, WAIT).await.map(|_| ())
        }))
    }
}
