//! Which indicator columns the chart draws, recognised by their names (see
//! `crate::indicators::IndicatorSpec::columns`): sma20, ema50, bb20_upper, bb20_2.5_mid, rsi14,
//! macd / macd12_26_10 with _signal and _hist.

use ratatui::style::Color;

use crate::ui::chart_opts::ChartOpts;
use crate::ui::theme::Theme;

/// Kinds of price overlay, in drawing order: bands first so the averages are drawn on top of
/// them. (legend, colour in the dark theme; see [`overlay_color`] for the active theme)
pub const OVERLAY_KINDS: [(&str, Color); 4] = [
    ("Bollinger", Theme::DARK.bband),
    ("Bollinger mid", Theme::DARK.bbmid),
    ("SMA", Theme::DARK.sma),
    ("EMA", Theme::DARK.ema),
];

/// How an indicator column is drawn over the price: (kind index in [`OVERLAY_KINDS`], legend
/// label), or None for columns on another scale (RSI, MACD, z-scores).
pub fn overlay_of(column: &str) -> Option<(usize, String)> {
    if numbered(column, "sma") {
        return Some((2, column.to_ascii_uppercase()));
    }
    if numbered(column, "ema") {
        return Some((3, column.to_ascii_uppercase()));
    }
    let band = column.strip_prefix("bb")?;
    for (suffix, kind) in [("_upper", 0), ("_lower", 0), ("_mid", 1)] {
        if let Some(params) = band.strip_suffix(suffix) {
            return Some((kind, format!("BB{params}")));
        }
    }
    None
}

/// The colour of an overlay kind in `theme`.
pub fn overlay_color(theme: &Theme, kind: usize) -> Color {
    match kind {
        0 => theme.bband,
        1 => theme.bbmid,
        2 => theme.sma,
        _ => theme.ema,
    }
}

/// Whether the options show overlays of `kind`.
pub fn overlay_on(opts: &ChartOpts, kind: usize) -> bool {
    match kind {
        0 | 1 => opts.bollinger,
        2 => opts.sma,
        _ => opts.ema,
    }
}

/// `prefix` followed by a non-empty run of digits ("rsi14").
fn numbered(column: &str, prefix: &str) -> bool {
    column
        .strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Index of the first RSI column ("rsi14").
pub fn rsi(columns: &[String]) -> Option<usize> {
    columns.iter().position(|c| numbered(c, "rsi"))
}

/// Indexes of the first MACD's line, signal and histogram columns ("macd", "macd_signal",
/// "macd_hist", or the same with parameters: "macd12_26_10_signal").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MacdColumns {
    pub line: usize,
    pub signal: Option<usize>,
    pub hist: Option<usize>,
}

pub fn macd(columns: &[String]) -> Option<MacdColumns> {
    let is_line = |c: &str| {
        c.strip_prefix("macd").is_some_and(|p| {
            p.is_empty()
                || (p.split('_').count() == 3
                    && p.split('_')
                        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
        })
    };
    let line = columns.iter().position(|c| is_line(c))?;
    let name = &columns[line];
    let find = |suffix: &str| columns.iter().position(|c| *c == format!("{name}{suffix}"));
    Some(MacdColumns {
        line,
        signal: find("_signal"),
        hist: find("_hist"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn overlays_are_recognised_by_column_name() {
        assert_eq!(overlay_of("sma50"), Some((2, "SMA50".into())));
        assert_eq!(overlay_of("ema20"), Some((3, "EMA20".into())));
        assert_eq!(overlay_of("bb20_2.5_upper"), Some((0, "BB20_2.5".into())));
        assert_eq!(overlay_of("bb20_mid"), Some((1, "BB20".into())));
        for other in ["rsi14", "macd12_26_9", "z100", "sma", "smax"] {
            assert_eq!(overlay_of(other), None, "{other}");
        }
    }

    #[test]
    fn rsi_and_macd_columns() {
        let c = cols(&["sma20", "rsi14", "macd", "macd_signal", "macd_hist", "z"]);
        assert_eq!(rsi(&c), Some(1));
        assert_eq!(
            macd(&c),
            Some(MacdColumns {
                line: 2,
                signal: Some(3),
                hist: Some(4)
            })
        );
        let c = cols(&["macd5_35_5_hist", "macd5_35_5", "macd5_35_5_signal"]);
        assert_eq!(
            macd(&c),
            Some(MacdColumns {
                line: 1,
                signal: Some(2),
                hist: Some(0)
            })
        );
        assert_eq!(rsi(&cols(&["rsi", "sma20"])), None);
        assert_eq!(macd(&cols(&["macd_signal", "macdx"])), None);
    }
}
