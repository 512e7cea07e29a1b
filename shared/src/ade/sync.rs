//! One account's sync with Apple: a full fetch first (and whenever the cursor
//! is refused, an admin asks, or a week has passed), then the changes since the
//! saved cursor. A page's cursor is saved only after its writes succeeded, so a
//! crash replays a page and never skips one.

use std::time::Duration;

use super::account::{
    AdeAccount, FetchProgress, FetchReason, Health, SyncReport, SyncState, Unsupported,
    UNSUPPORTED_LISTED,
};
use super::device::{latest_per_serial, Change};
use super::ports::{
    AdeAccounts, AdeDevices, AdeSecrets, DepConnector, DepError, DepSession, DevicePage,
    ListedDevice, StoreError,
};
use crate::port_error::PortError;

/// Apple's largest page.
pub const PAGE_LIMIT: u32 = 1000;
/// A full fetch at least this often: ABM sends no `deleted` when a device is
/// released, and sync cursors expire after 7 days anyway.
pub const RECONCILE_EVERY: u64 = 7 * 24 * 3600;
/// A run's lease; longer than the function's 15-minute limit, so a crashed
/// run's lease lapses before the schedule's next-but-one run.
pub const LEASE_SECONDS: u64 = 16 * 60;
/// Retries of a throttled or failing call within one run, waiting as Apple says.
const RETRIES: u32 = 3;
/// A `Retry-After` longer than this ends the run; the schedule retries after it.
const LONGEST_WAIT: Duration = Duration::from_secs(30);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);

/// What started the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The schedule: skipped while Apple's `Retry-After` has not passed.
    Scheduled,
    /// An admin's "Sync now" (with `full`: fetch everything and reconcile).
    Requested { full: bool },
}

#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Another run holds the account's lease.
    Busy,
    NotFound,
    /// Nothing to do now (no token yet, expired token, or waiting for `Retry-After`).
    Skipped(Health),
    /// The run ended: `report.complete` says whether everything was synced,
    /// and the state's health why not.
    Ran {
        report: SyncReport,
        health: Health,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("the account's sync lease was lost to another run; that run goes on")]
    LeaseLost,
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::LeaseLost => Self::LeaseLost,
            StoreError::Port(p) => Self::Port(p),
        }
    }
}

/// The ports one sync needs.
pub struct SyncPorts<'a, A, S, D, C> {
    pub accounts: &'a A,
    pub secrets: &'a S,
    pub devices: &'a D,
    pub apple: &'a C,
}

/// The run's clock and its end: `now` in epoch seconds.
pub struct RunClock<'a> {
    pub now: &'a (dyn Fn() -> u64 + Send + Sync),
    pub out_of_time: &'a (dyn Fn() -> bool + Send + Sync),
}

/// Syncs one account, if its lease is free. `owner` names this run (unique).
pub async fn sync_account<A, S, D, C>(
    ports: &SyncPorts<'_, A, S, D, C>,
    id: &str,
    trigger: Trigger,
    owner: &str,
    clock: &RunClock<'_>,
) -> Result<Outcome, SyncError>
where
    A: AdeAccounts,
    S: AdeSecrets,
    D: AdeDevices,
    C: DepConnector,
{
    let now = (clock.now)();
    if !ports
        .accounts
        .lease(id, owner, now, now + LEASE_SECONDS)
        .await?
    {
        return Ok(Outcome::Busy);
    }
    let result = leased(ports, id, trigger, owner, clock).await;
    // A failed release lapses by itself; the run's own outcome matters more.
    if let Err(e) = ports.accounts.release(id, owner).await {
        tracing::warn!(error = %e, "ade lease not released");
    }
    result
}

async fn leased<A, S, D, C>(
    ports: &SyncPorts<'_, A, S, D, C>,
    id: &str,
    trigger: Trigger,
    owner: &str,
    clock: &RunClock<'_>,
) -> Result<Outcome, SyncError>
where
    A: AdeAccounts,
    S: AdeSecrets,
    D: AdeDevices,
    C: DepConnector,
{
    let now = (clock.now)();
    let Some(account) = ports.accounts.get(id).await? else {
        return Ok(Outcome::NotFound);
    };
    let health = account.health_at(now);
    if matches!(health, Health::AwaitingToken | Health::TokenExpired) {
        if account.sync.health != health {
            let mut sync = account.sync.clone();
            sync.health = health;
            sync.message = None;
            ports.accounts.save_sync(id, owner, &sync).await?;
        }
        return Ok(Outcome::Skipped(health));
    }
    if trigger == Trigger::Scheduled && account.sync.retry_at.is_some_and(|t| t > now) {
        return Ok(Outcome::Skipped(account.sync.health));
    }
    let Some(token) = ports.secrets.token(id).await? else {
        return Ok(Outcome::Skipped(Health::AwaitingToken));
    };
    let session = ports.apple.connect(&token);
    let mut run = Run {
        ports,
        account: &account,
        owner,
        clock,
        session: &session,
        sync: account.sync.clone(),
        report: SyncReport {
            started_at: now,
            ..SyncReport::default()
        },
    };
    let result = run.go(trigger).await;
    run.finish(result).await
}

struct Run<'r, 'p, A, S, D, C: DepConnector> {
    ports: &'r SyncPorts<'p, A, S, D, C>,
    account: &'r AdeAccount,
    owner: &'r str,
    clock: &'r RunClock<'r>,
    session: &'r C::Session,
    sync: SyncState,
    report: SyncReport,
}

/// A page asked of Apple.
#[derive(Clone, Copy)]
enum Call<'c> {
    Fetch(Option<&'c str>),
    Sync(&'c str),
}

/// Why a run stopped before it was done.
enum Stop {
    OutOfTime,
    Apple(DepError),
    Store(SyncError),
}

impl From<SyncError> for Stop {
    fn from(e: SyncError) -> Self {
        Self::Store(e)
    }
}

impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Self::Store(e.into())
    }
}

impl From<PortError> for Stop {
    fn from(e: PortError) -> Self {
        Self::Store(e.into())
    }
}

impl<A, S, D, C> Run<'_, '_, A, S, D, C>
where
    A: AdeAccounts,
    S: AdeSecrets,
    D: AdeDevices,
    C: DepConnector,
{
    fn now(&self) -> u64 {
        (self.clock.now)()
    }

    async fn go(&mut self, trigger: Trigger) -> Result<(), Stop> {
        if let Some(reason) = self.full_fetch_reason(trigger) {
            if self.sync.fetch.is_none() {
                self.sync.fetch = Some(FetchProgress {
                    run: new_run(),
                    cursor: None,
                    reason,
                    started_at: self.now(),
                });
            }
            return self.fetch_all().await;
        }
        match self.changes().await {
            Err(Stop::Apple(DepError::CursorExpired | DepError::CursorInvalid)) => {
                self.sync.fetch = Some(FetchProgress {
                    run: new_run(),
                    cursor: None,
                    reason: FetchReason::CursorRefused,
                    started_at: self.now(),
                });
                self.fetch_all().await
            }
            other => other,
        }
    }

    /// Whether this run fetches everything, and why.
    fn full_fetch_reason(&self, trigger: Trigger) -> Option<FetchReason> {
        if let Some(f) = &self.sync.fetch {
            return Some(f.reason);
        }
        if trigger == (Trigger::Requested { full: true }) {
            return Some(FetchReason::Requested);
        }
        if let Some(r) = self.account.full_requested {
            // Done by a full fetch that started after the request.
            if self.sync.last_full_at.is_none_or(|started| r.at > started) {
                return Some(r.reason);
            }
        }
        if self.sync.cursor.is_none() {
            return Some(FetchReason::First);
        }
        match self.sync.last_full_at {
            Some(t) if self.now() < t + RECONCILE_EVERY => None,
            _ => Some(FetchReason::Weekly),
        }
    }

    /// `POST /server/devices` page by page, then the reconcile.
    async fn fetch_all(&mut self) -> Result<(), Stop> {
        self.report.kind = "fetch".into();
        let mut ahead = None;
        loop {
            let progress = self.sync.fetch.clone().expect("a fetch is under way");
            let answer = match ahead.take() {
                Some(answer) => answer,
                None => {
                    ask(
                        self.session,
                        self.clock,
                        Call::Fetch(progress.cursor.as_deref()),
                    )
                    .await
                }
            };
            let page = match answer {
                Ok(page) => page,
                // A fetch that has nothing more: the cursor in hand is the one to sync from.
                Err(Stop::Apple(DepError::CursorExhausted)) => DevicePage {
                    cursor: progress.cursor.clone(),
                    ..DevicePage::default()
                },
                // A resumed fetch whose cursor lapsed starts again (a new run mark).
                Err(Stop::Apple(DepError::CursorExpired | DepError::CursorInvalid))
                    if progress.cursor.is_some() =>
                {
                    self.sync.fetch = Some(FetchProgress {
                        run: new_run(),
                        cursor: None,
                        ..progress
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            ahead = self
                .apply_reading_ahead(&page, Some(&progress.run), true)
                .await?;
            let more = page.more_to_follow;
            let fetch = self.sync.fetch.as_mut().expect("a fetch is under way");
            if page.cursor.is_some() {
                fetch.cursor = page.cursor;
            }
            if !more {
                break;
            }
            self.save().await?;
            if (self.clock.out_of_time)() {
                return Err(Stop::OutOfTime);
            }
        }
        let done = self.sync.fetch.take().expect("a fetch is under way");
        let removal = self
            .ports
            .devices
            .remove_unseen(&self.account.id, &done.run)
            .await?;
        self.report.removed += removal.removed;
        self.report.kept += removal.kept;
        self.sync.cursor = done.cursor;
        // Its start: a full fetch asked for while it ran is still to do.
        self.sync.last_full_at = Some(done.started_at);
        self.save().await?;
        if (self.clock.out_of_time)() {
            return Err(Stop::OutOfTime);
        }
        // Changes made while the fetch ran are in the sync from its cursor.
        self.changes().await
    }

    /// `POST /devices/sync` from the saved cursor until Apple has no more.
    async fn changes(&mut self) -> Result<(), Stop> {
        if self.report.kind.is_empty() {
            self.report.kind = "sync".into();
        }
        let mut ahead = None;
        loop {
            let Some(cursor) = self.sync.cursor.clone() else {
                return Ok(());
            };
            let page = match ahead.take() {
                Some(answer) => answer,
                None => ask(self.session, self.clock, Call::Sync(&cursor)).await,
            }?;
            ahead = self.apply_reading_ahead(&page, None, false).await?;
            if page.cursor.is_some() {
                self.sync.cursor = page.cursor;
            }
            self.save().await?;
            if !page.more_to_follow {
                return Ok(());
            }
            if (self.clock.out_of_time)() {
                return Err(Stop::OutOfTime);
            }
        }
    }

    /// A page's writes while Apple is asked for the next page (when more follow
    /// and time is left): Apple's answer time and the table's write time overlap
    /// instead of adding up. The next page's answer, if asked. Its cursor is
    /// saved only after this page's writes, as always: a crash meanwhile asks
    /// for it again, and a page asked for and never applied changes nothing.
    async fn apply_reading_ahead(
        &mut self,
        page: &DevicePage,
        run: Option<&str>,
        fetch: bool,
    ) -> Result<Option<Result<DevicePage, Stop>>, Stop> {
        let cursor = page.cursor.as_deref();
        let Some(cursor) = cursor.filter(|_| page.more_to_follow && !(self.clock.out_of_time)())
        else {
            self.apply(page, run).await?;
            return Ok(None);
        };
        let next = match fetch {
            true => Call::Fetch(Some(cursor)),
            false => Call::Sync(cursor),
        };
        let (session, clock) = (self.session, self.clock);
        let (applied, answer) =
            futures::future::join(self.apply(page, run), ask(session, clock, next)).await;
        applied?;
        Ok(Some(answer))
    }

    /// One page's writes: pre-approvals, then removals.
    async fn apply(&mut self, page: &DevicePage, run: Option<&str>) -> Result<(), Stop> {
        self.report.pages += 1;
        let mut listed = Vec::new();
        let mut deleted = Vec::new();
        for device in latest_per_serial(page.devices.clone()) {
            match device.change(&self.account.id) {
                Change::Listed {
                    serial,
                    platform,
                    link,
                } => listed.push(ListedDevice {
                    serial,
                    platform,
                    link,
                }),
                Change::Deleted { serial } => deleted.push(serial),
                Change::Unsupported { serial, family } => {
                    self.report.unsupported += 1;
                    if self.report.unsupported_devices.len() < UNSUPPORTED_LISTED {
                        self.report
                            .unsupported_devices
                            .push(Unsupported { serial, family });
                    }
                }
                Change::Invalid { .. } => self.report.invalid += 1,
            }
        }
        self.report.listed += listed.len() as u64;
        if self.account.settings.preapprove {
            if !listed.is_empty() {
                let now = self.now();
                self.ports
                    .devices
                    .upsert(&self.account.settings, &listed, run, now)
                    .await?;
            }
            self.report.pre_approved += listed.len() as u64;
        } else {
            self.report.not_pre_approved += listed.len() as u64;
        }
        if !deleted.is_empty() {
            let removal = self
                .ports
                .devices
                .remove(&self.account.id, &deleted)
                .await?;
            self.report.removed += removal.removed;
            self.report.kept += removal.kept;
        }
        Ok(())
    }

    async fn save(&mut self) -> Result<(), StoreError> {
        self.report.requests = self.session.requests();
        self.sync.last_run = Some(self.report.clone());
        self.ports
            .accounts
            .save_sync(&self.account.id, self.owner, &self.sync)
            .await
    }

    /// Records how the run ended, in the account's state.
    async fn finish(mut self, result: Result<(), Stop>) -> Result<Outcome, SyncError> {
        let now = self.now();
        self.report.finished_at = now;
        self.report.complete = result.is_ok();
        match result {
            Ok(()) => {
                self.sync.health = Health::Ok;
                self.sync.message = None;
                self.sync.retry_at = None;
                self.sync.last_success_at = Some(now);
            }
            Err(Stop::OutOfTime) => {
                self.sync.health = Health::Ok;
                self.sync.message = None;
            }
            Err(Stop::Apple(e)) => {
                let (health, retry) = classify(&e);
                self.sync.health = health;
                self.sync.message = Some(e.to_string());
                self.sync.retry_at = retry.map(|d| now + d.as_secs().max(1));
            }
            Err(Stop::Store(e)) => {
                // The state is not saved: the error is the store's. A lost lease is another run's to record.
                self.report.requests = self.session.requests();
                return Err(e);
            }
        }
        self.save().await?;
        Ok(Outcome::Ran {
            report: self.report,
            health: self.sync.health,
        })
    }
}

/// One call to Apple, retried in place while Apple asks for a short wait.
async fn ask<S: DepSession>(
    session: &S,
    clock: &RunClock<'_>,
    call: Call<'_>,
) -> Result<DevicePage, Stop> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 0;
    loop {
        let answer = match call {
            Call::Fetch(cursor) => session.fetch(cursor, PAGE_LIMIT).await,
            Call::Sync(cursor) => session.sync(cursor, PAGE_LIMIT).await,
        };
        let retry_after = match &answer {
            Err(DepError::Throttled { retry_after })
            | Err(DepError::Unavailable { retry_after, .. }) => *retry_after,
            _ => return answer.map_err(Stop::Apple),
        };
        let wait = retry_after.unwrap_or(backoff).max(backoff);
        attempt += 1;
        if attempt > RETRIES || wait > LONGEST_WAIT || (clock.out_of_time)() {
            return answer.map_err(Stop::Apple);
        }
        tokio::time::sleep(wait).await;
        backoff *= 2;
    }
}

/// Marks the devices one full fetch lists (unique: two fetches never share one).
fn new_run() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The account's health after Apple's answer, and how long a scheduled run waits.
fn classify(e: &DepError) -> (Health, Option<Duration>) {
    match e {
        DepError::Unauthorized(_) => (Health::TokenRejected, None),
        DepError::TermsNotSigned => (Health::TermsNotAccepted, None),
        DepError::AccessDenied(_) => (Health::AccessDenied, None),
        DepError::Throttled { retry_after } | DepError::Unavailable { retry_after, .. } => {
            (Health::AppleUnavailable, *retry_after)
        }
        // A cursor refused twice in a row, or an answer not understood: the next run tries again.
        DepError::CursorExpired
        | DepError::CursorInvalid
        | DepError::CursorExhausted
        | DepError::Protocol(_) => (Health::AppleUnavailable, None),
    }
}

#[cfg(test)]
mod tests;
