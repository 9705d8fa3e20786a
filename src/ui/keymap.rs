//! Keys to actions. The help overlay is generated from [`BINDINGS`], so the two cannot disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;

/// Every binding as the help overlay lists it: (keys, what they do).
pub const BINDINGS: &[(&str, &str)] = &[
    ("↑ / k", "previous symbol (rules, alerts: previous line)"),
    ("↓ / j", "next symbol (rules, alerts: next line)"),
    ("Home / g", "first symbol, rule or newest alert"),
    ("End / G", "last symbol, rule or oldest alert"),
    ("Tab / Shift-Tab", "focus next / previous pane"),
    ("[ / ]", "shorter / longer candle interval"),
    ("n", "new alert rule for the selected symbol"),
    ("e / d", "edit / delete the selected rule (d asks: y)"),
    ("z", "snooze the selected rule: 15 m, 1 h, 4 h, off"),
    ("x", "acknowledge the selected rule: armed again"),
    ("?", "show or hide this help"),
    ("Esc", "close this help"),
    ("q / Ctrl-C", "quit"),
];

/// The action for a key, or None for keys that do nothing. Only presses count (terminals that
/// report releases would otherwise act twice).
pub fn action_for(key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let action = match key.code {
        KeyCode::Char('c') | KeyCode::Char('C') if ctrl => Action::Quit,
        _ if ctrl || key.modifiers.contains(KeyModifiers::ALT) => return None,
        KeyCode::Char('q') => Action::Quit,
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Home | KeyCode::Char('g') => Action::Top,
        KeyCode::End | KeyCode::Char('G') => Action::Bottom,
        KeyCode::Tab => Action::NextPane,
        KeyCode::BackTab => Action::PrevPane,
        KeyCode::Char('[') => Action::ShorterInterval,
        KeyCode::Char(']') => Action::LongerInterval,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('n') => Action::NewRule,
        KeyCode::Char('e') => Action::EditRule,
        KeyCode::Char('d') => Action::DeleteRule,
        KeyCode::Char('z') => Action::SnoozeRule,
        KeyCode::Char('x') => Action::AcknowledgeRule,
        KeyCode::Esc => Action::CloseHelp,
        _ => return None,
    };
    Some(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn maps_the_documented_keys() {
        assert_eq!(
            action_for(key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(key(KeyCode::Char('c'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(
            action_for(key(KeyCode::Char('j'), KeyModifiers::CONTROL)),
            None
        );
        assert_eq!(
            action_for(key(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        let mut release = key(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(action_for(release), None);
    }
}
