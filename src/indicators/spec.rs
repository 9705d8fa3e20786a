//! Indicator names as users type them ("sma20", "bb20_2.5", "macd", "z100") and the column
//! names they produce.

use std::fmt;
use std::str::FromStr;

use super::error::{IndicatorError, check_period};

/// Listed in every parse error so the user can fix the text without reading the docs.
pub const ACCEPTED_FORMS: &str = "sma<N>, ema<N>, rsi<N>, bb<N> (k = 2) or bb<N>_<K>, macd (12,26,9) or \
     macd<FAST>_<SLOW>_<SIGNAL>, z (span 50, warm-up 20) or z<SPAN> or z<SPAN>_<WARMUP>; \
     case-insensitive, e.g. sma20, rsi14, bb20_2.5, macd12_26_9, z100";

const DEFAULT_BB_K: f64 = 2.0;
const DEFAULT_MACD: (usize, usize, usize) = (12, 26, 9);
const DEFAULT_Z_SPAN: usize = 50;
const DEFAULT_Z_WARMUP: usize = 20;

/// One indicator with its parameters. `ZScore` is the EW z-score of log returns of closes.
#[derive(Debug, Clone, PartialEq)]
pub enum IndicatorSpec {
    Sma(usize),
    Ema(usize),
    Rsi(usize),
    Bollinger {
        period: usize,
        k: f64,
    },
    Macd {
        fast: usize,
        slow: usize,
        signal: usize,
    },
    ZScore {
        span: usize,
        warmup: usize,
    },
}

impl IndicatorSpec {
    /// Reads one indicator from text (see [`ACCEPTED_FORMS`]) and validates its parameters.
    pub fn parse(s: &str) -> Result<IndicatorSpec, IndicatorError> {
        let text = s.trim().to_ascii_lowercase();
        let fail = |reason: String| IndicatorError::Parse {
            text: s.to_string(),
            reason,
        };
        // The name is the leading letters; the rest are '_'-separated parameters.
        let split = text
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(text.len());
        let (name, rest) = text.split_at(split);
        let params: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('_').collect()
        };
        let int = |p: &str, what: &str| -> Result<usize, IndicatorError> {
            // `usize::from_str` also takes "+5"; only plain digits are part of the syntax.
            let digits = !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
            let n = if digits {
                p.parse::<usize>().ok()
            } else {
                None
            };
            n.ok_or_else(|| {
                fail(format!(
                    "{what} {p:?} is not a whole number up to {}",
                    super::MAX_PERIOD
                ))
            })
        };
        let spec = match (name, params.as_slice()) {
            ("sma" | "ema" | "rsi", []) => {
                return Err(fail(format!("{name} needs a period, e.g. {name}14")));
            }
            ("sma", [n]) => IndicatorSpec::Sma(int(n, "period")?),
            ("ema", [n]) => IndicatorSpec::Ema(int(n, "period")?),
            ("rsi", [n]) => IndicatorSpec::Rsi(int(n, "period")?),
            ("bb", []) => return Err(fail("bb needs a period, e.g. bb20 or bb20_2.5".into())),
            ("bb", [n]) => IndicatorSpec::Bollinger {
                period: int(n, "period")?,
                k: DEFAULT_BB_K,
            },
            ("bb", [n, k]) => {
                let k = k
                    .parse::<f64>()
                    .map_err(|_| fail(format!("multiplier {k:?} is not a number")))?;
                IndicatorSpec::Bollinger {
                    period: int(n, "period")?,
                    k,
                }
            }
            ("macd", []) => {
                let (fast, slow, signal) = DEFAULT_MACD;
                IndicatorSpec::Macd { fast, slow, signal }
            }
            ("macd", [f, s, g]) => IndicatorSpec::Macd {
                fast: int(f, "fast period")?,
                slow: int(s, "slow period")?,
                signal: int(g, "signal period")?,
            },
            ("macd", _) => {
                return Err(fail(
                    "macd takes no numbers or exactly three (fast_slow_signal)".into(),
                ));
            }
            ("z", []) => IndicatorSpec::ZScore {
                span: DEFAULT_Z_SPAN,
                warmup: DEFAULT_Z_WARMUP,
            },
            ("z", [n]) => IndicatorSpec::ZScore {
                span: int(n, "span")?,
                warmup: DEFAULT_Z_WARMUP,
            },
            ("z", [n, w]) => IndicatorSpec::ZScore {
                span: int(n, "span")?,
                warmup: int(w, "warm-up")?,
            },
            ("sma" | "ema" | "rsi" | "bb" | "z", _) => {
                return Err(fail(format!("unexpected text {rest:?} after {name}")));
            }
            ("", _) => return Err(fail("it does not start with an indicator name".into())),
            _ => return Err(fail(format!("unknown indicator name {name:?}"))),
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks the parameters (periods 1..=100000, fast < slow, k finite and > 0, span >= 2).
    pub fn validate(&self) -> Result<(), IndicatorError> {
        match *self {
            IndicatorSpec::Sma(n) => check_period("SMA", "period", n, 1).map(drop),
            IndicatorSpec::Ema(n) => check_period("EMA", "period", n, 1).map(drop),
            IndicatorSpec::Rsi(n) => check_period("RSI", "period", n, 1).map(drop),
            IndicatorSpec::Bollinger { period, k } => {
                check_period("Bollinger", "period", period, 1)?;
                if k.is_finite() && k > 0.0 {
                    Ok(())
                } else {
                    Err(IndicatorError::InvalidMultiplier { k })
                }
            }
            IndicatorSpec::Macd { fast, slow, signal } => {
                check_period("MACD", "fast period", fast, 1)?;
                check_period("MACD", "slow period", slow, 1)?;
                check_period("MACD", "signal period", signal, 1)?;
                if fast < slow {
                    Ok(())
                } else {
                    Err(IndicatorError::FastNotBelowSlow { fast, slow })
                }
            }
            IndicatorSpec::ZScore { span, warmup } => {
                check_period("z-score", "span", span, 2)?;
                check_period("z-score", "warm-up", warmup, 0).map(drop)
            }
        }
    }

    /// Canonical text, accepted back by [`IndicatorSpec::parse`]; defaults are left out.
    pub fn label(&self) -> String {
        match *self {
            IndicatorSpec::Sma(n) => format!("sma{n}"),
            IndicatorSpec::Ema(n) => format!("ema{n}"),
            IndicatorSpec::Rsi(n) => format!("rsi{n}"),
            IndicatorSpec::Bollinger { period, k } if k == DEFAULT_BB_K => format!("bb{period}"),
            IndicatorSpec::Bollinger { period, k } => format!("bb{period}_{k}"),
            IndicatorSpec::Macd { fast, slow, signal } if (fast, slow, signal) == DEFAULT_MACD => {
                "macd".into()
            }
            IndicatorSpec::Macd { fast, slow, signal } => format!("macd{fast}_{slow}_{signal}"),
            IndicatorSpec::ZScore { span, warmup } => {
                match (span == DEFAULT_Z_SPAN, warmup == DEFAULT_Z_WARMUP) {
                    (true, true) => "z".into(),
                    (_, true) => format!("z{span}"),
                    _ => format!("z{span}_{warmup}"),
                }
            }
        }
    }

    /// Output column names, in the order `IndicatorSet::update` fills them.
    pub fn columns(&self) -> Vec<String> {
        let label = self.label();
        match self {
            IndicatorSpec::Bollinger { .. } => {
                vec![
                    format!("{label}_upper"),
                    format!("{label}_mid"),
                    format!("{label}_lower"),
                ]
            }
            IndicatorSpec::Macd { .. } => vec![
                label.clone(),
                format!("{label}_signal"),
                format!("{label}_hist"),
            ],
            _ => vec![label],
        }
    }

    /// What the engine computes when the user names nothing.
    pub fn default_set() -> Vec<IndicatorSpec> {
        let (fast, slow, signal) = DEFAULT_MACD;
        vec![
            IndicatorSpec::Sma(20),
            IndicatorSpec::Ema(20),
            IndicatorSpec::Rsi(14),
            IndicatorSpec::Bollinger {
                period: 20,
                k: DEFAULT_BB_K,
            },
            IndicatorSpec::Macd { fast, slow, signal },
            IndicatorSpec::ZScore {
                span: DEFAULT_Z_SPAN,
                warmup: DEFAULT_Z_WARMUP,
            },
        ]
    }
}

impl fmt::Display for IndicatorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl FromStr for IndicatorSpec {
    type Err = IndicatorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IndicatorSpec::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parses_every_form() {
        let cases = [
            ("sma20", IndicatorSpec::Sma(20)),
            ("EMA50", IndicatorSpec::Ema(50)),
            (" rsi14 ", IndicatorSpec::Rsi(14)),
            ("bb20", IndicatorSpec::Bollinger { period: 20, k: 2.0 }),
            ("BB20_2.5", IndicatorSpec::Bollinger { period: 20, k: 2.5 }),
            (
                "macd",
                IndicatorSpec::Macd {
                    fast: 12,
                    slow: 26,
                    signal: 9,
                },
            ),
            (
                "macd5_35_5",
                IndicatorSpec::Macd {
                    fast: 5,
                    slow: 35,
                    signal: 5,
                },
            ),
            (
                "z",
                IndicatorSpec::ZScore {
                    span: 50,
                    warmup: 20,
                },
            ),
            (
                "z100",
                IndicatorSpec::ZScore {
                    span: 100,
                    warmup: 20,
                },
            ),
            (
                "Z100_5",
                IndicatorSpec::ZScore {
                    span: 100,
                    warmup: 5,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(IndicatorSpec::parse(text).unwrap(), want, "{text}");
            assert_eq!(text.parse::<IndicatorSpec>().unwrap(), want, "{text}");
        }
    }

    #[test]
    fn rejects_with_a_useful_message() {
        for bad in [
            "",
            "sma",
            "sma0",
            "sma20x",
            "sma-5",
            "foo20",
            "20",
            "bb20_0",
            "bb20_-1",
            "bb20_nan",
            "bb20_inf",
            "bb20_2_3",
            "macd12_26",
            "macd26_12_9",
            "macd12_12_9",
            "macd12_26_0",
            "z1",
            "rsi99999999999999999999",
            "sma100001",
            "ema 20",
            "sma+5",
        ] {
            let err = IndicatorSpec::parse(bad).expect_err(bad);
            let msg = err.to_string();
            assert!(!msg.is_empty());
            if let IndicatorError::Parse { text, .. } = &err {
                assert_eq!(text, bad);
                assert!(
                    msg.contains(&format!("{bad:?}")) && msg.contains(ACCEPTED_FORMS),
                    "{msg}"
                );
            }
        }
        let msg = IndicatorSpec::parse("foo20").unwrap_err().to_string();
        assert!(
            msg.contains("\"foo20\"") && msg.contains("sma<N>") && msg.contains("macd"),
            "{msg}"
        );
        let msg = IndicatorSpec::parse("macd26_12_9").unwrap_err().to_string();
        assert!(msg.contains("26") && msg.contains("smaller"), "{msg}");
    }

    #[test]
    fn columns_and_labels() {
        let cols: Vec<Vec<String>> = IndicatorSpec::default_set()
            .iter()
            .map(IndicatorSpec::columns)
            .collect();
        assert_eq!(
            cols.concat(),
            [
                "sma20",
                "ema20",
                "rsi14",
                "bb20_upper",
                "bb20_mid",
                "bb20_lower",
                "macd",
                "macd_signal",
                "macd_hist",
                "z"
            ]
        );
        assert_eq!(
            IndicatorSpec::parse("bb20_2.5").unwrap().columns(),
            ["bb20_2.5_upper", "bb20_2.5_mid", "bb20_2.5_lower"]
        );
        assert_eq!(
            IndicatorSpec::parse("macd12_26_10").unwrap().columns(),
            ["macd12_26_10", "macd12_26_10_signal", "macd12_26_10_hist"]
        );
        assert_eq!(IndicatorSpec::parse("macd12_26_9").unwrap().label(), "macd");
        assert_eq!(IndicatorSpec::parse("z100").unwrap().columns(), ["z100"]);
        assert_eq!(
            IndicatorSpec::ZScore {
                span: 50,
                warmup: 3
            }
            .label(),
            "z50_3"
        );
        assert_eq!(
            IndicatorSpec::Bollinger { period: 20, k: 3.0 }.label(),
            "bb20_3"
        );
    }

    fn any_spec() -> impl Strategy<Value = IndicatorSpec> {
        prop_oneof![
            (1usize..500).prop_map(IndicatorSpec::Sma),
            (1usize..500).prop_map(IndicatorSpec::Ema),
            (1usize..500).prop_map(IndicatorSpec::Rsi),
            (1usize..500, 0.01f64..10.0)
                .prop_map(|(period, k)| IndicatorSpec::Bollinger { period, k }),
            (1usize..50, 1usize..50, 1usize..50).prop_map(|(fast, d, signal)| {
                IndicatorSpec::Macd {
                    fast,
                    slow: fast + d,
                    signal,
                }
            }),
            (2usize..500, 0usize..500)
                .prop_map(|(span, warmup)| IndicatorSpec::ZScore { span, warmup }),
        ]
    }

    proptest! {
        #[test]
        fn label_round_trips(spec in any_spec()) {
            prop_assert_eq!(IndicatorSpec::parse(&spec.label()).unwrap(), spec.clone());
            prop_assert_eq!(IndicatorSpec::parse(&spec.label().to_uppercase()).unwrap(), spec);
        }
    }
}
