//! SES v2 (REST JSON): GetAccount and SendEmail. A message is taken only from
//! the verified sender, through the configured configuration set, to one or
//! more addresses, with a subject and a body; at most the quota per second
//! (a bucket of one second's sends, refilled continuously), beyond which SES
//! answers 429 `TooManyRequestsException`. Each accepted message is counted
//! per invite (its `invite` tag, else its recipient): more than one is a
//! duplicate.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use serde_json::{json, Value};

use super::dynamo::Failure;

pub struct Ses {
    pub sender: String,
    pub configuration_set: Option<String>,
    pub quota_per_s: f64,
    tokens: f64,
    filled_at: Instant,
    pub accepted: u64,
    pub throttled: u64,
    pub refused: u64,
    per_invite: HashMap<String, u32>,
    per_second: BTreeMap<u64, u64>,
}

impl Ses {
    pub fn new(sender: String, configuration_set: Option<String>, quota_per_s: f64) -> Self {
        Self {
            sender,
            configuration_set,
            quota_per_s,
            tokens: quota_per_s,
            filled_at: Instant::now(),
            accepted: 0,
            throttled: 0,
            refused: 0,
            per_invite: HashMap::new(),
            per_second: BTreeMap::new(),
        }
    }

    pub fn set_quota(&mut self, per_s: f64) {
        self.quota_per_s = per_s;
        self.tokens = per_s;
        self.filled_at = Instant::now();
    }

    pub fn account(&self) -> Value {
        json!({
            "SendQuota": {"Max24HourSend": 1.0e9, "MaxSendRate": self.quota_per_s,
                          "SentLast24Hours": self.accepted as f64},
            "SendingEnabled": true,
            "ProductionAccessEnabled": true,
            "EnforcementStatus": "HEALTHY",
            "DedicatedIpAutoWarmupEnabled": false,
        })
    }

    fn refuse(&mut self, kind: &'static str, message: &str) -> Failure {
        self.refused += 1;
        Failure {
            kind,
            message: message.into(),
            extra: Default::default(),
        }
    }

    pub fn send(&mut self, req: &Value) -> Result<Value, Failure> {
        if req["FromEmailAddress"].as_str() != Some(self.sender.as_str()) {
            return Err(self.refuse("MessageRejected", "Email address is not verified."));
        }
        if req["ConfigurationSetName"].as_str() != self.configuration_set.as_deref() {
            return Err(self.refuse("NotFoundException", "Configuration set does not exist."));
        }
        let to: Vec<&str> = req["Destination"]["ToAddresses"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let simple = &req["Content"]["Simple"];
        let has_text = |v: &Value| v["Data"].as_str().is_some_and(|d| !d.is_empty());
        if to.is_empty()
            || to.len() > 50
            || to.iter().any(|a| !a.contains('@'))
            || !has_text(&simple["Subject"])
            || !(has_text(&simple["Body"]["Text"]) || has_text(&simple["Body"]["Html"]))
        {
            return Err(self.refuse("BadRequestException", "Missing or invalid message."));
        }
        let now = Instant::now();
        self.tokens = (self.tokens
            + now.duration_since(self.filled_at).as_secs_f64() * self.quota_per_s)
            .min(self.quota_per_s.max(1.0));
        self.filled_at = now;
        if self.tokens < 1.0 {
            self.throttled += 1;
            return Err(Failure {
                kind: "TooManyRequestsException",
                message: "Maximum sending rate exceeded.".into(),
                extra: Default::default(),
            });
        }
        self.tokens -= 1.0;
        self.accepted += 1;
        let invite = req["EmailTags"]
            .as_array()
            .and_then(|tags| tags.iter().find(|t| t["Name"] == "invite"))
            .and_then(|t| t["Value"].as_str())
            .unwrap_or(to[0]);
        *self.per_invite.entry(invite.to_owned()).or_default() += 1;
        let second = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        *self.per_second.entry(second).or_default() += 1;
        Ok(json!({"MessageId": format!("fake-{:012}", self.accepted)}))
    }

    pub fn stats(&self) -> Value {
        let duplicates: u64 = self
            .per_invite
            .values()
            .map(|n| u64::from(n.saturating_sub(1)))
            .sum();
        json!({
            "accepted": self.accepted,
            "throttled": self.throttled,
            "refused": self.refused,
            "invites": self.per_invite.len(),
            "duplicates": duplicates,
            "per_second": self.per_second,
        })
    }
}
