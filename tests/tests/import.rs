//! The import path through the local stack: S3 upload -> SQS -> relay ->
//! import function (cargo lambda) -> DynamoDB, report in S3, invites queued
//! -> sender function -> SES, SNS.

use integration_tests::Stack;

const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform,Mobile,Password,Device Group\n";

#[tokio::test]
async fn an_upload_reaches_the_import_function_through_sqs() {
    let st = Stack::from_env().await;
    let u = st.unique();
    // S3 URL-encodes keys in events: spaces and accents must survive the trip.
    let key = format!("imports/{u} device list é.csv");
    st.upload(
        &key,
        format!("{HEADER}Ann,{u}@example.com,corporate,{u}-S1,ios,,,\n"),
        &[("invite", "none")],
    )
    .await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["key"], key);
    assert_eq!(report["devices_written"], 1);
    st.wait_for_queue_drained().await;
}

#[tokio::test]
async fn a_valid_file_writes_devices_and_users_and_invites_every_row() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let ann = format!("{u}-ann@example.com");
    let bob = format!("{u}-bob@example.com");
    let key = format!("imports/{u}.csv");
    let body = format!(
        "{HEADER}Ann First,{ann},corporate,{u}-A1,ios,,pw-1,Sales;Field\n\
         Bob,{bob},personal,{u}-B1,android,,,\n\
         Ann Last,{},corporate,{u}-A2,macos,,,\n",
        ann.to_uppercase()
    );
    st.upload(&key, body, &[]).await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["rows"], 3);
    assert_eq!(report["devices_written"], 3);
    assert_eq!(report["users_written"], 2);
    assert_eq!(report["invites_queued"], 3);
    assert_eq!(report["duplicate_email_groups"], 1);
    st.wait_for_invites().await;

    let a1 = st
        .device(&format!("{u}-A1"))
        .await
        .expect("device A1 stored");
    assert_eq!(a1.status, shared::records::DeviceStatus::PreApproved);
    assert_eq!(a1.groups, vec!["Sales", "Field"]);
    let hash = a1.password_hash.expect("password stored as a hash");
    assert!(hash.starts_with("v2$") && !hash.contains("pw-1"));
    assert!(
        st.device(&format!("{u}-a1")).await.is_none(),
        "serials are case-sensitive"
    );
    assert_eq!(
        st.user_name(&ann).await.as_deref(),
        Some("Ann Last"),
        "the last row wins"
    );

    // Two rows with Ann's email: two invites to Ann (the seeds' rule), one to Bob.
    let to_ann = st.emails_to(&ann).await.len() + st.emails_to(&ann.to_uppercase()).await.len();
    assert_eq!(to_ann, 2);
    let to_bob = st.emails_to(&bob).await;
    assert_eq!(to_bob.len(), 1);
    let first = &st.emails_to(&ann).await[0];
    assert!(
        first["body"].as_str().unwrap().contains("pw-1"),
        "the invite carries the password"
    );
    assert!(first["body"].as_str().unwrap().contains(&format!("{u}-A1")));
}

#[tokio::test]
async fn a_file_with_a_bad_row_writes_nothing_and_reports_every_error() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let key = format!("imports/{u}-bad.csv");
    let body = format!(
        "{HEADER}Ann,{u}-ann@example.com,Corporate,{u}-X1,ios,,,\n\
         Bob,{u}-bob@example.com,personal,{u}-X2,android,,,\n\
         Cy,not-an-email,corporate,{u}-X3,windows,,,\n"
    );
    st.upload(&key, body, &[]).await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "rejected", "{report:#}");
    let errors: Vec<(u64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        vec![
            (2, "Ownership".into()),
            (4, "Email".into()),
            (4, "Platform".into())
        ]
    );
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("did you mean 'corporate'"));
    for serial in ["X1", "X2", "X3"] {
        assert!(
            st.device(&format!("{u}-{serial}")).await.is_none(),
            "nothing written"
        );
    }
    assert!(
        st.emails_to(&format!("{u}-bob@example.com"))
            .await
            .is_empty(),
        "no invite"
    );
    let csv = st
        .get_object(&st.report_keys(&key).await.1)
        .await
        .expect("errors CSV");
    let text = String::from_utf8(csv).unwrap();
    assert_eq!(
        text.trim_start_matches('\u{feff}').lines().count(),
        3,
        "{text}"
    );
}

/// Issue 29: a Jamf Pro preload file dropped under `imports/` by any S3
/// client, with `column-defaults` giving Ownership for every row and taking
/// Platform from Device Type: each device gets its own row's platform, and
/// the report records where the platforms came from.
#[tokio::test]
async fn a_jamf_preload_file_takes_platforms_from_device_type_through_metadata() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let key = format!("imports/{u}-jamf-preload.csv");
    let body = format!(
        "Serial Number,Device Type,Username,Full Name,Email Address,Position,Asset Tag\r\n\
         {u}-C1,Computer,jdoe,Jane Doe,{u}-jane@example.com,Engineer,A-1\r\n\
         {u}-M1,Mobile Device,rroe,Richard Roe,{u}-rick@example.com,Sales,A-2\r\n\
         {u}-T1,Apple TV,,Lobby Display,{u}-av@example.com,,A-3\r\n"
    );
    st.upload(
        &key,
        body,
        &[
            ("invite", "none"),
            (
                "column-defaults",
                r#"{"Ownership":"corporate","Platform":{"from":"Device Type"}}"#,
            ),
        ],
    )
    .await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["format"], "Jamf Pro Inventory Preload");
    assert_eq!(report["devices_written"], 3);
    assert_eq!(
        report["options"]["column_defaults"]["platform"]["from"],
        "Device Type"
    );
    assert_eq!(report["platform_proposals"]["without"], 0);
    for (serial, platform) in [("C1", "macos"), ("M1", "ios"), ("T1", "tvos")] {
        let d = st.device(&format!("{u}-{serial}")).await.expect(serial);
        assert_eq!(d.platform.as_str(), platform, "{serial}");
        assert_eq!(d.ownership, Some(shared::domain::Ownership::Corporate));
    }
}

#[tokio::test]
async fn sms_invites_go_to_the_mobile_number() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let key = format!("imports/{u}-sms.csv");
    // A number no other test uses: +1 415 555 01xx is reserved for fiction.
    let last = u64::from_str_radix(&u[..4], 16).unwrap() % 100;
    let body =
        format!("{HEADER}Ann,{u}@example.com,corporate,{u}-S1,ios,+1 415 555 01{last:02},,\n");
    st.upload(&key, body, &[("invite", "sms")]).await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["invites_queued"], 1);
    st.wait_for_invites().await;
    let sms = st.sms_to(&format!("+141555501{last:02}")).await;
    assert!(!sms.is_empty(), "an SMS to the E.164 number was recorded");
}

#[tokio::test]
async fn a_redelivered_event_sends_no_invite_twice() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let key = format!("imports/{u}-again.csv");
    let email = format!("{u}@example.com");
    st.upload(
        &key,
        format!("{HEADER}Ann,{email},corporate,{u}-R1,ios,,,\n"),
        &[],
    )
    .await;
    assert_eq!(st.wait_for_report(&key).await["status"], "completed");
    st.wait_for_invites().await;
    assert_eq!(st.emails_to(&email).await.len(), 1);

    // S3 and SQS deliver at least once: replay the same object's event.
    let head = st
        .s3
        .head_object()
        .bucket(&st.bucket)
        .key(&key)
        .send()
        .await
        .unwrap();
    st.send_s3_event(&st.queue_url, &key, head.version_id())
        .await;
    st.wait_for_queue_drained().await;
    st.wait_for_invites().await;
    assert_eq!(
        st.emails_to(&email).await.len(),
        1,
        "still exactly one invite"
    );
}

#[tokio::test]
async fn a_windows_excel_export_imports() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let key = format!("imports/{u}-excel.csv");
    // Excel "CSV" in a European locale: Windows-1252, semicolons, CRLF, trailing empty columns.
    let mut body = b"Display Name;E-mail;Ownership;Serial Number;Platform;;\r\n".to_vec();
    body.extend_from_slice(
        format!("Jos\u{e9} M\u{fc}ller;{u}@example.com;corporate;{u}-W1;android;;\r\n").as_bytes(),
    );
    let body: Vec<u8> = String::from_utf8(body)
        .unwrap()
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1 range"))
        .collect();
    st.upload(&key, body, &[("invite", "none")]).await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["dialect"]["encoding"], "windows-1252");
    assert_eq!(report["dialect"]["delimiter"], ";");
    assert_eq!(
        st.user_name(&format!("{u}@example.com")).await.as_deref(),
        Some("José Müller")
    );
}

/// An event naming a version that does not exist fails on every delivery; on
/// the queue's last one the import is recorded as failed, with a report,
/// before the event goes to the dead-letter queue.
#[tokio::test]
async fn an_event_that_fails_every_delivery_ends_as_a_failed_import() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let key = format!("imports/{u}-ghost.csv");
    let version = format!("{u}-no-such-version");
    st.send_s3_event(&st.queue_url, &key, Some(&version)).await;
    // The object is not there: the import is known by the event's version.
    let id = st.import_id_of_version(&key, &version);
    let report = st.wait_for_report_of(&key, &id).await;
    assert_eq!(report["status"], "failed", "{report:#}");
    assert!(
        report["failure"]
            .as_str()
            .unwrap()
            .contains("5 failed attempts"),
        "{report:#}"
    );
    let import_id = report["import_id"].as_str().unwrap();
    let record = st
        .dynamo
        .get_item()
        .table_name(&st.imports_table)
        .key(
            "import_id",
            aws_sdk_dynamodb::types::AttributeValue::S(import_id.into()),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S("META".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("import record");
    assert_eq!(record["status"].as_s().unwrap(), "failed");
}

#[tokio::test]
async fn a_re_upload_under_the_same_key_gets_reports_of_its_own() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let key = format!("imports/{u}-again.csv");
    st.upload(
        &key,
        format!("{HEADER}Ann,{u}@example.com,corporate,{u}-S1,windows,,,\n"),
        &[("invite", "none")],
    )
    .await;
    assert_eq!(st.wait_for_report(&key).await["status"], "rejected");
    let (_, first_errors) = st.report_keys(&key).await;
    st.upload(
        &key,
        format!("{HEADER}Ann,{u}@example.com,corporate,{u}-S1,ios,,,\n"),
        &[("invite", "none")],
    )
    .await;
    assert_eq!(st.wait_for_report(&key).await["status"], "completed");
    let (_, second_errors) = st.report_keys(&key).await;
    assert_ne!(first_errors, second_errors);
    assert!(st.get_object(&first_errors).await.is_some());
    assert!(
        st.get_object(&second_errors).await.is_none(),
        "a clean import has no errors file, whatever the key's last import had"
    );
}

#[tokio::test]
async fn uploads_and_reports_expire_with_their_old_versions() {
    let st = Stack::from_env().await;
    let rules = st
        .s3
        .get_bucket_lifecycle_configuration()
        .bucket(&st.bucket)
        .send()
        .await
        .expect("the bucket has a lifecycle configuration")
        .rules
        .unwrap_or_default();
    for prefix in ["imports/", "reports/"] {
        let rule = rules
            .iter()
            .find(|r| {
                r.filter
                    .as_ref()
                    .and_then(|f| f.prefix())
                    .is_some_and(|p| p == prefix)
            })
            .unwrap_or_else(|| panic!("no lifecycle rule for {prefix}"));
        assert_eq!(rule.expiration.as_ref().and_then(|e| e.days), Some(90));
        assert_eq!(
            rule.noncurrent_version_expiration
                .as_ref()
                .and_then(|e| e.noncurrent_days),
            Some(90),
            "old versions of {prefix} go too"
        );
    }
}

/// Adversary 2: the import died where it could not mark itself (out of memory,
/// out of time), and SQS moved its event to the dead-letter queue. The
/// dead-letter consumer records it failed, with a report; nothing stays `validating`.
#[tokio::test]
async fn an_event_in_the_dead_letter_queue_marks_its_import_failed() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let key = format!("imports/{u}-lived.csv");
    st.upload(
        &key,
        format!("{HEADER}Ann,{u}@example.com,corporate,{u}-S1,ios,,,\n"),
        &[("invite", "none")],
    )
    .await;
    let first = st.wait_for_report(&key).await;
    assert_eq!(first["status"], "completed", "the real upload's import");
    let dead_key = format!("imports/{u}-died.csv");
    let version = format!("{u}-v");
    st.send_s3_event(&st.dead_letter_queue_url, &dead_key, Some(&version))
        .await;
    let id = st.import_id_of_version(&dead_key, &version);
    let report = st.wait_for_report_of(&dead_key, &id).await;
    assert_eq!(report["status"], "failed", "{report:#}");
    assert!(report["failure"]
        .as_str()
        .unwrap()
        .contains("failed attempts"));
    // A finished import whose event also reaches the dead-letter queue stays as it is.
    st.send_s3_event(&st.dead_letter_queue_url, &key, None)
        .await;
    st.wait_for_drained(&st.dead_letter_queue_url).await;
    assert_eq!(st.wait_for_report(&key).await["status"], "completed");
}
