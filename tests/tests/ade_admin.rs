//! ADE accounts through the admin API on the local stack, as an admin uses
//! them: create the account, take its certificate to "ABM" (the simulator,
//! whose token is encrypted to it), upload the token, sync, see the devices
//! by account and by source, renew the token, delete the account. Every
//! answer is checked against openapi.yaml.

use std::time::{Duration, Instant};

use integration_tests::admin::Admin;
use serde_json::{json, Value};

/// ABM's side: the simulator's control routes.
struct Abm {
    url: String,
    http: reqwest::Client,
}

impl Abm {
    fn from_env() -> Self {
        let url = integration_tests::admin::var("ADE_SIMULATOR_URL");
        Self {
            url: url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// "Add MDM server" with this certificate, then "Download Token": the
    /// `.p7m` and the server's consumer key.
    async fn new_server(&self, certificate_pem: &str) -> (Vec<u8>, String) {
        let r = self
            .http
            .post(format!("{}/control/servers?server_name=Lab", self.url))
            .body(certificate_pem.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let consumer_key = location.rsplit('/').next().unwrap().to_owned();
        (r.bytes().await.unwrap().to_vec(), consumer_key)
    }

    /// "Download Token" again for the same server.
    async fn renew(&self, consumer_key: &str) -> Vec<u8> {
        let r = self
            .http
            .post(format!("{}/control/servers/{consumer_key}/token", self.url))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        r.bytes().await.unwrap().to_vec()
    }

    async fn assign(&self, consumer_key: &str, entries: Value) {
        let r = self
            .http
            .post(format!(
                "{}/control/servers/{consumer_key}/devices",
                self.url
            ))
            .json(&entries)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{:?}", r.text().await);
    }
}

/// `PUT /v1/ade/accounts/{id}/token` with the file as the body, as the page sends it.
async fn upload(a: &Admin, id: &str, p7m: &[u8]) -> (u16, Value) {
    let path = format!("/v1/ade/accounts/{id}/token");
    let r =
        a.st.http
            .put(format!("{}{}", a.base.trim_end_matches("/v1"), path))
            .bearer_auth(&a.token)
            .header("content-type", "application/pkcs7-mime")
            .body(p7m.to_vec())
            .send()
            .await
            .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    openapi_check::assert_documented("PUT", &path, status, text.as_bytes());
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn delete_account(a: &Admin, id: &str) -> (u16, Value) {
    a.call(
        "DELETE",
        &format!("/ade/accounts/{id}"),
        None,
        Some(&a.token),
    )
    .await
}

fn serials(list: &Value) -> Vec<String> {
    let mut s: Vec<String> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["serial_number"].as_str().unwrap().to_owned())
        .collect();
    s.sort();
    s
}

/// Polls `path` until `done` says so (the sync runs behind a queue).
async fn wait_for(a: &Admin, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let v = a.get(path).await;
        if done(&v) {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{path} never got there: {v}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn an_account_goes_from_creation_to_pre_approved_devices_and_is_deleted_with_them() {
    let a = Admin::new().await;
    let abm = Abm::from_env();
    let u = a.st.unique();

    let (status, account) = a
        .send(
            "POST",
            "/ade/accounts",
            json!({"name": format!("ABM {u}"), "groups": "ade-fleet", "domain": "corp.example"}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    assert_eq!(account["health"], "awaiting_token");
    let id = account["id"].as_str().unwrap().to_owned();
    let certificate = a.get(&format!("/ade/accounts/{id}/certificate")).await;
    let pem = certificate.as_str().expect("PEM text");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));

    // ABM: the server, with devices assigned before the token is uploaded.
    let (p7m, consumer_key) = abm.new_server(pem).await;
    let entries: Vec<Value> = (0..3)
        .map(|i| {
            json!({"serial_number": format!("{u}-ADE{i}"), "device_family": "iPhone",
                        "model": "iPhone 15", "op": "added"})
        })
        .chain([
            json!({"serial_number": format!("{u}-WATCH"), "device_family": "Watch", "op": "added"}),
        ])
        .collect();
    abm.assign(&consumer_key, Value::Array(entries)).await;

    // The upload queues the first sync: a full fetch.
    let (status, uploaded) = upload(&a, &id, &p7m).await;
    assert_eq!(status, 200, "{uploaded}");
    assert_eq!(
        (&uploaded["health"], &uploaded["sync_queued"]),
        (&json!("ok"), &json!(true))
    );
    assert_eq!(uploaded["token"]["consumer_key"], consumer_key.as_str());
    assert_eq!(
        uploaded["token"]["server_name"], "Lab",
        "from Apple's GET /account"
    );
    assert!(uploaded["token"]["server_uuid"].is_string());
    let account = wait_for(&a, &format!("/ade/accounts/{id}"), |v| {
        v["last_sync"]["complete"] == true
    })
    .await;
    let report = &account["last_sync"];
    assert_eq!(report["kind"], "fetch");
    assert_eq!(
        (&report["pre_approved"], &report["unsupported"]),
        (&json!(3), &json!(1))
    );
    assert_eq!(
        report["unsupported_devices"],
        json!([{"serial": format!("{u}-WATCH"), "family": "Watch"}])
    );

    let listed = a.get(&format!("/devices?account={id}")).await;
    let expected: Vec<String> = (0..3).map(|i| format!("{u}-ADE{i}")).collect();
    assert_eq!(serials(&listed), expected);
    let first = &listed["items"][0];
    assert_eq!(
        (&first["status"], &first["source"], &first["platform"]),
        (&json!("pre_approved"), &json!("ade"), &json!("ios"))
    );
    assert_eq!(first["ade"]["model"], "iPhone 15");
    assert_eq!(first["groups"], json!(["ade-fleet"]));
    let by_source = a
        .get(&format!(
            "/devices?source=ade&account={id}&status=pre_approved"
        ))
        .await;
    assert_eq!(serials(&by_source), expected);
    let every_ade = a.get("/devices?source=ade").await;
    let mut cursor = every_ade["cursor"].clone();
    let mut all = serials(&every_ade);
    while let Some(c) = cursor.as_str() {
        let next = a.get(&format!("/devices?source=ade&cursor={c}")).await;
        all.extend(serials(&next));
        cursor = next["cursor"].clone();
    }
    assert!(
        expected.iter().all(|s| all.contains(s)),
        "every account's devices, paged"
    );

    // A device assigned later comes with "Sync now" (changes since the cursor).
    abm.assign(
        &consumer_key,
        json!([{"serial_number": format!("{u}-MAC"), "device_family": "Mac", "op": "added"}]),
    )
    .await;
    let (status, queued) = a
        .send("POST", &format!("/ade/accounts/{id}/sync"), json!({}))
        .await;
    assert_eq!((status, &queued["full"]), (202, &json!(false)), "{queued}");
    let mac = wait_for(
        &a,
        &format!("/devices?account={id}&status=pre_approved"),
        |v| v["items"].as_array().unwrap().len() == 4,
    )
    .await;
    assert!(serials(&mac).contains(&format!("{u}-MAC")));

    // ABM's "Download Token" again: renewed in place.
    let (status, renewed) = upload(&a, &id, &abm.renew(&consumer_key).await).await;
    assert_eq!(status, 200, "{renewed}");
    assert_eq!(
        (&renewed["renewed"], &renewed["new_server"]),
        (&json!(true), &json!(false))
    );

    let (status, deleted) = delete_account(&a, &id).await;
    assert_eq!(status, 202, "{deleted}");
    let (status, _) = a
        .call("GET", &format!("/ade/accounts/{id}"), None, Some(&a.token))
        .await;
    assert_eq!(status, 404);
    wait_for(&a, &format!("/devices?account={id}"), |v| {
        v["items"].as_array().unwrap().is_empty()
    })
    .await;
    for serial in expected.iter().chain([&format!("{u}-MAC")]) {
        assert_eq!(
            a.st.device(serial).await,
            None,
            "its own pre-approvals are removed"
        );
    }
}

#[tokio::test]
async fn a_token_for_another_certificate_is_refused_and_nothing_is_kept() {
    let a = Admin::new().await;
    let abm = Abm::from_env();
    let u = a.st.unique();
    let mut ids = Vec::new();
    for name in ["Main", "Other"] {
        let (status, v) = a
            .send(
                "POST",
                "/ade/accounts",
                json!({"name": format!("{name} {u}")}),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        ids.push(v["id"].as_str().unwrap().to_owned());
    }
    let other = a
        .get(&format!("/ade/accounts/{}/certificate", ids[1]))
        .await;
    let (p7m, _) = abm.new_server(other.as_str().unwrap()).await;
    let (status, v) = upload(&a, &ids[0], &p7m).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("another MDM server's certificate"));
    let main = a.get(&format!("/ade/accounts/{}", ids[0])).await;
    assert_eq!(
        (&main["token"], &main["health"]),
        (&Value::Null, &json!("awaiting_token"))
    );
    for id in ids {
        let (status, _) = delete_account(&a, &id).await;
        assert_eq!(status, 202);
    }
}
