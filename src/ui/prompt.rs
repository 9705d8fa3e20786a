//! A one-line text input at the bottom of the screen: the watchlist filter, a symbol to add, a
//! typed time range.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// Filters the watchlist as it is typed.
    Filter,
    AddSymbol,
    Range,
}

impl PromptKind {
    pub fn label(self) -> &'static str {
        match self {
            PromptKind::Filter => "filter /",
            PromptKind::AddSymbol => "add symbol (SYMBOL or venue:SYMBOL):",
            PromptKind::Range => "range (FROM..TO, FROM.., or 90m 36h 3d 2w):",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
    /// Why the last Enter was refused; the prompt stays open to fix it.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptOutcome {
    /// Still typing; the text may have changed.
    Editing,
    Submitted(String),
    Cancelled,
}

/// Longest input taken (a symbol or two timestamps fit easily).
const MAX_LEN: usize = 64;

impl Prompt {
    pub fn new(kind: PromptKind, text: impl Into<String>) -> Prompt {
        Prompt {
            kind,
            text: text.into(),
            error: None,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) -> PromptOutcome {
        if key.modifiers.contains(KeyModifiers::CONTROL) {
            return match key.code {
                // Ctrl-U clears the line, as in a shell
                KeyCode::Char('u') => {
                    self.text.clear();
                    PromptOutcome::Editing
                }
                _ => PromptOutcome::Editing,
            };
        }
        match key.code {
            KeyCode::Esc => PromptOutcome::Cancelled,
            KeyCode::Enter => PromptOutcome::Submitted(self.text.trim().to_string()),
            KeyCode::Backspace => {
                self.text.pop();
                self.error = None;
                PromptOutcome::Editing
            }
            KeyCode::Char(c) if !c.is_control() && self.text.chars().count() < MAX_LEN => {
                self.text.push(c);
                self.error = None;
                PromptOutcome::Editing
            }
            _ => PromptOutcome::Editing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_editing_and_submitting() {
        let mut p = Prompt::new(PromptKind::Filter, "");
        for c in "btx".chars() {
            assert_eq!(p.on_key(k(KeyCode::Char(c))), PromptOutcome::Editing);
        }
        p.on_key(k(KeyCode::Backspace));
        assert_eq!(p.text, "bt");
        assert_eq!(
            p.on_key(k(KeyCode::Enter)),
            PromptOutcome::Submitted("bt".into())
        );
        p.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(p.text, "");
        assert_eq!(p.on_key(k(KeyCode::Esc)), PromptOutcome::Cancelled);
    }
}
