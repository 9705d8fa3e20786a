//! The built-in market simulator.
