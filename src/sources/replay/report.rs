//! Counters a replay keeps for the CLI and the status bar.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// How far a replay got and what it skipped. Shared with the caller through an `Arc` so it can
/// be read while the replay runs and printed after it ends.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Rows turned into events (sent or about to be sent).
    pub rows: AtomicU64,
    /// Rows that were malformed and skipped (`--skip-bad`).
    pub bad_rows: AtomicU64,
    /// Rows replayed already (a repeated trade id, a repeated kline) and skipped: they change
    /// nothing, and are not in `rows`.
    pub duplicates: AtomicU64,
    /// Files read to the end and delivered.
    pub files_done: AtomicU64,
    /// The first [`ReplayReport::MAX_SAMPLES`] bad-row messages.
    samples: Mutex<Vec<String>>,
}

impl ReplayReport {
    pub const MAX_SAMPLES: usize = 20;

    /// The first bad-row messages, each naming the file and line.
    pub fn bad_samples(&self) -> Vec<String> {
        match self.samples.lock() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn note_bad(&self, msg: String) {
        let n = self.bad_rows.fetch_add(1, Ordering::Relaxed);
        if n < Self::MAX_SAMPLES as u64 {
            let mut g = match self.samples.lock() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            g.push(msg);
        }
    }

    /// One line: rows, files, duplicates and bad rows so far.
    pub fn summary(&self) -> String {
        let rows = self.rows.load(Ordering::Relaxed);
        let files = self.files_done.load(Ordering::Relaxed);
        let bad = self.bad_rows.load(Ordering::Relaxed);
        let dups = self.duplicates.load(Ordering::Relaxed);
        let mut s = format!("replayed {rows} rows from {files} file(s)");
        if dups > 0 {
            s.push_str(&format!("; {dups} duplicates skipped"));
        }
        if bad > 0 {
            s.push_str(&format!("; skipped {bad} bad row(s)"));
            if let Some(first) = self.bad_samples().first() {
                s.push_str(&format!(", the first: {first}"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_samples_and_counts_all() {
        let r = ReplayReport::default();
        for i in 0..25 {
            r.note_bad(format!("f.csv:{i}: bad"));
        }
        assert_eq!(r.bad_rows.load(Ordering::Relaxed), 25);
        let s = r.bad_samples();
        assert_eq!(s.len(), ReplayReport::MAX_SAMPLES);
        assert_eq!(s[0], "f.csv:0: bad");
        assert!(
            r.summary()
                .contains("skipped 25 bad row(s), the first: f.csv:0: bad")
        );
        assert!(!r.summary().contains("duplicates"));
        r.duplicates.store(3, Ordering::Relaxed);
        assert!(r.summary().contains("; 3 duplicates skipped"));
    }
}
