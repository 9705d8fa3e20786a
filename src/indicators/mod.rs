//! Technical indicators, each an O(1)-per-value state machine.
