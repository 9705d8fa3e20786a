//! Trade-history exports of exchanges, turned into ledger [`Entry`](super::Entry)s.
