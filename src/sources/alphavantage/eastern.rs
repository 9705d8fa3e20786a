//! US/Eastern wall time ↔ UTC without a time-zone database: Alpha Vantage labels US equity bars
//! in US/Eastern, and its free quota resets at midnight there. The US rule since 2007 is exact
//! for every date tickwatch can meet: daylight saving time (UTC-4) from the second Sunday of
//! March at 02:00 EST to the first Sunday of November at 02:00 EDT, standard time (UTC-5) else.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Weekday};

use crate::domain::TsMs;

const HOUR_MS: i64 = 3_600_000;
/// Offsets from UTC, in ms.
const EST: i64 = -5 * HOUR_MS;
const EDT: i64 = -4 * HOUR_MS;

/// The time zones Alpha Vantage names in `"Meta Data"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// `US/Eastern` (also accepted as `America/New_York`).
    Eastern,
    Utc,
}

impl Zone {
    pub fn parse(name: &str) -> Result<Zone, String> {
        match name.trim() {
            "US/Eastern" | "America/New_York" => Ok(Zone::Eastern),
            "UTC" | "GMT" | "Etc/UTC" => Ok(Zone::Utc),
            other => Err(format!(
                "time zone {other:?} is not supported (tickwatch knows US/Eastern and UTC)"
            )),
        }
    }

    /// The UTC instant of a wall-clock time in this zone.
    pub fn to_utc_ms(self, local: NaiveDateTime) -> TsMs {
        match self {
            Zone::Eastern => eastern_to_utc_ms(local),
            Zone::Utc => local.and_utc().timestamp_millis(),
        }
    }
}

/// The UTC instants at which daylight saving time starts and ends in `year`.
fn dst_span_utc(year: i32) -> Option<(TsMs, TsMs)> {
    let start = NaiveDate::from_weekday_of_month_opt(year, 3, Weekday::Sun, 2)?;
    let end = NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Sun, 1)?;
    // 02:00 EST is 07:00 UTC; 02:00 EDT is 06:00 UTC
    let start = start.and_hms_opt(7, 0, 0)?.and_utc().timestamp_millis();
    let end = end.and_hms_opt(6, 0, 0)?.and_utc().timestamp_millis();
    Some((start, end))
}

/// The US/Eastern offset from UTC (ms) in force at `utc`.
pub fn offset_ms(utc: TsMs) -> i64 {
    let Some(t) = DateTime::from_timestamp_millis(utc) else {
        return EST;
    };
    // The transitions are in March and November, so the UTC year is the local year for both.
    match dst_span_utc(t.year()) {
        Some((start, end)) if (start..end).contains(&utc) => EDT,
        _ => EST,
    }
}

/// The UTC instant of a US/Eastern wall-clock time. Of the hour that occurs twice when clocks go
/// back (01:00–02:00 on the first Sunday of November) the first, daylight-time one is taken;
/// the hour skipped in March (02:00–03:00) is read as standard time (02:30 → 07:30 UTC, which
/// is 03:30 EDT). US exchanges trade at neither hour.
pub fn eastern_to_utc_ms(local: NaiveDateTime) -> TsMs {
    let as_utc = local.and_utc().timestamp_millis();
    let daylight = as_utc - EDT;
    if offset_ms(daylight) == EDT {
        daylight
    } else {
        as_utc - EST
    }
}

/// US/Eastern wall-clock time at `utc`.
pub fn utc_to_eastern(utc: TsMs) -> NaiveDateTime {
    let local = utc + offset_ms(utc);
    DateTime::from_timestamp_millis(local)
        .unwrap_or_default()
        .naive_utc()
}

/// The US/Eastern calendar day at `utc` (Alpha Vantage's quota day).
pub fn eastern_day(utc: TsMs) -> NaiveDate {
    utc_to_eastern(utc).date()
}

/// The next midnight US/Eastern strictly after `utc`, as a UTC instant.
pub fn next_eastern_midnight(utc: TsMs) -> TsMs {
    let day = eastern_day(utc);
    match day.succ_opt().and_then(|d| d.and_hms_opt(0, 0, 0)) {
        Some(midnight) => eastern_to_utc_ms(midnight),
        // the end of chrono's calendar: a day from now is as good
        None => utc + 24 * HOUR_MS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    fn utc(s: &str) -> TsMs {
        local(s).and_utc().timestamp_millis()
    }

    #[test]
    fn both_sides_of_both_transitions() {
        // (US/Eastern wall time, UTC), values from the published 2024 and 2023 rules
        let cases = [
            // 2024-03-10: 02:00 EST becomes 03:00 EDT
            ("2024-03-09 12:00:00", "2024-03-09 17:00:00"),
            ("2024-03-10 01:59:59", "2024-03-10 06:59:59"),
            ("2024-03-10 03:00:00", "2024-03-10 07:00:00"),
            ("2024-03-10 09:30:00", "2024-03-10 13:30:00"),
            // the skipped hour, read as standard time
            ("2024-03-10 02:30:00", "2024-03-10 07:30:00"),
            // 2024-11-03: 02:00 EDT becomes 01:00 EST
            ("2024-11-02 19:55:00", "2024-11-02 23:55:00"),
            ("2024-11-03 00:59:59", "2024-11-03 04:59:59"),
            // the repeated hour: the first (daylight) occurrence
            ("2024-11-03 01:30:00", "2024-11-03 05:30:00"),
            ("2024-11-03 02:00:00", "2024-11-03 07:00:00"),
            ("2024-11-04 09:30:00", "2024-11-04 14:30:00"),
            // 2023: second Sunday of March is the 12th, first of November the 5th
            ("2023-03-11 16:00:00", "2023-03-11 21:00:00"),
            ("2023-03-12 16:00:00", "2023-03-12 20:00:00"),
            ("2023-11-04 16:00:00", "2023-11-04 20:00:00"),
            ("2023-11-05 16:00:00", "2023-11-05 21:00:00"),
            // winter and summer, and the year boundary
            ("2024-01-05 19:55:00", "2024-01-06 00:55:00"),
            ("2024-07-01 09:30:00", "2024-07-01 13:30:00"),
            ("2023-12-31 23:00:00", "2024-01-01 04:00:00"),
        ];
        for (l, u) in cases {
            assert_eq!(eastern_to_utc_ms(local(l)), utc(u), "{l} US/Eastern");
        }
    }

    #[test]
    fn offsets_switch_at_the_exact_utc_instants() {
        let start = utc("2024-03-10 07:00:00");
        assert_eq!(offset_ms(start - 1), EST);
        assert_eq!(offset_ms(start), EDT);
        let end = utc("2024-11-03 06:00:00");
        assert_eq!(offset_ms(end - 1), EDT);
        assert_eq!(offset_ms(end), EST);
        // round trip away from the repeated hour (05:00-06:59 UTC on Nov 3 read back as EDT)
        for t in [
            start - 1,
            start,
            end - 3_600_001,
            end + 3_600_000,
            utc("2024-06-15 12:34:56"),
        ] {
            assert_eq!(eastern_to_utc_ms(utc_to_eastern(t)), t);
        }
    }

    #[test]
    fn quota_day_ends_at_eastern_midnight() {
        // 23:30 UTC on Jan 5 is 18:30 EST: the day ends at 05:00 UTC on Jan 6
        assert_eq!(
            next_eastern_midnight(utc("2024-01-05 23:30:00")),
            utc("2024-01-06 05:00:00")
        );
        // 03:00 UTC on Jan 6 is still Jan 5 in New York
        assert_eq!(
            eastern_day(utc("2024-01-06 03:00:00")),
            NaiveDate::from_ymd_opt(2024, 1, 5).unwrap()
        );
        // in summer the day ends at 04:00 UTC
        assert_eq!(
            next_eastern_midnight(utc("2024-07-01 12:00:00")),
            utc("2024-07-02 04:00:00")
        );
        // exactly at midnight: the next one, a (23-hour) day later in March
        let m = utc("2024-03-10 05:00:00");
        assert_eq!(next_eastern_midnight(m), utc("2024-03-11 04:00:00"));
        // and a 25-hour day in November
        assert_eq!(
            next_eastern_midnight(utc("2024-11-03 04:00:00")),
            utc("2024-11-04 05:00:00")
        );
    }

    #[test]
    fn zones_by_name() {
        assert_eq!(Zone::parse("US/Eastern"), Ok(Zone::Eastern));
        assert_eq!(Zone::parse("UTC"), Ok(Zone::Utc));
        let e = Zone::parse("Europe/London").unwrap_err();
        assert!(e.contains("Europe/London"), "{e}");
        assert_eq!(
            Zone::Utc.to_utc_ms(local("2024-07-01 09:30:00")),
            utc("2024-07-01 09:30:00")
        );
    }
}
