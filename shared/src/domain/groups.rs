//! Device groups from a `;`-separated cell.

use super::issue::{err, IssueKind, ValueError};

fn group_names(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(';').map(str::trim).filter(|g| !g.is_empty())
}

/// The device-group cell as a whole: keeps every device item far below
/// DynamoDB's 400 KB whatever else the row holds.
pub const MAX_GROUPS_CELL: usize = 4096;

/// The rules of [`parse_groups`] without building the list (the validation pass).
pub fn check_groups(raw: &str) -> Result<(), ValueError> {
    if raw.len() > MAX_GROUPS_CELL {
        return err(
            IssueKind::TooLong,
            format!(
                "the device groups are longer than {MAX_GROUPS_CELL} characters in all; \
                 put the device in fewer groups (separate them with ';')"
            ),
        );
    }
    match group_names(raw).find(|g| g.len() > 128) {
        Some(g) => err(
            IssueKind::TooLong,
            format!("device group '{g}' is longer than 128 characters"),
        ),
        None => Ok(()),
    }
}

/// Device groups from a `;`-separated cell, trimmed, empty names dropped, first spelling kept.
pub fn parse_groups(raw: &str) -> Result<Vec<String>, ValueError> {
    check_groups(raw)?;
    Ok(checked_groups(raw))
}

/// [`parse_groups`] for a cell that passed [`check_groups`].
pub(crate) fn checked_groups(raw: &str) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for g in group_names(raw) {
        if !groups.iter().any(|x| x == g) {
            groups.push(g.to_owned());
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_split_trimmed_and_deduplicated() {
        assert_eq!(
            parse_groups(" Sales ; ;Field;Sales").unwrap(),
            vec!["Sales", "Field"]
        );
        assert!(parse_groups("").unwrap().is_empty());
    }
}
