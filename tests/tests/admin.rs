//! The admin API through the local stack, signed in with a real token of the
//! emulator's Cognito user pool (USER_PASSWORD_AUTH, as the local page does).

use integration_tests::admin::{var, Admin};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(exp: u64) -> Value {
    let pool = var("COGNITO_USER_POOL_ID");
    let region = var("AWS_REGION");
    json!({"iss": format!("https://cognito-idp.{region}.amazonaws.com/{pool}"), "aud": var("COGNITO_CLIENT_ID"),
           "token_use": "id", "cognito:username": "admin", "sub": "x", "exp": exp, "iat": now() - 7200})
}

fn signed(pem: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("dummy".into());
    encode(&header, claims, &EncodingKey::from_rsa_pem(pem).unwrap()).unwrap()
}

#[tokio::test]
async fn every_route_needs_a_valid_token() {
    let a = Admin::new().await;
    let forger = include_bytes!("../../functions/admin/tests/fixtures/forger.pem");
    let moto_key = std::fs::read(var("COGNITO_LOCAL_SIGNING_KEY")).unwrap();
    // The pool's own key and claims, but an hour past expiry: only the expiry is wrong.
    let expired = signed(&moto_key, &claims(now() - 3600));
    let still_valid = signed(&moto_key, &claims(now() + 600));
    let forged = signed(forger, &claims(now() + 600));
    for path in [
        "/settings",
        "/devices",
        "/imports",
        "/admission-denials",
        "/sample.csv",
    ] {
        for token in [
            None,
            Some("garbage"),
            Some(forged.as_str()),
            Some(expired.as_str()),
        ] {
            let (status, v) = a.call("GET", path, None, token).await;
            assert_eq!(status, 401, "{path} with {token:?}: {v}");
            assert_eq!(v["error"], "unauthorized");
        }
    }
    let (status, _) = a.call("GET", "/settings", None, Some(&still_valid)).await;
    assert_eq!(
        status, 200,
        "the same key and claims, not expired, are accepted"
    );
    let (status, _) = a
        .call(
            "PUT",
            "/settings",
            Some(json!({"pre_approved_only": true})),
            None,
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn cors_is_limited_to_the_admin_page() {
    let a = Admin::new().await;
    let page = var("ADMIN_URL").trim_end_matches('/').to_owned();
    for (origin, allowed) in [(page.as_str(), true), ("https://evil.example", false)] {
        let r =
            a.st.http
                .request(reqwest::Method::OPTIONS, format!("{}/settings", a.base))
                .header("origin", origin)
                .header("access-control-request-method", "PUT")
                .send()
                .await
                .unwrap();
        assert_eq!(r.status().as_u16(), 204);
        let acao = r
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            acao.as_deref() == Some(origin),
            allowed,
            "{origin}: {acao:?}"
        );
    }
}

/// Settings, the admission endpoint honouring them, and approving a blocked
/// attempt: one test, as the setting is global to the stack.
#[tokio::test]
async fn settings_drive_admission_and_blocked_attempts_can_be_approved() {
    let a = Admin::new().await;
    let u = a.st.unique();
    let (status, v) = a
        .send(
            "PUT",
            "/settings",
            json!({"pre_approved_only": true, "default_invite": "none"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["pre_approved_only"], true);
    let got = a.get("/settings").await;
    assert_eq!(
        (
            got["pre_approved_only"].as_bool(),
            got["default_invite"].as_str()
        ),
        (Some(true), Some("none"))
    );
    let history = a.get("/settings/history").await;
    let last = &history["items"][0];
    assert_eq!(last["by"], "admin");
    assert!(last["changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["field"] == "pre_approved_only" && c["new"] == true));
    let (status, v) = a
        .send("PUT", "/settings", json!({"default_invite": "fax"}))
        .await;
    assert_eq!(status, 400, "{v}");
    let (status, v) = a
        .send(
            "PUT",
            "/settings",
            json!({"enrollment_url": "enroll.example.com"}),
        )
        .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("enrollment_url")),
        "{v}"
    );

    // Restricted: an unknown serial is refused and the refusal is listed.
    let serial = format!("{u}-BLOCKED");
    let body = json!({"serial_number": serial, "platform": "android", "enrollment_method": "zero_touch", "os_version": "14"});
    let (_, d) = a.st.post(&a.st.admission_url, body.to_string()).await;
    assert_eq!(d["reason"], "not_allowed", "{d}");
    let denials = a.get("/admission-denials").await;
    let denial = denials["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["serial_number"] == serial.as_str())
        .expect("the blocked attempt is listed")
        .clone();
    assert_eq!(
        denial["reason"], "not_pre_approved",
        "the admin sees the precise reason"
    );
    assert_eq!(denial["attempts"], 1);
    let id = denial["id"].as_str().unwrap();

    // Approve it for a named user: now pre-approved, invite sent, a second approval refused.
    let email = format!("{u}-new@example.com");
    let approve =
        json!({"name": "New User", "email": email, "ownership": "corporate", "invite": "email"});
    let (status, v) = a
        .send(
            "POST",
            &format!("/admission-denials/{id}/approve"),
            approve.clone(),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["invite_state"], "queued");
    a.st.wait_for_invites().await;
    assert_eq!(a.st.emails_to(&email).await.len(), 1);
    let (status, _) = a
        .send("POST", &format!("/admission-denials/{id}/approve"), approve)
        .await;
    assert_eq!(status, 409);
    a.st.wait_for_invites().await;
    assert_eq!(a.st.emails_to(&email).await.len(), 1, "no second invite");
    let (_, d) = a.st.post(&a.st.admission_url, body.to_string()).await;
    assert_eq!(
        (d["decision"].as_str(), d["reason"].as_str()),
        (Some("allow"), Some("pre_approved")),
        "{d}"
    );

    // Back to the defaults the other tests (imports with invites) expect.
    let (status, v) = a
        .send(
            "PUT",
            "/settings",
            json!({"pre_approved_only": false, "default_invite": "email"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (_, d) =
        a.st.post(
            &a.st.admission_url,
            json!({"serial_number": format!("{u}-OTHER"), "platform": "linux"}).to_string(),
        )
        .await;
    assert_eq!(d["reason"], "open_enrollment", "{d}");
}

#[tokio::test]
async fn devices_and_imports_are_listed_filtered_and_linked() {
    let a = Admin::new().await;
    let u = a.st.unique();
    let key = format!("imports/{u}-list.csv");
    let csv = format!(
        "Name,Email,Ownership,Serial Number,Platform\n\
         Ann,{u}-ann@example.com,corporate,{u}-A1,ios\n\
         Bob,{u}-bob@example.com,personal,{u}-B1,android\n"
    );
    a.st.upload(&key, csv, &[("invite", "none")]).await;
    let report = a.st.wait_for_report(&key).await;
    let import_id = report["import_id"].as_str().unwrap().to_owned();

    let page = a.get(&format!("/devices?status=pre_approved&q={u}-")).await;
    let serials: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["serial_number"].as_str().unwrap())
        .collect();
    assert_eq!(serials, [format!("{u}-A1"), format!("{u}-B1")]);
    assert!(page["items"][0].get("password_hash").is_none());
    let none = a.get(&format!("/devices?status=enrolled&q={u}-")).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let by_email = a.get(&format!("/devices?q={u}-BOB@example.com")).await;
    assert_eq!(by_email["items"][0]["serial_number"], format!("{u}-B1"));
    let (status, _) = a
        .call("GET", "/devices?status=lost", None, Some(&a.token))
        .await;
    assert_eq!(status, 400);

    let one = a.get(&format!("/devices/{u}-A1")).await;
    assert_eq!(one["banner"], "Pre-approved Device");
    assert_eq!(
        (one["pre_approved"].as_bool(), one["status"].as_str()),
        (Some(true), Some("pre_approved"))
    );
    assert!(one.get("password_hash").is_none());
    assert_eq!(one["user"]["name"], "Ann");
    assert!(one["details_note"]
        .as_str()
        .unwrap()
        .contains("after the device enrolls"));
    let (status, _) = a
        .call("GET", &format!("/devices/{u}-a1"), None, Some(&a.token))
        .await;
    assert_eq!(status, 404, "serials are case-sensitive");

    let imports = a.get("/imports").await;
    assert!(imports["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["import_id"] == import_id.as_str()));
    let detail = a.get(&format!("/imports/{import_id}")).await;
    assert_eq!(detail["status"], "completed");
    assert_eq!(detail["progress"]["fraction"], 1.0);
    let report_url = detail["report_url"]
        .as_str()
        .expect("presigned report link");
    let fetched: Value =
        a.st.http
            .get(report_url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(fetched["import_id"], import_id.as_str());

    // The totals follow the devices table's stream: a moment after the import.
    let counted = |overview: &Value| {
        overview["counts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "pre_approved" && c["platform"] == "ios")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !counted(&a.get("/overview").await) {
        assert!(
            std::time::Instant::now() < deadline,
            "the overview never counted the import"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn uploads_are_staged_with_a_presigned_put_and_the_sample_is_served() {
    let a = Admin::new().await;
    let (status, v) = a.send("POST", "/uploads", json!({})).await;
    assert_eq!(status, 201, "{v}");
    let key = v["key"].as_str().unwrap();
    assert!(key.starts_with("staging/"), "never under imports/: {key}");
    let put =
        a.st.http
            .put(v["url"].as_str().unwrap())
            .header("content-type", "text/csv")
            .body("Name,Email\n")
            .send()
            .await
            .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    assert_eq!(
        a.st.get_object(key).await.as_deref(),
        Some(&b"Name,Email\n"[..])
    );

    let r =
        a.st.http
            .get(format!("{}/sample.csv", a.base))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let text = r.text().await.unwrap();
    assert!(text.starts_with("Name,Email,Ownership,Serial Number,Platform,"));
    assert_eq!(text.lines().count(), 3);
}

async fn stage(a: &Admin, csv: &str) -> String {
    let (status, v) = a.send("POST", "/uploads", json!({})).await;
    assert_eq!(status, 201, "{v}");
    let put =
        a.st.http
            .put(v["url"].as_str().unwrap())
            .header("content-type", "text/csv")
            .body(csv.to_owned())
            .send()
            .await
            .unwrap();
    assert!(put.status().is_success());
    v["key"].as_str().unwrap().to_owned()
}

/// The seeds' three steps: upload, preview with the row errors, send the checked rows.
#[tokio::test]
async fn the_guided_upload_previews_then_imports_the_checked_rows() {
    let a = Admin::new().await;
    let u = a.st.unique();
    let csv = format!(
        "Display Name;E-mail;Ownership;Serial Number;Platform;Asset Tag\r\n\
         Ann;{u}-ann@example.com;corporate;{u}-W1;ios;T1\r\n\
         Bob;{u}-bob@example.com;Corporate;{u}-W2;android;T2\r\n\
         Ann Again;{u}-ANN@example.com;personal;{u}-W3;macos;T3\r\n"
    );
    let key = stage(&a, &csv).await;
    let (status, p) = a
        .send(
            "POST",
            "/imports/preview",
            json!({"key": key, "page_size": 2}),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["dialect"]["delimiter"], ";");
    assert_eq!(
        (
            p["rows_total"].as_u64(),
            p["valid_rows"].as_u64(),
            p["pages"].as_u64()
        ),
        (Some(3), Some(2), Some(2))
    );
    assert_eq!(p["columns"]["ignored"], json!(["Asset Tag"]));
    let bob = &p["rows"][1];
    assert_eq!(
        (bob["row"].as_u64(), bob["valid"].as_bool()),
        (Some(3), Some(false))
    );
    assert!(
        bob["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("'corporate'"),
        "{bob}"
    );
    assert_eq!(p["rows"][0]["existing_device"], Value::Null);
    assert_eq!(p["duplicate_emails"][0]["rows"], json!([2, 4]));

    // Uncheck the bad row; import the rest without invites.
    let (status, c) = a
        .send("POST", "/imports", json!({"key": key, "exclude_rows": [3], "invite": "none", "existing_users": "skip", "file_name": "Q3 devices.csv"}))
        .await;
    assert_eq!(status, 202, "{c}");
    let target = c["key"].as_str().unwrap();
    assert!(
        target.starts_with("imports/guided/") && target.ends_with("/Q3-devices.csv"),
        "{target}"
    );
    let report = a.st.wait_for_report(target).await;
    assert_eq!(report["status"], "completed", "{report:#}");
    assert_eq!(report["devices_written"], 2);
    assert_eq!(report["import_id"], c["import_id"]);
    let detail = a
        .get(&format!("/imports/{}", c["import_id"].as_str().unwrap()))
        .await;
    assert_eq!(detail["status"], "completed");
    assert!(
        a.st.get_object(&key).await.is_none(),
        "the staged copy is removed"
    );
    // "Send" again (a retry after a timeout): the same import, one object version.
    let (status, again) = a
        .send("POST", "/imports", json!({"key": key, "exclude_rows": [3], "invite": "none", "file_name": "Q3 devices.csv"}))
        .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(
        (&again["key"], &again["import_id"]),
        (&c["key"], &c["import_id"])
    );
    let versions =
        a.st.s3
            .list_object_versions()
            .bucket(&a.st.bucket)
            .prefix(target)
            .send()
            .await
            .unwrap();
    assert_eq!(versions.versions().len(), 1, "published once");

    // Previewing the same serials again shows they exist now.
    let again = stage(&a, &csv).await;
    let (_, p) = a
        .send("POST", "/imports/preview", json!({"key": again}))
        .await;
    assert_eq!(p["rows"][0]["existing_device"], "pre_approved");
    assert_eq!(p["rows"][0]["existing_user"], true);
}

#[tokio::test]
async fn a_file_without_the_mandatory_columns_asks_for_a_mapping() {
    let a = Admin::new().await;
    let u = a.st.unique();
    let key = stage(&a, &format!("Name,Email,Ownership,Asset Serial,Platform\nAnn,{u}@example.com,corporate,{u}-M1,linux\n")).await;
    let (status, v) = a
        .send("POST", "/imports/preview", json!({"key": key}))
        .await;
    assert_eq!(
        (status, v["error"].as_str()),
        (422, Some("unreadable_file")),
        "{v}"
    );
    assert!(v["headers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h == "Asset Serial"));
    let (status, v) = a
        .send(
            "POST",
            "/imports/preview",
            json!({"key": key, "mapping": {"Asset Serial": "serial_number"}}),
        )
        .await;
    assert_eq!((status, v["valid_rows"].as_u64()), (200, Some(1)), "{v}");
    let (status, _) = a
        .send("POST", "/imports/preview", json!({"key": "imports/x.csv"}))
        .await;
    assert_eq!(status, 400, "only staged keys");
}

/// The attempt limit through the stack, and the administrator's way out of it,
/// independent of the restriction setting: locked, the right password gets
/// no pre-approval (refused, or open enrollment without groups).
#[tokio::test]
async fn wrong_passwords_lock_a_serial_until_an_administrator_unlocks_it() {
    let a = Admin::new().await;
    let u = a.st.unique();
    let serial = format!("{u}-LOCK");
    let key = format!("imports/{u}-lock.csv");
    let csv = format!("Name,Email,Ownership,Serial Number,Platform,Password\nAnn,{u}-ann@example.com,corporate,{serial},ios,Enroll-7421\n");
    a.st.upload(&key, csv, &[("invite", "none")]).await;
    assert_eq!(a.st.wait_for_report(&key).await["status"], "completed");
    let attempt =
        |password: &str| json!({"serial_number": serial, "platform": "ios", "password": password});
    for _ in 0..5 {
        let (status, _) =
            a.st.post(&a.st.admission_url, attempt("guess").to_string())
                .await;
        assert_eq!(status, 200);
    }
    let (_, d) =
        a.st.post(&a.st.admission_url, attempt("Enroll-7421").to_string())
            .await;
    assert_ne!(d["reason"], "pre_approved", "locked: {d}");
    let path = format!("/devices/{}", serial);
    // Approving a blocked attempt of this serial would replace its password and user: refused.
    // (The attempt is written directly: whether wrong passwords are refused, and so
    // recorded, depends on the setting, which another test flips.)
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    let denial_id = format!("{u}-denial");
    a.st.dynamo
        .put_item()
        .table_name(&a.st.denials_table)
        .item("denial_id", Av::S(denial_id.clone()))
        .item("kind", Av::S("denial".into()))
        .item("at", Av::S(shared::clock::now_rfc3339()))
        .item("serial", Av::S(serial.clone()))
        .item("platform", Av::S("ios".into()))
        .item("reason", Av::S("password_mismatch".into()))
        .item("endpoint", Av::S("admission".into()))
        .item("attempts", Av::N("5".into()))
        .item("expires_at", Av::N("4102444800".into()))
        .send()
        .await
        .expect("a blocked attempt");
    let blocked = json!({ "id": denial_id });
    let approve =
        json!({"name": "Someone Else", "email": format!("{u}-else@example.com"), "invite": "none"});
    let (status, v) = a
        .send(
            "POST",
            &format!(
                "/admission-denials/{}/approve",
                blocked["id"].as_str().unwrap()
            ),
            approve,
        )
        .await;
    assert_eq!(status, 409, "{v}");
    let v = a.get(&path).await;
    assert_eq!(
        (
            v["has_enrollment_password"].as_bool(),
            v["user"]["name"].as_str()
        ),
        (Some(true), Some("Ann"))
    );
    assert_eq!(v["failed_attempts"], 5);
    let until = v["locked_until"].as_str().expect("locked").to_owned();
    // The lock is 15 minutes from the fifth check.
    let fifth = a.st.device(&serial).await.unwrap().checks.last_at;
    assert_eq!(until, shared::clock::rfc3339(fifth + 15 * 60));

    // A second lock lasts twice as long: the first one over, five more wrong passwords.
    a.st.dynamo
        .update_item()
        .table_name(&a.st.devices_table)
        .key(
            "serial",
            aws_sdk_dynamodb::types::AttributeValue::S(serial.clone()),
        )
        .update_expression("SET last_check_at = :t")
        .expression_attribute_values(
            ":t",
            aws_sdk_dynamodb::types::AttributeValue::N((fifth - 3600).to_string()),
        )
        .send()
        .await
        .expect("age the first lock");
    for _ in 0..5 {
        a.st.post(&a.st.admission_url, attempt("guess").to_string())
            .await;
    }
    let v = a.get(&path).await;
    assert_eq!(v["failed_attempts"], 10);
    let tenth = a.st.device(&serial).await.unwrap().checks.last_at;
    assert_eq!(v["locked_until"], shared::clock::rfc3339(tenth + 30 * 60));

    let (status, v) = a.send("POST", &format!("{path}/unlock"), json!({})).await;
    assert_eq!((status, v["action"].as_str()), (200, Some("unlock")), "{v}");
    let (_, d) =
        a.st.post(&a.st.admission_url, attempt("Enroll-7421").to_string())
            .await;
    assert_eq!(
        (d["decision"].as_str(), d["reason"].as_str()),
        (Some("allow"), Some("pre_approved")),
        "{d}"
    );
    let v = a.get(&path).await;
    assert_eq!(
        (
            v["audit"][0]["action"].as_str(),
            v["audit"][0]["by"].as_str()
        ),
        (Some("unlock"), Some(var("ADMIN_USERNAME").as_str()))
    );

    // Enroll it, reset it (it may enroll again), then remove its pre-approval.
    let mut body = attempt("Enroll-7421");
    body["enrollment_token"] = d["enrollment_token"].clone();
    let (status, v) = a.st.post(&a.st.enrollments_url, body.to_string()).await;
    assert_eq!(status, 200, "{v}");
    let (status, _) = a.call("DELETE", &path, None, Some(&a.token)).await;
    assert_eq!(status, 409, "an enrolled device is reset, not removed");
    let (status, _) = a.send("POST", &format!("{path}/reset"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(a.get(&path).await["status"], "pre_approved");
    let (status, _) = a.call("DELETE", &path, None, Some(&a.token)).await;
    assert_eq!(status, 200);
    let (status, _) = a.call("GET", &path, None, Some(&a.token)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn invites_are_resent_at_most_once_a_minute_and_an_import_resends_its_failed_ones() {
    let a = Admin::new().await;
    let u = a.st.unique();
    let refused = format!("{u}-1@example.com");
    // SES refuses this recipient for good (as the sandbox refuses unverified ones).
    a.st.ses_account(json!({"reject": [refused]})).await;
    let key = format!("imports/{u}.csv");
    let body = format!(
        "Name,Email,Ownership,Serial Number,Platform\n\
         Ann,{u}-0@example.com,corporate,{u}-S0,ios\n\
         Bob,{refused},corporate,{u}-S1,ios\n"
    );
    a.st.upload(&key, body, &[("invite", "email")]).await;
    let report = a.st.wait_for_report(&key).await;
    let id = report["import_id"].as_str().unwrap().to_owned();
    a.st.wait_for_invites().await;
    a.st.wait_for_invite_state(&format!("{u}-S0"), "sent").await;
    a.st.wait_for_invite_state(&format!("{u}-S1"), "failed")
        .await;

    let detail = a.get(&format!("/imports/{id}")).await;
    assert_eq!(detail["invites"]["sent"], 1, "{detail}");
    assert_eq!(detail["invites"]["failed"], 1, "{detail}");
    let device = a.get(&format!("/devices/{u}-S1")).await;
    assert_eq!(device["invite"]["state"], "failed", "{device}");
    assert_eq!(device["invite"]["reason"], "MessageRejected", "{device}");

    // Within the minute: refused, with the time to wait.
    let (status, v) = a
        .send("POST", &format!("/devices/{u}-S0/invite"), json!({}))
        .await;
    assert_eq!(status, 429, "{v}");
    let (status, v) = a
        .send("POST", &format!("/imports/{id}/invites/resend"), json!({}))
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["resent"], 0, "{v}");
    assert_eq!(v["skipped"], 1, "the failed one, too recent: {v}");

    // A minute after the invites were recorded (the import records them, not the upload).
    let queued_at = device["invite"]["queued_at"].as_u64().expect("queued_at");
    let wait = (queued_at + 61).saturating_sub(now());
    tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
    // The import resends only its failed (bounced, unconfirmed) invites: not the sent one.
    let (status, v) = a
        .send("POST", &format!("/imports/{id}/invites/resend"), json!({}))
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["resent"], 1, "{v}");
    assert_eq!(v["more"], false, "{v}");
    // A device's resend, once, then refused within the minute.
    let (status, v) = a
        .send("POST", &format!("/devices/{u}-S0/invite"), json!({}))
        .await;
    assert_eq!(status, 202, "{v}");
    assert_eq!(v["attempt"], 2, "{v}");
    let (status, _) = a
        .send("POST", &format!("/devices/{u}-S0/invite"), json!({}))
        .await;
    assert_eq!(status, 429);

    a.st.wait_for_invites().await;
    a.st.wait_for_invite_state(&format!("{u}-S0"), "sent").await;
    assert_eq!(a.st.emails_to(&format!("{u}-0@example.com")).await.len(), 2);
    // Refused again: still failed, at its second attempt, never sent.
    let record = a.st.invite_record(&id, 3).await.expect("record");
    assert_eq!(shared::aws::items::get_n(&record, "attempt"), 2);
    a.st.wait_for_invite_state(&format!("{u}-S1"), "failed")
        .await;
    assert!(a.st.emails_to(&refused).await.is_empty());
}

/// Polls an export until it is over (ready or failed).
async fn finished_export(a: &Admin, id: &str) -> Value {
    for _ in 0..240 {
        let e = a.get(&format!("/exports/{id}")).await;
        if e["status"] == "ready" || e["status"] == "failed" {
            return e;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("export {id} did not finish within 2 minutes");
}

/// Adversaries: an anonymous caller gets 401 for both routes and learns no
/// export id; a wrong filter is a 400 naming it; a file cell written as a
/// formula comes back as text, and the file imports as the devices it came from.
#[tokio::test]
async fn a_filtered_export_downloads_as_a_file_that_imports_back_the_same_devices() {
    let a = Admin::new().await;
    let u = a.st.unique();
    let key = format!("imports/{u}-export.csv");
    // 2,400 devices: more than two pages of the index (1,000), half of them android.
    let mut csv = String::from(
        "Name,Email,Ownership,Serial Number,Platform,Mobile,Device Name,Device Group\n",
    );
    for i in 0..2400 {
        let platform = if i % 2 == 0 { "android" } else { "ios" };
        let name = if i == 0 {
            "=HYPERLINK(\"http://x.invalid\")"
        } else {
            "Phone"
        };
        csv.push_str(&format!(
            "User {i},{u}-{i}@Example.com,corporate,{u}-E{i:05},{platform},+141555501{:02},\"{}\",Sales;EU\n",
            i % 100,
            name.replace('"', "\"\"")
        ));
    }
    a.st.upload(&key, csv, &[("invite", "none")]).await;
    let report = a.st.wait_for_report(&key).await;
    assert_eq!(report["status"], "completed", "{report}");

    let (status, v) = a.call("POST", "/exports", Some(json!({})), None).await;
    assert_eq!((status, v["error"].as_str()), (401, Some("unauthorized")));
    let (status, v) = a
        .send("POST", "/exports", json!({"platform": "windows"}))
        .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (400, Some("platform")),
        "{v}"
    );
    let (status, _) = a.call("GET", "/exports/nope", None, Some(&a.token)).await;
    assert_eq!(status, 404);

    let filter =
        json!({"serial_prefix": format!("{u}-E"), "platform": "android", "status": "pre_approved"});
    let (status, started) = a.send("POST", "/exports", filter).await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["status"], "queued");
    assert_eq!(
        started["total"],
        Value::Null,
        "a prefix is not counted in advance"
    );
    let id = started["export_id"].as_str().unwrap().to_owned();
    let (status, v) = a.call("GET", &format!("/exports/{id}"), None, None).await;
    assert_eq!(status, 401, "{v}");

    let done = finished_export(&a, &id).await;
    assert_eq!(done["status"], "ready", "{done}");
    assert_eq!(done["rows"], 1200);
    let url = done["download_url"].as_str().expect("a download link");
    let file =
        a.st.http
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    let text = std::str::from_utf8(&file).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for Excel");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "Name,Email,Ownership,Serial Number,Platform,SAMAccountName,Mobile,Device Name,Device Group,Expires"
    );
    assert_eq!(lines.len(), 1201);
    assert!(lines[1..].iter().all(|l| l.contains(",android,")));
    assert_eq!(
        lines[1],
        format!("User 0,{u}-0@Example.com,corporate,{u}-E00000,android,,'+14155550100,\"'=HYPERLINK(\"\"http://x.invalid\"\")\",Sales; EU,")
    );

    // The file, imported again with "replace", is valid and leaves every device as it was.
    let again = format!("imports/{u}-export-again.csv");
    a.st.upload(
        &again,
        file.to_vec(),
        &[("invite", "none"), ("existing-users", "replace")],
    )
    .await;
    let report = a.st.wait_for_report(&again).await;
    assert_eq!(report["status"], "completed", "{report}");
    assert_eq!(report["rows"], 1200);
    assert_eq!(report["valid_rows"], 1200);
    let d = a.st.device(&format!("{u}-E00000")).await.unwrap();
    assert_eq!(
        d.device_name.as_deref(),
        Some("=HYPERLINK(\"http://x.invalid\")")
    );
    assert_eq!(d.groups, ["Sales", "EU"]);

    // Only status and platform: the totals say how many rows to expect.
    let (_, counted) = a
        .send(
            "POST",
            "/exports",
            json!({"status": "enrolled", "platform": "tvos"}),
        )
        .await;
    assert!(counted["total"].is_u64(), "{counted}");
    let done = finished_export(&a, counted["export_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "ready", "{done}");
}
