//! The import history and one import's detail.

use super::*;

#[tokio::test]
async fn imports_show_history_progress_errors_and_report_links() {
    let app = app();
    {
        let mut imports = app.ports.imports.lock().unwrap();
        for i in 0..30 {
            imports.push(import(
                &format!("i{i:02}"),
                &format!("imports/f{i:02}.csv"),
                ImportStatus::Completed,
                &format!("2026-11-01T00:00:{i:02}Z"),
            ));
        }
        imports.push(import(
            "w",
            "imports/q3/devices.csv",
            ImportStatus::Writing,
            "2026-11-02T00:00:00Z",
        ));
    }
    app.ports.objects.lock().unwrap().insert(
        "reports/q3/devices.csv/w.json".into(),
        serde_json::to_vec(&json!({"errors": [{"row": 4, "column": "Platform", "value": "Windows", "message": "not supported"}], "warnings": []})).unwrap(),
    );
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("reports/q3/devices.csv/w.errors.csv".into(), b"x".to_vec());
    app.ports.outbox.counters.lock().unwrap().extend([
        (("w".to_owned(), InviteState::Sent), 2),
        (("w".to_owned(), InviteState::Bounced), 1),
    ]);
    let page = get(&app, "/v1/imports").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 25);
    let w = &page["items"][0];
    assert_eq!(
        (w["import_id"].as_str(), w["file"].as_str()),
        (Some("w"), Some("devices.csv"))
    );
    assert_eq!(
        w["progress"]["fraction"], 0.75,
        "half for validating, half of the rest written"
    );
    assert_eq!(w["options"]["invite"], "sms");
    let rest = get(
        &app,
        &format!("/v1/imports?cursor={}", page["cursor"].as_str().unwrap()),
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 6);
    let one = get(&app, "/v1/imports/w").await;
    assert_eq!(one["errors"][0]["column"], "Platform");
    assert_eq!(
        one["invites"],
        json!({"queued": 1, "sent": 2, "delivered": 0, "bounced": 1, "complained": 0, "failed": 0, "unconfirmed": 0, "cancelled": 0})
    );
    assert!(one["report_url"]
        .as_str()
        .unwrap()
        .contains("reports/q3/devices.csv/w.json"));
    assert!(one["errors_csv_url"]
        .as_str()
        .unwrap()
        .contains("errors.csv"));
    let done = get(&app, "/v1/imports/i00").await;
    assert_eq!(
        (done["report_url"].clone(), done["errors"].clone()),
        (Value::Null, json!([]))
    );
    assert_eq!(done["progress"]["fraction"], 1.0);
    let (status, _) = call(&app, "GET", "/v1/imports/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = call(&app, "GET", "/v1/imports?cursor=zz", None).await;
    assert_eq!(
        (status, error_of(&v).1),
        (StatusCode::BAD_REQUEST, Some("cursor"))
    );
}

/// Adversary 3 at the console: a file with every cell at its longest and wrong
/// on every row, and an import with full lists. Preview and import detail both
/// stay under 1 MB (Lambda answers at most 6 MB; the page must stay quick).
#[tokio::test]
async fn preview_and_import_detail_stay_under_a_megabyte_for_the_worst_file() {
    let long = |c: &str, n: usize| c.repeat(n);
    let header = "Name,Email,Ownership,Serial Number,Platform,Mobile,Password,Device Group,Device Name,SAMAccountName\n";
    let body: String = (0..3000)
        .map(|i| {
            format!(
                "{},{}{}@example.com,{},{},{}{i},{},{},{},{},{}\n",
                long("n", 900),
                long("e", 200),
                i / 2,
                long("o", 900),
                long("s", 900),
                long("p", 900),
                long("9", 900),
                long("w", 900),
                long("g;", 3000),
                long("d", 900),
                long("a", 900)
            )
        })
        .collect();
    let file = format!("{header}{body}");
    let app = app();
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/worst.csv".into(), file.clone().into_bytes());
    let body = json!({"key": "staging/worst.csv", "page_size": 500});
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let r = send(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(&body),
        Some(&auth),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview: &[u8] = r.body();
    assert!(
        preview.len() < 1_000_000,
        "preview: {} bytes",
        preview.len()
    );
    let p: Value = serde_json::from_slice(preview).unwrap();
    assert!(p["errors_total"].as_u64().unwrap() >= 3000 * 8);
    assert_eq!(p["rows"].as_array().unwrap().len(), 100);

    // The report the import writes for the same file, and an import record with full lists.
    let options = shared::domain::ImportOptions::default();
    let scan =
        shared::import::scan(
            || {
                Ok(Box::new(std::io::Cursor::new(file.clone().into_bytes()))
                    as shared::csvfile::BoxRead)
            },
            &options,
            |_| {},
        )
        .unwrap();
    let report =
        shared::import::Report::new("worst", "imports/worst.csv", &options).with_scan(&scan);
    let mut st = import(
        "worst",
        "imports/worst.csv",
        ImportStatus::Rejected,
        "2026-11-22T00:00:00Z",
    );
    st.skipped = (0..1000)
        .map(|row| shared::import::Skipped {
            row,
            serial_number: long("S", 128),
            reason: "the device is enrolled already; an import never changes an enrolled device"
                .into(),
        })
        .collect();
    app.ports.imports.lock().unwrap().push(st);
    let (json_key, _) = shared::import::report_keys("imports/worst.csv", "worst");
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert(json_key, serde_json::to_vec_pretty(&report).unwrap());
    let r = send(&app, "GET", "/v1/imports/worst", None, Some(&auth)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let detail: &[u8] = r.body();
    assert!(
        detail.len() < 1_000_000,
        "import detail: {} bytes",
        detail.len()
    );
    let d: Value = serde_json::from_slice(detail).unwrap();
    assert_eq!(d["errors_total"], scan.errors_total);
    assert_eq!(d["errors"].as_array().unwrap().len(), 500);
}
