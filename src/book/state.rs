//! Whether a book may be trusted, what each message did to it, and the counts a screen shows.
//! Every venue machine reports through these same types, so a UI reads one `Status` for any
//! venue and never draws a book that is not [`BookState::Synced`] as if it were live.

use std::fmt;

/// Why a book stopped being trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A message's sequence id did not follow the previous one: updates were lost.
    Gap { expected: u64, got: u64 },
    /// The venue's checksum of its top levels differs from ours.
    Checksum { expected: u32, computed: u32 },
    /// The venue restarted its book (Bybit `u` = 1): the old one is void.
    Restart,
    /// Best bid at or above best ask (Coinbase: the only check its public feed allows).
    Crossed,
    /// The snapshot is older than the first buffered diff (Binance step 4): fetch it again.
    SnapshotTooOld {
        last_update_id: u64,
        first_buffered: u64,
    },
    /// The connection dropped and the venue has no sequence to say what was missed.
    Disconnected,
    /// A book frame never reached the machine (unreadable, or dropped while the book task was
    /// behind): what it changed is unknown.
    Lost,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Gap { expected, got } => write!(f, "gap: expected id {expected}, got {got}"),
            Reason::Checksum { expected, computed } => {
                write!(f, "checksum failed: venue {expected}, ours {computed}")
            }
            Reason::Restart => f.write_str("venue restarted its book"),
            Reason::Crossed => f.write_str("book crossed (bid >= ask)"),
            Reason::SnapshotTooOld {
                last_update_id,
                first_buffered,
            } => write!(
                f,
                "snapshot {last_update_id} older than first buffered diff {first_buffered}"
            ),
            Reason::Disconnected => f.write_str("disconnected"),
            Reason::Lost => f.write_str("a book frame was lost (unreadable or dropped)"),
        }
    }
}

/// What the session must do to bring the book back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Fetch a REST snapshot (Binance) and pass it to the machine.
    Snapshot,
    /// Unsubscribe and subscribe again: the venue sends a fresh snapshot (Kraken, OKX, Bybit,
    /// Coinbase).
    Resubscribe,
}

/// Whether the book may be drawn as live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookState {
    /// No snapshot yet (diffs may be buffered).
    AwaitingSnapshot,
    /// Every update so far followed the venue's rules; the book is the venue's book.
    Synced,
    /// The book was discarded for this reason; waiting for a new snapshot.
    Resyncing(Reason),
}

/// Counts of everything that happened to a book, none of it silent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Snapshots loaded.
    pub snapshots: u64,
    /// Update messages applied to a synced book.
    pub applied: u64,
    /// Diffs held until a snapshot (Binance).
    pub buffered: u64,
    /// Messages older than the book, dropped as the venue's procedure says.
    pub stale: u64,
    /// Updates dropped because the book was not synced (waiting for a snapshot).
    pub unsynced: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Checksum mismatches.
    pub checksum_failures: u64,
    /// Times the book was discarded (any reason).
    pub resyncs: u64,
    /// Buffered diffs thrown away because the buffer was full.
    pub overflowed: u64,
    /// Snapshots that announced a venue-side restart (Bybit `u` = 1).
    pub restarts: u64,
}

/// A book's state and counters: what a screen shows next to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    pub state: BookState,
    pub counters: Counters,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: BookState::AwaitingSnapshot,
            counters: Counters::default(),
        }
    }
}

impl Status {
    pub fn is_synced(&self) -> bool {
        self.state == BookState::Synced
    }

    /// Records a discarded book: state, the reason's counter and the resync count.
    pub(crate) fn fail(&mut self, reason: Reason) {
        match reason {
            Reason::Gap { .. } => self.counters.gaps += 1,
            Reason::Checksum { .. } => self.counters.checksum_failures += 1,
            _ => {}
        }
        self.counters.resyncs += 1;
        self.state = BookState::Resyncing(reason);
    }

    /// Discards a synced book for `reason` (a book already waiting for a snapshot stays as it
    /// is: it was counted when it stopped being trusted).
    pub(crate) fn discard(&mut self, reason: Reason) {
        if self.is_synced() {
            self.fail(reason);
        }
    }

    /// Records a loaded snapshot.
    pub(crate) fn snapshot(&mut self) {
        self.counters.snapshots += 1;
        self.state = BookState::Synced;
    }
}

/// One line for a status bar: "synced", "awaiting snapshot", "resyncing (gap: ...)", then the
/// non-zero failure counts ("gap (2)", "checksum failed (1)").
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state {
            BookState::Synced => f.write_str("synced")?,
            BookState::AwaitingSnapshot => f.write_str("awaiting snapshot")?,
            BookState::Resyncing(r) => write!(f, "resyncing ({r})")?,
        }
        let c = &self.counters;
        for (label, n) in [
            ("gap", c.gaps),
            ("checksum failed", c.checksum_failures),
            ("resyncs", c.resyncs),
            ("stale", c.stale),
            ("dropped unsynced", c.unsynced),
            ("overflowed", c.overflowed),
            ("venue restarts", c.restarts),
        ] {
            if n > 0 {
                write!(f, " · {label} ({n})")?;
            }
        }
        Ok(())
    }
}

/// What one message did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Applied to a synced book.
    Applied,
    /// A snapshot (with any buffered diffs) made the book synced.
    Synced,
    /// Held until a snapshot arrives.
    Buffered,
    /// Older than the book; dropped per the venue's procedure (counted).
    Stale,
    /// Dropped because the book is waiting for a snapshot (counted).
    Unsynced,
    /// The book was discarded; the session must do `need`.
    Resync { reason: Reason, need: Need },
}

impl Outcome {
    /// What the session must do now, if anything.
    pub fn need(&self) -> Option<Need> {
        match self {
            Outcome::Resync { need, .. } => Some(*need),
            _ => None,
        }
    }
}

/// What every venue's sync machine shows: its book, its status, and from those the book only
/// while it is synced and what the session must do while it is not.
pub trait BookMachine {
    type Level: super::ladder::Level;
    /// How this venue's book comes back once it is not synced.
    const NEED: Need;

    /// The book whatever its state (for diagnostics; may be empty or out of date).
    fn book(&self) -> &super::Book<Self::Level>;
    fn status(&self) -> Status;

    /// The book only while it is synced: what a screen may draw as live.
    fn synced_book(&self) -> Option<&super::Book<Self::Level>> {
        self.status().is_synced().then(|| self.book())
    }

    /// What the session must do, whenever the book is not synced.
    fn need(&self) -> Option<Need> {
        (!self.status().is_synced()).then_some(Self::NEED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_names_state_and_failure_counts() {
        let mut s = Status::default();
        assert_eq!(s.to_string(), "awaiting snapshot");
        s.snapshot();
        assert_eq!(s.to_string(), "synced");
        s.fail(Reason::Checksum {
            expected: 1,
            computed: 2,
        });
        assert!(!s.is_synced());
        assert_eq!(
            s.to_string(),
            "resyncing (checksum failed: venue 1, ours 2) · checksum failed (1) · resyncs (1)"
        );
        s.snapshot();
        s.fail(Reason::Gap {
            expected: 5,
            got: 7,
        });
        assert_eq!(s.counters.gaps, 1);
        assert_eq!(s.counters.resyncs, 2);
    }
}
