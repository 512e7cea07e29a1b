//! The platforms a device can be pre-approved for (Windows cannot).

use serde::{Deserialize, Serialize};

use super::issue::{clip, err, near_miss, IssueKind, ValueError};

/// The platforms a device can be pre-approved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Android,
    Ios,
    Macos,
    Tvos,
    Linux,
}

impl Platform {
    pub const ALLOWED: [&'static str; 5] = ["android", "ios", "macos", "tvos", "linux"];

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        match raw {
            "android" => Ok(Self::Android),
            "ios" => Ok(Self::Ios),
            "macos" => Ok(Self::Macos),
            "tvos" => Ok(Self::Tvos),
            "linux" => Ok(Self::Linux),
            "" => err(IssueKind::Missing, "platform is empty; use one of android, ios, macos, tvos, linux"),
            _ if raw.to_ascii_lowercase().starts_with("windows") => err(IssueKind::Unsupported, format!(
                "platform '{}': Windows devices are not supported for pre-approved enrollment; \
                 remove this row and enroll the device another way", clip(raw))),
            _ => match near_miss(raw, &Self::ALLOWED).or_else(|| platform_alias(raw)) {
                Some(s) => err(IssueKind::NotAllowed, format!(
                    "platform '{}' is not allowed; values are case-sensitive: did you mean '{s}'?", clip(raw))),
                None => err(IssueKind::NotAllowed, format!(
                    "platform '{}' is not allowed; use one of android, ios, macos, tvos, linux", clip(raw))),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Android => "android",
            Self::Ios => "ios",
            Self::Macos => "macos",
            Self::Tvos => "tvos",
            Self::Linux => "linux",
        }
    }
}

fn platform_alias(raw: &str) -> Option<&'static str> {
    let folded: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    match folded.as_str() {
        "iphone" | "ipad" | "ipados" | "apple" => Some("ios"),
        "mac" | "osx" | "macosx" | "macbook" => Some("macos"),
        "appletv" => Some("tvos"),
        "ubuntu" | "debian" | "fedora" | "redhat" | "rhel" => Some("linux"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_values_are_exact() {
        for p in Platform::ALLOWED {
            assert_eq!(Platform::parse(p).unwrap().as_str(), p);
        }
        let e = Platform::parse("iOS").unwrap_err();
        assert!(e.message.contains("did you mean 'ios'"), "{e}");
        let e = Platform::parse("macOS").unwrap_err();
        assert!(e.message.contains("did you mean 'macos'"), "{e}");
        let e = Platform::parse("iPhone").unwrap_err();
        assert!(e.message.contains("did you mean 'ios'"), "{e}");
        let e = Platform::parse("blackberry").unwrap_err();
        assert!(
            e.message
                .contains("use one of android, ios, macos, tvos, linux"),
            "{e}"
        );
    }

    #[test]
    fn windows_is_not_supported() {
        for w in ["windows", "Windows", "windows10"] {
            let e = Platform::parse(w).unwrap_err();
            assert!(
                e.message.contains("Windows devices are not supported"),
                "{e}"
            );
        }
    }
}
