//! The portfolio's ledger in the monitor: the `P` view's second tab (Tab switches) lists the
//! entries, newest first; `n` adds one, `e` edits the selected one, `d` deletes it (after a
//! `y`). Config entries are the file's: they are shown, and changed only there. A change is
//! checked as an import is (a sale of more than is held then is refused, naming the entry),
//! valued at once, and handed to the engine, which stores it and values its alerts with it.

use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent};

use super::{App, View};
use crate::portfolio::{EntryChange, Portfolio, editable};
use crate::ui::action::Action;
use crate::ui::entry_form::{EntryForm, EntryOutcome};
use crate::view::EngineCtl;

/// Which half of the `P` view is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FolioTab {
    /// Positions, totals and the value chart.
    #[default]
    Positions,
    /// The entries, with a cursor.
    Ledger,
}

impl App {
    /// The keys the `P` view takes for itself; None: not one of them.
    pub(super) fn folio_action(&mut self, action: Action) -> Option<bool> {
        if self.view != View::Portfolio {
            return None;
        }
        Some(match action {
            Action::NextPane | Action::PrevPane => {
                self.folio_tab = match self.folio_tab {
                    FolioTab::Positions => FolioTab::Ledger,
                    FolioTab::Ledger => FolioTab::Positions,
                };
                true
            }
            Action::NewRule => {
                let selected = self.selected_row().map(|r| (r.key.to_string(), r.last));
                let (market, price) = match selected {
                    Some((k, p)) => (Some(k), p),
                    None => (None, None),
                };
                self.entry_form = Some(EntryForm::new_entry((self.clock)(), market, price));
                true
            }
            Action::EditRule | Action::DeleteRule => {
                let Some(e) = self.selected_entry().cloned() else {
                    self.notice =
                        Some("no entry selected: Tab shows the ledger, n adds one".into());
                    return Some(true);
                };
                let what = if action == Action::EditRule {
                    "edit"
                } else {
                    "delete"
                };
                if !editable(&e) {
                    self.notice = Some(format!(
                        "this entry comes from config.toml: {what} it there ([[portfolio.entries]])"
                    ));
                } else if action == Action::EditRule {
                    self.entry_form = Some(EntryForm::edit(&e));
                } else {
                    self.confirm_entry_delete = Some(e.id.clone());
                }
                true
            }
            Action::Up | Action::Down | Action::Top | Action::Bottom
                if self.folio_tab == FolioTab::Ledger =>
            {
                let n = self.ledger().len();
                let last = n.saturating_sub(1);
                let next = match action {
                    Action::Up => self.ledger_cursor.saturating_sub(1),
                    Action::Down => (self.ledger_cursor + 1).min(last),
                    Action::Top => 0,
                    _ => last,
                };
                let changed = next != self.ledger_cursor;
                self.ledger_cursor = next;
                changed
            }
            _ => return None,
        })
    }

    /// The entries as the ledger tab lists them: newest first.
    pub fn ledger(&self) -> Vec<&crate::portfolio::Entry> {
        let mut v: Vec<_> = self
            .portfolio
            .as_deref()
            .map(|p| p.entries.iter().collect())
            .unwrap_or_default();
        v.sort_by_key(|e| std::cmp::Reverse(e.ts_ms));
        v
    }

    pub fn ledger_cursor(&self) -> usize {
        self.ledger_cursor
            .min(self.ledger().len().saturating_sub(1))
    }

    fn selected_entry(&self) -> Option<&crate::portfolio::Entry> {
        if self.folio_tab != FolioTab::Ledger {
            return None;
        }
        self.ledger().get(self.ledger_cursor()).copied()
    }

    pub fn folio_tab(&self) -> FolioTab {
        self.folio_tab
    }

    pub fn entry_form(&self) -> Option<&EntryForm> {
        self.entry_form.as_ref()
    }

    /// The id of the entry waiting for a `y` to be deleted.
    pub fn confirm_entry_delete(&self) -> Option<&str> {
        self.confirm_entry_delete.as_deref()
    }

    pub(super) fn entry_form_key(&mut self, key: KeyEvent) -> bool {
        let base = self.folio_base();
        let now = (self.clock)();
        let Some(form) = self.entry_form.as_mut() else {
            return false;
        };
        match form.on_key(key, &base, now) {
            EntryOutcome::Open => {}
            EntryOutcome::Cancelled => self.entry_form = None,
            EntryOutcome::Submitted(mut e) => {
                let new = form.editing.is_none();
                if new {
                    // two entries made in the same millisecond keep their own ids
                    let taken = |id: &str| self.ledger().iter().any(|x| x.id == id);
                    let base_id = e.id.clone();
                    let mut k = 2;
                    while taken(&e.id) {
                        e.id = format!("{base_id}-{k}");
                        k += 1;
                    }
                }
                let id = e.id.clone();
                match self.apply_entry_change(EntryChange::Upsert(Box::new(e))) {
                    Ok(()) => {
                        self.entry_form = None;
                        self.folio_tab = FolioTab::Ledger;
                        if let Some(i) = self.ledger().iter().position(|x| x.id == id) {
                            self.ledger_cursor = i;
                        }
                        self.notice = Some("entry saved".into());
                    }
                    Err(why) => {
                        if let Some(f) = self.entry_form.as_mut() {
                            f.error = Some(why);
                        }
                    }
                }
            }
        }
        true
    }

    /// A pending delete takes the next key: `y` deletes, anything else keeps the entry.
    pub(super) fn confirm_entry_delete_key(&mut self, id: String, key: KeyEvent) -> bool {
        if key.code == KeyCode::Char('y') && key.modifiers.is_empty() {
            match self.apply_entry_change(EntryChange::Delete(id)) {
                Ok(()) => self.notice = Some("entry deleted".into()),
                Err(why) => self.notice = Some(format!("not deleted: {why}")),
            }
        }
        true
    }

    fn folio_base(&self) -> String {
        match &self.portfolio {
            Some(p) => p.basis.base.clone(),
            None => self.portfolio_section.base.to_ascii_uppercase(),
        }
    }

    /// Checks the ledger with `change`; if it adds up, takes it and hands it to the engine.
    fn apply_entry_change(&mut self, change: EntryChange) -> Result<(), String> {
        if let Some(e) = &self.portfolio_error {
            // a change to a part of the ledger would store a ledger that does not add up
            return Err(format!(
                "the portfolio could not be loaded ({e}): fix that first"
            ));
        }
        let next = match (&self.portfolio, &change) {
            (Some(p), _) => p.changed(&change)?,
            (None, EntryChange::Upsert(e)) => {
                let empty = Portfolio {
                    entries: Vec::new(),
                    basis: self.portfolio_section.basis(),
                    markets: Default::default(),
                    prices: self.portfolio_section.prices.clone(),
                };
                empty.changed(&EntryChange::Upsert(e.clone()))?
            }
            (None, EntryChange::Delete(_)) => return Err("there are no entries".into()),
        };
        self.portfolio = next.map(Arc::new);
        self.books = None;
        self.send(EngineCtl::EditPortfolio {
            change,
            portfolio: self.portfolio.clone(),
        });
        self.folio.generation += 1;
        // live values were the old ledger's
        self.folio.live.clear();
        self.ledger_cursor = self.ledger_cursor();
        self.revalue();
        Ok(())
    }
}
