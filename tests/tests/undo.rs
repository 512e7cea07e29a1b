//! Undo of an import through the local stack: a `replace` import over an
//! earlier one, a device of it enrolled in between; the admin API's dry run
//! says what an undo would do, the undo does exactly that (before-images
//! back, created items gone, the enrolled device and its user left), the
//! import shows `undone`, and `Import Undone` reaches a rule's queue.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::admin::Admin;
use integration_tests::events::{subscribe, wait_for};
use integration_tests::Stack;
use serde_json::{json, Value};
use shared::aws::tables::Tables;
use shared::aws::undo::DynamoUndo;
use shared::records::DeviceStatus;
use shared::undo::{Applied, Change, UndoStore, CHANGES_PER_CALL};

const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform,Device Name,Device Group\n";

async fn finished_undo(a: &Admin, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let u = a.get(&format!("/imports/{id}/undo")).await;
        if u["status"] == "done" || u["status"] == "failed" || Instant::now() > deadline {
            return u;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The report is written just before the import's record says finished: wait for the record.
async fn finished_import(a: &Admin, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while a.get(&format!("/imports/{id}")).await["status"] != "completed" {
        assert!(Instant::now() < deadline, "import {id} did not finish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_replace_import_is_undone_as_its_dry_run_said() {
    let a = Admin::new().await;
    let st = &a.st;
    let u = st.unique();
    let (_events, queue) = subscribe(st, &u).await;
    st.set_pre_approved_only(false).await;

    let first = format!("imports/{u}-first.csv");
    st.upload(
        &first,
        format!("{HEADER}Ann,{u}-ann@example.com,corporate,{u}-A1,ios,Old name,Sales\n"),
        &[("invite", "none")],
    )
    .await;
    assert_eq!(st.wait_for_report(&first).await["status"], "completed");
    let before = st.device(&format!("{u}-A1")).await.unwrap();

    let second = format!("imports/{u}-second.csv");
    st.upload(
        &second,
        format!(
            "{HEADER}Ann Lee,{u}-ann@example.com,corporate,{u}-A1,ios,New name,Field\n\
             Bea,{u}-bea@example.com,corporate,{u}-B1,ios,,\n\
             Cal,{u}-cal@example.com,corporate,{u}-B2,ios,,\n"
        ),
        &[("invite", "none"), ("existing-users", "replace")],
    )
    .await;
    let report = st.wait_for_report(&second).await;
    assert_eq!(report["devices_written"], 3, "{report:#}");
    let id = report["import_id"].as_str().unwrap().to_owned();
    finished_import(&a, &id).await;

    // B2 enrolls in between.
    let (_, allowed) = st
        .post(
            &st.admission_url,
            json!({"serial_number": format!("{u}-B2"), "platform": "ios"}).to_string(),
        )
        .await;
    let (status, v) = st
        .post(
            &st.enrollments_url,
            json!({"serial_number": format!("{u}-B2"), "platform": "ios", "enrollment_token": allowed["enrollment_token"]})
                .to_string(),
        )
        .await;
    assert_eq!(status, 200, "{v}");

    let (status, v) = a
        .send(
            "POST",
            &format!("/imports/{id}/undo"),
            json!({"dry_run": true}),
        )
        .await;
    assert_eq!(status, 202, "{v}");
    let dry = finished_undo(&a, &id).await;
    let expected = json!({
        "devices_removed": 1, "devices_restored": 1, "devices_left_enrolled": 1, "devices_left_changed": 0,
        "users_removed": 1, "users_restored": 1, "users_left": 1,
    });
    assert_eq!(
        (dry["status"].as_str(), &dry["counts"]),
        (Some("done"), &expected),
        "{dry:#}"
    );
    assert_eq!(
        st.device(&format!("{u}-B1")).await.map(|d| d.status),
        Some(DeviceStatus::PreApproved),
        "a dry run changes nothing"
    );

    let (status, v) = a
        .send("POST", &format!("/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, 202, "{v}");
    let done = finished_undo(&a, &id).await;
    assert_eq!(
        (done["status"].as_str(), &done["counts"]),
        (Some("done"), &expected),
        "{done:#}"
    );
    assert_eq!(
        st.device(&format!("{u}-A1")).await.unwrap(),
        before,
        "the before-image, exactly"
    );
    assert!(st.device(&format!("{u}-B1")).await.is_none());
    assert_eq!(
        st.device(&format!("{u}-B2")).await.unwrap().status,
        DeviceStatus::Enrolled
    );
    assert_eq!(
        st.user_name(&format!("{u}-ann@example.com"))
            .await
            .as_deref(),
        Some("Ann")
    );
    assert!(st
        .user_name(&format!("{u}-bea@example.com"))
        .await
        .is_none());
    assert_eq!(
        st.user_name(&format!("{u}-cal@example.com"))
            .await
            .as_deref(),
        Some("Cal"),
        "the enrolled device's user stays"
    );
    let import = a.get(&format!("/imports/{id}")).await;
    assert_eq!(import["status"], "undone");
    let (status, again) = a
        .send("POST", &format!("/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(
        (status, again["status"].as_str()),
        (200, Some("done")),
        "asked again: the same undo"
    );

    let got = wait_for(st, &queue, &id, &[("Import Undone", 1)]).await;
    let undone = got.get("Import Undone").cloned().unwrap_or_default();
    assert_eq!(undone.len(), 1, "{got:#?}");
    assert_eq!(undone[0]["counts"]["devices_restored"], 1);
    assert!(undone[0]["by"].as_str().is_some_and(|b| !b.is_empty()));
}

#[tokio::test]
async fn an_undo_killed_half_way_goes_on_and_ends_as_an_uninterrupted_one() {
    let a = Admin::new().await;
    let st = &a.st;
    let u = st.unique();
    let rows: String = (0..1200)
        .map(|i| format!("U{i},{u}-{i}@example.com,corporate,{u}-K{i:04},ios,,\n"))
        .collect();
    let key = format!("imports/{u}-killed.csv");
    st.upload(&key, format!("{HEADER}{rows}"), &[("invite", "none")])
        .await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["devices_written"], 1200, "{report:#}");
    let id = report["import_id"].as_str().unwrap().to_owned();
    finished_import(&a, &id).await;
    // Killed before its 7th transaction (of 100 changes): one page of 500 saved, the next one partly done.
    st.crash("import-undo", "dynamodb:TransactWriteItems", 7, None)
        .await;
    let (status, v) = a
        .send("POST", &format!("/imports/{id}/undo"), json!({}))
        .await;
    assert_eq!(status, 202, "{v}");
    let done = finished_undo(&a, &id).await;
    assert_eq!(done["status"], "done", "{done:#}");
    assert_eq!(
        (
            done["counts"]["devices_removed"].as_u64(),
            done["counts"]["users_removed"].as_u64()
        ),
        (Some(1200), Some(1200)),
        "the counts of an uninterrupted run: {done:#}"
    );
    assert!(
        done["runs"].as_u64() >= Some(2),
        "went on in another run: {done:#}"
    );
    let (restarts, fired) = st.crashes("import-undo").await;
    assert!(
        fired >= 1 && restarts >= 1,
        "the crash happened: {restarts} restarts, {fired} fired"
    );
    for i in [0, 499, 500, 699, 1199] {
        assert!(
            st.device(&format!("{u}-K{i:04}")).await.is_none(),
            "K{i:04} is gone"
        );
    }
}

/// Sets one attribute of a stored item behind the undo's back.
async fn change_item(st: &Stack, table: &str, key: (&str, &str), attr: &str, value: &str) {
    st.dynamo
        .update_item()
        .table_name(table)
        .key(key.0, AttributeValue::S(key.1.to_owned()))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", attr)
        .expression_attribute_values(":v", AttributeValue::S(value.to_owned()))
        .send()
        .await
        .expect("change an item");
}

/// The DynamoDB adapter against the emulator: a call's changes go in one
/// transaction, and those whose item changed since the undo read it (enrolled,
/// taken by another import, gone) are refused alone while the rest are made.
#[tokio::test]
async fn one_call_makes_every_change_but_those_whose_item_changed() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let rows: String = (0..60)
        .map(|i| format!("T{i},{u}-t{i}@example.com,corporate,{u}-T{i:03},ios,,\n"))
        .collect();
    let key = format!("imports/{u}-changes.csv");
    st.upload(&key, format!("{HEADER}{rows}"), &[("invite", "none")])
        .await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["devices_written"], 60, "{report:#}");
    let id = report["import_id"].as_str().unwrap().to_owned();
    let serial = |i: usize| format!("{u}-T{i:03}");
    let email = |i: usize| format!("{u}-t{i}@example.com");

    // Behind the undo's back: enrolled, taken by a later import (a device, a user).
    for (table, key, attr, value) in [
        (
            &st.devices_table,
            ("serial", serial(0)),
            "status",
            "enrolled",
        ),
        (
            &st.devices_table,
            ("serial", serial(1)),
            "import_id",
            "later",
        ),
        (&st.users_table, ("email", email(2)), "import_id", "later"),
    ] {
        change_item(&st, table, (key.0, &key.1), attr, value).await;
    }
    let mut restored = st.device(&serial(3)).await.expect("T003 stored");
    restored.device_name = Some("as it was".to_owned());

    let serials: Vec<String> = (0..60).map(serial).collect();
    let emails: Vec<String> = (2..32).map(email).collect();
    let missing = format!("{u}-NONE");
    let mut changes: Vec<Change<'_>> = serials
        .iter()
        .enumerate()
        .map(|(i, s)| match i {
            3 => Change::RestoreDevice(&restored),
            _ => Change::RemoveDevice(s),
        })
        .collect();
    changes.extend(emails.iter().map(|e| Change::RemoveUser(e)));
    changes.push(Change::RemoveDevice(&missing));
    assert!(changes.len() <= CHANGES_PER_CALL);

    let undo = DynamoUndo {
        client: st.dynamo.clone(),
        tables: Tables {
            devices: st.devices_table.clone(),
            users: st.users_table.clone(),
            imports: st.imports_table.clone(),
            settings: st.settings_table.clone(),
        },
        queue: None,
    };
    let applied = undo.apply(&id, &changes).await.expect("the changes");
    let refused: Vec<usize> = (0..applied.len())
        .filter(|&i| applied[i] == Applied::Changed)
        .collect();
    // Devices 0 (enrolled) and 1 (another import's), user 2 (another import's), the missing device.
    assert_eq!(refused, vec![0, 1, 60, changes.len() - 1], "{applied:?}");

    assert_eq!(
        st.device(&serial(0)).await.map(|d| d.status),
        Some(DeviceStatus::Enrolled)
    );
    assert!(st.device(&serial(1)).await.is_some(), "another import's");
    assert_eq!(
        st.device(&serial(3)).await.and_then(|d| d.device_name),
        Some("as it was".to_owned())
    );
    for i in [2, 4, 30, 59] {
        assert!(st.device(&serial(i)).await.is_none(), "T{i:03} removed");
    }
    assert!(
        st.user_name(&email(2)).await.is_some(),
        "another import's user"
    );
    assert!(st.user_name(&email(3)).await.is_none(), "user 3 removed");
    assert!(
        st.user_name(&email(32)).await.is_some(),
        "user 32 not asked"
    );

    // The same call again: every item has changed since (gone or not its own).
    let again = undo.apply(&id, &changes).await.expect("again");
    assert_eq!(
        again.iter().filter(|a| **a == Applied::Done).count(),
        1,
        "only the restored device is still the import's own: {again:?}"
    );
}
