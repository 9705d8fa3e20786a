//! Alert rules (pure evaluation) and the sinks that deliver fired alerts to a person.

pub mod desktop;
pub mod notifier;
pub mod outcome;
pub mod rules;
pub mod sinks;

pub use outcome::DeliveryOutcome;
pub use rules::{AlertRule, Condition, RuleError, RuleState, SymbolFilter};

use serde::{Deserialize, Serialize};

/// How urgent an alert is: sets the desktop notification's urgency and can route sinks.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Deserialize, Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "warning" | "warn" => Ok(Severity::Warning),
            "critical" | "crit" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?}; expected info, warning or critical"
            )),
        }
    }
}
