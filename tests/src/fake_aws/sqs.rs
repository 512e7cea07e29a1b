//! SQS (JSON 1.0): SendMessageBatch, ReceiveMessage, DeleteMessageBatch,
//! ChangeMessageVisibility and GetQueueAttributes on configured queues. A
//! received message is hidden for the visibility timeout and comes back if
//! not deleted; `redeliver_every` > 0 delivers every so many messages twice
//! at once (SQS delivers at least once), which the sender must not turn into
//! a second e-mail.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};

use super::dynamo::Failure;

struct Message {
    body: String,
    sent_ms: u64,
    receives: u64,
    first_receive_ms: u64,
    visible_at: u64,
    seq: u64,
    /// The receipt handle of its latest receive.
    handle: Option<String>,
}

#[derive(Default)]
pub struct Queue {
    messages: HashMap<String, Message>,
    /// (visible at, seq) -> message id.
    order: BTreeMap<(u64, u64), String>,
    handles: HashMap<String, String>,
}

#[derive(Default)]
pub struct Sqs {
    pub queues: HashMap<String, Queue>,
    pub visibility_timeout_s: u64,
    pub redeliver_every: u64,
    seq: u64,
    received: u64,
    pub redelivered: u64,
    pub deleted: u64,
}

fn failure(kind: &'static str, message: impl Into<String>) -> Failure {
    Failure {
        kind,
        message: message.into(),
        extra: Default::default(),
    }
}

fn invalid(message: impl Into<String>) -> Failure {
    failure("InvalidParameterValue", message)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Sqs {
    fn queue(&mut self, req: &Value) -> Result<&mut Queue, Failure> {
        let url = req["QueueUrl"].as_str().unwrap_or_default();
        let name = url.rsplit('/').next().unwrap_or_default();
        self.queues
            .get_mut(name)
            .ok_or_else(|| failure("QueueDoesNotExist", "The specified queue does not exist."))
    }

    pub fn handle(&mut self, op: &str, req: &Value) -> Result<Value, Failure> {
        match op {
            "SendMessageBatch" => self.send_batch(req),
            "ReceiveMessage" => self.receive(req),
            "DeleteMessageBatch" => self.delete_batch(req),
            "ChangeMessageVisibility" => self.change_visibility(req),
            "GetQueueAttributes" => self.attributes(req),
            _ => Err(failure(
                "UnsupportedOperation",
                format!("{op} is not served by this fake"),
            )),
        }
    }

    fn send_batch(&mut self, req: &Value) -> Result<Value, Failure> {
        let entries = req["Entries"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() || entries.len() > 10 {
            return Err(failure("TooManyEntriesInBatchRequest", "1 to 10 entries"));
        }
        let now = now_ms();
        let mut ok = Vec::new();
        let mut ids = Vec::new();
        for e in &entries {
            let id = e["Id"].as_str().unwrap_or_default().to_owned();
            if ids.contains(&id) {
                return Err(failure("BatchEntryIdsNotDistinct", "ids repeat"));
            }
            ids.push(id.clone());
            let body = e["MessageBody"].as_str().unwrap_or_default().to_owned();
            let delay = e["DelaySeconds"].as_u64().unwrap_or(0);
            if body.is_empty() || body.len() > 262_144 || delay > 900 {
                return Err(invalid("empty or too long body, or delay over 900 s"));
            }
            self.seq += 1;
            let seq = self.seq;
            let message_id = format!("m-{seq:012}");
            let visible_at = now + delay * 1000;
            let q = self.queue(req)?;
            q.order.insert((visible_at, seq), message_id.clone());
            q.messages.insert(
                message_id.clone(),
                Message {
                    body,
                    sent_ms: now,
                    receives: 0,
                    first_receive_ms: 0,
                    visible_at,
                    seq,
                    handle: None,
                },
            );
            ok.push(json!({"Id": id, "MessageId": message_id, "MD5OfMessageBody": ""}));
        }
        Ok(json!({"Successful": ok, "Failed": []}))
    }

    fn receive(&mut self, req: &Value) -> Result<Value, Failure> {
        let max = req["MaxNumberOfMessages"].as_u64().unwrap_or(1);
        if !(1..=10).contains(&max) {
            return Err(invalid("MaxNumberOfMessages must be 1 to 10"));
        }
        let timeout = req["VisibilityTimeout"]
            .as_u64()
            .unwrap_or(self.visibility_timeout_s);
        let now = now_ms();
        let redeliver_every = self.redeliver_every;
        let mut received = self.received;
        let mut redelivered = 0;
        let q = self.queue(req)?;
        let due: Vec<(u64, u64)> = q
            .order
            .range(..(now + 1, 0))
            .take(max as usize)
            .map(|(k, _)| *k)
            .collect();
        let mut out = Vec::new();
        for k in due {
            let id = q.order.remove(&k).expect("listed");
            let m = q.messages.get_mut(&id).expect("ordered messages exist");
            received += 1;
            m.receives += 1;
            if m.first_receive_ms == 0 {
                m.first_receive_ms = now;
            }
            let handle = format!("{id}#{}", m.receives);
            // Once in a while, the same message to two receivers at once.
            let twice = redeliver_every > 0 && received.is_multiple_of(redeliver_every);
            m.visible_at = if twice { now } else { now + timeout * 1000 };
            if twice {
                redelivered += 1;
            }
            m.handle = Some(handle.clone());
            q.order.insert((m.visible_at, m.seq), id.clone());
            q.handles.insert(handle.clone(), id.clone());
            out.push(json!({
                "MessageId": id,
                "ReceiptHandle": handle,
                "MD5OfBody": "",
                "Body": m.body,
                "Attributes": {
                    "SentTimestamp": m.sent_ms.to_string(),
                    "ApproximateReceiveCount": m.receives.to_string(),
                    "ApproximateFirstReceiveTimestamp": m.first_receive_ms.to_string(),
                },
            }));
        }
        self.received = received;
        self.redelivered += redelivered;
        Ok(if out.is_empty() {
            json!({})
        } else {
            json!({ "Messages": out })
        })
    }

    fn delete_batch(&mut self, req: &Value) -> Result<Value, Failure> {
        let entries = req["Entries"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() || entries.len() > 10 {
            return Err(failure("TooManyEntriesInBatchRequest", "1 to 10 entries"));
        }
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        let mut deleted = 0;
        let q = self.queue(req)?;
        for e in &entries {
            let id = e["Id"].as_str().unwrap_or_default();
            let handle = e["ReceiptHandle"].as_str().unwrap_or_default();
            match q.handles.remove(handle) {
                Some(message) => {
                    if let Some(m) = q.messages.remove(&message) {
                        q.order.remove(&(m.visible_at, m.seq));
                        deleted += 1;
                    }
                    ok.push(json!({"Id": id}));
                }
                None => failed.push(json!({"Id": id, "SenderFault": true,
                    "Code": "ReceiptHandleIsInvalid", "Message": "The receipt handle is not valid"})),
            }
        }
        self.deleted += deleted;
        Ok(json!({"Successful": ok, "Failed": failed}))
    }

    fn change_visibility(&mut self, req: &Value) -> Result<Value, Failure> {
        let seconds = req["VisibilityTimeout"].as_u64().unwrap_or(u64::MAX);
        if seconds > 43_200 {
            return Err(invalid("VisibilityTimeout must be 0 to 43200"));
        }
        let handle = req["ReceiptHandle"].as_str().unwrap_or_default().to_owned();
        let q = self.queue(req)?;
        let m = q
            .handles
            .get(&handle)
            .and_then(|id| q.messages.get_mut(id))
            .filter(|m| m.handle.as_deref() == Some(handle.as_str()))
            .ok_or_else(|| failure("MessageNotInflight", "The message is not in flight"))?;
        q.order.remove(&(m.visible_at, m.seq));
        m.visible_at = now_ms() + seconds * 1000;
        let id = q.handles[&handle].clone();
        q.order.insert((m.visible_at, m.seq), id);
        Ok(json!({}))
    }

    fn attributes(&mut self, req: &Value) -> Result<Value, Failure> {
        let now = now_ms();
        let q = self.queue(req)?;
        let visible = q.order.range(..(now + 1, 0)).count();
        Ok(json!({"Attributes": {
            "ApproximateNumberOfMessages": visible.to_string(),
            "ApproximateNumberOfMessagesNotVisible": (q.messages.len() - visible).to_string(),
            "ApproximateNumberOfMessagesDelayed": "0",
        }}))
    }

    pub fn stats(&self) -> Value {
        let queues: HashMap<&String, usize> = self
            .queues
            .iter()
            .map(|(k, q)| (k, q.messages.len()))
            .collect();
        json!({"messages": queues, "received": self.received,
               "redelivered": self.redelivered, "deleted": self.deleted})
    }
}
