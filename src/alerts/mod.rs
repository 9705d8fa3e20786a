//! Alert rules (pure evaluation) and the sinks that deliver fired alerts to a person.

pub mod desktop;
pub mod notifier;
pub mod rules;

pub use rules::{AlertRule, Condition, RuleError, RuleState, SymbolFilter};
