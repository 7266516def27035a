//! Outside data is untrusted: a hostile server can put terminal escape codes
//! in a user name, and a spreadsheet runs a CSV cell that starts with `=`.

use std::borrow::Cow;

/// Characters that must not reach a terminal: C0/C1 controls, DEL, and the
/// bidirectional overrides that can make text read differently than it is.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Text safe for a terminal: unsafe characters become `\u{..}` escapes.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A CSV cell that a spreadsheet will not evaluate: formulas are prefixed
/// with `'`, and control characters are escaped as for a terminal.
pub fn for_csv(text: &str) -> Cow<'_, str> {
    let clean = for_terminal(text);
    if clean.starts_with(['=', '+', '-', '@']) {
        Cow::Owned(format!("'{clean}"))
    } else {
        clean
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(for_terminal("alice"), "alice");
        assert_eq!(for_terminal("evil\x1b[2Jname"), "evil\\u{1b}[2Jname");
        assert_eq!(for_terminal("a\nb\rc\td"), "a\\u{a}b\\u{d}c\\u{9}d");
        assert_eq!(for_terminal("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(for_terminal("\u{9b}31m"), "\\u{9b}31m");
    }

    #[test]
    fn neutralises_formulas() {
        assert_eq!(for_csv("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(for_csv("+1"), "'+1");
        assert_eq!(for_csv("-2"), "'-2");
        assert_eq!(for_csv("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(for_csv("alice"), "alice");
    }

    proptest! {
        #[test]
        fn terminal_text_never_has_controls(s in any::<String>()) {
            let out = for_terminal(&s);
            prop_assert!(!out.chars().any(is_unsafe));
        }

        #[test]
        fn csv_cells_never_start_a_formula(s in any::<String>()) {
            let out = for_csv(&s);
            prop_assert!(!out.starts_with(['=', '+', '-', '@']));
        }
    }
}
