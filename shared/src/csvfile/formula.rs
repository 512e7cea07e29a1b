//! CSV injection: a cell a spreadsheet would run as a formula is written with
//! a leading apostrophe, which spreadsheets show as text and drop on save. The
//! import removes that apostrophe again, so a file we wrote imports as the
//! values it came from.

fn is_trigger(b: u8) -> bool {
    matches!(b, b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
}

/// The cell as written to a file a person opens.
pub fn escape(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(&b) if is_trigger(b) => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// The cell [`escape`] was given: one apostrophe before a formula character is removed.
pub fn unescape(cell: &str) -> &str {
    match cell.as_bytes() {
        [b'\'', b, ..] if is_trigger(*b) => &cell[1..],
        _ => cell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_escaped() {
        assert_eq!(escape("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(escape("+1 415"), "'+1 415");
        assert_eq!(escape("-5"), "'-5");
        assert_eq!(escape("@SUM"), "'@SUM");
        assert_eq!(escape("\tx"), "'\tx");
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape(""), "");
    }

    #[test]
    fn unescape_is_the_inverse_and_leaves_other_apostrophes() {
        for cell in [
            "=1+1",
            "+14155550100",
            "-S1",
            "@x",
            "plain",
            "'quoted'",
            "'",
            "",
            "O'Brien",
        ] {
            assert_eq!(unescape(&escape(cell)), cell);
        }
        assert_eq!(unescape("'plain"), "'plain");
        assert_eq!(unescape("''=x"), "''=x");
    }
}
