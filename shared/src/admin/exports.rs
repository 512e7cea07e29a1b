//! Device-list exports from the admin's side: start one, watch it, download it.

use serde::Serialize;
use serde_json::Value;

use super::{AdminError, AdminReads, ReportFiles};
use crate::clock::now_rfc3339;
use crate::export::{ExportFilter, ExportQueue, ExportState, ExportStatus, ExportStore};

/// An export as the page shows it: its record, and a link once the file is ready.
#[derive(Debug, Clone, Serialize)]
pub struct ExportView {
    #[serde(flatten)]
    pub export: ExportState,
    /// A presigned GET of the file, valid for [`LINK_TTL`](super::LINK_TTL);
    /// asked again, a fresh one is given.
    pub download_url: Option<String>,
}

/// Records the export and hands it to the export function. The expected
/// number of rows comes from the device totals when only status and
/// platform filter (one GetItem, whatever the table holds).
pub async fn start<R, E>(
    reads: &R,
    exports: &E,
    body: &Value,
    by: &str,
) -> Result<ExportView, AdminError>
where
    R: AdminReads,
    E: ExportStore + ExportQueue,
{
    let filter = ExportFilter::from_json(body).map_err(|e| AdminError::bad(e.field, e.message))?;
    let total = if filter.counted() {
        let counts = reads.counts().await?;
        Some(
            counts
                .iter()
                .filter(|c| filter.status.is_none_or(|s| c.status == s))
                .filter(|c| filter.platform.is_none_or(|p| c.platform == p.as_str()))
                .map(|c| c.count)
                .sum(),
        )
    } else {
        None
    };
    let mut st = ExportState::queued(filter, total, by, &now_rfc3339());
    exports.save_export(&st).await?;
    if let Err(e) = exports.enqueue_export(&st.export_id).await {
        // Never left "queued" with nothing to run it.
        st.status = ExportStatus::Failed;
        st.error = Some("the export could not be started; try again".into());
        st.finished_at = Some(now_rfc3339());
        exports.save_export(&st).await?;
        return Err(e.into());
    }
    Ok(ExportView {
        export: st,
        download_url: None,
    })
}

pub async fn one<E, F>(exports: &E, files: &F, id: &str) -> Result<ExportView, AdminError>
where
    E: ExportStore,
    F: ReportFiles,
{
    let st = exports
        .export(id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("no export {id}; exports are kept 7 days")))?;
    let download_url = match st.status {
        ExportStatus::Ready => Some(files.download_link(&st.key).await?),
        _ => None,
    };
    Ok(ExportView {
        export: st,
        download_url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;
    use crate::fakes::MemoryAdmin;
    use crate::records::DeviceStatus;
    use serde_json::json;

    #[tokio::test]
    async fn an_export_is_recorded_queued_and_counted_from_the_totals() {
        let admin = MemoryAdmin::default();
        for (i, (status, platform)) in [
            (DeviceStatus::PreApproved, Platform::Ios),
            (DeviceStatus::PreApproved, Platform::Android),
            (DeviceStatus::Enrolled, Platform::Ios),
        ]
        .into_iter()
        .enumerate()
        {
            let mut d = crate::export::file::tests::device(&format!("S{i}"), "a@b.c");
            (d.status, d.platform) = (status, platform);
            admin.devices.lock().unwrap().insert(d.serial.clone(), d);
        }
        let ios = start(&admin, &admin.exports, &json!({"platform": "ios"}), "ann")
            .await
            .unwrap();
        assert_eq!(ios.export.total, Some(2));
        assert_eq!(ios.export.status, ExportStatus::Queued);
        assert_eq!(ios.export.requested_by, "ann");
        assert!(ios.export.key.starts_with("exports/devices-"));
        assert_eq!(
            *admin.exports.queued.lock().unwrap(),
            vec![ios.export.export_id.clone()]
        );

        let some = json!({"status": "pre_approved", "serial_prefix": "S"});
        let prefixed = start(&admin, &admin.exports, &some, "ann").await.unwrap();
        assert_eq!(
            prefixed.export.total, None,
            "a prefix is not counted in advance"
        );

        let bad = start(
            &admin,
            &admin.exports,
            &json!({"platform": "windows"}),
            "ann",
        )
        .await;
        assert!(matches!(
            bad,
            Err(AdminError::BadRequest {
                field: Some("platform"),
                ..
            })
        ));
        assert_eq!(
            admin.exports.queued.lock().unwrap().len(),
            2,
            "nothing queued for it"
        );
    }

    #[tokio::test]
    async fn a_link_only_once_it_is_ready() {
        let admin = MemoryAdmin::default();
        let started = start(&admin, &admin.exports, &json!({}), "ann")
            .await
            .unwrap();
        let id = started.export.export_id.clone();
        let waiting = one(&admin.exports, &admin, &id).await.unwrap();
        assert_eq!(waiting.download_url, None);
        let mut st = waiting.export;
        st.status = ExportStatus::Ready;
        admin.exports.save_export(&st).await.unwrap();
        let ready = one(&admin.exports, &admin, &id).await.unwrap();
        assert!(ready.download_url.unwrap().contains(&st.key));
        let view = serde_json::to_value(one(&admin.exports, &admin, &id).await.unwrap()).unwrap();
        assert_eq!(view["status"], "ready");
        assert_eq!(view["export_id"], id.as_str());
        assert!(matches!(
            one(&admin.exports, &admin, "nope").await,
            Err(AdminError::NotFound(_))
        ));
    }
}
