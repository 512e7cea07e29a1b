//! What the platforms an upload took from another column came to: rows per
//! proposed platform, rows without one, and each distinct value of that
//! column with its proposal ("Computer → macos: 120 rows"), for the admin to
//! check in the preview and for the report to record.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::csvfile::{ColumnMap, Field, Proposed};

/// Distinct values listed; rows with any other value are counted together.
pub const MAX_VALUES: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposalTotals {
    /// The column the platforms come from, as the file titles it.
    pub column: String,
    /// Rows per proposed platform.
    pub by_platform: BTreeMap<&'static str, u64>,
    /// Rows with no proposal: each is an error naming its cell.
    pub without: u64,
    /// The column's values (the first [`MAX_VALUES`] met), most rows first.
    pub values: Vec<ProposedValue>,
    /// Rows whose value is not listed.
    pub other_rows: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProposedValue {
    /// The cell, trimmed (at most 100 characters).
    pub value: String,
    /// None: nothing recognisable, or a Windows device.
    pub platform: Option<&'static str>,
    pub rows: u64,
}

/// Counts proposals row by row, in memory bounded by [`MAX_VALUES`]: one
/// lookup of a short string per row, with a hasher cheaper than the default
/// (the keys are the file's own cells, and at most a hundred are kept).
pub(crate) struct ProposalTally {
    totals: ProposalTotals,
    index: HashMap<String, usize, foldhash::fast::RandomState>,
}

impl ProposalTally {
    /// A tally when the upload takes Platform from a column, else None.
    pub(crate) fn for_columns(columns: &ColumnMap) -> Option<Self> {
        let column = columns.proposed_from.get(&Field::Platform)?.clone();
        Some(Self {
            totals: ProposalTotals {
                column,
                by_platform: BTreeMap::new(),
                without: 0,
                values: Vec::new(),
                other_rows: 0,
            },
            index: HashMap::default(),
        })
    }

    pub(crate) fn add(&mut self, p: Proposed<'_>) {
        let platform = p.proposal.platform();
        match platform {
            Some(name) => *self.totals.by_platform.entry(name).or_default() += 1,
            None => self.totals.without += 1,
        }
        let value = crate::domain::clip_to(p.cell, super::row::SHOWN_CHARS);
        if let Some(&i) = self.index.get(value.as_ref()) {
            self.totals.values[i].rows += 1;
        } else if self.totals.values.len() < MAX_VALUES {
            self.index
                .insert(value.clone().into_owned(), self.totals.values.len());
            self.totals.values.push(ProposedValue {
                value: value.into_owned(),
                platform,
                rows: 1,
            });
        } else {
            self.totals.other_rows += 1;
        }
    }

    pub(crate) fn finish(mut self) -> ProposalTotals {
        self.totals
            .values
            .sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.value.cmp(&b.value)));
        self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csvfile::{Fill, ManualMapping};

    fn columns() -> ColumnMap {
        let headers: Vec<String> = ["Name", "Email", "Ownership", "Serial Number", "Device Type"]
            .map(str::to_owned)
            .to_vec();
        let from = Fill::From {
            from: "Device Type".into(),
        };
        ColumnMap::build_with(&headers, &ManualMapping::new(), [(Field::Platform, &from)]).unwrap()
    }

    fn row(device_type: &str) -> csv::StringRecord {
        csv::StringRecord::from(vec!["A", "a@example.com", "corporate", "S1", device_type])
    }

    #[test]
    fn counts_rows_per_platform_and_per_value() {
        let columns = columns();
        let mut t = ProposalTally::for_columns(&columns).unwrap();
        for cell in ["Computer", "Mobile Device", " Computer ", "Printer", ""] {
            let record = row(cell);
            t.add(columns.proposed(&record, Field::Platform).unwrap());
        }
        let totals = t.finish();
        assert_eq!(totals.column, "Device Type");
        assert_eq!(
            totals.by_platform,
            BTreeMap::from([("ios", 1), ("macos", 2)])
        );
        assert_eq!(totals.without, 2);
        assert_eq!(
            totals.values[0],
            ProposedValue {
                value: "Computer".into(),
                platform: Some("macos"),
                rows: 2
            }
        );
        assert_eq!(totals.values.len(), 4);
        assert_eq!(totals.other_rows, 0);
    }

    /// Adversary 3: a column with a different value on every row lists a
    /// hundred of them and counts the rest.
    #[test]
    fn a_value_per_row_keeps_a_hundred() {
        let columns = columns();
        let mut t = ProposalTally::for_columns(&columns).unwrap();
        for i in 0..10_000 {
            let record = row(&format!("Thing {i}"));
            t.add(columns.proposed(&record, Field::Platform).unwrap());
        }
        let totals = t.finish();
        assert_eq!(totals.values.len(), MAX_VALUES);
        assert_eq!(totals.other_rows, 10_000 - MAX_VALUES as u64);
        assert_eq!(totals.without, 10_000);
    }
}
