//! Outside data is untrusted: a hostile server can put terminal escape codes
//! in a user name, and a spreadsheet runs a CSV cell that starts with `=`.

use std::borrow::Cow;

/// Characters that must not reach a terminal: C0/C1 controls, DEL, the
/// bidirectional marks and overrides that make text read otherwise than it
/// is, zero-width characters that hide in names, and line/paragraph separators.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200b}'..='\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{061c}'
                | '\u{feff}'
        )
}

/// Does this backslash need doubling to keep the output unambiguous? Only
/// when what follows it in the output could read as an escape: another
/// backslash, an unsafe character (whose escape starts with one), or `u{`.
/// `DOMAIN\user` stays as it is.
fn backslash_needs_escape(rest: &str) -> bool {
    let mut next = rest.chars();
    match next.next() {
        Some('\\') => true,
        Some(c) if is_unsafe(c) => true,
        Some('u') => next.next() == Some('{'),
        _ => false,
    }
}

/// Text safe for a terminal: unsafe characters become `\u{..}` escapes and
/// a backslash that could be read as one is doubled, so the shown text maps
/// back to exactly one original.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    let needs_work = text
        .char_indices()
        .any(|(i, c)| is_unsafe(c) || (c == '\\' && backslash_needs_escape(&text[i + 1..])));
    if !needs_work {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.char_indices() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else if c == '\\' && backslash_needs_escape(&text[i + 1..]) {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A CSV cell that a spreadsheet will not evaluate: formulas are prefixed
/// with `'`, and control characters are escaped as for a terminal.
/// Spreadsheets skip leading spaces before a formula sign, so those count too
/// (tabs are escaped as controls already).
pub fn for_csv(text: &str) -> Cow<'_, str> {
    let clean = for_terminal(text);
    if is_formula(&clean) {
        Cow::Owned(format!("'{clean}"))
    } else {
        clean
    }
}

fn is_formula(cell: &str) -> bool {
    cell.trim_start_matches([' ', '\t'])
        .starts_with(['=', '+', '-', '@'])
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
        for hidden in [
            '\u{200b}', '\u{2028}', '\u{2029}', '\u{061c}', '\u{feff}', '\u{2067}',
        ] {
            assert_eq!(
                for_terminal(&format!("a{hidden}b")),
                format!("a\\u{{{:x}}}b", hidden as u32)
            );
        }
    }

    #[test]
    fn backslashes_are_doubled_only_where_they_could_read_as_an_escape() {
        assert_eq!(for_terminal("CONTOSO\\alice"), "CONTOSO\\alice");
        assert_eq!(for_terminal("a\\u{1b}"), "a\\\\u{1b}");
        assert_eq!(for_terminal("a\\\x1b"), "a\\\\\\u{1b}");
        assert_eq!(for_terminal("a\\\\b"), "a\\\\\\b");
    }

    /// The inverse of `for_terminal`, to prove it loses nothing.
    fn unescape(text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if let Some(tail) = rest.strip_prefix("\\\\") {
                out.push('\\');
                rest = tail;
            } else if let Some(tail) = rest.strip_prefix("\\u{")
                && let Some(end) = tail.find('}')
                && let Some(decoded) = u32::from_str_radix(&tail[..end], 16)
                    .ok()
                    .and_then(char::from_u32)
            {
                out.push(decoded);
                rest = &tail[end + 1..];
            } else {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        out
    }

    #[test]
    fn neutralises_formulas() {
        assert_eq!(for_csv("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(for_csv("+1"), "'+1");
        assert_eq!(for_csv("-2"), "'-2");
        assert_eq!(for_csv("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(for_csv("alice"), "alice");
        assert_eq!(for_csv(" =1+1"), "' =1+1");
        assert_eq!(for_csv("  @x"), "'  @x");
        assert_eq!(
            for_csv("\t=1"),
            "\\u{9}=1",
            "a tab is escaped, which also defuses it"
        );
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
            prop_assert!(!is_formula(&out));
        }

        #[test]
        fn terminal_escaping_is_reversible(s in "(\\\\|u|\\{|\\}|[a-z]|\\PC|\\p{Cc}|\u{202e}|\u{200b})*") {
            prop_assert_eq!(unescape(&for_terminal(&s)), s);
        }
    }
}
