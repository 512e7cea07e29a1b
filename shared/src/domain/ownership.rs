//! Ownership: `personal` or `corporate`, exactly (the seeds: case-sensitive).

use serde::{Deserialize, Serialize};

use super::issue::{clip, err, near_miss, IssueKind, ValueError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ownership {
    Personal,
    Corporate,
}

impl Ownership {
    const ALLOWED: [&'static str; 2] = ["personal", "corporate"];

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        match raw {
            "personal" => Ok(Self::Personal),
            "corporate" => Ok(Self::Corporate),
            "" => err(IssueKind::Missing, "ownership is empty; use personal or corporate"),
            _ => match near_miss(raw, &Self::ALLOWED) {
                Some(s) => err(IssueKind::NotAllowed, format!(
                    "ownership '{}' is not allowed; values are case-sensitive: did you mean '{s}'?", clip(raw))),
                None => err(IssueKind::NotAllowed, format!("ownership '{}' is not allowed; use personal or corporate", clip(raw))),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::Corporate => "corporate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_is_case_sensitive_with_a_suggestion() {
        assert_eq!(Ownership::parse("corporate").unwrap(), Ownership::Corporate);
        assert_eq!(Ownership::parse("personal").unwrap(), Ownership::Personal);
        let e = Ownership::parse("Corporate").unwrap_err();
        assert!(e.message.contains("did you mean 'corporate'"), "{e}");
        let e = Ownership::parse("company").unwrap_err();
        assert!(e.message.contains("use personal or corporate"), "{e}");
    }
}
