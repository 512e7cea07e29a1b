//! Apple ADE accounts: creation with the MDM server's key pair, the
//! certificate, the server token (real ones, made as ABM makes them), its
//! renewal, sync requests, settings, deletion; and devices by source/account.

use std::sync::atomic::Ordering;

use shared::ade::account::{Health, SyncState};
use shared::ade::ports::{AdeAccounts, AdeSecrets, AppleAccount, DepError, SyncJob};
use shared::clock::rfc3339;
use shared::fakes::abm::{openssl_available, token_file, token_json};
use shared::records::AdeLink;

use super::*;

/// A signed-in call with a raw body (the token file as ABM gives it).
async fn put_raw(app: &App<MemoryAdmin>, path: &str, bytes: &[u8]) -> (StatusCode, Value) {
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let r = http::Request::builder()
        .method("PUT")
        .uri(format!("https://api.example.com{path}"))
        .header("origin", PAGE_ORIGIN)
        .header("authorization", auth)
        .header("content-type", "application/pkcs7-mime")
        .body(Body::from(bytes.to_vec()))
        .unwrap();
    let response = handle(app, r).await;
    let body: &[u8] = response.body();
    openapi_check::assert_documented("PUT", path, response.status().as_u16(), body);
    (
        response.status(),
        serde_json::from_slice(body).unwrap_or(Value::Null),
    )
}

/// Creates an account; its id and its certificate (PEM).
async fn create(app: &App<MemoryAdmin>, body: Value) -> (String, String) {
    let (status, v) = call(app, "POST", "/v1/ade/accounts", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let path = format!("/v1/ade/accounts/{id}/certificate");
    let r = send(app, "GET", &path, None, Some(&auth)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let pem = String::from_utf8(r.body().to_vec()).unwrap();
    (id, pem)
}

fn expiry_in_days(days: i64) -> String {
    rfc3339((now() as i64 + days * 86_400) as u64)
}

/// What Apple's `GET /account` answers next.
fn apple_says(app: &App<MemoryAdmin>, answer: Result<AppleAccount, DepError>) {
    *app.ports.ade.apple.account.lock().unwrap() = Some(answer);
}

fn server(uuid: &str) -> AppleAccount {
    AppleAccount {
        server_name: Some("Preapprove MDM".into()),
        server_uuid: Some(uuid.into()),
        admin_id: Some("it@org.example".into()),
        org_name: Some("Org Inc".into()),
    }
}

fn jobs(app: &App<MemoryAdmin>) -> Vec<SyncJob> {
    app.ports.ade.jobs.sent()
}

fn sync_job(id: &str, full: bool) -> SyncJob {
    SyncJob::Sync {
        account: id.into(),
        full,
        requested: true,
    }
}

async fn stored_token(app: &App<MemoryAdmin>, id: &str) -> Option<shared::ade::token::ServerToken> {
    app.ports.ade.secrets.token(id).await.unwrap()
}

#[tokio::test]
async fn an_account_is_created_with_its_key_pair_and_never_shows_its_private_key() {
    if !openssl_available() {
        return;
    }
    let app = app();
    let body = json!({"name": "ABM Main (EU)", "domain": "corp.example", "groups": "Sales; Field"});
    let (status, v) = call(&app, "POST", "/v1/ade/accounts", Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["name"], "ABM Main (EU)");
    assert_eq!(
        v["preapprove"], true,
        "Add as Pre-approved Device is on by default"
    );
    assert_eq!(v["ownership"], "corporate");
    assert_eq!(v["groups"], json!(["Sales", "Field"]));
    assert_eq!(v["health"], "awaiting_token");
    assert_eq!(v["token"], Value::Null);
    assert_eq!(v["created_by"], "ada");
    assert!(!v.to_string().contains("PRIVATE KEY"));
    let id = v["id"].as_str().unwrap();

    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let path = format!("/v1/ade/accounts/{id}/certificate");
    let r = send(&app, "GET", &path, None, Some(&auth)).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/x-pem-file");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"abm-main-eu-mdm-server.pem\""
    );
    let pem = String::from_utf8(r.body().to_vec()).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
    assert!(!pem.contains("PRIVATE KEY"));

    // The secret holds the key that belongs to that certificate: a token
    // encrypted to the certificate decrypts with it.
    let key = app
        .ports
        .ade
        .secrets
        .private_key(id)
        .await
        .unwrap()
        .unwrap();
    let file = token_file(&pem, &token_json("CK_1", &expiry_in_days(365)));
    let read = shared::ade::token::read(&file, &key, now()).unwrap();
    assert_eq!(read.consumer_key, "CK_1");

    let listed = get(&app, "/v1/ade/accounts").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], id);
    assert!(!listed.to_string().contains("PRIVATE KEY"));
    let one = get(&app, &format!("/v1/ade/accounts/{id}")).await;
    assert_eq!(one, listed["items"][0]);
    assert!(jobs(&app).is_empty(), "nothing to sync without a token");
}

#[tokio::test]
async fn account_fields_are_checked_and_name_what_to_fix() {
    let app = app();
    let cases = [
        (json!({"name": ""}), Some("name")),
        (json!({"name": "x".repeat(101)}), Some("name")),
        (
            json!({"name": "x", "domain": "d".repeat(300)}),
            Some("domain"),
        ),
        (
            json!({"name": "x", "groups": "g".repeat(200)}),
            Some("groups"),
        ),
        (json!({"name": "x", "ownership": "personal"}), None),
        (json!({"preapprove": true}), None),
    ];
    for (body, field) in cases {
        let (status, v) = call(&app, "POST", "/v1/ade/accounts", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
        assert_eq!(error_of(&v), ("invalid_request", field), "{body}");
    }
    assert!(app.ports.ade.accounts.list().await.unwrap().is_empty());
    for (method, path) in [
        ("GET", "/v1/ade/accounts/nope"),
        ("GET", "/v1/ade/accounts/nope/certificate"),
        ("POST", "/v1/ade/accounts/nope/sync"),
        ("DELETE", "/v1/ade/accounts/nope"),
    ] {
        let (status, v) = call(&app, method, path, None).await;
        assert_eq!(
            (status, error_of(&v).0),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let (status, _) = put_raw(&app, "/v1/ade/accounts/nope/token", b"x").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call(&app, "PATCH", "/v1/ade/accounts", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_token_is_decrypted_checked_with_apple_and_its_secrets_kept_only_in_the_secrets() {
    if !openssl_available() {
        return;
    }
    let app = app();
    let (id, pem) = create(&app, json!({"name": "Main"})).await;
    apple_says(&app, Ok(server("uuid-1")));
    let file = token_file(&pem, &token_json("CK_main", &expiry_in_days(365)));
    let (status, v) = put_raw(&app, &format!("/v1/ade/accounts/{id}/token"), &file).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["renewed"], &v["new_server"], &v["sync_queued"]),
        (&json!(false), &json!(false), &json!(true))
    );
    assert_eq!(v["health"], "ok");
    let t = &v["token"];
    assert_eq!(t["consumer_key"], "CK_main");
    assert_eq!(t["server_name"], "Preapprove MDM");
    assert_eq!(t["server_uuid"], "uuid-1");
    assert_eq!(t["org_name"], "Org Inc");
    assert_eq!(t["admin_id"], "it@org.example");
    assert_eq!(t["uploaded_by"], "ada");
    assert_eq!(
        (&t["expired"], &t["renew_soon"]),
        (&json!(false), &json!(false))
    );
    assert!((364..=365).contains(&t["expires_in_days"].as_i64().unwrap()));
    // The credentials: in the secrets, never in an answer or the account's record.
    let kept = stored_token(&app, &id).await.unwrap();
    assert_eq!(kept.consumer_secret, "CS_CK_main");
    let account = app.ports.ade.accounts.account(&id).unwrap();
    let record = serde_json::to_string(&account).unwrap();
    let listed = get(&app, "/v1/ade/accounts").await.to_string();
    for secret in ["CS_CK_main", "AT_CK_main", "AS_CK_main"] {
        assert!(!v.to_string().contains(secret), "{secret} in the answer");
        assert!(!record.contains(secret), "{secret} in the account's record");
        assert!(!listed.contains(secret), "{secret} in the list");
    }
    assert_eq!(jobs(&app), vec![sync_job(&id, false)]);

    // Also when the whole file arrives base64-encoded once more.
    let renewal = token_file(&pem, &token_json("CK_main", &expiry_in_days(20)));
    let encoded = base64_of(&renewal);
    let (status, v) = put_raw(&app, &format!("/v1/ade/accounts/{id}/token"), &encoded).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["token"]["renew_soon"], true,
        "20 days left: the page's banner"
    );
}

fn base64_of(bytes: &[u8]) -> Vec<u8> {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            out.push(match i <= chunk.len() {
                true => ABC[(n >> (18 - 6 * i)) as usize & 63],
                false => b'=',
            });
        }
    }
    out
}

#[tokio::test]
async fn refused_tokens_say_what_to_do_and_store_nothing() {
    if !openssl_available() {
        return;
    }
    let app = app();
    let (id, pem) = create(&app, json!({"name": "Main"})).await;
    let (_, other_pem) = create(&app, json!({"name": "Other"})).await;
    let good = token_json("CK_main", &expiry_in_days(365));
    let without_secret = good.replace("\"access_secret\"", "\"unrelated\"");
    let cases: [(&str, Vec<u8>, &str); 5] = [
        (
            "another account's certificate",
            token_file(&other_pem, &good),
            "made for another MDM server's certificate: download this account's certificate",
        ),
        (
            "not a token",
            b"Name,Email\nAnn,ann@x.com\n".to_vec(),
            "not an ABM server token",
        ),
        (
            "a field missing",
            token_file(&pem, &without_secret),
            "has no access_secret",
        ),
        (
            "expired",
            token_file(&pem, &token_json("CK_main", &expiry_in_days(-1))),
            "expired at",
        ),
        ("empty", b"  \n".to_vec(), "the body is empty"),
    ];
    for (what, file, says) in cases {
        let (status, v) = put_raw(&app, &format!("/v1/ade/accounts/{id}/token"), &file).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {v}");
        assert_eq!(error_of(&v), ("invalid_request", Some("token")), "{what}");
        let message = v["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
        assert!(!message.contains("CS_CK_main"), "{what}");
    }
    assert_eq!(stored_token(&app, &id).await, None);
    assert_eq!(app.ports.ade.accounts.account(&id).unwrap().token, None);
    assert!(jobs(&app).is_empty());
}

#[tokio::test]
async fn apple_refusing_or_not_answering_at_upload_stores_nothing() {
    if !openssl_available() {
        return;
    }
    let app = app();
    let (id, pem) = create(&app, json!({"name": "Main"})).await;
    let file = token_file(&pem, &token_json("CK_main", &expiry_in_days(365)));
    let path = format!("/v1/ade/accounts/{id}/token");
    let unavailable = DepError::Unavailable {
        message: "connection refused".into(),
        retry_after: None,
    };
    let cases = [
        (
            unavailable,
            StatusCode::BAD_GATEWAY,
            "upstream_unavailable",
            "did not answer",
        ),
        (
            DepError::Throttled { retry_after: None },
            StatusCode::BAD_GATEWAY,
            "upstream_unavailable",
            "nothing was stored",
        ),
        (
            DepError::Unauthorized("401".into()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "download a new token",
        ),
        (
            DepError::TermsNotSigned,
            StatusCode::CONFLICT,
            "conflict",
            "accept them",
        ),
    ];
    for (answer, status, code, says) in cases {
        apple_says(&app, Err(answer));
        let (got, v) = put_raw(&app, &path, &file).await;
        assert_eq!((got, error_of(&v).0), (status, code), "{v}");
        assert!(v["message"].as_str().unwrap().contains(says), "{v}");
        assert_eq!(stored_token(&app, &id).await, None, "nothing stored");
        assert_eq!(app.ports.ade.accounts.account(&id).unwrap().token, None);
    }
    assert!(jobs(&app).is_empty());
}

#[tokio::test]
async fn a_token_of_the_same_server_renews_in_place_and_another_servers_starts_afresh() {
    if !openssl_available() {
        return;
    }
    let app = app();
    let (id, pem) = create(&app, json!({"name": "Main", "groups": "Sales"})).await;
    let path = format!("/v1/ade/accounts/{id}/token");
    apple_says(&app, Ok(server("uuid-1")));
    let first = token_file(&pem, &token_json("CK_main", &expiry_in_days(10)));
    assert_eq!(put_raw(&app, &path, &first).await.0, StatusCode::OK);
    // The sync ran: a cursor and a report.
    let mut synced = app.ports.ade.accounts.account(&id).unwrap();
    synced.sync = SyncState {
        health: Health::Ok,
        cursor: Some("cursor-after-sync".into()),
        last_full_at: Some(now() - 3600),
        ..SyncState::default()
    };
    app.ports.ade.accounts.set(synced);

    let renewal = token_file(&pem, &token_json("CK_main", &expiry_in_days(365)));
    let (status, v) = put_raw(&app, &path, &renewal).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["renewed"], &v["new_server"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(v["groups"], json!(["Sales"]), "same settings");
    let kept = app.ports.ade.accounts.account(&id).unwrap();
    assert_eq!(
        kept.sync.cursor.as_deref(),
        Some("cursor-after-sync"),
        "same cursor"
    );
    assert_eq!(
        kept.token.unwrap().expiry_epoch,
        stored_token(&app, &id).await.unwrap().expiry_epoch
    );

    apple_says(&app, Ok(server("uuid-2")));
    let other = token_file(&pem, &token_json("CK_other", &expiry_in_days(365)));
    let (status, v) = put_raw(&app, &path, &other).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["renewed"], &v["new_server"]),
        (&json!(false), &json!(true))
    );
    let afresh = app.ports.ade.accounts.account(&id).unwrap();
    assert_eq!(
        afresh.sync.cursor, None,
        "another server's devices are fetched afresh"
    );
    assert_eq!(afresh.settings.groups, ["Sales"]);
    assert_eq!(
        stored_token(&app, &id).await.unwrap().consumer_key,
        "CK_other"
    );
    assert_eq!(
        jobs(&app),
        vec![
            sync_job(&id, false),
            sync_job(&id, false),
            sync_job(&id, true)
        ]
    );

    // The queue down: the token is kept all the same, and the schedule syncs it.
    app.ports.ade.jobs.fail.store(true, Ordering::Relaxed);
    let (status, v) = put_raw(&app, &path, &other).await;
    assert_eq!((status, &v["sync_queued"]), (StatusCode::OK, &json!(false)));
}

#[tokio::test]
async fn sync_now_is_queued_once_the_account_has_a_live_token() {
    if !openssl_available() {
        return;
    }
    let app = app();
    let (id, pem) = create(&app, json!({"name": "Main"})).await;
    let path = format!("/v1/ade/accounts/{id}/sync");
    let (status, v) = call(&app, "POST", &path, None).await;
    assert_eq!((status, error_of(&v).0), (StatusCode::CONFLICT, "conflict"));
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("no server token yet"));

    let file = token_file(&pem, &token_json("CK_main", &expiry_in_days(365)));
    put_raw(&app, &format!("/v1/ade/accounts/{id}/token"), &file).await;
    let (status, v) = call(&app, "POST", &path, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v, json!({"account_id": id, "full": false}));
    let (status, _) = call(&app, "POST", &path, Some(json!({"full": true}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(jobs(&app)[1..], [sync_job(&id, false), sync_job(&id, true)]);
    let (status, _) = call(&app, "POST", &path, Some(json!({"everything": true}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Its token expired since: renew it first.
    let mut account = app.ports.ade.accounts.account(&id).unwrap();
    account.token.as_mut().unwrap().expiry_epoch = now() - 1;
    app.ports.ade.accounts.set(account);
    let (status, v) = call(&app, "POST", &path, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(v["message"].as_str().unwrap().contains("expired"));
    let shown = get(&app, &format!("/v1/ade/accounts/{id}")).await;
    assert_eq!(shown["health"], "token_expired");
    assert_eq!(shown["token"]["expired"], true);

    app.ports.ade.jobs.fail.store(true, Ordering::Relaxed);
    let mut account = app.ports.ade.accounts.account(&id).unwrap();
    account.token.as_mut().unwrap().expiry_epoch = now() + 86_400;
    app.ports.ade.accounts.set(account);
    let (status, v) = call(&app, "POST", &path, None).await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    );
}

#[tokio::test]
async fn settings_change_and_turning_preapprove_on_asks_a_full_fetch() {
    if !openssl_available() {
        return;
    }
    let app = app();
    let (id, pem) = create(&app, json!({"name": "Main", "preapprove": false})).await;
    let path = format!("/v1/ade/accounts/{id}");
    let (status, v) = call(
        &app,
        "PUT",
        &path,
        Some(json!({"name": "Renamed", "groups": ["A", "B"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["name"], &v["groups"], &v["preapprove"]),
        (&json!("Renamed"), &json!(["A", "B"]), &json!(false))
    );
    assert_eq!(v["full_requested"], false);
    let (status, v) = call(&app, "PUT", &path, Some(json!({"name": " "}))).await;
    assert_eq!(error_of(&v), ("invalid_request", Some("name")), "{status}");

    let file = token_file(&pem, &token_json("CK_main", &expiry_in_days(365)));
    put_raw(&app, &format!("{path}/token"), &file).await;
    let (status, v) = call(
        &app,
        "PUT",
        &path,
        Some(json!({"preapprove": true, "domain": null})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        (&v["preapprove"], &v["full_requested"]),
        (&json!(true), &json!(true))
    );
    let stored = app.ports.ade.accounts.account(&id).unwrap();
    assert_eq!(stored.settings.name, "Renamed");
    assert!(stored.full_requested.is_some());
    assert_eq!(jobs(&app).last(), Some(&sync_job(&id, true)));
    let (status, _) = call(
        &app,
        "PUT",
        "/v1/ade/accounts/nope",
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deleting_an_account_queues_the_purge_then_removes_its_secret_and_record() {
    if !openssl_available() {
        return;
    }
    let app = app();
    let (id, _) = create(&app, json!({"name": "Main"})).await;
    let path = format!("/v1/ade/accounts/{id}");
    // The queue down: nothing is removed, and deleting again works later.
    app.ports.ade.jobs.fail.store(true, Ordering::Relaxed);
    let (status, _) = call(&app, "DELETE", &path, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(app.ports.ade.accounts.account(&id).is_some());
    assert!(app
        .ports
        .ade
        .secrets
        .private_key(&id)
        .await
        .unwrap()
        .is_some());

    app.ports.ade.jobs.fail.store(false, Ordering::Relaxed);
    let (status, v) = call(&app, "DELETE", &path, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["account_id"], id.as_str());
    assert_eq!(
        jobs(&app),
        vec![SyncJob::Purge {
            account: id.clone()
        }]
    );
    assert!(app.ports.ade.accounts.account(&id).is_none());
    assert_eq!(app.ports.ade.secrets.private_key(&id).await.unwrap(), None);
    let (status, _) = call(&app, "GET", &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

fn ade_device(serial: &str, status: DeviceStatus, account: &str, from_csv: bool) -> DeviceRecord {
    let mut d = device(serial, status, Platform::Ios, "");
    d.import_id = match from_csv {
        true => "imp-1".into(),
        false => shared::records::ade_origin(account),
    };
    d.password_hash = None;
    d.ade = Some(AdeLink {
        account: account.into(),
        model: Some("iPhone 15".into()),
        asset_tag: Some("TAG-1".into()),
        ..AdeLink::default()
    });
    d
}

#[tokio::test]
async fn devices_are_listed_and_exported_by_source_and_ade_account() {
    let app = app();
    add_device(
        &app,
        device(
            "CSV1",
            DeviceStatus::PreApproved,
            Platform::Ios,
            "ann@x.com",
        ),
    );
    let mut open = device("OPEN1", DeviceStatus::Enrolled, Platform::Android, "");
    open.import_id = String::new();
    add_device(&app, open);
    add_device(
        &app,
        ade_device("A1", DeviceStatus::PreApproved, "acct-a", false),
    );
    add_device(
        &app,
        ade_device("A2", DeviceStatus::Enrolled, "acct-a", false),
    );
    add_device(
        &app,
        ade_device("A3", DeviceStatus::PreApproved, "acct-a", true),
    );
    add_device(
        &app,
        ade_device("B1", DeviceStatus::PreApproved, "acct-b", false),
    );
    let serials = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["serial_number"].as_str().unwrap().to_owned())
            .collect()
    };
    let of_a = get(&app, "/v1/devices?account=acct-a").await;
    assert_eq!(
        serials(&of_a),
        ["A1", "A2", "A3"],
        "the CSV one it links too"
    );
    assert_eq!(of_a["total"], Value::Null);
    let a1 = &of_a["items"][0];
    assert_eq!(a1["source"], "ade");
    assert_eq!(a1["ade"]["account"], "acct-a");
    assert_eq!(a1["ade"]["model"], "iPhone 15");
    assert_eq!(a1["ade"]["asset_tag"], "TAG-1");
    assert_eq!(of_a["items"][2]["source"], "csv");
    let own = get(
        &app,
        "/v1/devices?source=ade&account=acct-a&status=pre_approved",
    )
    .await;
    assert_eq!(serials(&own), ["A1"]);
    let every_ade = get(&app, "/v1/devices?source=ade").await;
    assert_eq!(serials(&every_ade), ["A1", "A2", "B1"]);
    let csv = get(&app, "/v1/devices?source=csv").await;
    assert_eq!(serials(&csv), ["A3", "CSV1"]);
    let opened = get(&app, "/v1/devices?source=enrollment").await;
    assert_eq!(serials(&opened), ["OPEN1"]);
    assert_eq!(opened["items"][0]["ade"], Value::Null);
    let one = get(&app, "/v1/devices/A1").await;
    assert_eq!(
        (&one["source"], &one["ade"]["account"]),
        (&json!("ade"), &json!("acct-a"))
    );
    for bad in [
        "/v1/devices?source=abm",
        "/v1/devices?source=ade&q=A",
        "/v1/devices?account=acct-a&invite=sent",
        "/v1/devices?account=acct-a&cursor=zz",
    ] {
        let (status, v) = call(&app, "GET", bad, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }

    let (status, v) = call(
        &app,
        "POST",
        "/v1/exports",
        Some(json!({"source": "ade", "account": "acct-a"})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["filter"], json!({"source": "ade", "account": "acct-a"}));
    assert_eq!(v["total"], Value::Null, "not counted ahead");
}
