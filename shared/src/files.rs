//! Object storage as the use cases see it: uploads read (as often as
//! needed), reports and exports written in parts. The S3 adapter is
//! `aws::s3`; tests use `fakes`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::Arc;

use crate::csvfile::BoxRead;
use crate::port_error::PortError;

/// Reads the uploaded object, from the start, as often as asked. Blocking:
/// called from the thread that parses.
pub trait ObjectSource: Send + Sync + 'static {
    fn open(&self) -> io::Result<BoxRead>;
}

/// Which version of an object S3 stored (HeadObject, PutObject).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectVersion {
    /// None in an unversioned bucket (S3 says `null` there).
    pub version_id: Option<String>,
    pub etag: Option<String>,
}

impl ObjectVersion {
    pub fn new(version_id: Option<String>, etag: Option<String>) -> Self {
        Self {
            version_id: version_id.filter(|v| v != "null"),
            etag,
        }
    }

    /// What identifies this upload for its import: the version id in a
    /// versioned bucket, else the ETag (a re-upload of other bytes differs).
    pub fn import_version(&self) -> Option<String> {
        self.version_id.clone().or_else(|| self.etag.clone())
    }
}

/// What HeadObject says about an upload.
#[derive(Debug, Clone, Default)]
pub struct ObjectInfo {
    /// User metadata, keys without `x-amz-meta-`.
    pub metadata: HashMap<String, String>,
    pub version: ObjectVersion,
}

/// The bucket uploads arrive in, as the import reads them.
pub trait Uploads: Send + Sync {
    fn head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<ObjectInfo, PortError>> + Send;

    /// That version of the object (or, without a version id, those bytes:
    /// the ETag must still match), to read as often as the import needs.
    fn object(&self, bucket: &str, key: &str, version: &ObjectVersion) -> Arc<dyn ObjectSource>;
}

/// Where reports go: beside the upload, in its bucket.
pub trait ReportSink: Send + Sync {
    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Writes an object of any size from parts produced as it goes (see
    /// [`PartWriter`]): every part but the last is [`PART_SIZE`] bytes. The
    /// object appears whole or not at all: a sender dropped before the part
    /// marked `last` abandons it.
    fn put_parts(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        parts: tokio::sync::mpsc::Receiver<Part>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// One piece of a streamed object.
#[derive(Debug)]
pub struct Part {
    pub bytes: Vec<u8>,
    pub last: bool,
}

/// Size of the parts [`PartWriter`] hands over: S3's smallest multipart part,
/// so a file of any length streams through a few of them in memory.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// A blocking `Write` that hands [`PART_SIZE`] parts to an async
/// [`ReportSink::put_parts`]; [`finish`](Self::finish) sends the last one.
pub struct PartWriter {
    tx: tokio::sync::mpsc::Sender<Part>,
    buf: Vec<u8>,
}

impl PartWriter {
    pub fn new(tx: tokio::sync::mpsc::Sender<Part>) -> Self {
        Self {
            tx,
            buf: Vec::with_capacity(PART_SIZE),
        }
    }

    fn send(&mut self, bytes: Vec<u8>, last: bool) -> std::io::Result<()> {
        self.tx
            .blocking_send(Part { bytes, last })
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    /// Sends what is left as the last part; without it the object is abandoned.
    pub fn finish(mut self) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.buf);
        self.send(rest, true)
    }
}

impl std::io::Write for PartWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(PART_SIZE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == PART_SIZE {
            let part = std::mem::replace(&mut self.buf, Vec::with_capacity(PART_SIZE));
            self.send(part, false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
