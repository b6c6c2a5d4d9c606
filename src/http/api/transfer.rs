//! `/leads/import`, `/leads/export`, `/leads/{id}/timeline` and `/audit`.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem::Body;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiRequest, ApiResponse, Object, OpenApi};

use super::leads::LeadFilterQuery;
use super::ApiTags;
use crate::domain::audit::AuditRow;
use crate::domain::audit_text::{ChangeText, Described};
use crate::domain::crm::export;
use crate::domain::crm::import::{
    self, FileFormat, ImportOptions, ImportReport, NameRead, RowError,
};
use crate::domain::crm::import_jobs::{self, ImportJob, UndoSummary};
use crate::domain::crm::query::LeadFilter;
use crate::domain::crm::timeline::{self, AuditFilter, TimelineItem};
use crate::domain::cursor::Page;
use crate::domain::error::DomainError;
use crate::http::auth::Auth;
use crate::http::error::ApiResult;
use crate::http::idempotency::{self, Idempotent, KeyHeader};
use crate::http::query_params::query_params;
use crate::http::AppState;

pub struct TransferApi;

#[derive(ApiRequest)]
enum CsvUpload {
    /// The CSV file as the request body.
    #[oai(content_type = "text/csv")]
    Csv(Binary<Body>),
    #[oai(content_type = "application/octet-stream")]
    Bytes(Binary<Body>),
    /// An Excel workbook; its first sheet is read.
    #[oai(content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]
    Xlsx(Binary<Body>),
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct RowErrorView {
    /// The line in the file; the header is line 1.
    row: u64,
    column: Option<String>,
    reason: String,
}

impl From<RowError> for RowErrorView {
    fn from(e: RowError) -> Self {
        RowErrorView {
            row: e.row as u64,
            column: e.column,
            reason: e.reason,
        }
    }
}

/// A country or state the file gave by name, and the ISO code it was read
/// as: country "Germany" read as DE.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct NameReadView {
    /// `country` or `state`.
    field: String,
    /// The column it was read from.
    column: Option<String>,
    /// As written in the file.
    typed: String,
    /// The ISO 3166 code stored.
    read_as: String,
    /// The first row (line) with this spelling; the header is line 1.
    first_row: u64,
    /// How many rows had this spelling.
    rows: u64,
}

impl From<NameRead> for NameReadView {
    fn from(n: NameRead) -> Self {
        NameReadView {
            field: n.field,
            column: n.column,
            typed: n.typed,
            read_as: n.read_as,
            first_row: n.first_row as u64,
            rows: n.rows as u64,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ImportReportView {
    dry_run: bool,
    rows: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    skipped: u64,
    failed: u64,
    contacts_added: u64,
    /// Field -> the column it was read from.
    mapping: BTreeMap<String, String>,
    errors: Vec<RowErrorView>,
    /// Countries and states given by name rather than code, one entry per
    /// spelling (the first 1,000), with the code each was read as.
    names_read: Vec<NameReadView>,
}

impl From<ImportReport> for ImportReportView {
    fn from(r: ImportReport) -> Self {
        ImportReportView {
            dry_run: r.dry_run,
            rows: r.rows as u64,
            created: r.created as u64,
            updated: r.updated as u64,
            unchanged: r.unchanged as u64,
            skipped: r.skipped as u64,
            failed: r.failed as u64,
            contacts_added: r.contacts_added as u64,
            mapping: r.mapping,
            errors: r.errors.into_iter().map(Into::into).collect(),
            names_read: r.names_read.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(ApiResponse)]
enum ImportAnswer {
    /// `wait=true`: the import ran to its end; its report.
    #[oai(status = 200)]
    Report(Json<ImportReportView>),
    /// The job is queued; follow it at `GET /leads/imports/{id}`.
    #[oai(status = 202)]
    Accepted(Json<ImportJobAnswer>),
}

impl ImportAnswer {
    /// The status and JSON text of this answer, as `Idempotent` sends and
    /// keeps it.
    fn parts(self) -> (poem::http::StatusCode, String) {
        match self {
            ImportAnswer::Report(Json(report)) => {
                (poem::http::StatusCode::OK, idempotency::json_text(&report))
            }
            ImportAnswer::Accepted(Json(job)) => (
                poem::http::StatusCode::ACCEPTED,
                idempotency::json_text(&job),
            ),
        }
    }
}

#[derive(Object)]
struct ImportJobAnswer {
    job: Box<ImportJobView>,
}

/// A page of imports.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ImportJobPageView {
    /// Newest first.
    items: Vec<ImportJobView>,
    /// Pass as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl From<Page<ImportJob>> for ImportJobPageView {
    fn from(p: Page<ImportJob>) -> Self {
        ImportJobPageView {
            items: p.items.into_iter().map(Into::into).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// A lead an undo left alone, and why.
#[derive(Object)]
struct LeftAloneView {
    lead: String,
    reason: String,
}

impl From<import_jobs::LeftAlone> for LeftAloneView {
    fn from(l: import_jobs::LeftAlone) -> Self {
        LeftAloneView {
            lead: l.lead,
            reason: l.reason,
        }
    }
}

#[derive(Object)]
struct UndoSummaryView {
    /// Leads the import created, now in the trash.
    trashed: u64,
    /// Leads the import updated, back to their earlier values.
    restored: u64,
    /// Leads left alone because they changed after the import (the first 1,000).
    left: Vec<LeftAloneView>,
    left_count: u64,
}

impl From<UndoSummary> for UndoSummaryView {
    fn from(u: UndoSummary) -> Self {
        UndoSummaryView {
            trashed: u.trashed as u64,
            restored: u.restored as u64,
            left: u.left.into_iter().map(Into::into).collect(),
            left_count: u.left_count as u64,
        }
    }
}

/// An import job: a file being imported in the background.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ImportJobView {
    id: String,
    /// The importer's user id and username.
    owner: String,
    owner_name: String,
    file_name: Option<String>,
    /// csv or xlsx.
    format: String,
    dry_run: bool,
    /// skip, update or create.
    policy: String,
    /// queued, running, completed, failed or undone.
    status: String,
    /// Data rows in the file, once counted.
    rows_total: Option<u64>,
    /// Data rows imported so far.
    rows_done: u64,
    /// 0 to 100.
    percent: u32,
    /// The report so far; final once the job completed.
    report: ImportReportView,
    /// Why the job failed.
    error: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    /// Until when the import can be undone; absent when it cannot.
    undo_until: Option<DateTime<Utc>>,
    undone_at: Option<DateTime<Utc>>,
    undone_by: Option<String>,
    undo: Option<UndoSummaryView>,
}

impl From<ImportJob> for ImportJobView {
    fn from(j: ImportJob) -> Self {
        ImportJobView {
            id: j.id,
            owner: j.owner,
            owner_name: j.owner_name,
            file_name: j.file_name,
            format: j.format,
            dry_run: j.dry_run,
            policy: j.policy,
            status: j.status,
            rows_total: j.rows_total,
            rows_done: j.rows_done,
            percent: j.percent,
            report: j.report.into(),
            error: j.error,
            created_at: j.created_at,
            started_at: j.started_at,
            updated_at: j.updated_at,
            finished_at: j.finished_at,
            undo_until: j.undo_until,
            undone_at: j.undone_at,
            undone_by: j.undone_by,
            undo: j.undo.map(Into::into),
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ImportColumnView {
    /// The header as written in the file.
    header: String,
    /// The field it fills automatically; absent: ignored unless mapped.
    field: Option<String>,
    /// This column's values in the first data rows.
    samples: Vec<String>,
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct ImportColumnsView {
    columns: Vec<ImportColumnView>,
    /// Every field a column can be mapped to.
    fields: Vec<String>,
}

impl From<import::ColumnPreview> for ImportColumnsView {
    fn from(p: import::ColumnPreview) -> Self {
        let columns = p
            .headers
            .iter()
            .enumerate()
            .map(|(i, header)| ImportColumnView {
                header: header.clone(),
                field: p.fields.get(i).copied().flatten().map(str::to_string),
                samples: p
                    .samples
                    .iter()
                    .map(|row| row.get(i).cloned().unwrap_or_default())
                    .collect(),
            })
            .collect();
        ImportColumnsView {
            columns,
            fields: import::FIELDS.iter().map(|f| f.to_string()).collect(),
        }
    }
}

#[derive(ApiResponse)]
enum CsvDownload {
    /// The leads as CSV, with the import's column names.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(Binary<Body>, #[oai(header = "Content-Disposition")] String),
}

#[derive(ApiResponse)]
enum AuditCsv {
    /// The audit rows as CSV: at, actor, channel, sentence, entity,
    /// entity_id, action, field, before, after.
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(
        Binary<Vec<u8>>,
        #[oai(header = "Content-Disposition")] String,
    ),
}

/// A page of a lead's timeline.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TimelinePage {
    items: Vec<TimelineItemView>,
    /// Pass back as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// A page of the audit log (or of one task's trail).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(crate) struct AuditPage {
    /// Newest first.
    items: Vec<AuditRowView>,
    /// Pass back as `after` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

impl AuditPage {
    /// A page of described rows and the cursor of the next.
    pub(crate) fn new(rows: Vec<(AuditRow, Described)>, next_cursor: Option<String>) -> Self {
        AuditPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
struct TimelineItemView {
    at: DateTime<Utc>,
    /// change, follow_up, call, note or message (the lead's discussion room).
    kind: String,
    /// Who did it, by display name.
    actor: Option<String>,
    /// A sentence with names: "Anna changed the status of Acme GmbH from
    /// New to Contacted".
    summary: String,
    /// For a change: each field, its value before and after, readable.
    changes: Vec<ChangeTextView>,
    details: serde_json::Value,
}

/// One changed field, worded for people (ids replaced by names, no JSON).
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(crate) struct ChangeTextView {
    field: String,
    label: String,
    /// Absent: nothing was there.
    before: Option<String>,
    /// Absent: nothing is there now.
    after: Option<String>,
}

impl From<ChangeText> for ChangeTextView {
    fn from(c: ChangeText) -> Self {
        ChangeTextView {
            field: c.field,
            label: c.label,
            before: c.before,
            after: c.after,
        }
    }
}

impl From<TimelineItem> for TimelineItemView {
    fn from(t: TimelineItem) -> Self {
        TimelineItemView {
            at: t.at,
            kind: t.kind,
            actor: t.actor,
            summary: t.summary,
            changes: t.changes.into_iter().map(Into::into).collect(),
            details: t.details,
        }
    }
}

#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub(crate) struct AuditRowView {
    id: String,
    at: DateTime<Utc>,
    actor: Option<String>,
    actor_name: Option<String>,
    /// api, web, telegram, discord or system.
    channel: String,
    entity: String,
    entity_id: String,
    action: String,
    field: Option<String>,
    /// JSON text of the value before.
    old: Option<String>,
    /// JSON text of the value after.
    new: Option<String>,
    subject: Option<String>,
    /// Who acted, by display name ("The system" for the service itself).
    actor_display: String,
    /// What it was done to, by name.
    target: String,
    /// The row as a sentence with names.
    sentence: String,
    /// The change, readable: before → after.
    changes: Vec<ChangeTextView>,
}

impl From<(AuditRow, Described)> for AuditRowView {
    fn from((r, d): (AuditRow, Described)) -> Self {
        AuditRowView {
            actor_display: d.actor,
            target: d.target,
            sentence: d.sentence,
            changes: d.changes.into_iter().map(Into::into).collect(),
            id: r.id,
            at: r.at,
            actor: r.actor,
            actor_name: r.actor_name,
            channel: r.channel,
            entity: r.entity,
            entity_id: r.entity_id,
            action: r.action,
            field: r.field,
            old: r.old,
            new: r.new,
            subject: r.subject,
        }
    }
}

#[OpenApi(tag = "ApiTags::Leads")]
impl TransferApi {
    /// Import leads and contacts from CSV or XLSX as a job. The file is
    /// stored and the answer comes at once (202) with the job, which runs in
    /// the background: follow it at `GET /leads/imports/{id}` or by the
    /// `import.progress` socket events; `import.completed` fires once at the
    /// end. Bad rows are reported while good rows go in; duplicates (same
    /// domain, company name or contact email) follow `policy`; `dry_run`
    /// checks without writing. A file or mapping that cannot be read is
    /// refused before a job is made. With `wait=true` the request runs the
    /// job itself and answers (200) with the finished report.
    #[oai(path = "/leads/import", method = "post")]
    #[allow(clippy::too_many_arguments)]
    async fn import(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// Check and report without writing.
        dry_run: Query<Option<bool>>,
        /// skip (default), update or create.
        policy: Query<Option<String>>,
        /// JSON object header -> field, for columns the auto-mapping misses.
        mapping: Query<Option<String>>,
        /// Run the import within this request and answer with its report.
        wait: Query<Option<bool>>,
        /// The file's name, shown in the list of imports.
        name: Query<Option<String>>,
        /// 1 to 255 printable characters naming this upload: a retry with
        /// the same key, options and file gets the first answer again
        /// instead of a second job (kept 24 h).
        #[oai(name = "Idempotency-Key")]
        idempotency_key: KeyHeader,
        body: CsvUpload,
    ) -> ApiResult<Idempotent<(), ImportAnswer>> {
        let mapping: BTreeMap<String, String> =
            match mapping.0.as_deref().filter(|m| !m.trim().is_empty()) {
                Some(m) => serde_json::from_str(m).map_err(|_| {
                    DomainError::invalid("mapping", "must be a JSON object of header to field")
                })?,
                None => BTreeMap::new(),
            };
        let options = ImportOptions {
            dry_run: dry_run.0.unwrap_or(false),
            policy: policy.0.as_deref().unwrap_or("skip").parse()?,
            mapping,
        };
        // Refused before a byte of the upload is read or spooled.
        import::require_import(&state.ctx, auth.actor())?;
        let (body, format) = match body {
            CsvUpload::Csv(Binary(body)) | CsvUpload::Bytes(Binary(body)) => {
                (body, FileFormat::Csv)
            }
            CsvUpload::Xlsx(Binary(body)) => (body, FileFormat::Xlsx),
        };
        // The file is spooled to disk (never into memory) so the job can
        // read it again after a restart.
        let file = format!(
            ".import-{}.{}",
            uuid::Uuid::new_v4().simple(),
            format.as_str()
        );
        let path = state.config.upload_dir.join(&file);
        let wait = wait.0.unwrap_or(false);
        let lease = wait.then(crate::domain::tokens::new_id);
        if let Err(e) = spool(body, &path).await {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(e.into());
        }
        // A retry is the same options and the same file.
        let request = match &idempotency_key.0 {
            Some(_) => serde_json::json!({
                "dry_run": options.dry_run,
                "policy": policy.0.as_deref(),
                "mapping": options.mapping,
                "wait": wait,
                "name": name.0.as_deref(),
                "format": format.as_str(),
                "file": file_digest(&path).await?,
            }),
            None => serde_json::Value::Null,
        };
        let new_job = import_jobs::NewJob {
            file,
            format,
            file_name: name.0.map(|n| n.chars().take(200).collect()),
            options,
        };
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (ctx, actor, spooled) = (Arc::clone(&state.ctx), auth.actor().clone(), path.clone());
        let run = {
            let ran = Arc::clone(&ran);
            async move {
                ran.store(true, std::sync::atomic::Ordering::SeqCst);
                let job = match import_jobs::create(&ctx, &actor, new_job, lease.as_deref()).await {
                    Ok(job) => job,
                    Err(e) => {
                        let _ = tokio::fs::remove_file(&spooled).await;
                        return Err(e);
                    }
                };
                let Some(lease) = lease else {
                    return Ok(ImportAnswer::Accepted(Json(ImportJobAnswer {
                        job: Box::new(job.into()),
                    }))
                    .parts());
                };
                let job = import_jobs::run_held(&ctx, &actor, &job.id, &lease).await?;
                if job.status == import_jobs::FAILED {
                    return Err(DomainError::invalid(
                        "file",
                        job.error.unwrap_or_else(|| "the import failed".into()),
                    ));
                }
                Ok(ImportAnswer::Report(Json(job.report.into())).parts())
            }
        };
        let answer = idempotency::once_with_status(
            &state.ctx,
            auth.actor(),
            "leads.import",
            idempotency_key.0.as_deref(),
            request,
            run,
        )
        .await;
        // A retry answered from the first upload, or a key refused, made
        // no job of this copy of the file.
        let kept = answer.as_ref().is_ok_and(|a| a.replayed());
        if kept || !ran.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = tokio::fs::remove_file(&path).await;
        }
        answer
    }

    /// The caller's imports, newest first, a page at a time; with `leads.import` and
    /// `leads.read.all`, everyone's.
    #[oai(path = "/leads/imports", method = "get")]
    async fn imports(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// 1 to 200, default 50.
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<ImportJobPageView>> {
        let limit = limit.0.unwrap_or(50) as usize;
        Ok(Json(
            import_jobs::list(&state.ctx, auth.actor(), after.0.as_deref(), limit)
                .await?
                .into(),
        ))
    }

    /// One import: its status, progress and report (so far).
    #[oai(path = "/leads/imports/:id", method = "get")]
    async fn import_job(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<ImportJobView>> {
        let job = import_jobs::get(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(job.into()))
    }

    /// Undoes a finished import within the undo window (`IMPORT_UNDO_DAYS`,
    /// default 7): the leads it created go to the trash, the leads it
    /// updated get their earlier values back and lose the contacts it added,
    /// all audited as `import_undo`. A lead changed by anything else since
    /// the import is left alone and listed in `undo.left`. The importer, or
    /// anyone with `leads.import` and `leads.read.all`, may undo. 409 for a
    /// dry run, a job still running, one undone already, or after the window.
    #[oai(path = "/leads/imports/:id/undo", method = "post")]
    async fn undo_import(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
    ) -> ApiResult<Json<ImportJobView>> {
        let job = import_jobs::undo(&state.ctx, auth.actor(), &id.0).await?;
        Ok(Json(job.into()))
    }

    /// A file's columns, the field each fills automatically and a few sample
    /// rows, so the mapping can be checked and changed before importing.
    /// Takes the same CSV or XLSX body as the import; writes nothing.
    #[oai(path = "/leads/import/columns", method = "post")]
    async fn import_columns(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        body: CsvUpload,
    ) -> ApiResult<Json<ImportColumnsView>> {
        import::require_import(&state.ctx, auth.actor())?;
        let preview = match body {
            CsvUpload::Csv(Binary(body)) | CsvUpload::Bytes(Binary(body)) => {
                import::preview_csv(&state.ctx, auth.actor(), body.into_async_read()).await?
            }
            CsvUpload::Xlsx(Binary(body)) => {
                let path = spool_path(&state);
                let outcome = match spool(body, &path).await {
                    Ok(()) => import::preview_xlsx(&state.ctx, auth.actor(), path.clone()).await,
                    Err(e) => Err(e),
                };
                let _ = tokio::fs::remove_file(&path).await;
                outcome?
            }
        };
        Ok(Json(preview.into()))
    }

    /// The leads a filter (or an `ids` list) selects, as CSV (`leads.export`), streamed.
    #[oai(path = "/leads/export", method = "get")]
    async fn export(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        filter: LeadFilterQuery,
        /// Comma-separated lead ids (a selection, at most 500): exports
        /// exactly these, in this order, instead of a filter.
        ids: Query<Option<String>>,
    ) -> ApiResult<CsvDownload> {
        let ids: Vec<String> = ids
            .0
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_string)
            .collect();
        let filter = LeadFilter::try_from(filter)?;
        let selection = if ids.is_empty() {
            export::Selection::Filter(filter)
        } else {
            export::Selection::Ids(ids)
        };
        let rx = export::export_csv(state.ctx.clone(), auth.actor().clone(), selection).await?;
        let stream = tokio_stream_from(rx);
        let name = format!(
            "attachment; filename=\"leads-{}.csv\"",
            state.ctx.now().format("%Y%m%d-%H%M%S")
        );
        Ok(CsvDownload::Csv(
            Binary(Body::from_bytes_stream(stream)),
            name,
        ))
    }

    /// Everything that happened to a lead, newest first: changes,
    /// follow-ups, calls, notes and its discussion room's messages, a page
    /// at a time.
    #[oai(path = "/leads/:id/timeline", method = "get")]
    async fn timeline(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        id: Path<String>,
        /// The `next_cursor` of the previous page.
        after: Query<Option<String>>,
        /// At most this many (default 100, at most 500).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<TimelinePage>> {
        let page = timeline::lead_timeline(
            &state.ctx,
            auth.actor(),
            &id.0,
            after.0.as_deref(),
            limit.0.unwrap_or(100) as usize,
        )
        .await?;
        Ok(Json(TimelinePage {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor,
        }))
    }

    /// The audit log (`audit.read`), newest first, filtered by entity, user and date.
    #[oai(path = "/audit", method = "get", tag = "ApiTags::Audit")]
    async fn audit(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        filter: AuditFilterQuery,
        /// The `next_cursor` of the previous page. (The id of the previous
        /// page's last row, which pages were continued with before cursors,
        /// is still taken but deprecated.)
        after: Query<Option<String>>,
        /// At most this many (default 100, at most 500).
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<AuditPage>> {
        let filter = filter.into_filter(after.0, limit.0.unwrap_or(100) as usize);
        let page = timeline::audit_log(&state.ctx, auth.actor(), filter).await?;
        let rows = timeline::describe_rows(&state.ctx, page.items).await?;
        Ok(Json(AuditPage::new(rows, page.next_cursor)))
    }

    /// The audit log as CSV (`audit.read`), with the same filters, newest
    /// first, each row as a sentence beside its raw fields; at most 10,000
    /// rows (narrow the dates for more).
    #[oai(path = "/audit/export", method = "get", tag = "ApiTags::Audit")]
    async fn audit_export(
        &self,
        state: Data<&Arc<AppState>>,
        auth: Auth,
        filter: AuditFilterQuery,
    ) -> ApiResult<AuditCsv> {
        let filter = filter.into_filter(None, 500);
        let body = timeline::audit_csv(&state.ctx, auth.actor(), filter).await?;
        let name = format!(
            "attachment; filename=\"audit-{}.csv\"",
            state.ctx.now().format("%Y%m%d-%H%M%S")
        );
        Ok(AuditCsv::Csv(Binary(body), name))
    }
}

query_params! {
    /// The audit filters, the same on the log and its CSV export.
    pub struct AuditFilterQuery {
        /// An entity kind (lead, task, user, …).
        entity: Option<String>,
        /// One entity's id.
        entity_id: Option<String>,
        /// A user id: their actions.
        user: Option<String>,
        /// At or after this instant.
        from: Option<DateTime<Utc>>,
        /// Before this instant.
        to: Option<DateTime<Utc>>,
    }
}

impl AuditFilterQuery {
    fn into_filter(self, after: Option<String>, limit: usize) -> AuditFilter {
        AuditFilter {
            entity: self.entity,
            entity_id: self.entity_id,
            user: self.user,
            from: self.from,
            to: self.to,
            after,
            limit,
        }
    }
}

fn spool_path(state: &AppState) -> std::path::PathBuf {
    state
        .config
        .upload_dir
        .join(format!(".import-{}.xlsx", uuid::Uuid::new_v4().simple()))
}

/// The SHA-256 of a spooled file, read back in pieces.
async fn file_digest(path: &std::path::Path) -> Result<String, DomainError> {
    use sha2::{Digest, Sha256};
    use tokio::io::AsyncReadExt;
    let cannot =
        |e: std::io::Error| DomainError::Internal(format!("cannot read a spooled upload: {e}"));
    let mut file = tokio::fs::File::open(path).await.map_err(cannot)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer).await.map_err(cannot)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

async fn spool(body: Body, path: &std::path::Path) -> Result<(), DomainError> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| DomainError::Internal(format!("cannot spool an upload: {e}")))?;
    let mut reader = body.into_async_read();
    tokio::io::copy(&mut reader, &mut file)
        .await
        .map_err(|_| DomainError::invalid("file", "the upload was cut off or too large"))?;
    Ok(())
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
