//! Keys to actions: the defaults, rebound by the config's `[keys]` table. The help overlay is
//! generated from the active keymap, so the two cannot disagree.

use std::collections::{BTreeMap, HashMap};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::action::Action;

/// One key with its modifiers, as written in the config ("q", "Ctrl-d", "Shift-Tab", "F5").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChord {
    code: KeyCode,
    ctrl: bool,
    alt: bool,
}

const NAMED: &[(&str, KeyCode, &str)] = &[
    ("up", KeyCode::Up, "↑"),
    ("down", KeyCode::Down, "↓"),
    ("left", KeyCode::Left, "←"),
    ("right", KeyCode::Right, "→"),
    ("home", KeyCode::Home, "Home"),
    ("end", KeyCode::End, "End"),
    ("pageup", KeyCode::PageUp, "PgUp"),
    ("pagedown", KeyCode::PageDown, "PgDn"),
    ("tab", KeyCode::Tab, "Tab"),
    ("shift-tab", KeyCode::BackTab, "Shift-Tab"),
    ("backtab", KeyCode::BackTab, "Shift-Tab"),
    ("enter", KeyCode::Enter, "Enter"),
    ("esc", KeyCode::Esc, "Esc"),
    ("escape", KeyCode::Esc, "Esc"),
    ("delete", KeyCode::Delete, "Del"),
    ("del", KeyCode::Delete, "Del"),
    ("backspace", KeyCode::Backspace, "Backspace"),
    ("insert", KeyCode::Insert, "Ins"),
    ("space", KeyCode::Char(' '), "Space"),
];

impl KeyChord {
    /// Parses "q", "G", "Ctrl-d", "Alt-x", "Up", "Shift-Tab", "F5", "Space", "Del".
    pub fn parse(text: &str) -> Result<KeyChord, String> {
        let t = text.trim();
        let mut rest = t;
        let (mut ctrl, mut alt) = (false, false);
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 5 && lower.starts_with("ctrl-") {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 4 && lower.starts_with("alt-") {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let lower = rest.to_ascii_lowercase();
        let code = if let Some((_, code, _)) = NAMED.iter().find(|(n, ..)| *n == lower) {
            *code
        } else if let Some(n) = lower.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
            if !(1..=12).contains(&n) {
                return Err(format!("key {text:?}: function keys go from F1 to F12"));
            }
            KeyCode::F(n)
        } else {
            let mut chars = rest.chars();
            match (chars.next(), chars.next()) {
                // with Ctrl, terminals report the letter without its case
                (Some(c), None) if !c.is_control() && ctrl => KeyCode::Char(c.to_ascii_lowercase()),
                (Some(c), None) if !c.is_control() => KeyCode::Char(c),
                _ => {
                    return Err(format!(
                        "unknown key {text:?}; write one character (q, G, /), a name (Up, Down, \
                         Left, Right, Home, End, PageUp, PageDown, Tab, Shift-Tab, Enter, Esc, \
                         Del, Backspace, Space, F1..F12), optionally after Ctrl- or Alt-"
                    ));
                }
            }
        };
        if ctrl && code == KeyCode::Char('c') {
            return Err(format!(
                "key {text:?}: Ctrl-C always quits and cannot be rebound"
            ));
        }
        Ok(KeyChord { code, ctrl, alt })
    }

    fn of(key: &KeyEvent) -> KeyChord {
        let code = match key.code {
            // Shift is in the character itself ('G'); some terminals also report it
            KeyCode::Char(c) if key.modifiers.contains(KeyModifiers::CONTROL) => {
                KeyCode::Char(c.to_ascii_lowercase())
            }
            c => c,
        };
        KeyChord {
            code,
            ctrl: key.modifiers.contains(KeyModifiers::CONTROL),
            alt: key.modifiers.contains(KeyModifiers::ALT),
        }
    }

    /// How help shows it: "↑", "k", "Ctrl-d", "Shift-Tab".
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::F(n) => format!("F{n}"),
            code => NAMED
                .iter()
                .find(|(_, c, _)| *c == code)
                .map_or_else(|| format!("{code:?}"), |(.., l)| (*l).to_string()),
        };
        match (self.ctrl, self.alt) {
            (true, true) => format!("Ctrl-Alt-{base}"),
            (true, false) => format!("Ctrl-{base}"),
            (false, true) => format!("Alt-{base}"),
            (false, false) => base,
        }
    }
}

/// The built-in bindings.
pub const DEFAULT_KEYS: &[(Action, &[&str])] = &[
    (Action::Up, &["Up", "k"]),
    (Action::Down, &["Down", "j"]),
    (Action::Top, &["Home", "g"]),
    (Action::Bottom, &["End", "G"]),
    (Action::NextPane, &["Tab"]),
    (Action::PrevPane, &["Shift-Tab"]),
    (Action::ShorterInterval, &["["]),
    (Action::LongerInterval, &["]"]),
    (Action::Range15m, &["1"]),
    (Action::Range1h, &["2"]),
    (Action::Range4h, &["3"]),
    (Action::Range1d, &["4"]),
    (Action::Range1w, &["5"]),
    (Action::Range1M, &["6"]),
    (Action::RangeAll, &["7"]),
    (Action::RangeLive, &["0"]),
    (Action::RangeTyped, &["t"]),
    (Action::ZoomIn, &["+", "="]),
    (Action::ZoomOut, &["-"]),
    (Action::PanLeft, &["<"]),
    (Action::PanRight, &[">"]),
    (Action::Cursor, &["c"]),
    (Action::CursorLeft, &["Left", "h"]),
    (Action::CursorRight, &["Right", "l"]),
    (Action::ChartMode, &["m"]),
    (Action::ToggleSma, &["s"]),
    (Action::ToggleEma, &["E"]),
    (Action::ToggleBollinger, &["b"]),
    (Action::ToggleVolume, &["v"]),
    (Action::ToggleRsi, &["r"]),
    (Action::ToggleMacd, &["M"]),
    (Action::ToggleLog, &["L"]),
    (Action::Filter, &["/"]),
    (Action::SortNext, &["o"]),
    (Action::SortReverse, &["O"]),
    (Action::NextWatchlist, &["w"]),
    (Action::PrevWatchlist, &["W"]),
    (Action::AddSymbol, &["a"]),
    (Action::RemoveSymbol, &["Del", "D"]),
    (Action::Detail, &["Enter", "i"]),
    (Action::Overview, &["#"]),
    (Action::Ladder, &["B"]),
    (Action::Portfolio, &["P"]),
    (Action::GroupCoarser, &["}"]),
    (Action::GroupFiner, &["{"]),
    (Action::NewRule, &["n"]),
    (Action::EditRule, &["e"]),
    (Action::DeleteRule, &["d"]),
    (Action::SnoozeRule, &["z"]),
    (Action::AcknowledgeRule, &["x"]),
    (Action::ToggleHelp, &["?"]),
    (Action::Back, &["Esc"]),
    (Action::Quit, &["q"]),
];

/// The active bindings.
#[derive(Debug, Clone)]
pub struct Keymap {
    map: HashMap<KeyChord, Action>,
    /// Keys of each action in the order written, for help.
    keys: Vec<(Action, Vec<KeyChord>)>,
}

impl Default for Keymap {
    fn default() -> Self {
        match Keymap::with_overrides(&BTreeMap::new()) {
            Ok(k) => k,
            // the defaults are checked by a unit test
            Err(e) => panic!("built-in key bindings are invalid: {e}"),
        }
    }
}

impl Keymap {
    /// The defaults with `overrides` (action name → keys) applied: an overridden action gets
    /// exactly the keys given, and a key it takes is removed from the action that had it by
    /// default. Two overrides claiming one key, an unknown action or an unknown key are errors.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> Result<Keymap, String> {
        let mut chosen: Vec<(Action, Vec<KeyChord>)> = Vec::new();
        let mut claimed: HashMap<KeyChord, Action> = HashMap::new();
        for (name, keys) in overrides {
            let action = Action::from_name(name).ok_or_else(|| {
                let names: Vec<&str> = Action::ALL.iter().map(|(_, n, _)| *n).collect();
                format!("unknown action {name:?}; actions: {}", names.join(", "))
            })?;
            let mut chords = Vec::new();
            for k in keys {
                let chord = KeyChord::parse(k).map_err(|e| format!("{name}: {e}"))?;
                if let Some(other) = claimed.insert(chord, action)
                    && other != action
                {
                    return Err(format!(
                        "key {k:?} is given to both {} and {name}; give each its own key",
                        other.name()
                    ));
                }
                chords.push(chord);
            }
            chosen.push((action, chords));
        }
        let mut keys = Vec::new();
        for (action, _, _) in Action::ALL {
            let chords = match chosen.iter().find(|(a, _)| a == action) {
                Some((_, c)) => c.clone(),
                None => default_keys(*action)?
                    .into_iter()
                    .filter(|c| !claimed.contains_key(c))
                    .collect(),
            };
            keys.push((*action, chords));
        }
        let mut map = HashMap::new();
        for (action, chords) in &keys {
            for c in chords {
                if let Some(other) = map.insert(*c, *action) {
                    return Err(format!(
                        "key {} is bound to both {} and {}",
                        c.label(),
                        other.name(),
                        action.name()
                    ));
                }
            }
        }
        Ok(Keymap { map, keys })
    }

    /// The action for a key press, or None. Only presses count (terminals that report releases
    /// would otherwise act twice); Ctrl-C always quits.
    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C'))
        {
            return Some(Action::Quit);
        }
        self.map.get(&KeyChord::of(key)).copied()
    }

    /// The keys of `action` as help shows them ("↑ / k"), with the arrows as words ("Up / k")
    /// when `words`: in ASCII, arrows would fold to `^`, `v`, `<`, `>`, which are keys too.
    pub fn keys_shown(&self, action: Action, words: bool) -> String {
        let keys = self.keys_of(action);
        if words { arrows_in_words(&keys) } else { keys }
    }

    /// The keys of `action` as help shows them ("↑ / k"); empty when unbound.
    pub fn keys_of(&self, action: Action) -> String {
        let mut labels: Vec<String> = self
            .keys
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, c)| c.iter().map(KeyChord::label).collect())
            .unwrap_or_default();
        if action == Action::Quit {
            labels.push("Ctrl-C".into());
        }
        labels.join(" / ")
    }

    /// Every action with its keys and description, in help order (unbound actions too, so a
    /// rebinding that left one without a key shows).
    pub fn bindings(&self) -> Vec<(String, &'static str)> {
        Action::ALL
            .iter()
            .map(|(a, _, d)| {
                let keys = self.keys_of(*a);
                (
                    if keys.is_empty() {
                        "(unbound)".into()
                    } else {
                        keys
                    },
                    *d,
                )
            })
            .collect()
    }
}

/// Arrow glyphs in a key label written as words ("↑ / k" → "Up / k").
pub fn arrows_in_words(label: &str) -> String {
    let mut out = String::with_capacity(label.len());
    for c in label.chars() {
        match c {
            '↑' => out.push_str("Up"),
            '↓' => out.push_str("Down"),
            '←' => out.push_str("Left"),
            '→' => out.push_str("Right"),
            c => out.push(c),
        }
    }
    out
}

impl Keymap {
    /// Every binding as a Markdown table (key, `[keys]` name, what it does): the README's key
    /// reference, checked against the defaults by a test.
    pub fn markdown(&self) -> String {
        let mut out = String::from("| keys | name in `[keys]` | what it does |\n|---|---|---|\n");
        for (a, name, what) in Action::ALL {
            let keys = self.keys_of(*a).replace('|', "\\|");
            out.push_str(&format!("| {keys} | `{name}` | {what} |\n"));
        }
        out
    }
}

fn default_keys(action: Action) -> Result<Vec<KeyChord>, String> {
    DEFAULT_KEYS
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(&[][..], |(_, k)| *k)
        .iter()
        .map(|k| KeyChord::parse(k))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn defaults_cover_every_action_without_clashes() {
        let km = Keymap::with_overrides(&BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
        for (a, ..) in Action::ALL {
            assert!(!km.keys_of(*a).is_empty(), "{a:?} has no key");
        }
        assert_eq!(
            km.action(&key(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('c'), KeyModifiers::NONE)),
            Some(Action::Cursor)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('j'), KeyModifiers::CONTROL)),
            None
        );
        assert_eq!(
            km.action(&key(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::PrevPane)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        let mut release = key(KeyCode::Char('q'), KeyModifiers::NONE);
        release.kind = KeyEventKind::Release;
        assert_eq!(km.action(&release), None);
        assert_eq!(km.keys_of(Action::Up), "↑ / k");
        assert_eq!(km.keys_of(Action::Quit), "q / Ctrl-C");
    }

    #[test]
    fn overrides_rebind_and_take_keys_from_defaults() {
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), vec!["Ctrl-q".to_string()]);
        o.insert(
            "range_4h".to_string(),
            vec!["q".to_string(), "F4".to_string()],
        );
        o.insert("overview".to_string(), vec!["Ctrl-O".to_string()]);
        let km = Keymap::with_overrides(&o).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            km.action(&key(KeyCode::Char('q'), KeyModifiers::NONE)),
            Some(Action::Range4h)
        );
        assert_eq!(
            km.action(&key(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(&key(KeyCode::F(4), KeyModifiers::NONE)),
            Some(Action::Range4h)
        );
        // '3' lost nothing: range_4h's default key is replaced, so 3 is free now
        assert_eq!(
            km.action(&key(KeyCode::Char('3'), KeyModifiers::NONE)),
            None
        );
        assert_eq!(km.keys_of(Action::Range4h), "q / F4");
        // terminals send Ctrl-O as Ctrl with 'o'
        assert_eq!(
            km.action(&key(KeyCode::Char('o'), KeyModifiers::CONTROL)),
            Some(Action::Overview)
        );
    }

    #[test]
    fn bad_overrides_say_what_is_wrong() {
        let one = |a: &str, k: &str| {
            let mut o = BTreeMap::new();
            o.insert(a.to_string(), vec![k.to_string()]);
            Keymap::with_overrides(&o).err().unwrap_or_default()
        };
        assert!(one("teleport", "t").contains("unknown action \"teleport\""));
        assert!(one("quit", "Hyper-q").contains("unknown key"));
        assert!(one("quit", "F13").contains("F1 to F12"));
        assert!(one("quit", "Ctrl-c").contains("cannot be rebound"));
        let mut o = BTreeMap::new();
        o.insert("quit".to_string(), vec!["x".to_string()]);
        o.insert("help".to_string(), vec!["x".to_string()]);
        let e = Keymap::with_overrides(&o).err().unwrap_or_default();
        assert!(e.contains("given to both"), "{e}");
    }
}
