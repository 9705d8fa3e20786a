//! Replay of Binance public-data dumps (data.binance.vision layouts).
