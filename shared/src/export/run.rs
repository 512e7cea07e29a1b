//! The export function's use case: one export, start to end, in one
//! invocation. Devices are read a page at a time and written as CSV straight
//! into S3 multipart parts, so memory holds a page and a part or two whatever
//! the number of devices; the file appears whole or not at all.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::file::CsvRows;
use super::{DeviceSource, ExportState, ExportStatus, ExportStore};
use crate::clock::now_rfc3339;
use crate::files::{Part, ReportSink, PART_SIZE};
use crate::port_error::PortError;

/// Devices asked for per page (DynamoDB stops at 1 MB before this).
pub const PAGE: usize = 1000;

/// How often the progress is written.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Deliveries an export gets: one that dies (out of memory, out of time)
/// comes back from the queue, and after this many it is recorded as failed.
pub const MAX_ATTEMPTS: u32 = 3;

pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// No such export (expired, or never recorded): nothing to do.
    Missing,
    /// Ready or failed already: a repeated delivery changes nothing.
    AlreadyOver(ExportStatus),
    Ready {
        rows: u64,
    },
    /// Recorded as failed, with a message for the admin.
    Failed,
}

/// Why the writing stopped.
#[derive(Debug)]
enum Stop {
    Port(PortError),
    OutOfTime,
    /// The upload gave up first (its own error says why).
    UploadGone,
}

impl From<PortError> for Stop {
    fn from(e: PortError) -> Self {
        Self::Port(e)
    }
}

/// Runs export `id` on its `attempt`-th delivery. Errors are only those of
/// reading or writing its record: the delivery is then retried.
pub async fn run<S, D, K>(
    store: &S,
    source: &D,
    sink: &K,
    bucket: &str,
    id: &str,
    attempt: u32,
    out_of_time: &(dyn Fn() -> bool + Sync),
) -> Result<Outcome, PortError>
where
    S: ExportStore,
    D: DeviceSource,
    K: ReportSink,
{
    let Some(mut st) = store.export(id).await? else {
        return Ok(Outcome::Missing);
    };
    if st.status.is_over() {
        return Ok(Outcome::AlreadyOver(st.status));
    }
    if attempt > MAX_ATTEMPTS {
        let why = format!(
            "the export stopped {MAX_ATTEMPTS} times before it finished (the function ran out of \
             memory or time); export fewer devices at once (filter by status, platform, serial \
             prefix or import)"
        );
        return fail(store, &mut st, why).await;
    }
    st.status = ExportStatus::Running;
    st.rows = 0;
    st.error = None;
    st.updated_at = now_rfc3339();
    store.save_export(&st).await?;

    let key = st.key.clone();
    let (tx, rx) = mpsc::channel(1);
    let upload = sink.put_parts(bucket, &key, CONTENT_TYPE, rx);
    let write = write_rows(store, source, &mut st, tx, out_of_time);
    let (uploaded, written) = tokio::join!(upload, write);
    match (written, uploaded) {
        (Ok(()), Ok(())) => {
            st.status = ExportStatus::Ready;
            st.finished_at = Some(now_rfc3339());
            st.updated_at = now_rfc3339();
            store.save_export(&st).await?;
            tracing::info!(export_id = id, rows = st.rows, "export ready");
            Ok(Outcome::Ready { rows: st.rows })
        }
        (Err(Stop::OutOfTime), _) => {
            let why = format!(
                "the export ran out of time after {} devices; export fewer at once (filter by \
                 status, platform, serial prefix or import)",
                st.rows
            );
            fail(store, &mut st, why).await
        }
        (written, uploaded) => {
            if let Err(Stop::Port(e)) = &written {
                tracing::warn!(export_id = id, error = %e, "export: reading the devices failed");
            }
            if let Err(e) = &uploaded {
                tracing::warn!(export_id = id, error = %e, "export: writing the file failed");
            }
            let why = "reading the devices or writing the file failed; start the export again \
                       (if it keeps failing, the export function's log says why)"
                .to_owned();
            fail(store, &mut st, why).await
        }
    }
}

async fn fail<S: ExportStore>(
    store: &S,
    st: &mut ExportState,
    why: String,
) -> Result<Outcome, PortError> {
    st.status = ExportStatus::Failed;
    st.error = Some(why);
    st.finished_at = Some(now_rfc3339());
    st.updated_at = now_rfc3339();
    store.save_export(st).await?;
    Ok(Outcome::Failed)
}

async fn write_rows<S: ExportStore, D: DeviceSource>(
    store: &S,
    source: &D,
    st: &mut ExportState,
    tx: mpsc::Sender<Part>,
    out_of_time: &(dyn Fn() -> bool + Sync),
) -> Result<(), Stop> {
    let mut rows = CsvRows::new(PART_SIZE + PART_SIZE / 4);
    let mut saved = Instant::now();
    let filter = st.filter.clone();
    for status in filter.statuses() {
        let mut after: Option<String> = None;
        loop {
            if out_of_time() {
                return Err(Stop::OutOfTime);
            }
            let page = source
                .devices(&filter, status, after.as_deref(), PAGE)
                .await?;
            let mut keys: Vec<String> = page
                .devices
                .iter()
                .filter(|d| !d.email.is_empty())
                .map(|d| d.email.clone())
                .collect();
            keys.sort_unstable();
            keys.dedup();
            let users = if keys.is_empty() {
                HashMap::new()
            } else {
                source.users(&keys).await?
            };
            for d in &page.devices {
                rows.push(d, &users);
            }
            st.rows += page.devices.len() as u64;
            // Strictly more than a part: what stays is never empty, so the last part has bytes.
            while rows.len() > PART_SIZE {
                let part = Part {
                    bytes: rows.take(PART_SIZE),
                    last: false,
                };
                tx.send(part).await.map_err(|_| Stop::UploadGone)?;
            }
            if saved.elapsed() >= PROGRESS_EVERY {
                st.updated_at = now_rfc3339();
                store.save_export(st).await?;
                saved = Instant::now();
            }
            match page.after {
                Some(a) => after = Some(a),
                None => break,
            }
        }
    }
    let last = Part {
        bytes: rows.take(usize::MAX),
        last: true,
    };
    tx.send(last).await.map_err(|_| Stop::UploadGone)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Platform;
    use crate::export::file::tests::device;
    use crate::export::ExportFilter;
    use crate::fakes::{MemoryDevices, MemoryExports, MemoryReports};
    use crate::records::{DeviceStatus, UserRecord};

    /// `n` devices, every third enrolled, every other one android, each with its own user.
    fn table(n: usize) -> MemoryDevices {
        let mut t = MemoryDevices::default();
        for i in 0..n {
            let email = format!("user{i}@example.com");
            let mut d = device(&format!("S{i:07}"), &email);
            if i % 3 == 0 {
                d.status = DeviceStatus::Enrolled;
            }
            if i % 2 == 0 {
                d.platform = Platform::Android;
            }
            t.devices.insert(d.serial.clone(), d);
            t.users.insert(
                email.clone(),
                UserRecord {
                    email: email.clone(),
                    address: email,
                    name: format!("User {i}"),
                    sam_account_name: None,
                    mobile: None,
                    domain: None,
                    import_id: "imp".into(),
                    updated_at: String::new(),
                },
            );
        }
        t
    }

    async fn queued(store: &MemoryExports, filter: ExportFilter) -> ExportState {
        let st = ExportState::queued(filter, None, "admin", "2026-11-22T10:00:00Z");
        store.save_export(&st).await.unwrap();
        st
    }

    const NEVER: &(dyn Fn() -> bool + Sync) = &|| false;

    fn lines(reports: &MemoryReports, key: &str) -> Vec<String> {
        let o = reports.objects.lock().unwrap();
        let text = String::from_utf8(o.get(key).expect("file written").clone()).unwrap();
        text.trim_start_matches('\u{feff}')
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    }

    #[tokio::test]
    async fn a_large_export_streams_every_match_in_full_parts_once() {
        // 60 k rows of ~110 bytes: more than one 5 MiB part.
        let source = table(120_000);
        let (store, reports) = (MemoryExports::default(), MemoryReports::default());
        let filter = ExportFilter {
            platform: Some(Platform::Ios),
            ..Default::default()
        };
        let st = queued(&store, filter.clone()).await;
        let out = run(&store, &source, &reports, "b", &st.export_id, 1, NEVER).await;
        assert_eq!(out.unwrap(), Outcome::Ready { rows: 60_000 });
        let lines = lines(&reports, &st.key);
        assert_eq!(lines.len(), 60_001, "header and every ios device");
        assert!(lines[0].starts_with("Name,Email,Ownership,Serial Number,Platform"));
        assert!(lines[1..].iter().all(|l| l.contains(",ios,")));
        assert!(
            reports.parts.lock().unwrap()[&st.key] >= 2,
            "streamed in parts"
        );
        let done = store.export(&st.export_id).await.unwrap().unwrap();
        assert_eq!(done.status, ExportStatus::Ready);
        assert_eq!(done.rows, 60_000);
        // Pages of 1,000 read, and one user batch per page.
        let requests = source.requests.load(std::sync::atomic::Ordering::Relaxed);
        assert!(requests <= 2 * (120_000 / PAGE + 2), "{requests} requests");

        // A repeated delivery finds it ready and writes nothing.
        reports.objects.lock().unwrap().clear();
        let again = run(&store, &source, &reports, "b", &st.export_id, 2, NEVER).await;
        assert_eq!(again.unwrap(), Outcome::AlreadyOver(ExportStatus::Ready));
        assert!(reports.objects.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn filters_combine_and_statuses_come_in_turn() {
        let source = table(300);
        let (store, reports) = (MemoryExports::default(), MemoryReports::default());
        let filter = ExportFilter {
            serial_prefix: Some("S00001".into()),
            ..Default::default()
        };
        let st = queued(&store, filter).await;
        run(&store, &source, &reports, "b", &st.export_id, 1, NEVER)
            .await
            .unwrap();
        let serials: Vec<String> = lines(&reports, &st.key)[1..]
            .iter()
            .map(|l| l.split(',').nth(3).unwrap().to_owned())
            .collect();
        let enrolled: Vec<String> = (100..200)
            .filter(|i| i % 3 == 0)
            .map(|i| format!("S{i:07}"))
            .collect();
        let pre: Vec<String> = (100..200)
            .filter(|i| i % 3 != 0)
            .map(|i| format!("S{i:07}"))
            .collect();
        assert_eq!(serials, [pre, enrolled].concat());
    }

    #[tokio::test]
    async fn a_failing_read_fails_the_export_and_leaves_no_file() {
        let mut source = table(5_000);
        source.fail_after = Some(3);
        let (store, reports) = (MemoryExports::default(), MemoryReports::default());
        let st = queued(&store, ExportFilter::default()).await;
        let out = run(&store, &source, &reports, "b", &st.export_id, 1, NEVER).await;
        assert_eq!(out.unwrap(), Outcome::Failed);
        let failed = store.export(&st.export_id).await.unwrap().unwrap();
        assert_eq!(failed.status, ExportStatus::Failed);
        assert!(failed.error.unwrap().contains("start the export again"));
        assert!(reports.objects.lock().unwrap().is_empty(), "no half file");
    }

    #[tokio::test]
    async fn out_of_time_or_attempts_it_says_how_to_narrow_it() {
        let source = table(3_000);
        let (store, reports) = (MemoryExports::default(), MemoryReports::default());
        let st = queued(&store, ExportFilter::default()).await;
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let late = move || calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2;
        let out = run(&store, &source, &reports, "b", &st.export_id, 1, &late).await;
        assert_eq!(out.unwrap(), Outcome::Failed);
        let failed = store.export(&st.export_id).await.unwrap().unwrap();
        let why = failed.error.unwrap();
        assert!(why.contains("ran out of time after 2000 devices"), "{why}");
        assert!(reports.objects.lock().unwrap().is_empty());

        // A delivery past the attempts (the function died each time) fails it, reading nothing.
        let st = queued(&store, ExportFilter::default()).await;
        let before = source.requests.load(std::sync::atomic::Ordering::Relaxed);
        let out = run(
            &store,
            &source,
            &reports,
            "b",
            &st.export_id,
            MAX_ATTEMPTS + 1,
            NEVER,
        );
        assert_eq!(out.await.unwrap(), Outcome::Failed);
        assert_eq!(
            source.requests.load(std::sync::atomic::Ordering::Relaxed),
            before
        );
        let failed = store.export(&st.export_id).await.unwrap().unwrap();
        assert!(failed.error.unwrap().contains("stopped 3 times"));

        let missing = run(&store, &source, &reports, "b", "nope", 1, NEVER).await;
        assert_eq!(missing.unwrap(), Outcome::Missing);
    }
}
