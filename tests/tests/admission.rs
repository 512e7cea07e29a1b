//! Admission through the local stack: import a CSV, then ask the admission
//! function (cargo lambda's function URL, an API Gateway v2 event) over HTTP.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::Stack;
use serde_json::{json, Value};
use shared::records::DeviceStatus;

const HEADER: &str = "Name,Email,Ownership,Serial Number,Platform,Password,Device Group\n";

async fn import(st: &Stack, u: &str) {
    let key = format!("imports/{u}-admission.csv");
    let body = format!(
        "{HEADER}Ann,{u}-ann@example.com,corporate,{u}-ABC123,ios,s3cret,Sales;Field\n\
         Bob,{u}-bob@example.com,personal,{u}-AND1,android,,\n"
    );
    st.upload(&key, body, &[("invite", "none")]).await;
    let report = st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["devices_written"], 2);
}

async fn admit(st: &Stack, body: Value) -> Value {
    let (status, v) = st.post(&st.admission_url, body.to_string()).await;
    assert_eq!(status, 200, "{v}");
    v
}

fn verdict(v: &Value) -> (&str, &str) {
    (
        v["decision"].as_str().unwrap_or("?"),
        v["reason"].as_str().unwrap_or("?"),
    )
}

async fn denials_of(
    st: &Stack,
    serial: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let out = st
        .dynamo
        .query()
        .table_name(&st.denials_table)
        .index_name("by-time")
        .key_condition_expression("kind = :k")
        .filter_expression("serial = :s")
        .expression_attribute_values(":k", AttributeValue::S("denial".into()))
        .expression_attribute_values(":s", AttributeValue::S(serial.into()))
        .send()
        .await
        .expect("query denials");
    out.items.unwrap_or_default()
}

/// One test for everything that depends on the (global) restriction setting,
/// so that tests running in parallel never see it flip under them.
#[tokio::test]
async fn admission_follows_the_setting_and_enrollment_happens_once() {
    let st = Stack::from_env().await;
    let u = st.unique();
    import(&st, &u).await;
    let abc = format!("{u}-ABC123");

    st.set_pre_approved_only(true).await;
    let v = admit(
        &st,
        json!({"serial_number": abc, "platform": "ios", "password": "s3cret"}),
    )
    .await;
    assert_eq!(verdict(&v), ("allow", "pre_approved"), "{v}");
    assert_eq!(v["pre_approved"], true);
    assert_eq!(v["groups"], json!(["Sales", "Field"]));
    for key in ["email", "name", "password", "mobile", "password_hash"] {
        assert!(v.get(key).is_none(), "{key} leaked: {v}");
    }
    let cases = [
        (
            json!({"serial_number": abc.to_lowercase(), "platform": "ios", "password": "s3cret"}),
            "not_pre_approved",
        ),
        (
            json!({"serial_number": abc, "platform": "macos", "password": "s3cret"}),
            "platform_mismatch",
        ),
        (
            json!({"serial_number": abc, "platform": "ios"}),
            "password_required",
        ),
        (
            json!({"serial_number": abc, "platform": "ios", "password": "S3CRET"}),
            "password_mismatch",
        ),
        (
            json!({"serial_number": abc, "platform": "windows"}),
            "unsupported_platform",
        ),
        (
            json!({"serial_number": format!("{u}-AND1"), "platform": "android", "enrollment_method": "email", "os_version": "11"}),
            "unsupported_enrollment_method",
        ),
    ];
    for (body, reason) in &cases {
        let v = admit(&st, body.clone()).await;
        assert_eq!(verdict(&v), ("deny", *reason), "{body} -> {v}");
    }
    let v = admit(&st, json!({"serial_number": format!("{u}-AND1"), "platform": "android", "enrollment_method": "zero_touch", "os_version": "14"})).await;
    assert_eq!(verdict(&v), ("allow", "pre_approved"), "{v}");

    // Off: anything on a supported platform enrolls; a matching serial still gets its groups.
    st.set_pre_approved_only(false).await;
    let v = admit(
        &st,
        json!({"serial_number": format!("{u}-UNKNOWN"), "platform": "linux"}),
    )
    .await;
    assert_eq!(verdict(&v), ("allow", "open_enrollment"), "{v}");
    assert_eq!(v["pre_approved"], false);
    let v = admit(
        &st,
        json!({"serial_number": abc, "platform": "ios", "password": "s3cret"}),
    )
    .await;
    assert_eq!(verdict(&v), ("allow", "pre_approved"), "{v}");

    // On again: complete the enrollment once; the second completion is refused.
    st.set_pre_approved_only(true).await;
    let body = json!({"serial_number": abc, "platform": "ios", "password": "s3cret", "enrollment_method": "ade", "os_version": "18.1"});
    let (status, v) = st.post(&st.enrollments_url, body.to_string()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "enrolled");
    let (status, v) = st.post(&st.enrollments_url, body.to_string()).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (409, Some("already_enrolled")),
        "{v}"
    );
    let v = admit(&st, body).await;
    assert_eq!(verdict(&v), ("deny", "already_enrolled"), "{v}");
    let device = st.device(&abc).await.expect("device");
    assert_eq!(device.status, DeviceStatus::Enrolled);
    assert_eq!(
        device.password_hash, None,
        "the one-time password is used up"
    );
    let enrollment = device.enrollment.expect("enrollment recorded");
    assert_eq!(
        (enrollment.method.as_deref(), enrollment.pre_approved),
        (Some("ade"), true)
    );
    assert_eq!(
        device.email,
        format!("{u}-ann@example.com"),
        "the import's data stays"
    );

    // The admin list by status (GSI) shows it as enrolled.
    let listed = st
        .dynamo
        .query()
        .table_name(&st.devices_table)
        .index_name("by-status")
        .key_condition_expression("#st = :e AND serial = :s")
        .expression_attribute_names("#st", "status")
        .expression_attribute_values(":e", AttributeValue::S("enrolled".into()))
        .expression_attribute_values(":s", AttributeValue::S(abc.clone()))
        .send()
        .await
        .expect("query by status");
    assert_eq!(listed.count, 1);

    // Every deny was recorded, with a 30-day TTL and without the password.
    let denials = denials_of(&st, &abc).await;
    let mut reasons: Vec<&str> = denials
        .iter()
        .filter_map(|d| {
            d.get("reason")
                .and_then(|r| r.as_s().ok())
                .map(String::as_str)
        })
        .collect();
    reasons.sort_unstable();
    assert_eq!(
        reasons,
        [
            "already_enrolled",
            "already_enrolled",
            "password_mismatch",
            "password_required",
            "platform_mismatch",
            "unsupported_platform"
        ]
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for d in &denials {
        let expires: u64 = d["expires_at"].as_n().unwrap().parse().unwrap();
        assert!(expires.abs_diff(now + 30 * 86_400) < 600, "{d:?}");
        assert!(!format!("{d:?}").contains("S3CRET"));
    }
    assert_eq!(denials_of(&st, &abc.to_lowercase()).await.len(), 1);
    st.set_pre_approved_only(false).await;
}

#[tokio::test]
async fn malformed_requests_are_answered_not_crashed_on() {
    let st = Stack::from_env().await;
    let (status, v) = st.post(&st.admission_url, "{\"platform\":\"ios\"}").await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("serial_number")),
        "{v}"
    );
    let (status, v) = st.post(&st.admission_url, "not json").await;
    assert_eq!((status, v["field"].as_str()), (400, Some("body")), "{v}");
    let big = json!({"serial_number": "X", "platform": "ios", "pad": "x".repeat(5000)});
    let (status, _) = st.post(&st.admission_url, big.to_string()).await;
    assert_eq!(status, 413);
    let r = st.http.get(&st.admission_url).send().await.expect("GET");
    assert_eq!(r.status().as_u16(), 405);
    // Still answering after all that.
    let (status, v) = st
        .post(
            &st.admission_url,
            json!({"serial_number": "X", "platform": "windows"}).to_string(),
        )
        .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (200, Some("unsupported_platform")),
        "{v}"
    );
}
