//! The engine's alert rules, kept by name: added, replaced, deleted, snoozed and acknowledged
//! at run time, each with its state per symbol and a state a person sees (armed, triggered,
//! snoozed, expired). Every change is handed to the storage thread as a [`RuleChange`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};

use super::rule_index::RuleIndex;
use crate::alerts::rules::{Hold, Mode, Origin, Phase, RuleConfig, Status, Trigger, build_all};
use crate::alerts::{AlertRule, RuleState};
use crate::domain::{AlertRecord, OutputBatch, RuleChange, RuleRecord};
use crate::domain::{TsMs, VenueSymbol};
use crate::view::RuleView;

struct Entry {
    rule: AlertRule,
    origin: Origin,
    snoozed_until_ms: Option<TsMs>,
    /// A once rule that fired: quiet until acknowledged.
    latched: bool,
    last_fired_ms: Option<TsMs>,
    created_ms: TsMs,
    /// Restored as triggered after a restart: symbols start by waiting for their value to
    /// clear the band, so a condition that still holds does not fire again at once.
    start_rearming: bool,
    symbols: HashMap<VenueSymbol, RuleState>,
    /// The status last handed to the store (None: never stored in this form).
    stored: Option<Status>,
}

impl Entry {
    fn new(rule: AlertRule, origin: Origin, now: TsMs) -> Entry {
        Entry {
            rule,
            origin,
            snoozed_until_ms: None,
            latched: false,
            last_fired_ms: None,
            created_ms: now,
            start_rearming: false,
            symbols: HashMap::new(),
            stored: None,
        }
    }

    /// An entry with the state stored in `row`.
    fn restored(rule: AlertRule, row: &RuleRecord) -> Entry {
        let triggered = row.state == Status::Triggered;
        Entry {
            latched: triggered && rule.mode == Mode::Once,
            start_rearming: triggered,
            snoozed_until_ms: row.snoozed_until_ms,
            last_fired_ms: row.last_fired_ms,
            created_ms: row.created_ms,
            stored: Some(row.state),
            ..Entry::new(rule, row.origin, row.created_ms)
        }
    }

    fn status(&self, now: TsMs) -> Status {
        if self.rule.expired(now) {
            Status::Expired
        } else if self.snoozed_until_ms.is_some_and(|t| now < t) {
            Status::Snoozed
        } else if self.latched
            || self.symbols.values().any(|s| s.phase == Phase::Fired)
            || (self.start_rearming && !self.symbols.values().any(|s| s.phase == Phase::Armed))
        {
            // (a rule restored as triggered stays so until a symbol has re-armed it)
            Status::Triggered
        } else {
            Status::Armed
        }
    }

    fn row(&self, status: Status, now: TsMs) -> RuleRecord {
        RuleRecord {
            rule_id: self.rule.name.clone(),
            origin: self.origin,
            spec: self.rule.spec.clone(),
            state: status,
            snoozed_until_ms: self.snoozed_until_ms.filter(|t| now < *t),
            created_ms: self.created_ms,
            updated_ms: now,
            last_fired_ms: self.last_fired_ms,
        }
    }

    fn view(&self, now: TsMs) -> RuleView {
        RuleView {
            name: self.rule.name.clone(),
            origin: self.origin,
            status: self.status(now),
            scope: self.rule.symbols.describe(),
            condition: self.rule.condition.describe(),
            mode: self.rule.mode,
            severity: self.rule.severity,
            last_fired_ms: self.last_fired_ms,
            snoozed_until_ms: self.snoozed_until_ms.filter(|t| now < *t),
            expires_ms: self.rule.expires_ms,
            spec: self.rule.spec.clone(),
        }
    }
}

/// Every rule of the engine. Config rules come first in file order, then monitor rules in the
/// order they were made.
///
/// An event only visits the rules of its trigger that apply to its symbol ([`RuleIndex`]), and
/// a flush only looks at the rules whose status may have moved: those an event, a snooze or an
/// acknowledgement touched, and those whose expiry or snooze end the clock has passed. So the
/// cost of an event, and of a clock tick, follows the rules concerned, not every rule.
pub struct RuleBook {
    entries: Vec<Entry>,
    /// Positions of `entries` by name.
    by_name: HashMap<String, usize>,
    /// Positions of `entries` by trigger and symbol.
    index: RuleIndex,
    /// Deletions (and the like) not yet handed to a batch.
    pending: Vec<RuleChange>,
    /// A rule's state may have changed since the last [`RuleBook::flush`].
    touched: bool,
    /// Rules whose status may differ from the one stored (may hold repeats).
    dirty: Vec<usize>,
    /// Rules were added, replaced or removed: the next flush looks at every rule.
    reindexed: bool,
    /// When a rule's status changes by the clock alone (its expiry, the end of its snooze),
    /// earliest first. Rebuilt with the index; a snooze changed later leaves a stale entry
    /// behind, which only costs a look.
    deadlines: BinaryHeap<Reverse<(TsMs, usize)>>,
    /// Rules visited by [`RuleBook::evaluate`], and rules whose status [`RuleBook::flush`]
    /// looked at, so far: what the index saves is checkable.
    visits: u64,
    looks: u64,
}

impl RuleBook {
    /// The config's rules with the state stored for them, plus the rules made in the monitor
    /// that `saved` holds. Stored config rules the config no longer has are deleted.
    pub fn new(config: Vec<AlertRule>, saved: Vec<RuleRecord>, now: TsMs) -> RuleBook {
        let mut entries: Vec<Entry> = Vec::with_capacity(config.len() + saved.len());
        let mut names: HashSet<String> = HashSet::with_capacity(entries.capacity());
        let mut pending = Vec::new();
        let mut stored_config: HashMap<&str, &RuleRecord> = HashMap::new();
        for r in saved.iter().filter(|r| r.origin == Origin::Config) {
            stored_config.entry(r.rule_id.as_str()).or_insert(r);
        }
        for rule in config {
            if names.contains(&rule.name) {
                // the config loader refuses this; keep the first rather than two of one name
                tracing::error!(
                    "two alert rules are named {:?}: the second is ignored",
                    rule.name
                );
                continue;
            }
            names.insert(rule.name.clone());
            let row = stored_config
                .get(rule.name.as_str())
                .filter(|r| r.spec == rule.spec);
            entries.push(match row {
                Some(row) => Entry::restored(rule, row),
                None => Entry::new(rule, Origin::Config, now),
            });
        }
        for row in &saved {
            match row.origin {
                Origin::Config => {
                    if !names.contains(&row.rule_id) {
                        pending.push(RuleChange::Delete(row.rule_id.clone()));
                    }
                }
                Origin::Monitor => {
                    if names.contains(&row.rule_id) {
                        tracing::warn!(
                            "the rule {:?} made in the monitor is replaced by the config's rule of that name",
                            row.rule_id
                        );
                        continue;
                    }
                    match row.spec.build() {
                        // the stored name is the key, whatever the spec derives
                        Ok(mut rule) => {
                            rule.name = row.rule_id.clone();
                            names.insert(rule.name.clone());
                            entries.push(Entry::restored(rule, row));
                        }
                        Err(e) => tracing::warn!("stored alert rule not loaded: {e}"),
                    }
                }
            }
        }
        let mut book = RuleBook {
            entries,
            by_name: HashMap::new(),
            index: RuleIndex::default(),
            pending,
            touched: true,
            dirty: Vec::new(),
            reindexed: true,
            deadlines: BinaryHeap::new(),
            visits: 0,
            looks: 0,
        };
        book.reindex();
        book
    }

    /// Rebuilds the lookups after rules were added, replaced or removed; the next flush looks
    /// at every rule.
    fn reindex(&mut self) {
        self.by_name = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.rule.name.clone(), i))
            .collect();
        self.index = RuleIndex::build(self.entries.iter().map(|e| &e.rule));
        self.deadlines = self
            .entries
            .iter()
            .enumerate()
            .flat_map(|(i, e)| {
                [e.rule.expires_ms, e.snoozed_until_ms]
                    .into_iter()
                    .flatten()
                    .map(move |t| Reverse((t, i)))
            })
            .collect();
        self.dirty.clear();
        self.reindexed = true;
        self.touched = true;
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    fn monitor_rule(&self, name: &str) -> Result<usize, String> {
        let i = self
            .find(name)
            .ok_or_else(|| format!("there is no alert rule {name:?}"))?;
        if self.entries[i].origin == Origin::Config {
            return Err(format!(
                "the rule {name:?} comes from config.toml: change it there (the file is re-read when saved)"
            ));
        }
        Ok(i)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds a rule made in the monitor.
    pub fn add(&mut self, spec: &RuleConfig, now: TsMs) -> Result<(), String> {
        let rule = spec.build().map_err(|e| e.to_string())?;
        if self.find(&rule.name).is_some() {
            return Err(format!(
                "an alert rule named {:?} exists already: choose another name",
                rule.name
            ));
        }
        tracing::info!(rule = %rule.name, "alert rule added");
        self.entries.push(Entry::new(rule, Origin::Monitor, now));
        self.reindex();
        Ok(())
    }

    /// Replaces a monitor rule; its state starts afresh (an edited once rule is armed again).
    pub fn replace(&mut self, old_name: &str, spec: &RuleConfig, now: TsMs) -> Result<(), String> {
        let i = self.monitor_rule(old_name)?;
        let rule = spec.build().map_err(|e| e.to_string())?;
        if rule.name != old_name && self.find(&rule.name).is_some() {
            return Err(format!(
                "an alert rule named {:?} exists already: choose another name",
                rule.name
            ));
        }
        if rule.name != old_name {
            self.pending.push(RuleChange::Delete(old_name.to_string()));
        }
        tracing::info!(rule = %rule.name, was = old_name, "alert rule edited");
        let created = self.entries[i].created_ms;
        self.entries[i] = Entry {
            created_ms: created,
            ..Entry::new(rule, Origin::Monitor, now)
        };
        self.reindex();
        Ok(())
    }

    pub fn delete(&mut self, name: &str) -> Result<(), String> {
        let i = self.monitor_rule(name)?;
        self.entries.remove(i);
        self.pending.push(RuleChange::Delete(name.to_string()));
        tracing::info!(rule = name, "alert rule deleted");
        self.reindex();
        Ok(())
    }

    pub fn snooze(&mut self, name: &str, until_ms: Option<TsMs>) -> Result<(), String> {
        let i = self
            .find(name)
            .ok_or_else(|| format!("there is no alert rule {name:?}"))?;
        let e = &mut self.entries[i];
        e.snoozed_until_ms = until_ms;
        // a snooze is a change even when the status reads the same (a longer snooze)
        e.stored = None;
        if let Some(t) = until_ms {
            self.deadlines.push(Reverse((t, i)));
        }
        self.dirty.push(i);
        self.touched = true;
        Ok(())
    }

    pub fn acknowledge(&mut self, name: &str) -> Result<(), String> {
        let i = self
            .find(name)
            .ok_or_else(|| format!("there is no alert rule {name:?}"))?;
        let e = &mut self.entries[i];
        e.latched = false;
        e.start_rearming = false;
        for s in e.symbols.values_mut() {
            s.acknowledge(&e.rule);
        }
        self.dirty.push(i);
        self.touched = true;
        Ok(())
    }

    /// Puts the rules of a re-loaded config in place of the config's old rules. A rule whose
    /// name and definition did not change keeps its state; the others start afresh. A monitor
    /// rule with the name of a new config rule gives way to it.
    pub fn set_config(&mut self, specs: &[RuleConfig], now: TsMs) -> Result<(), String> {
        let rules = build_all(specs).map_err(|(_, e)| e.to_string())?;
        let mut old: Vec<Option<Entry>> = std::mem::take(&mut self.entries)
            .into_iter()
            .map(Some)
            .collect();
        let old_at: HashMap<String, usize> = old
            .iter()
            .enumerate()
            .filter_map(|(j, e)| e.as_ref().map(|e| (e.rule.name.clone(), j)))
            .collect();
        let mut next: Vec<Entry> = Vec::with_capacity(rules.len() + old.len());
        let (mut kept, mut changed) = (0, 0);
        for rule in rules {
            let was = old_at.get(&rule.name).and_then(|&j| old[j].take());
            match was {
                Some(was) if was.origin == Origin::Config && was.rule.spec == rule.spec => {
                    next.push(was);
                    kept += 1;
                }
                Some(was) => {
                    if was.origin == Origin::Monitor {
                        tracing::warn!(
                            "the rule {:?} made in the monitor is replaced by the config's rule of that name",
                            rule.name
                        );
                    }
                    next.push(Entry {
                        created_ms: was.created_ms,
                        ..Entry::new(rule, Origin::Config, now)
                    });
                    changed += 1;
                }
                None => {
                    next.push(Entry::new(rule, Origin::Config, now));
                    changed += 1;
                }
            }
        }
        let mut removed = 0;
        for e in old.into_iter().flatten() {
            if e.origin == Origin::Monitor {
                next.push(e);
            } else {
                self.pending.push(RuleChange::Delete(e.rule.name.clone()));
                removed += 1;
            }
        }
        tracing::info!(
            kept,
            changed,
            removed,
            "alert rules of the config file applied"
        );
        self.entries = next;
        self.reindex();
        Ok(())
    }

    /// The rules evaluated on `trigger`: `book.on(Trigger::Tick).evaluate(...)` visits only
    /// those, and of them only the ones for the event's symbol.
    pub fn on(&mut self, trigger: Trigger) -> On<'_> {
        On {
            book: self,
            trigger,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn evaluate(
        &mut self,
        key: VenueSymbol,
        trigger: Trigger,
        now: TsMs,
        history: bool,
        delivered: &str,
        out: &mut OutputBatch,
        mut value: impl FnMut(&AlertRule) -> Option<(f64, Option<String>)>,
    ) {
        for i in self.index.rules_for(trigger, key.symbol) {
            self.visits += 1;
            let e = &mut self.entries[i];
            if e.rule.expired(now) {
                continue;
            }
            let Some((v, detail)) = value(&e.rule) else {
                continue;
            };
            let start = if e.start_rearming {
                RuleState::rearming(e.last_fired_ms)
            } else {
                RuleState::default()
            };
            let s = e.symbols.entry(key).or_insert(start);
            let before = s.phase;
            let hold = Hold {
                snoozed_until_ms: e.snoozed_until_ms,
                latched: e.latched,
                history,
            };
            if s.evaluate(&e.rule, v, now, hold) {
                e.last_fired_ms = Some(now);
                if e.rule.mode == Mode::Once {
                    e.latched = true;
                }
                let mut alert = fire(key, &e.rule, v, now, delivered);
                if let Some(d) = detail {
                    alert.message = d;
                }
                out.alerts.push(alert);
                self.dirty.push(i);
                self.touched = true;
            } else if s.phase != before {
                self.dirty.push(i);
                self.touched = true;
            }
        }
    }

    /// Whether any rule is evaluated on the clock.
    pub fn has_clock_rules(&self) -> bool {
        self.index.has(Trigger::Clock)
    }

    /// Whether any rule is evaluated on the portfolio.
    pub fn has_portfolio_rules(&self) -> bool {
        self.index.has(Trigger::Portfolio)
    }

    /// Whether any rule is evaluated on local order books.
    pub fn has_book_rules(&self) -> bool {
        self.index.has(Trigger::Book)
    }

    /// Whether a rule evaluated on trades or candle closes applies to `symbol` (when none
    /// does, an event of that symbol has nothing to evaluate).
    pub fn watches(&self, symbol: crate::domain::Symbol) -> bool {
        self.index.watches(symbol)
    }

    /// How many rules [`evaluate`](Self::evaluate) has visited so far.
    pub fn visits(&self) -> u64 {
        self.visits
    }

    /// How many rule statuses [`flush`](Self::flush) has looked at so far.
    pub fn looks(&self) -> u64 {
        self.looks
    }

    /// Hands every change since the last call to `out`: deletions, and the rows of rules whose
    /// status changed (as seen at `now`, which never goes back). Returns true when anything
    /// visible changed.
    pub fn flush(&mut self, now: TsMs, out: &mut OutputBatch) -> bool {
        let mut changed = !self.pending.is_empty();
        out.rules.append(&mut self.pending);
        while let Some(&Reverse((t, i))) = self.deadlines.peek() {
            if t > now {
                break;
            }
            self.deadlines.pop();
            self.dirty.push(i);
        }
        let mut look: Vec<usize> = if self.reindexed {
            self.dirty.clear();
            (0..self.entries.len()).collect()
        } else {
            std::mem::take(&mut self.dirty)
        };
        // rows go out in book order, as the rules are listed
        look.sort_unstable();
        look.dedup();
        for i in look {
            let Some(e) = self.entries.get_mut(i) else {
                continue;
            };
            self.looks += 1;
            let status = e.status(now);
            if e.stored != Some(status) {
                e.stored = Some(status);
                out.rules
                    .push(RuleChange::Upsert(Box::new(e.row(status, now))));
                changed = true;
            }
        }
        self.reindexed = false;
        self.touched = false;
        changed
    }

    /// Whether [`flush`](Self::flush) may have something to hand over without the clock moving.
    pub fn needs_flush(&self) -> bool {
        self.touched || !self.pending.is_empty()
    }

    pub fn views(&self, now: TsMs) -> Vec<RuleView> {
        self.entries.iter().map(|e| e.view(now)).collect()
    }
}

/// The rules of a [`RuleBook`] evaluated on one trigger.
pub struct On<'a> {
    book: &'a mut RuleBook,
    trigger: Trigger,
}

impl On<'_> {
    /// Evaluates, for `key` at `now`, the rules of this trigger that apply to the symbol and
    /// that `value` gives a value for (None: the rule does not apply to this event). Fired
    /// alerts go to `out`. `history`: the data arrived too late to alert about; states still
    /// follow it.
    pub fn evaluate(
        self,
        key: VenueSymbol,
        now: TsMs,
        history: bool,
        delivered: &str,
        out: &mut OutputBatch,
        mut value: impl FnMut(&AlertRule) -> Option<f64>,
    ) {
        self.book
            .evaluate(key, self.trigger, now, history, delivered, out, |r| {
                value(r).map(|v| (v, None))
            });
    }

    /// [`evaluate`](Self::evaluate) where the value may come with the message to send when
    /// the rule fires (instead of the rule's own: a level rule names the level's side and
    /// price).
    pub fn evaluate_detailed(
        self,
        key: VenueSymbol,
        now: TsMs,
        history: bool,
        delivered: &str,
        out: &mut OutputBatch,
        value: impl FnMut(&AlertRule) -> Option<(f64, Option<String>)>,
    ) {
        self.book
            .evaluate(key, self.trigger, now, history, delivered, out, value);
    }
}

fn fire(key: VenueSymbol, rule: &AlertRule, value: f64, ts: TsMs, delivered: &str) -> AlertRecord {
    AlertRecord {
        alert_id: format!("{ts}-{}-{}-{}", key.venue, key.symbol, rule.name),
        ts_ms: ts,
        key,
        rule: rule.name.clone(),
        value,
        message: rule.message(key, value),
        delivered: delivered.into(),
        severity: rule.severity,
    }
}
