use std::fmt;
use std::str::FromStr;

use super::TsMs;

/// A candle interval. tickwatch aggregates every one of these for every symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    S1,
    M1,
    M5,
    M15,
    H1,
    H4,
    D1,
}

impl Interval {
    pub const ALL: [Interval; 7] = [
        Interval::S1,
        Interval::M1,
        Interval::M5,
        Interval::M15,
        Interval::H1,
        Interval::H4,
        Interval::D1,
    ];

    pub fn ms(self) -> TsMs {
        match self {
            Interval::S1 => 1_000,
            Interval::M1 => 60_000,
            Interval::M5 => 300_000,
            Interval::M15 => 900_000,
            Interval::H1 => 3_600_000,
            Interval::H4 => 14_400_000,
            Interval::D1 => 86_400_000,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::S1 => "1s",
            Interval::M1 => "1m",
            Interval::M5 => "5m",
            Interval::M15 => "15m",
            Interval::H1 => "1h",
            Interval::H4 => "4h",
            Interval::D1 => "1d",
        }
    }

    /// Position in [`Interval::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Start of the candle that contains `ts` (UTC-aligned, like every exchange).
    pub fn bucket(self, ts: TsMs) -> TsMs {
        ts - ts.rem_euclid(self.ms())
    }

    /// The next longer interval, if any.
    pub fn longer(self) -> Option<Interval> {
        Interval::ALL.get(self.index() + 1).copied()
    }

    /// The next shorter interval, if any.
    pub fn shorter(self) -> Option<Interval> {
        self.index().checked_sub(1).map(|i| Interval::ALL[i])
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str() == t)
            .ok_or_else(|| {
                format!("unknown interval {s:?}; expected one of 1s, 1m, 5m, 15m, 1h, 4h, 1d")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_align_to_utc_boundaries() {
        // 2021-11-27T00:00:59.999Z belongs to the 00:00 minute
        assert_eq!(Interval::M1.bucket(1_637_971_259_999), 1_637_971_200_000);
        assert_eq!(Interval::D1.bucket(1_637_971_259_999), 1_637_971_200_000);
        assert_eq!(Interval::S1.bucket(-1), -1_000);
    }

    #[test]
    fn intervals_parse_and_step() {
        for i in Interval::ALL {
            assert_eq!(i.as_str().parse::<Interval>(), Ok(i));
        }
        assert!("2m".parse::<Interval>().is_err());
        assert_eq!(Interval::S1.shorter(), None);
        assert_eq!(Interval::M1.longer(), Some(Interval::M5));
        assert_eq!(Interval::D1.longer(), None);
    }
}
