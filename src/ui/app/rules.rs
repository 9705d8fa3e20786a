//! The alert-rule keys: the rule form, delete, snooze and acknowledge.

use crossterm::event::KeyEvent;

use super::{App, SNOOZE_STEPS};
use crate::alerts::rules::{Origin, Status};
use crate::ui::action::Pane;
use crate::ui::rule_form::{FormOutcome, RuleForm};
use crate::view::{EngineCtl, RuleView};

impl App {
    pub(super) fn form_key(&mut self, key: KeyEvent) -> bool {
        let Some(form) = self.form.as_mut() else {
            return false;
        };
        match form.on_key(key) {
            FormOutcome::Open => self.preview_refresh(),
            FormOutcome::Cancelled => self.form = None,
            FormOutcome::Submitted(mut spec) => {
                let editing = form.editing.clone();
                let taken = |n: &str| {
                    self.rules
                        .iter()
                        .any(|r| r.name == n && Some(r.name.as_str()) != editing.as_deref())
                };
                match spec.name.clone() {
                    Some(n) if taken(&n) => {
                        form.error =
                            Some(format!("a rule named {n:?} exists: choose another name"));
                        return true;
                    }
                    Some(_) => {}
                    None => {
                        // a derived name, made unique
                        let base = spec.display_name();
                        let mut name = base.clone();
                        let mut k = 2;
                        while taken(&name) {
                            name = format!("{base} ({k})");
                            k += 1;
                        }
                        spec.name = Some(name);
                    }
                }
                let name = spec.name.clone().unwrap_or_default();
                let msg = match editing {
                    Some(old_name) => EngineCtl::ReplaceRule {
                        old_name,
                        rule: spec,
                    },
                    None => EngineCtl::AddRule(spec),
                };
                self.form = None;
                self.send(msg);
                self.pending_select = Some(name);
            }
        }
        true
    }

    /// The rules pane cannot keep the focus once it has no rules.
    pub(super) fn leave_empty_rules(&mut self) {
        if self.focus == Pane::Rules && self.rules.is_empty() {
            self.focus = Pane::Alerts;
        }
    }

    /// Runs `f` on the selected rule when it was made in the monitor; a config rule gets a
    /// notice instead (the file defines it).
    pub(super) fn with_monitor_rule(
        &mut self,
        what: &str,
        f: impl FnOnce(&mut App, RuleView),
    ) -> bool {
        let Some(rule) = self.selected_rule().cloned() else {
            self.notice = Some(format!("no rule to {what}: n makes one"));
            return true;
        };
        if rule.origin == Origin::Config {
            self.notice = Some(format!(
                "{:?} comes from config.toml: {what} it there (re-read when saved)",
                rule.name
            ));
            return true;
        }
        f(self, rule);
        true
    }

    /// Steps the selected rule's snooze: 15 min, 1 h, 4 h, off. The step follows from what is
    /// left of the current snooze.
    pub(super) fn snooze(&mut self) -> bool {
        let now = (self.clock)();
        let Some(rule) = self.rules.get_mut(self.rule_selected) else {
            return false;
        };
        let left = rule.snoozed_until_ms.map(|t| t - now).filter(|l| *l > 0);
        let next = match left {
            None => Some(SNOOZE_STEPS[0]),
            // the step it is on is the shortest that covers what is left; take the next
            Some(l) => SNOOZE_STEPS
                .iter()
                .position(|s| *s >= l)
                .and_then(|i| SNOOZE_STEPS.get(i + 1).copied()),
        };
        let until = next.map(|d| now + d);
        rule.snoozed_until_ms = until;
        if until.is_some() {
            rule.status = Status::Snoozed;
        } else if rule.status == Status::Snoozed {
            rule.status = Status::Armed;
        }
        let name = rule.name.clone();
        self.send(EngineCtl::Snooze {
            name,
            until_ms: until,
        });
        true
    }

    pub(super) fn rule_action(&mut self, action: crate::ui::Action) -> bool {
        use crate::ui::Action;
        match action {
            Action::NewRule => {
                let price = self.selected_row().and_then(|r| r.last);
                let symbol = self.selected_key().map(|k| k.symbol);
                self.form = Some(RuleForm::new_rule(symbol, price));
                self.preview_refresh();
                true
            }
            Action::EditRule => self.with_monitor_rule("edit", |app, rule| {
                let price = app.selected_row().and_then(|r| r.last);
                app.form = Some(RuleForm::edit(&rule, price));
                app.preview_refresh();
            }),
            Action::DeleteRule => self.with_monitor_rule("delete", |app, rule| {
                app.confirm_delete = Some(rule.name);
            }),
            Action::SnoozeRule => self.snooze(),
            Action::AcknowledgeRule => match self.selected_rule() {
                None => false,
                Some(r) if r.status != Status::Triggered => {
                    self.notice = Some(format!(
                        "{:?} is {}: nothing to acknowledge",
                        r.name,
                        r.status.as_str()
                    ));
                    true
                }
                Some(r) => {
                    let name = r.name.clone();
                    self.send(EngineCtl::Acknowledge { name });
                    if let Some(r) = self.rules.get_mut(self.rule_selected) {
                        r.status = Status::Armed;
                    }
                    true
                }
            },
            _ => false,
        }
    }

    /// A pending delete takes the next key: `y` deletes, anything else keeps the rule.
    pub(super) fn confirm_delete_key(&mut self, name: String, key: KeyEvent) -> bool {
        if key.code == crossterm::event::KeyCode::Char('y') && key.modifiers.is_empty() {
            self.send(EngineCtl::DeleteRule { name: name.clone() });
            self.rules.retain(|r| r.name != name);
            self.rule_selected = self.rule_selected.min(self.rules.len().saturating_sub(1));
            self.leave_empty_rules();
        }
        true
    }
}
