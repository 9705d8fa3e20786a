//! Names a user gives (rule names, watchlist names) are shown on screens and in lists: they
//! must not carry characters that move the cursor, reorder the text around them (bidi
//! overrides) or hide in it.

/// The first character of `s` that has no place in a one-line name: a control character
/// (C0, C1, DEL) or an invisible formatting character (bidi embeddings, overrides and
/// isolates, marks, zero-width characters, the BOM).
pub fn unsafe_name_char(s: &str) -> Option<char> {
    s.chars().find(|&c| {
        c.is_control()
            || matches!(c,
                '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
                | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
                | '\u{2060}'..='\u{2069}' // word joiner, invisible operators, bidi isolates
                | '\u{061C}'              // Arabic letter mark
                | '\u{FEFF}'              // BOM / zero-width no-break space
            )
    })
}

/// What is wrong with a name holding `c`, for messages: `U+202E`.
pub fn describe_char(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_formatting_are_found() {
        assert_eq!(unsafe_name_char("btc-70k"), None);
        assert_eq!(unsafe_name_char("prix élevé ₿"), None);
        assert_eq!(unsafe_name_char("a\u{202E}b"), Some('\u{202E}'));
        assert_eq!(unsafe_name_char("a\u{2067}b"), Some('\u{2067}'));
        assert_eq!(unsafe_name_char("a\u{1b}[2Jb"), Some('\u{1b}'));
        assert_eq!(unsafe_name_char("a\u{9b}b"), Some('\u{9b}'));
        assert_eq!(unsafe_name_char("a\u{200B}b"), Some('\u{200B}'));
        assert_eq!(describe_char('\u{202E}'), "U+202E");
    }
}
