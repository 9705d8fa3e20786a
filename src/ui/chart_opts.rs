//! What the chart shows, as the user chose it with keys: the price as candles, a line or an
//! area; which overlays and sub-panes are on; linear or log price scale; the cursor.

use crate::domain::TsMs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChartMode {
    #[default]
    Candles,
    Line,
    Area,
}

impl ChartMode {
    pub fn next(self) -> ChartMode {
        match self {
            ChartMode::Candles => ChartMode::Line,
            ChartMode::Line => ChartMode::Area,
            ChartMode::Area => ChartMode::Candles,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ChartMode::Candles => "candles",
            ChartMode::Line => "line",
            ChartMode::Area => "area",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChartOpts {
    pub mode: ChartMode,
    /// Overlays on the price (each draws every configured column of its kind: sma20, sma50...).
    pub sma: bool,
    pub ema: bool,
    pub bollinger: bool,
    /// Sub-panes beneath the price, top to bottom: volume, RSI (30/70 lines), MACD (zero line).
    pub volume: bool,
    pub rsi: bool,
    pub macd: bool,
    /// Logarithmic price axis (equal percentage moves look equal).
    pub log_scale: bool,
    /// Open time of the candle under the cursor (the chart shows its time, OHLCV and indicator
    /// values); None: no cursor, the legend shows the latest candle.
    pub cursor_ms: Option<TsMs>,
}

impl Default for ChartOpts {
    fn default() -> Self {
        ChartOpts {
            mode: ChartMode::Candles,
            sma: true,
            ema: true,
            bollinger: false,
            volume: true,
            rsi: true,
            macd: false,
            log_scale: false,
            cursor_ms: None,
        }
    }
}
