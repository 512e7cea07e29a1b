//! S3 adapters: uploads as blocking readers for the parser ([`S3Uploads`]),
//! reports beside them ([`S3Reports`]), and the admin's side of the bucket
//! ([`S3Bucket`]: staged uploads, presigned links, reading reports back).

use std::io;
use std::path::Path;
use std::sync::Arc;

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use tokio::runtime::Handle;
use tokio_util::io::SyncIoBridge;

use crate::admin::{Published, ReportFiles, Staging, LINK_TTL};
use crate::csvfile::BoxRead;
use crate::files::{ObjectInfo, ObjectSource, ObjectVersion, Part, ReportSink, Uploads};
use crate::port_error::PortError;

/// One version of one object. Every `open` reads that same version (or, in an
/// unversioned bucket, fails if the ETag changed), so both passes see the same bytes.
pub struct S3Object {
    client: Client,
    bucket: String,
    key: String,
    version: ObjectVersion,
    handle: Handle,
}

impl ObjectSource for S3Object {
    fn open(&self) -> io::Result<BoxRead> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .set_version_id(self.version.version_id.clone())
            .set_if_match(if self.version.version_id.is_none() {
                self.version.etag.clone()
            } else {
                None
            });
        let out = self
            .handle
            .block_on(req.send())
            .map_err(|e| io::Error::other(format!("GetObject: {}", DisplayErrorContext(e))))?;
        let reader = out.body.into_async_read();
        Ok(Box::new(SyncIoBridge::new_with_handle(
            reader,
            self.handle.clone(),
        )))
    }
}

fn s3_error<E, R>(what: &'static str, e: SdkError<E, R>) -> PortError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    PortError::new(what, DisplayErrorContext(e))
}

impl S3Object {
    fn source(
        client: &Client,
        bucket: &str,
        key: &str,
        version: ObjectVersion,
    ) -> Arc<dyn ObjectSource> {
        Arc::new(Self {
            client: client.clone(),
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version,
            handle: Handle::current(),
        })
    }
}

/// True for the 404 of a missing key (HeadObject's has no body, so no error code).
fn is_missing<E>(e: &SdkError<E, HttpResponse>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.raw().status().as_u16() == 404)
}

async fn head(
    client: &Client,
    bucket: &str,
    key: &str,
    version_id: Option<&str>,
) -> Result<Option<ObjectInfo>, PortError> {
    let result = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version_id.map(str::to_owned))
        .send()
        .await;
    match result {
        Ok(out) => Ok(Some(ObjectInfo {
            metadata: out.metadata.unwrap_or_default(),
            version: ObjectVersion::new(out.version_id, out.e_tag),
        })),
        Err(e) if is_missing(&e) => Ok(None),
        Err(e) => Err(s3_error("read upload metadata", e)),
    }
}

/// The uploads bucket(s) the import reads.
#[derive(Debug, Clone)]
pub struct S3Uploads {
    pub client: Client,
}

impl Uploads for S3Uploads {
    async fn head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectInfo, PortError> {
        head(&self.client, bucket, key, version_id)
            .await?
            .ok_or_else(|| PortError::new("read upload metadata", "the object is not there"))
    }

    fn object(&self, bucket: &str, key: &str, version: &ObjectVersion) -> Arc<dyn ObjectSource> {
        S3Object::source(&self.client, bucket, key, version.clone())
    }
}

/// Reports, written beside the upload they describe.
#[derive(Debug, Clone)]
pub struct S3Reports {
    pub client: Client,
}

impl ReportSink for S3Reports {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), PortError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| s3_error("write report", e))?;
        Ok(())
    }

    async fn put_parts(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        mut parts: tokio::sync::mpsc::Receiver<Part>,
    ) -> Result<(), PortError> {
        let Some(first) = parts.recv().await else {
            return Err(abandoned());
        };
        if first.last {
            return self.put(bucket, key, first.bytes, content_type).await;
        }
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| s3_error("start report upload", e))?;
        let upload_id = upload.upload_id().unwrap_or_default().to_owned();
        let result = self
            .upload_parts(bucket, key, &upload_id, first, &mut parts)
            .await;
        if result.is_err() {
            // Parts of an abandoned upload are billed until aborted (the bucket's
            // lifecycle rule aborts any that this misses).
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }
}

impl S3Reports {
    async fn upload_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        first: Part,
        parts: &mut tokio::sync::mpsc::Receiver<Part>,
    ) -> Result<(), PortError> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let mut done = Vec::new();
        let mut part = first;
        loop {
            let number = done.len() as i32 + 1;
            let out = self
                .client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(part.bytes))
                .send()
                .await
                .map_err(|e| s3_error("write report part", e))?;
            done.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(out.e_tag)
                    .build(),
            );
            if part.last {
                break;
            }
            part = parts.recv().await.ok_or_else(abandoned)?;
        }
        self.client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| s3_error("finish report upload", e))?;
        Ok(())
    }
}

fn abandoned() -> PortError {
    PortError::new("write report", "the writer stopped before the last part")
}

/// The admin's side of the import bucket.
#[derive(Debug, Clone)]
pub struct S3Bucket {
    pub client: Client,
    pub bucket: String,
}

fn presigning() -> Result<PresigningConfig, PortError> {
    PresigningConfig::expires_in(LINK_TTL).map_err(|e| PortError::new("presign", e))
}

/// S3 metadata travels in HTTP headers: keep it ASCII.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

impl Staging for S3Bucket {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn upload_link(&self, key: &str, content_type: &str) -> Result<String, PortError> {
        let req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .presigned(presigning()?)
            .await
            .map_err(|e| PortError::new("presign", e))?;
        Ok(req.uri().to_owned())
    }

    async fn staged(&self, key: &str) -> Result<Option<Arc<dyn ObjectSource>>, PortError> {
        let info = head(&self.client, &self.bucket, key, None).await?;
        Ok(info.map(|info| S3Object::source(&self.client, &self.bucket, key, info.version)))
    }

    async fn publish(
        &self,
        key: &str,
        file: &Path,
        content_type: &str,
        metadata: &[(&str, String)],
    ) -> Result<Option<ObjectVersion>, PortError> {
        let body = ByteStream::from_path(file)
            .await
            .map_err(|e| PortError::new("publish upload", e))?;
        let mut put = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            // Never over an earlier publication: a retried commit stays one import.
            .if_none_match("*")
            .body(body);
        for (k, v) in metadata {
            put = put.metadata(*k, ascii(v));
        }
        match put.send().await {
            Ok(out) => Ok(Some(ObjectVersion::new(out.version_id, out.e_tag))),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => Ok(None),
            Err(e) => Err(s3_error("publish upload", e)),
        }
    }

    async fn published(&self, prefix: &str) -> Result<Option<Published>, PortError> {
        let listed = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .max_keys(1)
            .send()
            .await
            .map_err(|e| s3_error("find published upload", e))?;
        let Some(key) = listed.contents().first().and_then(|o| o.key()) else {
            return Ok(None);
        };
        let Some(info) = head(&self.client, &self.bucket, key, None).await? else {
            return Ok(None);
        };
        Ok(Some(Published {
            key: key.to_owned(),
            version: info.version,
            metadata: info.metadata.into_iter().collect(),
        }))
    }

    async fn discard(&self, key: &str) -> Result<(), PortError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| s3_error("discard staged upload", e))?;
        Ok(())
    }
}

impl ReportFiles for S3Bucket {
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(s3_error("read report", e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| PortError::new("read report", e))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn exists(&self, key: &str) -> Result<bool, PortError> {
        Ok(head(&self.client, &self.bucket, key, None).await?.is_some())
    }

    async fn download_link(&self, key: &str) -> Result<String, PortError> {
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning()?)
            .await
            .map_err(|e| PortError::new("presign", e))?;
        Ok(req.uri().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::ascii;

    #[test]
    fn metadata_is_kept_ascii() {
        assert_eq!(ascii("Zoë Q\u{1F600}x"), "Zo? Q?x");
    }
}
