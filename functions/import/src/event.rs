//! The S3 event notification inside each SQS message, read leniently: real S3,
//! LocalStack and moto differ in optional fields.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Notification {
    #[serde(rename = "Records", default)]
    pub records: Vec<Record>,
    /// `s3:TestEvent`, sent once when the notification is configured.
    #[serde(rename = "Event")]
    pub event: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Record {
    #[serde(rename = "eventName", default)]
    pub event_name: String,
    pub s3: S3Entity,
}

#[derive(Debug, Deserialize)]
pub struct S3Entity {
    pub bucket: Bucket,
    pub object: Object,
}

#[derive(Debug, Deserialize)]
pub struct Bucket {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct Object {
    pub key: String,
    #[serde(rename = "versionId")]
    pub version_id: Option<String>,
}

impl Notification {
    /// The records of objects created (uploads), in order.
    pub fn uploads(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter(|r| r.is_object_created())
    }
}

impl Record {
    pub fn is_object_created(&self) -> bool {
        self.event_name.starts_with("ObjectCreated")
    }

    /// The object key, decoded: S3 URL-encodes keys in events (space as `+`).
    pub fn key(&self) -> String {
        decode_key(&self.s3.object.key)
    }
}

pub fn decode_key(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_url_decoded() {
        assert_eq!(
            decode_key("imports/my+file%282%29.csv"),
            "imports/my file(2).csv"
        );
        assert_eq!(decode_key("imports/caf%C3%A9.csv"), "imports/café.csv");
        assert_eq!(decode_key("imports/100%"), "imports/100%");
        assert_eq!(decode_key("imports/%zz"), "imports/%zz");
    }

    #[test]
    fn parses_s3_and_test_events() {
        let n: Notification = serde_json::from_str(
            r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",
               "s3":{"bucket":{"name":"b","arn":"arn:aws:s3:::b"},"object":{"key":"imports/a+b.csv","size":3,"eTag":"e","versionId":"v"}}}]}"#,
        )
        .unwrap();
        assert!(n.records[0].is_object_created());
        assert_eq!(n.records[0].key(), "imports/a b.csv");
        let t: Notification =
            serde_json::from_str(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#)
                .unwrap();
        assert_eq!(t.event.as_deref(), Some("s3:TestEvent"));
        assert!(t.records.is_empty());
    }
}
