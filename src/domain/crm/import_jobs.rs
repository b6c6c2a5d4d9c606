//! Imports as jobs. An upload is spooled to the upload folder and answered
//! at once with a stored `import_job`; a worker (one per instance) claims
//! queued jobs with a lease, like the webhook and bot outboxes, and imports
//! the file batch by batch.
//!
//! Promises:
//! - Each batch's writes, the job's progress (rows read, the report so far)
//!   and what the batch did to each lead (for the undo) commit in one
//!   transaction, and only while the worker still holds the lease. A job
//!   interrupted by a restart is taken up again when its lease runs out and
//!   goes on after the last committed batch (by row offset): no row is
//!   imported twice.
//! - `import.progress` goes to the importer after every batch and
//!   `import.completed` once, in the transaction that ends the job.
//! - Within the undo window (`IMPORT_UNDO_DAYS`) a finished import can be
//!   undone: the leads it created go to the trash, the leads it updated get
//!   their earlier values back and lose the contacts it added, each audited
//!   as `import_undo`. A lead changed by anything else since the import is
//!   left alone and listed in the undo's summary. Past the window, what the
//!   import changed is forgotten (`sweep`).

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::contacts;
use super::import::{self, FileFormat, ImportOptions, ImportReport, JobHooks, LeadChange};
use super::leads::{self, Lead};
use super::outgoing::Outgoing;
use crate::domain::actor::{Actor, Channel, Credential};
use crate::domain::audit::{self, FieldChange};
use crate::domain::clock::{db_time, Clock};
use crate::domain::cursor::{Page, TimeOrder};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::events::Event;
use crate::domain::permissions::Permission;
use crate::domain::{sessions, tokens, Ctx};
use crate::store::Transaction;

/// How import jobs run; built from the configuration once.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Where uploads are spooled.
    pub upload_dir: PathBuf,
    /// How long after it finished an import can be undone.
    pub undo_window: Duration,
    /// Rows a batch (one transaction) takes.
    pub batch_rows: usize,
    /// How long a worker holds a job between two batches.
    pub lease: Duration,
    /// How often an idle worker looks for work nobody woke it for (jobs
    /// whose worker died).
    pub poll: std::time::Duration,
    /// Test hook: the worker stops (as if the process died) after this many
    /// batches.
    pub stop_after_batches: Option<u64>,
    /// Pokes the worker when a job is queued.
    pub wake: Arc<tokio::sync::Notify>,
}

impl JobSettings {
    pub fn from_config(config: &crate::config::Config) -> Self {
        JobSettings {
            upload_dir: config.upload_dir.clone(),
            undo_window: Duration::days(config.import_undo_days as i64),
            batch_rows: config.import_batch_rows.max(1),
            lease: Duration::seconds(60),
            poll: std::time::Duration::from_secs(1),
            stop_after_batches: config.import_stop_after_batches,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const COMPLETED: &str = "completed";
pub const FAILED: &str = "failed";
pub const UNDONE: &str = "undone";

/// What an undo did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct UndoSummary {
    /// Leads the import created, now in the trash.
    pub trashed: usize,
    /// Leads the import updated, back to their earlier values.
    pub restored: usize,
    /// Leads left alone, with why (the first 1,000).
    pub left: Vec<LeftAlone>,
    pub left_count: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LeftAlone {
    pub lead: String,
    pub reason: String,
}

/// An import job as its owner sees it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportJob {
    pub id: String,
    pub owner: String,
    pub owner_name: String,
    pub file_name: Option<String>,
    pub format: String,
    pub dry_run: bool,
    pub policy: String,
    /// queued, running, completed, failed or undone.
    pub status: String,
    /// Data rows in the file, once counted.
    pub rows_total: Option<u64>,
    /// Data rows read and committed.
    pub rows_done: u64,
    /// 0 to 100.
    pub percent: u32,
    pub report: ImportReport,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Until when `undo` is allowed; absent when it is not (a dry run, a
    /// job still running, or one undone already).
    pub undo_until: Option<DateTime<Utc>>,
    pub undone_at: Option<DateTime<Utc>>,
    pub undone_by: Option<String>,
    pub undo: Option<UndoSummary>,
}

#[derive(Debug, Clone, Deserialize)]
struct JobRow {
    id: String,
    owner: String,
    owner_name: String,
    channel: String,
    format: String,
    file: String,
    file_name: Option<String>,
    dry_run: bool,
    policy: String,
    mapping: String,
    status: String,
    rows_total: Option<u64>,
    rows_done: u64,
    report: String,
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    undone_at: Option<DateTime<Utc>>,
    undone_by: Option<String>,
    undo: Option<String>,
}

const SELECT_JOB: &str = "SELECT record::id(id) AS id, owner, owner_name, channel, format, file,
    file_name, dry_run, policy, mapping, status, rows_total, rows_done, report, error,
    created_at, started_at, updated_at, finished_at, undone_at, undone_by, undo FROM";

impl JobRow {
    fn view(self, window: Duration) -> ImportJob {
        let report: ImportReport = serde_json::from_str(&self.report).unwrap_or_default();
        let percent = match (self.status.as_str(), self.rows_total) {
            (COMPLETED | UNDONE, _) => 100,
            (_, Some(total)) if total > 0 => ((self.rows_done * 100) / total).min(100) as u32,
            _ => 0,
        };
        let undoable = !self.dry_run && matches!(self.status.as_str(), COMPLETED | FAILED);
        ImportJob {
            undo_until: self.finished_at.filter(|_| undoable).map(|at| at + window),
            id: self.id,
            owner: self.owner,
            owner_name: self.owner_name,
            file_name: self.file_name,
            format: self.format,
            dry_run: self.dry_run,
            policy: self.policy,
            status: self.status,
            rows_total: self.rows_total,
            rows_done: self.rows_done,
            percent,
            report,
            error: self.error,
            created_at: self.created_at,
            started_at: self.started_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
            undone_at: self.undone_at,
            undone_by: self.undone_by,
            undo: self
                .undo
                .as_deref()
                .and_then(|u| serde_json::from_str(u).ok()),
        }
    }

    fn options(&self) -> DomainResult<ImportOptions> {
        Ok(ImportOptions {
            dry_run: self.dry_run,
            policy: self.policy.parse()?,
            mapping: serde_json::from_str(&self.mapping).unwrap_or_default(),
        })
    }
}

/// A spooled upload to make a job of.
pub struct NewJob {
    /// The file's name inside the upload folder.
    pub file: String,
    pub format: FileFormat,
    /// The name the client gave the file, if any.
    pub file_name: Option<String>,
    pub options: ImportOptions,
}

fn policy_name(options: &ImportOptions) -> &'static str {
    match options.policy {
        import::DuplicatePolicy::Skip => "skip",
        import::DuplicatePolicy::Update => "update",
        import::DuplicatePolicy::Create => "create",
    }
}

/// Stores a queued job for a spooled file and wakes the worker. With
/// `hold`, the job is created already leased to the caller, who runs it
/// (`run_held`) instead of the worker.
pub async fn create(
    ctx: &Ctx,
    actor: &Actor,
    job: NewJob,
    hold: Option<&str>,
) -> DomainResult<ImportJob> {
    import::require_import(ctx, actor)?;
    let settings = &ctx.import_jobs;
    let path = settings.upload_dir.join(&job.file);
    import::check_file(&path, job.format, &job.options.mapping).await?;
    let id = tokens::new_id();
    let now = ctx.now();
    let mut report = ImportReport::default();
    report.dry_run = job.options.dry_run;
    ctx.store
        .run(
            "CREATE type::record('import_job', $id) SET owner = $owner, owner_name = $owner_name,
                channel = $channel, format = $format, file = $file, file_name = $file_name,
                dry_run = $dry_run, policy = $policy, mapping = $mapping, status = 'queued',
                rows_done = 0, batches = 0, report = $report,
                lease = IF $lease THEN $lease ELSE NONE END,
                lease_until = IF $lease THEN <datetime>$until ELSE NONE END,
                created_at = <datetime>$now, updated_at = <datetime>$now",
            json!({
                "id": id,
                "owner": actor.user_id,
                "owner_name": actor.username,
                "channel": actor.channel.as_str(),
                "format": job.format.as_str(),
                "file": job.file,
                "file_name": job.file_name,
                "dry_run": job.options.dry_run,
                "policy": policy_name(&job.options),
                "mapping": serde_json::to_string(&job.options.mapping).unwrap_or_default(),
                "report": serde_json::to_string(&report).unwrap_or_default(),
                "lease": hold,
                "until": db_time(now + settings.lease),
                "now": db_time(now),
            }),
        )
        .await?;
    if hold.is_none() {
        settings.wake.notify_one();
    }
    load(ctx, &id)
        .await?
        .map(|row| row.view(settings.undo_window))
        .ok_or(DomainError::NotFound("import job"))
}

async fn load(ctx: &Ctx, id: &str) -> DomainResult<Option<JobRow>> {
    Ok(ctx
        .store
        .run(
            &format!("{SELECT_JOB} ONLY type::record('import_job', $id)"),
            json!({"id": id}),
        )
        .await?
        .first(0)?)
}

/// Whether the actor sees every importer's jobs, not only their own.
fn sees_all(actor: &Actor) -> bool {
    actor.can(Permission::LeadsImport) && actor.can(Permission::LeadsReadAll)
}

async fn load_visible(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<JobRow> {
    match load(ctx, id).await? {
        Some(row) if row.owner == actor.user_id || sees_all(actor) => Ok(row),
        _ => Err(DomainError::NotFound("import job")),
    }
}

/// One job: the importer's own, or anyone's for those who import and see
/// every lead.
pub async fn get(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<ImportJob> {
    actor.require(Permission::LeadsImport)?;
    Ok(load_visible(ctx, actor, id)
        .await?
        .view(ctx.import_jobs.undo_window))
}

/// The order of the import list: newest first, on the `import_job_owner`
/// index (or `import_job_created` for everyone's).
const JOB_ORDER: TimeOrder = TimeOrder::newest_first("import_job", "created_at");

/// The actor's imports, newest first, a page at a time (`limit` 1 to
/// 200); with `leads.import` and `leads.read.all`, everyone's.
pub async fn list(
    ctx: &Ctx,
    actor: &Actor,
    after: Option<&str>,
    limit: usize,
) -> DomainResult<Page<ImportJob>> {
    actor.require(Permission::LeadsImport)?;
    let owner: &[&str] = if sees_all(actor) {
        &[]
    } else {
        &["owner = $owner"]
    };
    let page = JOB_ORDER
        .page(
            &ctx.store,
            &format!("{SELECT_JOB} import_job"),
            owner,
            json!({"owner": actor.user_id}),
            after,
            limit,
            |r: &JobRow| (r.created_at, &r.id),
        )
        .await?;
    let window = ctx.import_jobs.undo_window;
    Ok(page.map(|r| r.view(window)))
}

/// The job's part in the import: its progress, written with each batch
/// while the lease holds.
struct JobRun {
    id: String,
    lease: String,
    lease_for: Duration,
    clock: Arc<dyn Clock>,
    skip: usize,
    report: Option<ImportReport>,
    rows_total: Option<u64>,
    rows_done: u64,
    batches_this_run: u64,
    stop_after: Option<u64>,
}

impl JobRun {
    fn push_held(&self, tx: &mut Transaction) {
        tx.push("IF array::len($import_job_held) = 0 { THROW 'the import job lease ran out' }");
    }
}

impl JobHooks for JobRun {
    fn skip_rows(&self) -> usize {
        self.skip
    }

    fn take_report(&mut self) -> Option<ImportReport> {
        self.report.take()
    }

    fn push_batch(&mut self, tx: &mut Transaction, report: &ImportReport, changes: &[LeadChange]) {
        let now = self.clock.now();
        self.rows_done = report.rows as u64;
        tx.bind(
            "import_job",
            json!({
                "id": self.id,
                "lease": self.lease,
                "rows": report.rows,
                "report": serde_json::to_string(report).unwrap_or_default(),
                "now": db_time(now),
                "until": db_time(now + self.lease_for),
            }),
        );
        tx.push(
            "LET $import_job_held = (UPDATE type::record('import_job', $import_job.id) SET
                status = 'running', rows_done = $import_job.rows, batches += 1,
                report = $import_job.report, updated_at = <datetime>$import_job.now,
                lease_until = <datetime>$import_job.until
             WHERE lease = $import_job.lease)",
        );
        self.push_held(tx);
        for change in changes {
            let n = tx.next_serial();
            let (lead, kind, before, contact, left_at) = match change {
                LeadChange::Created { lead, left_at } => (lead, "created", None, None, left_at),
                LeadChange::Updated {
                    before,
                    left_at,
                    contact,
                } => (
                    &before.id,
                    "updated",
                    serde_json::to_string(before).ok(),
                    contact.clone(),
                    left_at,
                ),
            };
            tx.bind(
                &format!("import_change_{n}"),
                json!({
                    "key": format!("{}_{lead}", self.id),
                    "job": self.id,
                    "lead": lead,
                    "kind": kind,
                    "before": before,
                    "contacts": contact.into_iter().collect::<Vec<_>>(),
                    "left_at": db_time(*left_at),
                }),
            );
            let before = if kind == "updated" {
                format!(", before = before ?? $import_change_{n}.before")
            } else {
                String::new()
            };
            tx.push(format!(
                "UPSERT type::record('import_change', $import_change_{n}.key) SET
                    job = $import_change_{n}.job, lead = $import_change_{n}.lead,
                    kind = kind ?? $import_change_{n}.kind{before},
                    contacts = array::union(contacts ?? [], $import_change_{n}.contacts),
                    left_at = <datetime>$import_change_{n}.left_at, undone = false"
            ));
        }
    }

    fn committed(&mut self) -> bool {
        self.batches_this_run += 1;
        self.stop_after
            .is_none_or(|limit| self.batches_this_run < limit)
    }

    fn push_finish(&mut self, tx: &mut Transaction, report: &ImportReport) {
        let now = self.clock.now();
        tx.bind(
            "import_job",
            json!({
                "id": self.id,
                "lease": self.lease,
                "rows": report.rows,
                "report": serde_json::to_string(report).unwrap_or_default(),
                "now": db_time(now),
            }),
        );
        tx.push(
            "LET $import_job_held = (UPDATE type::record('import_job', $import_job.id) SET
                status = 'completed', rows_done = $import_job.rows, report = $import_job.report,
                updated_at = <datetime>$import_job.now, finished_at = <datetime>$import_job.now,
                lease = NONE, lease_until = NONE
             WHERE lease = $import_job.lease)",
        );
        self.push_held(tx);
    }

    fn progress(&self) -> Value {
        let percent = match self.rows_total {
            Some(total) if total > 0 => (self.rows_done * 100 / total).min(100),
            _ => 0,
        };
        json!({"job": self.id, "rows_total": self.rows_total, "rows_done": self.rows_done,
               "percent": percent})
    }
}

/// How a claimed job's run ended.
enum RunEnd {
    Finished,
    /// The test hook stopped the worker.
    Stopped,
}

/// Runs a job created held by `lease` (`create` with `hold`) in the
/// caller's task and returns it finished. Should the caller go away, the
/// lease runs out and a worker takes the job up where it stopped.
pub async fn run_held(ctx: &Ctx, actor: &Actor, id: &str, lease: &str) -> DomainResult<ImportJob> {
    let row = load_visible(ctx, actor, id).await?;
    let now = ctx.now();
    ctx.store
        .run(
            "UPDATE type::record('import_job', $id) SET status = 'running',
                started_at = <datetime>$now, updated_at = <datetime>$now WHERE lease = $lease",
            json!({"id": id, "lease": lease, "now": db_time(now)}),
        )
        .await?;
    run_claimed(ctx, row, lease).await?;
    get(ctx, actor, id).await
}

/// Whether an error ends a job as failed: the file or the importer's rights,
/// which a retry would not change. Anything else (the store) is retried.
fn ends_the_job(e: &DomainError) -> bool {
    matches!(
        e,
        DomainError::Invalid { .. }
            | DomainError::Malformed { .. }
            | DomainError::Forbidden(_)
            | DomainError::Unauthenticated
            | DomainError::FeatureDisabled { .. }
    )
}

/// Imports a claimed job to its end (or until the test hook stops it).
/// A job that cannot go on (an unreadable file, an importer who lost the
/// right) is marked failed; a store error leaves it to be taken up again.
async fn run_claimed(ctx: &Ctx, row: JobRow, lease: &str) -> DomainResult<RunEnd> {
    let settings = &ctx.import_jobs;
    let path = settings.upload_dir.join(&row.file);
    let outcome = run_file(ctx, &row, &path, lease).await;
    match outcome {
        Ok(RunEnd::Finished) => {
            let _ = tokio::fs::remove_file(&path).await;
            Ok(RunEnd::Finished)
        }
        Ok(RunEnd::Stopped) => Ok(RunEnd::Stopped),
        Err(e) if !ends_the_job(&e) => {
            tracing::warn!(job = %row.id, error = %e, "an import job stopped; it is taken up again");
            // Let it be taken up again after a pause.
            let until = ctx.now() + Duration::seconds(30);
            ctx.store
                .run(
                    "UPDATE type::record('import_job', $id) SET lease = NONE,
                        lease_until = <datetime>$until WHERE lease = $lease",
                    json!({"id": row.id, "lease": lease, "until": db_time(until)}),
                )
                .await?;
            Err(e)
        }
        Err(e) => {
            let message = match &e {
                DomainError::Invalid { field, reason } => format!("{field}: {reason}"),
                DomainError::Unauthenticated => "the importer is no longer active".to_string(),
                other => other.to_string(),
            };
            let now = ctx.now();
            let failed: Option<Value> = ctx
                .store
                .run(
                    "UPDATE type::record('import_job', $id) SET status = 'failed', error = $error,
                        finished_at = <datetime>$now, updated_at = <datetime>$now,
                        lease = NONE, lease_until = NONE WHERE lease = $lease RETURN AFTER",
                    json!({"id": row.id, "lease": lease, "error": message, "now": db_time(now)}),
                )
                .await?
                .first(0)?;
            // Without the lease the job is someone else's now, file and all.
            if failed.is_some() {
                let _ = tokio::fs::remove_file(&path).await;
            }
            Ok(RunEnd::Finished)
        }
    }
}

async fn run_file(
    ctx: &Ctx,
    row: &JobRow,
    path: &std::path::Path,
    lease: &str,
) -> DomainResult<RunEnd> {
    let settings = &ctx.import_jobs;
    let channel = Channel::parse(&row.channel).unwrap_or(Channel::Api);
    let credential = Credential::ImportJob(row.id.clone());
    let actor = sessions::actor_for(ctx, &row.owner, channel, credential).await?;
    let format = FileFormat::parse(&row.format)
        .ok_or_else(|| DomainError::Internal(format!("unknown import format {}", row.format)))?;
    if !tokio::fs::try_exists(path).await.unwrap_or(false) {
        return Err(DomainError::invalid(
            "file",
            "the uploaded file is no longer there",
        ));
    }
    let rows_total = match row.rows_total {
        Some(total) => total,
        None => {
            let total = import::count_rows(path, format).await? as u64;
            ctx.store
                .run(
                    "UPDATE type::record('import_job', $id) SET rows_total = $total
                        WHERE lease = $lease",
                    json!({"id": row.id, "lease": lease, "total": total}),
                )
                .await?;
            total
        }
    };
    let report: ImportReport = serde_json::from_str(&row.report).unwrap_or_default();
    let mut hooks = JobRun {
        id: row.id.clone(),
        lease: lease.to_string(),
        lease_for: settings.lease,
        clock: ctx.clock.clone(),
        skip: row.rows_done as usize,
        report: (row.rows_done > 0).then_some(report),
        rows_total: Some(rows_total),
        rows_done: row.rows_done,
        batches_this_run: 0,
        stop_after: settings.stop_after_batches,
    };
    let done = import::import_file(
        ctx,
        &actor,
        path,
        format,
        row.options()?,
        settings.batch_rows,
        &mut hooks,
    )
    .await?;
    Ok(match done {
        Some(_) => RunEnd::Finished,
        None => RunEnd::Stopped,
    })
}

/// Takes the oldest job that is queued, or whose worker let its lease run
/// out.
async fn claim_next(ctx: &Ctx, lease: &str) -> DomainResult<Option<JobRow>> {
    #[derive(Deserialize)]
    struct Candidate {
        id: String,
    }
    let now = ctx.now();
    let candidates: Vec<Candidate> = ctx
        .store
        .run(
            "SELECT record::id(id) AS id, created_at FROM import_job
             WHERE status IN ['queued', 'running']
                AND (lease_until = NONE OR lease_until <= <datetime>$now)
             ORDER BY created_at ASC LIMIT 5",
            json!({"now": db_time(now)}),
        )
        .await?
        .rows(0)?;
    for candidate in candidates {
        let claimed: Option<Value> = ctx
            .store
            .run(
                "UPDATE type::record('import_job', $id) SET lease = $lease,
                    lease_until = <datetime>$until, status = 'running',
                    started_at = started_at ?? <datetime>$now, updated_at = <datetime>$now
                 WHERE status IN ['queued', 'running']
                    AND (lease_until = NONE OR lease_until <= <datetime>$now)
                 RETURN AFTER",
                json!({
                    "id": candidate.id,
                    "lease": lease,
                    "now": db_time(now),
                    "until": db_time(now + ctx.import_jobs.lease),
                }),
            )
            .await?
            .first(0)?;
        if claimed.is_some() {
            return load(ctx, &candidate.id).await;
        }
    }
    Ok(None)
}

/// The worker: one per instance, one job at a time, woken when a job is
/// queued and looking every `poll` for jobs whose worker died.
pub async fn run_worker(ctx: Arc<Ctx>) {
    let lease = tokens::new_id();
    let settings = ctx.import_jobs.clone();
    let mut last_sweep = std::time::Instant::now() - SWEEP_EVERY;
    loop {
        match claim_next(&ctx, &lease).await {
            Ok(Some(row)) => {
                let id = row.id.clone();
                match run_claimed(&ctx, row, &lease).await {
                    Ok(RunEnd::Finished) => {}
                    Ok(RunEnd::Stopped) => {
                        tracing::warn!(job = %id, "the import worker stopped by its test hook");
                        return;
                    }
                    Err(e) => tracing::warn!(job = %id, error = %e, "import job"),
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "looking for import jobs"),
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = std::time::Instant::now();
            if let Err(e) = sweep(&ctx, 20).await {
                tracing::warn!(error = %e, "forgetting the changes of old imports");
            }
        }
        tokio::select! {
            _ = settings.wake.notified() => {}
            _ = tokio::time::sleep(settings.poll) => {}
        }
    }
}

const UNDO_BATCH: usize = 200;

/// How often an idle worker forgets the changes of imports past their undo
/// window.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// Notes a lead the undo leaves alone; returns the reason.
fn leave(summary: &mut UndoSummary, lead: &str, reason: &str) -> String {
    summary.left_count += 1;
    if summary.left.len() < MAX_LEFT_REPORTED {
        summary.left.push(LeftAlone {
            lead: lead.to_string(),
            reason: reason.to_string(),
        });
    }
    reason.to_string()
}
const MAX_LEFT_REPORTED: usize = 1000;

#[derive(Debug, Deserialize)]
struct ChangeRow {
    id: String,
    lead: String,
    kind: String,
    before: Option<String>,
    #[serde(default)]
    contacts: Vec<String>,
    left_at: DateTime<Utc>,
}

/// Undoes a finished import within the undo window: the importer, or
/// anyone who imports and sees every lead. Leads changed since the import
/// by anything else are left alone and listed in the summary.
pub async fn undo(ctx: &Ctx, actor: &Actor, id: &str) -> DomainResult<ImportJob> {
    import::require_import(ctx, actor)?;
    let row = load_visible(ctx, actor, id).await?;
    let window = ctx.import_jobs.undo_window;
    if row.dry_run {
        return Err(DomainError::Conflict(
            "a dry run changed nothing, so there is nothing to undo".into(),
        ));
    }
    match row.status.as_str() {
        COMPLETED | FAILED => {}
        UNDONE => {
            return Err(DomainError::Conflict(
                "this import is undone already".into(),
            ))
        }
        _ => {
            return Err(DomainError::Conflict(
                "this import is still running; undo it once it has finished".into(),
            ))
        }
    }
    let now = ctx.now();
    let finished = row.finished_at.unwrap_or(row.updated_at);
    if now > finished + window {
        return Err(DomainError::Conflict(format!(
            "an import can be undone for {} days after it finished; this one finished on {}",
            window.num_days(),
            finished.format("%Y-%m-%d")
        )));
    }
    let mut summary: UndoSummary = row
        .undo
        .as_deref()
        .and_then(|u| serde_json::from_str(u).ok())
        .unwrap_or_default();
    loop {
        let changes: Vec<ChangeRow> = ctx
            .store
            .run(
                "SELECT record::id(id) AS id, lead, kind, before, contacts, left_at
                 FROM import_change WHERE job = $job AND undone = false LIMIT $limit",
                json!({"job": id, "limit": UNDO_BATCH}),
            )
            .await?
            .rows(0)?;
        if changes.is_empty() {
            break;
        }
        undo_batch(ctx, actor, id, changes, &mut summary).await?;
    }
    ctx.store
        .run(
            "UPDATE type::record('import_job', $id) SET status = 'undone',
                undone_at = <datetime>$now, undone_by = $by, undo = $undo,
                updated_at = <datetime>$now",
            json!({
                "id": id,
                "now": db_time(now),
                "by": actor.user_id,
                "undo": serde_json::to_string(&summary).unwrap_or_default(),
            }),
        )
        .await?;
    get(ctx, actor, id).await
}

async fn undo_batch(
    ctx: &Ctx,
    actor: &Actor,
    job: &str,
    changes: Vec<ChangeRow>,
    summary: &mut UndoSummary,
) -> DomainResult<()> {
    let now = ctx.now();
    let ids: Vec<String> = changes.iter().map(|c| c.lead.clone()).collect();
    let stored = leads::find_many(ctx, &ids).await?;
    let mut tx = Transaction::new();
    let mut out = Outgoing::new();
    for change in changes {
        let result = match stored.get(&change.lead) {
            None => leave(summary, &change.lead, "the lead no longer exists"),
            // The store keeps microseconds.
            Some(lead)
                if lead.updated_at.timestamp_micros() != change.left_at.timestamp_micros() =>
            {
                leave(
                    summary,
                    &change.lead,
                    "the lead was changed after the import",
                )
            }
            Some(lead) if change.kind == "created" => {
                if lead.deleted_at.is_none() {
                    let names = contacts::search_names_of(ctx, &lead.id).await?;
                    leads::push_deleted(
                        &mut tx,
                        &mut out,
                        actor,
                        lead,
                        Some(now),
                        "import_undo",
                        &names,
                        now,
                    );
                }
                summary.trashed += 1;
                "trashed".to_string()
            }
            Some(lead) => {
                match change
                    .before
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<Lead>(b).ok())
                {
                    Some(before) => {
                        restore(
                            &mut tx,
                            &mut out,
                            ctx,
                            actor,
                            lead,
                            before,
                            &change.contacts,
                            now,
                        )
                        .await?;
                        summary.restored += 1;
                        "restored".to_string()
                    }
                    None => leave(summary, &change.lead, "the earlier values were not kept"),
                }
            }
        };
        let n = tx.next_serial();
        tx.bind(&format!("undone_{n}"), &change.id);
        tx.bind(&format!("undone_result_{n}"), &result);
        tx.push(format!(
            "UPDATE type::record('import_change', $undone_{n}) SET undone = true,
                result = $undone_result_{n}"
        ));
    }
    // The summary so far goes with the batch, so an undo cut off and asked
    // again goes on and counts everything.
    tx.bind("undo_job", job).bind(
        "undo_summary",
        serde_json::to_string(summary).unwrap_or_default(),
    );
    tx.push("UPDATE type::record('import_job', $undo_job) SET undo = $undo_summary");
    out.commit(ctx, tx).await?;
    Ok(())
}

/// Forgets what finished imports changed once their undo window has
/// passed: at most `limit` jobs a call.
pub async fn sweep(ctx: &Ctx, limit: usize) -> DomainResult<usize> {
    #[derive(Deserialize)]
    struct Expired {
        id: String,
    }
    let cutoff = ctx.now() - ctx.import_jobs.undo_window;
    let expired: Vec<Expired> = ctx
        .store
        .run(
            "SELECT record::id(id) AS id, finished_at FROM import_job
             WHERE changes_kept = true AND finished_at < <datetime>$cutoff LIMIT $limit",
            json!({"cutoff": db_time(cutoff), "limit": limit}),
        )
        .await?
        .rows(0)?;
    for job in &expired {
        ctx.store
            .run(
                "DELETE import_change WHERE job = $id;
                 UPDATE type::record('import_job', $id) SET changes_kept = false;",
                json!({"id": job.id}),
            )
            .await?;
    }
    Ok(expired.len())
}

/// Puts back the values `lead` had before the import and removes the
/// contacts the import added to it, audited.
#[allow(clippy::too_many_arguments)]
async fn restore(
    tx: &mut Transaction,
    out: &mut Outgoing,
    ctx: &Ctx,
    actor: &Actor,
    lead: &Lead,
    before: Lead,
    added: &[String],
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let kept: Vec<contacts::Contact> = contacts::of_lead(ctx, &lead.id)
        .await?
        .into_iter()
        .filter(|c| !added.contains(&c.id))
        .collect();
    let removed: Vec<contacts::Contact> = contacts::of_lead(ctx, &lead.id)
        .await?
        .into_iter()
        .filter(|c| added.contains(&c.id))
        .collect();
    for contact in &removed {
        let n = tx.next_serial();
        tx.bind(&format!("undo_contact_{n}"), &contact.id);
        tx.push(format!("DELETE type::record('contact', $undo_contact_{n})"));
        let changes: Vec<FieldChange> = audit::diff(&contacts::audited(contact), &json!({}), &[]);
        audit::record_about(
            tx,
            actor,
            Some(&lead.id),
            "contact",
            &contact.id,
            "import_undo",
            &changes,
            now,
        );
    }
    let mut after = before;
    // What the import did not touch stays as it is now.
    after.score = lead.score;
    after.deleted_at = lead.deleted_at;
    after.last_contacted_at = lead.last_contacted_at;
    after.next_follow_up_at = lead.next_follow_up_at;
    after.updated_at = now;
    let names = contacts::search_names(&kept);
    leads::push_update(tx, lead, &after, &names);
    let changes = audit::diff(&leads::audited(lead), &leads::audited(&after), &[]);
    audit::record_about(
        tx,
        actor,
        Some(&lead.id),
        "lead",
        &lead.id,
        "import_undo",
        &changes,
        now,
    );
    out.add(Event::new(
        "lead.updated",
        leads::audience(&after),
        json!({"lead": after, "via": actor.channel}),
    ));
    Ok(())
}
