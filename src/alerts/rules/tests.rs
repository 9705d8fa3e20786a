use super::*;

const MIN: TsMs = 60_000;

fn build(toml_text: &str) -> AlertRule {
    let spec: RuleConfig = toml::from_str(toml_text).unwrap();
    spec.build().unwrap()
}

fn build_err(toml_text: &str) -> String {
    let spec: RuleConfig = toml::from_str(toml_text).unwrap();
    spec.build().unwrap_err().to_string()
}

/// Feeds `(time, value)` pairs and returns the times at which the rule fired.
fn fires(rule: &AlertRule, s: &mut RuleState, seq: &[(TsMs, f64)]) -> Vec<TsMs> {
    seq.iter()
        .filter(|(t, v)| s.evaluate(rule, *v, *t, Hold::default()))
        .map(|(t, _)| *t)
        .collect()
}

#[test]
fn level_rules_fire_on_the_edge_then_rearm_when_false() {
    let r = build("kind = 'price_above'\nvalue = 100\ncooldown_secs = 0");
    let mut s = RuleState::default();
    let seq = [(0, 99.0), (1, 101.0), (2, 102.0), (3, 99.0), (4, 101.0)];
    assert_eq!(fires(&r, &mut s, &seq), vec![1, 4]);
    // at the level exactly: "above" is strict
    let mut s = RuleState::default();
    assert_eq!(fires(&r, &mut s, &[(0, 100.0)]), Vec::<TsMs>::new());
}

#[test]
fn every_level_condition_fires_on_its_own_side() {
    // (rule, a quiet value, a firing value)
    let cases = [
        ("kind = 'price_below'\nvalue = 50", 51.0, 49.0),
        ("kind = 'rsi_above'\nvalue = 70", 69.0, 71.0),
        ("kind = 'rsi_below'\nvalue = 30", 31.0, 29.0),
        ("kind = 'zscore'\nvalue = 3", 2.9, -3.0),
        ("kind = 'zscore'\nvalue = 3", -2.9, 3.0),
        ("kind = 'volume_spike'\nvalue = 3", 2.5, 3.0),
        ("kind = 'stale'\nvalue = 30", 29.0, 30.0),
        (
            "kind = 'pct_change'\nvalue = 2\nwindow = '5m'\ndirection = 'up'",
            -5.0,
            2.0,
        ),
        (
            "kind = 'pct_change'\nvalue = 2\nwindow = '5m'\ndirection = 'down'",
            5.0,
            -2.5,
        ),
        ("kind = 'pct_change'\nvalue = 2\nwindow = '5m'", 1.9, -2.1),
    ];
    for (text, quiet, firing) in cases {
        let r = build(text);
        let mut s = RuleState::default();
        assert!(
            !s.evaluate(&r, quiet, 0, Hold::default()),
            "{text}: {quiet}"
        );
        assert!(
            s.evaluate(&r, firing, 1, Hold::default()),
            "{text}: {firing}"
        );
        assert_eq!(s.phase, Phase::Fired, "{text}");
    }
}

#[test]
fn hysteresis_rearms_only_beyond_the_band() {
    let r = build("kind = 'price_above'\nvalue = 100\nhysteresis = 0.5\ncooldown_secs = 0");
    let mut s = RuleState::default();
    let seq = [
        (0, 101.0), // fires
        (1, 99.8),  // below the level, inside the band: not re-armed
        (2, 101.0), // no
        (3, 99.4),  // beyond the band: armed again
        (4, 100.5), // fires
        (5, 99.6),  // inside
        (6, 100.2), // no
    ];
    assert_eq!(fires(&r, &mut s, &seq), vec![0, 4]);
    // below rules re-arm above level + band
    let r = build("kind = 'rsi_below'\nvalue = 30\nhysteresis = 5\ncooldown_secs = 0");
    let mut s = RuleState::default();
    let seq = [(0, 25.0), (1, 33.0), (2, 28.0), (3, 36.0), (4, 29.0)];
    assert_eq!(fires(&r, &mut s, &seq), vec![0, 4]);
}

#[test]
fn crossings_count_a_new_side_only_beyond_the_band() {
    let r = build("kind = 'price_cross'\nvalue = 100\nhysteresis = 1\ncooldown_secs = 0");
    let mut s = RuleState::default();
    let seq = [
        (0, 98.0),  // first side known: below; no crossing yet
        (1, 100.5), // inside the band: still below
        (2, 99.5),
        (3, 101.5), // above: a crossing
        (4, 100.2), // inside
        (5, 101.2), // still above
        (6, 98.9),  // below: a crossing
    ];
    assert_eq!(fires(&r, &mut s, &seq), vec![3, 6]);
    assert_eq!(s.phase, Phase::Armed, "rearm crossings stay armed");

    let up = build("kind = 'rsi_cross'\nvalue = 50\ndirection = 'up'\ncooldown_secs = 0");
    let mut s = RuleState::default();
    let seq = [(0, 40.0), (1, 60.0), (2, 45.0), (3, 55.0)];
    assert_eq!(
        fires(&up, &mut s, &seq),
        vec![1, 3],
        "only upward crossings"
    );
    let down = build("kind = 'price_cross'\nvalue = 10\ndirection = 'down'\ncooldown_secs = 0");
    let mut s = RuleState::default();
    let seq = [(0, 11.0), (1, 9.0), (2, 11.0), (3, 9.0)];
    assert_eq!(fires(&down, &mut s, &seq), vec![1, 3]);
    // the first value on a side is no crossing even when it is far from the level
    let mut s = RuleState::default();
    assert_eq!(fires(&down, &mut s, &[(0, 1.0)]), Vec::<TsMs>::new());
}

#[test]
fn cooldown_delays_a_level_rule_and_drops_a_crossing() {
    let r = build("kind = 'zscore'\nvalue = 3\ncooldown_secs = 60");
    let mut s = RuleState::default();
    let seq = [
        (0, -4.0),      // fires
        (10_000, 0.0),  // re-armed
        (20_000, 5.0),  // within the cooldown: quiet, still armed
        (50_000, 4.0),  // still cooling
        (MIN, 4.0),     // cooldown over and still met: fires
        (MIN + 1, 0.0), // re-armed
        (MIN + 2, 5.0), // cooling again
        (3 * MIN, 0.0), // cleared before the cooldown ended: nothing is owed
        (3 * MIN + 1, 1.0),
    ];
    assert_eq!(fires(&r, &mut s, &seq), vec![0, MIN]);

    let r = build("kind = 'price_cross'\nvalue = 100\ncooldown_secs = 60");
    let mut s = RuleState::default();
    let seq = [
        (0, 99.0),
        (1_000, 101.0),       // fires
        (2_000, 99.0),        // crossing within the cooldown: dropped
        (MIN + 2_000, 98.0),  // no new crossing
        (MIN + 3_000, 101.0), // fires
    ];
    assert_eq!(fires(&r, &mut s, &seq), vec![1_000, MIN + 3_000]);
}

#[test]
fn once_rules_stay_triggered_until_acknowledged() {
    let r = build("kind = 'price_above'\nvalue = 100\nmode = 'once'\ncooldown_secs = 0");
    let mut s = RuleState::default();
    let seq = [(0, 101.0), (1, 90.0), (2, 101.0), (3, 90.0), (4, 102.0)];
    assert_eq!(fires(&r, &mut s, &seq), vec![0]);
    assert_eq!(s.phase, Phase::Fired);
    // acknowledged while the condition holds: armed, but it must clear before firing again
    s.acknowledge(&r);
    assert_eq!(s.phase, Phase::Rearming);
    let seq = [(5, 103.0), (6, 99.0), (7, 101.0), (8, 99.0), (9, 101.0)];
    assert_eq!(fires(&r, &mut s, &seq), vec![7]);

    // a once crossing rule re-arms on acknowledge and keeps its side
    let r = build("kind = 'price_cross'\nvalue = 100\nmode = 'once'\ncooldown_secs = 0");
    let mut s = RuleState::default();
    let seq = [(0, 99.0), (1, 101.0), (2, 99.0), (3, 101.0)];
    assert_eq!(fires(&r, &mut s, &seq), vec![1]);
    s.acknowledge(&r);
    assert_eq!(fires(&r, &mut s, &[(4, 99.0)]), vec![4]);
}

#[test]
fn a_latched_snoozed_or_late_rule_is_quiet_but_keeps_its_state() {
    let r = build("kind = 'price_above'\nvalue = 100\ncooldown_secs = 0");
    let mut s = RuleState::default();
    let snoozed = Hold {
        snoozed_until_ms: Some(10_000),
        ..Hold::default()
    };
    assert!(!s.evaluate(&r, 101.0, 5_000, snoozed));
    assert_eq!(s.phase, Phase::Armed);
    // the snooze ends with the condition still holding: it fires
    assert!(s.evaluate(&r, 101.0, 10_000, snoozed));
    let mut s = RuleState::default();
    let history = Hold {
        history: true,
        ..Hold::default()
    };
    assert!(!s.evaluate(&r, 101.0, 0, history));
    assert_eq!(s.last_fired_ms, None);
    let latched = Hold {
        latched: true,
        ..Hold::default()
    };
    assert!(!s.evaluate(&r, 101.0, 1, latched));
    assert!(s.evaluate(&r, 101.0, 2, Hold::default()));
}

#[test]
fn expired_rules_never_fire() {
    let r = build(
        "kind = 'price_above'\nvalue = 100\ncooldown_secs = 0\nexpires = '2023-11-14T22:15:00Z'",
    );
    let exp = 1_700_000_100_000; // 2023-11-14T22:15:00Z
    assert_eq!(r.expires_ms, Some(exp));
    assert!(!r.expired(exp - 1) && r.expired(exp));
    let mut s = RuleState::default();
    assert!(s.evaluate(&r, 101.0, exp - 10_000, Hold::default()));
    assert!(!s.evaluate(&r, 99.0, exp - 5_000, Hold::default()));
    assert!(!s.evaluate(&r, 101.0, exp, Hold::default()));
    assert!(!s.evaluate(&r, 101.0, exp + MIN, Hold::default()));
    // a date alone is the start of that day, UTC
    let r = build("kind = 'zscore'\nvalue = 3\nexpires = '2023-11-15'");
    assert_eq!(r.expires_ms, Some(1_700_006_400_000));
}

#[test]
fn nan_and_infinite_values_change_nothing() {
    let r = build("kind = 'price_above'\nvalue = 100\ncooldown_secs = 0");
    let mut s = RuleState::default();
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert!(!s.evaluate(&r, v, 0, Hold::default()));
    }
    assert_eq!(s, RuleState::default());
    let c = build("kind = 'price_cross'\nvalue = 100");
    let mut s = RuleState::default();
    s.evaluate(&c, 99.0, 0, Hold::default());
    assert!(!s.evaluate(&c, f64::NAN, 1, Hold::default()));
    assert!(
        s.evaluate(&c, 101.0, 2, Hold::default()),
        "side kept across NaN"
    );
}

#[test]
fn kinds_get_their_trigger_and_name() {
    let r = build("kind = 'price_above'\nvalue = 70000\nsymbols = ['btcusdt']");
    assert_eq!(r.trigger, Trigger::Tick);
    assert_eq!(r.name, "BTCUSDT price above 70000");
    assert_eq!(r.cooldown_ms, 60_000);
    assert_eq!(r.mode, Mode::Rearm);
    let r = build("kind = 'price_below'\nvalue = 1\non = 'close'\ninterval = '5m'");
    assert_eq!(r.trigger, Trigger::Close(Interval::M5));
    let r = build("kind = 'rsi_cross'\nvalue = 50\ninterval = '15m'\ndirection = 'down'");
    assert_eq!(r.trigger, Trigger::Close(Interval::M15));
    assert_eq!(r.name, "RSI(15m) crossing down 50");
    let r = build("kind = 'volume_spike'\nvalue = 4");
    assert_eq!(r.trigger, Trigger::Close(Interval::M1));
    let r = build("kind = 'stale'\nvalue = 30");
    assert_eq!(r.trigger, Trigger::Clock);
    let r = build("kind = 'pct_change'\nvalue = 2\nwindow = '5m'");
    assert_eq!(
        r.condition,
        Condition::PctChange {
            pct: 2.0,
            window_ms: 5 * MIN,
            direction: Direction::Any
        }
    );
    assert_eq!(r.name, "±2% in 5m");
}

#[test]
fn invalid_rules_say_what_is_wrong() {
    for (text, want) in [
        ("kind = 'rsi_above'\nvalue = 170", "between 0 and 100"),
        (
            "kind = 'rsi_above'\nvalue = 70\ninterval = '7m'",
            "unknown interval",
        ),
        (
            "kind = 'zscore'\nvalue = 4\ninterval = '1m'",
            "only applies",
        ),
        (
            "kind = 'price_above'\nvalue = 1\ninterval = '1m'",
            "on = \"close\"",
        ),
        ("kind = 'price_above'\nvalue = -1", "above zero"),
        ("kind = 'pct_change'\nvalue = 2", "needs a `window`"),
        (
            "kind = 'pct_change'\nvalue = 2\nwindow = '5 parsecs'",
            "duration",
        ),
        (
            "kind = 'price_above'\nvalue = 1\nwindow = '5m'",
            "`window` only",
        ),
        (
            "kind = 'price_above'\nvalue = 1\ndirection = 'up'",
            "`direction` only",
        ),
        (
            "kind = 'rsi_above'\nvalue = 70\non = 'tick'",
            "candle of their `interval`",
        ),
        ("kind = 'stale'\nvalue = 30\non = 'close'", "`on` applies"),
        (
            "kind = 'price_above'\nvalue = 100\nhysteresis = 100",
            "never re-arm",
        ),
        (
            "kind = 'rsi_below'\nvalue = 30\nhysteresis = 70",
            "never re-arm",
        ),
        (
            "kind = 'price_above'\nvalue = 100\nhysteresis = -1",
            "hysteresis",
        ),
        (
            "kind = 'price_above'\nvalue = 100\nsymbols = []",
            "`symbols` is empty",
        ),
        (
            "kind = 'price_above'\nvalue = 100\nsymbols = ['BTC USD']",
            "character",
        ),
        (
            "kind = 'price_above'\nvalue = 100\nexpires = 'soon'",
            "expiry",
        ),
        (
            "kind = 'price_above'\nvalue = 100\nname = '  '",
            "`name` is empty",
        ),
    ] {
        let e = build_err(text);
        assert!(e.contains(want), "{text}: {e}");
    }
    // serde refuses unknown kinds, modes and keys
    for text in [
        "kind = 'price_sideways'\nvalue = 1",
        "kind = 'price_above'\nvalue = 1\nmode = 'twice'",
        "kind = 'price_above'\nvalue = 1\ncolour = 'red'",
    ] {
        assert!(toml::from_str::<RuleConfig>(text).is_err(), "{text}");
    }
}

#[test]
fn the_spec_round_trips_through_json_with_the_config_keys() {
    let text = "name = 'b'\nsymbols = ['ETHUSDT']\nkind = 'pct_change'\nvalue = 2.5\nwindow = '15m'\n\
                direction = 'down'\nmode = 'once'\nhysteresis = 0.5\ncooldown_secs = 5\n\
                on = 'close'\ninterval = '1m'\nexpires = '2030-01-01'\nseverity = 'critical'";
    let spec: RuleConfig = toml::from_str(text).unwrap();
    let json = serde_json::to_string(&spec).unwrap();
    assert!(json.contains("\"kind\":\"pct_change\""), "{json}");
    assert!(json.contains("\"mode\":\"once\""), "{json}");
    let back: RuleConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(back, spec);
    assert_eq!(back.build().unwrap().spec, spec);
    // absent keys stay absent
    let json = serde_json::to_string(&RuleConfig::new(RuleKind::Zscore, 3.0)).unwrap();
    assert_eq!(json, r#"{"kind":"zscore","value":3.0}"#);
}

#[test]
fn durations_and_unique_names() {
    assert_eq!(parse_duration("90s"), Ok(90_000));
    assert_eq!(parse_duration("5m"), Ok(5 * MIN));
    assert_eq!(parse_duration("2h"), Ok(120 * MIN));
    assert_eq!(parse_duration("1d"), Ok(1_440 * MIN));
    assert!(parse_duration("0m").is_err());
    assert!(parse_duration("m").is_err());
    assert!(parse_duration("5w").is_err());
    assert_eq!(format_duration(90_000), "90s");
    assert_eq!(format_duration(120 * MIN), "2h");
    let a = RuleConfig::new(RuleKind::Zscore, 3.0);
    let b = RuleConfig::new(RuleKind::Zscore, 4.0);
    assert_eq!(build_all(&[a.clone(), b]).unwrap().len(), 2);
    let (i, e) = build_all(&[a.clone(), a]).unwrap_err();
    assert_eq!(i, 1);
    assert!(e.reason.contains("same name"), "{e}");
}

#[test]
fn portfolio_rules_validate_their_levels_and_scope() {
    let r = build("kind = 'portfolio_drawdown_above'\nvalue = 5");
    assert_eq!(r.trigger, Trigger::Portfolio);
    assert_eq!(r.name, "portfolio drawdown above 5%");
    assert!(r.condition.met(5.5) && !r.condition.met(5.0));
    // a loss level is a level too
    let r = build("kind = 'portfolio_pnl_below'\nvalue = -2000\nhysteresis = 500");
    assert!(r.condition.met(-2500.0) && !r.condition.met(-1500.0));
    let r = build("kind = 'position_weight_above'\nvalue = 40\nsymbols = ['btc']");
    assert_eq!(r.name, "BTC position weight above 40%");
    for (text, says) in [
        (
            "kind = 'portfolio_value_below'\nvalue = 1000\nsymbols = ['BTCUSDT']",
            "`symbols` does not apply to portfolio_value_below",
        ),
        (
            "kind = 'portfolio_drawdown_above'\nvalue = 150",
            "percentage above 0 and below 100",
        ),
        (
            "kind = 'position_weight_above'\nvalue = 0",
            "percentage above 0 and below 100",
        ),
        (
            "kind = 'portfolio_value_above'\nvalue = -5",
            "must be above zero",
        ),
        (
            "kind = 'portfolio_drawdown_above'\nvalue = 5\nhysteresis = 5",
            "could never re-arm",
        ),
    ] {
        let e = build_err(text);
        assert!(e.contains(says), "{text}: {e}");
    }
}
