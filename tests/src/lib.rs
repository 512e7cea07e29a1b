//! Helpers for the integration tests: the stack's variables, SDK clients
//! configured like the functions (from the environment only), and waiting.
//!
//! Run through `make integration` (or `infra/stack.py run -- cargo test -p integration-tests`),
//! which starts a stack on free ports and exports its variables.

pub mod ade_sim;
pub mod admin;
pub mod events;
pub mod fake_aws;

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;

pub struct Stack {
    pub endpoint: String,
    pub bucket: String,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub devices_table: String,
    pub users_table: String,
    pub imports_table: String,
    pub settings_table: String,
    pub denials_table: String,
    pub admission_url: String,
    pub enrollments_url: String,
    pub s3: aws_sdk_s3::Client,
    pub dynamo: aws_sdk_dynamodb::Client,
    /// The invite outbox's queue, read by the sender function.
    pub invite_queue_url: String,
    /// Where SES publishes invite delivery events.
    pub invite_events_topic: String,
    /// Where the events function reads them from.
    pub invite_events_queue_url: String,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub http: reqwest::Client,
    /// The address this test's admission requests come from, as API Gateway
    /// reports it: one of its own per test, as a device has (denials are
    /// bounded per address and hour, `shared::admission::grouping`).
    pub source_ip: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the integration tests with `make integration`, which starts the local stack")
    })
}

impl Stack {
    pub async fn from_env() -> Self {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self {
            endpoint: var("AWS_ENDPOINT_URL"),
            bucket: var("IMPORT_BUCKET"),
            queue_url: var("IMPORT_QUEUE_URL"),
            dead_letter_queue_url: var("IMPORT_DLQ_URL"),
            invite_queue_url: var("INVITE_QUEUE_URL"),
            invite_events_topic: var("INVITE_EVENTS_TOPIC_ARN"),
            invite_events_queue_url: var("INVITE_EVENTS_QUEUE_URL"),
            devices_table: var("DEVICES_TABLE"),
            users_table: var("USERS_TABLE"),
            imports_table: var("IMPORTS_TABLE"),
            settings_table: var("SETTINGS_TABLE"),
            denials_table: var("DENIALS_TABLE"),
            admission_url: var("ADMISSION_URL"),
            enrollments_url: var("ENROLLMENTS_URL"),
            s3: shared::aws::clients::s3(&sdk).expect("S3 client"),
            dynamo: aws_sdk_dynamodb::Client::new(&sdk),
            sqs: aws_sdk_sqs::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            http: reqwest::Client::new(),
            source_ip: {
                let id = uuid::Uuid::new_v4();
                let b = id.as_bytes();
                format!(
                    "2001:db8::{:x}:{:x}:{:x}",
                    u16::from_be_bytes([b[0], b[1]]),
                    u16::from_be_bytes([b[2], b[3]]),
                    u16::from_be_bytes([b[4], b[5]])
                )
            },
        }
    }

    /// Turns the "Pre-approved Devices Only" setting on or off (only that attribute).
    pub async fn set_pre_approved_only(&self, on: bool) {
        use aws_sdk_dynamodb::types::AttributeValue;
        use shared::aws::settings::{PRE_APPROVED_ONLY, SETTINGS_PK, SETTINGS_SK};
        self.dynamo
            .update_item()
            .table_name(&self.settings_table)
            .key("pk", AttributeValue::S(SETTINGS_PK.into()))
            .key("sk", AttributeValue::S(SETTINGS_SK.into()))
            .update_expression("SET #p = :on")
            .expression_attribute_names("#p", PRE_APPROVED_ONLY)
            .expression_attribute_values(":on", AttributeValue::Bool(on))
            .send()
            .await
            .expect("update settings");
    }

    /// POSTs a body (JSON or not) and returns the status and the JSON answer,
    /// which must be the one openapi.yaml documents. Admission's routes are
    /// asked from this test's own address ([`Self::source_ip`]).
    pub async fn post(&self, url: &str, body: impl Into<String>) -> (u16, serde_json::Value) {
        let (status, text) = if url == self.admission_url || url == self.enrollments_url {
            self.admission_from(&self.source_ip, url, body).await
        } else {
            let r = self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.into())
                .send()
                .await
                .expect("HTTP request");
            let status = r.status().as_u16();
            (status, r.text().await.expect("body"))
        };
        openapi_check::assert_documented("POST", url, status, text.as_bytes());
        let v =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        (status, v)
    }

    /// POSTs to an admission route (`admission_url` or `enrollments_url`) as
    /// API Gateway would for a caller at `source_ip` (cargo lambda's function
    /// URL says 127.0.0.1 for every caller): the function's Invoke API with an
    /// HTTP API (payload 2.0) event. The status and the raw answer; 502 when
    /// the invocation failed.
    pub async fn admission_from(
        &self,
        source_ip: &str,
        url: &str,
        body: impl Into<String>,
    ) -> (u16, String) {
        let path = url
            .find("/v1/")
            .map_or("/v1/admission", |at| &url[at..])
            .to_owned();
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": "",
            "headers": {"content-type": "application/json", "host": "localhost"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "admission",
                "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                         "sourceIp": source_ip, "userAgent": "integration-tests"},
                "requestId": uuid::Uuid::new_v4().to_string(),
                "routeKey": "$default",
                "stage": "$default",
                "time": "01/Jan/2026:00:00:00 +0000",
                "timeEpoch": 0,
            },
            "body": body.into(),
            "isBase64Encoded": false,
        });
        let r = self
            .http
            .post(format!(
                "{}/2015-03-31/functions/admission/invocations",
                var("LAMBDA_INVOKE_URL")
            ))
            .json(&event)
            .send()
            .await
            .expect("invoke admission");
        if r.headers().get("x-amz-function-error").is_some() {
            return (502, r.text().await.unwrap_or_default());
        }
        let answer: serde_json::Value = r.json().await.expect("an HTTP API answer");
        let status = answer["statusCode"].as_u64().expect("statusCode") as u16;
        (
            status,
            answer["body"].as_str().unwrap_or_default().to_owned(),
        )
    }

    /// The denial records of one serial (every reason, every hour).
    pub async fn denials_of(
        &self,
        serial: &str,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let out = self
            .dynamo
            .query()
            .table_name(&self.denials_table)
            .index_name("by-time")
            .key_condition_expression("kind = :k")
            .filter_expression("serial = :s")
            .expression_attribute_values(
                ":k",
                aws_sdk_dynamodb::types::AttributeValue::S("denial".into()),
            )
            .expression_attribute_values(
                ":s",
                aws_sdk_dynamodb::types::AttributeValue::S(serial.into()),
            )
            .send()
            .await
            .expect("query denials");
        out.items.unwrap_or_default()
    }

    /// Invokes a function directly, as its schedule or event source would
    /// (cargo lambda's Invoke API); its JSON answer, which must not be an error.
    pub async fn invoke(&self, function: &str, payload: &serde_json::Value) -> serde_json::Value {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            var("LAMBDA_INVOKE_URL")
        );
        let r = self
            .http
            .post(url)
            .json(payload)
            .send()
            .await
            .expect("invoke");
        assert!(r.headers().get("x-amz-function-error").is_none(), "{r:?}");
        r.json().await.expect("JSON answer")
    }

    /// How many processes serve `function` (`stack.py run --instances`):
    /// requests overlap only when there are several.
    pub fn instances_of(&self, function: &str) -> usize {
        var("STACK_INSTANCES")
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == function)
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0)
    }

    /// A prefix no other test uses, for keys, serials and emails.
    pub fn unique(&self) -> String {
        uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
    }

    pub async fn upload(&self, key: &str, body: impl Into<Vec<u8>>, metadata: &[(&str, &str)]) {
        let mut req = self
            .s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.into()));
        for (k, v) in metadata {
            req = req.metadata(*k, *v);
        }
        req.send().await.expect("upload");
    }

    pub async fn get_object(&self, key: &str) -> Option<Vec<u8>> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.ok()?.into_bytes().to_vec())
    }

    /// The import id of the object now at `key` (its version decides it).
    pub async fn import_id(&self, key: &str) -> String {
        let head = self
            .s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .expect("the uploaded object");
        let version = shared::files::ObjectVersion {
            version_id: head.version_id().map(str::to_owned),
            etag: head.e_tag().map(str::to_owned),
        };
        shared::import::ImportObject::new(&self.bucket, key, &version).import_id()
    }

    /// The import id an event naming `key` at `version_id` runs under when the
    /// object is not there to ask (the import then goes by the event's version).
    pub fn import_id_of_version(&self, key: &str, version_id: &str) -> String {
        let version = shared::files::ObjectVersion {
            version_id: Some(version_id.to_owned()),
            etag: None,
        };
        shared::import::ImportObject::new(&self.bucket, key, &version).import_id()
    }

    /// Puts on `queue_url` the S3 event notification of `key` (at `version_id`)
    /// as S3 writes it: a space in the key as `+` (the tests' keys need no other escape).
    pub async fn send_s3_event(&self, queue_url: &str, key: &str, version_id: Option<&str>) {
        let event = serde_json::json!({"Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": self.bucket, "arn": format!("arn:aws:s3:::{}", self.bucket)},
                   "object": {"key": key.replace(' ', "+"), "size": 10, "eTag": "0", "versionId": version_id}}
        }]});
        self.sqs
            .send_message()
            .queue_url(queue_url)
            .message_body(event.to_string())
            .send()
            .await
            .expect("send the S3 event");
    }

    /// The JSON report and errors-CSV keys of the import of the object now at `key`.
    pub async fn report_keys(&self, key: &str) -> (String, String) {
        shared::import::report_keys(key, &self.import_id(key).await)
    }

    /// Waits for the import's JSON report (`reports/<key without imports/>/<import id>.json`).
    pub async fn wait_for_report(&self, import_key: &str) -> serde_json::Value {
        let import_id = self.import_id(import_key).await;
        self.wait_for_report_of(import_key, &import_id).await
    }

    /// Waits for the report of one import of the object at `import_key`, and
    /// for its record to be final: the import writes the report first (a status
    /// is final only once its report exists), the record a moment later.
    pub async fn wait_for_report_of(&self, import_key: &str, import_id: &str) -> serde_json::Value {
        use shared::import::ports::ImportRecords;
        let (json_key, _) = shared::import::report_keys(import_key, import_id);
        let records = shared::aws::dynamo::DynamoImports {
            client: self.dynamo.clone(),
            table: self.imports_table.clone(),
        };
        let started = Instant::now();
        loop {
            if let Some(bytes) = self.get_object(&json_key).await {
                let record = records.load(import_id).await.expect("the import's record");
                if record.is_some_and(|r| r.status.is_final()) {
                    return serde_json::from_slice(&bytes).expect("report is JSON");
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no report at {json_key} after 2 minutes; see .dev/functions.log"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The emulator's record of sent mail and SMS.
    pub async fn moto_data(&self) -> serde_json::Value {
        self.http
            .get(format!("{}/moto-api/data.json", self.endpoint))
            .send()
            .await
            .expect("moto data")
            .json()
            .await
            .expect("moto data is JSON")
    }

    /// The local emulator's SES account (`infra/emulator/behaviour/ses_account.py`): sets what
    /// `body` names (`max_send_rate`, `throttle_next`, `reject`,
    /// `reset_counts`) and answers the quota and the sends per second.
    pub async fn ses_account(&self, body: serde_json::Value) -> serde_json::Value {
        self.http
            .post(format!("{}/moto-api/static/ses/account", self.endpoint))
            .json(&body)
            .send()
            .await
            .expect("emulator's SES account")
            .json()
            .await
            .expect("SES account is JSON")
    }

    /// What moto recorded in `service`'s `kind` list (`ses`/`Message`, `sns`/`SMS`) that mentions `needle`.
    async fn sent(&self, service: &str, kind: &str, needle: &str) -> Vec<serde_json::Value> {
        let data = self.moto_data().await;
        data[service][kind]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m.to_string().contains(needle))
            .collect()
    }

    /// How many emails moto recorded per recipient.
    pub async fn emails_per_recipient(&self) -> std::collections::HashMap<String, usize> {
        let data = self.moto_data().await;
        let mut counts = std::collections::HashMap::new();
        for m in data["ses"]["Message"].as_array().into_iter().flatten() {
            for to in m["destinations"]["ToAddresses"]
                .as_array()
                .into_iter()
                .flatten()
            {
                *counts
                    .entry(to.as_str().unwrap_or_default().to_owned())
                    .or_default() += 1;
            }
        }
        counts
    }

    /// Arms a crash: `function`'s processes are killed (SIGKILL) just before
    /// their `count`th call of `action` from now (`dynamodb:BatchWriteItem`,
    /// `ses:SendEmail`, `s3:GetObject`...), or, with `after_bytes`, once that
    /// much of the answer to it has arrived. Needs `stack.py run --faults`.
    pub async fn crash(&self, function: &str, action: &str, count: u64, after_bytes: Option<u64>) {
        let control = control_url();
        let body = serde_json::json!({"function": function, "action": action, "count": count, "after_bytes": after_bytes});
        let r = self
            .http
            .post(format!("{control}/crash"))
            .json(&body)
            .send()
            .await
            .expect("stack control");
        assert!(r.status().is_success(), "arming the crash: {}", r.status());
    }

    /// Holds `function`'s answer to its `count`th call of `action` from now:
    /// the emulator serves the call, the function gets the answer only once
    /// [`Stack::release`]d (a minute at most). Needs `stack.py run --faults`.
    pub async fn hold(&self, function: &str, action: &str, count: u64) {
        self.control_post(
            "hold",
            serde_json::json!({"function": function, "action": action, "count": count}),
        )
        .await;
    }

    /// Waits until `function` waits for a held answer.
    pub async fn wait_until_held(&self, function: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.control().await[function]["held"]
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            assert!(Instant::now() < deadline, "{function} made no held call");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Lets `function`'s held answers go.
    pub async fn release(&self, function: &str) {
        self.control_post("release", serde_json::json!({"function": function}))
            .await;
    }

    async fn control_post(&self, path: &str, body: serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/{path}", control_url()))
            .json(&body)
            .send()
            .await
            .expect("stack control");
        assert!(r.status().is_success(), "{path}: {}", r.status());
    }

    /// The stack's per-function state (restarts, armed crashes, AWS calls).
    async fn control(&self) -> serde_json::Value {
        self.http
            .get(control_url())
            .send()
            .await
            .expect("stack control")
            .json()
            .await
            .expect("JSON")
    }

    /// How often `function`'s processes died and were started again, and the
    /// armed crashes that fired.
    pub async fn crashes(&self, function: &str) -> (u64, usize) {
        let v = self.control().await;
        (
            v[function]["restarts"].as_u64().unwrap_or(0),
            v[function]["fired"].as_array().map_or(0, Vec::len),
        )
    }

    /// Queue messages `function` may hold at once, as the template sets its SQS
    /// event sources (instances times batch size): what a crash of every
    /// instance can leave in flight.
    pub async fn sqs_messages_at_once(&self, function: &str) -> usize {
        let v = self.control().await;
        let n = v[function]["sqs_messages_at_once"].as_u64();
        n.and_then(|n| usize::try_from(n).ok())
            .unwrap_or_else(|| panic!("the stack reports no SQS event source of {function}: {v}"))
    }

    /// DynamoDB requests `function` has made so far (counted by its fault proxy).
    pub async fn dynamodb_calls(&self, function: &str) -> u64 {
        self.control().await[function]["calls"]
            .as_object()
            .map(|calls| {
                calls
                    .iter()
                    .filter(|(action, _)| action.starts_with("dynamodb:"))
                    .filter_map(|(_, n)| n.as_u64())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Emails moto recorded as sent to `to`.
    pub async fn emails_to(&self, to: &str) -> Vec<serde_json::Value> {
        let quoted = serde_json::Value::String(to.to_owned());
        self.sent("ses", "Message", to)
            .await
            .into_iter()
            .filter(|m| {
                m["destinations"]["ToAddresses"]
                    .as_array()
                    .is_some_and(|a| a.contains(&quoted))
            })
            .collect()
    }

    /// SMS moto recorded as sent to `number`.
    pub async fn sms_to(&self, number: &str) -> Vec<serde_json::Value> {
        self.sent("sns", "SMS", number).await
    }

    pub async fn device(&self, serial: &str) -> Option<shared::records::DeviceRecord> {
        let out = self
            .dynamo
            .get_item()
            .table_name(&self.devices_table)
            .key(
                "serial",
                aws_sdk_dynamodb::types::AttributeValue::S(serial.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("get device");
        out.item.and_then(|i| shared::aws::items::device_record(&i))
    }

    pub async fn user_name(&self, email_key: &str) -> Option<String> {
        let out = self
            .dynamo
            .get_item()
            .table_name(&self.users_table)
            .key(
                "email",
                aws_sdk_dynamodb::types::AttributeValue::S(email_key.to_owned()),
            )
            .consistent_read(true)
            .send()
            .await
            .expect("get user");
        out.item
            .and_then(|i| shared::aws::items::get_s(&i, "name").map(str::to_owned))
    }

    /// The serials of an import's device before-images (the undo's material), in key order.
    pub async fn device_images(&self, import_id: &str) -> Vec<String> {
        use shared::undo::{Phase, UndoStore};
        let undo = shared::aws::undo::DynamoUndo {
            client: self.dynamo.clone(),
            tables: shared::aws::tables::Tables {
                devices: self.devices_table.clone(),
                users: self.users_table.clone(),
                imports: self.imports_table.clone(),
                settings: self.settings_table.clone(),
            },
            queue: None,
        };
        let mut serials = Vec::new();
        let mut after = None;
        loop {
            let (items, next) = undo
                .items(import_id, Phase::Devices, after.as_deref(), 500)
                .await
                .expect("before-images");
            serials.extend(items.iter().filter_map(|i| match i {
                shared::records::UndoItem::Device { serial, .. } => Some(serial.clone()),
                shared::records::UndoItem::User { .. } => None,
            }));
            match next {
                Some(n) => after = Some(n),
                None => return serials,
            }
        }
    }

    /// Waits until the sender function has taken every queued invite.
    pub async fn wait_for_invites(&self) {
        self.wait_for_drained(&self.invite_queue_url).await
    }

    /// Each invite of an origin (an import's id) by row: its state.
    pub async fn invite_states(&self, origin: &str) -> std::collections::BTreeMap<u64, String> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let mut pages = self
            .dynamo
            .query()
            .table_name(&self.imports_table)
            .key_condition_expression("import_id = :o AND begins_with(sk, :p)")
            .expression_attribute_values(":o", AttributeValue::S(origin.to_owned()))
            .expression_attribute_values(":p", AttributeValue::S("INVITE#".into()))
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = pages.next().await {
            items.push(item.expect("invite records"));
        }
        items
            .iter()
            .filter_map(|i| {
                let row = shared::aws::items::get_s(i, "sk")?
                    .strip_prefix("INVITE#")?
                    .parse()
                    .ok()?;
                Some((row, shared::aws::items::get_s(i, "state")?.to_owned()))
            })
            .collect()
    }

    /// Polls a device until its invite is in `state` (the sender and the
    /// events function move it asynchronously); fails after a minute.
    pub async fn wait_for_invite_state(
        &self,
        serial: &str,
        state: &str,
    ) -> shared::records::DeviceRecord {
        let started = Instant::now();
        loop {
            let d = self.device(serial).await.expect("device written");
            if d.invite.as_ref().map(|i| i.state.as_str()) == Some(state) {
                return d;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{serial}: invite {:?}, not {state}",
                d.invite
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// One invite record (an import's id or an approval's origin, and the row).
    pub async fn invite_record(
        &self,
        origin: &str,
        row: u64,
    ) -> Option<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.dynamo
            .get_item()
            .table_name(&self.imports_table)
            .key("import_id", AttributeValue::S(origin.to_owned()))
            .key("sk", AttributeValue::S(shared::aws::outbox::sk(row)))
            .consistent_read(true)
            .send()
            .await
            .expect("invite record")
            .item
    }

    /// Publishes an event as SES's configuration set does, to the invite events topic.
    pub async fn publish_ses_event(&self, event: &serde_json::Value) {
        self.sns
            .publish()
            .topic_arn(&self.invite_events_topic)
            .message(event.to_string())
            .send()
            .await
            .expect("publish SES event");
    }

    /// Waits until the import queue has nothing visible or in flight.
    pub async fn wait_for_queue_drained(&self) {
        self.wait_for_drained(&self.queue_url).await
    }

    /// Waits until a queue has no message, visible, delayed or in flight.
    pub async fn wait_for_drained(&self, queue_url: &str) {
        let started = Instant::now();
        loop {
            let attrs = self
                .sqs
                .get_queue_attributes()
                .queue_url(queue_url)
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages,
                )
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                )
                // An approval's or a resend's invite waits a moment before it is visible.
                .attribute_names(
                    aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesDelayed,
                )
                .send()
                .await
                .expect("queue attributes");
            let count: u64 = attrs
                .attributes
                .unwrap_or_default()
                .values()
                .map(|v| v.parse::<u64>().unwrap_or(0))
                .sum();
            if count == 0 {
                return;
            }
            assert!(
                // A message whose delay was lost comes back after an invocation's time (relay.py).
                started.elapsed() < Duration::from_secs(240),
                "queue not drained after 4 minutes"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The stack's crash control (`infra/stack.py run --faults`).
fn control_url() -> String {
    std::env::var("STACK_CONTROL_URL")
        .expect("STACK_CONTROL_URL: run the crash tests under `infra/stack.py run --faults`")
}
