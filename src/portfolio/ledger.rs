//! Positions and P/L from a ledger.
