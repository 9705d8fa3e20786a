//! Spending a small request budget well: which symbol and function each request is for, and
//! when it may go out. Pure and clock-free (every function takes `now`), so it is tested without
//! a network or a runtime.
//!
//! The rule: each symbol's first request goes out at once (spaced only by the per-minute limit),
//! so the watchlist and charts fill at start. After that the requests left today are spread
//! evenly over what is left of the day (midnight US/Eastern, when Alpha Vantage resets the
//! quota), never closer than 60 s / requests_per_minute. With N symbols, B requests a day and
//! a start at midnight, each symbol is polled about every N × 24 h / (B − N + 1): 3 symbols at
//! 25 a day, every 3 h 8 min.

use chrono::NaiveDate;

use super::config::Mode;
use super::eastern::{eastern_day, eastern_to_utc_ms, next_eastern_midnight};
use crate::domain::{Symbol, TsMs};

/// The key's request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_day: u32,
    pub per_minute: u32,
}

impl Limits {
    /// The least time between two requests: with this spacing no 60 s window ever holds more
    /// than `per_minute` requests (nor bursts of them, which Alpha Vantage also refuses).
    pub fn spacing_ms(&self) -> TsMs {
        let n = TsMs::from(self.per_minute.max(1));
        (60_000 + n - 1) / n
    }
}

/// The start of the US/Eastern day containing `now`, as a UTC instant.
fn eastern_day_start(now: TsMs) -> TsMs {
    eastern_day(now)
        .and_hms_opt(0, 0, 0)
        .map_or(now, eastern_to_utc_ms)
}

/// When the next request may go out, given the last one (`None`: nothing sent yet) and the
/// requests used today. `urgent` requests (a symbol's first) only wait for the per-minute
/// spacing; the others are spread evenly over the rest of the day; with nothing left, the
/// answer is the next midnight US/Eastern. Never earlier than `now`.
pub fn next_request_at(
    now: TsMs,
    last: Option<TsMs>,
    used_today: u32,
    limits: Limits,
    urgent: bool,
) -> TsMs {
    let day_end = next_eastern_midnight(now);
    if used_today >= limits.per_day {
        return day_end;
    }
    let Some(last) = last else { return now };
    let spaced = last + limits.spacing_ms();
    let at = if urgent || last < eastern_day_start(now) {
        // a first request, or the first of a new day
        spaced
    } else {
        // `left` more requests today, then the first of tomorrow at midnight: left + 1 equal gaps
        let left = TsMs::from(limits.per_day - used_today);
        (last + (day_end - last) / (left + 1)).max(spaced)
    };
    at.max(now)
}

/// Requests spent in the current quota day, which ends at midnight US/Eastern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCount {
    day: NaiveDate,
    used: u32,
}

impl DayCount {
    pub fn new(now: TsMs) -> Self {
        DayCount {
            day: eastern_day(now),
            used: 0,
        }
    }

    fn roll(&mut self, now: TsMs) {
        let day = eastern_day(now);
        if day != self.day {
            self.day = day;
            self.used = 0;
        }
    }

    /// Requests used today.
    pub fn used(&mut self, now: TsMs) -> u32 {
        self.roll(now);
        self.used
    }

    /// One more request went out at `now`.
    pub fn record(&mut self, now: TsMs) {
        self.roll(now);
        self.used = self.used.saturating_add(1);
    }

    /// Alpha Vantage says today's quota is spent (other programs may share the key).
    pub fn exhaust(&mut self, now: TsMs, per_day: u32) {
        self.roll(now);
        self.used = self.used.max(per_day);
    }
}

/// An Alpha Vantage function tickwatch calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// GLOBAL_QUOTE: price and day statistics.
    Quote,
    /// TIME_SERIES_INTRADAY: candles.
    Intraday,
}

impl Function {
    pub fn name(self) -> &'static str {
        match self {
            Function::Quote => "GLOBAL_QUOTE",
            Function::Intraday => "TIME_SERIES_INTRADAY",
        }
    }

    /// What it fetches, in a word for the status line.
    pub fn what(self) -> &'static str {
        match self {
            Function::Quote => "quote",
            Function::Intraday => "candles",
        }
    }
}

/// One request to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    pub symbol: Symbol,
    pub function: Function,
    /// The symbol's first request: it only waits for the per-minute spacing.
    pub urgent: bool,
}

#[derive(Debug, Clone)]
struct Slot {
    symbol: Symbol,
    polls: u32,
}

/// Round-robin over the symbols; decides each poll's function. A job that fails is asked for
/// again (the cursor moves only on [`done`](Rotation::done) or [`drop_symbol`]).
///
/// [`drop_symbol`]: Rotation::drop_symbol
#[derive(Debug, Clone)]
pub struct Rotation {
    mode: Mode,
    candles_every: u32,
    slots: Vec<Slot>,
    cursor: usize,
    dropped: Vec<Symbol>,
}

impl Rotation {
    pub fn new(symbols: &[Symbol], mode: Mode, candles_every: u32) -> Self {
        Rotation {
            mode,
            candles_every: candles_every.max(1),
            slots: symbols
                .iter()
                .map(|&symbol| Slot { symbol, polls: 0 })
                .collect(),
            cursor: 0,
            dropped: Vec::new(),
        }
    }

    /// The job at the cursor; `None` once every symbol was dropped.
    pub fn current(&self) -> Option<Job> {
        let slot = self.slots.get(self.cursor)?;
        let function = match self.mode {
            Mode::Quote => Function::Quote,
            Mode::Candles => Function::Intraday,
            // candles first (warm charts at once), then every Nth poll
            Mode::QuoteAndCandles if slot.polls.is_multiple_of(self.candles_every) => {
                Function::Intraday
            }
            Mode::QuoteAndCandles => Function::Quote,
        };
        Some(Job {
            symbol: slot.symbol,
            function,
            urgent: slot.polls == 0,
        })
    }

    /// The current job succeeded: on to the next symbol.
    pub fn done(&mut self) {
        if let Some(slot) = self.slots.get(self.cursor) {
            self.done_for(slot.symbol);
        }
    }

    /// A job of `symbol` succeeded: counts its poll and moves on if it is the current one (a
    /// symbol added while the request ran stays next; a removed one is not counted).
    pub fn done_for(&mut self, symbol: Symbol) {
        let Some(i) = self.slots.iter().position(|s| s.symbol == symbol) else {
            return;
        };
        self.slots[i].polls = self.slots[i].polls.saturating_add(1);
        if i == self.cursor {
            self.cursor = (i + 1) % self.slots.len();
        }
    }

    /// Stops polling `symbol` (the venue does not know it).
    pub fn drop_symbol(&mut self, symbol: Symbol) {
        let Some(i) = self.slots.iter().position(|s| s.symbol == symbol) else {
            return;
        };
        self.slots.remove(i);
        self.dropped.push(symbol);
        if i < self.cursor {
            self.cursor -= 1;
        }
        if self.cursor >= self.slots.len() {
            self.cursor = 0;
        }
    }

    /// Starts polling `symbol` (added from the monitor): its first request is the next one and
    /// urgent, like a configured symbol's first. False when it is polled already.
    pub fn add(&mut self, symbol: Symbol) -> bool {
        if self.slots.iter().any(|s| s.symbol == symbol) {
            return false;
        }
        self.dropped.retain(|d| *d != symbol);
        let at = self.cursor.min(self.slots.len());
        self.slots.insert(at, Slot { symbol, polls: 0 });
        self.cursor = at;
        true
    }

    /// Stops polling `symbol` (removed from the monitor), and forgets it among the unknown
    /// ones. False when it is neither polled nor unknown.
    pub fn remove(&mut self, symbol: Symbol) -> bool {
        let was_dropped = self.dropped.contains(&symbol);
        self.dropped.retain(|d| *d != symbol);
        let Some(i) = self.slots.iter().position(|s| s.symbol == symbol) else {
            return was_dropped;
        };
        self.slots.remove(i);
        if i < self.cursor {
            self.cursor -= 1;
        }
        if self.cursor >= self.slots.len() {
            self.cursor = 0;
        }
        true
    }

    /// Whether `symbol` is polled.
    pub fn contains(&self, symbol: Symbol) -> bool {
        self.slots.iter().any(|s| s.symbol == symbol)
    }

    /// Stops calling `f` (the key may not use it). False when nothing is left to call.
    pub fn disable(&mut self, f: Function) -> bool {
        self.mode = match (self.mode, f) {
            (Mode::QuoteAndCandles, Function::Intraday) => Mode::Quote,
            (Mode::QuoteAndCandles, Function::Quote) => Mode::Candles,
            (Mode::Quote, Function::Intraday) | (Mode::Candles, Function::Quote) => self.mode,
            (Mode::Quote, Function::Quote) | (Mode::Candles, Function::Intraday) => return false,
        };
        true
    }

    pub fn active(&self) -> usize {
        self.slots.len()
    }

    pub fn dropped(&self) -> &[Symbol] {
        &self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn utc(s: &str) -> TsMs {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
            .unwrap()
            .and_utc()
            .timestamp_millis()
    }

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    const FREE: Limits = Limits {
        per_day: 25,
        per_minute: 5,
    };

    /// Runs the scheduler like the source does, from `start` to `end`; the request times.
    fn simulate(start: TsMs, end: TsMs, symbols: usize, limits: Limits) -> Vec<TsMs> {
        let syms: Vec<Symbol> = (0..symbols).map(|i| sym(&format!("S{i}"))).collect();
        let mut rot = Rotation::new(&syms, Mode::QuoteAndCandles, 2);
        let mut count = DayCount::new(start);
        let mut sent = Vec::new();
        let mut now = start;
        loop {
            let job = rot.current().unwrap();
            let used = count.used(now);
            now = next_request_at(now, sent.last().copied(), used, limits, job.urgent);
            if now >= end {
                return sent;
            }
            count.record(now);
            sent.push(now);
            rot.done();
        }
    }

    #[test]
    fn twenty_five_a_day_for_three_symbols() {
        // midnight US/Eastern, 2024-01-08 (a Monday)
        let day = utc("2024-01-08 05:00:00");
        let sent = simulate(day, day + 86_400_000, 3, FREE);
        assert_eq!(sent.len(), 25, "the whole budget, no more");
        // the first round goes out at once, 12 s apart (5 a minute)
        assert_eq!(&sent[..3], &[day, day + 12_000, day + 24_000]);
        // then even gaps of the rest of the day over 22 requests + tomorrow's first
        let gaps: Vec<TsMs> = sent.windows(2).skip(2).map(|w| w[1] - w[0]).collect();
        let expected = (86_400_000 - 24_000) / 23;
        assert!(
            gaps.iter().all(|g| (g - expected).abs() <= 1),
            "{gaps:?} vs {expected}"
        );
        // so each symbol is polled every ~3 h 8 min = 3 × 24 h / (25 − 3 + 1)
        let per_symbol = sent[6] - sent[3];
        assert!(
            (per_symbol - 3 * 86_400_000 / 23).abs() < 60_000,
            "{per_symbol}"
        );
        // and tomorrow starts again at midnight, with a fresh budget
        let two = simulate(day, day + 2 * 86_400_000, 3, FREE);
        assert_eq!(two.len(), 50);
        assert_eq!(two[25], day + 86_400_000);
    }

    #[test]
    fn never_more_than_the_minute_allows() {
        // a large daily budget: the per-minute limit is what binds
        let limits = Limits {
            per_day: 100_000,
            per_minute: 5,
        };
        let start = utc("2024-01-08 14:30:00");
        let sent = simulate(start, start + 3_600_000, 10, limits);
        assert!(sent.len() > 100);
        for (i, &t) in sent.iter().enumerate() {
            let in_window = sent[i..].iter().take_while(|&&u| u < t + 60_000).count();
            assert!(
                in_window <= 5,
                "{in_window} requests in the minute from {t}"
            );
        }
        assert_eq!(
            Limits {
                per_day: 1,
                per_minute: 7
            }
            .spacing_ms(),
            8_572
        );
    }

    #[test]
    fn a_late_start_spreads_what_is_left_of_the_day() {
        // 18:00 US/Eastern: 6 hours left
        let start = utc("2024-01-08 23:00:00");
        let sent = simulate(start, utc("2024-01-09 05:00:00"), 3, FREE);
        assert_eq!(sent.len(), 25);
        let gap = sent[4] - sent[3];
        assert!((gap - (6 * 3_600_000 - 24_000) / 23).abs() <= 1, "{gap}");
        // a day that ends at a daylight-saving switch is 23 hours long
        let spring = utc("2024-03-10 05:00:00");
        let sent = simulate(spring, spring + 23 * 3_600_000, 1, FREE);
        assert_eq!(sent.len(), 25);
        assert!(sent.iter().all(|&t| eastern_day(t) == eastern_day(spring)));
    }

    #[test]
    fn a_spent_budget_waits_for_eastern_midnight() {
        let now = utc("2024-01-08 20:00:00");
        let midnight = utc("2024-01-09 05:00:00");
        assert_eq!(
            next_request_at(now, Some(now - 1_000), 25, FREE, true),
            midnight
        );
        let mut c = DayCount::new(now);
        c.record(now);
        assert_eq!(c.used(now), 1);
        c.exhaust(now, 25);
        assert_eq!(c.used(now + 1_000), 25);
        // 04:59:59 UTC is still the same day in New York; 05:00 is a new one
        assert_eq!(c.used(midnight - 1), 25);
        assert_eq!(c.used(midnight), 0);
        // nothing sent yet: at once
        assert_eq!(next_request_at(now, None, 0, FREE, false), now);
    }

    #[test]
    fn symbols_added_go_next_and_removed_ones_are_skipped() {
        let mut r = Rotation::new(&[sym("IBM"), sym("AAPL")], Mode::QuoteAndCandles, 2);
        r.done(); // IBM's first poll is done; AAPL is next
        assert!(r.add(sym("MSFT")));
        assert!(!r.add(sym("IBM")), "already polled");
        // the new symbol's first poll is the next request, and urgent
        let j = r.current().unwrap();
        assert_eq!(
            (j.symbol, j.function, j.urgent),
            (sym("MSFT"), Function::Intraday, true)
        );
        r.done();
        assert_eq!(r.current().unwrap().symbol, sym("AAPL"));
        r.done();
        assert_eq!(r.current().unwrap().symbol, sym("IBM"));
        assert!(!r.current().unwrap().urgent);
        // removing the current one moves on; removing one behind keeps the place
        assert!(r.remove(sym("IBM")));
        assert_eq!(r.current().unwrap().symbol, sym("MSFT"));
        assert!(r.remove(sym("AAPL")));
        assert_eq!(r.current().unwrap().symbol, sym("MSFT"));
        assert!(!r.remove(sym("TSLA")));
        assert_eq!(r.active(), 1);
        assert!(r.contains(sym("MSFT")) && !r.contains(sym("IBM")));
        // an unknown (dropped) symbol can be removed from the list, or added again
        r.drop_symbol(sym("MSFT"));
        assert_eq!(r.current(), None);
        assert!(r.add(sym("MSFT")));
        assert!(r.dropped().is_empty());
        r.drop_symbol(sym("MSFT"));
        assert!(r.remove(sym("MSFT")));
        assert!(r.dropped().is_empty());
        assert_eq!(r.active(), 0);
        // added again after a removal: a fresh start (candles first, at once)
        assert!(r.add(sym("IBM")));
        let j = r.current().unwrap();
        assert_eq!(
            (j.symbol, j.function, j.urgent),
            (sym("IBM"), Function::Intraday, true)
        );
    }

    #[test]
    fn rotation_alternates_functions_and_survives_drops() {
        let syms = [sym("IBM"), sym("FOO"), sym("AAPL")];
        let mut r = Rotation::new(&syms, Mode::QuoteAndCandles, 2);
        let mut seen = Vec::new();
        for _ in 0..6 {
            let j = r.current().unwrap();
            seen.push((j.symbol.to_string(), j.function, j.urgent));
            r.done();
        }
        use Function::*;
        assert_eq!(
            seen,
            vec![
                ("IBM".into(), Intraday, true),
                ("FOO".into(), Intraday, true),
                ("AAPL".into(), Intraday, true),
                ("IBM".into(), Quote, false),
                ("FOO".into(), Quote, false),
                ("AAPL".into(), Quote, false),
            ]
        );
        // a failed job is asked for again; a dropped symbol is skipped
        assert_eq!(r.current().unwrap().symbol, sym("IBM"));
        r.done();
        assert_eq!(r.current().unwrap().symbol, sym("FOO"));
        r.drop_symbol(sym("FOO"));
        assert_eq!(r.current().unwrap().symbol, sym("AAPL"));
        assert_eq!(r.current().unwrap().function, Intraday);
        r.done();
        assert_eq!(r.current().unwrap().symbol, sym("IBM"));
        assert_eq!((r.active(), r.dropped()), (2, &[sym("FOO")][..]));
        // premium candles: quotes only; then nothing
        assert!(r.disable(Intraday));
        assert_eq!(r.current().unwrap().function, Quote);
        assert!(!r.disable(Quote));
        r.drop_symbol(sym("IBM"));
        r.drop_symbol(sym("AAPL"));
        assert_eq!(r.current(), None);
        let q = Rotation::new(&syms, Mode::Quote, 2);
        assert_eq!(q.current().unwrap().function, Quote);
        let c = Rotation::new(&syms, Mode::Candles, 2);
        assert_eq!(c.current().unwrap().function, Intraday);
    }
}
