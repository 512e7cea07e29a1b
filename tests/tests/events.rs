//! Events through the local stack: one EventBridge rule (source `preapprove`)
//! routes every decision to an SQS queue, as the README's rule does, and each
//! decision arrives once with its documented fields: an import finished
//! (completed and rejected), admission allowed and denied, a device enrolled,
//! a pre-approval expired. Never a password.

use std::collections::BTreeMap;
use std::time::Duration;

use integration_tests::events::{subscribe, wait_for};
use integration_tests::Stack;
use serde_json::json;
use shared::clock::{epoch_now, rfc3339};

const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform,Password,Expires\n";

#[tokio::test]
async fn every_decision_is_published_once_with_its_fields() {
    let st = Stack::from_env().await;
    let u = st.unique();
    let (_events, queue) = subscribe(&st, &u).await;
    st.set_pre_approved_only(true).await;

    let soon = rfc3339(epoch_now() + 8);
    let key = format!("imports/{u}-events.csv");
    st.upload(
        &key,
        format!(
            "{HEADER}Ann,{u}-ann@example.com,corporate,{u}-A1,ios,s3cret-pw,\n\
             Bob,{u}-bob@example.com,corporate,{u}-LAPSE,ios,,{soon}\n"
        ),
        &[("invite", "none")],
    )
    .await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    let rejected_key = format!("imports/{u}-rejected.csv");
    st.upload(
        &rejected_key,
        format!("{HEADER}Cy,not-an-email,corporate,{u}-R1,ios,,\n"),
        &[("invite", "none")],
    )
    .await;
    assert_eq!(
        st.wait_for_report(&rejected_key).await["status"],
        "rejected"
    );

    // Allowed (with the right password), then enrolled; denied (wrong password).
    let (_, denied) = st
        .post(
            &st.admission_url,
            json!({"serial_number": format!("{u}-A1"), "platform": "ios", "password": "wrong"})
                .to_string(),
        )
        .await;
    assert_eq!(denied["decision"], "deny");
    let (_, allowed) = st
        .post(
            &st.admission_url,
            json!({"serial_number": format!("{u}-A1"), "platform": "ios", "password": "s3cret-pw"})
                .to_string(),
        )
        .await;
    assert_eq!(allowed["decision"], "allow", "{allowed}");
    let (status, enrolled) = st
        .post(
            &st.enrollments_url,
            json!({"serial_number": format!("{u}-A1"), "platform": "ios",
                   "enrollment_token": allowed["enrollment_token"], "enrollment_method": "ade"})
            .to_string(),
        )
        .await;
    assert_eq!(status, 200, "{enrolled}");

    // Lapsed, then swept.
    tokio::time::sleep(Duration::from_secs(9)).await;
    st.invoke("device-expiry", &json!({})).await;

    let got = wait_for(
        &st,
        &queue,
        &u,
        &[
            ("Import Finished", 2),
            ("Admission Denied", 1),
            ("Admission Allowed", 2),
            ("Device Enrolled", 1),
            ("Pre-approval Expired", 1),
        ],
    )
    .await;
    let kinds: BTreeMap<&str, usize> = got.iter().map(|(k, v)| (k.as_str(), v.len())).collect();
    // The enrollment's completion is an admission decision too (endpoint enrollments).
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("Admission Allowed", 2),
            ("Admission Denied", 1),
            ("Device Enrolled", 1),
            ("Import Finished", 2),
            ("Pre-approval Expired", 1),
        ]),
        "{got:#?}"
    );

    let mut finished = got["Import Finished"].clone();
    finished.sort_by_key(|d| d["key"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        (finished[0]["key"].as_str(), finished[0]["status"].as_str()),
        (Some(key.as_str()), Some("completed"))
    );
    assert_eq!(
        (
            finished[0]["rows"].as_u64(),
            finished[0]["devices_written"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(
        (
            finished[1]["status"].as_str(),
            finished[1]["valid_rows"].as_u64()
        ),
        (Some("rejected"), Some(0))
    );

    let denied = &got["Admission Denied"][0];
    assert_eq!(
        (
            denied["serial_number"].as_str(),
            denied["reason"].as_str(),
            denied["endpoint"].as_str()
        ),
        (
            Some(format!("{u}-A1").as_str()),
            Some("password_mismatch"),
            Some("admission")
        )
    );
    let endpoints: Vec<&str> = got["Admission Allowed"]
        .iter()
        .filter_map(|d| d["endpoint"].as_str())
        .collect();
    assert!(
        endpoints.contains(&"admission") && endpoints.contains(&"enrollments"),
        "{endpoints:?}"
    );

    let enrolled = &got["Device Enrolled"][0];
    assert_eq!(
        (
            enrolled["serial_number"].as_str(),
            enrolled["email"].as_str(),
            enrolled["pre_approved"].as_bool(),
            enrolled["enrollment_method"].as_str()
        ),
        (
            Some(format!("{u}-A1").as_str()),
            Some(format!("{u}-ann@example.com").as_str()),
            Some(true),
            Some("ade")
        )
    );
    let expired = &got["Pre-approval Expired"][0];
    assert_eq!(
        (
            expired["serial_number"].as_str(),
            expired["email"].as_str(),
            expired["expires_at"].as_str()
        ),
        (
            Some(format!("{u}-LAPSE").as_str()),
            Some(format!("{u}-bob@example.com").as_str()),
            Some(soon.as_str())
        )
    );
    st.set_pre_approved_only(false).await;
}
