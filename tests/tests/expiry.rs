//! Expiry through the local stack: an import with an `Expires` column and an
//! upload-wide default -> admission refuses a lapsed pre-approval (reason
//! `expired` in the denial record, `not_allowed` to the caller) -> the sweep
//! function marks it `expired` (listed, counted) -> renewed from the admin
//! API or by importing it again. One test: it turns "Pre-approved Devices
//! Only" on for its whole run.

use std::time::Duration;

use integration_tests::admin::Admin;
use integration_tests::Stack;
use serde_json::{json, Value};
use shared::clock::{epoch_now, rfc3339};
use shared::records::DeviceStatus;

const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform,Expiry Date\n";

async fn import(st: &Stack, key: &str, body: String, meta: &[(&str, &str)]) -> Value {
    st.upload(key, body, meta).await;
    st.wait_for_report(key).await
}

async fn admit(st: &Stack, serial: &str) -> Value {
    let (status, v) = st
        .post(
            &st.admission_url,
            json!({"serial_number": serial, "platform": "ios"}).to_string(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    v
}

async fn status_of(st: &Stack, serial: &str) -> DeviceStatus {
    st.device(serial).await.expect("device").status
}

#[tokio::test]
async fn a_pre_approval_expires_is_refused_listed_counted_and_renewed() {
    let admin = Admin::new().await;
    let st = &admin.st;
    st.set_pre_approved_only(true).await;
    let u = st.unique();
    let soon = rfc3339(epoch_now() + 12);

    // Bad dates are row errors that say where and how to write them.
    let bad = import(
        st,
        &format!("imports/{u}-bad-dates.csv"),
        format!(
            "{HEADER}Ann,{u}-a@example.com,corporate,{u}-B1,ios,31/03/2027\n\
             Bob,{u}-b@example.com,corporate,{u}-B2,ios,46477\n\
             Cy,{u}-c@example.com,corporate,{u}-B3,ios,2020-01-01\n"
        ),
        &[("invite", "none")],
    )
    .await;
    assert_eq!(bad["status"], "rejected", "{bad:#}");
    let errors = bad["errors"].as_array().expect("errors");
    let at = |row: u64| {
        errors
            .iter()
            .find(|e| e["row"] == row)
            .unwrap_or_else(|| panic!("no error on row {row}: {bad:#}"))
    };
    assert_eq!(
        (at(2)["column"].as_str(), at(2)["value"].as_str()),
        (Some("Expiry Date"), Some("31/03/2027"))
    );
    assert!(at(2)["message"].as_str().unwrap().contains("YYYY-MM-DD"));
    assert!(at(3)["message"]
        .as_str()
        .unwrap()
        .contains("serial number (2027-03-31"));
    assert!(at(4)["message"].as_str().unwrap().contains("in the past"));
    assert!(
        st.device(&format!("{u}-B1")).await.is_none(),
        "a rejected file writes nothing"
    );

    // A row's own date, the upload's default, and two that lapse in seconds.
    let report = import(
        st,
        &format!("imports/{u}-expiring.csv"),
        format!(
            "{HEADER}Ann,{u}-a@example.com,corporate,{u}-OWN,ios,2099-12-31\n\
             Bob,{u}-b@example.com,corporate,{u}-DEFAULT,ios,\n\
             Cy,{u}-c@example.com,corporate,{u}-SOON1,ios,{soon}\n\
             Di,{u}-d@example.com,corporate,{u}-SOON2,ios,{soon}\n"
        ),
        &[("invite", "none"), ("expires-in-days", "7")],
    )
    .await;
    assert_eq!(report["status"], "completed", "{report:#}");
    let expiry_of = |serial: &str| {
        let serial = format!("{u}-{serial}");
        async move {
            st.device(&serial)
                .await
                .expect("device")
                .expires
                .map(|e| e.epoch())
        }
    };
    assert_eq!(
        expiry_of("OWN").await.map(rfc3339).as_deref(),
        Some("2100-01-01T00:00:00Z")
    );
    let default = expiry_of("DEFAULT")
        .await
        .expect("the upload's default applies");
    assert!(
        default.abs_diff(epoch_now() + 7 * 86_400) < 300,
        "{}",
        rfc3339(default)
    );

    let soon1 = format!("{u}-SOON1");
    let before = admit(st, &soon1).await;
    if epoch_now() + 1 < rfc3339_secs(&soon) {
        assert_eq!(before["decision"], "allow", "{before}");
    }
    while epoch_now() < rfc3339_secs(&soon) {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Lapsed: refused at once, before any sweep, like any other refusal.
    let v = admit(st, &soon1).await;
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("deny"), Some("not_allowed")),
        "{v}"
    );
    let reasons: Vec<String> = st
        .denials_of(&soon1)
        .await
        .iter()
        .filter_map(|d| d.get("reason")?.as_s().ok().cloned())
        .collect();
    assert_eq!(reasons, ["expired"]);
    assert_eq!(
        status_of(st, &soon1).await,
        DeviceStatus::PreApproved,
        "not swept yet"
    );

    // The sweep marks both lapsed devices, once; the others stay.
    // The sweep now, as its schedule runs it.
    let swept = st.invoke("device-expiry", &json!({})).await;
    assert!(swept["complete"].as_bool().unwrap(), "{swept}");
    for serial in ["SOON1", "SOON2"] {
        assert_eq!(
            status_of(st, &format!("{u}-{serial}")).await,
            DeviceStatus::Expired,
            "{serial}"
        );
    }
    for serial in ["OWN", "DEFAULT"] {
        assert_eq!(
            status_of(st, &format!("{u}-{serial}")).await,
            DeviceStatus::PreApproved,
            "{serial}"
        );
    }
    // Listed under `expired` and counted in the overview.
    let list = admin
        .get(&format!("/devices?status=expired&q={u}-SOON"))
        .await;
    let listed: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["serial_number"].as_str())
        .collect();
    assert_eq!(listed, vec![soon1.as_str(), &format!("{u}-SOON2")]);
    let mut counted = 0;
    for _ in 0..120 {
        let overview = admin.get("/overview").await;
        counted = overview["counts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "expired")
            .filter_map(|c| c["count"].as_u64())
            .sum();
        if counted >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        counted >= 2,
        "the overview counts expired devices: {counted}"
    );

    // Renewed from the device page: allowed again, until the new date.
    let (status, v) = admin
        .send(
            "POST",
            &format!("/devices/{soon1}/renew"),
            json!({"expires_in_days": 30}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(status_of(st, &soon1).await, DeviceStatus::PreApproved);
    assert_eq!(admit(st, &soon1).await["decision"], "allow");
    let page = admin.get(&format!("/devices/{soon1}")).await;
    assert_eq!(
        (page["audit"][0]["action"].as_str(), page["banner"].as_str()),
        (Some("renew"), Some("Pre-approved Device"))
    );

    // Renewed by importing it again (with the default "skip", which protects
    // only live pre-approvals).
    let again = import(
        st,
        &format!("imports/{u}-renew.csv"),
        format!("{HEADER}Di,{u}-d@example.com,corporate,{u}-SOON2,ios,2099-06-30\n"),
        &[("invite", "none"), ("existing-users", "skip")],
    )
    .await;
    assert_eq!(again["devices_written"], 1, "{again:#}");
    let soon2 = format!("{u}-SOON2");
    assert_eq!(status_of(st, &soon2).await, DeviceStatus::PreApproved);
    assert_eq!(admit(st, &soon2).await["decision"], "allow");

    // An enrolled device never expires.
    let allowed = admit(st, &format!("{u}-OWN")).await;
    let (status, v) = st
        .post(
            &st.enrollments_url,
            json!({"serial_number": format!("{u}-OWN"), "platform": "ios",
                   "enrollment_token": allowed["enrollment_token"]})
            .to_string(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let enrolled = st.device(&format!("{u}-OWN")).await.unwrap();
    assert_eq!(
        (enrolled.status, enrolled.expires),
        (DeviceStatus::Enrolled, None)
    );
    st.set_pre_approved_only(false).await;
}

fn rfc3339_secs(text: &str) -> u64 {
    serde_json::from_value::<shared::domain::Expiry>(Value::String(text.to_owned()))
        .expect("RFC 3339")
        .epoch()
}
