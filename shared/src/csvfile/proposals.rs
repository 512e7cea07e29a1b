//! Each row's platform, proposed from what another tool's column says about
//! its device: Jamf Pro's `Device Type`, a model name (Apple Business
//! Manager's `Device Model`, Intune's `Model`) or an operating system
//! (Google Workspace's `Type` or `OS`, Hexnode's export). Nothing here
//! applies by itself: an upload takes Platform from such a column only when
//! the admin confirms it (`column-defaults` `{"Platform": {"from": …}}`),
//! after the preview has shown each row's proposal. The words matched are
//! the other tools' (any case, spaces and punctuation ignored); the seeds'
//! own Platform column stays exact and case-sensitive.

use serde::Serialize;

use super::header::normalise;

/// What a column says about a device, known by its title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformSource {
    /// Jamf Pro's device types: Computer, Mobile Device, Apple TV.
    DeviceType,
    /// A model name or identifier: "iPhone 15", "MacBook Pro (14-inch)", "Mac14,2".
    Model,
    /// An operating system: "iOS 17.4", "macOS 14", "Android 14", "Mac".
    System,
}

/// Normalised titles and what their columns hold. `platform` is here for a
/// column a manual mapping took off the Platform field (Hexnode's export
/// writes "iOS", which the seeds' Platform refuses).
const TITLES: [(&str, PlatformSource); 15] = [
    ("devicetype", PlatformSource::DeviceType),
    ("devicemodel", PlatformSource::Model),
    ("model", PlatformSource::Model),
    ("modelname", PlatformSource::Model),
    ("productname", PlatformSource::Model),
    ("hardwaremodel", PlatformSource::Model),
    ("modelidentifier", PlatformSource::Model),
    ("os", PlatformSource::System),
    ("osname", PlatformSource::System),
    ("ostype", PlatformSource::System),
    ("operatingsystem", PlatformSource::System),
    ("osplatform", PlatformSource::System),
    ("platform", PlatformSource::System),
    ("deviceplatform", PlatformSource::System),
    ("type", PlatformSource::System),
];

impl PlatformSource {
    /// The kind of column a title names, if its words can say a platform.
    pub fn of_title(title: &str) -> Option<Self> {
        let n = normalise(title);
        TITLES.iter().find(|(t, _)| *t == n).map(|(_, s)| *s)
    }

    /// The words this kind of column is read with, for messages.
    pub fn words(self) -> &'static str {
        match self {
            Self::DeviceType => "Jamf Pro's device types: Computer → macos, Mobile Device → ios, Apple TV → tvos",
            Self::Model => "model names: iPhone, iPad, iPod → ios; MacBook, iMac, Mac mini, Mac Pro, Mac Studio → macos; \
                 Apple TV → tvos; Pixel and Galaxy phones and tablets → android",
            Self::System => "operating systems: iOS, iPadOS → ios; macOS, OS X, Mac → macos; tvOS → tvos; \
                 Android → android; Linux, Ubuntu, Debian, Fedora, Red Hat → linux",
        }
    }
}

/// What a cell proposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proposal {
    /// One of the seeds' values (`ios`, `macos`, …).
    Platform(&'static str),
    /// A Windows device: never pre-approved.
    Windows,
    /// Nothing recognisable (a printer, a watch, an empty cell).
    Nothing,
}

impl Proposal {
    pub fn platform(self) -> Option<&'static str> {
        match self {
            Self::Platform(p) => Some(p),
            _ => None,
        }
    }
}

/// Lower-case ASCII letters and digits of a cell, the first [`Squashed::CAP`]
/// of them: enough for every prefix matched, and no allocation per row.
struct Squashed {
    buf: [u8; Self::CAP],
    len: usize,
}

impl Squashed {
    const CAP: usize = 32;

    fn new(cell: &str) -> Self {
        let mut s = Self {
            buf: [0; Self::CAP],
            len: 0,
        };
        for b in cell.bytes().filter(u8::is_ascii_alphanumeric) {
            if s.len == Self::CAP {
                break;
            }
            s.buf[s.len] = b.to_ascii_lowercase();
            s.len += 1;
        }
        s
    }

    fn as_str(&self) -> &str {
        // Only ASCII bytes were copied.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

const IOS: Proposal = Proposal::Platform("ios");
const MACOS: Proposal = Proposal::Platform("macos");
const TVOS: Proposal = Proposal::Platform("tvos");
const ANDROID: Proposal = Proposal::Platform("android");
const LINUX: Proposal = Proposal::Platform("linux");

/// Model name prefixes, the first that matches wins: the exceptions of a
/// family (a Pixelbook runs ChromeOS, a Galaxy Book Windows) come before it.
const MODELS: [(&str, Proposal); 21] = [
    ("iphone", IOS),
    ("ipad", IOS),
    ("ipod", IOS),
    ("appletv", TVOS),
    ("applevision", Proposal::Nothing),
    ("applewatch", Proposal::Nothing),
    ("macbook", MACOS),
    ("imac", MACOS),
    ("macmini", MACOS),
    ("macpro", MACOS),
    ("macstudio", MACOS),
    ("pixelbook", Proposal::Nothing),
    ("pixelslate", Proposal::Nothing),
    ("pixelwatch", Proposal::Nothing),
    ("pixelbuds", Proposal::Nothing),
    ("pixel", ANDROID),
    ("galaxybook", Proposal::Windows),
    ("galaxywatch", Proposal::Nothing),
    ("galaxybuds", Proposal::Nothing),
    ("galaxy", ANDROID),
    ("surface", Proposal::Windows),
];

/// Operating system prefixes.
const SYSTEMS: [(&str, Proposal); 17] = [
    ("windows", Proposal::Windows),
    ("microsoftwindows", Proposal::Windows),
    ("ios", IOS),
    ("ipados", IOS),
    ("iphoneos", IOS),
    ("macos", MACOS),
    ("osx", MACOS),
    ("macintosh", MACOS),
    ("appleosx", MACOS),
    ("tvos", TVOS),
    ("appletv", TVOS),
    ("android", ANDROID),
    ("linux", LINUX),
    ("ubuntu", LINUX),
    ("debian", LINUX),
    ("fedora", LINUX),
    ("redhat", LINUX),
];

fn by_prefix(s: &str, table: &[(&str, Proposal)]) -> Option<Proposal> {
    table
        .iter()
        .find(|(prefix, _)| s.starts_with(prefix))
        .map(|(_, p)| *p)
}

/// "Mac" alone, or a Mac's model identifier ("Mac14,2").
fn is_mac(s: &str) -> bool {
    s.strip_prefix("mac")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_digit()))
}

/// The platform a cell of a `source` column proposes.
pub fn propose(source: PlatformSource, cell: &str) -> Proposal {
    let squashed = Squashed::new(cell);
    let s = squashed.as_str();
    match source {
        PlatformSource::DeviceType => match s {
            "computer" => MACOS,
            "mobiledevice" => IOS,
            "appletv" => TVOS,
            _ => Proposal::Nothing,
        },
        PlatformSource::Model => {
            // "Apple iPhone 15" as well as "iPhone 15".
            let s = match s.strip_prefix("apple") {
                Some(rest) if !s.starts_with("appletv") && !s.starts_with("applev") => rest,
                _ => s,
            };
            by_prefix(s, &MODELS)
                .or_else(|| is_mac(s).then_some(MACOS))
                .unwrap_or(Proposal::Nothing)
        }
        PlatformSource::System => by_prefix(s, &SYSTEMS)
            .or_else(|| (s == "mac").then_some(MACOS))
            .unwrap_or(Proposal::Nothing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_say_what_a_column_holds() {
        assert_eq!(
            PlatformSource::of_title("Device Type"),
            Some(PlatformSource::DeviceType)
        );
        assert_eq!(
            PlatformSource::of_title("device_model"),
            Some(PlatformSource::Model)
        );
        assert_eq!(PlatformSource::of_title("OS"), Some(PlatformSource::System));
        assert_eq!(PlatformSource::of_title("Notes"), None);
        assert_eq!(PlatformSource::of_title("Serial Number"), None);
    }

    /// Issue 29: Jamf Pro's three device types, exactly; nothing else.
    #[test]
    fn jamf_device_types_propose_their_platform() {
        let t = PlatformSource::DeviceType;
        assert_eq!(propose(t, "Computer"), MACOS);
        assert_eq!(propose(t, "Mobile Device"), IOS);
        assert_eq!(propose(t, "mobile device"), IOS);
        assert_eq!(propose(t, "Apple TV"), TVOS);
        for none in ["", "Printer", "Computers", "Mobile"] {
            assert_eq!(propose(t, none), Proposal::Nothing, "{none}");
        }
    }

    /// Issue 29: ABM's model names; anything not recognisable has no proposal.
    #[test]
    fn model_names_propose_their_platform() {
        let m = PlatformSource::Model;
        for (model, want) in [
            ("iPhone 15", IOS),
            ("iPhone15,2", IOS),
            ("iPad Pro (11-inch)", IOS),
            ("iPad Air (5th generation)", IOS),
            ("iPod touch", IOS),
            ("Apple iPhone 14 Pro", IOS),
            ("MacBook Pro", MACOS),
            ("MacBook Air (M2, 2022)", MACOS),
            ("iMac", MACOS),
            ("Mac mini", MACOS),
            ("Mac Studio", MACOS),
            ("Mac Pro", MACOS),
            ("Mac14,2", MACOS),
            ("Apple TV 4K", TVOS),
            ("AppleTV11,1", TVOS),
            ("Pixel 8 Pro", ANDROID),
            ("Galaxy S23", ANDROID),
            ("Galaxy Tab S9", ANDROID),
            ("Surface Pro 9", Proposal::Windows),
            ("Galaxy Book3", Proposal::Windows),
        ] {
            assert_eq!(propose(m, model), want, "{model}");
        }
        for none in [
            "",
            "Apple Vision Pro",
            "Apple Watch Series 9",
            "Pixelbook Go",
            "ThinkPad X1",
            "Macchiato 3000",
            "HP LaserJet",
        ] {
            assert_eq!(propose(m, none), Proposal::Nothing, "{none}");
        }
    }

    #[test]
    fn operating_systems_propose_their_platform_and_windows_is_told_apart() {
        let s = PlatformSource::System;
        for (os, want) in [
            ("iOS 17.4", IOS),
            ("iPadOS", IOS),
            ("macOS 14.1", MACOS),
            ("Mac OS X", MACOS),
            ("Mac", MACOS),
            ("AppleOsX", MACOS),
            ("tvOS", TVOS),
            ("Android 14", ANDROID),
            ("Ubuntu 22.04", LINUX),
            ("Linux", LINUX),
            ("Windows 11", Proposal::Windows),
            ("Microsoft Windows 10 Pro", Proposal::Windows),
        ] {
            assert_eq!(propose(s, os), want, "{os}");
        }
        for none in ["", "Chrome OS", "Apple", "Machine", "visionOS"] {
            assert_eq!(propose(s, none), Proposal::Nothing, "{none}");
        }
    }

    /// Adversary 3: a runaway cell is read in its first 32 letters and digits.
    #[test]
    fn a_huge_cell_is_read_in_its_first_letters() {
        let cell = format!("iPhone {}", "x".repeat(1_000_000));
        assert_eq!(propose(PlatformSource::Model, &cell), IOS);
        let cell = format!("computer{}", "x".repeat(100));
        assert_eq!(
            propose(PlatformSource::DeviceType, &cell),
            Proposal::Nothing
        );
    }
}
