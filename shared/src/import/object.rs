//! Which import an event is about: the uploaded object's identity, and the
//! import record it opens (created on the first attempt, resumed after).

use super::ports::{ImportRecords, ImportState};
use super::{Counts, ImportStatus};
use crate::clock::now_rfc3339;
use crate::domain::ImportOptions;
use crate::files::ObjectVersion;
use crate::port_error::PortError;

/// The object an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportObject {
    pub bucket: String,
    pub key: String,
    /// Version id when the bucket is versioned, else the ETag.
    pub version: Option<String>,
}

impl ImportObject {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>, version: &ObjectVersion) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            version: version.import_version(),
        }
    }

    /// Stable across redeliveries of the same upload, different for a re-upload.
    pub fn import_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            &self.bucket,
            &self.key,
            self.version.as_deref().unwrap_or(""),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// The record of a new import of this object.
    pub(super) fn new_state(&self, options: ImportOptions, status: ImportStatus) -> ImportState {
        ImportState {
            import_id: self.import_id(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version: self.version.clone(),
            status,
            options,
            counts: Counts::default(),
            rows_done: 0,
            rows_validated: 0,
            skipped: Vec::new(),
            skipped_total: 0,
            created_at: now_rfc3339(),
        }
    }
}

/// An import's record as an attempt finds it.
pub(super) enum Opened {
    Finished(ImportStatus),
    /// Stored by an earlier attempt.
    Resumed(ImportState),
    /// Created by this attempt, with the given options and status.
    Created(ImportState),
}

pub(super) async fn open_record<M: ImportRecords>(
    records: &M,
    object: &ImportObject,
    options: ImportOptions,
    status: ImportStatus,
) -> Result<Opened, PortError> {
    Ok(match records.load(&object.import_id()).await? {
        Some(st) if st.status.is_final() => Opened::Finished(st.status),
        Some(st) => Opened::Resumed(st),
        None => {
            let st = object.new_state(options, status);
            records.create(&st).await?;
            Opened::Created(st)
        }
    })
}
