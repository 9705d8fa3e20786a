//! Alerts evaluated elsewhere: a recorder fires them once and publishes them over NATS, and
//! every monitor that reads the stream shows and stores them as its own engine's alerts are,
//! without evaluating a rule. Each alert_id is taken once, however often the stream or a
//! reconnect hands it over, and an alert this engine fired itself is not taken again.

use std::collections::{HashSet, VecDeque};

use super::Engine;
use crate::domain::{AlertRecord, OutputBatch, TsMs, unsafe_name_char};
use crate::pipeline::PipelineStats;

/// Alert ids remembered for dedupe. A repeat comes from a stream replayed after a reconnect or
/// read again from its start, so it is among the latest few thousand alerts by far.
const SEEN_IDS: usize = 4_096;
/// Longest rule name and message kept from outside (longer ones are cut, marked with `…`).
const MAX_RULE_CHARS: usize = 120;
const MAX_MESSAGE_CHARS: usize = 500;

/// The last `SEEN_IDS` alert ids, oldest forgotten first.
#[derive(Debug, Default)]
pub(super) struct SeenIds {
    set: HashSet<String>,
    order: VecDeque<String>,
}

impl SeenIds {
    /// Remembers `id`; false when it was already remembered.
    pub(super) fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == SEEN_IDS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.set.insert(id.to_string());
        self.order.push_back(id.to_string());
        true
    }
}

/// Text from a server, safe for the screen, the log and a stored row: control and bidi
/// characters escaped (`format::visible`), invisible ones written as `\u{…}`, bounded length.
fn outside_text(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 4));
    let mut buf = [0u8; 4];
    for (i, c) in crate::format::visible(s).chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        if unsafe_name_char(c.encode_utf8(&mut buf)).is_some() {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

impl Engine {
    /// Takes an alert evaluated elsewhere: cleans its text, marks it remote (`delivered` starts
    /// with "remote", then where this process shows it), keeps it for the view and hands it to
    /// `out` for the store. Returns false (and counts it) for an alert_id already taken.
    pub fn remote_alert(&mut self, a: AlertRecord, out: &mut OutputBatch) -> bool {
        let rule = outside_text(&a.rule, MAX_RULE_CHARS);
        let alert_id = match a.alert_id.trim() {
            "" => format!("{}-{}-{}-{rule}", a.ts_ms, a.key.venue, a.key.symbol),
            id => outside_text(id, MAX_MESSAGE_CHARS),
        };
        if !self.seen.insert(&alert_id) {
            PipelineStats::add(&self.stats.alerts_remote_repeated, 1);
            return false;
        }
        let delivered = match self.cfg.alert_delivered.as_str() {
            "" => AlertRecord::REMOTE.to_string(),
            here => format!("{},{here}", AlertRecord::REMOTE),
        };
        let a = AlertRecord {
            alert_id,
            rule,
            message: outside_text(&a.message, MAX_MESSAGE_CHARS),
            delivered,
            ..a
        };
        PipelineStats::add(&self.stats.alerts_remote, 1);
        self.alerts.push(a.clone());
        out.alerts.push(a);
        true
    }

    /// Whether a remote alert also goes to this process's own sinks: only when the config asks
    /// (`[nats] notify`), and only about now (not one replayed from an hour ago), as for the
    /// alerts this engine fires.
    pub fn notifies_remote(&self, a: &AlertRecord, now: TsMs) -> bool {
        self.cfg.notify_remote_alerts
            && self
                .cfg
                .alert_max_lag_ms
                .is_none_or(|lag| now.saturating_sub(a.ts_ms) <= lag)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::alerts::Severity;
    use crate::alerts::rules::{RuleConfig, RuleKind};
    use crate::domain::{EventKind, MarketEvent, Side, Symbol, TradeTick, Venue, VenueSymbol};
    use crate::engine::EngineConfig;
    use crate::view::ViewSnapshot;

    fn key() -> VenueSymbol {
        VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap())
    }

    fn remote(id: &str, ts: TsMs, message: &str) -> AlertRecord {
        AlertRecord {
            alert_id: id.into(),
            ts_ms: ts,
            key: key(),
            rule: "btc-70k".into(),
            value: 70_001.0,
            message: message.into(),
            delivered: String::new(),
            severity: Severity::Critical,
        }
    }

    fn engine(cfg: EngineConfig) -> Engine {
        Engine::new(cfg, Arc::new(PipelineStats::default())).unwrap()
    }

    fn shown(e: &Engine) -> Vec<AlertRecord> {
        e.snapshot(None, crate::domain::Interval::M1, None, 1)
            .alerts
    }

    #[test]
    fn a_remote_alert_is_shown_stored_and_marked_once() {
        let mut e = engine(EngineConfig {
            alert_delivered: "tui".into(),
            ..EngineConfig::default()
        });
        let mut out = OutputBatch::default();
        assert!(e.remote_alert(remote("a1", 1_000, "BTCUSDT price 70001"), &mut out));
        // the stream hands it over again (a replay after a reconnect): taken once
        assert!(!e.remote_alert(remote("a1", 1_000, "BTCUSDT price 70001"), &mut out));
        assert!(e.remote_alert(remote("a2", 2_000, "again"), &mut out));
        assert_eq!(out.alerts.len(), 2, "each stored once");
        assert_eq!(out.alerts[0].delivered, "remote,tui");
        assert!(out.alerts.iter().all(AlertRecord::is_remote));
        assert_eq!(out.alerts[0].severity, Severity::Critical);
        let view = shown(&e);
        let ids: Vec<&str> = view.iter().map(|a| a.alert_id.as_str()).collect();
        assert_eq!(ids, ["a2", "a1"], "newest first, each once");
        let st = e.stats();
        assert_eq!(PipelineStats::get(&st.alerts_remote), 2);
        assert_eq!(PipelineStats::get(&st.alerts_remote_repeated), 1);
        assert_eq!(PipelineStats::get(&st.alerts_fired), 0, "fired elsewhere");
        // headless (record reading the stream): only the remote mark
        let mut e = engine(EngineConfig::default());
        let mut out = OutputBatch::default();
        e.remote_alert(remote("a1", 1_000, "m"), &mut out);
        assert_eq!(out.alerts[0].delivered, "remote");
    }

    #[test]
    fn the_ring_keeps_the_newest_remote_alerts() {
        let mut e = engine(EngineConfig::default());
        let mut out = OutputBatch::default();
        let n = ViewSnapshot::MAX_ALERTS + 5;
        for i in 0..n {
            e.remote_alert(remote(&format!("id{i}"), i as TsMs, "m"), &mut out);
        }
        let view = shown(&e);
        assert_eq!(view.len(), ViewSnapshot::MAX_ALERTS);
        assert_eq!(view[0].alert_id, format!("id{}", n - 1));
        assert_eq!(out.alerts.len(), n, "every one goes to the store");
    }

    #[test]
    fn text_from_a_server_cannot_drive_the_terminal() {
        let mut e = engine(EngineConfig::default());
        let mut out = OutputBatch::default();
        let mut a = remote("x\u{1b}]0;t\u{7}", 1, "boom\u{1b}[2J\u{202e}evil\u{200b}!");
        a.rule = "r\u{9b}1".into();
        e.remote_alert(a, &mut out);
        let a = &out.alerts[0];
        for s in [&a.alert_id, &a.rule, &a.message] {
            assert!(
                s.chars()
                    .all(|c| !c.is_control() && unsafe_name_char(&c.to_string()).is_none()),
                "{s:?}"
            );
        }
        assert_eq!(a.message, "boom\\x1b[2J\\u{202e}evil\\u{200b}!");
        let long = "m".repeat(10_000);
        e.remote_alert(remote("long", 2, &long), &mut out);
        assert_eq!(out.alerts[1].message.chars().count(), MAX_MESSAGE_CHARS + 1);
        // no id: one is made from what the alert says, so a repeat is still caught
        assert!(e.remote_alert(remote("", 3, "m"), &mut out));
        assert!(!e.remote_alert(remote(" ", 3, "m"), &mut out));
        assert_eq!(out.alerts[2].alert_id, "3-binance-BTCUSDT-btc-70k");
    }

    #[test]
    fn an_alert_fired_here_is_not_taken_again_from_the_stream() {
        let rules = vec![
            RuleConfig {
                name: Some("above".into()),
                ..RuleConfig::new(RuleKind::PriceAbove, 100.0)
            }
            .build()
            .unwrap(),
        ];
        let mut e = engine(EngineConfig {
            rules,
            ..EngineConfig::default()
        });
        let mut out = OutputBatch::default();
        let t = 1_700_000_000_000;
        e.apply(
            &MarketEvent {
                venue: Venue::Binance,
                symbol: Symbol::new("BTCUSDT").unwrap(),
                exch_ms: t,
                recv_ms: t,
                kind: EventKind::Trade(TradeTick {
                    trade_id: 1,
                    price: 101.0,
                    qty: 1.0,
                    side: Side::Buy,
                }),
            },
            &mut out,
        )
        .unwrap();
        assert_eq!(out.alerts.len(), 1);
        let mine = out.alerts[0].clone();
        assert!(!mine.is_remote());
        assert!(!e.remote_alert(mine, &mut out), "the same alert_id");
        assert_eq!(out.alerts.len(), 1);
        assert_eq!(shown(&e).len(), 1);
    }

    #[test]
    fn remote_alerts_reach_the_sinks_only_when_asked_and_only_about_now() {
        let now = 1_700_000_000_000;
        let fresh = remote("f", now - 1_000, "m");
        let old = remote("o", now - 3_600_000, "m");
        let e = engine(EngineConfig {
            alert_max_lag_ms: Some(120_000),
            ..EngineConfig::default()
        });
        assert!(!e.notifies_remote(&fresh, now), "default: the pane only");
        let e = engine(EngineConfig {
            alert_max_lag_ms: Some(120_000),
            notify_remote_alerts: true,
            ..EngineConfig::default()
        });
        assert!(e.notifies_remote(&fresh, now));
        assert!(
            !e.notifies_remote(&old, now),
            "an hour late: shown, not notified"
        );
    }
}
