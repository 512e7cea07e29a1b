//! The `preapprove` binary: exit codes and report shape.

use std::path::PathBuf;
use std::process::Command;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/tests/fixtures")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_preapprove"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_valid_file_exits_0() {
    let (code, text) = run(&["validate", &fixture("utf16le-tab.txt")]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("3 rows, 3 valid, 0 invalid (utf-16le, delimiter tab)"),
        "{text}"
    );
    assert!(text.contains("valid: ready to upload"));
}

#[test]
fn invalid_rows_exit_1_with_every_error_in_json() {
    let (code, text) = run(&["validate", &fixture("near-misses.csv"), "--json"]);
    assert_eq!(code, 1);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["status"], "rejected");
    assert_eq!(report["errors"].as_array().unwrap().len(), 5);
    assert_eq!(report["errors"][0]["row"], 2);
    assert_eq!(report["errors"][0]["column"], "Ownership");
    assert_eq!(report["errors"][0]["value"], "Corporate");

    let (code, text) = run(&[
        "validate",
        &fixture("near-misses.csv"),
        "--json",
        "--on-error",
        "skip-invalid-rows",
    ]);
    assert_eq!(code, 1, "invalid rows are still reported");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["status"], "completed");
    assert_eq!(report["valid_rows"], 0);
}

#[test]
fn unreadable_files_exit_2() {
    assert_eq!(run(&["validate", "/nonexistent/devices.csv"]).0, 2);
    let (code, text) = run(&["validate", &fixture("missing-columns.csv")]);
    assert_eq!(code, 2);
    assert!(text.contains("missing mandatory column"), "{text}");
    assert_eq!(run(&["frobnicate"]).0, 2);
}

#[test]
fn a_manual_mapping_rescues_odd_headers() {
    let dir = std::env::temp_dir().join(format!("preapprove-map-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("odd.csv");
    std::fs::write(
        &f,
        "Who,Mail,Own,Asset Tag,OS\nZoe,zoe@example.com,corporate,C02X,macos\n",
    )
    .unwrap();
    let f = f.to_string_lossy().into_owned();
    assert_eq!(run(&["validate", &f]).0, 2);
    let (code, text) = run(&[
        "validate",
        &f,
        "--map",
        "Who=name",
        "--map",
        "Mail=email",
        "--map",
        "Own=ownership",
        "--map",
        "Asset Tag=serial_number",
        "--map",
        "OS=platform",
    ]);
    assert_eq!(code, 0, "{text}");
}

/// Issue 29: a migrated Jamf Pro preload file lacks Ownership and Platform;
/// `--defaults` fills them for every row, checked as cells are.
#[test]
fn defaults_fill_the_mandatory_columns_a_migrated_file_lacks() {
    let f = fixture("jamf-preload-macs.csv");
    let (code, text) = run(&["validate", &f]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("missing mandatory column(s): Ownership, Platform"),
        "{text}"
    );

    let (code, text) = run(&[
        "validate",
        &f,
        "--defaults",
        "Ownership=corporate,Platform=macos",
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("recognised: a Jamf Pro Inventory Preload file"),
        "{text}"
    );
    assert!(
        text.contains("filled for every row: Ownership = corporate, Platform = macos"),
        "{text}"
    );
    let (code, json) = run(&[
        "validate",
        &f,
        "--json",
        "--defaults",
        "Ownership=corporate",
        "--defaults",
        "Platform=macos",
    ]);
    assert_eq!(code, 0, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        report["options"]["column_defaults"]["ownership"], "corporate",
        "recorded in the report"
    );

    // A refused value is a usage error, on standard error.
    for (pair, says) in [
        ("Ownership=Corporate", "case-sensitive"),
        ("Platform=windows", "Windows is not supported"),
        ("Email=a@example.com", "only these columns"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_preapprove"))
            .args(["validate", &f, "--defaults", pair])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{pair}: {err}");
        assert!(err.contains(says), "{pair}: {err}");
    }
}

/// Issue 29: `--defaults 'Platform=from:Device Type'` takes each row's
/// platform from Jamf's Device Type, as the upload's
/// `{"Platform": {"from": "Device Type"}}` does, and says what each value
/// proposed; a column that cannot say a platform is refused.
#[test]
fn platforms_can_be_taken_from_a_column_offline() {
    let f = fixture("jamf-preload-mixed.csv");
    let (code, text) = run(&[
        "validate",
        &f,
        "--defaults",
        "Ownership=corporate,Platform=from:Device Type",
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("3 rows, 3 valid"), "{text}");
    assert!(
        text.contains("Platform proposed from 'Device Type': 'Apple TV' -> tvos (1 row(s)), 'Computer' -> macos (1 row(s)), 'Mobile Device' -> ios (1 row(s)); 0 row(s) without one"),
        "{text}"
    );
    let (code, json) = run(&[
        "validate",
        &f,
        "--json",
        "--defaults",
        "Ownership=corporate",
        "--defaults",
        "Platform=from:Device Type",
    ]);
    assert_eq!(code, 0, "{json}");
    let report: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        report["options"]["column_defaults"]["platform"]["from"],
        "Device Type"
    );
    assert_eq!(report["platform_proposals"]["by_platform"]["macos"], 1);

    let (code, text) = run(&[
        "validate",
        &f,
        "--defaults",
        "Ownership=corporate,Platform=from:Position",
    ]);
    assert_eq!(code, 2, "{text}");
    assert!(
        text.contains("Platform cannot be proposed from column 'Position'"),
        "{text}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_preapprove"))
        .args(["validate", &f, "--defaults", "Ownership=from:Device Type"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Platform only"));
}
