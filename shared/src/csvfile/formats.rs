//! The device lists admins bring from other tools: which one a header row is
//! (for the preview and the report to say), and a header line for a file
//! that has none (Intune's corporate identifiers are serial, manufacturer,
//! model, without titles).

use super::header::{normalise, Field};

/// A tool's device list, known by titles only it has all of.
struct Format {
    name: &'static str,
    /// Normalised titles that must all be present.
    titles: &'static [&'static str],
}

/// Most specific first: the first whose titles are all present names the file.
const FORMATS: [Format; 8] = [
    Format {
        name: "Jamf Pro Inventory Preload",
        titles: &[
            "serialnumber",
            "devicetype",
            "username",
            "fullname",
            "emailaddress",
        ],
    },
    Format {
        name: "Apple Business Manager / Apple School Manager device export",
        titles: &["serialnumber", "devicemodel", "ordernumber"],
    },
    Format {
        name: "Workspace ONE device import",
        titles: &["serialnumber", "friendlyname", "enrollmentuser"],
    },
    Format {
        name: "Google Workspace company-owned devices",
        titles: &["serialnumber", "assettag", "useremail"],
    },
    // This product's export writes every field's title but the password.
    Format {
        name: "this product's device export",
        titles: &[
            "name",
            "email",
            "ownership",
            "serialnumber",
            "platform",
            "samaccountname",
            "mobile",
            "devicename",
            "devicegroup",
            "expires",
        ],
    },
    // Hexnode's device list as exported from its console (a device's page
    // lists Model, Serial Number, Platform and OS Version).
    Format {
        name: "Hexnode device export",
        titles: &[
            "devicename",
            "model",
            "serialnumber",
            "platform",
            "osversion",
        ],
    },
    // The keys the seeds' product maps by itself (Hexnode's pre-approve sample).
    Format {
        name: "Hexnode pre-approve template",
        titles: &[
            "displayname",
            "email",
            "mobile",
            "ownership",
            "devicename",
            "serialnumber",
            "platform",
        ],
    },
    // Intune's corporate identifiers once the header line the import
    // suggests for them is added (the file itself has none).
    Format {
        name: "Intune corporate device identifiers",
        titles: &["serialnumber", "manufacturer", "model"],
    },
];

/// Which known tool's device list this header row is, if any.
pub fn recognise(headers: &[String]) -> Option<&'static str> {
    let titles: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
    FORMATS
        .iter()
        .find(|f| f.titles.iter().all(|t| titles.iter().any(|h| h == t)))
        .map(|f| f.name)
}

/// Makers whose name stands in a column of its own in corporate-identifier lists.
const MAKERS: [&str; 14] = [
    "apple",
    "samsung",
    "google",
    "lenovo",
    "dell",
    "hp",
    "microsoft",
    "motorola",
    "zebra",
    "xiaomi",
    "huawei",
    "oneplus",
    "sony",
    "lg",
];

/// Like a serial number or an IMEI: 6 to 24 letters, digits and hyphens,
/// with a digit, and a letter unless it is a 14-to-16-digit IMEI/MEID.
fn serial_shaped(cell: &str) -> bool {
    let ok_chars = cell.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let digits = cell.chars().filter(char::is_ascii_digit).count();
    let letters = cell.chars().filter(char::is_ascii_alphabetic).count();
    (6..=24).contains(&cell.len())
        && ok_chars
        && digits > 0
        && (letters > 0 || (14..=16).contains(&digits))
}

/// When the first row is data rather than titles (no cell is a title any
/// field is known by, and one is a serial number), a header line for it: a
/// title per column, guessed from its value.
pub fn header_for_data(first_row: &[String]) -> Option<Vec<String>> {
    let cells: Vec<&str> = first_row.iter().map(|c| c.trim()).collect();
    if cells
        .iter()
        .any(|c| !c.is_empty() && Field::is_known_title(&normalise(c)))
    {
        return None;
    }
    if !cells.iter().any(|c| serial_shaped(c)) {
        return None;
    }
    let mut after_maker = false;
    let titles = cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let lower = c.to_ascii_lowercase();
            let title = if serial_shaped(c) {
                Field::SerialNumber.title().to_owned()
            } else if c.contains('@') {
                Field::Email.title().to_owned()
            } else if ["personal", "corporate"].contains(&lower.as_str()) {
                Field::Ownership.title().to_owned()
            } else if ["android", "ios", "macos", "tvos", "linux", "windows"]
                .contains(&lower.as_str())
            {
                Field::Platform.title().to_owned()
            } else if MAKERS.contains(&lower.as_str()) {
                "Manufacturer".to_owned()
            } else if after_maker {
                "Model".to_owned()
            } else {
                format!("Column {}", i + 1)
            };
            after_maker = title == "Manufacturer";
            title
        })
        .collect();
    Some(titles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn serials_and_imeis_are_serial_shaped_words_are_not() {
        for yes in [
            "C02XK1ABJGH5",
            "R58M12ABCDE",
            "356938035643809",
            "DMPXK-1234",
        ] {
            assert!(serial_shaped(yes), "{yes}");
        }
        for no in [
            "Apple",
            "MacBook Pro",
            "12345",
            "jane@example.com",
            "Serial Number",
        ] {
            assert!(!serial_shaped(no), "{no}");
        }
    }

    #[test]
    fn a_first_row_of_data_gets_a_header_line() {
        assert_eq!(
            header_for_data(&row(&["C02XK1ABJGH5", "Apple", "MacBook Pro"])).unwrap(),
            ["Serial Number", "Manufacturer", "Model"]
        );
        assert_eq!(
            header_for_data(&row(&[
                "Jane",
                "jane@example.com",
                "corporate",
                "C02X1234",
                "ios"
            ]))
            .unwrap(),
            [
                "Column 1",
                "Email",
                "Ownership",
                "Serial Number",
                "Platform"
            ]
        );
        assert_eq!(header_for_data(&row(&["Serial Number", "Model"])), None);
        assert_eq!(
            header_for_data(&row(&["Asset", "Model"])),
            None,
            "no serial"
        );
    }
}
