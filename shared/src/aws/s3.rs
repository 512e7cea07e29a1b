//! S3 adapters: the uploaded object as a blocking reader for the parser, and
//! the bucket's `reports/` prefix as the report sink.

use std::collections::HashMap;
use std::io;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use crate::csvfile::BoxRead;
use crate::ports::{ObjectSource, PortError, ReportSink};

/// One version of one object. Every `open` reads that same version (or, in an
/// unversioned bucket, fails if the ETag changed), so both passes see the same bytes.
pub struct S3Object {
    pub client: Client,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub etag: Option<String>,
    pub handle: Handle,
}

/// What HeadObject says about an upload.
pub struct ObjectInfo {
    pub metadata: HashMap<String, String>,
    pub version_id: Option<String>,
    pub etag: Option<String>,
}

pub async fn head(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<ObjectInfo, PortError> {
    let out = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            PortError::new(
                "read upload metadata",
                aws_sdk_s3::error::DisplayErrorContext(e),
            )
        })?;
    Ok(ObjectInfo {
        metadata: out.metadata.unwrap_or_default(),
        version_id: out.version_id.filter(|v| v != "null"),
        etag: out.e_tag,
    })
}

impl ObjectSource for S3Object {
    fn open(&self) -> io::Result<BoxRead> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_version_id(self.version_id.clone())
            .set_if_match(if self.version_id.is_none() {
                self.etag.clone()
            } else {
                None
            });
        let out = self.handle.block_on(req.send()).map_err(|e| {
            io::Error::other(format!(
                "GetObject: {}",
                aws_sdk_s3::error::DisplayErrorContext(e)
            ))
        })?;
        let reader = out.body.into_async_read();
        Ok(Box::new(SyncIoBridge::new_with_handle(
            reader,
            self.handle.clone(),
        )))
    }
}

pub struct S3Reports {
    pub client: Client,
    pub bucket: String,
}

impl ReportSink for S3Reports {
    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| {
                PortError::new("write report", aws_sdk_s3::error::DisplayErrorContext(e))
            })?;
        Ok(())
    }
}
