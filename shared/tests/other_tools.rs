//! Device lists as other tools write them (issue 29), from committed fixtures
//! whose columns follow each tool's documented template or export and whose
//! rows are made up: which tool the file is recognised as, what maps, what is
//! missing, and that with the upload's column defaults (one value for every
//! row, or Platform proposed from a column the admin confirms) it imports.

use std::fs::File;
use std::path::PathBuf;

use shared::csvfile::{BoxRead, Field, HeaderError};
use shared::domain::{ImportOptions, IssueKind};
use shared::import::{scan, FileError, RowPass, Scan};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn scan_with(name: &str, options: &ImportOptions) -> Result<Scan, FileError> {
    let path = fixture(name);
    scan(
        || File::open(&path).map(|f| Box::new(f) as BoxRead),
        options,
        |_| {},
    )
}

/// Options as the upload's metadata gives them.
fn options(pairs: &[(&str, &str)]) -> ImportOptions {
    let meta = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ImportOptions::from_metadata(&meta, &Default::default()).unwrap()
}

/// The valid rows as (row, serial, platform, ownership).
fn rows(name: &str, options: &ImportOptions) -> Vec<(u64, String, &'static str, &'static str)> {
    let s = scan_with(name, options).unwrap();
    let mut pass = RowPass::open(
        Box::new(File::open(fixture(name)).unwrap()),
        Some(s.dialect.encoding),
        options,
        s.now,
    )
    .unwrap();
    let mut out = Vec::new();
    while let Some(row) = pass.next_row().unwrap() {
        if let Ok(r) = pass.check(row, &mut Vec::new()) {
            let r = r.to_device_row();
            out.push((
                row,
                r.serial.as_str().to_owned(),
                r.platform.as_str(),
                r.ownership.as_str(),
            ));
        }
    }
    out
}

fn header_error(name: &str, options: &ImportOptions) -> HeaderError {
    match scan_with(name, options) {
        Err(FileError::Header(e)) => e,
        other => panic!("{name}: {other:?}"),
    }
}

fn mapped(s: &Scan, field: Field) -> Option<&str> {
    s.columns.mapping.get(&field).map(String::as_str)
}

/// (row, column, value) of every error.
fn errors(s: &Scan) -> Vec<(u64, &str, &str)> {
    s.errors
        .iter()
        .map(|e| (e.row, e.column.as_str(), e.value.as_str()))
        .collect()
}

const JAMF: &str = "Jamf Pro Inventory Preload";

/// Jamf Pro's Inventory Preload template, with the two columns the seeds
/// make mandatory added by hand, imports as it is.
#[test]
fn a_jamf_inventory_preload_file_imports_in_one_step() {
    let s = scan_with("jamf-inventory-preload.csv", &options(&[])).unwrap();
    assert_eq!(s.columns.format, Some(JAMF));
    assert_eq!((s.rows, s.valid_rows), (2, 2), "{:?}", s.errors);
    assert_eq!(mapped(&s, Field::Name), Some("Full Name"));
    assert_eq!(mapped(&s, Field::SamAccountName), Some("Username"));
    assert_eq!(mapped(&s, Field::Mobile), Some("Phone Number"));
    assert_eq!(
        rows("jamf-inventory-preload.csv", &options(&[])),
        [
            (2, "C02XJ1AAJGH5".into(), "macos", "corporate"),
            (3, "DMPXK2BBQ1GC".into(), "ios", "corporate"),
        ]
    );
}

/// The template as Jamf writes it: Ownership and Platform are missing, said
/// once, with the column Platform can be proposed from. Ownership filled for
/// the whole file and Platform confirmed from Device Type, it imports with
/// each row's platform; the report's totals say what came from where.
#[test]
fn a_jamf_preload_file_takes_ownership_for_all_and_platforms_from_device_type() {
    let e = header_error("jamf-preload-mixed.csv", &options(&[]));
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("recognised as a {JAMF} file; ")),
        "{msg}"
    );
    assert!(
        msg.contains("missing mandatory column(s): Ownership, Platform"),
        "{msg}"
    );
    assert!(msg.contains("proposed from 'Device Type'"), "{msg}");

    let confirmed = options(&[(
        "column-defaults",
        r#"{"Ownership": "corporate", "Platform": {"from": "Device Type"}}"#,
    )]);
    let s = scan_with("jamf-preload-mixed.csv", &confirmed).unwrap();
    assert_eq!(s.columns.format, Some(JAMF));
    assert_eq!((s.rows, s.valid_rows), (3, 3), "{:?}", s.errors);
    assert_eq!(
        rows("jamf-preload-mixed.csv", &confirmed),
        [
            (2, "C02JM1AAMD6T".into(), "macos", "corporate"),
            (3, "DMPJM2BBQ1GC".into(), "ios", "corporate"),
            (4, "GJM3CCTVJ1WK".into(), "tvos", "corporate"),
        ]
    );
    let p = s.platform_proposals.as_ref().unwrap();
    assert_eq!(p.column, "Device Type");
    assert_eq!(
        p.values
            .iter()
            .map(|v| (v.value.as_str(), v.platform, v.rows))
            .collect::<Vec<_>>(),
        [
            ("Apple TV", Some("tvos"), 1),
            ("Computer", Some("macos"), 1),
            ("Mobile Device", Some("ios"), 1)
        ]
    );
    assert_eq!(p.without, 0);
}

/// Apple Business Manager's device export: devices without users. Everything
/// it lacks is named at once, and its Device Model can propose the platform.
#[test]
fn an_abm_device_export_is_recognised_and_names_all_it_lacks() {
    let e = header_error("abm-device-export.csv", &options(&[]));
    let HeaderError::Columns {
        format,
        missing,
        seen,
        ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        *format,
        Some("Apple Business Manager / Apple School Manager device export")
    );
    assert_eq!(
        missing,
        &[Field::Name, Field::Email, Field::Ownership, Field::Platform]
    );
    assert_eq!(seen.sources, ["Device Model"]);
}

/// The ABM export once the admin has added each device's user: platforms
/// from Device Model; the model no platform fits (Apple Vision Pro) is an
/// error with its row, column and value, and only that row.
#[test]
fn an_abm_export_with_users_imports_with_platforms_from_device_model() {
    let confirmed = options(&[(
        "column-defaults",
        r#"{"Ownership": "corporate", "Platform": {"from": "Device Model"}}"#,
    )]);
    let s = scan_with("abm-device-export-assigned.csv", &confirmed).unwrap();
    assert_eq!(
        s.columns.format,
        Some("Apple Business Manager / Apple School Manager device export")
    );
    assert_eq!((s.rows, s.valid_rows), (5, 4));
    assert_eq!(
        errors(&s),
        [(6, "Device Model", "Apple Vision Pro")],
        "{:?}",
        s.errors
    );
    assert!(s.errors[0].message.contains("no platform can be proposed"));
    assert_eq!(s.errors[0].kind, IssueKind::NotAllowed);
    assert_eq!(
        s.error_totals.by_column.get("Device Model"),
        Some(&1),
        "counted under the column it came from"
    );
    let platforms: Vec<&str> = rows("abm-device-export-assigned.csv", &confirmed)
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(platforms, ["macos", "ios", "ios", "tvos"]);
    let p = s.platform_proposals.as_ref().unwrap();
    assert_eq!(
        (p.by_platform["ios"], p.by_platform["macos"], p.without),
        (2, 1, 1)
    );
}

/// Intune's corporate identifiers have no header row; with the line the
/// import suggests added, the file is recognised and its Model can propose
/// the platform (names and emails are still the admin's to add).
#[test]
fn an_intune_corporate_identifiers_file_is_told_it_has_no_header_row() {
    let e = header_error("intune-corporate-identifiers.csv", &options(&[]));
    let HeaderError::NoHeaderRow { suggested, .. } = &e else {
        panic!("{e:?}")
    };
    let msg = e.to_string();
    assert!(msg.contains("the file has no header row"), "{msg}");
    assert!(msg.contains("Serial Number,Manufacturer,Model"), "{msg}");

    let headed = shared::csvfile::ColumnMap::build(suggested, &Default::default()).unwrap_err();
    let HeaderError::Columns { format, seen, .. } = &headed else {
        panic!("{headed:?}")
    };
    assert_eq!(*format, Some("Intune corporate device identifiers"));
    assert_eq!(seen.sources, ["Model"]);
}

/// Google Workspace's company-owned devices: its `OS` column names Platform
/// by title but holds "Android 14", which the seeds' Platform refuses. Mapped
/// to nothing, with Platform proposed from `Type`, the rows import, and the
/// Windows laptop is refused as Windows always is.
#[test]
fn a_google_workspace_list_takes_platforms_from_type_once_os_is_set_aside() {
    let e = header_error("google-company-owned-devices.csv", &options(&[]));
    let msg = e.to_string();
    assert!(
        msg.starts_with("recognised as a Google Workspace company-owned devices file; missing mandatory column(s): Ownership;"),
        "{msg}"
    );

    let corporate = options(&[("column-defaults", r#"{"Ownership": "corporate"}"#)]);
    let s = scan_with("google-company-owned-devices.csv", &corporate).unwrap();
    assert_eq!(mapped(&s, Field::Platform), Some("OS"));
    assert_eq!(
        s.valid_rows, 0,
        "the tool's words are not the seeds' values"
    );
    assert!(s.errors[0].message.contains("'Android 14' is not allowed"));

    let confirmed = options(&[
        ("column-map", r#"{"OS": null}"#),
        (
            "column-defaults",
            r#"{"Ownership": "corporate", "Platform": {"from": "Type"}}"#,
        ),
    ]);
    let s = scan_with("google-company-owned-devices.csv", &confirmed).unwrap();
    assert_eq!(mapped(&s, Field::Email), Some("User Email"));
    assert_eq!(s.columns.platform_sources, ["Type", "Model", "OS"]);
    assert_eq!((s.rows, s.valid_rows), (4, 3));
    assert_eq!(errors(&s), [(5, "Type", "Windows")]);
    assert_eq!(s.errors[0].kind, IssueKind::Unsupported);
    assert!(s.errors[0]
        .message
        .contains("Windows devices are not supported"));
    let platforms: Vec<&str> = rows("google-company-owned-devices.csv", &confirmed)
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(platforms, ["android", "macos", "ios"]);
}

/// Workspace ONE writes its own words (`C` for corporate, `AppleOsX`): they
/// are errors, never translated. The admin sets both columns aside, fills
/// Ownership and takes Platform from Model; from its Platform column, the
/// bare `Apple` (an iPhone or an iPad?) gets no proposal.
#[test]
fn a_workspace_one_list_keeps_its_words_out_and_imports_with_proposals() {
    let s = scan_with("workspace-one-devices.csv", &options(&[])).unwrap();
    assert_eq!(s.columns.format, Some("Workspace ONE device import"));
    assert_eq!(mapped(&s, Field::SamAccountName), Some("Enrollment User"));
    assert_eq!(mapped(&s, Field::DeviceName), Some("Friendly Name"));
    assert_eq!(s.valid_rows, 0);
    assert!(errors(&s).contains(&(2, "Ownership", "C")));
    assert!(errors(&s).contains(&(3, "Platform", "Apple")));

    let set_aside = ("column-map", r#"{"Ownership": null, "Platform": null}"#);
    let from_model = options(&[
        set_aside,
        (
            "column-defaults",
            r#"{"Ownership": "corporate", "Platform": {"from": "Model"}}"#,
        ),
    ]);
    let s = scan_with("workspace-one-devices.csv", &from_model).unwrap();
    assert_eq!((s.rows, s.valid_rows), (3, 3), "{:?}", s.errors);
    let platforms: Vec<&str> = rows("workspace-one-devices.csv", &from_model)
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(platforms, ["macos", "ios", "android"]);

    let from_platform = options(&[
        set_aside,
        (
            "column-defaults",
            r#"{"Ownership": "corporate", "Platform": {"from": "Platform"}}"#,
        ),
    ]);
    let s = scan_with("workspace-one-devices.csv", &from_platform).unwrap();
    assert_eq!(errors(&s), [(3, "Platform", "Apple")]);
}

/// Hexnode's pre-approve template is the seeds' own: it imports as it is.
#[test]
fn a_hexnode_template_imports_as_it_is() {
    let s = scan_with("hexnode-template.csv", &options(&[])).unwrap();
    assert_eq!(s.columns.format, Some("Hexnode pre-approve template"));
    assert_eq!((s.rows, s.valid_rows), (3, 3), "{:?}", s.errors);
    assert_eq!(mapped(&s, Field::Name), Some("Display Name"));
    assert_eq!(
        rows("hexnode-template.csv", &options(&[]))
            .into_iter()
            .map(|r| r.2)
            .collect::<Vec<_>>(),
        ["macos", "android", "tvos"]
    );
}

/// Hexnode's device export writes `macOS` and `Corporate`. Platforms can be
/// proposed from its Platform column once it is set aside; Ownership stays
/// exact, so `Corporate` is still an error with its hint (the admin fixes
/// the cells, as the seeds say).
#[test]
fn a_hexnode_export_gets_proposed_platforms_but_keeps_ownership_exact() {
    let s = scan_with("hexnode-device-export.csv", &options(&[])).unwrap();
    assert_eq!(s.columns.format, Some("Hexnode device export"));
    assert!(errors(&s).contains(&(2, "Platform", "macOS")));

    let confirmed = options(&[
        ("column-map", r#"{"Platform": null}"#),
        ("column-defaults", r#"{"Platform": {"from": "Platform"}}"#),
    ]);
    let s = scan_with("hexnode-device-export.csv", &confirmed).unwrap();
    assert_eq!(
        errors(&s),
        [
            (2, "Ownership", "Corporate"),
            (3, "Ownership", "Corporate"),
            (4, "Ownership", "Personal")
        ]
    );
    assert!(s.errors[0].message.contains("did you mean 'corporate'"));
    let p = s.platform_proposals.as_ref().unwrap();
    assert_eq!(
        (
            p.by_platform["macos"],
            p.by_platform["ios"],
            p.by_platform["android"]
        ),
        (1, 1, 1)
    );
}

/// This product's export (byte-order mark, formula cells escaped) imports
/// again as it is.
#[test]
fn this_products_export_imports_again() {
    let s = scan_with("product-export.csv", &options(&[])).unwrap();
    assert_eq!(s.columns.format, Some("this product's device export"));
    assert_eq!((s.rows, s.valid_rows), (2, 2), "{:?}", s.errors);
    assert_eq!(
        rows("product-export.csv", &options(&[])),
        [
            (2, "C02PE1AAMD6T".into(), "macos", "corporate"),
            (3, "-R58PE2BBXYZ".into(), "android", "personal"),
        ]
    );
}
