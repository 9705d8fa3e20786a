//! What the monitor's forms (the alert rule form, the portfolio entry form) share: one line
//! per field, ↑/↓ (Tab) to move, ←/→ (space) to choose, typing into text fields, Enter to
//! submit, Esc to cancel.

use crossterm::event::{KeyCode, KeyEvent};

/// What a key did to a form.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome<T> {
    Open,
    Cancelled,
    /// What the form describes, valid.
    Submitted(T),
}

/// A form's fields and state, for [`on_key`].
pub trait Form {
    type Field: Copy + PartialEq;
    /// Characters a text field takes at most.
    const MAX_TEXT: usize;
    /// The fields shown now, in order (the first is where focus goes when the focused one
    /// is no longer shown).
    fn fields(&self) -> Vec<Self::Field>;
    fn focus(&self) -> Self::Field;
    fn set_focus(&mut self, f: Self::Field);
    /// The text of a typed field; None for a chosen one.
    fn text_mut(&mut self, f: Self::Field) -> Option<&mut String>;
    /// ←/→ on the focused field (a chosen one).
    fn choose(&mut self, forward: bool);
    fn set_error(&mut self, e: Option<String>);
}

/// The next (or previous) of `all` after `now`, wrapping around.
pub fn cycle<T: Copy + PartialEq>(all: &[T], now: T, forward: bool) -> T {
    let i = all.iter().position(|x| *x == now).unwrap_or(0);
    let n = all.len();
    let j = if forward {
        (i + 1) % n
    } else {
        (i + n - 1) % n
    };
    all[j]
}

/// Applies `key` to `form`; Enter calls `submit`, whose error is shown in the form.
pub fn on_key<F: Form, T>(
    form: &mut F,
    key: KeyEvent,
    submit: impl FnOnce(&F) -> Result<T, String>,
) -> Outcome<T> {
    form.set_error(None);
    let step = |form: &mut F, forward: bool| {
        let fields = form.fields();
        let i = fields.iter().position(|f| *f == form.focus()).unwrap_or(0);
        let j = if forward {
            (i + 1).min(fields.len() - 1)
        } else {
            i.saturating_sub(1)
        };
        form.set_focus(fields[j]);
    };
    match key.code {
        KeyCode::Esc => return Outcome::Cancelled,
        KeyCode::Enter => match submit(form) {
            Ok(v) => return Outcome::Submitted(v),
            Err(e) => form.set_error(Some(e)),
        },
        KeyCode::Up | KeyCode::BackTab => step(form, false),
        KeyCode::Down | KeyCode::Tab => step(form, true),
        KeyCode::Left => form.choose(false),
        KeyCode::Right => form.choose(true),
        KeyCode::Backspace => {
            let f = form.focus();
            if let Some(t) = form.text_mut(f) {
                t.pop();
            }
        }
        KeyCode::Char(c) => {
            let f = form.focus();
            match form.text_mut(f) {
                Some(t) if t.chars().count() < F::MAX_TEXT && !c.is_control() => t.push(c),
                Some(_) => {}
                None if c == ' ' => form.choose(true),
                None => {}
            }
        }
        _ => {}
    }
    // the fields of another kind may no longer include the focused one
    let fields = form.fields();
    if !fields.contains(&form.focus())
        && let Some(first) = fields.first()
    {
        form.set_focus(*first);
    }
    Outcome::Open
}
