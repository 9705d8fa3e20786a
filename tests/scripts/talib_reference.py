"""Reads an export CSV (open_time,...,close,...) on stdin and prints, as CSV, what TA-Lib computes
for the default indicator set from the same closes. Used by tests/export_talib.rs."""
import csv
import math
import sys

import numpy as np
import talib

rows = list(csv.DictReader(sys.stdin))
close = np.array([float(r["close"]) for r in rows], dtype=float)
upper, mid, lower = talib.BBANDS(close, timeperiod=20, nbdevup=2, nbdevdn=2, matype=0)
macd, signal, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
cols = {
    "sma20": talib.SMA(close, 20),
    "ema20": talib.EMA(close, 20),
    "rsi14": talib.RSI(close, 14),
    "bb20_upper": upper,
    "bb20_mid": mid,
    "bb20_lower": lower,
    "macd": macd,
    "macd_signal": signal,
    "macd_hist": hist,
}
names = list(cols)
print("open_time," + ",".join(names))
for i, r in enumerate(rows):
    vals = ["" if math.isnan(cols[n][i]) else repr(float(cols[n][i])) for n in names]
    print(r["open_time"] + "," + ",".join(vals))
