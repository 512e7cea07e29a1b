//! Uploads: the staged file, the preview, and the publish of the kept rows.

use super::*;

#[tokio::test]
async fn uploads_are_staged_and_the_sample_is_a_valid_file() {
    let app = app();
    let (status, v) = call(&app, "POST", "/v1/uploads", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let key = v["key"].as_str().unwrap();
    assert!(
        key.starts_with("staging/") && key.ends_with(".csv"),
        "{key}"
    );
    assert_eq!(
        (v["method"].as_str(), v["headers"]["content-type"].as_str()),
        (Some("PUT"), Some("text/csv"))
    );
    assert!(v["url"].as_str().unwrap().contains(key));
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let r = send(&app, "GET", "/v1/sample.csv", None, Some(&auth)).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let body: &[u8] = r.body();
    assert!(body.starts_with(b"Name,Email,Ownership,Serial Number,Platform"));
}

const STAGED: &str = "Display Name;E-mail;Ownership;Serial Number;Platform;Password\r\n\
    Ann;ann@example.com;corporate;S1;ios;pw1\r\n\
    Bob;bob@example.com;Corporate;S2;android;\r\n\
    Ann Again;ANN@example.com;personal;S3;macos;\r\n";

#[tokio::test]
async fn the_guided_upload_previews_then_publishes_the_kept_rows() {
    let app = app();
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/abc.csv".into(), STAGED.as_bytes().to_vec());
    add_device(
        &app,
        device("S3", DeviceStatus::Enrolled, Platform::Macos, ""),
    );
    app.ports
        .users
        .lock()
        .unwrap()
        .insert("ann@example.com".into(), user("ann@example.com", "Ann"));
    let (status, p) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/abc.csv", "page_size": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(
        (
            p["rows_total"].as_u64(),
            p["valid_rows"].as_u64(),
            p["pages"].as_u64()
        ),
        (Some(3), Some(2), Some(2))
    );
    assert_eq!(p["dialect"]["delimiter"], ";");
    assert_eq!(p["rows"][0]["existing_user"], true);
    assert_eq!(p["rows"][0]["has_password"], true);
    assert!(
        p["rows"][0]["cells"].get("password").is_none(),
        "passwords never leave the file"
    );
    assert_eq!(p["rows"][1]["errors"][0]["column"], "Ownership");
    assert_eq!(p["duplicate_emails"][0]["rows"], json!([2, 4]));
    let page2 = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/abc.csv", "page": 2, "page_size": 2})),
    )
    .await
    .1;
    assert_eq!(page2["rows"][0]["existing_device"], "enrolled");

    let (status, c) = call(&app, "POST", "/v1/imports", Some(json!({"key": "staging/abc.csv", "exclude_rows": [3, 3],
        "existing_users": "replace", "domain": " corp.example ", "file_name": "C:\\\\q3 list.csv"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{c}");
    assert_eq!(c["rows"], 2);
    let key = c["key"].as_str().unwrap();
    assert_eq!(
        key, "imports/guided/abc/q3-list.csv",
        "named for the staged upload"
    );
    let published = String::from_utf8(app.ports.objects.lock().unwrap()[key].clone()).unwrap();
    assert_eq!(published, "Name,Email,Ownership,Serial Number,Platform,Password\r\n\
        Ann,ann@example.com,corporate,S1,ios,pw1\r\nAnn Again,ANN@example.com,personal,S3,macos,\r\n");
    let meta = app.ports.metadata.lock().unwrap()[key].clone();
    for pair in [
        ("invite", "email"),
        ("existing-users", "replace"),
        ("on-error", "reject-file"),
        ("domain", "corp.example"),
        ("submitted-by", "ada"),
    ] {
        assert!(
            meta.contains(&(pair.0.to_owned(), pair.1.to_owned())),
            "{pair:?} in {meta:?}"
        );
    }
    assert!(
        !app.ports
            .objects
            .lock()
            .unwrap()
            .contains_key("staging/abc.csv"),
        "the staged copy is removed"
    );
    // The id the S3 event's import will have.
    let etag = format!("\"{}\"", hex::encode(&published.as_bytes()[..8]));
    let expected = ImportObject::new(
        app.ports.bucket(),
        key,
        &shared::files::ObjectVersion::new(None, Some(etag)),
    )
    .import_id();
    assert_eq!(c["import_id"], expected);

    // Adversary 2: "Send" again (a retry after a timeout, a double click): the
    // same import and one object, whether the staged copy is still there or not.
    let objects_before = app.ports.objects.lock().unwrap().len();
    for _ in 0..2 {
        let (status, again) = call(
            &app,
            "POST",
            "/v1/imports",
            Some(json!({"key": "staging/abc.csv",
            "file_name": "other name.csv"})),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{again}");
        assert_eq!(
            (&again["import_id"], &again["key"], &again["rows"]),
            (&c["import_id"], &c["key"], &c["rows"])
        );
    }
    assert_eq!(
        app.ports.objects.lock().unwrap().len(),
        objects_before,
        "nothing published twice"
    );
}

#[tokio::test]
async fn the_guided_upload_says_what_is_wrong() {
    let app = app();
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/one.csv".into(), STAGED.as_bytes().to_vec());
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/cols.csv".into(), b"Who,Where\r\nA,B\r\n".to_vec());
    for (path, body, status, field) in [
        (
            "/v1/imports/preview",
            json!({"key": "imports/x.csv"}),
            StatusCode::BAD_REQUEST,
            Some("key"),
        ),
        (
            "/v1/imports/preview",
            json!({"key": "staging/gone.csv"}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "/v1/imports/preview",
            json!({"key": "staging/one.csv", "pages": 2}),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "/v1/imports",
            json!({"key": "staging/gone.csv"}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "/v1/imports",
            json!({"key": "staging/one.csv", "exclude_rows": [2, 3, 4]}),
            StatusCode::BAD_REQUEST,
            Some("exclude_rows"),
        ),
        (
            "/v1/imports",
            json!({"key": "staging/one.csv", "invite": "pigeon"}),
            StatusCode::BAD_REQUEST,
            None,
        ),
    ] {
        let (s, v) = call(&app, "POST", path, Some(body.clone())).await;
        assert_eq!((s, error_of(&v).1), (status, field), "{path} {body}: {v}");
    }
    let (status, v) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/cols.csv"})),
    )
    .await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::UNPROCESSABLE_ENTITY, "unreadable_file")
    );
    assert_eq!(
        v["headers"],
        json!(["Who", "Where"]),
        "the file's columns, to map by hand"
    );
    let (status, v) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/cols.csv", "mapping": {"Who": "name"}})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "still missing email and more: {v}"
    );
    assert!(
        app.ports.metadata.lock().unwrap().is_empty(),
        "nothing was published"
    );
}

/// Issue 29: a file without an Ownership column is asked for one; with one
/// value for every row it previews as valid, and the publish carries the
/// value to the import; a wrong value is refused with what is allowed.
#[tokio::test]
async fn a_file_lacking_ownership_takes_one_value_for_every_row() {
    let app = app();
    let staged = "Full Name,Email Address,Serial Number,Platform\r\n\
                  Ann,ann@example.com,D1,ios\r\nBob,bob@example.com,D2,macos\r\n";
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/own.csv".into(), staged.as_bytes().to_vec());
    let (status, e) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/own.csv"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("missing mandatory column(s): Ownership"));

    let fill = json!({"Ownership": "corporate"});
    let (status, p) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/own.csv", "column_defaults": fill})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(
        (p["rows_total"].as_u64(), p["valid_rows"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(p["rows"][0]["cells"]["ownership"], "corporate");

    let (status, bad) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/own.csv", "column_defaults": {"Ownership": "Corporate"}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    assert!(
        bad["message"].as_str().unwrap().contains("case-sensitive"),
        "{bad}"
    );

    let (status, c) = call(
        &app,
        "POST",
        "/v1/imports",
        Some(json!({"key": "staging/own.csv", "column_defaults": fill})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{c}");
    let key = c["key"].as_str().unwrap();
    let meta = app.ports.metadata.lock().unwrap()[key].clone();
    assert!(
        meta.contains(&(
            "column-defaults".to_owned(),
            r#"{"Ownership":"corporate"}"#.to_owned()
        )),
        "{meta:?}"
    );
}

/// Issue 29: a Jamf Pro preload file (no Ownership, no Platform). The 422
/// names the column Platform can be proposed from; the preview with
/// Platform taken from Device Type shows each row's proposal and the totals
/// per value, the row with none in error (row, column, value); the commit
/// publishes the Device Type column with the choice, so the import reads
/// the same proposals again and the report records them.
#[tokio::test]
async fn platforms_are_proposed_from_device_type_previewed_and_published() {
    let app = app();
    let staged = "Serial Number,Device Type,Username,Full Name,Email Address\r\n\
                  C1,Computer,ann,Ann,ann@example.com\r\n\
                  M1,Mobile Device,bob,Bob,bob@example.com\r\n\
                  P1,Printer,cy,Cy,cy@example.com\r\n";
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/jamf.csv".into(), staged.as_bytes().to_vec());
    let (status, e) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/jamf.csv", "column_defaults": {"Ownership": "corporate"}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(e["platform_sources"], json!(["Device Type"]));
    assert_eq!(
        e["mapping"],
        json!({"name": "Full Name", "email": "Email Address", "serial_number": "Serial Number",
            "sam_account_name": "Username"}),
        "what the header row maps by itself: where the page's mapping form starts"
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("missing mandatory column(s): Platform")
            && message.contains("'Device Type'"),
        "{message}"
    );

    let fill = json!({"Ownership": "corporate", "Platform": {"from": "Device Type"}});
    let (status, p) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/jamf.csv", "column_defaults": fill})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["columns"]["proposed_from"]["platform"], "Device Type");
    assert_eq!(
        (p["rows_total"].as_u64(), p["valid_rows"].as_u64()),
        (Some(3), Some(2))
    );
    let rows = p["rows"].as_array().unwrap();
    assert_eq!(rows[0]["cells"]["platform"], "macos");
    assert_eq!(
        rows[0]["proposal"],
        json!({"value": "Computer", "platform": "macos"})
    );
    assert_eq!(rows[1]["cells"]["platform"], "ios");
    assert_eq!(
        rows[2]["proposal"],
        json!({"value": "Printer", "platform": null})
    );
    assert!(rows[2]["cells"].get("platform").is_none());
    let error = &rows[2]["errors"][0];
    assert_eq!(
        (&error["row"], &error["column"], &error["value"]),
        (&json!(4), &json!("Device Type"), &json!("Printer"))
    );
    let totals = &p["platform_proposals"];
    assert_eq!(totals["by_platform"], json!({"ios": 1, "macos": 1}));
    assert_eq!(totals["without"], 1);

    // A column that cannot say a platform is refused before anything is read.
    let (status, bad) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/jamf.csv", "column_defaults": {"Platform": {"from": "Username"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("SAMAccountName column"),
        "{bad}"
    );
    let (status, bad) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/jamf.csv", "column_defaults": {"Ownership": {"from": "Device Type"}}})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    let (status, c) = call(
        &app,
        "POST",
        "/v1/imports",
        Some(json!({"key": "staging/jamf.csv", "column_defaults": fill, "exclude_rows": [4]})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{c}");
    let key = c["key"].as_str().unwrap();
    let published = String::from_utf8(app.ports.objects.lock().unwrap()[key].clone()).unwrap();
    assert_eq!(
        published,
        "Name,Email,Serial Number,SAMAccountName,Device Type\r\n\
         Ann,ann@example.com,C1,ann,Computer\r\nBob,bob@example.com,M1,bob,Mobile Device\r\n"
    );
    let meta: std::collections::HashMap<String, String> = app.ports.metadata.lock().unwrap()[key]
        .iter()
        .cloned()
        .collect();
    assert_eq!(
        meta["column-defaults"],
        r#"{"Ownership":"corporate","Platform":{"from":"Device Type"}}"#
    );
    assert!(!meta.contains_key("column-map"), "{meta:?}");
    // The import of the published object reads it with the same proposals.
    let options = shared::domain::ImportOptions::from_metadata(&meta, &Default::default()).unwrap();
    let scanned = shared::import::scan(
        || {
            Ok(
                Box::new(std::io::Cursor::new(published.clone().into_bytes()))
                    as shared::csvfile::BoxRead,
            )
        },
        &options,
        |_| {},
    )
    .unwrap();
    assert_eq!((scanned.rows, scanned.valid_rows), (2, 2));
    assert_eq!(
        scanned.platform_proposals.unwrap().by_platform,
        std::collections::BTreeMap::from([("ios", 1), ("macos", 1)])
    );
}
