//! The devices table's own functions, one binary each (`src/bin/`): the
//! totals the overview reads and the events of enrollments and lapses, both
//! from the table's stream; and the schedule that lapses expired pre-approvals.

pub mod stream;
pub mod totals;
