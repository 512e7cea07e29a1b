//! The devices table's stream as Lambda hands it over (only what the
//! consumers read): both images of each change, and the shard of a tumbling
//! window.

use serde::Deserialize;
use serde_json::Value;

/// A DynamoDB stream batch with tumbling-window properties (only what counting reads).
#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records")]
    pub records: Vec<StreamRecord>,
    #[serde(rename = "shardId")]
    pub shard_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct StreamRecord {
    #[serde(rename = "eventID", default)]
    pub event_id: String,
    pub dynamodb: Body,
}

#[derive(Debug, Deserialize)]
pub struct Body {
    #[serde(rename = "SequenceNumber", default)]
    pub sequence_number: String,
    #[serde(rename = "OldImage", default)]
    pub old_image: Option<Value>,
    #[serde(rename = "NewImage", default)]
    pub new_image: Option<Value>,
}
